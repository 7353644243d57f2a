package config_test

import (
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/config"
)

// Credentials go to one host the inputs name, never in clear text: each refusal names the
// input, and no message quotes the password.
func TestChartSourceCredentialsScope(t *testing.T) {
	const pw = "pw-Zq81x"
	creds := map[string]string{config.InRegistryUser: "ci", config.InRegistryPass: pw}
	with := func(m map[string]string, more map[string]string) map[string]string {
		out := map[string]string{}
		for _, src := range []map[string]string{m, more} {
			for k, v := range src {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		in       map[string]string
		badInput string
		want     string
	}{
		{"http repository with registry credentials", with(creds, map[string]string{config.InChart: "web", config.InChartRepo: "http://charts.example.com/stable"}),
			config.InChartRepo, "plain HTTP"},
		{"http repository with user info", map[string]string{config.InChart: "web", config.InChartRepo: "http://ci:" + pw + "@charts.example.com/stable"},
			config.InChartRepo, "clear text"},
		{"http repository for a local chart's dependencies", with(creds, map[string]string{config.InChartRepo: "http://charts.example.com"}),
			config.InChartRepo, "plain HTTP"},
		{"credentials twice", with(creds, map[string]string{config.InChart: "web", config.InChartRepo: "https://ci:" + pw + "@charts.example.com"}),
			config.InChartRepo, "give them once"},
		{"an oci repository for a chart name", map[string]string{config.InChart: "web", config.InChartRepo: "oci://r.example.com/charts"},
			config.InChartRepo, "oci://r.example.com/PATH/web"},
		{"an oci repository with user info", map[string]string{config.InChartRepo: "oci://ci:" + pw + "@r.example.com"},
			config.InChartRepo, "not in the URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.FromInputs(getter(valid, tc.in))
			problems := leaves(err)
			if len(problems) != 1 {
				t.Fatalf("got %d problems, want 1 naming %s: %v", len(problems), tc.badInput, err)
			}
			msg := problems[0].Error()
			if !strings.HasPrefix(msg, tc.badInput+": ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want it to start with %s: and say %q", msg, tc.badInput, tc.want)
			}
			if strings.Contains(msg, pw) {
				t.Errorf("the error quotes the password: %q", msg)
			}
		})
	}
	for name, in := range map[string]map[string]string{
		"https repository":                           with(creds, map[string]string{config.InChart: "web", config.InChartRepo: "https://charts.example.com"}),
		"user info in an https repository":           {config.InChart: "web", config.InChartRepo: "https://ci:" + pw + "@charts.example.com"},
		"an oci chart":                               with(creds, map[string]string{config.InChart: "oci://r.example.com/charts/web"}),
		"a local chart's dependencies on a registry": with(creds, map[string]string{config.InChartRepo: "oci://r.example.com"}),
		"http repository without credentials":        {config.InChart: "web", config.InChartRepo: "http://charts.example.com"},
		"a local chart (its dependencies' registry)": creds,
	} {
		if _, err := config.FromInputs(getter(valid, in)); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}
