package testcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/shepherd-deploy/shepherd/kube"
)

// SetContainerLogs makes kwok serve these lines as the logs of every container of every pod in
// namespace: current for `logs`, previous for `logs --previous` (what a crash-looping
// container printed before it died). kwok reads files in CRI log format; this writes them.
func (c *Cluster) SetContainerLogs(ctx context.Context, namespace string, current, previous []string) error {
	dir := filepath.Join(c.Dir, "podlogs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string][]string{"current": current, "previous": previous}
	paths := map[string]string{}
	for kind, lines := range files {
		p := filepath.Join(dir, namespace+"-"+kind+".log")
		if err := os.WriteFile(p, []byte(criLog(lines)), 0o644); err != nil {
			return err
		}
		paths[kind] = p
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "ClusterLogs",
		"metadata":   map[string]any{"name": "logs-" + namespace},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{namespace}},
			"logs": []any{map[string]any{
				"logsFile":         paths["current"],
				"previousLogsFile": paths["previous"],
				"follow":           false,
			}},
		},
	}}
	if err := c.createOrReplace(ctx, ClusterLogsGVR, "", obj); err != nil {
		return err
	}
	// kwok takes the object in asynchronously; its kubelet API matches log rules by namespace,
	// so ask it (for any pod name) until it serves these lines.
	want, query := current, ""
	if len(previous) > 0 {
		want, query = previous, "?previous=true"
	}
	if len(want) == 0 {
		return nil
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/containerLogs/%s/probe/app%s", c.ports["kwok"], namespace, query)
	lastPoke := time.Now()
	return c.waitFor(ctx, time.Minute, "kwok serving the logs of "+namespace, func(ctx context.Context) error {
		body, err := httpGet(ctx, url)
		if err == nil && strings.Contains(body, want[len(want)-1]) {
			return nil
		}
		if time.Since(lastPoke) > 2*time.Second {
			lastPoke = time.Now()
			_ = c.pokeKwok(ctx, ClusterLogsGVR, "", obj.GetName())
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("not yet: %q", body)
	})
}

// pokeKwok bumps an annotation of one of kwok's rule objects. kwok caches its rules under
// the informer's last resource version, which the reflector sets before the object reaches
// the store it reads: a rule created at that moment can stay unseen until the next change to
// any rule of its kind. A poke is that change.
func (c *Cluster) pokeKwok(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"shepherd.io/poke":%q}}}`, time.Now().Format(time.RFC3339Nano))
	_, err := c.Dynamic.Resource(gvr).Namespace(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// criLog renders lines in the CRI container log format kwok requires.
func criLog(lines []string) string {
	var b strings.Builder
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, l := range lines {
		fmt.Fprintf(&b, "%s stderr F %s\n", ts.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), l)
	}
	return b.String()
}

// ForwardPorts makes a port-forward to port of any pod in namespace reach address:targetPort
// on this machine (e.g. a test HTTP server standing in for the pod's container).
func (c *Cluster) ForwardPorts(ctx context.Context, namespace string, port int32, address string, targetPort int32) error {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "ClusterPortForward",
		"metadata":   map[string]any{"name": fmt.Sprintf("pf-%s-%d", namespace, port)},
		"spec": map[string]any{
			"selector": map[string]any{"matchNamespaces": []any{namespace}},
			"forwards": []any{map[string]any{
				"ports":  []any{int64(port)},
				"target": map[string]any{"port": int64(targetPort), "address": address},
			}},
		},
	}}
	if err := c.createOrReplace(ctx, ClusterPortForwardGVR, "", obj); err != nil {
		return err
	}
	go func() { // kwok may cache its rules from just before this one landed (pokeKwok)
		time.Sleep(time.Second)
		pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.pokeKwok(pctx, ClusterPortForwardGVR, "", obj.GetName())
	}()
	return nil
}

// PortForward forwards a free local port to the pod's port through the API server, as
// `kubectl port-forward pod/x PORT` does, until ctx ends. It returns the local port once the
// forward is ready.
func (c *Cluster) PortForward(ctx context.Context, ns, pod string, port int) (int, error) {
	return kube.PortForward(ctx, c.Config, c.Client, ns, pod, port)
}
