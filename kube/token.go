package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// TokenFunc fetches a new bearer token (the job's OIDC ID token, for a keyless run).
type TokenFunc func(ctx context.Context) (string, error)

// Keyless is a cluster reached with bearer tokens from a TokenFunc, renewed before they
// expire: a cluster that trusts GitHub's OIDC issuer.
type Keyless struct {
	Server string
	CA     []byte // PEM; nil: the system's roots
	Token  TokenFunc
	// Now is the clock tokens are renewed by (default time.Now).
	Now func() time.Time
}

// NewKeyless builds clients for k: a kubeconfig of the cluster alone (no user) whose requests
// carry the current token.
func NewKeyless(k Keyless, namespace string) (*Clients, error) {
	if k.Token == nil {
		return nil, errors.New("keyless: no token source")
	}
	raw := clientcmdapi.NewConfig()
	raw.Clusters["cluster"] = &clientcmdapi.Cluster{Server: k.Server, CertificateAuthorityData: k.CA}
	raw.AuthInfos["oidc"] = &clientcmdapi.AuthInfo{}
	raw.Contexts["keyless"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "oidc", Namespace: namespace}
	raw.CurrentContext = "keyless"
	cc := clientcmd.NewNonInteractiveClientConfig(*raw, "", &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: namespace}}, nil)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("cluster_url: %w", err)
	}
	src := &renewing{fetch: k.Token, now: k.Now}
	if src.now == nil {
		src.now = time.Now
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &bearer{base: rt, src: src} })
	cfg.QPS, cfg.Burst = 50, 100
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &Clients{Config: cfg, Typed: typed, Getter: &Getter{cc: cc, cfg: cfg, namespace: namespace}, Namespace: namespace}
	c.identity = src.identity
	return c, nil
}

// renewing caches a token until a third of its life is left (at most a minute before it
// expires), then fetches a new one. A failed renewal keeps the token while it is still valid
// and tries again after a backoff with jitter, so an outage of the token service shorter than
// the token's remaining life is invisible; the error surfaces only once the token has
// expired (or when there is none).
type renewing struct {
	fetch TokenFunc
	now   func() time.Time
	// jitter returns a number in [0, 1) (default math/rand/v2).
	jitter func() float64

	mu       sync.Mutex
	tok      string
	renewAt  time.Time
	expiry   time.Time // when tok stops being valid
	claims   Claims
	failures int       // renewals failed in a row
	nextTry  time.Time // no fetch before this after a failure
	lastErr  error
	fetching bool // a renewal is in flight (the cached token is still valid)
}

