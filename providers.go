package main

import (
	"context"
	"os/exec"

	"github.com/shepherd-deploy/shepherd/internal/cloudauth"
	"github.com/shepherd-deploy/shepherd/kube"
)

// providers are the in-process stand-ins for the cloud exec plugins (EKS, GKE, AKS) a
// kubeconfig may name: used when the plugin's command is not on the PATH (always, in the
// action's image; on a developer's machine only when it is missing). Every token they make,
// and the credentials they read, are masked first. They send credentials only to the clouds'
// own endpoints and to those the workflow lists (allow: the cloud_endpoints input).
func providers(getenv func(string) string, mask func(string), idToken cloudauth.IDToken, allow cloudauth.Endpoints) *kube.Providers {
	for _, name := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AZURE_CLIENT_SECRET", "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET"} {
		if v := getenv(name); v != "" {
			mask(v)
		}
	}
	masked := func(mk func(kube.Plugin) (kube.TokenFunc, string, error)) func(kube.Plugin) (kube.TokenFunc, string, error) {
		return func(p kube.Plugin) (kube.TokenFunc, string, error) {
			for _, v := range p.Env {
				mask(v)
			}
			fetch, who, err := mk(p)
			if err != nil {
				return nil, "", err
			}
			return func(ctx context.Context) (string, error) {
				tok, err := fetch(ctx)
				if err == nil {
					mask(tok)
				}
				return tok, err
			}, who, nil
		}
	}
	return &kube.Providers{LookPath: exec.LookPath, ByKind: map[string]func(kube.Plugin) (kube.TokenFunc, string, error){
		kube.PluginEKS: masked(cloudauth.EKS(getenv, allow)),
		kube.PluginGKE: masked(cloudauth.GKE(getenv, allow)),
		kube.PluginAKS: masked(cloudauth.AKS(getenv, idToken, allow)),
	}}
}
