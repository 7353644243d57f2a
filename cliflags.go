package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/shepherd-deploy/shepherd/config"
)

// command is one CLI command: its usage line and its flags, in the order a user needs them.
type command struct {
	name, usage, about string
	flags              []flagSpec
}

// flagSpec is one flag: the action input it sets ("" for a CLI-only flag), its argument's name
// ("" for a switch), a sentence of help and the default shown.
type flagSpec struct {
	name, input, arg, help, def string
	repeat                      bool
}

// The flags every command shares, last in its help.
var (
	fNamespace      = flagSpec{name: "namespace", input: config.InNamespace, arg: "NAME", help: "The namespace of the release (it must exist).", def: config.DefaultNamespace}
	fKubeconfig     = flagSpec{name: "kubeconfig", input: config.InKubeconfig, arg: "PATH", help: "The kubeconfig file (default: $KUBECONFIG's files, then ~/.kube/config, then the pod's service account)."}
	fCloudEndpoints = flagSpec{name: "cloud-endpoints", input: config.InCloudEndpoints, arg: "ORIGINS", help: "https origins, besides the clouds' own, that the in-process EKS, GKE and AKS logins may send credentials to (a sovereign or private endpoint); comma-separated."}
	fContext        = flagSpec{name: "context", input: config.InContext, arg: "NAME", help: "The kubeconfig context to use (default: its current context)."}
	fLockTimeout    = flagSpec{name: "lock-timeout", input: config.InLockTimeout, arg: "DURATION", help: "How long to wait while another run holds the release.", def: human(config.DefaultLockTimeout)}
	fTimeout        = flagSpec{name: "timeout", input: config.InTimeout, arg: "DURATION", help: "How long a rollout may take before it counts as failed; also bounds each rollback attempt.", def: human(config.DefaultTimeout)}
	fHealthURL      = flagSpec{name: "health-url", input: config.InHealthURL, arg: "URL", help: "Checked after the rollout: it must answer 2xx, and a JSON body's status must be healthy."}
	fMaxCascade     = flagSpec{name: "max-cascade", input: config.InMaxCascade, arg: "N", help: "How many older good revisions a rollback may try when its target fails verification.", def: fmt.Sprint(config.DefaultMaxCascade)}
	fOutput         = flagSpec{name: "output", arg: "FORMAT", help: "text, or json for scripts (the outcome as one JSON object on stdout).", def: "text"}
	fDebug          = flagSpec{name: "debug", help: "Print a debug log on stderr (it never shows credentials)."}
	fGrace          = flagSpec{name: "grace-period", input: config.InGrace, arg: "DURATION", help: "Blue-green: how long the new colour is watched, live, before the old one is scaled to 0.", def: human(config.DefaultGracePeriod)}
	fRelease        = flagSpec{name: "release", input: config.InRelease, arg: "NAME", help: "The Helm release name (required)."}
)

// The canary's judges: what deploy and promote (which runs the last stage) both take.
var canaryJudgeFlags = []flagSpec{
	{name: "max-interval", input: config.InMaxInterval, arg: "DURATION", help: "Canary: how long an inconclusive stage (too few requests) may hold on before it fails as no data (default: twice the interval)."},
	{name: "interval", input: config.InInterval, arg: "DURATION", help: "Canary: how long each stage holds while it is judged.", def: human(config.DefaultInterval)},
	{name: "prometheus-url", input: config.InPrometheus, arg: "URL", help: "Canary: the Prometheus the error rate and latency are read from (without it: pod health only)."},
	{name: "prometheus-service", input: config.InPromService, arg: "NS/SVC:PORT", help: "Canary: a Prometheus inside the cluster, reached through the API server (instead of --prometheus-url)."},
	{name: "prometheus-token", input: config.InPromToken, arg: "TOKEN", help: "Canary: a bearer token for the Prometheus."},
	{name: "prometheus-headers", input: config.InPromHeaders, arg: "NAME: VALUE", help: "Canary: a header sent with every query (e.g. X-Scope-OrgID: tenant-1); repeat for more.", repeat: true},
	{name: "error-threshold", input: config.InErrorThresh, arg: "PERCENT", help: "Canary: the highest error rate (5xx/all) a stage may show.", def: fmt.Sprint(config.DefaultErrorPercent)},
	{name: "latency-threshold", input: config.InLatency, arg: "MS|DURATION", help: "Canary: the highest p99 latency a stage may show (default: not judged)."},
	{name: "min-requests", input: config.InMinRequests, arg: "N", help: "Canary: fewer requests in a stage's window is no data, which fails the stage.", def: fmt.Sprint(config.DefaultMinRequests)},
	{name: "error-rate-query", input: config.InErrorQuery, arg: "PROMQL", help: "Canary: a template of the error ratio (0–1) replacing the default; placeholders {{ namespace }}, {{ release }}, {{ pods }}, {{ window }}, {{ track }}."},
	{name: "latency-query", input: config.InLatencyQ, arg: "PROMQL", help: "Canary: a template of the p99 latency in seconds replacing the default; same placeholders."},
	{name: "alpha", input: config.InAlpha, arg: "FRACTION", help: "Canary: the chance a stage aborts a canary that is not worse, over all its looks together.", def: fmt.Sprint(config.DefaultAlpha)},
	{name: "baseline", input: config.InBaseline, arg: "stable|none", help: "Canary: judge against the stable track over the same window too (stable), or the thresholds alone (none).", def: config.DefaultBaseline},
	{name: "max-error-ratio", input: config.InMaxErrorRatio, arg: "RATIO", help: "Canary: how many times the stable track's error rate (or share of slow requests) the canary may show.", def: fmt.Sprint(config.DefaultMaxErrorRatio)},
}

