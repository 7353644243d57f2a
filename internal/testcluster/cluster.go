package testcluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options configures Start.
type Options struct {
	// Binaries to run; required (see EnsureBinaries).
	Binaries Binaries
	// Dir is the work directory (certificates, kubeconfigs, logs); default a new temp dir,
	// removed by Stop.
	Dir string
	// Nodes is the number of fake nodes (default 1), each with NodeCPU and NodeMemory allocatable.
	Nodes int
	// Progress receives start-up milestones; nil discards them.
	Progress io.Writer
	// DataPlane runs the example app's pods as real processes, sends traffic to the Services
	// that select them and starts Prometheus to scrape them (see dataplane.go).
	DataPlane bool
	// TrafficRPS is the data plane's load per Service (default DefaultTrafficRPS).
	TrafficRPS int
	// PodNetwork: each pod's process also answers at its pod IP (the cluster must run in a
	// network namespace where PodCIDR is local: MainWithGateway).
	PodNetwork bool
	// Gateway starts a Gateway API implementation serving one Gateway (Cluster.Gateway).
	Gateway bool
}

// Cluster is a running control plane. Stop it when done; every process it started is in its
// own process group and dies with the starting process (Pdeathsig), so nothing is left behind
// even when the test binary is killed.
type Cluster struct {
	Dir            string
	KubeconfigPath string
	Kubeconfig     []byte // cluster-admin (system:masters) client-certificate kubeconfig
	Config         *rest.Config
	Client         kubernetes.Interface
	Dynamic        dynamic.Interface
	APIServerURL   string
	// StartupTime is how long Start took until the cluster was fully usable.
	StartupTime time.Duration
	// PrometheusURL is the data plane's Prometheus ("" without the data plane).
	PrometheusURL string
	// OIDC is the OpenID Connect issuer the API server trusts (keyless deploys).
	OIDC *OIDC
	// AWS is EKS's way in: STS's stand-in and a token webhook with EKS's verifier.
	AWS *AWS
	// Google is GKE's way in: stand-ins of Google's STS and IAM credentials service.
	Google *Google
	// Azure is AKS's way in: a stand-in of Microsoft Entra ID's token endpoint.
	Azure *Azure
	// Gateway is the Gateway API implementation and its Gateway (nil without Options.Gateway).
	Gateway *Gateway

	dataPlane  *dataPlane
	podNetwork bool

	bins     Binaries
	pki      *pki
	ports    map[string]int
	progress io.Writer
	ownDir   bool
	etcdData string

	mu      sync.Mutex
	procs   map[string]*proc
	order   []string
	closers []func()
	webhook string // the token webhook's kubeconfig
}

// Start brings up etcd, kube-apiserver (RBAC on), kube-controller-manager, kube-scheduler and
// kwok on loopback with free ports, installs kwok's CRDs and Shepherd's stage set, creates the
// fake nodes and returns when a pod can be scheduled and run.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	t0 := time.Now()
	if !o.Binaries.complete() {
		return nil, fmt.Errorf("testcluster: binaries in %q are incomplete (run EnsureBinaries)", o.Binaries.Dir)
	}
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	c = &Cluster{Dir: o.Dir, bins: o.Binaries, progress: o.Progress, procs: map[string]*proc{}, ports: map[string]int{}}
	if c.progress == nil {
		c.progress = io.Discard
	}
	sweepStale()
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", ownedPrefix("shepherd-testcluster")); err != nil {
			return nil, err
		}
		c.ownDir = true
	}
	// Every failed step below returns nil for c: the cleanup works on the cluster it started,
	// and the error keeps its cause (never a panic on the nil just returned).
	started := c
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, started.logTails())
			started.Stop()
		}
	}()
	if err = os.MkdirAll(filepath.Join(c.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	for _, n := range []string{"etcd", "etcd-peer", "apiserver", "kcm", "scheduler", "kwok"} {
		if c.ports[n], err = freePort(); err != nil {
			return nil, err
		}
	}
	if c.pki, err = newPKI(filepath.Join(c.Dir, "pki")); err != nil {
		return nil, err
	}
	c.APIServerURL = "https://127.0.0.1:" + strconv.Itoa(c.ports["apiserver"])
	c.Kubeconfig = c.pki.kubeconfig(c.APIServerURL, "admin")
	c.KubeconfigPath = filepath.Join(c.Dir, "kubeconfig")
	for _, id := range clientIdentities {
		if err = os.WriteFile(filepath.Join(c.Dir, "pki", id.file+".kubeconfig"), c.pki.kubeconfig(c.APIServerURL, id.file), 0o600); err != nil {
			return nil, err
		}
	}
	if err = os.WriteFile(c.KubeconfigPath, c.Kubeconfig, 0o600); err != nil {
		return nil, err
	}
	if c.Config, err = clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig); err != nil {
		return nil, err
	}
	c.Config.QPS, c.Config.Burst = 200, 400
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return nil, err
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		return nil, err
	}

	if c.OIDC, err = c.startOIDC(); err != nil {
		return nil, err
	}
	if c.AWS, c.webhook, err = c.startAWS(); err != nil {
		return nil, err
	}
	if c.Google, err = c.startGoogle(); err != nil {
		return nil, err
	}
	if c.Azure, err = c.startAzure(); err != nil {
		return nil, err
	}
	c.AWS.others = append(c.AWS.others, c.Google.review, c.Azure.review)
	if err = c.startEtcd(ctx); err != nil {
		return nil, err
	}
	if err = c.startAPIServer(ctx); err != nil {
		return nil, err
	}
	c.milestone(t0, "kube-apiserver ready")
	// The controller-manager exits if started before the apiserver is ready (RBAC bootstrap).
	if err = c.startControllers(); err != nil {
		return nil, err
	}
	if err = c.installKwokResources(ctx); err != nil {
		return nil, err
	}
	if err = c.startKwok(); err != nil {
		return nil, err
	}
	if err = c.waitHealthy(ctx); err != nil {
		return nil, err
	}
	if err = c.createNodes(ctx, o.Nodes); err != nil {
		return nil, err
	}
	if err = c.waitUsable(ctx); err != nil {
		return nil, err
	}
	if err = c.startExtras(ctx, o, t0); err != nil {
		return nil, err
	}
	c.StartupTime = time.Since(t0)
	c.milestone(t0, "cluster usable at "+c.APIServerURL)
	return c, nil
}

