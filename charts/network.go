package charts

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/shepherd-deploy/shepherd/config"
)

// Retry policy of every request: network errors and 5xx/429 answers are tried again, Tries
// times in all, waiting Backoff, then twice that, and so on. Tests shorten it.
var (
	Tries   = 4
	Backoff = 500 * time.Millisecond
)

// network is the HTTP side of a resolution: one transport (system roots plus the given CA,
// the proxy from the environment as net/http reads it), with retries, for the registry client
// and for Helm's HTTP getter.
type network struct {
	s         Source
	host      string // the one host the credentials go to ("": none)
	transport *http.Transport
	registry  *registry.Client
	getters   getter.Providers
}

func newNetwork(ctx context.Context, s Source, dir string) (*network, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(s.CA) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pem := s.CA
		if !strings.Contains(string(pem), "-----BEGIN") {
			if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(pem))); err == nil {
				pem = dec
			}
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: holds no PEM certificate (give the CA's PEM, base64 of it, or a path to a PEM file)", config.InRegistryCA)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	n := &network{s: s, host: credentialHost(s), transport: tr}
	client := &http.Client{Transport: &retrying{base: tr, ctx: ctx}, Timeout: s.Timeout}
	// The credentials go to their one host, every other registry is asked anonymously: never
	// Helm's ClientOptBasicAuth (which offers them to every host), nor the runner's
	// ~/.config/helm or ~/.docker (a credentials file of its own, unused).
	authorizer := auth.Client{Client: client, Cache: auth.NewCache(), Credential: credential(s, n.host)}
	authorizer.SetUserAgent("Helm/3 (shepherd)")
	rc, err := registry.NewClient(registry.ClientOptHTTPClient(client), registry.ClientOptAuthorizer(authorizer),
		registry.ClientOptCredentialsFile(filepath.Join(dir, "registry.json")))
	if err != nil {
		return nil, fmt.Errorf("charts: registry client: %v", err)
	}
	n.registry = rc
	n.getters = getter.Providers{{Schemes: []string{"http", "https"}, New: func(o ...getter.Option) (getter.Getter, error) {
		g, err := getter.NewHTTPGetter(append(o, getter.WithTransport(tr), getter.WithTimeout(s.Timeout))...)
		if err != nil {
			return nil, err
		}
		return &retryGetter{g: g, ctx: ctx}, nil
	}}, {Schemes: []string{registry.OCIScheme}, New: func(o ...getter.Option) (getter.Getter, error) {
		return getter.NewOCIGetter(append(o, getter.WithRegistryClient(rc))...)
	}}}
	return n, nil
}

// retrying retries idempotent requests on network errors and 5xx/429 answers. Helm's
// registry client makes its requests without a context: ctx (the run's) ends them too.
type retrying struct {
	base http.RoundTripper
	ctx  context.Context
}

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.ctx != nil {
		ctx, cancel := context.WithCancel(req.Context())
		context.AfterFunc(t.ctx, cancel)
		req = req.WithContext(ctx)
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return t.base.RoundTrip(req)
	}
	for i := 0; ; i++ {
		resp, err := t.base.RoundTrip(req)
		if i == Tries-1 || !retryable(resp, err) || req.Context().Err() != nil {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if sleep(req.Context(), Backoff<<i) != nil {
			return nil, req.Context().Err()
		}
	}
}

