package testcluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// podProc is one pod's real process, restarted as a kubelet would when it exits.
type podProc struct {
	dp                  *dataPlane
	ns, name, container string
	uid                 types.UID
	labels              map[string]string
	containerPort       int32
	port                int    // on 127.0.0.1
	podIP               string // with PodNetwork, it also answers at podIP:containerPort
	env                 []string
	readinessPath       string
	readinessHTTPS      bool        // the probe's scheme is HTTPS (not verified, as a kubelet's)
	readinessHeaders    http.Header // the probe's httpHeaders
	mounts              mounts      // ConfigMap volumes, as local directories kept in sync
	logs                string      // directory of current.log and previous.log

	mu       sync.Mutex
	running  bool
	pid      int
	restarts int32
	quit     chan struct{}
	once     sync.Once
}

func newPodProc(dp *dataPlane, p *corev1.Pod) (*podProc, error) {
	ctr := p.Spec.Containers[0]
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pp := &podProc{dp: dp, ns: p.Namespace, name: p.Name, container: ctr.Name, uid: p.UID, labels: p.Labels, podIP: p.Status.PodIP,
		containerPort: 8080, port: port, readinessPath: "/api/health", quit: make(chan struct{}),
		logs: filepath.Join(dp.c.Dir, "pods", p.Namespace+"_"+p.Name+"_"+string(p.UID))}
	if len(ctr.Ports) > 0 {
		pp.containerPort = ctr.Ports[0].ContainerPort
	}
	if pr := ctr.ReadinessProbe; pr != nil && pr.HTTPGet != nil {
		if pr.HTTPGet.Path != "" {
			pp.readinessPath = pr.HTTPGet.Path
		}
		pp.readinessHTTPS = pr.HTTPGet.Scheme == corev1.URISchemeHTTPS
		pp.readinessHeaders = http.Header{}
		for _, h := range pr.HTTPGet.HTTPHeaders {
			pp.readinessHeaders.Add(h.Name, h.Value)
		}
	}
	if err := os.MkdirAll(pp.logs, 0o755); err != nil {
		return nil, err
	}
	pp.mounts = configMounts(p, ctr, filepath.Join(pp.logs, "mounts"))
	version := ctr.Image[strings.LastIndex(ctr.Image, ":")+1:]
	hasVersion := false
	for _, e := range ctr.Env {
		v, ok := e.Value, e.ValueFrom == nil
		if ref := configMapKeyRef(e); ref != nil { // as a kubelet: read when the container starts
			v, ok = dp.c.configMapValue(p.Namespace, ref.Name, ref.Key)
		}
		if !ok {
			continue // other sources (Secrets, fields): the process does without
		}
		hasVersion = hasVersion || e.Name == "VERSION"
		pp.env = append(pp.env, e.Name+"="+pp.mounts.localPath(v))
	}
	if !hasVersion {
		pp.env = append(pp.env, "VERSION="+version)
	}
	for _, f := range []string{"current.log", "previous.log"} {
		if err := os.WriteFile(filepath.Join(pp.logs, f), nil, 0o644); err != nil {
			return nil, err
		}
	}
	return pp, nil
}

// run starts the process and restarts it when it exits (with a kubelet's growing back-off),
// until stop. Every start and exit is reflected in the pod's status.
func (pp *podProc) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-pp.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	// kubectl logs and port-forward reach this process through kwok.
	cur, prev := filepath.Join(pp.logs, "current.log"), filepath.Join(pp.logs, "previous.log")
	_ = pp.dp.ensurePodResource(ctx, logsGVR, "Logs", pp.ns, pp.name, map[string]any{"logs": []any{map[string]any{
		"containers": []any{pp.container}, "logsFile": cur, "previousLogsFile": prev, "follow": true}}})
	_ = pp.dp.ensurePodResource(ctx, portForwardGVR, "PortForward", pp.ns, pp.name, map[string]any{"forwards": []any{map[string]any{
		"ports": []any{int64(pp.containerPort)}, "target": map[string]any{"port": int64(pp.port), "address": "127.0.0.1"}}}})
	go func() { // kwok may cache its rules from just before these landed: change them once more (pokeKwok)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
			_ = pp.dp.c.pokeKwok(ctx, logsGVR, pp.ns, pp.name)
			_ = pp.dp.c.pokeKwok(ctx, portForwardGVR, pp.ns, pp.name)
		}
	}()
	if pp.dp.c.podNetwork {
		go pp.forward(ctx)
	}
	pp.mounts.write(ctx, pp.dp.c, pp.ns) // the files are there when the process starts
	go pp.mounts.sync(ctx, pp.dp.c, pp.ns)
	backoff := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		code, err := pp.runOnce(ctx, cur)
		if ctx.Err() != nil {
			return
		}
		// It exited on its own: a crash. Its output is now the previous container's.
		data, _ := os.ReadFile(cur)
		_ = os.WriteFile(prev, data, 0o644)
		_ = os.WriteFile(cur, nil, 0o644)
		pp.mu.Lock()
		pp.restarts++
		pp.mu.Unlock()
		reason := "Error"
		if err != nil && code < 0 {
			reason = "StartError"
		}
		pp.setStatus(ctx, false, &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", backoff, pp.container, pp.name)}},
			&corev1.ContainerStateTerminated{ExitCode: int32(code), Reason: reason,
				StartedAt: metav1.NewTime(started), FinishedAt: metav1.NewTime(time.Now())})
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// runOnce runs the process until it exits (its exit code) or ctx ends (it is stopped).
func (pp *podProc) runOnce(ctx context.Context, logFile string) (int, error) {
	f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	cmd := exec.Command(pp.dp.app, "-addr", "127.0.0.1:"+strconv.Itoa(pp.port))
	cmd.Env = pp.env
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	copied := make(chan struct{})
	go func() { criCopy(f, pr); close(copied) }()
	if err := cmd.Start(); err != nil {
		pw.Close()
		<-copied
		return -1, err
	}
	pp.mu.Lock()
	pp.running, pp.pid = true, cmd.Process.Pid
	pp.mu.Unlock()
	pp.dp.targetsChanged()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	go pp.probe(ctx, exited)
	var werr error
	select {
	case werr = <-exited:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case werr = <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			werr = <-exited
		}
	}
	pw.Close()
	<-copied
	pp.mu.Lock()
	pp.running = false
	pp.mu.Unlock()
	pp.dp.targetsChanged()
	return cmd.ProcessState.ExitCode(), werr
}

