package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/shepherd-deploy/shepherd/charts"
	"github.com/shepherd-deploy/shepherd/config"
)

// ChartSource is where cfg's chart comes from, as the charts package takes it. A registry_ca
// that is neither PEM nor base64 is a path to a PEM file, read here.
func ChartSource(cfg config.Config, log *slog.Logger) (charts.Source, error) {
	s := cfg.Source
	src := charts.Source{Chart: cfg.Chart, Version: s.Version, Repository: s.Repository, Username: s.Username,
		Password: s.Password, Digest: s.Digest, Timeout: chartTimeout(cfg)}
	if log != nil {
		src.Log = func(format string, a ...any) { log.Debug(fmt.Sprintf(format, a...), "component", "charts") }
	}
	if ca := s.CA; ca != "" {
		if strings.Contains(ca, "-----BEGIN") || !looksLikePath(ca) {
			src.CA = []byte(ca)
		} else {
			b, err := os.ReadFile(ca)
			if err != nil {
				return src, fmt.Errorf("%s: %q is not PEM and not a readable file: %v", config.InRegistryCA, ca, err)
			}
			src.CA = b
		}
	}
	return src, nil
}

// looksLikePath: a CA given as a file path rather than PEM or base64 text.
func looksLikePath(s string) bool {
	return strings.ContainsAny(s, "/.") && !strings.ContainsAny(s, "\n =")
}

// chartTimeout bounds one download: the rollout's timeout, at most a minute.
func chartTimeout(cfg config.Config) time.Duration {
	if cfg.Timeout > 0 && cfg.Timeout < charts.DefaultTimeout {
		return cfg.Timeout
	}
	return charts.DefaultTimeout
}

// ResolveChart finds cfg's chart (mode deploy), before anything is written.
func ResolveChart(ctx context.Context, cfg config.Config, log *slog.Logger) (*charts.Resolved, error) {
	src, err := ChartSource(cfg, log)
	if err != nil {
		return nil, err
	}
	return charts.Resolve(ctx, src)
}

// resolveChart finds the chart when the edge has not (a library caller), and records what
// was found on the outcome.
func (r *run) resolveChart(ctx context.Context) error {
	if r.d.Chart == nil {
		ch, err := ResolveChart(ctx, r.cfg, r.d.Log)
		if err != nil {
			return err
		}
		r.d.Chart = ch
	}
	c := r.d.Chart
	r.out.ChartVersion, r.out.ChartDigest = c.Version, c.Digest
	msg := fmt.Sprintf("chart %s", c.Ref)
	if c.Kind != charts.Local || c.Version != "" {
		msg += fmt.Sprintf(" (%s %s", c.Chart.Metadata.Name, c.Version)
		if c.Digest != "" {
			msg += ", " + c.Digest
		}
		msg += ")"
	}
	if len(c.Built) > 0 {
		msg += "; built its dependencies: " + strings.Join(c.Built, ", ")
	}
	r.event(ctx, "pre-flight", Info, "%s", msg)
	return nil
}
