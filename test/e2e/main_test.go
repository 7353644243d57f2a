//go:build e2e

// Package e2e holds the end-to-end tests: they run against a real local control plane
// (internal/testcluster), one per package, with a fresh namespace per test.
package e2e

import (
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }
