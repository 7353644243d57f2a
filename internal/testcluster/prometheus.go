package testcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"
)

// PrometheusPackage is the Debian package the data plane's Prometheus comes from, pinned
// (`make test` installs it): the server as users run it, with no build of its own here.
const PrometheusPackage = "prometheus=2.42.0+ds-5+deb12u1"

// prometheus is the data plane's Prometheus server: it scrapes every process of the data
// plane every second, with the target labels a kubernetes_sd setup gives (namespace, pod,
// container and the pod's labels).
type prometheus struct {
	url     string
	targets string // the file_sd file

	mu sync.Mutex
}

// target is one file_sd entry.
type target struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

func (c *Cluster) startPrometheus(ctx context.Context) (*prometheus, error) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return nil, fmt.Errorf("testcluster: the data plane needs Prometheus: install Debian's %s (make test does: apt-get install prometheus)", PrometheusPackage)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(c.Dir, "prometheus")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	p := &prometheus{url: "http://127.0.0.1:" + strconv.Itoa(port), targets: filepath.Join(dir, "targets.json")}
	if err := p.setTargets(nil); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
- job_name: pods
  file_sd_configs:
  - files: [%q]
    refresh_interval: 1s
`, p.targets)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if _, err := c.start("prometheus", bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--storage.tsdb.retention.time=2h", "--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--log.level=warn"); err != nil {
		return nil, err
	}
	err = c.waitFor(ctx, time.Minute, "prometheus ready", func(ctx context.Context) error {
		return httpOK(ctx, p.url+"/-/ready")
	})
	return p, err
}

// setTargets writes the scrape targets (atomically: Prometheus watches the file).
func (p *prometheus) setTargets(ts []target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ts == nil {
		ts = []target{}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Targets[0] < ts[j].Targets[0] })
	data, err := json.Marshal(ts)
	if err != nil {
		return err
	}
	tmp := p.targets + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p.targets)
}
