package outcome

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/config"
)

// Fail names the run and says why it failed; ExitCode calls it a failure.
func TestFail(t *testing.T) {
	cfg := config.Config{Mode: config.ModeRollback, Release: "web", Namespace: "shop", Chart: "./chart", ImageTag: "2.0.0"}
	o := Fail(cfg, "no cluster")
	want := Outcome{Mode: config.ModeRollback, Status: Failed, Release: "web", Namespace: "shop", Message: "no cluster"}
	if o.Mode != want.Mode || o.Status != want.Status || o.Release != want.Release || o.Namespace != want.Namespace || o.Message != want.Message ||
		o.Chart != "" || o.ImageTag != "" || o.Revision != 0 || o.HistoryRead {
		t.Errorf("Fail = %+v, want %+v", o, want)
	}
	if o.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", o.ExitCode())
	}
}

// One constructor for a failed outcome: no code of the module (tests aside) writes an Outcome
// literal with status failed but Fail, so every such outcome names its run alike.
func TestFailedOutcomesComeFromFail(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor" || strings.HasPrefix(d.Name(), ".") && d.Name() != "..") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.CompositeLit); ok && isOutcomeType(lit.Type) && setsFailed(lit) {
				if fn := enclosingFunc(f, lit.Pos()); !(filepath.Base(path) == "outcome.go" && fn == "Fail") {
					t.Errorf("%s: an Outcome literal with status failed (in %s); build it with outcome.Fail", fset.Position(lit.Pos()), fn)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// isOutcomeType says whether a literal's type is Outcome (deploy.Outcome, outcome.Outcome, …).
func isOutcomeType(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name == "Outcome"
	case *ast.SelectorExpr:
		return x.Sel.Name == "Outcome"
	}
	return false
}

// setsFailed says whether a literal sets Status to Failed.
func setsFailed(lit *ast.CompositeLit) bool {
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != "Status" {
			continue
		}
		switch v := kv.Value.(type) {
		case *ast.Ident:
			return v.Name == "Failed"
		case *ast.SelectorExpr:
			return v.Sel.Name == "Failed"
		}
	}
	return false
}

// enclosingFunc is the name of the top-level function of f around pos ("" outside one).
func enclosingFunc(f *ast.File, pos token.Pos) string {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Pos() <= pos && pos < fd.End() {
			return fd.Name.Name
		}
	}
	return ""
}
