package report

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/shepherd-deploy/shepherd/deploy"
)

// Text reports to a terminal: timeline lines as they happen, then the summary and outputs.
type Text struct {
	W io.Writer
}

var _ deploy.Reporter = (*Text)(nil)

// Event prints one timeline line.
func (t *Text) Event(_ context.Context, e deploy.Event) {
	mark := "  "
	switch e.Level {
	case deploy.Error:
		mark = "✗ "
	case deploy.Warn:
		mark = "! "
	}
	fmt.Fprintf(t.W, "[+%5.1fs] %s%-12s %s\n", e.At.Seconds(), mark, e.Phase, e.Message)
}

// Finish prints the job summary a runner would show, and the outputs.
func (t *Text) Finish(_ context.Context, o deploy.Outcome) error {
	fmt.Fprintf(t.W, "\n%s\n", Markdown(o))
	out := Outputs(o)
	keys := make([]string, 0, len(out))
	for k := range out {
		if k != "diagnosis" && out[k] != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	fmt.Fprintln(t.W, "outputs:")
	for _, k := range keys {
		fmt.Fprintf(t.W, "  %s=%s\n", k, out[k])
	}
	return nil
}
