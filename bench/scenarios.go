package main

import (
	"context"
	"fmt"
	"time"
)

// goodTag is the release every scenario starts from (and a failed upgrade must return to).
const goodTag = "1.0.0"

// settleLimit bounds the wait, after a command returned, for the Deployment to be rolled out.
const settleLimit = 2 * time.Minute

// install makes a fresh namespace for scenario and tool and deploys the example chart there at
// goodTag with Shepherd (revision 1), healthy.
func (b *bench) install(ctx context.Context, scenario, tool string) (string, error) {
	ns, err := b.newNamespace(ctx, scenario, tool)
	if err != nil {
		return "", err
	}
	r, err := b.runShepherd(ctx, ns, goodTag, scenario+"-"+tool+"-install")
	if err != nil {
		return "", fmt.Errorf("install %s in %s: %w", goodTag, ns, err)
	}
	if r.Exit != 0 || r.Outputs["status"] != "succeeded" {
		return "", fmt.Errorf("install %s in %s: exit %d, status %q (log %s)", goodTag, ns, r.Exit, r.Outputs["status"], r.Log)
	}
	if _, err := b.waitRolledOut(ctx, ns, goodTag, settleLimit); err != nil {
		return "", fmt.Errorf("install %s in %s: %w", goodTag, ns, err)
	}
	return ns, nil
}

// failure measures an upgrade to the bad tag (whose new pods show waiting reason) with Shepherd
// and with Helm --atomic, each on a fresh healthy release, until the cluster is back on
// goodTag; and Shepherd's detection latency.
func (b *bench) failure(ctx context.Context, name, tag, reason string) scenario {
	s := scenario{Name: name, Kind: kindFailure, Tag: tag, Condition: reason}
	if sm, err := b.failureShepherd(ctx, name, tag, reason); err != nil {
		s.errorf("shepherd: %v", err)
	} else {
		s.Shepherd = append(s.Shepherd, sm)
	}
	if ctx.Err() != nil {
		return s
	}
	if sm, err := b.failureHelm(ctx, name, tag); err != nil {
		s.errorf("helm: %v", err)
	} else {
		s.Helm = append(s.Helm, sm)
	}
	return s
}

func (b *bench) failureShepherd(ctx context.Context, name, tag, reason string) (sample, error) {
	ns, err := b.install(ctx, name, "shepherd")
	if err != nil {
		return sample{}, err
	}
	pw, err := b.watchPods(ctx, ns, reason)
	if err != nil {
		return sample{}, err
	}
	progress("%s: shepherd upgrade to %s in %s", name, tag, ns)
	r, err := b.runShepherd(ctx, ns, tag, name+"-shepherd")
	pw.Stop()
	if err != nil {
		return sample{}, err
	}
	sm := newSample(ns, tag, r)
	sm.Status = r.Outputs["status"]
	if sm.Status != "rolled-back" {
		return sm, fmt.Errorf("status %q, exit %d, want rolled-back (log %s)", sm.Status, r.Exit, r.Log)
	}
	back, err := b.waitRolledOut(ctx, ns, goodTag, settleLimit)
	if err != nil {
		return sm, fmt.Errorf("after the run: %w (log %s)", err, r.Log)
	}
	sm.Seconds = secs(back.Sub(r.Start))
	cond, pod := pw.First()
	if !cond.IsZero() {
		sm.ConditionSeconds, sm.ConditionPod = ptr(secs(cond.Sub(r.Start))), pod
	}
	if !r.Detected.IsZero() {
		sm.DetectedSeconds = ptr(secs(r.Detected.Sub(r.Start)))
	}
	progress("%s: shepherd back on %s after %.2fs (returned %.2fs, %s first seen +%s, %q logged +%s, status %s)",
		name, goodTag, sm.Seconds, sm.ReturnedSeconds, reason, fmtSecs(sm.ConditionSeconds), detectMarker,
		fmtSecs(sm.DetectedSeconds), sm.Status)
	if sm.ConditionSeconds == nil || sm.DetectedSeconds == nil {
		return sm, fmt.Errorf("no detection latency: %s seen +%s, %q logged +%s (log %s)",
			reason, fmtSecs(sm.ConditionSeconds), detectMarker, fmtSecs(sm.DetectedSeconds), r.Log)
	}
	return sm, nil
}

