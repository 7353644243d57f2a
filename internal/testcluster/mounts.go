package testcluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The data plane's pods read ConfigMaps as a kubelet gives them: env valueFrom at the
// container's start, and volumes as files that change in place when the ConfigMap does (within
// a second here; a kubelet takes up to its sync period). A pod's env values that name a path
// under a ConfigMap volume's mountPath are pointed at the local directory that stands for it.

// mount is one ConfigMap volume of a container: its mountPath and the local directory.
type mount struct {
	path, dir, configMap string
}

type mounts []mount

// configMounts are the container's ConfigMap volume mounts, each given a directory under base.
func configMounts(p *corev1.Pod, ctr corev1.Container, base string) mounts {
	var out mounts
	for _, vm := range ctr.VolumeMounts {
		for _, v := range p.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil {
				out = append(out, mount{path: strings.TrimSuffix(vm.MountPath, "/"), dir: filepath.Join(base, v.Name), configMap: v.ConfigMap.Name})
			}
		}
	}
	return out
}

// localPath is v with a mountPath prefix replaced by its local directory.
func (ms mounts) localPath(v string) string {
	for _, m := range ms {
		if v == m.path || strings.HasPrefix(v, m.path+"/") {
			return m.dir + strings.TrimPrefix(v, m.path)
		}
	}
	return v
}

// sync writes each ConfigMap's data into its directory now and every second until ctx ends;
// a ConfigMap that is gone leaves the files as they were, as a kubelet does.
func (ms mounts) sync(ctx context.Context, c *Cluster, ns string) {
	if len(ms) == 0 {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ms.write(ctx, c, ns)
	}
}

// write puts each ConfigMap's data in its directory.
func (ms mounts) write(ctx context.Context, c *Cluster, ns string) {
	for _, m := range ms {
		cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, m.configMap, metav1.GetOptions{})
		if err != nil {
			continue
		}
		_ = os.MkdirAll(m.dir, 0o755)
		for k, v := range cm.Data {
			f := filepath.Join(m.dir, k)
			if old, err := os.ReadFile(f); err != nil || string(old) != v {
				_ = os.WriteFile(f+".tmp", []byte(v), 0o644)
				_ = os.Rename(f+".tmp", f)
			}
		}
	}
}

// configMapKeyRef is an env var's ConfigMap key reference, if it has one.
func configMapKeyRef(e corev1.EnvVar) *corev1.ConfigMapKeySelector {
	if e.ValueFrom == nil {
		return nil
	}
	return e.ValueFrom.ConfigMapKeyRef
}

// configMapValue reads one key of a ConfigMap (false when it or the key is missing).
func (c *Cluster) configMapValue(ns, name, key string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", false
	}
	v, ok := cm.Data[key]
	return v, ok
}
