package kube

import (
	"fmt"
	"path/filepath"
	"strings"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Plugin is the exec credential plugin a kubeconfig's user runs to get a token (what `aws eks
// update-kubeconfig`, `gcloud container clusters get-credentials` and `kubelogin
// convert-kubeconfig` write).
type Plugin struct {
	User    string
	Command string
	Args    []string
	Env     map[string]string // the plugin's own env entries
	// Kind is the provider the command is: "eks", "gke", "aks", or "" for another.
	Kind string
}

// Plugin kinds.
const (
	PluginEKS = "eks"
	PluginGKE = "gke"
	PluginAKS = "aks"
)

// Arg is the value of flag name in the plugin's arguments (--name value or --name=value).
func (p Plugin) Arg(names ...string) string {
	for i, a := range p.Args {
		for _, n := range names {
			if v, ok := strings.CutPrefix(a, n+"="); ok {
				return v
			}
			if a == n && i+1 < len(p.Args) {
				return p.Args[i+1]
			}
		}
	}
	return ""
}

// String is the command line, as a person would recognise it.
func (p Plugin) String() string {
	return strings.TrimSpace(p.Command + " " + strings.Join(p.Args, " "))
}

// PluginOf is the exec plugin of the kubeconfig's selected user, if it has one.
func PluginOf(raw *clientcmdapi.Config, kubeContext string) *Plugin {
	if kubeContext == "" {
		kubeContext = raw.CurrentContext
	}
	ctx := raw.Contexts[kubeContext]
	if ctx == nil {
		return nil
	}
	u := raw.AuthInfos[ctx.AuthInfo]
	if u == nil || u.Exec == nil {
		return nil
	}
	p := &Plugin{User: ctx.AuthInfo, Command: u.Exec.Command, Args: u.Exec.Args, Env: map[string]string{}}
	for _, e := range u.Exec.Env {
		p.Env[e.Name] = e.Value
	}
	base := filepath.Base(p.Command)
	joined := " " + strings.Join(p.Args, " ") + " "
	switch {
	case base == "aws" && strings.Contains(joined, " eks ") && strings.Contains(joined, " get-token "),
		base == "aws-iam-authenticator" && strings.Contains(joined, " token "):
		p.Kind = PluginEKS
	case base == "gke-gcloud-auth-plugin":
		p.Kind = PluginGKE
	case base == "kubelogin" && strings.Contains(joined, " get-token "):
		p.Kind = PluginAKS
	}
	return p
}

// Providers make tokens in process for the exec plugins a container cannot run.
type Providers struct {
	// LookPath finds a plugin's command; when it does, client-go runs the plugin as kubectl
	// would (a developer's machine). Nil: plugins always run in process where they can.
	LookPath func(file string) (string, error)
	// ByKind makes the token source of a plugin kind.
	ByKind map[string]func(p Plugin) (TokenFunc, string, error)
}

// errPlugin says that a plugin cannot run here, and what works instead.
func errPlugin(p Plugin, inProcess []string) error {
	return fmt.Errorf("user %q gets its token from the exec plugin `%s`, which is not in this container (the action's image carries no cloud CLIs); ways in that work here: keyless (cluster_url, with the job's GitHub OIDC token), a kubeconfig with a token or a client certificate, or the plugins Shepherd runs in process: %s",
		p.User, p.String(), strings.Join(inProcess, ", "))
}
