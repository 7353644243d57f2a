//go:build e2e

package dataplane

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

// What the data plane costs with 20 pods serving traffic: every pod is up, scraped and
// served, and the log says the RSS and CPU of the processes and of Prometheus. Not parallel:
// it measures the data plane alone.
func TestTwentyPodsServeAndWhatTheyCost(t *testing.T) {
	c := testcluster.Shared(t)
	ns := c.NewNamespace(t)
	mustCreate(t, c.Client.AppsV1().Deployments(ns).Create, app("fleet", "3.0.0", 20, nil, nil))
	mustCreate(t, c.Client.CoreV1().Services(ns).Create, service("fleet", map[string]string{"app.kubernetes.io/name": "fleet"}))
	readyPods(t, c, ns, "app.kubernetes.io/name=fleet", 20)
	p := prom(t, c)
	eventually(t, time.Minute, "20 pods scraped and served", func(ctx context.Context) (bool, string) {
		up, err := p.Query(ctx, fmt.Sprintf(`count(up{namespace=%q} == 1)`, ns))
		if err != nil {
			return false, err.Error()
		}
		served, err := p.Query(ctx, fmt.Sprintf(`count(rate(http_requests_total{namespace=%q,handler="/api/hello"}[10s]) > 0)`, ns))
		if err != nil {
			return false, err.Error()
		}
		return up.Value == 20 && served.Value == 20, fmt.Sprintf("up %+v, served %+v", up, served)
	})
	apps, promPID := c.DataPlanePIDs()
	if len(apps) != 20 || promPID == 0 {
		t.Fatalf("data plane processes: %d apps, prometheus pid %d", len(apps), promPID)
	}
	const window = 10 * time.Second
	before := cpuTicks(t, append(apps, promPID)...)
	time.Sleep(window)
	after := cpuTicks(t, append(apps, promPID)...)
	appCPU, promCPU := 0.0, float64(after[promPID]-before[promPID])/100/window.Seconds()
	appRSS := 0
	for _, pid := range apps {
		appCPU += float64(after[pid]-before[pid]) / 100 / window.Seconds()
		appRSS += rssKiB(t, pid)
	}
	t.Logf("data plane with 20 pods at %d req/s: 20 app processes %.0f MiB RSS, %.2f cores; Prometheus %.0f MiB RSS, %.2f cores",
		testcluster.DefaultTrafficRPS, float64(appRSS)/1024, appCPU, float64(rssKiB(t, promPID))/1024, promCPU)
}

// cpuTicks returns each process's user+system CPU time in clock ticks (1/100 s).
func cpuTicks(t *testing.T, pids ...int) map[int]int {
	t.Helper()
	out := map[int]int{}
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
		utime, _ := strconv.Atoi(f[11])
		stime, _ := strconv.Atoi(f[12])
		out[pid] = utime + stime
	}
	return out
}

func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}
