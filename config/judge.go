package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Judge is how a canary stage's evidence is weighed: its false-abort budget and what the
// canary is compared with.
type Judge struct {
	// Alpha is the chance, over all of a stage's looks, of aborting a canary that is not worse
	// (0.01 for 1%).
	Alpha float64
	// Baseline is what the canary is judged against beside error_threshold: BaselineStable
	// (the stable track over the same window) or BaselineNone (the threshold alone).
	Baseline string
	// MaxErrorRatio is how many times the stable track's error rate (or share of slow
	// requests) the canary may show.
	MaxErrorRatio float64
}

// Baselines.
const (
	BaselineStable = "stable"
	BaselineNone   = "none"
)

// The judge's defaults (the README and action.yml state them too).
const (
	DefaultAlpha         = 0.01
	DefaultBaseline      = BaselineStable
	DefaultMaxErrorRatio = 1.5
)

// The judge's inputs.
const (
	InAlpha         = "alpha"
	InBaseline      = "baseline"
	InMaxErrorRatio = "max_error_ratio"
)

// DefaultJudge holds the judge's defaults.
func DefaultJudge() Judge {
	return Judge{Alpha: DefaultAlpha, Baseline: DefaultBaseline, MaxErrorRatio: DefaultMaxErrorRatio}
}

// judgeInputs reads alpha (a fraction, or a percentage with %), baseline and max_error_ratio.
func (c *Config) judgeInputs(get func(string) string) []error {
	var errs []error
	if v := strings.TrimSpace(get(InAlpha)); v != "" {
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "%"), 64)
		if strings.HasSuffix(v, "%") {
			f /= 100
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a number (a fraction, e.g. 0.01, or a percentage, e.g. 1%%)", InAlpha, v))
		} else {
			c.Judge.Alpha = f
		}
	}
	if v := strings.TrimSpace(get(InBaseline)); v != "" {
		c.Judge.Baseline = strings.ToLower(v)
	}
	if v := strings.TrimSpace(get(InMaxErrorRatio)); v != "" {
		f, err := strconv.ParseFloat(strings.TrimSuffix(v, "x"), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a number (e.g. 1.5)", InMaxErrorRatio, v))
		} else {
			c.Judge.MaxErrorRatio = f
		}
	}
	return errs
}

// validate checks the judge's settings.
func (j Judge) validate() []error {
	var errs []error
	if !(j.Alpha > 0 && j.Alpha <= 0.2) {
		errs = append(errs, fmt.Errorf("%s: must be above 0 and at most 0.2 (20%%), got %g", InAlpha, j.Alpha))
	}
	if j.Baseline != BaselineStable && j.Baseline != BaselineNone {
		errs = append(errs, fmt.Errorf("%s: %q is not one of %s, %s", InBaseline, j.Baseline, BaselineStable, BaselineNone))
	}
	if !(j.MaxErrorRatio >= 1 && j.MaxErrorRatio <= 100) {
		errs = append(errs, fmt.Errorf("%s: must be from 1 to 100, got %g", InMaxErrorRatio, j.MaxErrorRatio))
	}
	return errs
}
