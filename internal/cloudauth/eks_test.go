package cloudauth

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
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
