//go:build tools

// Package tools pins the Kubernetes control-plane commands the test cluster builds. It is a
// separate module because k8s.io/kubernetes can only be built with every staging module
// replaced by its published version (see the replace block in go.mod).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
