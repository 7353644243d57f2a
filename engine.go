package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/deploy"
	"github.com/shepherd-deploy/shepherd/kube"
	"github.com/shepherd-deploy/shepherd/release"
)

// execute connects to the cluster and runs cfg, reporting through rep. Connection problems
// become a failed Outcome like any other, so they reach the same outputs and summary.
func execute(ctx context.Context, cfg config.Config, rep deploy.Reporter, log *slog.Logger) deploy.Outcome {
	start := time.Now()
	failed := func(msg string) deploy.Outcome {
		o := deploy.Outcome{Status: deploy.Failed, Release: cfg.Release, Namespace: cfg.Namespace, Chart: cfg.Chart,
			ImageTag: cfg.ImageTag, Message: msg, Duration: time.Since(start)}
		rep.Event(ctx, deploy.Event{Phase: "pre-flight", Level: deploy.Error, Message: msg})
		return o
	}
	clients, err := kube.New(cfg.Kubeconfig, cfg.Context, cfg.Namespace)
	if err != nil {
		return failed(fmt.Sprintf("%s: %v", config.InKubeconfig, err))
	}
	helm, err := release.New(clients.Getter, cfg.Namespace, func(format string, v ...any) {
		log.Debug(fmt.Sprintf(format, v...), "component", "helm")
	})
	if err != nil {
		return failed(err.Error())
	}
	return deploy.Run(ctx, cfg, deploy.Deps{
		Clients:  clients,
		Helm:     helm,
		Reporter: rep,
		Log:      log,
		HTTP:     &http.Client{Timeout: 10 * time.Second},
	})
}
