package testcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// Gateway API resources.
var (
	GatewayClassGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
	GatewayGVR      = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	HTTPRouteGVR    = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
)

// Gateway is the cluster's Gateway API implementation (Traefik) and the one Gateway it serves:
// HTTPRoutes whose parentRef is Namespace/Name are served at URL.
type Gateway struct {
	Namespace, Name string
	// Class is the GatewayClass Traefik controls.
	Class string
	// URL is the Gateway's HTTP listener.
	URL string
	// API is Traefik's own API (/api/rawdata: the configuration it serves now).
	API string
}

// gatewayController is Traefik's controllerName.
const gatewayController = "traefik.io/gateway-controller"

// startGateway installs the Gateway API CRDs, gives Traefik a ServiceAccount token with the
// rights its Gateway provider needs, starts it on a free port and creates a GatewayClass and a
// Gateway listening there (any namespace's routes), returning once the Gateway is programmed.
func (c *Cluster) startGateway(ctx context.Context, g GatewayBinaries) error {
	if err := c.installGatewayCRDs(ctx, g); err != nil {
		return err
	}
	token, err := c.gatewayToken(ctx)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	ping, err := freePort()
	if err != nil {
		return err
	}
	gw := &Gateway{Namespace: "gateway-system", Name: "shared", Class: "traefik", URL: "http://127.0.0.1:" + strconv.Itoa(port),
		API: "http://127.0.0.1:" + strconv.Itoa(ping) + "/api"}
	if _, err := c.start("traefik", g.Traefik(),
		"--entryPoints.web.address=127.0.0.1:"+strconv.Itoa(port), "--entryPoints.traefik.address=127.0.0.1:"+strconv.Itoa(ping),
		"--ping=true", "--ping.entryPoint=traefik", "--api=true", "--api.insecure=true", "--log.level=INFO",
		"--providers.kubernetesGateway=true", "--providers.kubernetesGateway.endpoint="+c.APIServerURL,
		"--providers.kubernetesGateway.token="+token, "--providers.kubernetesGateway.certAuthFilePath="+c.pki.path("ca.crt"),
		"--providers.kubernetesGateway.statusAddress.ip=127.0.0.1",
		// Traefik applies its providers' changes at most every 2 s by default; a canary's abort
		// is a weight change, so the test gateway applies them within 100 ms (what an
		// operator running Traefik for canaries sets too).
		"--providers.providersThrottleDuration=100ms"); err != nil {
		return err
	}
	if err := c.waitFor(ctx, time.Minute, "traefik ready", func(ctx context.Context) error {
		return httpOK(ctx, "http://127.0.0.1:"+strconv.Itoa(ping)+"/ping")
	}); err != nil {
		return err
	}
	if err := c.createGateway(ctx, gw, port); err != nil {
		return err
	}
	c.Gateway = gw
	return nil
}

// installGatewayCRDs creates the standard channel's CRDs and waits for them.
func (c *Cluster) installGatewayCRDs(ctx context.Context, g GatewayBinaries) error {
	ext, err := apiextensions.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(g.crds(), "*.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return fmt.Errorf("testcluster: CRD %s: %w", filepath.Base(f), err)
		}
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("testcluster: create CRD %s: %w", crd.Name, err)
		}
	}
	return c.waitFor(ctx, 30*time.Second, "gateway CRDs established", func(ctx context.Context) error {
		_, err := c.Dynamic.Resource(HTTPRouteGVR).List(ctx, metav1.ListOptions{Limit: 1})
		return err
	})
}

// gatewayToken is a token of ServiceAccount gateway-system/traefik, which may read what a
// Gateway provider reads and write the Gateway API objects' status (cluster-admin: this is a
// test cluster).
func (c *Cluster) gatewayToken(ctx context.Context) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gateway-system"}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "traefik", Namespace: ns.Name}}
	if _, err := c.Client.CoreV1().ServiceAccounts(ns.Name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "traefik-gateway"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: ns.Name}}}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	secs := int64(24 * 3600)
	tr, err := c.Client.CoreV1().ServiceAccounts(ns.Name).CreateToken(ctx, sa.Name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("testcluster: a token for the gateway: %w", err)
	}
	return tr.Status.Token, nil
}

// createGateway creates the GatewayClass and the Gateway, and waits until Traefik has
// programmed the Gateway.
func (c *Cluster) createGateway(ctx context.Context, gw *Gateway, port int) error {
	class := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": gw.Class}, "spec": map[string]any{"controllerName": gatewayController}}}
	if _, err := c.Dynamic.Resource(GatewayClassGVR).Create(ctx, class, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
		"metadata": map[string]any{"name": gw.Name, "namespace": gw.Namespace},
		"spec": map[string]any{"gatewayClassName": gw.Class, "listeners": []any{map[string]any{
			"name": "web", "protocol": "HTTP", "port": int64(port),
			"allowedRoutes": map[string]any{"namespaces": map[string]any{"from": "All"}}}}}}}
	if _, err := c.Dynamic.Resource(GatewayGVR).Namespace(gw.Namespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return c.waitFor(ctx, time.Minute, "gateway programmed", func(ctx context.Context) error {
		got, err := c.Dynamic.Resource(GatewayGVR).Namespace(gw.Namespace).Get(ctx, gw.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, x := range conds {
			if m, ok := x.(map[string]any); ok && m["type"] == "Programmed" && m["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("not programmed: %v", conds)
	})
}

// WaitWeights waits until the gateway serves HTTPRoute ns/route with these weights per backend
// Service (Traefik applies a route's change after its providers' throttle, so a route's status
// can say Accepted before the change is live), and returns how long that took.
func (g *Gateway) WaitWeights(ctx context.Context, ns, route string, weights map[string]int64) (time.Duration, error) {
	start := time.Now()
	var last string
	for time.Since(start) < 30*time.Second {
		if served, err := g.Weighted(ctx, ns, route); err == nil {
			for _, got := range served {
				last = fmt.Sprint(got)
				if sameWeights(got, weights) {
					return time.Since(start), nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return time.Since(start), fmt.Errorf("testcluster: the gateway does not serve route %s/%s with weights %v after 30s (it serves %s)", ns, route, weights, last)
}

// Weighted is what the gateway serves now for HTTPRoute ns/route: each rule's weighted backends,
// as weight by backend name (<service>-<port name>-<port>, the namespace trimmed).
func (g *Gateway) Weighted(ctx context.Context, ns, route string) ([]map[string]int64, error) {
	var raw struct {
		Services map[string]struct {
			Weighted *struct {
				Services []struct {
					Name   string
					Weight *int64
				}
			}
		}
	}
	if err := getJSON(ctx, g.API+"/rawdata", &raw); err != nil {
		return nil, err
	}
	prefix := "httproute-" + ns + "-" + route + "-"
	var out []map[string]int64
	for name, s := range raw.Services {
		if !strings.HasPrefix(name, prefix) || s.Weighted == nil {
			continue
		}
		got := map[string]int64{}
		for _, b := range s.Weighted.Services {
			w := int64(1)
			if b.Weight != nil {
				w = *b.Weight
			}
			got[strings.TrimPrefix(b.Name, ns+"-")] = w
		}
		out = append(out, got)
	}
	return out, nil
}

// sameWeights compares weights by Service name (the gateway names a backend
// <service>-<port name>-<port>).
func sameWeights(got, want map[string]int64) bool {
	if len(got) != len(want) {
		return false
	}
	for svc, w := range want {
		found := false
		for name, gw := range got {
			if strings.HasPrefix(name, svc+"-") && gw == w {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
