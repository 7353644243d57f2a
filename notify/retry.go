// Package notify tells the world outside the job how a run went: a GitHub deployment and its
// statuses per environment (the Deployments API, through go-github), and a Slack message.
// Neither may cost the deploy anything: every request is retried with backoff on a 5xx, a rate
// limit or a network error, then given up with a warning; the outcome is never changed.
package notify

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Retrying is an http.RoundTripper that retries a request on a network error, a 5xx, a 429 or
// a 403 that says the rate limit is spent, waiting Backoff, then twice that, and so on
// (Retry-After, when the server sends one, up to MaxWait).
type Retrying struct {
	Next     http.RoundTripper // default http.DefaultTransport
	Attempts int               // default 3
	Backoff  time.Duration     // default 1s
	MaxWait  time.Duration     // default 10s
	Sleep    func(time.Duration)
}

// RoundTrip sends req, retrying as Retrying says. The last response (or error) is returned.
func (t *Retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	next, attempts, wait, maxWait, sleep := t.Next, t.Attempts, t.Backoff, t.MaxWait, t.Sleep
	if next == nil {
		next = http.DefaultTransport
	}
	if attempts <= 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = time.Second
	}
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	if sleep == nil {
		sleep = time.Sleep
	}
	for i := 1; ; i++ {
		r := req
		if i > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		resp, err := next.RoundTrip(r)
		if i >= attempts || !retryable(resp, err) || req.Context().Err() != nil || (i > 1 && req.Body != nil && req.GetBody == nil) {
			return resp, err
		}
		d := wait
		if resp != nil {
			if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s >= 0 {
				d = min(time.Duration(s)*time.Second, maxWait)
			}
			resp.Body.Close()
		}
		sleep(d)
		wait *= 2
	}
}

func retryable(resp *http.Response, err error) bool {
	if err != nil {
		return true
	}
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests:
		return true
	case resp.StatusCode == http.StatusForbidden && resp.Header.Get("X-RateLimit-Remaining") == "0":
		return true
	}
	return false
}

// Problem describes a failed request for a warning: the HTTP status when there was one, the
// network error otherwise — never the URL (a webhook URL is a credential).
func Problem(status int, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case status != 0 && err != nil:
		return fmt.Sprintf("HTTP %d (%v)", status, err)
	case status != 0:
		return fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	case err != nil:
		return err.Error()
	}
	return "no answer"
}
