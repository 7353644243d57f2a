package main

import (
	"context"
	"io"
	"strings"

	githubactions "github.com/sethvargo/go-githubactions"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/deploy"
	"github.com/shepherd-deploy/shepherd/report"
)

// runAction is the GitHub Action: inputs → validated config (secrets masked first) → engine →
// outputs, summary, annotation → exit code.
func runAction(ctx context.Context, getenv func(string) string, stdout io.Writer) int {
	a := githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(stdout))
	maskKubeconfig(a, a.GetInput(config.InKubeconfig))
	rep := &report.Actions{A: a}
	cfg, err := config.FromInputs(a.GetInput)
	if err != nil {
		o := deploy.Outcome{Status: deploy.Failed, Release: cfg.Release, Namespace: cfg.Namespace,
			Message: "invalid input: " + strings.ReplaceAll(err.Error(), "\n", "; ")}
		for _, e := range unjoin(err) {
			a.Errorf("%s", e)
		}
		_ = rep.Finish(ctx, o)
		return o.ExitCode()
	}
	if len(cfg.Kubeconfig) == 0 {
		o := deploy.Outcome{Status: deploy.Failed, Release: cfg.Release, Namespace: cfg.Namespace,
			Message: "invalid input: kubeconfig: required (the content of a kubeconfig file, from a secret)"}
		_ = rep.Finish(ctx, o)
		return o.ExitCode()
	}
	cfg.Owner = runURL(getenv)
	log := debugLogger(stdout, getenv("RUNNER_DEBUG") == "1")
	o := deploy.Execute(ctx, cfg, rep, log)
	_ = rep.Finish(ctx, o)
	return o.ExitCode()
}

// maskKubeconfig tells the runner to hide every credential in the kubeconfig (and the
// kubeconfig itself), line by line, before anything else is printed.
func maskKubeconfig(a *githubactions.Action, content string) {
	if strings.TrimSpace(content) == "" {
		return
	}
	for _, line := range strings.Split(content, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "token", "client-key-data", "client-certificate-data", "password", "id-token", "refresh-token", "client-secret":
			if v = strings.Trim(strings.TrimSpace(v), `"'`); v != "" {
				a.AddMask(v)
			}
		}
	}
	if cfg, err := clientcmd.Load([]byte(content)); err == nil {
		for _, u := range cfg.AuthInfos {
			for _, s := range []string{u.Token, u.Password, string(u.ClientKeyData)} {
				if s != "" {
					for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
						if strings.TrimSpace(l) != "" {
							a.AddMask(l)
						}
					}
				}
			}
		}
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
