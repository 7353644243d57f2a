package cloudauth

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shepherd-deploy/shepherd/kube"
)

// hostile is a local listener standing for a host a kubeconfig names: it counts connections.
func hostile(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, &n
}

// AKS: the kubeconfig's --authority-host, or an exec env that names an authority host, a
// token file or a secret, is refused, naming it; nothing is sent to that host.
func TestAKSRefusesEndpointsAndFilesFromTheKubeconfig(t *testing.T) {
	srv, conns := hostile(t)
	job := map[string]string{"AAD_SERVICE_PRINCIPAL_CLIENT_SECRET": "sp-secret"}
	mk := AKS(func(k string) string { return job[k] }, nil, nil)
	base := []string{"get-token", "--login", "spn", "--server-id", "s", "--client-id", "c", "--tenant-id", "t"}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{append(base, "--authority-host", srv.URL), nil, "--authority-host"},
		{append(base, "--authority-host", "https://login.microsoftonline.com.evil.example"), nil, "--authority-host"},
		{append(base, "--federated-token-file", "/proc/self/environ"), nil, "--federated-token-file"},
		{base, map[string]string{"AZURE_AUTHORITY_HOST": srv.URL}, "AZURE_AUTHORITY_HOST"},
		{base, map[string]string{"AZURE_FEDERATED_TOKEN_FILE": "/proc/self/environ"}, "AZURE_FEDERATED_TOKEN_FILE"},
		{base, map[string]string{"AAD_SERVICE_PRINCIPAL_CLIENT_SECRET": ""}, "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET"},
	} {
		fetch, _, err := mk(kube.Plugin{Command: "kubelogin", Args: tc.args, Env: tc.env, Kind: kube.PluginAKS})
		if err == nil {
			_, _ = fetch(t.Context())
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want a refusal naming %s", tc.args, tc.env, err, tc.want)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the kubeconfig's host got %d connections", n)
	}
	// Microsoft's own hosts (a sovereign cloud's), and a host the workflow lists, are taken.
	for _, tc := range []struct {
		host  string
		allow Endpoints
	}{{"https://login.microsoftonline.us", nil}, {"https://login.partner.microsoftonline.cn/", nil}, {srv.URL, Endpoints{srv.URL}}} {
		if _, _, err := AKS(func(k string) string { return job[k] }, nil, tc.allow)(kube.Plugin{Command: "kubelogin", Kind: kube.PluginAKS,
			Args: append(base, "--authority-host", tc.host)}); err != nil {
			t.Errorf("%s: %v", tc.host, err)
		}
	}
	job["AZURE_AUTHORITY_HOST"] = srv.URL // the job's own environment, not listed
	if _, _, err := mk(kube.Plugin{Command: "kubelogin", Args: base, Kind: kube.PluginAKS}); err == nil || !strings.Contains(err.Error(), EndpointsInput) {
		t.Errorf("AZURE_AUTHORITY_HOST of the job, unlisted: %v", err)
	}
}

// GKE: GOOGLE_APPLICATION_CREDENTIALS comes from the job only, and the file's endpoints must
// be Google's, the job's GitHub token service, or listed.
func TestGKEChecksTheCredentialsFilesEndpoints(t *testing.T) {
	srv, conns := hostile(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ext := func(tokenURL, impersonate, source string) string {
		return `{"type": "external_account", "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/p",
  "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": "` + tokenURL + `",
  "service_account_impersonation_url": "` + impersonate + `",
  "credential_source": {"url": "` + source + `", "format": {"type": "json", "subject_token_field_name": "value"}}}`
	}
	github := "https://pipelines.actions.githubusercontent.example/abc/idtoken?api-version=2.0"
	good := ext("https://sts.googleapis.com/v1/token", "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/d@p.iam.gserviceaccount.com:generateAccessToken", github)
	job := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": github}
	mk := func(allow Endpoints) func(kube.Plugin) (kube.TokenFunc, string, error) {
		return GKE(func(k string) string { return job[k] }, allow)
	}
	for name, body := range map[string]string{
		"token_url":                         ext(srv.URL+"/v1/token", "", github),
		"service_account_impersonation_url": ext("https://sts.googleapis.com/v1/token", srv.URL+"/sa:generateAccessToken", github),
		"credential_source.url":             ext("https://sts.googleapis.com/v1/token", "", srv.URL+"/token"),
		"token_uri":                         `{"type": "impersonated_service_account", "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/x", "source_credentials": {"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r", "token_uri": "` + srv.URL + `/token"}}`,
		"universe_domain":                   `{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r", "universe_domain": "evil.example"}`,
	} {
		job["GOOGLE_APPLICATION_CREDENTIALS"] = write(strings.ReplaceAll(name, ".", "-")+".json", body)
		fetch, _, err := mk(nil)(kube.Plugin{Command: "gke-gcloud-auth-plugin", Kind: kube.PluginGKE})
		if err == nil {
			_, _ = fetch(t.Context())
		}
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), EndpointsInput) {
			t.Errorf("%s: %v, want a refusal naming it", name, err)
		}
	}
	// The kubeconfig cannot name the credentials file (nor where the workspace is).
	job["GOOGLE_APPLICATION_CREDENTIALS"] = write("good.json", good)
	for _, env := range []string{"GOOGLE_APPLICATION_CREDENTIALS", "GITHUB_WORKSPACE", "ACTIONS_ID_TOKEN_REQUEST_URL"} {
		_, _, err := mk(nil)(kube.Plugin{Command: "gke-gcloud-auth-plugin", Kind: kube.PluginGKE, Env: map[string]string{env: write("evil.json", ext(srv.URL, "", srv.URL))}})
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("exec env %s: %v", env, err)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the hostile host got %d connections", n)
	}
	if _, _, err := mk(nil)(kube.Plugin{Command: "gke-gcloud-auth-plugin", Kind: kube.PluginGKE}); err != nil {
		t.Errorf("Google's own endpoints and the job's token service: %v", err)
	}
	job["GOOGLE_APPLICATION_CREDENTIALS"] = write("listed.json", ext(srv.URL+"/v1/token", srv.URL+"/sa:generateAccessToken", github))
	if _, _, err := mk(Endpoints{srv.URL})(kube.Plugin{Command: "gke-gcloud-auth-plugin", Kind: kube.PluginGKE}); err != nil {
		t.Errorf("a listed endpoint: %v", err)
	}
}

func TestEndpointErrorsHidePasswords(t *testing.T) {
	_, err := Endpoints(nil).checkEndpoint("f", "http://user:hunter2@evil.example", "AWS", googleHost)
	for _, e := range []error{err} {
		if e == nil || strings.Contains(e.Error(), "hunter2") {
			t.Errorf("%v", e)
		}
	}
}
