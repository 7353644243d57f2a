package analysis

import (
	"context"
	"fmt"
)

// Check runs each query once over span (the counters at its start and end), over no pods, so that what cannot work is found before anything
// is written: a Prometheus that does not answer names prometheus_url (promInput); a template
// Prometheus cannot run (it does not parse, or it gives several series) names its own input.
// vars fill the placeholders; inputs names the inputs of the user's templates (ErrorRate,
// Latency).
func (q Queries) Check(ctx context.Context, p Querier, vars map[string]string, span Span, promInput, errorInput, latencyInput string) error {
	sel, err := Render(RequestsSeries, vars)
	if err != nil {
		return err
	}
	if _, _, err := readCounts(ctx, p, sel, span); err != nil {
		return fmt.Errorf("%s: %v (analysis cannot work: fix the URL, or leave it empty to judge pods only)", promInput, err)
	}
	for _, t := range []struct{ input, text string }{{errorInput, q.ErrorRate}, {latencyInput, q.Latency}} {
		if t.text == "" || (t.input == latencyInput && !q.WithLatency) {
			continue
		}
		promQL, err := Render(t.text, vars)
		if err != nil {
			return fmt.Errorf("%s: %v", t.input, err)
		}
		if _, err := p.Query(ctx, promQL); err != nil {
			return fmt.Errorf("%s: Prometheus cannot run it: %v", t.input, err)
		}
	}
	return nil
}
