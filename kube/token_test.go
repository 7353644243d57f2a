package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
