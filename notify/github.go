package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// Deployment records a run as a GitHub deployment of its environment: created when the run
// starts (in_progress), given its final status when it ends.
type Deployment struct {
	client      *github.Client
	owner, repo string
	run         Run
	n           config.Notify
	warn        func(string)
	retry       *Retrying
	id          int64
}

// Run is what the workflow run says of itself (the runner's GITHUB_* variables).
type Run struct {
	APIURL     string // GITHUB_API_URL: https://api.github.com, or a GitHub Enterprise Server's
	Repository string // owner/name
	SHA        string // the commit deployed
	URL        string // the run's page: each status's log_url
}

// NewDeployment returns the recorder for run, or nil when the Deployments API is not asked
// for (no environment or no token) or cannot be (no repository or commit). warn receives each
// problem, once, for a ::warning.
func NewDeployment(n config.Notify, run Run, warn func(string)) *Deployment {
	owner, repo, ok := strings.Cut(run.Repository, "/")
	if n.Environment == "" || n.GitHubToken == "" {
		return nil
	}
	if !ok || run.SHA == "" {
		warn("GitHub deployment not recorded: GITHUB_REPOSITORY and GITHUB_SHA are not set (not on a GitHub runner?)")
		return nil
	}
	retry := &Retrying{}
	c := github.NewClient(&http.Client{Timeout: 15 * time.Second, Transport: retry}).WithAuthToken(n.GitHubToken)
	if run.APIURL != "" {
		if u, err := url.Parse(strings.TrimSuffix(run.APIURL, "/") + "/"); err == nil {
			c.BaseURL = u // github.com's https://api.github.com, or GHES's https://host/api/v3
		}
	}
	return &Deployment{client: c, owner: owner, repo: repo, run: run, n: n, warn: warn, retry: retry}
}

// Retries is the retry policy of the deployment's requests (tests shorten its backoff).
func (d *Deployment) Retries() *Retrying { return d.retry }

// task is the deployment's task for a mode: deploy, or deploy:<mode>.
func task(m config.Mode) string {
	if m == config.ModeDeploy || m == "" {
		return "deploy"
	}
	return "deploy:" + string(m)
}

// Start creates the deployment (ref: the run's commit; no auto-merge, no required contexts)
// and its in_progress status.
func (d *Deployment) Start(ctx context.Context, cfg config.Config, chart *charts.Resolved) {
	if d == nil {
		return
	}
	desc := fmt.Sprintf("Shepherd %s of %s", cfg.Mode, cfg.Release)
	if cfg.ImageTag != "" && cfg.Mode == config.ModeDeploy {
		desc += " at " + cfg.ImageTag
	}
	req := &github.DeploymentRequest{
		Ref: github.String(d.run.SHA), Task: github.String(task(cfg.Mode)), AutoMerge: github.Bool(false),
		RequiredContexts: &[]string{}, Environment: github.String(d.n.Environment), Description: github.String(short(desc)),
		ProductionEnvironment: github.Bool(d.n.IsProduction()), TransientEnvironment: github.Bool(d.n.IsTransient()),
		Payload: payload(cfg, chart),
	}
	dep, resp, err := d.client.Repositories.CreateDeployment(ctx, d.owner, d.repo, req)
	if err != nil || dep.GetID() == 0 {
		d.warn(fmt.Sprintf("GitHub deployment to %s not recorded: %s", d.n.Environment, Problem(status(resp), err)))
		return
	}
	d.id = dep.GetID()
	d.status(ctx, "in_progress", desc)
}

// payload is the deployment's payload: the release, and for a deploy the strategy, the image
// tag and the chart — where it came from, its version and digest.
func payload(cfg config.Config, chart *charts.Resolved) map[string]string {
	p := map[string]string{"release": cfg.Release, "namespace": cfg.Namespace, "image_tag": cfg.ImageTag, "strategy": string(cfg.Strategy)}
	if chart != nil {
		p["chart"], p["chart_version"] = chart.Ref, chart.Version
		if chart.Digest != "" {
			p["chart_digest"] = chart.Digest
		}
	}
	return p
}

// Finish gives the deployment the run's final status.
func (d *Deployment) Finish(ctx context.Context, o outcome.Outcome) {
	if d == nil || d.id == 0 {
		return
	}
	state, desc := DeploymentState(o)
	d.status(ctx, state, desc)
	switch o.Mode {
	case config.ModePromote, config.ModeAbort, config.ModeRollback:
		d.endWaits(ctx, o)
	}
}

