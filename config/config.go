// Package config is Shepherd's typed, validated configuration. Inputs (action inputs or CLI flags)
// become a Config once, at the edge; library packages only ever see a valid Config.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/strvals"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
)

// Mode is what a run does.
type Mode string

// Modes that work today.
const (
	ModeDeploy   Mode = "deploy"
	ModeRollback Mode = "rollback"
	ModeHistory  Mode = "history"
	// ModePromote finishes a blue-green deploy stopped before its switch (auto_promote false).
	ModePromote Mode = "promote"
	// ModeAbort drops a deploy stopped before its switch: live traffic never moved.
	ModeAbort Mode = "abort"
)

// Strategy is how a deploy replaces the running version.
type Strategy string

// Strategies that work today.
const (
	StrategyRolling   Strategy = "rolling"
	StrategyBlueGreen Strategy = "blue-green"
	// StrategyCanary runs the new version beside the stable one, shifting traffic through
	// stages by replica split, judged on pod health and live metrics at each stage.
	StrategyCanary Strategy = "canary"
)

var (
	modes      = []Mode{ModeDeploy, ModeRollback, ModeHistory, ModePromote, ModeAbort}
	strategies = []Strategy{StrategyRolling, StrategyBlueGreen, StrategyCanary}
)

// Config is one run's configuration.
type Config struct {
	Mode      Mode
	Strategy  Strategy
	Release   string
	Namespace string
	// Chart is a local chart directory or packaged .tgz, oci://REGISTRY/PATH/NAME, or a
	// chart's name in Source.Repository.
	Chart string
	// Source is where the chart comes from beyond a local path: version, repository,
	// credentials, CA, digest pin.
	Source      ChartSource
	ValuesFiles []string // values files, merged in order
	Set         []string // key=value lines (Helm --set syntax), applied after the files
	ImageTag    string   // set at ImageTagKey when not empty
	ImageTagKey string
	// Kubeconfig is the kubeconfig content. It is secret: never print it.
	Kubeconfig []byte `json:"-"`
	// Keyless reaches a cluster that trusts GitHub's OIDC issuer with the job's ID token,
	// instead of a kubeconfig.
	Keyless Keyless
	// CloudEndpoints are https origins, besides the clouds' own (AWS STS, Microsoft Entra,
	// Google), that the in-process cloud logins may send credentials to; a kubeconfig cannot
	// add any.
	CloudEndpoints []string
	Context        string
	Timeout        time.Duration // the whole rollout's deadline
	DryRun         bool
	HealthURL      string // checked after the rollout when not empty
	// HealthTimeout bounds the health check (retries until it answers healthy).
	HealthTimeout time.Duration
	// LockTimeout is how long a run waits for another run of the same release to finish.
	LockTimeout time.Duration
	// AutoPromote: a blue-green deploy switches traffic once its checks pass; false stops it
	// before the switch (status awaiting-promotion) for a later mode promote or abort.
	AutoPromote bool
	// Each strategy's settings, and rollback's, in their own structs (embedded: their fields
	// read as the Config's own).
	Rolling
	BlueGreen
	Canary
	Rollback
	// Traffic is how live traffic reaches the new version (a canary's weights, previews).
	Traffic
	// Notify is where the outcome is reported beyond the job (Deployments API, Slack).
	Notify Notify
	// Owner identifies this run in the release's lock (the workflow run URL); set by the edge.
	Owner string
}

// Defaults. action.yml and the README state the same values (a test checks it).
const (
	DefaultMode          = ModeDeploy
	DefaultStrategy      = StrategyRolling
	DefaultNamespace     = "default"
	DefaultImageTagKey   = "image.tag"
	DefaultTimeout       = 5 * time.Minute
	DefaultHealthTimeout = 30 * time.Second
	DefaultVerify        = 60 * time.Second
	DefaultMaxCascade    = 2
	DefaultLockTimeout   = 5 * time.Minute
	DefaultAutoPromote   = true
	DefaultKeepCapacity  = true
	DefaultGracePeriod   = 5 * time.Minute
	DefaultSmokeTimeout  = 60 * time.Second
	DefaultStages        = "10,25,50,75,100"
	DefaultInterval      = 5 * time.Minute
	DefaultErrorPercent  = 5.0
	DefaultMinRequests   = 20
)

// DefaultStageWeights are DefaultStages as numbers.
var DefaultStageWeights = []int{10, 25, 50, 75, 100}