// probe asks the readiness path every half second while the process runs, and sets the pod's
// readiness when the answer changes (2xx: Ready), as a kubelet's readiness probe would.
func (pp *podProc) probe(ctx context.Context, exited <-chan error) {
	client := &http.Client{Timeout: time.Second}
	url := "http://127.0.0.1:" + strconv.Itoa(pp.port) + pp.readinessPath
	if pp.readinessHTTPS { // as a kubelet: TLS, the pod's own certificate not verified
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec
		url = "https" + strings.TrimPrefix(url, "http")
	}
	started := metav1.Now()
	last, first := false, true
	probes := 0
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		ready := false
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		for k, v := range pp.readinessHeaders {
			req.Header[k] = v
		}
		if resp, err := client.Do(req); err == nil {
			ready = resp.StatusCode >= 200 && resp.StatusCode < 300
			resp.Body.Close()
		}
		probes++
		if probes%20 == 0 { // every 10 s, say it again: another writer (kwok) may have overwritten it
			first = true
		}
		if ready != last || first {
			pp.mu.Lock()
			alive := pp.running
			pp.mu.Unlock()
			if !alive {
				return
			}
			// Only a readiness the API server took counts as said: a failed write (a busy
			// API server) is tried again at the next probe, or the pod would never be Ready.
			if err := pp.setStatus(ctx, ready, &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}, nil); err == nil {
				last, first = ready, false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pp.mu.Lock()
		alive := pp.running
		pp.mu.Unlock()
		if !alive {
			return
		}
	}
}

// setStatus writes the container's state, readiness and restarts to the pod's status.
func (pp *podProc) setStatus(ctx context.Context, ready bool, state *corev1.ContainerState, last *corev1.ContainerStateTerminated) error {
	pods := pp.dp.c.Client.CoreV1().Pods(pp.ns)
	pp.mu.Lock()
	restarts := pp.restarts
	pp.mu.Unlock()
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := pods.Get(ctx, pp.name, metav1.GetOptions{})
		if err != nil || p.UID != pp.uid || p.DeletionTimestamp != nil {
			return nil // gone or going: nothing to say
		}
		now := metav1.Now()
		for i := range p.Status.Conditions {
			c := &p.Status.Conditions[i]
			if (c.Type == corev1.PodReady || c.Type == corev1.ContainersReady) && c.Status != cond {
				c.Status, c.LastTransitionTime = cond, now
			}
		}
		for i := range p.Status.ContainerStatuses {
			cs := &p.Status.ContainerStatuses[i]
			if cs.Name != pp.container {
				continue
			}
			cs.Ready, cs.State, cs.RestartCount = ready, *state, restarts
			cs.Started = &ready
			if last != nil {
				cs.LastTerminationState = corev1.ContainerState{Terminated: last}
			}
		}
		_, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
}

// up reports whether the process is running now.
func (pp *podProc) up() bool {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.running
}

func (pp *podProc) stop() { pp.once.Do(func() { close(pp.quit) }) }

// target is how Prometheus finds this process, with the labels a kubernetes_sd setup gives.
func (pp *podProc) target() target {
	l := map[string]string{"namespace": pp.ns, "pod": pp.name, "container": pp.container}
	for k, v := range pp.labels {
		l[promLabel(k)] = v
	}
	return target{Targets: []string{"127.0.0.1:" + strconv.Itoa(pp.port)}, Labels: l}
}

// promLabel turns a Kubernetes label key into a Prometheus label name, as kubernetes_sd's
// labelmap does (app.kubernetes.io/name → app_kubernetes_io_name).
func promLabel(k string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, k)
}

// criCopy copies a process's output to w in the CRI log format kwok serves, line by line.
func criCopy(w io.Writer, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(w, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), sc.Text())
	}
	_, _ = io.Copy(io.Discard, r)
}
