package testcluster

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Allocatable resources of every fake node: small and known, so that a request larger than
// this stays Pending with a real FailedScheduling event.
const (
	NodeCPU    = "4"
	NodeMemory = "8Gi"
	NodePods   = "110"
)

// stageFiles is Shepherd's kwok stage set. default.yaml makes nodes Ready and pods Running/Ready;
// failure.yaml simulates bad releases by image name: "bad-image" (ImagePullBackOff),
// "crashloop" (CrashLoopBackOff with rising restarts), "never-ready" (Running, never Ready).
//
//go:embed stages/*.yaml
var stageFiles embed.FS

// Kwok resources, for tests that set up logs and port-forwards.
var (
	StageGVR              = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "stages"}
	ClusterLogsGVR        = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterlogs"}
	ClusterPortForwardGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "clusterportforwards"}
)

func (c *Cluster) installKwokResources(ctx context.Context) error {
	ext, err := apiextensions.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	for _, name := range kwokCRDs {
		data, err := os.ReadFile(c.bins.crdPath(name))
		if err != nil {
			return err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return fmt.Errorf("testcluster: CRD %s: %w", name, err)
		}
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("testcluster: create CRD %s: %w", crd.Name, err)
		}
		err = c.waitFor(ctx, 30*time.Second, "CRD "+crd.Name+" established", func(ctx context.Context) error {
			got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			for _, cond := range got.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
			return fmt.Errorf("not established")
		})
		if err != nil {
			return err
		}
	}
	for _, f := range []string{"stages/default.yaml", "stages/failure.yaml"} {
		data, _ := stageFiles.ReadFile(f)
		if err := c.ApplyObjects(ctx, StageGVR, "", data); err != nil {
			return err
		}
	}
	return nil
}

// ApplyObjects creates every object of a multi-document YAML stream as resource gvr in
// namespace ns ("" for cluster-scoped), replacing objects that already exist.
func (c *Cluster) ApplyObjects(ctx context.Context, gvr schema.GroupVersionResource, ns string, data []byte) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := c.createOrReplace(ctx, gvr, ns, &obj); err != nil {
			return fmt.Errorf("testcluster: create %s %s: %w", gvr.Resource, obj.GetName(), err)
		}
	}
}

// createOrReplace creates obj as resource gvr in ns ("" for cluster-scoped), replacing the
// object of that name if it exists.
func (c *Cluster) createOrReplace(ctx context.Context, gvr schema.GroupVersionResource, ns string, obj *unstructured.Unstructured) error {
	ri := c.Dynamic.Resource(gvr).Namespace(ns)
	_, err := ri.Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		old, gerr := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		obj.SetResourceVersion(old.GetResourceVersion())
		_, err = ri.Update(ctx, obj, metav1.UpdateOptions{})
	}
	return err
}

func (c *Cluster) startKwok() error {
	cfg := fmt.Sprintf(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: 10.244.0.0/16
  nodeIP: 127.0.0.1
  nodePort: %d
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  nodeLeaseDurationSeconds: 40
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enableDebuggingHandlers: true
  enableProfilingHandler: false
  enableContentionProfiling: false
`, c.ports["kwok"])
	path := filepath.Join(c.Dir, "kwok.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	_, err := c.start("kwok", c.bins.Path("kwok"), "--kubeconfig", c.pki.path("kwok.kubeconfig"), "--config", path,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
		"--server-address", "127.0.0.1:"+strconv.Itoa(c.ports["kwok"]), "--node-lease-duration-seconds", "40",
		"--cidr", "10.244.0.0/16", "--enable-crds", "Stage,ClusterLogs,Logs,ClusterPortForward,PortForward")
	return err
}

func (c *Cluster) createNodes(ctx context.Context, n int) error {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(NodeCPU),
		corev1.ResourceMemory: resource.MustParse(NodeMemory),
		corev1.ResourcePods:   resource.MustParse(NodePods),
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
					"kubernetes.io/hostname": name, "type": "kwok"},
			},
			Status: corev1.NodeStatus{Allocatable: res, Capacity: res},
		}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("testcluster: create node: %w", err)
		}
	}
	return c.waitFor(ctx, time.Minute, "nodes ready", func(ctx context.Context) error {
		nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, nd := range nodes.Items {
			for _, cond := range nd.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready < n {
			return fmt.Errorf("%d of %d nodes ready", ready, n)
		}
		return nil
	})
}

// waitUsable waits for what a workload needs: the default ServiceAccount (made by the
// controller-manager) in the default namespace.
func (c *Cluster) waitUsable(ctx context.Context) error {
	return c.waitFor(ctx, time.Minute, "default ServiceAccount", func(ctx context.Context) error {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}