// Default returns a Config holding every default.
func Default() Config {
	return Config{
		Mode:          DefaultMode,
		Strategy:      DefaultStrategy,
		Namespace:     DefaultNamespace,
		ImageTagKey:   DefaultImageTagKey,
		Timeout:       DefaultTimeout,
		HealthTimeout: DefaultHealthTimeout,
		LockTimeout:   DefaultLockTimeout,
		AutoPromote:   DefaultAutoPromote,
		Rolling:       Rolling{KeepCapacity: DefaultKeepCapacity},
		BlueGreen:     BlueGreen{GracePeriod: DefaultGracePeriod, SmokeTimeout: DefaultSmokeTimeout},
		Canary: Canary{Stages: append([]int(nil), DefaultStageWeights...), Interval: DefaultInterval,
			ErrorThreshold: DefaultErrorPercent, MinRequests: DefaultMinRequests, Judge: DefaultJudge()},
		Rollback: Rollback{VerifyDuration: DefaultVerify, MaxCascade: DefaultMaxCascade},
		Traffic:  Traffic{TrafficRouter: RouterReplicas},
	}
}

// Input names, as action.yml declares them (CLI flags use the same names with dashes).
const (
	InMode        = "mode"
	InStrategy    = "strategy"
	InRelease     = "release"
	InNamespace   = "namespace"
	InChart       = "chart"
	InValues      = "values"
	InSet         = "set"
	InImageTag    = "image_tag"
	InImageTagKey = "image_tag_key"
	InKubeconfig  = "kubeconfig"
	InContext     = "context"
	InTimeout     = "timeout"
	InDryRun      = "dry_run"
	InHealthURL   = "health_url"
	InRevision    = "revision"
	InReason      = "reason"
	InVerify      = "verify_duration"
	InMaxCascade  = "max_cascade"
	InLockTimeout = "lock_timeout"
	InAutoPromote = "auto_promote"
	InKeepCap     = "keep_capacity"
	InGrace       = "grace_period"
	InSmokePaths  = "smoke_paths"
	InSmokeTime   = "smoke_timeout"
	InPreviewURL  = "preview_url"
	InStages      = "stages"
	InInterval    = "interval"
	InErrorThresh = "error_threshold"
	InLatency     = "latency_threshold"
	InPrometheus  = "prometheus_url"
	InErrorQuery  = "error_rate_query"
	InLatencyQ    = "latency_query"
	InMinRequests = "min_requests"
	InMaxInterval = "max_interval"
)

// Inputs lists every input name Shepherd reads.
var Inputs = []string{InMode, InStrategy, InRelease, InNamespace, InChart, InValues, InSet, InImageTag,
	InImageTagKey, InKubeconfig, InContext, InTimeout, InDryRun, InHealthURL, InRevision, InReason, InVerify,
	InMaxCascade, InLockTimeout, InAutoPromote, InKeepCap, InGrace, InSmokePaths, InSmokeTime, InPreviewURL,
	InStages, InInterval, InErrorThresh, InLatency, InPrometheus, InErrorQuery, InLatencyQ, InMinRequests,
	InGitHubToken, InEnvironment, InEnvironmentURL, InSlackWebhook, InProductionEnv, InTransientEnv,
	InChartVersion, InChartRepo, InChartDigest, InRegistryUser, InRegistryPass, InRegistryCA,
	InClusterURL, InClusterCA, InOIDCAudience, InCloudEndpoints, InPromToken, InPromHeaders, InPromService, InMaxInterval,
	InAlpha, InBaseline, InMaxErrorRatio, InTrafficRouter, InHTTPRoute, InPreviewHeader, InCanaryReplicas}

