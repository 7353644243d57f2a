package diagnose

import (
	"fmt"
	"regexp"
	"strings"
)

// The hints, from the team's runbook.
const (
	hintImageNotFound   = "The image tag does not exist in the registry: check image_tag and that the build pushed it."
	hintImageAuth       = "The registry refused the pull: the imagePullSecret is missing, wrong or expired."
	hintImageInvalid    = "The image reference is not valid: check the image repository and image_tag for typos."
	hintImageGeneric    = "The image could not be pulled: check the image name and tag, and that the cluster can reach the registry."
	hintOOM             = "The container was killed for using more memory than its limit: raise resources.limits.memory or fix the leak."
	hintCrash           = "The container exits right after starting: read its last log lines below (missing environment variable, bad config, failed dependency)."
	hintCrashNoLogs     = "The container exits right after starting, and its last log lines could not be read: run kubectl logs --previous on the pod (missing environment variable, bad config, failed dependency)."
	hintConfig          = "A ConfigMap or Secret (or a key in one) that the pod references does not exist: create it or fix the reference."
	hintConfigNamed     = "A ConfigMap or Secret (or a key in one) that the pod references does not exist (%s): create it or fix the reference."
	hintCreateContainer = "The container could not be created: check its command, volume mounts and securityContext against the message above."
	hintProbe           = "Pods start but never pass their readiness probe: check the probe path/port and initialDelaySeconds, and the app's own health endpoint."
	hintQuota           = "A ResourceQuota blocks new pods: raise the quota or lower the requests."
	hintPodSecurity     = "Pod Security admission rejects the pod: make its securityContext meet the namespace's pod-security level."
	hintForbidden       = "An admission policy rejected the pod: read the message above for the rule it broke."
	hintInsufficient    = "No node has room for the pod's requests: lower resources.requests or add capacity."
	hintTaint           = "No node accepts the pod because of node taints: add matching tolerations or schedule it onto untainted nodes."
	hintAffinity        = "No node matches the pod's nodeSelector or affinity: fix them or label nodes to match."
	hintVolume          = "A PersistentVolumeClaim the pod uses is not bound: check the claim, its StorageClass and provisioner."
	hintCapacityGeneric = "The pod cannot be created or placed on a node: read the scheduler's or controller's message above."
	hintDeadline        = "The rollout made no progress within progressDeadlineSeconds; the pods' own state above says why."
	hintHealthCheck     = "The rollout completed but the health endpoint did not answer healthy."
)

// The kubelet's messages for a missing ConfigMap/Secret and for a missing key in one.
var (
	configMissingRE = regexp.MustCompile(`(?i)\b(configmap|secret) "([^"]+)" not found`)
	configKeyRE     = regexp.MustCompile(`(?i)couldn't find key (\S+) in (configmap|secret) (\S+)`)
)

// Hint returns one actionable sentence for s, chosen by its category and refined by its
// reason and message, or "" for an unknown category.
func Hint(s Signal) string {
	has := messageHas(s.Message)
	switch s.Category {
	case ImagePull:
		return imagePullHint(s, has)
	case CrashLoop:
		if s.Reason == "OOMKilled" || has("oomkilled") {
			return hintOOM
		}
		return hintCrash
	case Config:
		if name := missingConfig(s.Message); name != "" {
			return fmt.Sprintf(hintConfigNamed, name)
		}
		if s.Reason == "CreateContainerError" {
			return hintCreateContainer
		}
		return hintConfig
	case Probe:
		return hintProbe
	case Capacity:
		return capacityHint(has)
	case Deadline:
		return hintDeadline
	case HealthCheck:
		return hintHealthCheck
	case Analysis:
		switch s.Reason {
		case "NoData":
			return hintNoData
		case "PrometheusError": // the reason's value, an output, stays
			return hintMetrics
		}
		return hintAnalysis
	}
	return ""
}

// messageHas is whether a signal's message contains any of some lower-case phrases.
func messageHas(message string) func(subs ...string) bool {
	msg := strings.ToLower(message)
	return func(subs ...string) bool {
		for _, sub := range subs {
			if strings.Contains(msg, sub) {
				return true
			}
		}
		return false
	}
}

// imagePullHint tells an image that is not there from one the cluster may not pull or cannot
// parse.
func imagePullHint(s Signal, has func(...string) bool) string {
	switch {
	case has("not found", "manifest unknown"):
		return hintImageNotFound
	case has("unauthorized", "denied"):
		return hintImageAuth
	case s.Reason == "InvalidImageName" || has("invalid reference format"):
		return hintImageInvalid
	}
	return hintImageGeneric
}

// capacityHint names what keeps the pods from being created or scheduled.
func capacityHint(has func(...string) bool) string {
	switch {
	case has("quota"):
		return hintQuota
	case has("podsecurity"):
		return hintPodSecurity
	case has("forbidden"):
		return hintForbidden
	case has("insufficient"):
		return hintInsufficient
	case has("taint"):
		return hintTaint
	case has("affinity", "node selector", "nodeselector"):
		return hintAffinity
	case has("persistentvolumeclaim"):
		return hintVolume
	}
	return hintCapacityGeneric
}

// Hints of a canary's metric analysis. They name no metrics provider: the provider's own
// error, in the message above, names it and the input to change.
const (
	hintAnalysis = "The canary's own metrics crossed the threshold while the stable track's did not: compare the two in the stage table, then read the canary's logs for the failing requests before releasing again."
	hintNoData   = "No data is not a pass: check that the metrics provider collects the canary's pods (their pod label), that the query names metrics the app exports, and that the stage got traffic (min_requests requests within interval)."
	hintMetrics  = "The metrics provider could not be asked: check that the address named above is reachable from the runner and that the query is valid for it; the canary was aborted rather than promoted blind."
)

// missingConfig extracts what is missing from a CreateContainerConfigError message:
// `Secret "db"` from `secret "db" not found`, or `key "PASSWORD" in Secret "db"` from
// `couldn't find key PASSWORD in Secret default/db`. It returns "" when the message names
// nothing it recognises.
func missingConfig(msg string) string {
	if m := configKeyRE.FindStringSubmatch(msg); m != nil {
		name := m[3]
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		return fmt.Sprintf("key %q in %s %q", m[1], kindName(m[2]), name)
	}
	if m := configMissingRE.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s %q", kindName(m[1]), m[2])
	}
	return ""
}

// kindName spells a ConfigMap/Secret kind as Kubernetes does, whatever case it came in.
func kindName(kind string) string {
	if strings.EqualFold(kind, "configmap") {
		return "ConfigMap"
	}
	return "Secret"
}

// refinable are the generic hints that a more specific message can improve on.
var refinable = map[string]bool{
	hintImageGeneric:    true,
	hintCrash:           true,
	hintConfig:          true,
	hintCreateContainer: true,
	hintCapacityGeneric: true,
}

// bestHint returns Hint(primary) or, when that is a generic hint, the first more specific hint
// that one of messages yields for the same category and reason. An ImagePullBackOff message
// never says why the pull fails, for example, but the pod's ErrImagePull state or its Failed
// event does.
func bestHint(primary Signal, messages []string) string {
	h := Hint(primary)
	if !refinable[h] {
		return h
	}
	for _, m := range messages {
		s := primary
		s.Message = m
		if better := Hint(s); better != h {
			return better
		}
	}
	return h
}
