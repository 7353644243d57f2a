package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strings"
	"time"
)

// HealthyBody decides whether a health endpoint's answer is healthy: a 2xx status, and when
// the body is a JSON object with a "status" field, that field is "healthy" (any case).
func HealthyBody(code int, contentType string, body []byte) error {
	if code < 200 || code > 299 {
		return fmt.Errorf("HTTP %d", code)
	}
	trimmed := strings.TrimSpace(string(body))
	if !strings.Contains(contentType, "json") && !strings.HasPrefix(trimmed, "{") {
		return nil
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil // not a JSON object: the status code decides
	}
	st, ok := doc["status"]
	if !ok {
		return nil
	}
	if s, _ := st.(string); !strings.EqualFold(s, "healthy") {
		return fmt.Errorf("HTTP %d but status is %q", code, fmt.Sprint(st))
	}
	return nil
}

// CheckHTTP asks url every interval until it answers healthy (HealthyBody) or ctx ends; then
// it returns the last problem seen. Each attempt has its own 5s limit.
func CheckHTTP(ctx context.Context, client *http.Client, url string, interval time.Duration) error {
	_, err := AskUntilHealthy(ctx, client, url, interval)
	return err
}

// Answer is what one request got: the status code (0 when none came) and the start of the body.
type Answer struct {
	Code int
	Body string // at most 200 bytes, for the evidence
}

// AskUntilHealthy is CheckHTTP that also returns the last answer, for the evidence.
func AskUntilHealthy(ctx context.Context, client *http.Client, url string, interval time.Duration) (Answer, error) {
	if client == nil {
		client = http.DefaultClient
	}
	var last error
	var answer Answer
	for {
		a, err := checkOnce(ctx, client, url)
		if err == nil {
			return a, nil
		}
		if last == nil || ctx.Err() == nil {
			last, answer = err, a // an attempt cut short by the deadline does not hide the last real answer
		}
		select {
		case <-ctx.Done():
			return answer, fmt.Errorf("no healthy answer in time; last: %w", last) // the caller names the URL
		case <-time.After(interval):
		}
	}
}

func checkOnce(ctx context.Context, client *http.Client, url string) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Answer{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			return Answer{}, ue.Err // its text quotes the URL, which the caller names once
		}
		return Answer{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a := Answer{Code: resp.StatusCode, Body: excerpt(body, 200)}
	return a, HealthyBody(resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

func excerpt(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
