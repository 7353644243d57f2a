package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	githubactions "github.com/sethvargo/go-githubactions"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/cloudauth"
	"github.com/shepherd-deploy/shepherd/internal/deploy"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/notify"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/report"
	"github.com/shepherd-deploy/shepherd/sdk"
)

// runAction is the GitHub Action: inputs → validated config (secrets masked first) → engine →
// outputs, summary, annotation → exit code.
func runAction(ctx, abort context.Context, getenv func(string) string, stdout io.Writer) int {
	a := githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(stdout))
	secrets := maskInputs(a)
	run := notify.Run{APIURL: getenv("GITHUB_API_URL"), Repository: getenv("GITHUB_REPOSITORY"), SHA: getenv("GITHUB_SHA"), URL: runURL(getenv)}
	cfg, err := config.FromInputs(a.GetInput)
	// Every sink — the log, outputs, summary, annotations, the GitHub deployment, Slack — gets
	// text without a URL's credentials or a known secret.
	scrub := outcome.NewScrubber(append(secrets, cfg.SecretValues()...))
	rep := outcome.RedactReporter(&report.Actions{A: a, RunURL: run.URL, Environment: cfg.Notify.Environment, EnvironmentURL: cfg.Notify.EnvironmentURL}, scrub)
	warn := func(msg string) { a.Warningf("%s", scrub(msg)) }
	var gh *notify.Deployment
	if cfg.Mode != config.ModeHistory && !cfg.DryRun { // a run that changes nothing is no deployment
		gh = notify.NewDeployment(cfg.Notify, run, warn)
	}
	slack := notify.NewSlack(cfg.Notify, run, warn)
	finish := func(o deploy.Outcome) int {
		o = outcome.Redact(o, scrub)
		// Notifications go out even from a cancelled run, bounded; they never change the outcome.
		nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		gh.Finish(nctx, o)
		slack.Finish(nctx, o)
		_ = rep.Finish(ctx, o)
		return o.ExitCode()
	}
	if err != nil {
		gh.Start(ctx, cfg, nil)
		o := outcome.Fail(cfg, "invalid input: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		for _, e := range unjoin(err) {
			a.Errorf("%s", scrub(e.Error()))
		}
		return finish(o)
	}
	token, err := jobToken(a, cfg, getenv)
	endpoints := cloudauth.Endpoints(cfg.CloudEndpoints)
	if err != nil {
		gh.Start(ctx, cfg, nil)
		return finish(outcome.Fail(cfg, err.Error()))
	}
	if len(cfg.Kubeconfig) == 0 && token == nil {
		if cfg.Kubeconfig, err = podKubeconfig(a, getenv); err != nil {
			gh.Start(ctx, cfg, nil)
			return finish(outcome.Fail(cfg, err.Error()))
		}
	}
	for _, s := range cfg.SetSecrets() { // values set for secret-looking keys, too
		a.AddMask(s)
	}
	cfg.Owner = owner(getenv)
	log := debugLogger(scrubWriter{stdout, scrub}, getenv("RUNNER_DEBUG") == "1")
	chart, o := findChart(ctx, cfg, rep, log)
	gh.Start(ctx, cfg, chart) // the deployment's payload names the chart, version and digest
	if o != nil {
		return finish(*o)
	}
	return finish(execute(ctx, cfg, sdk.Options{Events: rep, Log: log, Abort: abort, Chart: chart, Token: token,
		Providers: providers(getenv, func(s string) { a.AddMask(s) }, idToken(a, getenv), endpoints)}))
}

// jobToken is the job's OIDC ID token source for a keyless run (nil otherwise): each token
// is masked before anything could print it.
func jobToken(a *githubactions.Action, cfg config.Config, getenv func(string) string) (kube.TokenFunc, error) {
	if cfg.Keyless.URL == "" {
		return nil, nil
	}
	if getenv("ACTIONS_ID_TOKEN_REQUEST_URL") == "" || getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN") == "" {
		return nil, fmt.Errorf("%s: the job's OIDC token is not available: give the workflow (or the job) `permissions: id-token: write`", config.InClusterURL)
	}
	aud := cfg.Keyless.Audience
	return func(ctx context.Context) (string, error) {
		tok, err := a.GetIDToken(ctx, aud)
		if err != nil {
			return "", fmt.Errorf("GitHub's token service (audience %s): %v", aud, err)
		}
		a.AddMask(tok)
		return tok, nil
	}, nil
}

