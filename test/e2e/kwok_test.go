//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

func TestPreviousLogsThroughKwok(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	prev := []string{"starting server on :8080", "connecting to database", "panic: DATABASE_URL is not set"}
	if err := c.SetContainerLogs(ctx, ns, []string{"starting server on :8080"}, prev); err != nil {
		t.Fatal(err)
	}
	create(t, c.Client, ns, deployment("web", "example.com/web:crashloop", 1))
	p := podWhere(t, c.Client, ns, 30*time.Second, "CrashLoopBackOff", func(p corev1.Pod) bool { return waiting(p, "CrashLoopBackOff") })
	var got string
	eventually(t, 20*time.Second, "previous logs", func(ctx context.Context) (bool, string, error) {
		raw, err := c.Client.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: "app", Previous: true, TailLines: ptr.To[int64](2)}).DoRaw(ctx)
		got = string(raw)
		return err == nil && strings.Contains(got, "panic"), fmt.Sprint(err, got), nil
	})
	want := "connecting to database\npanic: DATABASE_URL is not set\n"
	if got != want {
		t.Fatalf("previous logs (tail 2) = %q, want %q", got, want)
	}
}

func TestPortForwardReachesLocalServer(t *testing.T) {
	t.Parallel()
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"healthy","path":%q}`, r.URL.Path)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	if err := c.ForwardPorts(ctx, ns, 8080, "127.0.0.1", int32(l.Addr().(*net.TCPAddr).Port)); err != nil {
		t.Fatal(err)
	}
	create(t, c.Client, ns, deployment("web", "example.com/web:v1", 1))
	eventually(t, 30*time.Second, "available", available(c.Client, ns, "web"))
	p := podWhere(t, c.Client, ns, 5*time.Second, "pod", func(corev1.Pod) bool { return true })

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	local, err := c.PortForward(fctx, ns, p.Name, 8080)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/health", local))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"status":"healthy","path":"/api/health"}` {
		t.Fatalf("body through port-forward = %q", body)
	}
}
