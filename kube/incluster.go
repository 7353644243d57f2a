package kube

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ServiceAccountDir is where Kubernetes mounts a pod's service account: token, ca.crt,
// namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// ErrNotInCluster means the process does not run in a Kubernetes pod with a service account.
var ErrNotInCluster = errors.New("not running in a Kubernetes pod (no KUBERNETES_SERVICE_HOST, or no service account token mounted)")

// InClusterKubeconfig returns a kubeconfig for the service account of the pod this process
// runs in (host and port are KUBERNETES_SERVICE_HOST and _PORT): the mounted CA, the mounted
// token by file (client-go rereads it as the kubelet rotates it), the pod's namespace as the
// default. It holds no credential itself, only paths.
func InClusterKubeconfig(host, port string) ([]byte, error) {
	token := filepath.Join(ServiceAccountDir, "token")
	if host == "" || port == "" {
		return nil, ErrNotInCluster
	}
	if _, err := os.Stat(token); err != nil {
		return nil, ErrNotInCluster
	}
	ns := "default"
	if b, err := os.ReadFile(filepath.Join(ServiceAccountDir, "namespace")); err == nil && strings.TrimSpace(string(b)) != "" {
		ns = strings.TrimSpace(string(b))
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["in-cluster"] = &clientcmdapi.Cluster{Server: "https://" + net.JoinHostPort(host, port),
		CertificateAuthority: filepath.Join(ServiceAccountDir, "ca.crt")}
	cfg.AuthInfos["service-account"] = &clientcmdapi.AuthInfo{TokenFile: token}
	cfg.Contexts["in-cluster"] = &clientcmdapi.Context{Cluster: "in-cluster", AuthInfo: "service-account", Namespace: ns}
	cfg.CurrentContext = "in-cluster"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("in-cluster kubeconfig: %w", err)
	}
	return b, nil
}
