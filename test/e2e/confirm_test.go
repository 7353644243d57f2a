//go:build e2e

package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// On a terminal, `shepherd rollback` names the target revision and what it runs and asks
// first: "n" leaves everything as it is, "y" rolls back.
func TestCLIRollbackAsksOnATerminal(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	install(t, c, ns, "1.0.0")
	install(t, c, ns, "1.1.0")
	rollback := func(answer string) (int, string) {
		cmd := exec.Command(shepherdBinary(t), "rollback", "--release", "web", "--namespace", ns, "--verify-duration", "1s", "--reason", "asked")
		cmd.Dir = repoRoot()
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "KUBECONFIG=" + c.KubeconfigPath, "TERM=xterm"}
		tty, err := pty.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		defer tty.Close()
		var mu sync.Mutex
		var out bytes.Buffer
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := tty.Read(buf)
				mu.Lock()
				out.Write(buf[:n])
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		seen := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(seen(), "[y/N]") {
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				t.Fatalf("no question asked:\n%s", seen())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := io.WriteString(tty, answer+"\n"); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		time.Sleep(200 * time.Millisecond) // the last output
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return code, seen()
	}

	code, out := rollback("n")
	if !strings.Contains(out, "from revision 2 (ghcr.io/shepherd-deploy/example-app:1.1.0) to revision 1 (ghcr.io/shepherd-deploy/example-app:1.0.0)") {
		t.Errorf("the question does not name the revisions and what they run:\n%s", out)
	}
	if code == 0 || !strings.Contains(out, "rollback not confirmed: nothing was changed") {
		t.Errorf("answered n: exit %d:\n%s", code, out)
	}
	wantHistory(t, c, ns, "1:superseded", "2:deployed")

	code, out = rollback("y")
	if code != 0 {
		t.Errorf("answered y: exit %d:\n%s", code, out)
	}
	serving(t, c, ns, "1.0.0")
	wantHistory(t, c, ns, "1:superseded", "2:superseded", "3:deployed")
}