func (b *bench) failureHelm(ctx context.Context, name, tag string) (sample, error) {
	ns, err := b.install(ctx, name, "helm")
	if err != nil {
		return sample{}, err
	}
	progress("%s: helm upgrade --atomic --wait --timeout %s to %s in %s (takes about the timeout)", name, b.o.helmTimeout, tag, ns)
	r, err := b.runHelm(ctx, ns, tag, true, b.o.helmTimeout, name+"-helm")
	if err != nil {
		return sample{}, err
	}
	sm := newSample(ns, tag, r)
	if r.Exit == 0 {
		return sm, fmt.Errorf("helm upgrade to %s succeeded; it should have failed (log %s)", tag, r.Log)
	}
	back, err := b.waitRolledOut(ctx, ns, goodTag, settleLimit)
	if err != nil {
		return sm, fmt.Errorf("after the run: %w (log %s)", err, r.Log)
	}
	sm.Seconds = secs(back.Sub(r.Start))
	progress("%s: helm back on %s after %.2fs (returned %.2fs, exit %d)", name, goodTag, sm.Seconds, sm.ReturnedSeconds, sm.Exit)
	return sm, nil
}

// healthy measures -n healthy upgrades (1.1.0, 1.2.0, …) with each tool, in a namespace of its
// own, alternating which tool goes first.
func (b *bench) healthy(ctx context.Context) scenario {
	s := scenario{Name: "healthy", Kind: kindHealthy}
	nsS, err := b.install(ctx, "healthy", "shepherd")
	if err != nil {
		s.errorf("shepherd: %v", err)
		return s
	}
	nsH, err := b.install(ctx, "healthy", "helm")
	if err != nil {
		s.errorf("helm: %v", err)
		return s
	}
	for i := 0; i < b.o.runs && ctx.Err() == nil; i++ {
		tag := fmt.Sprintf("1.%d.0", i+1)
		shep := func() {
			sm, err := b.healthyShepherd(ctx, nsS, tag, i+1)
			if err != nil {
				s.errorf("shepherd run %d: %v", i+1, err)
				return
			}
			s.Shepherd = append(s.Shepherd, sm)
		}
		helm := func() {
			sm, err := b.healthyHelm(ctx, nsH, tag, i+1)
			if err != nil {
				s.errorf("helm run %d: %v", i+1, err)
				return
			}
			s.Helm = append(s.Helm, sm)
		}
		if i%2 == 0 {
			shep()
			helm()
		} else {
			helm()
			shep()
		}
	}
	return s
}

func (b *bench) healthyShepherd(ctx context.Context, ns, tag string, n int) (sample, error) {
	r, err := b.runShepherd(ctx, ns, tag, fmt.Sprintf("healthy-shepherd-%d", n))
	if err != nil {
		return sample{}, err
	}
	sm := newSample(ns, tag, r)
	sm.Status = r.Outputs["status"]
	if r.Exit != 0 || sm.Status != "succeeded" {
		return sm, fmt.Errorf("upgrade to %s: exit %d, status %q (log %s)", tag, r.Exit, sm.Status, r.Log)
	}
	done, err := b.waitRolledOut(ctx, ns, tag, settleLimit)
	if err != nil {
		return sm, fmt.Errorf("after the run: %w (log %s)", err, r.Log)
	}
	sm.Seconds = secs(done.Sub(r.Start))
	progress("healthy %d/%d: shepherd %s rolled out in %.2fs (returned %.2fs)", n, b.o.runs, tag, sm.Seconds, sm.ReturnedSeconds)
	return sm, nil
}

func (b *bench) healthyHelm(ctx context.Context, ns, tag string, n int) (sample, error) {
	r, err := b.runHelm(ctx, ns, tag, false, healthyHelmTimeout, fmt.Sprintf("healthy-helm-%d", n))
	if err != nil {
		return sample{}, err
	}
	sm := newSample(ns, tag, r)
	if r.Exit != 0 {
		return sm, fmt.Errorf("upgrade to %s: exit %d (log %s)", tag, r.Exit, r.Log)
	}
	done, err := b.waitRolledOut(ctx, ns, tag, settleLimit)
	if err != nil {
		return sm, fmt.Errorf("after the run: %w (log %s)", err, r.Log)
	}
	sm.Seconds = secs(done.Sub(r.Start))
	progress("healthy %d/%d: helm %s rolled out in %.2fs (returned %.2fs)", n, b.o.runs, tag, sm.Seconds, sm.ReturnedSeconds)
	return sm, nil
}

// newSample starts a sample from a command run.
func newSample(ns, tag string, r commandRun) sample {
	return sample{Namespace: ns, Tag: tag, ReturnedSeconds: secs(r.Returned.Sub(r.Start)), Exit: r.Exit, Log: r.Log}
}
