package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/outcome"
	"github.com/shepherd-deploy/shepherd/release"
)

// Edge is what the edge hands the engine: where the user sees the run, the debug log, and the
// context that ends when the user insists on stopping (a second signal; nil: never).
type Edge struct {
	Reporter outcome.Events
	Log      *slog.Logger
	Abort    context.Context
	// Confirm, when set, is asked before a rollback writes anything (a person on a terminal);
	// false leaves everything as it is.
	Confirm func(ctx context.Context, p RollbackPlan) bool
	// Chart is the chart, already found (nil: the engine finds it).
	Chart *charts.Resolved
	// Token fetches the job's OIDC ID token, for a keyless run (cfg.Keyless).
	Token kube.TokenFunc
	// Providers make tokens in process for the kubeconfig's exec plugin when its command
	// cannot run here (nil: it runs as client-go runs it).
	Providers *kube.Providers
}

// Execute connects to the cluster cfg names and runs cfg. Connection problems become a failed
// Outcome like any other, so they reach the same outputs and summary.
func Execute(ctx context.Context, cfg config.Config, e Edge) Outcome {
	rep, log := e.Reporter, e.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	failed := func(msg string) Outcome {
		o := outcome.Fail(cfg, msg)
		o.Chart, o.ImageTag, o.Duration = cfg.Chart, cfg.ImageTag, time.Since(start)
		if rep != nil {
			rep.Event(ctx, Event{Phase: "pre-flight", Level: Error, Message: msg})
		}
		return o
	}
	clients, err := connect(ctx, cfg, e)
	if err != nil {
		return failed(err.Error())
	}
	if who := clients.Identity(); who != "" && rep != nil {
		how := "keyless"
		if cfg.Keyless.URL == "" {
			how = "with a token made in process"
		}
		rep.Event(ctx, Event{Phase: "pre-flight", Level: Info, Message: fmt.Sprintf("connected to %s %s, as %s", clients.Config.Host, how, who)})
	}
	helm, err := release.New(clients.Getter, cfg.Namespace, func(format string, v ...any) {
		log.Debug(fmt.Sprintf(format, v...), "component", "helm")
	})
	if err != nil {
		return failed(err.Error())
	}
	return Run(ctx, cfg, Deps{
		Clients:  clients,
		Helm:     helm,
		Reporter: rep,
		Log:      log,
		HTTP:     &http.Client{Timeout: 10 * time.Second},
		Abort:    e.Abort,
		Confirm:  e.Confirm,
		Chart:    e.Chart,
	})
}

// connect builds the clients: from the kubeconfig, or keyless with the job's OIDC token,
// checking then who the cluster takes the token for.
func connect(ctx context.Context, cfg config.Config, e Edge) (*kube.Clients, error) {
	if cfg.Keyless.URL == "" {
		c, err := kube.NewWith(cfg.Kubeconfig, cfg.Context, cfg.Namespace, e.Providers)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", config.InKubeconfig, err)
		}
		if c.Identity() != "" { // a token made in process: say whom the cluster takes it for
			user, err := kube.WhoAmI(ctx, c, "the token made in process", "is this identity mapped in the cluster (EKS access entries or aws-auth, a GKE or AKS role binding)?")
			if err != nil {
				return nil, fmt.Errorf("%s: %v", config.InKubeconfig, err)
			}
			c.SetIdentity(user)
		}
		return c, nil
	}
	c, err := kube.NewKeyless(kube.Keyless{Server: cfg.Keyless.URL, CA: cfg.Keyless.CA, Token: e.Token}, cfg.Namespace)
	if err != nil {
		return nil, err
	}
	user, err := kube.WhoAmI(ctx, c, "the job's OIDC token",
		"does it trust GitHub's issuer (https://token.actions.githubusercontent.com) for this audience? Set oidc_audience to the one it expects")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", config.InClusterURL, err)
	}
	c.SetIdentity(user)
	return c, nil
}
