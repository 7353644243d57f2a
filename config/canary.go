package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shepherd-deploy/shepherd/analysis"
)

// canaryInputs parses the canary's inputs that are not plain strings, durations or whole
// numbers: stages, error_threshold (percent), latency_threshold (a duration, or milliseconds).
func (c *Config) canaryInputs(get func(string) string) []error {
	var errs []error
	if v := strings.TrimSpace(get(InStages)); v != "" {
		w, err := ParseStages(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q: %v (e.g. %s)", InStages, v, err, DefaultStages))
		} else {
			c.Stages = w
		}
	}
	if v := strings.TrimSpace(get(InErrorThresh)); v != "" {
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a number (a percentage, e.g. 5 or 0.5)", InErrorThresh, v))
		} else {
			c.ErrorThreshold = f
		}
	}
	if v := strings.TrimSpace(get(InLatency)); v != "" {
		d, err := parseLatency(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a latency (milliseconds as a number, e.g. 500, or a duration, e.g. 500ms, 1.5s)", InLatency, v))
		} else {
			c.LatencyThreshold = d
		}
	}
	return errs
}

// parseLatency reads a number of milliseconds or a Go duration.
func parseLatency(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Millisecond)), nil
	}
	return time.ParseDuration(s)
}

// ParseStages reads comma-separated stage weights ("10,25,50,75,100"; spaces and a % after each
// are allowed) and checks them (CheckStages).
func ParseStages(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSuffix(strings.TrimSpace(f), "%")
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole percentage", f)
		}
		out = append(out, n)
	}
	return out, CheckStages(out)
}

// CheckStages fails unless weights are strictly increasing percentages from 1 to 100 that end
// at 100.
func CheckStages(weights []int) error {
	if len(weights) == 0 {
		return fmt.Errorf("no stages (want e.g. %s)", DefaultStages)
	}
	for i, w := range weights {
		switch {
		case w < 1 || w > 100:
			return fmt.Errorf("stage %d is %d%%: each stage is 1 to 100", i+1, w)
		case i > 0 && w <= weights[i-1]:
			return fmt.Errorf("stage %d (%d%%) is not above stage %d (%d%%): stages must increase", i+1, w, i, weights[i-1])
		}
	}
	if last := weights[len(weights)-1]; last != 100 {
		return fmt.Errorf("the last stage is %d%%: stages end at 100", last)
	}
	return nil
}

// validateCanary checks the canary's settings (they are checked whatever the strategy, so a
// typo is found before the day it matters).
func (c Config) validateCanary() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := CheckStages(c.Stages); err != nil {
		bad("%s: %v", InStages, err)
	}
	if c.Interval <= 0 {
		bad("%s: must be positive, got %s", InInterval, c.Interval)
	}
	if c.MaxInterval != 0 && c.MaxInterval < c.Interval {
		bad("%s: must be at least %s (%s), got %s", InMaxInterval, InInterval, c.Interval, c.MaxInterval)
	}
	if !(c.ErrorThreshold >= 0 && c.ErrorThreshold <= 100) { // NaN too
		bad("%s: must be a percentage from 0 to 100, got %g", InErrorThresh, c.ErrorThreshold)
	}
	if c.LatencyThreshold < 0 {
		bad("%s: must not be negative, got %s", InLatency, c.LatencyThreshold)
	}
	if c.MinRequests < 0 {
		bad("%s: must not be negative, got %d", InMinRequests, c.MinRequests)
	}
	if c.PrometheusURL != "" {
		u, err := url.Parse(c.PrometheusURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s: not an http(s) URL (e.g. http://prometheus.monitoring:9090)", InPrometheus)
		}
	}
	for name, q := range map[string]string{InErrorQuery: c.ErrorRateQuery, InLatencyQ: c.LatencyQuery} {
		if err := analysis.CheckTemplate(q, analysis.QueryVars); err != nil {
			bad("%s: %v", name, err)
		}
	}
	if c.Strategy != StrategyCanary {
		return errs
	}
	if (c.ErrorRateQuery != "" || c.LatencyQuery != "" || c.LatencyThreshold > 0) && !c.HasPrometheus() {
		bad("%s: required (or %s) when %s, %s or %s is set (the metrics are read there)", InPrometheus, InPromService, InErrorQuery, InLatencyQ, InLatency)
	}
	return errs
}

// URLSecrets are the credentials in a URL's user info (user:password@), to mask.
func URLSecrets(raw string) []string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return nil
	}
	out := []string{u.User.String()}
	if p, ok := u.User.Password(); ok && p != "" {
		out = append(out, p)
	}
	return out
}
