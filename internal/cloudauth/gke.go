package cloudauth

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/oauth2/google"

	"github.com/shepherd-deploy/shepherd/kube"
)

// GKE makes tokens as gke-gcloud-auth-plugin does: an OAuth2 access token of Google's
// application default credentials (scope cloud-platform), read from the file
// GOOGLE_APPLICATION_CREDENTIALS names — the external-account file that
// google-github-actions/auth writes (Workload Identity Federation from the job's OIDC token,
// impersonating a service account if it says so), or a service account key. That action
// writes the runner's path of the file; inside the action's container the workspace is
// mounted elsewhere, so a path under the runner's workspace (RUNNER_WORKSPACE/<repo>/) is
// read under GITHUB_WORKSPACE.
func GKE(env Env) func(p kube.Plugin) (kube.TokenFunc, string, error) {
	return func(p kube.Plugin) (kube.TokenFunc, string, error) {
		get := lookup(p, env)
		path := get("GOOGLE_APPLICATION_CREDENTIALS")
		if path == "" {
			return nil, "", fmt.Errorf("no Google credentials in the job's environment: run google-github-actions/auth before this step (it sets GOOGLE_APPLICATION_CREDENTIALS)")
		}
		data, err := os.ReadFile(containerPath(path, get))
		if err != nil {
			return nil, "", fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: %v", err)
		}
		var head struct{ Type google.CredentialsType }
		if err := json.Unmarshal(data, &head); err != nil {
			return nil, "", fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: not a credentials file: %v", err)
		}
		switch head.Type {
		case google.ExternalAccount, google.ServiceAccount, google.ImpersonatedServiceAccount, google.AuthorizedUser:
		default:
			return nil, "", fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: type %q is not one Shepherd takes (external_account, service_account, impersonated_service_account, authorized_user)", head.Type)
		}
		// The file is the job's own (google-github-actions/auth wrote it), so its URLs are
		// the ones the workflow chose.
		creds, err := google.CredentialsFromJSONWithType(context.Background(), data, head.Type, "https://www.googleapis.com/auth/cloud-platform")
		if err != nil {
			return nil, "", fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: %v", err)
		}
		fetch := func(context.Context) (string, error) {
			t, err := creds.TokenSource.Token()
			if err != nil {
				return "", fmt.Errorf("a Google access token: %v", err)
			}
			return t.AccessToken, nil
		}
		return fetch, "Google " + googleIdentity(data), nil
	}
}

// containerPath maps a path under the runner's workspace to the container's workspace when
// the path itself is not there.
func containerPath(path string, get Env) string {
	if _, err := os.Stat(path); err == nil {
		return path
	}
	host, inside := strings.TrimRight(get("RUNNER_WORKSPACE"), "/"), get("GITHUB_WORKSPACE")
	if host == "" || inside == "" || !strings.HasPrefix(path, host+"/") {
		return path
	}
	_, rest, ok := strings.Cut(strings.TrimPrefix(path, host+"/"), "/") // drop the repository's directory
	if !ok {
		return path
	}
	return filepath.Join(inside, rest)
}

// googleIdentity names the credentials: the service account impersonated or keyed, or the
// workload identity pool's audience.
func googleIdentity(data []byte) string {
	var f struct {
		Type, ClientEmail, Audience, ImpersonationURL string
	}
	var raw map[string]any
	_ = json.Unmarshal(data, &raw)
	str := func(k string) string { s, _ := raw[k].(string); return s }
	f.Type, f.ClientEmail, f.Audience, f.ImpersonationURL = str("type"), str("client_email"), str("audience"), str("service_account_impersonation_url")
	switch {
	case f.ImpersonationURL != "":
		sa := f.ImpersonationURL[strings.LastIndex(f.ImpersonationURL, "/")+1:]
		return "service account " + strings.TrimSuffix(sa, ":generateAccessToken") + " (workload identity federation)"
	case f.ClientEmail != "":
		return "service account " + f.ClientEmail
	case f.Audience != "":
		return "workload identity " + f.Audience
	}
	return f.Type + " credentials"
}
