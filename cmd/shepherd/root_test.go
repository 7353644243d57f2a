package main

import (
	"os"
	"testing"
)

// The edge's tests read the repository's files (action.yml, the README, the examples) by their
// paths from its root, as a user sees them.
func TestMain(m *testing.M) {
	if err := os.Chdir("../.."); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
