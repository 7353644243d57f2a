package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/outcome"
)

// Slack posts one message per run outcome to an incoming webhook: Block Kit, with a plain-text
// fallback for notifications.
type Slack struct {
	url    string
	client *http.Client
	run    Run
	n      config.Notify
	warn   func(string)
}

// NewSlack returns the poster, or nil when no webhook is set.
func NewSlack(n config.Notify, run Run, warn func(string)) *Slack {
	if n.SlackWebhookURL == "" {
		return nil
	}
	return &Slack{url: n.SlackWebhookURL, client: &http.Client{Timeout: 15 * time.Second, Transport: &Retrying{}}, run: run, n: n, warn: warn}
}

// Retries is the retry policy of the webhook's requests (tests shorten its backoff).
func (s *Slack) Retries() *Retrying { return s.client.Transport.(*Retrying) }

// Finish posts the outcome. A failure is a warning, never the run's.
func (s *Slack) Finish(ctx context.Context, o outcome.Outcome) {
	if s == nil || o.Status == outcome.DryRun || o.Mode == config.ModeHistory {
		return
	}
	body, _ := json.Marshal(SlackMessage(o, s.run, s.n))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		s.warn("Slack not notified: " + Problem(0, err))
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		s.warn("Slack not notified: " + Problem(0, err))
		return
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.warn("Slack not notified: " + Problem(resp.StatusCode, nil))
	}
}

// slackHeadline is the outcome in a few words, with its emoji.
var slackHeadline = map[outcome.Status]string{
	outcome.Succeeded: ":white_check_mark: deployed", outcome.RolledBack: ":leftwards_arrow_with_hook: rolled back",
	outcome.Failed: ":x: failed", outcome.AwaitingPromotion: ":double_vertical_bar: awaiting promotion", outcome.Aborted: ":black_square_for_stop: aborted",
}

// SlackMessage is the webhook payload for an outcome: text (the fallback a notification
// shows) and blocks — the headline, the message, the facts, the diagnosis for a failure, how
// to promote for a paused deploy, and links.
func SlackMessage(o outcome.Outcome, run Run, n config.Notify) map[string]any {
	head := slackHeadline[o.Status]
	if o.Mode == config.ModeRollback && o.Status == outcome.RolledBack {
		head = ":leftwards_arrow_with_hook: rolled back on request"
	}
	where := o.Release + " in " + o.Namespace
	if n.Environment != "" {
		where += " (" + n.Environment + ")"
	}
	text := fmt.Sprintf("Shepherd %s: %s — %s", strings.Trim(strings.SplitN(head, " ", 2)[1], " "), where, o.Message)
	facts := slackFacts(o)
	blocks := []map[string]any{
		{"type": "header", "text": map[string]string{"type": "plain_text", "text": clip("Shepherd: "+where, 150)}},
		{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": clip("*"+head+"* — "+o.Message, 3000)}},
		{"type": "section", "fields": facts},
	}
	if d := o.Diagnosis; d != nil && d.Summary != "" {
		diag := "*Diagnosis* (" + string(d.Category) + "): " + d.Summary
		if d.Hint != "" {
			diag += "\n_" + d.Hint + "_"
		}
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": clip(diag, 3000)}})
	}
	if o.Status == outcome.AwaitingPromotion {
		how := fmt.Sprintf("*To promote*: run the workflow again with `mode: promote` (or `mode: abort`) for release `%s`, e.g. `gh workflow run promote.yml -f release=%s -f mode=promote`", o.Release, o.Release)
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": how}})
	}
	var links []string
	if run.URL != "" {
		links = append(links, "<"+run.URL+"|the workflow run>")
	}
	if n.EnvironmentURL != "" {
		links = append(links, "<"+n.EnvironmentURL+"|"+orDefault(n.Environment, "the environment")+">")
	}
	if len(links) > 0 {
		blocks = append(blocks, map[string]any{"type": "context", "elements": []map[string]string{{"type": "mrkdwn", "text": strings.Join(links, " · ")}}})
	}
	return map[string]any{"text": clip(text, 3000), "blocks": blocks}
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// slackFacts are the outcome's named results (outcome.Fields) with a value, and the image tag,
// as a section's fields: Slack takes at most 10.
func slackFacts(o outcome.Outcome) []map[string]string {
	var facts []map[string]string
	add := func(label, v string, code bool) {
		if code {
			v = "`" + v + "`"
		}
		facts = append(facts, map[string]string{"type": "mrkdwn", "text": "*" + label + "*\n" + v})
	}
	for i, f := range outcome.Facts(o) {
		add(f.Label, f.Value, f.Code)
		if i == 0 && o.ImageTag != "" { // after the status
			add("Image tag", o.ImageTag, true)
		}
	}
	if len(facts) > 10 {
		facts = facts[:10]
	}
	return facts
}