// idToken is the job's GitHub OIDC token for an audience, masked (nil when the job may not
// have one: no `permissions: id-token: write`).
func idToken(a *githubactions.Action, getenv func(string) string) cloudauth.IDToken {
	if getenv("ACTIONS_ID_TOKEN_REQUEST_URL") == "" {
		return nil
	}
	return func(ctx context.Context, audience string) (string, error) {
		tok, err := a.GetIDToken(ctx, audience)
		if err == nil {
			a.AddMask(tok)
		}
		return tok, err
	}
}

// findChart finds a deploy's chart before the GitHub deployment is recorded; when it cannot,
// the failed outcome to report (nothing was changed).
func findChart(ctx context.Context, cfg config.Config, rep deploy.Reporter, log *slog.Logger) (*charts.Resolved, *deploy.Outcome) {
	if cfg.Mode != config.ModeDeploy {
		return nil, nil
	}
	start := time.Now()
	ch, err := deploy.ResolveChart(ctx, cfg, log)
	if err == nil {
		return ch, nil
	}
	msg := err.Error() + " (nothing was changed)"
	rep.Event(ctx, deploy.Event{At: time.Since(start), Phase: "pre-flight", Level: deploy.Error, Message: msg})
	o := outcome.Fail(cfg, msg)
	o.Chart, o.ImageTag, o.Duration = cfg.Chart, cfg.ImageTag, time.Since(start)
	return nil, &o
}

// maskInputs tells the runner to hide every secret the inputs hold, before anything is
// validated or printed: the kubeconfig's credentials, user:password@ in URLs, `set` values of
// secret-looking keys, tokens, passwords and webhook URLs. It returns them, for the edge to
// scrub from what it sends elsewhere (the GitHub deployment, Slack, the outputs).
func maskInputs(a *githubactions.Action) []string {
	maskKubeconfig(a, a.GetInput(config.InKubeconfig))
	var secrets []string
	secrets = append(secrets, config.URLSecrets(a.GetInput(config.InPrometheus))...)
	secrets = append(secrets, config.SetLineSecrets(strings.Split(a.GetInput(config.InSet), "\n"))...)
	secrets = append(secrets, config.URLSecrets(a.GetInput(config.InChartRepo))...)
	secrets = append(secrets, config.PrometheusSecrets(a.GetInput(config.InPromToken), a.GetInput(config.InPromHeaders))...)
	for _, in := range []string{config.InGitHubToken, config.InSlackWebhook, config.InRegistryPass} {
		secrets = append(secrets, a.GetInput(in))
	}
	var out []string
	for _, s := range secrets {
		if s = strings.TrimSpace(s); s != "" {
			a.AddMask(s)
			out = append(out, s)
		}
	}
	return append(out, config.KubeconfigSecrets(a.GetInput(config.InKubeconfig))...)
}

// maskKubeconfig tells the runner to hide every credential in the kubeconfig (user tokens,
// keys, passwords, auth-provider tokens, exec plugin env values), line by line, before
// anything else is printed.
func maskKubeconfig(a *githubactions.Action, content string) {
	for _, s := range config.KubeconfigSecrets(content) {
		a.AddMask(s)
	}
}

// unjoin lists the errors of an errors.Join tree, one per problem.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// podKubeconfig is the kubeconfig of a self-hosted runner inside the cluster (e.g.
// actions-runner-controller's kubernetes mode runs container steps as pods): the pod's own
// service account.
func podKubeconfig(a *githubactions.Action, getenv func(string) string) ([]byte, error) {
	kc, err := kube.InClusterKubeconfig(getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT"))
	if err != nil {
		return nil, fmt.Errorf("invalid input: kubeconfig: required (the content of a kubeconfig file, from a secret), unless the runner runs in the cluster: %v", err)
	}
	a.Infof("kubeconfig not given: using the service account of the pod this step runs in")
	return kc, nil
}

// owner names this run in the release's lock: the workflow run, and the job.
func owner(getenv func(string) string) string {
	o := runURL(getenv)
	if job := getenv("GITHUB_JOB"); job != "" {
		o += " job " + job
	}
	return o
}

// runURL identifies this workflow run (the holder named when another run waits for the lock).
func runURL(getenv func(string) string) string {
	server, repo, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || id == "" {
		return "github-actions"
	}
	u := server + "/" + repo + "/actions/runs/" + id
	if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" && a != "1" {
		u += "/attempts/" + a
	}
	return u
}
