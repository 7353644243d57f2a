package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
// expires), then fetches a new one.
type renewing struct {
	fetch TokenFunc
	now   func() time.Time

	mu      sync.Mutex
	tok     string
	renewAt time.Time
	claims  Claims
}

// Claims are what a token says of whom it speaks for (read, not verified: the API server
// verifies it).
type Claims struct {
	Subject  string `json:"sub"`
	Audience any    `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
}

func (r *renewing) token(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tok != "" && r.now().Before(r.renewAt) {
		return r.tok, nil
	}
	tok, err := r.fetch(ctx)
	if err != nil {
		return "", err
	}
	c, _ := ReadClaims(tok)
	r.tok, r.claims = tok, c
	r.renewAt = renewAt(r.now(), c)
	return tok, nil
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
