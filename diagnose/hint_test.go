package diagnose

import (
	"strings"
	"testing"
)

func TestHint(t *testing.T) {
	tests := []struct {
		name string
		s    Signal
		want string
	}{
		{"image tag not found", Signal{Category: ImagePull, Reason: "ErrImagePull",
			Message: `failed to pull and unpack image "docker.io/library/x:bad": not found`}, hintImageNotFound},
		{"image manifest unknown", Signal{Category: ImagePull, Message: "manifest unknown: manifest unknown"}, hintImageNotFound},
		{"kwok not found", Signal{Category: ImagePull, Reason: "Failed", Message: "Failed to pull image: not found (simulated by kwok)"}, hintImageNotFound},
		{"registry unauthorized", Signal{Category: ImagePull, Message: "unauthorized: authentication required"}, hintImageAuth},
		{"registry denied", Signal{Category: ImagePull, Message: "pull access denied for private/x"}, hintImageAuth},
		{"invalid image name", Signal{Category: ImagePull, Reason: "InvalidImageName", Message: `Failed to apply default image tag "X:1"`}, hintImageInvalid},
		{"generic back-off", Signal{Category: ImagePull, Reason: "ImagePullBackOff", Message: `Back-off pulling image "x:bad-image"`}, hintImageGeneric},
		{"OOMKilled reason", Signal{Category: CrashLoop, Reason: "OOMKilled"}, hintOOM},
		{"OOMKilled in message", Signal{Category: CrashLoop, Reason: "CrashLoopBackOff", Message: "last state: OOMKilled"}, hintOOM},
		{"crash loop", Signal{Category: CrashLoop, Reason: "CrashLoopBackOff", Message: "back-off 10s restarting failed container=app"}, hintCrash},
		{"missing configmap", Signal{Category: Config, Reason: "CreateContainerConfigError", Message: `configmap "app-config" not found`},
			`A ConfigMap or Secret (or a key in one) that the pod references does not exist (ConfigMap "app-config"): create it or fix the reference.`},
		{"missing secret", Signal{Category: Config, Reason: "CreateContainerConfigError", Message: `secret "db-creds" not found`},
			`A ConfigMap or Secret (or a key in one) that the pod references does not exist (Secret "db-creds"): create it or fix the reference.`},
		{"missing secret key", Signal{Category: Config, Reason: "CreateContainerConfigError", Message: "couldn't find key PASSWORD in Secret ns/db-creds"},
			`A ConfigMap or Secret (or a key in one) that the pod references does not exist (key "PASSWORD" in Secret "db-creds"): create it or fix the reference.`},
		{"missing configmap key", Signal{Category: Config, Reason: "CreateContainerConfigError", Message: "couldn't find key mode in ConfigMap app"},
			`A ConfigMap or Secret (or a key in one) that the pod references does not exist (key "mode" in ConfigMap "app"): create it or fix the reference.`},
		{"config error without a name", Signal{Category: Config, Reason: "CreateContainerConfigError", Message: "something else"}, hintConfig},
		{"create container error", Signal{Category: Config, Reason: "CreateContainerError", Message: "failed to create containerd container"}, hintCreateContainer},
		{"probe", Signal{Category: Probe, Reason: "Unhealthy"}, hintProbe},
		{"quota", Signal{Category: Capacity, Reason: "FailedCreate", Message: `pods "x" is forbidden: exceeded quota: compute`}, hintQuota},
		{"pod security", Signal{Category: Capacity, Reason: "FailedCreate", Message: `pods "x" is forbidden: violates PodSecurity "restricted:latest"`}, hintPodSecurity},
		{"other admission", Signal{Category: Capacity, Reason: "FailedCreate", Message: `pods "x" is forbidden: denied by policy`}, hintForbidden},
		{"insufficient cpu", Signal{Category: Capacity, Reason: "FailedScheduling", Message: "0/1 nodes are available: 1 Insufficient cpu."}, hintInsufficient},
		{"insufficient memory beats control-plane taint", Signal{Category: Capacity, Message: "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory."}, hintInsufficient},
		{"taints", Signal{Category: Capacity, Message: "0/2 nodes are available: 2 node(s) had untolerated taint {dedicated: gpu}."}, hintTaint},
		{"affinity", Signal{Category: Capacity, Message: "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."}, hintAffinity},
		{"unbound pvc", Signal{Category: Capacity, Message: "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."}, hintVolume},
		{"capacity otherwise", Signal{Category: Capacity, Message: "something odd"}, hintCapacityGeneric},
		{"deadline", Signal{Category: Deadline, Reason: "ProgressDeadlineExceeded"}, hintDeadline},
		{"health check", Signal{Category: HealthCheck, Message: "GET /healthz: 503"}, hintHealthCheck},
		{"unknown category", Signal{Category: "other"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Hint(tt.s); got != tt.want {
				t.Fatalf("Hint() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestHintRunbookWording pins the runbook's sentences, which users see verbatim.
func TestHintRunbookWording(t *testing.T) {
	for got, want := range map[string]string{
		hintImageNotFound: "The image tag does not exist in the registry: check image_tag and that the build pushed it.",
		hintImageAuth:     "The registry refused the pull: the imagePullSecret is missing, wrong or expired.",
		hintOOM:           "The container was killed for using more memory than its limit: raise resources.limits.memory or fix the leak.",
		hintCrash:         "The container exits right after starting: read its last log lines below (missing environment variable, bad config, failed dependency).",
		hintConfig:        "A ConfigMap or Secret (or a key in one) that the pod references does not exist: create it or fix the reference.",
		hintProbe:         "Pods start but never pass their readiness probe: check the probe path/port and initialDelaySeconds, and the app's own health endpoint.",
		hintQuota:         "A ResourceQuota blocks new pods: raise the quota or lower the requests.",
		hintInsufficient:  "No node has room for the pod's requests: lower resources.requests or add capacity.",
		hintDeadline:      "The rollout made no progress within progressDeadlineSeconds; the pods' own state above says why.",
		hintHealthCheck:   "The rollout completed but the health endpoint did not answer healthy.",
	} {
		if got != want {
			t.Errorf("hint = %q, want %q", got, want)
		}
	}
	if !strings.Contains(hintTaint, "toleration") {
		t.Errorf("taint hint %q does not mention tolerations", hintTaint)
	}
}

func TestBestHint(t *testing.T) {
	backOff := Signal{Category: ImagePull, Object: "Pod/web-1", Reason: "ImagePullBackOff", Message: `Back-off pulling image "x:1"`}
	crash := Signal{Category: CrashLoop, Object: "Pod/web-1", Reason: "CrashLoopBackOff", Message: "back-off 10s"}
	configErr := Signal{Category: Config, Object: "Pod/web-1", Reason: "CreateContainerConfigError", Message: "something"}
	tests := []struct {
		name     string
		primary  Signal
		messages []string
		want     string
	}{
		{"no evidence", backOff, nil, hintImageGeneric},
		{"event says not found", backOff, []string{"", "Back-off pulling image", "Failed to pull image: not found (simulated by kwok)"}, hintImageNotFound},
		{"first specific message wins", backOff, []string{"unauthorized: authentication required", "manifest unknown"}, hintImageAuth},
		{"specific primary is kept", Signal{Category: ImagePull, Reason: "ErrImagePull", Message: "unauthorized"}, []string{"not found"}, hintImageAuth},
		{"crash loop refined by an OOMKilled last state", crash, []string{"exit 1 (Error)", "OOMKilled"}, hintOOM},
		{"crash loop without OOM", crash, []string{"exit 1 (Error)"}, hintCrash},
		{"config named by an event", configErr, []string{`Error: secret "db" not found`},
			`A ConfigMap or Secret (or a key in one) that the pod references does not exist (Secret "db"): create it or fix the reference.`},
		{"category is never changed", backOff, []string{"OOMKilled", "exceeded quota"}, hintImageGeneric},
		{"fixed hints are not refined", Signal{Category: Deadline}, []string{"Insufficient cpu"}, hintDeadline},
		{"capacity refined", Signal{Category: Capacity, Message: "odd"}, []string{"0/1 nodes are available: 1 Insufficient memory."}, hintInsufficient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bestHint(tt.primary, tt.messages); got != tt.want {
				t.Fatalf("bestHint() = %q, want %q", got, tt.want)
			}
		})
	}
}
