package cloudauth

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/kube"
)

// EndpointsInput is the action input that lists Endpoints.
const EndpointsInput = config.InCloudEndpoints

// Endpoints are the https origins, besides the clouds' own, that the workflow lets the
// in-process logins send credentials to (the cloud_endpoints input: a sovereign cloud's or
// a private endpoint). A kubeconfig cannot add any.
type Endpoints []string

// allows reports whether u's origin is one the workflow listed.
func (e Endpoints) allows(u *url.URL) bool {
	for _, s := range e {
		if l, err := url.Parse(strings.TrimSpace(s)); err == nil && l.Scheme == "https" && strings.EqualFold(l.Host, u.Host) {
			return true
		}
	}
	return false
}

// checkEndpoint parses raw (named by field), an endpoint a login would send credentials to:
// an https URL whose host is the cloud's own (own, on the default port) or whose origin the
// workflow listed in cloud_endpoints.
func (e Endpoints) checkEndpoint(field, raw, cloudName string, own func(host string) bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%s: %q is not an https URL (without user:password@)", field, redacted(raw))
	}
	if (u.Port() == "" || u.Port() == "443") && own(strings.ToLower(u.Hostname())) {
		return u, nil
	}
	if e.allows(u) {
		return u, nil
	}
	return nil, fmt.Errorf("%s: %s is not %s's own endpoint, and the %s input does not list it: Shepherd sends credentials only to the cloud's own endpoints, or to one the workflow names in %s (a kubeconfig cannot)",
		field, u.Host, cloudName, EndpointsInput, EndpointsInput)
}

// redacted is raw with any password replaced by xxxxx, for an error message.
func redacted(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(not a URL)"
}

// hostUnder reports whether host is domain or one of its subdomains.
func hostUnder(host, domain string) bool {
	return host == domain || strings.HasSuffix(host, "."+domain)
}

// microsoftHosts are Microsoft Entra ID's published authority hosts (MSAL's trusted host
// list: the public, China, US Government, Germany and the sovereign clouds).
var microsoftHosts = []string{"login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
	"login.partner.microsoftonline.cn", "login.chinacloudapi.cn", "login.microsoftonline.us", "login-us.microsoftonline.com",
	"login.usgovcloudapi.net", "login.microsoftonline.de", "login.sovcloud-identity.fr", "login.sovcloud-identity.de",
	"login.sovcloud-identity.sg"}

func microsoftHost(host string) bool { return slices.Contains(microsoftHosts, host) }

// googleHost is Google's: its APIs (sts, iamcredentials, oauth2, their regional and mTLS
// forms, all under googleapis.com) and accounts.google.com (older files' token URI).
func googleHost(host string) bool {
	return hostUnder(host, "googleapis.com") || host == "accounts.google.com"
}

// execEnv is what a login reads: the job's environment, except for the names in choose,
// which a kubeconfig's exec env entries may set (a region, a tenant: which cluster and
// which role, never credentials). A kubeconfig whose exec env sets one of jobOnly — a
// credential, a token file, an endpoint — is refused, naming the entry.
func execEnv(p kube.Plugin, job Env, jobOnly, choose []string) (Env, error) {
	var refused []string
	for name := range p.Env {
		for _, j := range jobOnly {
			if name == j || strings.HasSuffix(j, "*") && strings.HasPrefix(name, strings.TrimSuffix(j, "*")) {
				refused = append(refused, name)
				break
			}
		}
	}
	if len(refused) > 0 {
		slices.Sort(refused)
		return nil, fmt.Errorf("the kubeconfig's exec env sets %s: a kubeconfig chooses a cluster and a role, not credentials, token files or endpoints — Shepherd takes those from the job's environment only (remove the entry; set it in the workflow's env, or list an endpoint in %s)",
			strings.Join(refused, ", "), EndpointsInput)
	}
	return func(name string) string {
		if v, ok := p.Env[name]; ok && slices.Contains(choose, name) {
			return v
		}
		if job == nil {
			return ""
		}
		return job(name)
	}, nil
}

// sameOrigin reports whether a and b are URLs of one origin (scheme, host and port).
func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host != "" && ua.User == nil && ua.Scheme == ub.Scheme && strings.EqualFold(ua.Host, ub.Host)
}