func retryable(resp *http.Response, err error) bool {
	if err != nil {
		return !untrusted(err)
	}
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryGetter retries Helm's HTTP getter (whose transport must be an *http.Transport, so the
// retries cannot sit in it) on network errors and 5xx/429 answers.
type retryGetter struct {
	g   getter.Getter
	ctx context.Context
}

// fetchStatusRE finds the status in the HTTP getter's "failed to fetch URL : 503 Service
// Unavailable".
var fetchStatusRE = regexp.MustCompile(`failed to fetch .* : (\d{3})\b`)

func (r *retryGetter) Get(url string, o ...getter.Option) (buf *bytes.Buffer, err error) {
	for i := 0; ; i++ {
		buf, err = r.g.Get(url, o...)
		if err == nil || i == Tries-1 {
			return buf, err
		}
		code := statusOf(err)
		if code > 0 && code < 500 && code != http.StatusTooManyRequests || code == 0 && untrusted(err) {
			return buf, err
		}
		if sleep(r.ctx, Backoff<<i) != nil {
			return nil, r.ctx.Err()
		}
	}
}

// statusOf is the HTTP status an error reports (0: none, a network error).
func statusOf(err error) int {
	var er *errcode.ErrorResponse
	if errors.As(err, &er) {
		return er.StatusCode
	}
	if m := fetchStatusRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// untrusted reports a TLS verification failure (an unknown CA, a wrong host name).
func untrusted(err error) bool {
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var cv *tls.CertificateVerificationError
	return errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &cv) ||
		strings.Contains(err.Error(), "x509: certificate signed by unknown authority")
}

// unreachable reports a network failure (refused, timed out, no such host).
func unreachable(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.As(err, &de)
}

// explain turns a failure to reach where (a registry host or repository URL) into an error
// that names the input to change, never the credential.
func (n *network) explain(input, where string, err error) error {
	code := statusOf(err)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden || errors.Is(err, auth.ErrBasicCredentialNotFound):
		if code == 0 {
			code = http.StatusUnauthorized
		}
		given := "no credentials were given"
		if n.s.Username != "" || n.s.Password != "" {
			given = fmt.Sprintf("the credentials given (%s %q, %s) were refused", config.InRegistryUser, n.s.Username, config.InRegistryPass)
		}
		hint := ""
		if strings.HasPrefix(where, "ghcr.io") {
			hint = "; for ghcr.io the default password is the job's github_token, which needs `permissions: packages: read`"
		}
		return fmt.Errorf("%s: %s answered %d %s: %s; set %s and %s%s", input, where, code, http.StatusText(code), given,
			config.InRegistryUser, config.InRegistryPass, hint)
	case untrusted(err):
		return fmt.Errorf("%s: %s's TLS certificate is not trusted (%v); set %s to the CA that signed it", input, where, rootCause(err), config.InRegistryCA)
	case code >= 500 || code == http.StatusTooManyRequests:
		return fmt.Errorf("%s: %s answered %d %s, %d times (retried with backoff); try again later", input, where, code, http.StatusText(code), Tries)
	case unreachable(err):
		return fmt.Errorf("%s: %s is unreachable after %d tries: %v", input, where, Tries, rootCause(err))
	}
	return fmt.Errorf("%s: %s: %v", input, where, err)
}

// rootCause is the innermost error's message (a dial error without the request's URL).
func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// describe is err with the input to change, for errors that come out of Helm's dependency
// manager (which names the repository itself). A refusal names the host that refused, and
// whether it was sent the credentials.
func (n *network) describe(err error) string {
	code := statusOf(err)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden || errors.Is(err, auth.ErrBasicCredentialNotFound):
		host := refusedHost(err)
		switch {
		case host == "" || n.host != "" && strings.EqualFold(host, n.host):
			return fmt.Sprintf("%v: the credentials were refused; set %s and %s", err, config.InRegistryUser, config.InRegistryPass)
		case n.host == "":
			return fmt.Sprintf("%v: %s refused an anonymous request; set %s to it and %s and %s to its credentials", err, host, config.InChartRepo, config.InRegistryUser, config.InRegistryPass)
		}
		return fmt.Sprintf("%v: %s refused an anonymous request: %s and %s go only to %s, the registry or repository %s or %s names; a dependency elsewhere must be public, or come from %s",
			err, host, config.InRegistryUser, config.InRegistryPass, n.host, config.InChart, config.InChartRepo, n.host)
	case untrusted(err):
		return fmt.Sprintf("%v: set %s to the CA that signed the server's certificate", err, config.InRegistryCA)
	}
	return err.Error()
}

// fetchURLRE finds the URL in the HTTP getter's "failed to fetch URL : 401 Unauthorized" and
// in the registry client's `GET "URL": basic credential not found`.
var fetchURLRE = regexp.MustCompile(`failed to fetch (\S+) : \d{3}|(?:GET|HEAD) "([^"]+)"`)

// refusedHost is the host a refusal came from ("" when err does not say).
func refusedHost(err error) string {
	var er *errcode.ErrorResponse
	if errors.As(err, &er) && er.URL != nil {
		return er.URL.Host
	}
	if m := fetchURLRE.FindStringSubmatch(err.Error()); m != nil {
		if u, perr := url.Parse(m[1] + m[2]); perr == nil {
			return u.Host
		}
	}
	return ""
}