// FromInputs builds a Config from raw input strings (get returns "" for an unset input),
// starting from Default. Every problem is reported, each naming its input.
func FromInputs(get func(name string) string) (Config, error) {
	c := Default()
	var errs []error
	str := func(name string, dst *string) {
		if v := strings.TrimSpace(get(name)); v != "" {
			*dst = v
		}
	}
	if v := strings.TrimSpace(get(InMode)); v != "" {
		c.Mode = Mode(v)
	}
	if v := strings.TrimSpace(get(InStrategy)); v != "" {
		c.Strategy = Strategy(v)
	}
	str(InRelease, &c.Release)
	str(InNamespace, &c.Namespace)
	str(InChart, &c.Chart)
	str(InContext, &c.Context)
	str(InHealthURL, &c.HealthURL)
	str(InImageTagKey, &c.ImageTagKey)
	c.ImageTag = get(InImageTag) // validated as is: whitespace inside is an error, not trimmed away
	c.ValuesFiles = lines(get(InValues))
	c.Set = lines(get(InSet))
	c.Kubeconfig = []byte(get(InKubeconfig))
	str(InReason, &c.Reason)
	str(InPreviewURL, &c.PreviewURL)
	c.SmokePaths = lines(get(InSmokePaths))
	for name, dst := range map[string]*time.Duration{InTimeout: &c.Timeout, InVerify: &c.VerifyDuration, InLockTimeout: &c.LockTimeout,
		InGrace: &c.GracePeriod, InSmokeTime: &c.SmokeTimeout, InInterval: &c.Interval, InMaxInterval: &c.MaxInterval} {
		if v := strings.TrimSpace(get(name)); v != "" {
			d, err := ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration (use e.g. 300, 90s, 5m, 1h)", name, v))
			} else {
				*dst = d
			}
		}
	}
	str(InPrometheus, &c.PrometheusURL)
	str(InErrorQuery, &c.ErrorRateQuery)
	str(InLatencyQ, &c.LatencyQuery)
	errs = append(errs, c.canaryInputs(get)...)
	errs = append(errs, c.judgeInputs(get)...)
	errs = append(errs, c.trafficInputs(get)...)
	errs = append(errs, c.notifyInputs(get)...)
	c.sourceInputs(get)
	errs = append(errs, c.prometheusInputs(get)...)
	errs = append(errs, c.promServiceInput(get)...)
	errs = append(errs, c.keylessInputs(get)...)
	errs = append(errs, c.numberInputs(get)...)
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// numberInputs reads the whole-number and boolean inputs.
func (c *Config) numberInputs(get func(string) string) []error {
	var errs []error
	for name, dst := range map[string]*int{InRevision: &c.Revision, InMaxCascade: &c.MaxCascade, InMinRequests: &c.MinRequests, InCanaryReplicas: &c.CanaryReplicas} {
		if v := strings.TrimSpace(get(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number", name, v))
			} else {
				*dst = n
			}
		}
	}
	for name, dst := range map[string]*bool{InDryRun: &c.DryRun, InAutoPromote: &c.AutoPromote, InKeepCap: &c.KeepCapacity} {
		if v := strings.TrimSpace(get(name)); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a boolean (use true or false)", name, v))
			} else {
				*dst = b
			}
		}
	}
	return errs
}

// ParseDuration accepts a Go duration ("90s", "5m") or a whole number of seconds ("300").
func ParseDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// lines splits a multi-line input into its non-empty, trimmed lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