var commands = map[string]command{
	"deploy": {name: "deploy", usage: "shepherd deploy --release NAME --chart DIR|TGZ|oci://… [--chart-version V] [--image-tag TAG] [flags]",
		about: "Upgrade (or install) the release, watch the rollout, and roll back to the last good revision if it fails.",
		flags: flagList([]flagSpec{
			fRelease,
			{name: "chart", input: config.InChart, arg: "DIR|TGZ|OCI|NAME", help: "The chart: a local directory or .tgz, oci://REGISTRY/PATH/NAME, or a name in --chart-repository (required)."},
			{name: "chart-version", input: config.InChartVersion, arg: "VERSION|RANGE", help: "The chart's version, exact or a range (~1.4); default: the newest release."},
			{name: "chart-repository", input: config.InChartRepo, arg: "URL", help: "A Helm repository's URL; --chart is then a chart's name in it."},
			{name: "chart-digest", input: config.InChartDigest, arg: "sha256:…", help: "Refuse any chart but the one with this digest."},
			{name: "registry-username", input: config.InRegistryUser, arg: "USER", help: "User for the chart's registry or repository."},
			{name: "registry-password", input: config.InRegistryPass, arg: "PASSWORD", help: "Password or token for the chart's registry or repository."},
			{name: "registry-ca", input: config.InRegistryCA, arg: "FILE|PEM", help: "A CA trusted beside the system's, for a private registry."},
			{name: "image-tag", input: config.InImageTag, arg: "TAG", help: "The image tag to deploy, set at --image-tag-key."},
			fNamespace,
			{name: "values", input: config.InValues, arg: "FILE", help: "A values file; repeat for more, merged in order.", repeat: true},
			{name: "set", input: config.InSet, arg: "KEY=VALUE", help: "A value (Helm --set syntax), applied after the files; repeat for more.", repeat: true},
			{name: "image-tag-key", input: config.InImageTagKey, arg: "PATH", help: "The values path the image tag is set at.", def: config.DefaultImageTagKey},
			fTimeout, fHealthURL,
			{name: "dry-run", input: config.InDryRun, help: "Render and diff against the live release; change nothing."},
			{name: "strategy", input: config.InStrategy, arg: "NAME", help: "How to replace the running version: rolling, blue-green or canary.", def: string(config.DefaultStrategy)},
			{name: "auto-promote", input: config.InAutoPromote, arg: "BOOL", help: "Blue-green and canary: promote once the checks pass; false stops before the switch (the last canary stage) for a later promote or abort.", def: "true"},
			{name: "keep-capacity", input: config.InKeepCap, arg: "BOOL", help: "Rolling: each Deployment rolls with maxUnavailable 0, whatever the chart says; false keeps the chart's rollout settings.", def: "true"},
			{name: "stages", input: config.InStages, arg: "W,W,…", help: "Canary: the traffic weights in percent, increasing, ending at 100.", def: config.DefaultStages},
			fGrace,
			{name: "smoke-paths", input: config.InSmokePaths, arg: "PATH", help: "Blue-green: a path asked on the new colour before the switch; repeat for more (default: the readiness probe's path).", repeat: true},
			{name: "smoke-timeout", input: config.InSmokeTime, arg: "DURATION", help: "Blue-green: how long each smoke test may take to answer healthy.", def: human(config.DefaultSmokeTimeout)},
			{name: "preview-url", input: config.InPreviewURL, arg: "URL", help: "Blue-green: ask the smoke tests here instead of a port-forward to a pod."},
		}, canaryJudgeFlags, []flagSpec{
			{name: "traffic-router", input: config.InTrafficRouter, arg: "replicas|gateway-api", help: "Canary: how a stage's weight is set: the replica split, or exact weights on --http-route.", def: config.RouterReplicas},
			{name: "http-route", input: config.InHTTPRoute, arg: "NAME", help: "gateway-api: the HTTPRoute whose backendRefs to the chart's Services are weighted."},
			{name: "preview-header", input: config.InPreviewHeader, arg: "NAME: VALUE", help: "gateway-api: requests with this header reach the new version before any traffic moves (smoke tests ask through the gateway with it)."},
			{name: "canary-replicas", input: config.InCanaryReplicas, arg: "N", help: "gateway-api: pods per canary Deployment at every stage (default: ceil(N × weight))."},
			fMaxCascade, fKubeconfig, fContext, fCloudEndpoints, fLockTimeout, fOutput, fDebug,
		})},
	"rollback": {name: "rollback", usage: "shepherd rollback --release NAME [--revision N] [--reason TEXT] [--force] [flags]",
		about: "Roll the release back to the last good revision (or --revision N), verify it, and record why. On a terminal it asks first.",
		flags: []flagSpec{
			fRelease,
			{name: "revision", input: config.InRevision, arg: "N", help: "The revision to roll back to (default: the last good one before the current)."},
			{name: "reason", input: config.InReason, arg: "TEXT", help: "Why: recorded in Helm history, a Kubernetes Event and the report."},
			{name: "force", help: "Roll back without asking (needed when not on a terminal)."},
			fNamespace,
			{name: "verify-duration", input: config.InVerify, arg: "DURATION", help: "After the rollout, how long no pod may restart or go unready.", def: human(config.DefaultVerify)},
			fTimeout, fHealthURL, fMaxCascade, fKubeconfig, fContext, fCloudEndpoints, fLockTimeout, fOutput, fDebug,
		}},
	"promote": {name: "promote", usage: "shepherd promote --release NAME [flags]",
		about: "Finish a deploy that stopped before its switch (auto_promote false): blue-green switches live traffic after checking the colour again and watches it for the grace period; a canary runs its last stage, judged, then the stable track takes its version.",
		flags: flagList([]flagSpec{fRelease, fNamespace, fGrace}, canaryJudgeFlags,
			[]flagSpec{fTimeout, fHealthURL, fKubeconfig, fContext, fCloudEndpoints, fLockTimeout, fOutput, fDebug})},
	"abort": {name: "abort", usage: "shepherd abort --release NAME [--reason TEXT] [flags]",
		about: "Drop a deploy that stopped before its switch: a blue-green colour goes to 0 replicas (live traffic never moved); a canary goes to 0 and the stable track back to full.",
		flags: []flagSpec{fRelease, {name: "reason", input: config.InReason, arg: "TEXT", help: "Why: recorded in Helm history and the report."},
			fNamespace, fKubeconfig, fContext, fCloudEndpoints, fLockTimeout, fOutput, fDebug}},
	"history": {name: "history", usage: "shepherd history --release NAME [flags]",
		about: "List the release's revisions: image tags, status and description.",
		flags: []flagSpec{
			fRelease,
			fNamespace, fKubeconfig, fContext, fCloudEndpoints, fOutput, fDebug,
		}},
}

