package outcome

import (
	"context"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
)

// Scrubber strips credentials from text: every URL's user info and query secrets
// (config.RedactURLs), and each known secret value (config.Config.SecretValues) as ***.
type Scrubber func(string) string

// NewScrubber is the Scrubber for secrets.
func NewScrubber(secrets []string) Scrubber {
	return func(s string) string { return diagnose.Redact(config.RedactURLs(s), secrets) }
}

// Redact is o with every text in it scrubbed: the message, the diagnosis, the timeline, the
// stages, the revisions. It is what every sink (outputs, summary, JSON, text, the GitHub
// deployment's status, Slack) is given, so none of them can show a credential. o itself is
// left as it was.
func Redact(o Outcome, scrub Scrubber) Outcome {
	return diagnose.Scrubbed(o, scrub)
}

// RedactReporter is r with every event and the outcome scrubbed before r sees them.
func RedactReporter(r Reporter, scrub Scrubber) Reporter {
	if r == nil {
		return nil
	}
	return &redacting{Events: r, r: r, scrub: scrub}
}

// RedactEvents is e with every event's message scrubbed before e sees it.
func RedactEvents(e Events, scrub Scrubber) Events {
	if e == nil {
		return nil
	}
	return &redacting{Events: e, scrub: scrub}
}

type redacting struct {
	Events
	r     Reporter
	scrub Scrubber
}

func (x *redacting) Event(ctx context.Context, e Event) {
	e.Message = x.scrub(e.Message)
	x.Events.Event(ctx, e)
}

func (x *redacting) Finish(ctx context.Context, o Outcome) error {
	return x.r.Finish(ctx, Redact(o, x.scrub))
}