var (
	// A Docker image tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
	imageTagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// A dotted values path, e.g. image.tag or app.images[0].tag.
	valuesKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+(\[[0-9]+\])?(\.[A-Za-z0-9_-]+(\[[0-9]+\])?)*$`)
)

// Validate reports every problem of c, each naming its input and what is allowed. It is
// pure: files (chart, values) are checked at pre-flight, before anything is written.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !contains(modes, c.Mode) {
		bad("%s: %q is not supported (allowed: %s)", InMode, c.Mode, join(modes))
	}
	if !contains(strategies, c.Strategy) {
		bad("%s: %q is not supported (allowed: %s)", InStrategy, c.Strategy, join(strategies))
	}
	switch {
	case c.Release == "":
		bad("%s: required (the Helm release name)", InRelease)
	case len(c.Release) > 53 || len(validation.IsDNS1123Label(c.Release)) > 0:
		bad("%s: %q is not a valid release name (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 53 characters)", InRelease, c.Release)
	}
	if len(validation.IsDNS1123Label(c.Namespace)) > 0 {
		bad("%s: %q is not a valid namespace name (lowercase letters, digits and '-', at most 63 characters)", InNamespace, c.Namespace)
	}
	if c.Mode == ModeDeploy && c.Chart == "" {
		bad("%s: required for mode deploy (a chart directory or packaged .tgz, oci://REGISTRY/PATH/NAME, or a chart's name with %s)", InChart, InChartRepo)
	}
	errs = append(errs, c.validateSource()...)
	errs = append(errs, c.validateKeyless()...)
	errs = append(errs, c.validatePrometheusAuth()...)
	for i, s := range c.Set {
		if err := validateSet(s); err != nil {
			bad("%s: line %d%s: %v (one key=value a line, e.g. replicaCount=3)", InSet, i+1, keyOf(s), err)
		}
	}
	if c.ImageTag != "" && !imageTagRE.MatchString(c.ImageTag) {
		bad("%s: %q is not a valid image tag (letters, digits, '_', '.', '-'; at most 128 characters; no spaces or shell characters)", InImageTag, c.ImageTag)
	}
	if !valuesKeyRE.MatchString(c.ImageTagKey) {
		bad("%s: %q is not a values path (e.g. image.tag)", InImageTagKey, c.ImageTagKey)
	}
	errs = append(errs, c.validateCluster()...)
	errs = append(errs, c.validateRollout()...)
	errs = append(errs, c.validateBlueGreen()...)
	errs = append(errs, c.validateCanary()...)
	errs = append(errs, c.Judge.validate()...)
	errs = append(errs, c.validateTraffic()...)
	errs = append(errs, c.validateNotify()...)
	return errors.Join(errs...)
}

// validateCluster checks the kubeconfig and its context.
func (c Config) validateCluster() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(c.Kubeconfig) > 0 {
		if kc, err := clientcmd.Load(c.Kubeconfig); err != nil || len(kc.Clusters) == 0 {
			bad("%s: not a valid kubeconfig (expected the YAML content of a kubeconfig file, with clusters, users and contexts — not a path)", InKubeconfig)
		} else if _, ok := kc.Contexts[c.Context]; c.Context != "" && !ok {
			names := make([]string, 0, len(kc.Contexts))
			for n := range kc.Contexts {
				names = append(names, n)
			}
			sort.Strings(names)
			bad("%s: %q is not a context of the kubeconfig (it has: %s)", InContext, c.Context, strings.Join(names, ", "))
		}
	}
	return errs
}

// validateRollout checks the deadlines, the rollback settings and the health URLs.
func (c Config) validateRollout() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Timeout <= 0 {
		bad("%s: must be positive, got %s", InTimeout, c.Timeout)
	}
	if c.VerifyDuration < 0 {
		bad("%s: must not be negative, got %s", InVerify, c.VerifyDuration)
	}
	if c.LockTimeout < 0 {
		bad("%s: must not be negative, got %s", InLockTimeout, c.LockTimeout)
	}
	if c.Revision < 0 {
		bad("%s: must be a revision number (1, 2, …) or empty for the last good one, got %d", InRevision, c.Revision)
	}
	if c.DryRun && c.Mode != ModeDeploy {
		bad("%s: only applies to mode deploy", InDryRun)
	}
	if c.Revision > 0 && c.Mode != ModeRollback {
		bad("%s: only applies to mode rollback", InRevision)
	}
	if c.MaxCascade < 0 || c.MaxCascade > 10 {
		bad("%s: must be between 0 and 10, got %d", InMaxCascade, c.MaxCascade)
	}
	if len(c.Reason) > 500 {
		bad("%s: at most 500 characters", InReason)
	}
	for name, v := range map[string]string{InHealthURL: c.HealthURL, InPreviewURL: c.PreviewURL} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("%s: %q is not an http(s) URL", name, v)
		}
	}
	return errs
}

// validateBlueGreen checks the blue-green settings: grace period and smoke tests.
func (c Config) validateBlueGreen() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.GracePeriod < 0 {
		bad("%s: must not be negative, got %s", InGrace, c.GracePeriod)
	}
	if c.SmokeTimeout <= 0 {
		bad("%s: must be positive, got %s", InSmokeTime, c.SmokeTimeout)
	}
	for _, p := range c.SmokePaths {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t") {
			bad("%s: %q is not a path (one a line, each starting with /, e.g. /api/health)", InSmokePaths, p)
		}
	}
	return errs
}

// validateSet checks one `set` line. Its errors never quote the line's value (it may be a
// secret, and errors go to Slack and the GitHub deployment): they say what is wrong in words.
func validateSet(s string) error {
	k, _, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return errors.New("missing key=value")
	}
	if _, err := strvals.Parse(s); err != nil {
		return errors.New("not Helm --set syntax: a comma separates two key=value pairs there, and a comma, bracket or brace inside a value must be escaped with a backslash (\\,), or the value given in a values file")
	}
	return nil
}

// keyOf names a `set` line by its key (" (key db.password)"), never by its value; "" when the
// line has no key=value shape (the whole line might be a secret).
func keyOf(line string) string {
	k, _, ok := strings.Cut(line, "=")
	if k = strings.TrimSpace(k); !ok || k == "" || strings.ContainsAny(k, " \t,") {
		return ""
	}
	return " (key " + k + ")"
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func join[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// StageLimit is how long a canary stage may hold while too few requests came to decide:
// MaxInterval, or twice Interval.
func (c Config) StageLimit() time.Duration {
	if c.MaxInterval > 0 {
		return c.MaxInterval
	}
	return 2 * c.Interval
}
