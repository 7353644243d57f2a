// Command etcd is etcd's server main, built from the go.etcd.io/etcd/server/v3 version that
// k8s.io/kubernetes requires (go install refuses etcd's own main module: it has replace directives).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
