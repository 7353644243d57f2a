package config_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
)

// minimalKubeconfig is a syntactically valid kubeconfig (it points nowhere useful).
const minimalKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:1
users:
- name: u
  user:
    token: not-a-real-token
contexts:
- name: ctx
  context:
    cluster: c
    user: u
current-context: ctx
`

// getter returns an input getter over base with overrides applied; unknown inputs are "".
func getter(base, overrides map[string]string) func(string) string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for k, v := range overrides {
		m[k] = v
	}
	return func(name string) string { return m[name] }
}

// valid are the inputs of a valid deploy; every case changes some of them.
var valid = map[string]string{config.InRelease: "web", config.InChart: "./chart"}

// leaves flattens an errors.Join tree into its individual problems.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

func TestFromInputsDefaults(t *testing.T) {
	got, err := config.FromInputs(getter(valid, nil))
	if err != nil {
		t.Fatalf("FromInputs: %v", err)
	}
	want := config.Default()
	want.Release, want.Chart = "web", "./chart"
	if len(got.Kubeconfig) == 0 {
		got.Kubeconfig = nil // no kubeconfig input: empty, whether nil or not
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromInputs with only release and chart:\n got %+v\nwant %+v", got, want)
	}
	// The defaults themselves, as documented.
	d := config.Default()
	if d.Mode != config.ModeDeploy || d.Strategy != config.StrategyRolling || d.Namespace != "default" ||
		d.ImageTagKey != "image.tag" || d.Timeout != 5*time.Minute || d.HealthTimeout != 30*time.Second || d.DryRun {
		t.Errorf("Default() = %+v", d)
	}
}

func TestFromInputsParsesEveryInput(t *testing.T) {
	in := map[string]string{
		config.InMode:        " deploy ",
		config.InStrategy:    "rolling",
		config.InRelease:     " web ",
		config.InNamespace:   "prod",
		config.InChart:       "./chart",
		config.InValues:      "values.yaml\n\n  prod.yaml  \n",
		config.InSet:         "replicaCount=3\n  a.b[0]=c\n",
		config.InImageTag:    "v1.2.3",
		config.InImageTagKey: "app.image.tag",
		config.InKubeconfig:  minimalKubeconfig,
		config.InContext:     "ctx",
		config.InTimeout:     "90s",
		config.InDryRun:      "true",
		config.InHealthURL:   "https://example.com/healthz",
	}
	c, err := config.FromInputs(getter(in, nil))
	if err != nil {
		t.Fatalf("FromInputs: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Mode", c.Mode, config.ModeDeploy},
		{"Strategy", c.Strategy, config.StrategyRolling},
		{"Release", c.Release, "web"},
		{"Namespace", c.Namespace, "prod"},
		{"Chart", c.Chart, "./chart"},
		{"ValuesFiles", c.ValuesFiles, []string{"values.yaml", "prod.yaml"}},
		{"Set", c.Set, []string{"replicaCount=3", "a.b[0]=c"}},
		{"ImageTag", c.ImageTag, "v1.2.3"},
		{"ImageTagKey", c.ImageTagKey, "app.image.tag"},
		{"Kubeconfig", string(c.Kubeconfig), minimalKubeconfig},
		{"Context", c.Context, "ctx"},
		{"Timeout", c.Timeout, 90 * time.Second},
		{"DryRun", c.DryRun, true},
		{"HealthURL", c.HealthURL, "https://example.com/healthz"},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %#v, want %#v", ck.name, ck.got, ck.want)
		}
	}
}

func TestFromInputs(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name string
		in   map[string]string
		// badInput is the input the single reported problem must name ("" when valid).
		badInput string
		// wantMsg must also appear in that problem's message.
		wantMsg string
		check   func(t *testing.T, c config.Config)
	}{
		// mode
		{name: "mode deploy", in: map[string]string{config.InMode: "deploy"}},
		{name: "mode rollback needs no chart", in: map[string]string{config.InMode: "rollback", config.InChart: ""},
			check: func(t *testing.T, c config.Config) {
				if c.Mode != config.ModeRollback {
					t.Errorf("Mode = %q", c.Mode)
				}
			}},
		{name: "mode unknown", in: map[string]string{config.InMode: "yolo"}, badInput: config.InMode, wantMsg: `"yolo"`},

		// strategy
		{name: "strategy rolling", in: map[string]string{config.InStrategy: "rolling"}},
		{name: "strategy unknown", in: map[string]string{config.InStrategy: "yolo"}, badInput: config.InStrategy, wantMsg: "rolling, blue-green"},

		// traffic
		{name: "gateway-api canary", in: map[string]string{config.InStrategy: "canary", config.InTrafficRouter: "Gateway-API", config.InHTTPRoute: "web",
			config.InPreviewHeader: " X-Canary :  always ", config.InCanaryReplicas: "2"},
			check: func(t *testing.T, c config.Config) {
				if !c.GatewayAPI() || c.HTTPRoute != "web" || c.PreviewHeader != "X-Canary" || c.PreviewValue != "always" || c.CanaryReplicas != 2 {
					t.Errorf("traffic = %+v", c.Traffic)
				}
			}},
		{name: "traffic router unknown", in: map[string]string{config.InTrafficRouter: "istio"}, badInput: config.InTrafficRouter, wantMsg: "replicas, gateway-api"},
		{name: "gateway-api without a route", in: map[string]string{config.InStrategy: "canary", config.InTrafficRouter: "gateway-api"}, badInput: config.InHTTPRoute, wantMsg: "required"},
		{name: "a route that is no name", in: map[string]string{config.InStrategy: "canary", config.InTrafficRouter: "gateway-api", config.InHTTPRoute: "Web_Route"}, badInput: config.InHTTPRoute, wantMsg: "object name"},
		{name: "gateway-api with rolling", in: map[string]string{config.InTrafficRouter: "gateway-api", config.InHTTPRoute: "web"}, badInput: config.InTrafficRouter, wantMsg: "rolling"},
		{name: "gateway-api with blue-green", in: map[string]string{config.InStrategy: "blue-green", config.InTrafficRouter: "gateway-api", config.InHTTPRoute: "web", config.InPreviewHeader: "X-Preview: 1"}},
		{name: "canary replicas with blue-green", in: map[string]string{config.InStrategy: "blue-green", config.InTrafficRouter: "gateway-api", config.InHTTPRoute: "web", config.InCanaryReplicas: "2"}, badInput: config.InCanaryReplicas, wantMsg: "blue-green"},
		{name: "a route without gateway-api", in: map[string]string{config.InHTTPRoute: "web"}, badInput: config.InHTTPRoute, wantMsg: "only with traffic_router: gateway-api"},
		{name: "a preview header without a value", in: map[string]string{config.InStrategy: "canary", config.InTrafficRouter: "gateway-api", config.InHTTPRoute: "web", config.InPreviewHeader: "X-Canary"}, badInput: config.InPreviewHeader, wantMsg: "NAME: VALUE"},
		{name: "canary replicas negative", in: map[string]string{config.InStrategy: "canary", config.InTrafficRouter: "gateway-api", config.InHTTPRoute: "web", config.InCanaryReplicas: "-1"}, badInput: config.InCanaryReplicas, wantMsg: "negative"},

		// blue-green
		{name: "blue-green with every input", in: map[string]string{config.InStrategy: "blue-green", config.InAutoPromote: "false",
			config.InGrace: "90s", config.InSmokePaths: "/api/health\n\n  /api/hello  \n", config.InSmokeTime: "10", config.InPreviewURL: "https://preview.example.com"},
			check: func(t *testing.T, c config.Config) {
				if c.Strategy != config.StrategyBlueGreen || c.AutoPromote || c.GracePeriod != 90*time.Second || c.SmokeTimeout != 10*time.Second ||
					strings.Join(c.SmokePaths, ",") != "/api/health,/api/hello" || c.PreviewURL != "https://preview.example.com" {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "grace_period soon", in: map[string]string{config.InGrace: "soon"}, badInput: config.InGrace, wantMsg: `"soon" is not a duration`},
		{name: "grace_period negative", in: map[string]string{config.InGrace: "-1s"}, badInput: config.InGrace, wantMsg: "negative"},
		{name: "grace_period zero", in: map[string]string{config.InGrace: "0"}},
		{name: "smoke_timeout zero", in: map[string]string{config.InSmokeTime: "0s"}, badInput: config.InSmokeTime, wantMsg: "positive"},
		{name: "smoke_paths relative", in: map[string]string{config.InSmokePaths: "api/health"}, badInput: config.InSmokePaths, wantMsg: "starting with /"},
		{name: "auto_promote maybe", in: map[string]string{config.InAutoPromote: "maybe"}, badInput: config.InAutoPromote, wantMsg: "true or false"},
		{name: "preview_url not http", in: map[string]string{config.InPreviewURL: "ftp://x"}, badInput: config.InPreviewURL, wantMsg: "http(s)"},
		{name: "mode promote needs no chart", in: map[string]string{config.InMode: "promote", config.InChart: ""}},
		{name: "mode abort needs no chart", in: map[string]string{config.InMode: "abort", config.InChart: ""}},
		{name: "dry_run with rollback", in: map[string]string{config.InMode: "rollback", config.InDryRun: "true"}, badInput: config.InDryRun, wantMsg: "mode deploy"},

		// release
		{name: "release missing", in: map[string]string{config.InRelease: ""}, badInput: config.InRelease, wantMsg: "required"},
		{name: "release blank", in: map[string]string{config.InRelease: "   "}, badInput: config.InRelease, wantMsg: "required"},
		{name: "release 53 chars", in: map[string]string{config.InRelease: long(53)}},
		{name: "release 54 chars", in: map[string]string{config.InRelease: long(54)}, badInput: config.InRelease, wantMsg: "53"},
		{name: "release uppercase", in: map[string]string{config.InRelease: "Web"}, badInput: config.InRelease, wantMsg: `"Web"`},
		{name: "release underscore", in: map[string]string{config.InRelease: "my_web"}, badInput: config.InRelease},
		{name: "release leading dash", in: map[string]string{config.InRelease: "-web"}, badInput: config.InRelease},

		// namespace
		{name: "namespace default", in: map[string]string{config.InNamespace: ""},
			check: func(t *testing.T, c config.Config) {
				if c.Namespace != "default" {
					t.Errorf("Namespace = %q, want default", c.Namespace)
				}
			}},
		{name: "namespace valid", in: map[string]string{config.InNamespace: "team-a"}},
		{name: "namespace uppercase", in: map[string]string{config.InNamespace: "Prod"}, badInput: config.InNamespace, wantMsg: `"Prod"`},
		{name: "namespace underscore", in: map[string]string{config.InNamespace: "my_ns"}, badInput: config.InNamespace},
		{name: "namespace 64 chars", in: map[string]string{config.InNamespace: long(64)}, badInput: config.InNamespace},

		// chart
		{name: "chart missing for deploy", in: map[string]string{config.InChart: ""}, badInput: config.InChart, wantMsg: "required"},
		{name: "chart a URL", in: map[string]string{config.InChart: "https://charts.example.com/web-1.0.0.tgz"}, badInput: config.InChart, wantMsg: "chart_repository"},
		{name: "chart from OCI with a range", in: map[string]string{config.InChart: "oci://ghcr.io/acme/charts/web", config.InChartVersion: "~1.4"},
			check: func(t *testing.T, c config.Config) {
				if c.Source.Version != "~1.4" || c.Source.Password != "" {
					t.Errorf("Source = %+v", c.Source)
				}
			}},
		{name: "chart_version not a range", in: map[string]string{config.InChartVersion: "latest"}, badInput: config.InChartVersion, wantMsg: "~1.4"},
		{name: "chart_digest not a digest", in: map[string]string{config.InChartDigest: "sha256:XYZ"}, badInput: config.InChartDigest, wantMsg: "64 lowercase hex"},
		{name: "chart_repository not a URL", in: map[string]string{config.InChartRepo: "charts.example.com", config.InChart: "web"}, badInput: config.InChartRepo, wantMsg: "http(s) URL"},
		{name: "chart_repository with an OCI chart", in: map[string]string{config.InChartRepo: "https://c.example.com", config.InChart: "oci://r/x/web"},
			badInput: config.InChartRepo, wantMsg: "classic Helm repositories"},
		{name: "chart_repository's password never quoted", in: map[string]string{config.InChartRepo: "ftp://u:hunter22@c.example.com", config.InChart: "web"},
			badInput: config.InChartRepo, wantMsg: "ftp://c.example.com"},
		{name: "keyless", in: map[string]string{config.InKubeconfig: "", config.InClusterURL: "https://k8s.example.com:6443/", config.InClusterCA: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQVRBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUURFeGh6YUdWd2FHVnkKWkMxMFpYTjBZMngxYzNSbGNpMWpZVEFlRncweU5qQXhNREV3TURBd01EQmFGdzB6TmpBeE1ERXdNREF3TURCYQpNQ014SVRBZkJnTlZCQU1UR0hOb1pYQm9aWEprTFhSbGMzUmpiSFZ6ZEdWeUxXTmhNRmt3RXdZSEtvWkl6ajBDCkFRWUlLb1pJemowREFRY0RRZ0FFCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"},
			check: func(t *testing.T, c config.Config) {
				if c.Keyless.URL != "https://k8s.example.com:6443" || c.Keyless.Audience != c.Keyless.URL || len(c.Keyless.CA) == 0 {
					t.Errorf("Keyless = %+v", c.Keyless)
				}
			}},
		{name: "keyless over http", in: map[string]string{config.InKubeconfig: "", config.InClusterURL: "http://k8s.example.com"}, badInput: config.InClusterURL, wantMsg: "https"},
		{name: "keyless and a kubeconfig", in: map[string]string{config.InClusterURL: "https://k8s.example.com",
			config.InKubeconfig: "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"}, badInput: config.InClusterURL, wantMsg: "not both"},
		{name: "cluster_ca not a certificate", in: map[string]string{config.InKubeconfig: "", config.InClusterURL: "https://k", config.InClusterCA: "hello"}, badInput: config.InClusterCA, wantMsg: "PEM"},
		{name: "prometheus token and headers", in: map[string]string{config.InPrometheus: "https://prom.example.com", config.InPromToken: "glc_x",
			config.InPromHeaders: "X-Scope-OrgID: tenant-1\nAuthorization: Basic YWJj"},
			check: func(t *testing.T, c config.Config) {
				if c.PrometheusAuth.Token != "glc_x" || c.PrometheusAuth.Headers["X-Scope-OrgID"] != "tenant-1" {
					t.Errorf("PrometheusAuth = %+v", c.PrometheusAuth)
				}
				s := c.SecretValues()
				if !slices.Contains(s, "glc_x") || !slices.Contains(s, "Basic YWJj") || !slices.Contains(s, "YWJj") || slices.Contains(s, "tenant-1") {
					t.Errorf("secrets %q: the token and the Authorization value, not the tenant", s)
				}
			}},
		{name: "prometheus header not a header", in: map[string]string{config.InPrometheus: "https://p", config.InPromHeaders: "X-Scope-OrgID tenant-1"},
			badInput: config.InPromHeaders, wantMsg: "Name: value"},
		{name: "prometheus token and user:password@", in: map[string]string{config.InPrometheus: "https://u:p@p", config.InPromToken: "t"},
			badInput: config.InPromToken, wantMsg: "not both"},
		{name: "max_interval below interval", in: map[string]string{config.InStrategy: "canary", config.InInterval: "5m", config.InMaxInterval: "1m"},
			badInput: config.InMaxInterval, wantMsg: "at least interval"},
		{name: "max_interval defaults to twice interval", in: map[string]string{config.InStrategy: "canary", config.InInterval: "90s"},
			check: func(t *testing.T, c config.Config) {
				if c.StageLimit() != 3*time.Minute {
					t.Errorf("StageLimit = %s, want 3m", c.StageLimit())
				}
			}},
		{name: "registry user without password", in: map[string]string{config.InRegistryUser: "ci"}, badInput: config.InRegistryUser, wantMsg: "both or neither"},
		{name: "ghcr.io takes the job's token", in: map[string]string{config.InChart: "oci://ghcr.io/acme/charts/web", config.InGitHubToken: "ghs_abc"},
			check: func(t *testing.T, c config.Config) {
				if c.Source.Username != config.GHCRUser || c.Source.Password != "ghs_abc" {
					t.Errorf("Source = %+v", c.Source)
				}
				if !slices.Contains(c.SecretValues(), "ghs_abc") {
					t.Errorf("the registry password is not among the secrets")
				}
			}},
		{name: "other registries do not", in: map[string]string{config.InChart: "oci://registry.example.com/charts/web", config.InGitHubToken: "ghs_abc"},
			check: func(t *testing.T, c config.Config) {
				if c.Source.Password != "" {
					t.Errorf("the job's token goes to another registry: %+v", c.Source)
				}
			}},

		// set
		{name: "set a=b", in: map[string]string{config.InSet: "a=b"},
			check: func(t *testing.T, c config.Config) {
				if !reflect.DeepEqual(c.Set, []string{"a=b"}) {
					t.Errorf("Set = %q", c.Set)
				}
			}},
		{name: "set indexed path", in: map[string]string{config.InSet: "a.b[0]=c"}},
		{name: "set several lines", in: map[string]string{config.InSet: "a=b\n\nc.d=e\n"},
			check: func(t *testing.T, c config.Config) {
				if !reflect.DeepEqual(c.Set, []string{"a=b", "c.d=e"}) {
					t.Errorf("Set = %q", c.Set)
				}
			}},
		{name: "set no value", in: map[string]string{config.InSet: "novalue"}, badInput: config.InSet, wantMsg: `line 1: missing key=value`},
		{name: "set no key", in: map[string]string{config.InSet: "=x"}, badInput: config.InSet, wantMsg: `line 1: missing key=value`},
		{name: "set one bad line among good ones", in: map[string]string{config.InSet: "a=b\nnovalue\nc=d"},
			badInput: config.InSet, wantMsg: `line 2: missing key=value`},
		{name: "set bad syntax names the key", in: map[string]string{config.InSet: "a=b\ndb.password=hunter,s3cret"},
			badInput: config.InSet, wantMsg: `line 2 (key db.password): not Helm --set syntax`},

		// image_tag
		{name: "image tag semver", in: map[string]string{config.InImageTag: "1.2.3"}},
		{name: "image tag underscores and dashes", in: map[string]string{config.InImageTag: "v1_rc-2"}},
		{name: "image tag sha", in: map[string]string{config.InImageTag: "sha-abc"}},
		{name: "image tag 128 chars", in: map[string]string{config.InImageTag: long(128)}},
		{name: "image tag with space", in: map[string]string{config.InImageTag: "1.2 3"}, badInput: config.InImageTag},
		{name: "image tag with leading space", in: map[string]string{config.InImageTag: " v1"}, badInput: config.InImageTag},
		{name: "image tag with semicolon", in: map[string]string{config.InImageTag: "v1;rm"}, badInput: config.InImageTag},
		{name: "image tag with command substitution", in: map[string]string{config.InImageTag: "$(id)"}, badInput: config.InImageTag},
		{name: "image tag with backticks", in: map[string]string{config.InImageTag: "`id`"}, badInput: config.InImageTag},
		{name: "image tag 129 chars", in: map[string]string{config.InImageTag: long(129)}, badInput: config.InImageTag},
		{name: "image tag starting with a dot", in: map[string]string{config.InImageTag: ".v1"}, badInput: config.InImageTag},

		// image_tag_key
		{name: "image tag key nested with index", in: map[string]string{config.InImageTagKey: "app.images[0].tag"}},
		{name: "image tag key with space", in: map[string]string{config.InImageTagKey: "image tag"}, badInput: config.InImageTagKey},
		{name: "image tag key empty segment", in: map[string]string{config.InImageTagKey: "image..tag"}, badInput: config.InImageTagKey},
		{name: "image tag key with assignment", in: map[string]string{config.InImageTagKey: "image.tag=x"}, badInput: config.InImageTagKey},

		// kubeconfig
		{name: "kubeconfig minimal", in: map[string]string{config.InKubeconfig: minimalKubeconfig}},
		{name: "kubeconfig garbage", in: map[string]string{config.InKubeconfig: "garbage"}, badInput: config.InKubeconfig},
		{name: "kubeconfig a path", in: map[string]string{config.InKubeconfig: "/home/me/.kube/config"}, badInput: config.InKubeconfig},
		{name: "kubeconfig broken yaml", in: map[string]string{config.InKubeconfig: "clusters: [oops"}, badInput: config.InKubeconfig},

		// timeout
		{name: "timeout bare seconds", in: map[string]string{config.InTimeout: "300"},
			check: func(t *testing.T, c config.Config) {
				if c.Timeout != 300*time.Second {
					t.Errorf("Timeout = %s", c.Timeout)
				}
			}},
		{name: "timeout 90s", in: map[string]string{config.InTimeout: "90s"},
			check: func(t *testing.T, c config.Config) {
				if c.Timeout != 90*time.Second {
					t.Errorf("Timeout = %s", c.Timeout)
				}
			}},
		{name: "timeout 5m", in: map[string]string{config.InTimeout: "5m"},
			check: func(t *testing.T, c config.Config) {
				if c.Timeout != 5*time.Minute {
					t.Errorf("Timeout = %s", c.Timeout)
				}
			}},
		{name: "timeout negative", in: map[string]string{config.InTimeout: "-5s"}, badInput: config.InTimeout, wantMsg: "positive"},
		{name: "timeout zero", in: map[string]string{config.InTimeout: "0"}, badInput: config.InTimeout, wantMsg: "positive"},
		{name: "timeout words", in: map[string]string{config.InTimeout: "soon"}, badInput: config.InTimeout, wantMsg: `"soon"`},

		// dry_run
		{name: "dry run true", in: map[string]string{config.InDryRun: "true"},
			check: func(t *testing.T, c config.Config) {
				if !c.DryRun {
					t.Error("DryRun = false")
				}
			}},
		{name: "dry run false", in: map[string]string{config.InDryRun: "false"},
			check: func(t *testing.T, c config.Config) {
				if c.DryRun {
					t.Error("DryRun = true")
				}
			}},
		{name: "dry run yes", in: map[string]string{config.InDryRun: "yes"}, badInput: config.InDryRun, wantMsg: `"yes"`},

		// health_url
		{name: "health url http", in: map[string]string{config.InHealthURL: "http://web.prod.svc/healthz"}},
		{name: "health url https", in: map[string]string{config.InHealthURL: "https://example.com/healthz"}},
		{name: "health url ftp", in: map[string]string{config.InHealthURL: "ftp://x"}, badInput: config.InHealthURL, wantMsg: `"ftp://x"`},
		{name: "health url not a url", in: map[string]string{config.InHealthURL: "not a url"}, badInput: config.InHealthURL},
		{name: "health url without host", in: map[string]string{config.InHealthURL: "http://"}, badInput: config.InHealthURL},

		// rollback inputs
		{name: "revision for rollback", in: map[string]string{config.InMode: "rollback", config.InRevision: "3"},
			check: func(t *testing.T, c config.Config) {
				if c.Revision != 3 {
					t.Errorf("Revision = %d", c.Revision)
				}
			}},
		{name: "revision not a number", in: map[string]string{config.InMode: "rollback", config.InRevision: "three"}, badInput: config.InRevision},
		{name: "revision negative", in: map[string]string{config.InMode: "rollback", config.InRevision: "-1"}, badInput: config.InRevision},
		{name: "revision with mode deploy", in: map[string]string{config.InRevision: "3"}, badInput: config.InRevision, wantMsg: "rollback"},
		{name: "max cascade too large", in: map[string]string{config.InMaxCascade: "11"}, badInput: config.InMaxCascade},
		{name: "max cascade not a number", in: map[string]string{config.InMaxCascade: "many"}, badInput: config.InMaxCascade},
		{name: "verify duration negative", in: map[string]string{config.InVerify: "-1s"}, badInput: config.InVerify},
		{name: "lock timeout words", in: map[string]string{config.InLockTimeout: "later"}, badInput: config.InLockTimeout},
		{name: "reason too long", in: map[string]string{config.InReason: long(501)}, badInput: config.InReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.FromInputs(getter(valid, tt.in))
			if tt.badInput == "" {
				if err != nil {
					t.Fatalf("FromInputs: unexpected error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			problems := leaves(err)
			if len(problems) != 1 {
				t.Fatalf("FromInputs: got %d problems, want 1 naming %q: %v", len(problems), tt.badInput, err)
			}
			msg := problems[0].Error()
			if !strings.HasPrefix(msg, tt.badInput+": ") {
				t.Errorf("error %q does not start with the input name %q", msg, tt.badInput)
			}
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not contain %q", msg, tt.wantMsg)
			}
		})
	}
}

// An invalid kubeconfig is a secret: its content must not be echoed in the error.
func TestFromInputsKubeconfigErrorHidesContent(t *testing.T) {
	const secret = "s3cr3t-token-value"
	_, err := config.FromInputs(getter(valid, map[string]string{config.InKubeconfig: "token: [" + secret}))
	if err == nil {
		t.Fatal("FromInputs accepted a broken kubeconfig")
	}
	if !strings.Contains(err.Error(), config.InKubeconfig) {
		t.Errorf("error %q does not name %q", err, config.InKubeconfig)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q leaks the kubeconfig content", err)
	}
}

func TestFromInputsReportsEveryProblem(t *testing.T) {
	bad := map[string]string{
		config.InStrategy:  "yolo",
		config.InRelease:   "Bad_Name",
		config.InSet:       "novalue",
		config.InImageTag:  "$(id)",
		config.InTimeout:   "soon",
		config.InDryRun:    "yes",
		config.InHealthURL: "ftp://x",
	}
	_, err := config.FromInputs(getter(valid, bad))
	if err == nil {
		t.Fatal("FromInputs: no error")
	}
	problems := leaves(err)
	if len(problems) != len(bad) {
		t.Errorf("got %d problems, want %d: %v", len(problems), len(bad), err)
	}
	for name := range bad {
		n := 0
		for _, p := range problems {
			if strings.HasPrefix(p.Error(), name+": ") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d problems name %q, want 1; all: %v", n, name, err)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := func() config.Config {
		c := config.Default()
		c.Release, c.Chart = "web", "./chart"
		return c
	}
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   []string // input names the problems start with, in order; nil: valid
	}{
		{name: "valid", change: func(*config.Config) {}},
		{name: "defaults alone lack release and chart", change: func(c *config.Config) { *c = config.Default() },
			want: []string{config.InRelease, config.InChart}},
		{name: "zero timeout", change: func(c *config.Config) { c.Timeout = 0 }, want: []string{config.InTimeout}},
		{name: "negative timeout", change: func(c *config.Config) { c.Timeout = -time.Second }, want: []string{config.InTimeout}},
		{name: "empty image tag key", change: func(c *config.Config) { c.ImageTagKey = "" }, want: []string{config.InImageTagKey}},
		{name: "empty namespace", change: func(c *config.Config) { c.Namespace = "" }, want: []string{config.InNamespace}},
		{name: "empty mode", change: func(c *config.Config) { c.Mode = "" }, want: []string{config.InMode}},
		{name: "empty image tag is fine", change: func(c *config.Config) { c.ImageTag = "" }},
		{name: "many at once", change: func(c *config.Config) {
			c.Mode, c.Strategy, c.Release, c.ImageTag, c.HealthURL = "nope", "canary-ish", "UPPER", "a b", "mailto:x@y"
		}, want: []string{config.InMode, config.InStrategy, config.InRelease, config.InImageTag, config.InHealthURL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.change(&c)
			problems := leaves(c.Validate())
			if len(problems) != len(tt.want) {
				t.Fatalf("Validate: got %d problems, want %d (%q): %v", len(problems), len(tt.want), tt.want, errors.Join(problems...))
			}
			for i, p := range problems {
				if !strings.HasPrefix(p.Error(), tt.want[i]+": ") {
					t.Errorf("problem %d = %q, want it to name %q", i, p, tt.want[i])
				}
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "300", want: 300 * time.Second},
		{in: "0", want: 0},
		{in: "-30", want: -30 * time.Second},
		{in: "90s", want: 90 * time.Second},
		{in: "5m", want: 5 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "1.5s", want: 1500 * time.Millisecond},
		{in: "-5s", want: -5 * time.Second},
		{in: "soon", wantErr: true},
		{in: "", wantErr: true},
		{in: "5 m", wantErr: true},
		{in: "10x", wantErr: true},
	}
	for _, tt := range tests {
		got, err := config.ParseDuration(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseDuration(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && got != tt.want {
			t.Errorf("ParseDuration(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