// flagList is the flags of groups, in order, in a new slice: a command takes a shared group
// (canaryJudgeFlags) whole, so a flag added to the group reaches every command that takes it.
func flagList(groups ...[]flagSpec) []flagSpec {
	var out []flagSpec
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// human writes a duration as the action's inputs do: 60s, 5m.
func human(d time.Duration) string {
	if d >= 2*time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// flagValues are what the flags set: action inputs by input name, CLI-only flags by flag name.
type flagValues struct {
	inputs, cli map[string]string
}

// flagSet declares the command's flags; --help prints its help to stdout.
func (c command) flagSet(stdout, stderr io.Writer) (*flag.FlagSet, *flagValues) {
	fs := flag.NewFlagSet("shepherd "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := &flagValues{inputs: map[string]string{}, cli: map[string]string{"output": "text"}}
	for _, f := range c.flags {
		f := f
		set := func(s string) error {
			if f.input == "" {
				vals.cli[f.name] = s
				return nil
			}
			if f.repeat && vals.inputs[f.input] != "" {
				s = vals.inputs[f.input] + "\n" + s
			}
			vals.inputs[f.input] = s
			return nil
		}
		if f.arg == "" {
			fs.BoolFunc(f.name, f.help, func(s string) error {
				if s != "true" && s != "false" {
					return fmt.Errorf("--%s takes no value (or =true/=false)", f.name)
				}
				return set(s)
			})
			continue
		}
		fs.Func(f.name, f.help, set)
	}
	fs.Usage = func() { c.help(stdout) }
	return fs, vals
}

// help prints the command's usage and its flags, in order, each with its default.
func (c command) help(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", c.usage, c.about)
	for _, f := range c.flags {
		head := "  --" + f.name
		if f.arg != "" {
			head += " " + f.arg
		}
		text := f.help
		if f.def != "" {
			text += " (default " + f.def + ")"
		}
		fmt.Fprintf(w, "%-30s %s\n", head, text)
	}
}

// isTerminal reports whether w (or stdin) is a terminal, not a pipe, a file or /dev/null.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// askStdin asks a yes/no question on the terminal; only "y" or "yes" is a yes.
func askStdin(out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes"
}
