package testcluster

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Google is GKE's way in, locally: stand-ins of Google's Security Token Service (which
// exchanges a GitHub OIDC token for a federated access token, as Workload Identity Federation
// does) and of the IAM credentials service (which turns that into a service account's access
// token) — only Google reaches the real ones — and the API server's token webhook maps the
// service account tokens they issued to the account's email, as GKE names Google users.
type Google struct {
	// URL is where both stand-ins answer (token_url: URL/v1/token; impersonation:
	// URL/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken).
	URL string

	oidc *OIDC
	mu   sync.Mutex
	fed  map[string]string // federated token → the GitHub subject it speaks for
	sa   map[string]string // service account token → email
	may  map[string]string // service account email → the subject that may impersonate it
}

func (c *Cluster) startGoogle() (*Google, error) {
	g := &Google{oidc: c.OIDC, fed: map[string]string{}, sa: map[string]string{}, may: map[string]string{}}
	if err := c.pki.sign("google", "google-stand-in", "", true); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/token", g.exchange)
	mux.HandleFunc("POST /v1/projects/-/serviceAccounts/", g.impersonate)
	addr, stop, err := serveTLS(c.pki, "google", mux)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, stop)
	g.URL = "https://" + addr
	return g, nil
}

// Allow lets the jobs whose token's sub is subject impersonate service account email.
func (g *Google) Allow(email, subject string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.may[email] = subject
}

func randomToken(prefix string) string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return prefix + b64url(b)
}

// exchange is STS's token exchange: a GitHub ID token (verified) for a federated token.
func (g *Google) exchange(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	claims, err := g.oidc.Verify(r.Form.Get("subject_token"))
	if err != nil {
		http.Error(w, fmt.Sprintf(`{"error":"invalid_grant","error_description":%q}`, err.Error()), http.StatusBadRequest)
		return
	}
	tok := randomToken("ya29.fed-")
	sub, _ := claims["sub"].(string)
	g.mu.Lock()
	g.fed[tok] = sub
	g.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"token_type": "Bearer", "expires_in": 3600})
}

// impersonate is generateAccessToken: a service account's token for a federated token whose
// subject may impersonate it.
func (g *Google) impersonate(w http.ResponseWriter, r *http.Request) {
	email, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/v1/projects/-/serviceAccounts/"), ":generateAccessToken")
	g.mu.Lock()
	sub := g.fed[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	allowed := ok && sub != "" && g.may[email] == sub
	tok := randomToken("ya29.sa-")
	if allowed {
		g.sa[tok] = email
	}
	g.mu.Unlock()
	if !allowed {
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": 403, "message": "Permission 'iam.serviceAccounts.getAccessToken' denied", "status": "PERMISSION_DENIED"}})
		return
	}
	writeJSON(w, map[string]string{"accessToken": tok, "expireTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
}

// review is the token webhook's answer for a Google token: the service account's email.
func (g *Google) review(token string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	email, ok := g.sa[token]
	return email, ok
}
