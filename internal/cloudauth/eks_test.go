package cloudauth

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/aws-iam-authenticator/pkg/token"

	"github.com/shepherd-deploy/shepherd/kube"
)

// stsAnswer stands in for AWS STS's answer to the verifier's GET (no network in a unit test;
// test/e2e checks the signature against a stand-in of STS): it records the request.
type stsAnswer struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *stsAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
	body := `{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"111122223333","Arn":"arn:aws:iam::111122223333:user/ci","UserId":"AIDAEXAMPLE"}}}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// The token keeps aws-iam-authenticator's format: its own verifier accepts it for the
// cluster, in the region's STS, signed with the cluster's header, valid 60 seconds.
func TestEKSTokenPassesTheAuthenticatorsVerifier(t *testing.T) {
	job := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}
	for region, host := range map[string]string{"eu-west-1": "sts.eu-west-1.amazonaws.com", "cn-north-1": "sts.cn-north-1.amazonaws.com.cn"} {
		fetch, who, err := EKS(func(k string) string { return job[k] }, nil)(kube.Plugin{Command: "aws", Kind: kube.PluginEKS,
			Args: []string{"eks", "get-token", "--cluster-name", "prod", "--region", region}})
		if err != nil || !strings.Contains(who, "AKIAEXAMPLE") {
			t.Fatalf("%v %q", err, who)
		}
		tok, err := fetch(t.Context())
		if err != nil || !strings.HasPrefix(tok, "k8s-aws-v1.") {
			t.Fatalf("token %q, %v", tok, err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "k8s-aws-v1."))
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(string(raw))
		q := u.Query()
		if u.Host != host || q.Get("X-Amz-Expires") != "60" || !strings.Contains(q.Get("X-Amz-SignedHeaders"), "x-k8s-aws-id") || q.Get("Action") != "GetCallerIdentity" {
			t.Errorf("presigned URL %s", u)
		}
		ans := &stsAnswer{}
		old := http.DefaultTransport
		http.DefaultTransport = ans
		partition := map[bool]string{true: "aws-cn", false: "aws"}[strings.HasPrefix(region, "cn-")]
		id, err := token.NewVerifier("prod", partition, region).Verify(tok)
		http.DefaultTransport = old
		if err != nil || id.CanonicalARN != "arn:aws:iam::111122223333:user/ci" {
			t.Fatalf("the verifier says %v (%+v)", err, id)
		}
		if len(ans.reqs) != 1 || ans.reqs[0].URL.Host != host || ans.reqs[0].Header.Get("x-k8s-aws-id") != "prod" {
			t.Errorf("the verifier asked %v", ans.reqs)
		}
		// Another cluster's verifier refuses it.
		if _, err := token.NewVerifier("other", partition, region).Verify(tok); err == nil {
			t.Errorf("a token for prod passes for other")
		}
	}
}

// A kubeconfig's exec env cannot blank the job's keys, swap in a token file or a role, nor
// name an STS endpoint: each such entry is refused by name, before anything is read or sent.
func TestEKSRefusesCredentialsAndEndpointsFromTheKubeconfig(t *testing.T) {
	job := map[string]string{"AWS_ACCESS_KEY_ID": "AKIAJOB", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1"}
	mk := EKS(func(k string) string { return job[k] }, nil)
	args := []string{"eks", "get-token", "--cluster-name", "prod"}
	for _, env := range []map[string]string{
		{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
		{"AWS_WEB_IDENTITY_TOKEN_FILE": "/proc/self/environ", "AWS_ROLE_ARN": "arn:aws:iam::1:role/x"},
		{"AWS_ENDPOINT_URL_STS": "https://127.0.0.1:1"},
		{"AWS_ENDPOINT_URL": "https://127.0.0.1:1"},
		{"AWS_SHARED_CREDENTIALS_FILE": "/tmp/x"},
	} {
		_, _, err := mk(kube.Plugin{Command: "aws", Args: args, Env: env, Kind: kube.PluginEKS})
		for name := range env {
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "exec env") {
				t.Errorf("exec env %v: %v, want a refusal naming %s", env, err, name)
			}
		}
	}
	// A region (which cluster) may come from the kubeconfig, and AWS_PROFILE is ignored.
	_, who, err := mk(kube.Plugin{Command: "aws", Args: args, Env: map[string]string{"AWS_REGION": "us-east-2", "AWS_PROFILE": "prod"}, Kind: kube.PluginEKS})
	if err != nil || !strings.Contains(who, "in us-east-2, AWS access key AKIAJOB") {
		t.Errorf("%v %q", err, who)
	}
}

// An STS endpoint in the job's environment is used only in the region's partition, or when
// the workflow lists it in cloud_endpoints.
func TestEKSSTSEndpoint(t *testing.T) {
	for _, tc := range []struct {
		region, endpoint string
		allow            Endpoints
		ok               bool
	}{
		{"us-east-1", "https://sts-fips.us-east-1.amazonaws.com", nil, true},
		{"eu-west-1", "https://sts.eu-west-1.api.aws", nil, true},
		{"cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn", nil, true},
		{"cn-north-1", "https://sts.cn-north-1.amazonaws.com.cn.evil.example", nil, false},
		{"us-gov-west-1", "https://sts.us-gov-west-1.amazonaws.com", nil, true},
		{"us-iso-east-1", "https://sts.us-iso-east-1.c2s.ic.gov", nil, true},
		{"us-iso-east-1", "https://sts.us-east-1.amazonaws.com", nil, false},
		{"eu-west-1", "https://evil.example", nil, false},
		{"eu-west-1", "https://sts.eu-west-1.amazonaws.com:8443", nil, false},
		{"eu-west-1", "http://sts.eu-west-1.amazonaws.com", nil, false},
		{"eu-west-1", "https://sts.internal.example:8443", Endpoints{"https://sts.internal.example:8443"}, true},
		{"eu-west-1", "https://sts.internal.example", Endpoints{"https://sts.internal.example:8443"}, false},
	} {
		job := map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:aws:iam::1:role/x", "AWS_ENDPOINT_URL_STS": tc.endpoint}
		_, _, err := EKS(func(k string) string { return job[k] }, tc.allow)(kube.Plugin{Command: "aws", Kind: kube.PluginEKS,
			Args: []string{"eks", "get-token", "--cluster-name", "prod", "--region", tc.region}})
		if tc.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "AWS_ENDPOINT_URL_STS") {
			t.Errorf("%s in %s (allow %v): %v", tc.endpoint, tc.region, tc.allow, err)
		}
	}
}

// A web identity (the job's token file and role) and a --role-arn are exchanged through AWS
// SDK v2 at the STS endpoint the job names and the workflow lists — here a local stand-in of
// STS (only AWS reaches the real one) — and the token is signed with the assumed role's keys.
func TestEKSWebIdentityThenRoleThroughSDKv2(t *testing.T) {
	var calls []url.Values
	var auth []string
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		calls, auth = append(calls, r.PostForm), append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		action, key := r.PostForm.Get("Action"), "AKIAWEB"
		if action == "AssumeRole" {
			key = "AKIAROLE"
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<%[1]sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%[1]sResult><Credentials><AccessKeyId>%[2]s</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></%[1]sResult></%[1]sResponse>`, action, key)
	}))
	defer srv.Close()
	awsHTTP = srv.Client()
	defer func() { awsHTTP = nil }()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("the-job-oidc-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	job := map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::1:role/ci", "AWS_ENDPOINT_URL_STS": srv.URL}
	fetch, who, err := EKS(func(k string) string { return job[k] }, Endpoints{srv.URL})(kube.Plugin{Command: "aws", Kind: kube.PluginEKS,
		Args: []string{"eks", "get-token", "--cluster-name", "prod", "--region", "eu-west-1", "--role-arn", "arn:aws:iam::1:role/deploy"}})
	if err != nil || who != "EKS cluster prod in eu-west-1, AWS role arn:aws:iam::1:role/ci (web identity), assuming arn:aws:iam::1:role/deploy" {
		t.Fatalf("%v %q", err, who)
	}
	tok, err := fetch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "k8s-aws-v1."))
	u, _ := url.Parse(string(raw))
	if !strings.HasPrefix(u.Query().Get("X-Amz-Credential"), "AKIAROLE/") || u.Host != "sts.eu-west-1.amazonaws.com" {
		t.Errorf("presigned with %s at %s", u.Query().Get("X-Amz-Credential"), u.Host)
	}
	if len(calls) != 2 || calls[0].Get("Action") != "AssumeRoleWithWebIdentity" || calls[0].Get("WebIdentityToken") != "the-job-oidc-token" ||
		calls[0].Get("RoleArn") != "arn:aws:iam::1:role/ci" || calls[1].Get("Action") != "AssumeRole" || calls[1].Get("RoleArn") != "arn:aws:iam::1:role/deploy" ||
		!strings.Contains(auth[1], "Credential=AKIAWEB/") {
		t.Errorf("STS was asked %v (authorization %q)", calls, auth)
	}
}