// startExtras starts what runs beside the control plane when asked: the data plane (pods as
// processes, traffic, Prometheus) and the gateway.
func (c *Cluster) startExtras(ctx context.Context, o Options, t0 time.Time) error {
	c.podNetwork = o.PodNetwork
	if o.DataPlane {
		if err := c.startDataPlane(ctx, o.TrafficRPS); err != nil {
			return err
		}
		c.milestone(t0, "data plane up, Prometheus at "+c.PrometheusURL)
	}
	if o.Gateway {
		g, err := EnsureGateway(ctx, BuildOptions{Progress: c.progress})
		if err != nil {
			return err
		}
		if err := c.startGateway(ctx, g); err != nil {
			return err
		}
		c.milestone(t0, "gateway up at "+c.Gateway.URL)
	}
	return nil
}

func (c *Cluster) milestone(t0 time.Time, what string) {
	fmt.Fprintf(c.progress, "testcluster: +%dms %s\n", time.Since(t0).Milliseconds(), what)
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	data := filepath.Join(c.Dir, "etcd-data")
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() { // tmpfs: no disk syncs
		if d, err := os.MkdirTemp("/dev/shm", ownedPrefix("shepherd-etcd")); err == nil {
			data = d
		}
	}
	c.etcdData = data
	client := "http://127.0.0.1:" + strconv.Itoa(c.ports["etcd"])
	peer := "http://127.0.0.1:" + strconv.Itoa(c.ports["etcd-peer"])
	if _, err := c.start("etcd", c.bins.Path("etcd"), "--name", "testcluster", "--data-dir", data,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "testcluster="+peer, "--initial-cluster-state", "new",
		"--snapshot-count", "10000", "--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return err
	}
	return c.waitFor(ctx, 30*time.Second, "etcd healthy", func(ctx context.Context) error { return httpOK(ctx, client+"/health") })
}

