package config

import "time"

// Rolling is the rolling strategy's settings.
type Rolling struct {
	// KeepCapacity: a rolling deploy's Deployments roll with maxUnavailable 0.
	KeepCapacity bool
}

// BlueGreen is the blue-green strategy's settings: the grace period and the smoke tests.
type BlueGreen struct {
	// GracePeriod is how long a blue-green deploy watches the new colour after the switch,
	// with the old colour warm, before scaling the old colour to zero.
	GracePeriod time.Duration
	// SmokePaths are the paths requested on the new colour before the switch (empty: the
	// readiness probe's httpGet path, if any).
	SmokePaths []string
	// SmokeTimeout bounds each smoke test (retried until it answers 2xx, healthy).
	SmokeTimeout time.Duration
	// PreviewURL, when set, is where the smoke tests ask instead of a port-forward to a pod.
	PreviewURL string
}

// Canary is the canary strategy's settings: its stages, and how each is judged.
type Canary struct {
	// Stages are the canary's traffic weights in percent: strictly increasing, 1–100, ending
	// at 100.
	Stages []int
	// Interval is how long each canary stage holds while it is judged.
	Interval time.Duration
	// ErrorThreshold is the canary's highest acceptable error rate, in percent (5 = 5%).
	ErrorThreshold float64
	// LatencyThreshold is the canary's highest acceptable p99 latency (0: not judged).
	LatencyThreshold time.Duration
	// PrometheusURL is where the canary's metrics are read ("": pod health only). Its
	// user info, if any, is a credential: never print it.
	PrometheusURL string
	// PrometheusAuth is a bearer token and extra headers for it.
	PrometheusAuth PrometheusAuth
	// PrometheusService is a Prometheus inside the cluster, reached through the API server
	// (nil: PrometheusURL, or none).
	PrometheusService *PrometheusService
	// ErrorRateQuery and LatencyQuery override the default PromQL (templates with
	// placeholders, see analysis.Placeholders).
	ErrorRateQuery, LatencyQuery string
	// MaxInterval is how long a stage may hold, beyond Interval, while too few requests came to
	// decide (0: 2 × Interval); then too few is no data, which fails.
	MaxInterval time.Duration
	// MinRequests is how many requests a stage's window needs before its error rate is
	// judged; fewer is no data.
	MinRequests int
	// Judge is how a canary stage's evidence is weighed.
	Judge Judge
}

// Rollback is mode rollback's settings: the target, the reason, the verification and the cascade.
type Rollback struct {
	// Revision is the rollback target (0: the last good revision before the current one).
	Revision int
	// Reason is why a rollback is done; recorded in Helm history, an Event and the summary.
	Reason string
	// VerifyDuration is the window after a rollback in which no pod may restart or go unready.
	VerifyDuration time.Duration
	// MaxCascade bounds how many older revisions a rollback tries after its target fails.
	MaxCascade int
}
