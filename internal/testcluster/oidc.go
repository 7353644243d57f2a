package testcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// OIDC is the local cluster's OpenID Connect issuer: the kube-apiserver trusts it through its
// structured authentication configuration, as a cluster trusts GitHub's issuer
// (token.actions.githubusercontent.com) for keyless deploys. It serves discovery and its keys
// over HTTPS with the cluster's CA, and — a local stand-in for GitHub's token service, which
// only a runner reaches — answers the runner's ID-token requests
// (ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN) with GitHub-shaped tokens.
type OIDC struct {
	// Issuer is the issuer URL (the tokens' iss).
	Issuer string
	// Audience is the audience the cluster accepts (its API server's URL, the default of
	// Shepherd's oidc_audience).
	Audience string
	// UsernamePrefix is what the cluster puts before a token's sub to make a user name.
	UsernamePrefix string

	key      *ecdsa.PrivateKey
	kid      string
	requests string // the runner's token request URL (plain HTTP on loopback)

	mu      sync.Mutex
	grants  map[string]Grant     // request token → what its tokens say
	issued  map[string]int       // request token → tokens issued
	down    map[string]time.Time // request token → its requests fail until then
	refused map[string]int       // request token → requests refused in an outage
	closer  []func()
}

// Grant is what the ID tokens a job gets say: GitHub's claims for its repository and
// environment, and how long each lives.
type Grant struct {
	Repository  string
	Environment string
	TTL         time.Duration // default 5 minutes, as GitHub's
}

// Subject is the token's sub, as GitHub writes it for a job in an environment.
func (g Grant) Subject() string {
	if g.Environment != "" {
		return "repo:" + g.Repository + ":environment:" + g.Environment
	}
	return "repo:" + g.Repository + ":ref:refs/heads/main"
}

// startOIDC starts the issuer before the API server (which fetches its keys at start).
func (c *Cluster) startOIDC() (*OIDC, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(elliptic.MarshalCompressed(elliptic.P256(), key.X, key.Y))
	o := &OIDC{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:8]), grants: map[string]Grant{}, issued: map[string]int{},
		down: map[string]time.Time{}, refused: map[string]int{},
		Audience: c.APIServerURL, UsernamePrefix: "github:"}
	if err := c.pki.sign("oidc", "oidc-issuer", "", true); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(c.pki.path("oidc.crt"), c.pki.path("oidc.key"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o.Issuer = "https://" + ln.Addr().String()
	srv := &http.Server{Handler: o.issuerHandler(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, err
	}
	o.requests = "http://" + rl.Addr().String() + "/_apis/distributedtask/token?api-version=2.0"
	rs := &http.Server{Handler: http.HandlerFunc(o.tokenRequest)}
	go func() { _ = rs.Serve(rl) }()
	o.closer = []func(){func() { srv.Close() }, func() { rs.Close() }}
	return o, o.writeAuthenticationConfig(filepath.Join(c.Dir, "authentication.yaml"), string(c.pki.read("ca.crt")))
}

func (o *OIDC) close() {
	for _, f := range o.closer {
		f()
	}
}

// writeAuthenticationConfig is the API server's structured authentication configuration:
// tokens of this issuer for the API server's audience, the user named by sub with a prefix.
func (o *OIDC) writeAuthenticationConfig(path, caPEM string) error {
	indented := "      " + strings.ReplaceAll(strings.TrimSpace(caPEM), "\n", "\n      ")
	cfg := fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: %s
    audiences: [%s]
    certificateAuthority: |
%s
  claimMappings:
    username: {claim: sub, prefix: %q}
    extra:
    - key: github.com/repository
      valueExpression: claims.repository
    - key: github.com/environment
      valueExpression: 'has(claims.environment) ? claims.environment : ""'
`, o.Issuer, o.Audience, indented, o.UsernamePrefix)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

func (o *OIDC) issuerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"issuer": o.Issuer, "jwks_uri": o.Issuer + "/.well-known/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public", "pairwise"},
			"id_token_signing_alg_values_supported": []string{"ES256"}, "claims_supported": []string{"sub", "aud", "exp", "iat", "iss", "repository", "environment"}})
	})
	mux.HandleFunc("/.well-known/jwks", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": o.kid,
			"x": b64url(o.key.X.FillBytes(make([]byte, 32))), "y": b64url(o.key.Y.FillBytes(make([]byte, 32)))}}})
	})
	return mux
}

// Runner registers a job's grant and returns the environment a runner gives a job with
// `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN).
func (o *OIDC) Runner(g Grant) []string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := b64url(b)
	o.mu.Lock()
	o.grants[tok] = g
	o.mu.Unlock()
	return []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + o.requests, "ACTIONS_ID_TOKEN_REQUEST_TOKEN=" + tok}
}

// Issued is how many ID tokens the job holding runner environment env was given.
func (o *OIDC) Issued(env []string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.issued[requestToken(env)]
}

// Outage makes the token service fail (503) every request of the job holding runner
// environment env for d from now: a blip of GitHub's token service, for that job alone.
func (o *OIDC) Outage(env []string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down[requestToken(env)] = time.Now().Add(d)
}

// Refused is how many token requests of the job holding env failed in an outage.
func (o *OIDC) Refused(env []string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refused[requestToken(env)]
}

func requestToken(env []string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "ACTIONS_ID_TOKEN_REQUEST_TOKEN="); ok {
			return v
		}
	}
	return ""
}

// tokenRequest answers GET <url>&audience=AUD with Authorization: Bearer <request token>,
// as GitHub's token service does: {"value": "<JWT>"}.
func (o *OIDC) tokenRequest(w http.ResponseWriter, r *http.Request) {
	req := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	o.mu.Lock()
	g, ok := o.grants[req]
	down := ok && time.Now().Before(o.down[req])
	switch {
	case down:
		o.refused[req]++
	case ok:
		o.issued[req]++
	}
	o.mu.Unlock()
	if down {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = "https://github.com/" + strings.Split(g.Repository, "/")[0]
	}
	jwt, err := o.Token(g, aud)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]string{"value": jwt})
}

// Token signs an ID token for grant g and audience aud.
func (o *OIDC) Token(g Grant, aud string) (string, error) {
	ttl := g.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	now := time.Now()
	claims := map[string]any{"iss": o.Issuer, "aud": aud, "sub": g.Subject(), "repository": g.Repository,
		"repository_owner": strings.Split(g.Repository, "/")[0], "ref": "refs/heads/main", "event_name": "workflow_dispatch",
		"iat": now.Unix(), "nbf": now.Add(-5 * time.Second).Unix(), "exp": now.Add(ttl).Unix(), "jti": fmt.Sprint(now.UnixNano())}
	if g.Environment != "" {
		claims["environment"] = g.Environment
	}
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": o.kid})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := b64url(header) + "." + b64url(payload)
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, o.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := append(pad32(r), pad32(s)...)
	return signing + "." + b64url(sig), nil
}

func pad32(n *big.Int) []byte { return n.FillBytes(make([]byte, 32)) }

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Verify checks a token this issuer signed and returns its claims.
func (o *OIDC) Verify(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, fmt.Errorf("bad signature encoding")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&o.key.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, fmt.Errorf("signature does not verify")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, err
	}
	if exp, _ := claims["exp"].(float64); time.Now().Unix() > int64(exp) {
		return nil, fmt.Errorf("expired")
	}
	return claims, nil
}
