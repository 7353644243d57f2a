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
// read under GITHUB_WORKSPACE. The file's endpoints must be Google's, the job's GitHub token
// service (its subject token's source), or listed in allow.
func GKE(env Env, allow Endpoints) func(p kube.Plugin) (kube.TokenFunc, string, error) {
	return func(p kube.Plugin) (kube.TokenFunc, string, error) {
		get, err := execEnv(p, env, gkeJobOnly, nil)
		if err != nil {
			return nil, "", err
		}
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
		if err := googleEndpoints(data, get, allow); err != nil {
			return nil, "", err
		}
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

// gkeJobOnly are the variables a GKE login reads from the job's environment only.
var gkeJobOnly = []string{"GOOGLE_APPLICATION_CREDENTIALS", "RUNNER_WORKSPACE", "GITHUB_WORKSPACE", "ACTIONS_ID_TOKEN_REQUEST_URL",
	"GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "CLOUDSDK_*"}

// googleEndpoints checks the URLs a credentials file would send credentials to (and its
// impersonated source's): Google's own, or listed in allow; a subject token's source may
// also be the job's GitHub token service (ACTIONS_ID_TOKEN_REQUEST_URL's origin).
func googleEndpoints(data []byte, get Env, allow Endpoints) error {
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: not a credentials file: %v", err)
	}
	for f != nil {
		str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
		check := func(field, raw string, own func(string) bool) error {
			if raw == "" {
				return nil
			}
			_, err := allow.checkEndpoint("GOOGLE_APPLICATION_CREDENTIALS: "+field, raw, "Google", own)
			return err
		}
		for _, k := range []string{"token_url", "token_uri", "service_account_impersonation_url", "token_info_url"} {
			if err := check(k, str(f, k), googleHost); err != nil {
				return err
			}
		}
		if ud := str(f, "universe_domain"); ud != "" && ud != "googleapis.com" {
			if err := check("universe_domain", "https://sts."+ud, googleHost); err != nil {
				return err
			}
		}
		src, _ := f["credential_source"].(map[string]any)
		if subject := str(src, "url"); !sameOrigin(subject, get("ACTIONS_ID_TOKEN_REQUEST_URL")) {
			if err := check("credential_source.url", subject, googleHost); err != nil {
				return err
			}
		}
		f, _ = f["source_credentials"].(map[string]any)
	}
	return nil
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
