// Package kube builds Kubernetes clients from kubeconfig content (as the action receives it)
// and holds Shepherd's in-cluster conventions.
package kube

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	// Kubeconfigs whose user has an `auth-provider: oidc` block (an ID token, refreshed at
	// its issuer with a refresh token when it expires).
	_ "k8s.io/client-go/plugin/pkg/client/auth/oidc"
)

// Clients is everything Shepherd needs to talk to one cluster: a REST config, a typed
// clientset, and a RESTClientGetter for the Helm SDK.
type Clients struct {
	Config    *rest.Config
	Typed     kubernetes.Interface
	Getter    *Getter
	Namespace string

	identity func() string
}

// Identity names whom a keyless run's requests speak for (its token's subject), "" when the
// credentials are the kubeconfig's.
func (c *Clients) Identity() string {
	if c == nil || c.identity == nil {
		return ""
	}
	return c.identity()
}

// New parses kubeconfig content and selects kubeContext ("" = the current context). The
// returned error never quotes the kubeconfig (it may hold tokens and keys). An exec plugin
// runs as client-go runs it.
func New(kubeconfig []byte, kubeContext, namespace string) (*Clients, error) {
	return NewWith(kubeconfig, kubeContext, namespace, nil)
}

// NewWith is New, with the user's exec plugin, if the container cannot run it, replaced by a
// token source made in process (pv); a plugin neither runs nor has one is an error that
// names it and the ways in that work.
func NewWith(kubeconfig []byte, kubeContext, namespace string, pv *Providers) (*Clients, error) {
	if len(kubeconfig) == 0 {
		return nil, errors.New("kubeconfig is empty")
	}
	raw, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, errors.New("kubeconfig is not a valid kubeconfig file (YAML with clusters, users and contexts)")
	}
	if kubeContext != "" {
		if _, ok := raw.Contexts[kubeContext]; !ok {
			return nil, fmt.Errorf("context %q is not in the kubeconfig", kubeContext)
		}
	}
	token, who, err := inProcess(raw, kubeContext, pv)
	if err != nil {
		return nil, err
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*raw, kubeContext, &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: namespace}}, nil)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	if token != nil {
		src := &renewing{fetch: token, now: time.Now}
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &bearer{base: rt, src: src} })
	}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &Clients{Config: cfg, Typed: typed, Getter: &Getter{cc: cc, cfg: cfg, namespace: namespace}, Namespace: namespace}
	if who != "" {
		c.SetIdentity(who)
	}
	return c, nil
}

// inProcess replaces the selected user's exec plugin by an in-process token source when the
// plugin's command cannot run here.
func inProcess(raw *clientcmdapi.Config, kubeContext string, pv *Providers) (TokenFunc, string, error) {
	p := PluginOf(raw, kubeContext)
	if p == nil || pv == nil {
		return nil, "", nil
	}
	if pv.LookPath != nil {
		if _, err := pv.LookPath(p.Command); err == nil {
			return nil, "", nil // a developer's machine: the plugin runs as kubectl runs it
		}
	}
	mk := pv.ByKind[p.Kind]
	if p.Kind == "" || mk == nil {
		var kinds []string
		for k := range pv.ByKind {
			kinds = append(kinds, map[string]string{PluginEKS: "aws eks get-token / aws-iam-authenticator (EKS)",
				PluginGKE: "gke-gcloud-auth-plugin (GKE)", PluginAKS: "kubelogin get-token (AKS)"}[k])
		}
		sort.Strings(kinds)
		return nil, "", errPlugin(*p, kinds)
	}
	token, who, err := mk(*p)
	if err != nil {
		return nil, "", fmt.Errorf("user %q's exec plugin `%s`, run in process: %w", p.User, p.String(), err)
	}
	u := raw.AuthInfos[raw.Contexts[orCurrent(raw, kubeContext)].AuthInfo]
	u.Exec = nil
	return token, who, nil
}

func orCurrent(raw *clientcmdapi.Config, kubeContext string) string {
	if kubeContext == "" {
		return raw.CurrentContext
	}
	return kubeContext
}

// Getter implements Helm's genericclioptions.RESTClientGetter over an in-memory kubeconfig.
type Getter struct {
	cc        clientcmd.ClientConfig
	cfg       *rest.Config
	namespace string
	disc      discovery.CachedDiscoveryInterface
}

// ToRESTConfig returns a copy of the REST config.
func (g *Getter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.cfg), nil }

// ToDiscoveryClient returns a memory-cached discovery client (shared by all callers).
func (g *Getter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	if g.disc == nil {
		dc, err := discovery.NewDiscoveryClientForConfig(g.cfg)
		if err != nil {
			return nil, err
		}
		g.disc = memory.NewMemCacheClient(dc)
	}
	return g.disc, nil
}

// ToRESTMapper returns a deferred, discovery-backed REST mapper.
func (g *Getter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	m := restmapper.NewDeferredDiscoveryRESTMapper(dc)
	return restmapper.NewShortcutExpander(m, dc, nil), nil
}

// ToRawKubeConfigLoader returns the kubeconfig loader (its namespace is the target namespace).
func (g *Getter) ToRawKubeConfigLoader() clientcmd.ClientConfig { return g.cc }
