package config_test

import (
	"strings"
	"testing"

	"github.com/shepherd-deploy/shepherd/config"
)

func TestParseCloudEndpoints(t *testing.T) {
	e, err := config.ParseCloudEndpoints("https://sts.internal.example:8443/\n https://login.example , https://x.example")
	if err != nil || strings.Join(e, " ") != "https://sts.internal.example:8443 https://login.example https://x.example" {
		t.Errorf("%v %v", e, err)
	}
	for _, bad := range []string{"http://x.example", "https://u:hunter2@x.example", "https://x.example/v1/token", "x.example", "https://x.example?a=b"} {
		_, err := config.ParseCloudEndpoints(bad)
		if err == nil || !strings.Contains(err.Error(), config.InCloudEndpoints) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: %v, want a refusal naming %s without the password", bad, err, config.InCloudEndpoints)
		}
	}
	// Through the inputs: a refusal like any other input's, before anything else happens.
	_, err = config.FromInputs(func(name string) string {
		return map[string]string{config.InRelease: "web", config.InChart: "./chart", config.InCloudEndpoints: "http://sts.example"}[name]
	})
	if err == nil || !strings.Contains(err.Error(), config.InCloudEndpoints) {
		t.Errorf("FromInputs: %v", err)
	}
}
