package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The busy-namespace scenario: a production namespace holds far more than one release. The
// same chart is deployed (a good version, then a bad image rolled back) in a namespace with 0,
// 1,000 and 5,000 unrelated Running pods; Shepherd's peak memory and time must stay flat (goal
// at 5,000: at most 100 MB and 1.1× the time with none). The pods are kwok's, bound to fake
// nodes directly (110 pods a node, as a kubelet's default).

// busyCounts are the unrelated pod counts measured.
var busyCounts = []int{0, 1000, 5000}

// busyNodes is how many fake nodes hold the largest count at 110 pods each, with room.
const busyNodes = 50

// busyRound is one count's figures.
type busyRound struct {
	Pods                 int
	DeploySeconds        float64
	DeployRSS            int64
	RollbackSeconds      float64
	RollbackRSS          int64
	DeployRatio, RBRatio float64
}

type busyBench struct {
	Rounds []busyRound
	Errors []string
}

func (k *busyBench) errorf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	k.Errors = append(k.Errors, msg)
	progress("busy: %s", msg)
}

// busyScenario runs the rounds in one namespace, adding unrelated pods between them.
func (b *bench) busyScenario(ctx context.Context) *busyBench {
	k := &busyBench{}
	ns, err := b.newNamespace(ctx, "busy", "shepherd")
	if err != nil {
		k.errorf("%v", err)
		return k
	}
	if r, err := b.runShepherd(ctx, ns, "1.0.0", "busy-install"); err != nil || r.Exit != 0 {
		k.errorf("first install: exit %d: %v (see %s)", r.Exit, err, r.Log)
		return k
	}
	nodes, err := b.nodeNames(ctx)
	if err != nil {
		k.errorf("%v", err)
		return k
	}
	have := 0
	for i, n := range busyCounts {
		if err := b.fillPods(ctx, ns, nodes, have, n); err != nil {
			k.errorf("%d unrelated pods: %v", n, err)
			return k
		}
		have = n
		round := busyRound{Pods: n}
		tag := fmt.Sprintf("1.%d.0", i+1)
		d, err := b.runShepherd(ctx, ns, tag, fmt.Sprintf("busy-%d-deploy", n))
		if err != nil || d.Exit != 0 {
			k.errorf("%d pods: deploy %s: exit %d: %v (see %s)", n, tag, d.Exit, err, d.Log)
			return k
		}
		round.DeploySeconds, round.DeployRSS = secs(d.Returned.Sub(d.Start)), d.MaxRSS
		rb, err := b.runShepherd(ctx, ns, tag+"-bad-image", fmt.Sprintf("busy-%d-rollback", n))
		if err != nil || rb.Outputs["status"] != "rolled-back" {
			k.errorf("%d pods: a bad image: status %q: %v (see %s)", n, rb.Outputs["status"], err, rb.Log)
			return k
		}
		round.RollbackSeconds, round.RollbackRSS = secs(rb.Returned.Sub(rb.Start)), rb.MaxRSS
		if len(k.Rounds) > 0 {
			base := k.Rounds[0]
			round.DeployRatio, round.RBRatio = round3(round.DeploySeconds/base.DeploySeconds), round3(round.RollbackSeconds/base.RollbackSeconds)
		}
		k.Rounds = append(k.Rounds, round)
		progress("busy: %d unrelated pods: deploy %.2fs %s, bad image rolled back %.2fs %s", n, round.DeploySeconds, mb(round.DeployRSS), round.RollbackSeconds, mb(round.RollbackRSS))
	}
	return k
}

// nodeNames are the cluster's nodes.
func (b *bench) nodeNames(ctx context.Context) ([]string, error) {
	list, err := b.c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range list.Items {
		out = append(out, n.Name)
	}
	if len(out)*110 < busyCounts[len(busyCounts)-1] {
		return nil, fmt.Errorf("%d nodes hold at most %d pods", len(out), len(out)*110)
	}
	return out, nil
}

// fillPods creates unrelated pods from index from up to to, bound to nodes round-robin, and
// waits until they all run.
func (b *bench) fillPods(ctx context.Context, ns string, nodes []string, from, to int) error {
	if to <= from {
		return nil
	}
	jobs := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("filler-%05d", i), Labels: map[string]string{"app": "filler"}},
					Spec: corev1.PodSpec{NodeName: nodes[i%len(nodes)], TerminationGracePeriodSeconds: new(int64),
						Containers: []corev1.Container{{Name: "c", Image: "registry.local/filler:1"}}}}
				if _, err := b.c.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	for i := from; i < to; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		list, err := b.c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=filler"})
		if err != nil {
			return err
		}
		running := 0
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running >= to {
			progress("busy: %d unrelated pods running", running)
			return nil
		}
		time.Sleep(2 * time.Second)
	}
	return fmt.Errorf("the unrelated pods did not all run within 10 minutes")
}

func mb(bytes int64) string { return fmt.Sprintf("%.0f MB", float64(bytes)/1e6) }

func (k *busyBench) print(w io.Writer) {
	if k == nil {
		return
	}
	fmt.Fprintln(w, "\nbusy namespace (the same release beside unrelated Running pods; ratios against none):")
	fmt.Fprintln(w, "  unrelated pods  deploy            peak memory  bad image rolled back  peak memory")
	for _, r := range k.Rounds {
		ratio, rb := "", ""
		if r.Pods > 0 {
			ratio, rb = fmt.Sprintf(" (%.2f×)", r.DeployRatio), fmt.Sprintf(" (%.2f×)", r.RBRatio)
		}
		fmt.Fprintf(w, "  %-14d  %-16s  %-11s  %-21s  %s\n", r.Pods, fmt.Sprintf("%.2fs%s", r.DeploySeconds, ratio), mb(r.DeployRSS),
			fmt.Sprintf("%.2fs%s", r.RollbackSeconds, rb), mb(r.RollbackRSS))
	}
	if n := len(k.Rounds); n == len(busyCounts) {
		last := k.Rounds[n-1]
		ok := last.DeployRSS <= 100e6 && last.RollbackRSS <= 100e6 && last.DeployRatio <= 1.1
		fmt.Fprintf(w, "  at %d: goal ≤ 100 MB and ≤ 1.1× the deploy time: %s\n", last.Pods, verdict(ok, "≤ 100 MB, ≤ 1.1×"))
	}
	for _, e := range k.Errors {
		fmt.Fprintf(w, "  error: %s\n", strings.TrimSpace(e))
	}
}
