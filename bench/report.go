package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Scenario kinds.
const (
	kindFailure = "failure" // ratio helm/shepherd, detection latency
	kindHealthy = "healthy" // ratio shepherd/helm of the medians
)

// targets are the bench's pass marks.
type targets struct {
	FailureRatioMin     float64 `json:"failure_ratio_min"`     // helm/shepherd, at least
	DetectionSecondsMax float64 `json:"detection_seconds_max"` // shepherd-detect − first pod condition, at most
	HealthyRatioMax     float64 `json:"healthy_ratio_max"`     // shepherd/helm of the medians, at most
}

func defaultTargets() targets {
	return targets{FailureRatioMin: 50, DetectionSecondsMax: 5, HealthyRatioMax: 1.05}
}

// results is everything one run measured; it is what results.json holds.
type results struct {
	Started               time.Time    `json:"started"`
	TotalSeconds          float64      `json:"total_seconds"`
	HelmVersion           string       `json:"helm_version"`
	HelmTimeout           string       `json:"helm_timeout"`     // --timeout of the --atomic runs
	ShepherdTimeout       string       `json:"shepherd_timeout"` // timeout input of every run
	HealthyRuns           int          `json:"healthy_runs"`
	ClusterStartupSeconds float64      `json:"cluster_startup_seconds"`
	Targets               targets      `json:"targets"`
	Scenarios             []scenario   `json:"scenarios"`
	BlueGreen             *blueGreen   `json:"blue_green,omitempty"`
	Canary                *canaryBench `json:"canary,omitempty"`
	Busy                  *busyBench   `json:"busy,omitempty"`
	Abort                 *abortBench  `json:"abort,omitempty"`
}

// scenario is one row of the table, with the samples it was computed from.
type scenario struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Tag       string `json:"tag,omitempty"`       // the bad tag of a failure scenario
	Condition string `json:"condition,omitempty"` // the waiting reason its new pods show
	// ShepherdSeconds and HelmSeconds: a failure scenario's single run; the healthy runs' median.
	ShepherdSeconds  float64  `json:"shepherd_seconds"`
	HelmSeconds      float64  `json:"helm_seconds"`
	Ratio            float64  `json:"ratio"`
	RatioIs          string   `json:"ratio_is"`
	RatioPass        bool     `json:"ratio_pass"`
	DetectionSeconds *float64 `json:"detection_latency_seconds,omitempty"`
	DetectionPass    *bool    `json:"detection_pass,omitempty"`
	Shepherd         []sample `json:"shepherd"`
	Helm             []sample `json:"helm"`
	Errors           []string `json:"errors,omitempty"`
}

// sample is one timed command. Times are seconds since the command started.
type sample struct {
	Namespace string `json:"namespace"`
	Tag       string `json:"tag"`
	// Seconds: until the command returned and the Deployment was rolled out at the expected tag.
	Seconds         float64 `json:"seconds"`
	ReturnedSeconds float64 `json:"returned_seconds"`
	Exit            int     `json:"exit"`
	Status          string  `json:"status,omitempty"` // Shepherd's status output
	// ConditionSeconds: the bench's own pod watch first saw the failure (waiting reason).
	ConditionSeconds *float64 `json:"condition_seconds,omitempty"`
	ConditionPod     string   `json:"condition_pod,omitempty"`
	// DetectedSeconds: Shepherd's "rollout failed" line arrived on its stdout.
	DetectedSeconds *float64 `json:"detected_seconds,omitempty"`
	Log             string   `json:"log"`
}

func (s *scenario) errorf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	s.Errors = append(s.Errors, msg)
	progress("%s: ERROR %s", s.Name, msg)
}

// judge computes every scenario's times, ratio and detection latency and checks them against
// the targets. A scenario without samples of both tools gets no ratio (and does not pass).
func (r *results) judge() {
	t := r.Targets
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		if len(s.Shepherd) == 0 || len(s.Helm) == 0 {
			continue
		}
		s.ShepherdSeconds, s.HelmSeconds = median(s.Shepherd), median(s.Helm)
		switch s.Kind {
		case kindFailure:
			s.RatioIs = "helm/shepherd"
			s.Ratio = s.HelmSeconds / s.ShepherdSeconds
			s.RatioPass = s.Ratio >= t.FailureRatioMin
			if sm := s.Shepherd[0]; sm.ConditionSeconds != nil && sm.DetectedSeconds != nil {
				s.DetectionSeconds = ptr(round3(*sm.DetectedSeconds - *sm.ConditionSeconds))
				s.DetectionPass = ptr(*s.DetectionSeconds <= t.DetectionSecondsMax)
			}
		case kindHealthy:
			s.RatioIs = "shepherd/helm"
			s.Ratio = s.ShepherdSeconds / s.HelmSeconds
			s.RatioPass = s.Ratio <= t.HealthyRatioMax
		}
		s.Ratio = round3(s.Ratio)
	}
}