// endWaits marks the deployments of this release in this environment that still wait for
// promotion (their latest status in_progress: a deploy stopped by auto_promote false)
// inactive, once a promote, abort or rollback run has ended that wait. Only the 20 newest are
// looked at; a failure to read them is a warning like any other.
func (d *Deployment) endWaits(ctx context.Context, o outcome.Outcome) {
	deps, resp, err := d.client.Repositories.ListDeployments(ctx, d.owner, d.repo,
		&github.DeploymentsListOptions{Environment: d.n.Environment, Task: "deploy", ListOptions: github.ListOptions{PerPage: 20}})
	if err != nil {
		d.warn(fmt.Sprintf("GitHub deployments of %s not read: %s", d.n.Environment, Problem(status(resp), err)))
		return
	}
	for _, dep := range deps {
		var p map[string]string
		if dep.GetID() == d.id || json.Unmarshal(dep.Payload, &p) != nil || p["release"] != o.Release {
			continue
		}
		sts, _, err := d.client.Repositories.ListDeploymentStatuses(ctx, d.owner, d.repo, dep.GetID(), &github.ListOptions{PerPage: 1})
		if err != nil || len(sts) == 0 || sts[0].GetState() != "in_progress" {
			continue
		}
		req := &github.DeploymentStatusRequest{State: github.String("inactive"), Environment: github.String(d.n.Environment),
			Description: github.String(short(fmt.Sprintf("no longer awaiting promotion: a %s run ended the wait (%s)", o.Mode, o.Status)))}
		if d.run.URL != "" {
			req.LogURL = github.String(d.run.URL)
		}
		if _, resp, err := d.client.Repositories.CreateDeploymentStatus(ctx, d.owner, d.repo, dep.GetID(), req); err != nil {
			d.warn(fmt.Sprintf("GitHub deployment %d not marked inactive: %s", dep.GetID(), Problem(status(resp), err)))
		}
	}
}

func (d *Deployment) status(ctx context.Context, state, desc string) {
	req := &github.DeploymentStatusRequest{State: github.String(state), Description: github.String(short(desc)),
		Environment: github.String(d.n.Environment), AutoInactive: github.Bool(state == "success")}
	if d.run.URL != "" {
		req.LogURL = github.String(d.run.URL)
	}
	if d.n.EnvironmentURL != "" {
		req.EnvironmentURL = github.String(d.n.EnvironmentURL)
	}
	if _, resp, err := d.client.Repositories.CreateDeploymentStatus(ctx, d.owner, d.repo, d.id, req); err != nil {
		d.warn(fmt.Sprintf("GitHub deployment status %s for %s not recorded: %s", state, d.n.Environment, Problem(status(resp), err)))
	}
}

// DeploymentState maps an outcome to a deployment status and its one-line description:
// success when the release ended where the run meant it to, failure when it did not (the
// reason said), error when Shepherd itself could not run (bad input, no cluster), inactive for
// a deploy aborted before promotion, in_progress while one awaits promotion.
func DeploymentState(o outcome.Outcome) (state, desc string) {
	switch {
	case o.Status == outcome.Succeeded && o.Mode == config.ModePromote:
		return "success", fmt.Sprintf("promoted: %s is on revision %d", o.Release, o.Revision)
	case o.Status == outcome.Succeeded:
		return "success", fmt.Sprintf("%s is on revision %d", o.Release, o.Revision)
	case o.Status == outcome.RolledBack && o.Mode == config.ModeRollback:
		return "success", fmt.Sprintf("rolled back to revision %d: %s", o.RollbackRevision, orDefault(o.Reason, "no reason given"))
	case o.Status == outcome.RolledBack:
		return "failure", fmt.Sprintf("rolled back (%s): %s", orDefault(string(o.FailureReason), "failed"), o.Message)
	case o.Status == outcome.AwaitingPromotion:
		return "in_progress", "awaiting promotion: run again with mode promote or abort"
	case o.Status == outcome.Aborted:
		return "inactive", "aborted before promotion: " + orDefault(o.Reason, "no reason given")
	case o.Status == outcome.Failed && o.Revision == 0 && o.FailureReason == "":
		return "error", "Shepherd could not run: " + o.Message
	}
	return "failure", orDefault(o.Message, "failed")
}

// short fits a description into the API's 140 characters.
func short(s string) string {
	if r := []rune(s); len(r) > 140 {
		return string(r[:139]) + "…"
	}
	return s
}

func status(resp *github.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
