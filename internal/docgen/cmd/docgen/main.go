// Command docgen writes docs/inputs.md from action.yml (run it from the module's root:
// go run ./internal/docgen/cmd/docgen).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/shepherd-deploy/shepherd/internal/docgen"
)

func main() {
	src := flag.String("action", "action.yml", "the action's metadata file")
	dst := flag.String("out", "docs/inputs.md", "the reference to write")
	flag.Parse()
	if err := generate(*src, *dst); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

func generate(src, dst string) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	out, err := docgen.Inputs(raw)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o644)
}