// printTable prints the results table.
func (r *results) printTable(w io.Writer) {
	if len(r.Scenarios) == 0 { // -only blue-green,canary
		r.BlueGreen.print(w)
		r.Canary.print(w)
		r.Busy.print(w)
		r.Abort.print(w)
		return
	}
	t := r.Targets
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tshepherd\thelm\tratio\tdetection\tratio target\tdetection target\n")
	for _, s := range r.Scenarios {
		name, ratioTarget, detTarget := s.Name, "", "–"
		switch s.Kind {
		case kindFailure:
			ratioTarget = fmt.Sprintf("≥ %g×", t.FailureRatioMin)
			detTarget = verdict(s.DetectionPass != nil && *s.DetectionPass, fmt.Sprintf("≤ %gs", t.DetectionSecondsMax))
		case kindHealthy:
			name = fmt.Sprintf("healthy (median of %d)", r.HealthyRuns)
			ratioTarget = fmt.Sprintf("≤ %g", t.HealthyRatioMax)
		}
		if len(s.Shepherd) == 0 || len(s.Helm) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\tERROR\t–\tMISS (%s)\t%s\n", name, orDash(s.Shepherd), orDash(s.Helm), ratioTarget, detTarget)
			continue
		}
		ratio := fmt.Sprintf("%.1f× %s", s.Ratio, s.RatioIs)
		if s.Kind == kindHealthy {
			ratio = fmt.Sprintf("%.3f %s", s.Ratio, s.RatioIs)
		}
		det := "–"
		if s.DetectionSeconds != nil {
			det = fmt.Sprintf("%.3fs", *s.DetectionSeconds)
		}
		fmt.Fprintf(tw, "%s\t%.2fs\t%.2fs\t%s\t%s\t%s\t%s\n", name, s.ShepherdSeconds, s.HelmSeconds, ratio, det,
			verdict(s.RatioPass, ratioTarget), detTarget)
	}
	tw.Flush()
	fmt.Fprintf(w, "helm %s: --atomic runs with --timeout %s (-helm-timeout); healthy runs --wait --timeout %s. shepherd timeout input %s.\n",
		r.HelmVersion, r.HelmTimeout, healthyHelmTimeout, r.ShepherdTimeout)
	fmt.Fprintf(w, "failure: time until the command returned and web runs %s with every replica available; detection: %q line − first pod showing the condition.\n",
		goodTag, detectMarker)
	fmt.Fprintf(w, "healthy: time until the command returned with the new tag rolled out; samples shepherd %s, helm %s.\n",
		list(r.healthySamples(true)), list(r.healthySamples(false)))
	fmt.Fprintf(w, "cluster started in %.1fs; the whole bench took %s.\n", r.ClusterStartupSeconds, time.Duration(r.TotalSeconds*float64(time.Second)).Round(time.Second))
	for _, s := range r.Scenarios {
		for _, e := range s.Errors {
			fmt.Fprintf(w, "ERROR %s: %s\n", s.Name, e)
		}
	}
	r.BlueGreen.print(w)
	r.Canary.print(w)
	r.Busy.print(w)
	r.Abort.print(w)
}

// healthySamples returns the healthy scenario's times of one tool.
func (r *results) healthySamples(shepherd bool) []float64 {
	for _, s := range r.Scenarios {
		if s.Kind == kindHealthy {
			src := s.Helm
			if shepherd {
				src = s.Shepherd
			}
			out := make([]float64, len(src))
			for i, sm := range src {
				out[i] = sm.Seconds
			}
			return out
		}
	}
	return nil
}

// write writes the results as indented JSON to path, creating its directory.
func (r *results) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// median of the samples' Seconds (the mean of the middle two for an even count).
func median(ss []sample) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = s.Seconds
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return round3((v[n/2-1] + v[n/2]) / 2)
}

func verdict(pass bool, target string) string {
	if pass {
		return "PASS (" + target + ")"
	}
	return "MISS (" + target + ")"
}

func orDash(ss []sample) string {
	if len(ss) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2fs", median(ss))
}

func list(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return "[" + strings.Join(parts, " ") + "]s"
}

// secs is d in seconds, rounded to the millisecond.
func secs(d time.Duration) float64 { return round3(d.Seconds()) }

func round3(x float64) float64 { return float64(int64(x*1000+0.5*sign(x))) / 1000 }

func sign(x float64) float64 {
	if x < 0 {
		return -1
	}
	return 1
}

func fmtSecs(p *float64) string {
	if p == nil {
		return "never"
	}
	return fmt.Sprintf("%.3fs", *p)
}

func ptr[T any](v T) *T { return &v }