// Claims are what a token says of whom it speaks for (read, not verified: the API server
// verifies it).
type Claims struct {
	Subject  string `json:"sub"`
	Audience any    `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
}

// Backoff bounds between renewal attempts after a failure.
const (
	minRetry = 500 * time.Millisecond
	maxRetry = 30 * time.Second
)

// unknownLife is how long a token whose expiry cannot be read is taken to be valid.
const unknownLife = 2 * time.Minute

// fetchTimeout bounds a renewal made while the token is still valid: a token service that
// hangs delays one request at most this long, never the others (they use the cached token).
const fetchTimeout = 10 * time.Second

func (r *renewing) token(ctx context.Context) (string, error) {
	r.mu.Lock()
	now := r.now()
	if !r.validAt(now) {
		defer r.mu.Unlock()
		if r.lastErr != nil && now.Before(r.nextTry) {
			return "", r.expired(now, r.lastErr)
		}
		tok, err := r.fetch(ctx)
		return r.record(tok, err)
	}
	tok := r.tok
	if now.Before(r.renewAt) || now.Before(r.nextTry) || r.fetching {
		r.mu.Unlock()
		return tok, nil
	}
	r.fetching = true // this request renews; the others go on with the cached token
	r.mu.Unlock()
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	fresh, err := r.fetch(fctx)
	cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fetching = false
	return r.record(fresh, err)
}

func (r *renewing) validAt(now time.Time) bool { return r.tok != "" && now.Before(r.expiry) }

// record keeps a fetched token, or after a failed fetch returns the cached token while it is
// valid (the next attempt waits out a backoff) and the error once it is not.
func (r *renewing) record(tok string, err error) (string, error) {
	now := r.now()
	if err != nil {
		r.failures++
		r.lastErr = err
		r.nextTry = now.Add(r.backoff(r.expiry.Sub(now)))
		if r.validAt(now) {
			return r.tok, nil
		}
		return "", r.expired(now, err)
	}
	c, _ := ReadClaims(tok)
	r.tok, r.claims, r.failures, r.nextTry, r.lastErr = tok, c, 0, time.Time{}, nil
	r.renewAt = renewAt(now, c)
	r.expiry = now.Add(unknownLife)
	if c.Expiry != 0 {
		r.expiry = time.Unix(c.Expiry, 0)
	}
	return tok, nil
}

// expired is the error of a request made without a valid token: err (the token service's)
// and, when there was a token, when it expired. The token itself is never named.
func (r *renewing) expired(now time.Time, err error) error {
	if r.tok == "" {
		return err
	}
	return fmt.Errorf("the token expired %s ago and could not be renewed (%d attempts): %w",
		now.Sub(r.expiry).Round(time.Second), r.failures, err)
}

// backoff is the wait before the next attempt after r.failures failures in a row: it doubles
// from a second up to maxRetry, with jitter (half to all of it), and while a token is still
// valid (left > 0) it is at most a third of its remaining life, so attempts continue until it
// expires; never under minRetry.
func (r *renewing) backoff(left time.Duration) time.Duration {
	d := maxRetry
	if r.failures <= 6 {
		d = min(time.Second<<(r.failures-1), maxRetry)
	}
	j := r.jitter
	if j == nil {
		j = rand.Float64
	}
	d = time.Duration(float64(d) * (0.5 + 0.5*j()))
	if left > 0 && d > left/3 {
		d = left / 3
	}
	return max(d, minRetry)
}

// renewAt is when a token is renewed: a third of its life before it expires, at most a
// minute; a token whose expiry cannot be read is fetched again after a minute.
func renewAt(now time.Time, c Claims) time.Time {
	if c.Expiry == 0 {
		return now.Add(time.Minute)
	}
	exp := time.Unix(c.Expiry, 0)
	life := exp.Sub(now)
	if c.IssuedAt > 0 {
		life = exp.Sub(time.Unix(c.IssuedAt, 0))
	}
	return exp.Add(-min(life/3, time.Minute))
}

// identity names whom the current token speaks for ("" before the first).
func (r *renewing) identity() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.claims.Subject == "" {
		return ""
	}
	return fmt.Sprintf("OIDC subject %q (audience %v)", r.claims.Subject, r.claims.Audience)
}

// ReadClaims reads a JWT's payload without verifying it.
func ReadClaims(jwt string) (Claims, error) {
	var c Claims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return c, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}

// bearer puts the current token on every request.
type bearer struct {
	base http.RoundTripper
	src  *renewing
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := b.src.token(req.Context())
	if err != nil {
		return nil, fmt.Errorf("the job's OIDC token: %w", err)
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+tok)
	return b.base.RoundTrip(req)
}

// WhoAmI asks the cluster whom it takes the client's credentials for (a SelfSubjectReview,
// which every authenticated user may make). A refusal names the token's subject and
// audience, never the token.
// what names the credential and hint says what to check when the cluster refuses it.
func WhoAmI(ctx context.Context, c *Clients, what, hint string) (string, error) {
	r, err := c.Typed.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authv1.SelfSubjectReview{}, metav1.CreateOptions{})
	switch {
	case apierrors.IsUnauthorized(err):
		return "", fmt.Errorf("the cluster refused %s (401 Unauthorized) for %s: %s", what, subjectOr(c.Identity()), hint)
	case err != nil:
		return "", fmt.Errorf("the cluster at %s: %v", c.Config.Host, Explain(err))
	}
	u := r.Status.UserInfo
	s := fmt.Sprintf("user %q", u.Username)
	if id := c.Identity(); id != "" {
		s += " (" + id + ")"
	}
	return s, nil
}

// SetIdentity names the identity the cluster took the credentials for (WhoAmI's answer).
func (c *Clients) SetIdentity(who string) { c.identity = func() string { return who } }

func subjectOr(s string) string {
	if s == "" {
		return "an unknown subject"
	}
	return s
}
