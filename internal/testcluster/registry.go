package testcluster

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
)

// RegistryPackage is the Debian package the test OCI registry comes from, pinned (`make test`
// installs it): the distribution registry (Docker's registry:2) as users run it.
const RegistryPackage = "docker-registry=2.8.2+ds1-1"

// CA is a certificate authority for test servers: the cluster's own, or one of a test's.
type CA struct{ p *pki }

// NewCA makes a certificate authority in dir.
func NewCA(dir string) (*CA, error) {
	p, err := newPKI(dir)
	if err != nil {
		return nil, err
	}
	return &CA{p: p}, nil
}

// CA is the cluster's certificate authority, for servers the tests start beside it.
func (c *Cluster) CA() *CA { return &CA{p: c.pki} }

// PEM is the CA's certificate.
func (ca *CA) PEM() []byte { return ca.p.read("ca.crt") }

// Serving signs a serving certificate (localhost, 127.0.0.1) and returns its files.
func (ca *CA) Serving(name string) (certFile, keyFile string, err error) {
	if err := ca.p.sign(name, name, "", true); err != nil {
		return "", "", err
	}
	return ca.p.path(name + ".crt"), ca.p.path(name + ".key"), nil
}

// Pool is a cert pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM())
	return pool
}

// Registry is a real OCI registry on loopback — Debian's docker-registry (the distribution
// registry) with htpasswd authentication and TLS from a CA — for charts pushed as `helm push`
// does.
type Registry struct {
	Host     string // 127.0.0.1:PORT
	User     string
	Password string
	CA       *CA

	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRegistry starts a registry with one user; it stops when the test ends.
func StartRegistry(t testing.TB, ca *CA) *Registry { t.Helper(); return startRegistry(t, ca, true) }

// StartPublicRegistry starts a registry that anyone may pull from and push to (a public
// registry, as a chart's dependency may live on); it stops when the test ends.
func StartPublicRegistry(t testing.TB, ca *CA) *Registry {
	t.Helper()
	return startRegistry(t, ca, false)
}

func startRegistry(t testing.TB, ca *CA, withAuth bool) *Registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("the OCI registry tests need Debian's %s (make test installs it): %v", RegistryPackage, err)
	}
	dir := t.TempDir()
	r := &Registry{User: "ci", Password: "s3cret-" + strconv.Itoa(os.Getpid()), CA: ca, dir: dir}
	crt, key, err := ca.Serving("registry-" + filepath.Base(dir))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(r.User+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	r.Host = "127.0.0.1:" + strconv.Itoa(port)
	cfg := fmt.Sprintf(`version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: %q}
  delete: {enabled: true}
http:
  addr: %q
  tls: {certificate: %q, key: %q}
`, filepath.Join(dir, "data"), r.Host, crt, key)
	if withAuth {
		cfg += fmt.Sprintf("auth:\n  htpasswd: {realm: shepherd-test, path: %q}\n", filepath.Join(dir, "htpasswd"))
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	r.cmd.Stdout, r.cmd.Stderr = log, log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	r.done = make(chan struct{})
	go func() { _ = r.cmd.Wait(); log.Close(); close(r.done) }()
	t.Cleanup(r.Stop)
	if err := r.waitReady(); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
		t.Fatalf("docker-registry did not start: %v\n%s", err, b)
	}
	return r
}

// waitReady waits until /v2/ answers (401: it is up and wants credentials).
func (r *Registry) waitReady() error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.CA.Pool()}}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("https://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		select {
		case <-r.done:
			return fmt.Errorf("it exited")
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}

// Stop kills the registry (a registry that is down).
func (r *Registry) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
	}
}

// Client is a Helm registry client logged in as the registry's user.
func (r *Registry) Client(t testing.TB) *registry.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: r.CA.Pool()}
	c, err := registry.NewClient(registry.ClientOptHTTPClient(&http.Client{Transport: tr}),
		registry.ClientOptBasicAuth(r.User, r.Password), registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Push pushes the chart at dir, as version, to oci://HOST/PATH/NAME as `helm push` does, and
// returns the manifest digest it printed.
func (r *Registry) Push(t testing.TB, dir, path, version string) string {
	t.Helper()
	data, ch := Package(t, dir, version)
	res, err := r.Client(t).Push(data, fmt.Sprintf("%s/%s/%s:%s", r.Host, path, ch.Metadata.Name, version))
	if err != nil {
		t.Fatalf("push %s %s: %v", ch.Metadata.Name, version, err)
	}
	return res.Manifest.Digest
}

// Package packages the chart at dir as version (`helm package --version`), returning the
// archive and the chart.
func Package(t testing.TB, dir, version string) ([]byte, *chart.Chart) {
	t.Helper()
	ch, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	ch.Metadata.Version = version
	out := t.TempDir()
	path, err := chartutil.Save(ch, out)
	if err != nil {
		t.Fatalf("package %s: %v", dir, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, ch
}
