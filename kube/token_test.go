package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

func TestRenewAt(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, tc := range []struct {
		name string
		c    Claims
		want time.Duration // after now
	}{
		{"GitHub's 5 minutes: a minute before", Claims{IssuedAt: now.Unix(), Expiry: now.Add(5 * time.Minute).Unix()}, 4 * time.Minute},
		{"6 s: a third before", Claims{IssuedAt: now.Unix(), Expiry: now.Add(6 * time.Second).Unix()}, 4 * time.Second},
		{"no expiry: a minute", Claims{}, time.Minute},
	} {
		if got := renewAt(now, tc.c).Sub(now); got != tc.want {
			t.Errorf("%s: renews after %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestRenewingFetchesOnlyWhenDue(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	fetched := 0
	r := &renewing{now: func() time.Time { return now }, fetch: func(context.Context) (string, error) {
		fetched++
		return jwt(t, map[string]any{"sub": fmt.Sprintf("repo:acme/web:environment:production#%d", fetched), "aud": "https://k8s",
			"iat": now.Unix(), "exp": now.Add(9 * time.Second).Unix()}), nil
	}}
	for i := 0; i < 3; i++ {
		if _, err := r.token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if fetched != 1 {
		t.Fatalf("fetched %d tokens for three requests within its life", fetched)
	}
	now = now.Add(6 * time.Second) // a third of 9 s before it expires
	if _, err := r.token(context.Background()); err != nil || fetched != 2 {
		t.Fatalf("fetched %d, %v: want a new token 3 s before expiry", fetched, err)
	}
	if got, want := r.identity(), `OIDC subject "repo:acme/web:environment:production#2" (audience https://k8s)`; got != want {
		t.Errorf("identity %q, want %q", got, want)
	}
}

func TestReadClaims(t *testing.T) {
	c, err := ReadClaims(jwt(t, map[string]any{"sub": "repo:a/b:ref:refs/heads/main", "exp": 42}))
	if err != nil || c.Subject != "repo:a/b:ref:refs/heads/main" || c.Expiry != 42 {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := ReadClaims("not-a-token"); err == nil {
		t.Error("a non-JWT read")
	}
}

// tokenService is a fake token service on a fake clock: tokens of life ttl, and an outage
// (down) in which every fetch fails.
type tokenService struct {
	t       *testing.T
	now     time.Time
	ttl     time.Duration
	down    bool
	fetches []time.Time // when each fetch was attempted
	issued  int
}

func (s *tokenService) fetch(context.Context) (string, error) {
	s.fetches = append(s.fetches, s.now)
	if s.down {
		return "", errors.New("GitHub's token service (audience https://k8s): 503 Service Unavailable")
	}
	s.issued++
	return jwt(s.t, map[string]any{"sub": "repo:acme/web:environment:production", "aud": "https://k8s",
		"iat": s.now.Unix(), "exp": s.now.Add(s.ttl).Unix(), "n": s.issued}), nil
}

func (s *tokenService) renewing(jitter float64) *renewing {
	return &renewing{fetch: s.fetch, now: func() time.Time { return s.now }, jitter: func() float64 { return jitter }}
}

// The token service goes down just before the renewal window and stays down 20 s of a 90 s
// token's last 30: every request in the outage gets the cached token, the service is asked
// only after backoffs (never on each request), and the first request after the outage renews.
func TestRenewingOutlivesAnOutage(t *testing.T) {
	s := &tokenService{t: t, now: time.Unix(1_000_000, 0), ttl: 90 * time.Second}
	r := s.renewing(0.5)
	first, err := r.token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.now = s.now.Add(59 * time.Second)
	s.down = true
	requests := 0
	for end := s.now.Add(20 * time.Second); s.now.Before(end); s.now = s.now.Add(100 * time.Millisecond) {
		tok, err := r.token(context.Background())
		requests++
		if err != nil || tok != first {
			t.Fatalf("at %s in the outage: %v (same token: %v), want the cached token", s.now.Sub(time.Unix(1_000_059, 0)), err, tok == first)
		}
	}
	if n := len(s.fetches) - 1; n < 3 || n > 10 {
		t.Errorf("%d requests in the outage asked the token service %d times, want a few retries with backoff", requests, n)
	}
	s.down = false
	for i := 0; i < 60; i++ { // within the next backoff (at most a third of 11 s), a new token
		s.now = s.now.Add(100 * time.Millisecond)
		if tok, err := r.token(context.Background()); err == nil && tok != first {
			return
		}
	}
	t.Errorf("no new token in the 6 s after the outage (fetches at %v)", s.fetches)
}

// The waits between attempts double with jitter, are bounded by maxRetry, and never run past
// the cached token's life: attempts go on until it expires.
func TestRenewingBackoff(t *testing.T) {
	r := &renewing{jitter: func() float64 { return 0 }}
	var got []time.Duration
	for r.failures = 1; r.failures <= 8; r.failures++ {
		got = append(got, r.backoff(0))
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, 15 * time.Second, 15 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("backoff with no jitter %v, want %v", got, want)
	}
	seen := map[time.Duration]bool{}
	r.jitter = nil // math/rand
	for i := 0; i < 200; i++ {
		r.failures = 1 + i%10
		d := r.backoff(0)
		if d < minRetry || d > maxRetry {
			t.Fatalf("backoff after %d failures: %s, want within [%s, %s]", r.failures, d, minRetry, maxRetry)
		}
		seen[d] = true
	}
	if len(seen) < 20 {
		t.Errorf("backoff took only %d values in 200 draws: no jitter", len(seen))
	}
	r.jitter, r.failures = func() float64 { return 0.99 }, 6
	if d := r.backoff(9 * time.Second); d != 3*time.Second {
		t.Errorf("backoff with 9 s of token left: %s, want 3 s (a third)", d)
	}
	if d := r.backoff(time.Second); d != minRetry {
		t.Errorf("backoff with 1 s of token left: %s, want %s", d, minRetry)
	}
}

// Once the cached token has expired, the error surfaces: it names the token service and says
// the token expired, never the token; within the backoff it is answered without a fetch.
func TestRenewingSurfacesTheErrorOnExpiry(t *testing.T) {
	s := &tokenService{t: t, now: time.Unix(1_000_000, 0), ttl: 10 * time.Second}
	r := s.renewing(0.5)
	first, err := r.token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.down = true
	s.now = s.now.Add(10 * time.Second)
	_, err = r.token(context.Background())
	if err == nil {
		t.Fatal("an expired token was used")
	}
	for _, want := range []string{"GitHub's token service", "expired", "503"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), first) || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("the error names the token: %v", err)
	}
	n := len(s.fetches)
	if _, err := r.token(context.Background()); err == nil || len(s.fetches) != n {
		t.Errorf("a request within the backoff: %v, fetches %d → %d; want the error without asking again", err, n, len(s.fetches))
	}
	s.down, s.now = false, s.now.Add(maxRetry)
	if tok, err := r.token(context.Background()); err != nil || tok == first {
		t.Errorf("after the outage: %v, want a new token", err)
	}
}

// With no token yet, a failure is the token service's error as it is, and the service is not
// asked again on every request.
func TestRenewingNoTokenYet(t *testing.T) {
	s := &tokenService{t: t, now: time.Unix(1_000_000, 0), ttl: time.Minute, down: true}
	r := s.renewing(0.5)
	for i := 0; i < 5; i++ {
		if _, err := r.token(context.Background()); err == nil || !strings.Contains(err.Error(), "GitHub's token service") {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if len(s.fetches) != 1 {
		t.Errorf("5 requests in a row asked the token service %d times, want once (then backoff)", len(s.fetches))
	}
}