// StartAPIServer starts kube-apiserver and waits for /readyz. After StopAPIServer it also
// restarts the controller-manager, scheduler and kwok, whose watches would otherwise back off
// for up to half a minute: the cluster comes back as a restarted control plane does.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	restart := c.procs["kube-apiserver"] != nil
	c.mu.Unlock()
	if err := c.startAPIServer(ctx); err != nil || !restart {
		return err
	}
	for _, n := range []string{"kwok", "kube-scheduler", "kube-controller-manager"} {
		c.kill(n)
	}
	if err := c.startControllers(); err != nil {
		return err
	}
	if err := c.startKwok(); err != nil {
		return err
	}
	return c.waitHealthy(ctx)
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	p := c.pki.path
	if _, err := c.start("kube-apiserver", c.bins.Path("kube-apiserver"),
		"--etcd-servers", "http://127.0.0.1:"+strconv.Itoa(c.ports["etcd"]),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.ports["apiserver"]),
		"--cert-dir", p(""), "--tls-cert-file", p("apiserver.crt"), "--tls-private-key-file", p("apiserver.key"),
		"--client-ca-file", p("ca.crt"), "--authentication-config", filepath.Join(c.Dir, "authentication.yaml"),
		"--authentication-token-webhook-config-file", c.webhook, "--authentication-token-webhook-version", "v1",
		"--authentication-token-webhook-cache-ttl", "10s",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", p("sa.pub"), "--service-account-signing-key-file", p("sa.key"),
		"--authorization-mode", "Node,RBAC", "--anonymous-auth=true",
		"--service-cluster-ip-range", "10.96.0.0/16", "--allow-privileged=true",
		"--endpoint-reconciler-type", "none", "--profiling=false", "--v=1"); err != nil {
		return err
	}
	return c.waitFor(ctx, 2*time.Minute, "kube-apiserver ready", func(ctx context.Context) error {
		_, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

// waitHealthy waits for the controller-manager, the scheduler and kwok to answer.
func (c *Cluster) waitHealthy(ctx context.Context) error {
	for _, n := range []string{"kcm", "scheduler"} {
		url := "https://127.0.0.1:" + strconv.Itoa(c.ports[n]) + "/healthz"
		if err := c.waitFor(ctx, time.Minute, n+" healthy", func(ctx context.Context) error { return httpOK(ctx, url) }); err != nil {
			return err
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(c.ports["kwok"])
	return c.waitFor(ctx, time.Minute, "kwok listening", func(ctx context.Context) error {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err
	})
}

// StopAPIServer kills kube-apiserver (the rest keeps running), to test loss of the API server.
func (c *Cluster) StopAPIServer() { c.kill("kube-apiserver") }

func (c *Cluster) startControllers() error {
	pk := c.pki.path
	if _, err := c.start("kube-controller-manager", c.bins.Path("kube-controller-manager"),
		"--kubeconfig", pk("kcm.kubeconfig"),
		"--authentication-kubeconfig", pk("kcm.kubeconfig"), "--authorization-kubeconfig", pk("kcm.kubeconfig"),
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.ports["kcm"]), "--cert-dir", pk("kcm-serving"),
		"--leader-elect=false", "--controllers", "*", "--use-service-account-credentials=true",
		"--service-account-private-key-file", pk("sa.key"), "--root-ca-file", pk("ca.crt"),
		"--cluster-signing-cert-file", pk("ca.crt"), "--cluster-signing-key-file", pk("ca.key"),
		"--cluster-name", "testcluster", "--profiling=false", "--v=1"); err != nil {
		return err
	}
	_, err := c.start("kube-scheduler", c.bins.Path("kube-scheduler"),
		"--kubeconfig", pk("scheduler.kubeconfig"),
		"--authentication-kubeconfig", pk("scheduler.kubeconfig"), "--authorization-kubeconfig", pk("scheduler.kubeconfig"),
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.ports["scheduler"]), "--cert-dir", pk("scheduler-serving"),
		"--leader-elect=false", "--profiling=false", "--v=1")
	return err
}

// waitFor polls check until it succeeds, the timeout passes, or a started process dies.
func (c *Cluster) waitFor(ctx context.Context, timeout time.Duration, what string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		if name, err := c.deadProcess(); name != "" {
			return fmt.Errorf("testcluster: %s exited while waiting for %s: %v", name, what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testcluster: timed out waiting for %s: %v", what, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var insecureHTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback health checks of self-signed components

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := insecureHTTP.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func httpGet(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := insecureHTTP.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), err
}

func freePort() (int, error) {
	// Below the kernel's ephemeral range (32768–60999 by default): a port handed to a process
	// that binds it a moment later must not be taken meanwhile as the local port of one of the
	// many connections the tests open (seen: a pod's process failing with "address already in
	// use"), nor by a listener on port 0.
	for i := 0; i < 50; i++ {
		port := 20000 + mathrand.IntN(12000)
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop kills every process the cluster started and removes the work directory it created.
func (c *Cluster) Stop() {
	if c.dataPlane != nil {
		c.dataPlane.stop()
	}
	c.mu.Lock()
	names := append([]string(nil), c.order...)
	c.mu.Unlock()
	for i := len(names) - 1; i >= 0; i-- {
		c.kill(names[i])
	}
	if c.OIDC != nil {
		c.OIDC.close()
	}
	for _, f := range c.closers {
		f()
	}
	if c.etcdData != "" && filepath.Dir(c.etcdData) == "/dev/shm" {
		_ = os.RemoveAll(c.etcdData)
	}
	if c.ownDir {
		_ = os.RemoveAll(c.Dir)
	}
}

// ownedPrefix names a temp dir after this process, so that a later run can tell (sweepStale)
// that its owner was killed before it could clean up.
func ownedPrefix(kind string) string { return fmt.Sprintf("%s-%d-", kind, os.Getpid()) }

// sweepStale removes work and etcd dirs left by clusters whose process was killed.
func sweepStale() {
	for _, pattern := range []string{filepath.Join(os.TempDir(), "shepherd-testcluster-*"), "/dev/shm/shepherd-etcd-*"} {
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			parts := strings.Split(filepath.Base(d), "-")
			if len(parts) < 4 {
				continue
			}
			pid, err := strconv.Atoi(parts[len(parts)-2])
			if err != nil || pid == os.Getpid() {
				continue
			}
			if syscall.Kill(pid, 0) == syscall.ESRCH {
				_ = os.RemoveAll(d)
			}
		}
	}
}
