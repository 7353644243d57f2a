package testcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go/aws/credentials"
	v4 "github.com/aws/aws-sdk-go/aws/signer/v4"
	authnv1 "k8s.io/api/authentication/v1"
	"sigs.k8s.io/aws-iam-authenticator/pkg/token"
)

// AWS is EKS's way in, locally: a token webhook authenticator for the API server that
// verifies `aws eks get-token` tokens with aws-iam-authenticator's own verifier (as EKS
// does), and a local stand-in of AWS STS (only AWS reaches the real one) that checks the
// presigned GetCallerIdentity request's SigV4 signature against the access keys it knows.
// The verifier reaches the stand-in because this process's default transport dials
// *.amazonaws.com there, trusting the cluster's CA.
type AWS struct {
	ClusterID string
	Region    string
	Account   string
	// STSURL is the stand-in's URL (AWS_ENDPOINT_URL_STS), for a web identity's exchange.
	STSURL string

	mu    sync.Mutex
	users map[string]awsUser // access key id → user
	roles map[string]string  // role ARN → the GitHub subject that may assume it
	oidc  *OIDC
	sts   string // the stand-in's address
	// others review the tokens that are not EKS's (GKE's, AKS's): the user, or false.
	others []func(token string) (string, bool)
}

type awsUser struct{ secret, arn, userID string }

// AWSUser is an IAM user the stand-in knows: its keys and ARN (the user name the cluster
// gives it).
type AWSUser struct{ AccessKeyID, SecretAccessKey, ARN string }

var defaultTransportOnce sync.Once

func (c *Cluster) startAWS() (*AWS, string, error) {
	a := &AWS{ClusterID: "shepherd-test", Region: "eu-west-1", Account: "111122223333", users: map[string]awsUser{},
		roles: map[string]string{}, oidc: c.OIDC}
	if err := c.pki.sign("sts", "sts.amazonaws.com", "", true, "sts.amazonaws.com", "sts."+a.Region+".amazonaws.com"); err != nil {
		return nil, "", err
	}
	stsAddr, stop1, err := serveTLS(c.pki, "sts", http.HandlerFunc(a.getCallerIdentity))
	if err != nil {
		return nil, "", err
	}
	a.sts, a.STSURL = stsAddr, "https://"+stsAddr
	if err := c.pki.sign("webhook", "authn-webhook", "", true); err != nil {
		return nil, "", err
	}
	hookAddr, stop2, err := serveTLS(c.pki, "webhook", http.HandlerFunc(a.tokenReview))
	if err != nil {
		stop1()
		return nil, "", err
	}
	c.closers = append(c.closers, stop1, stop2)
	roots, _ := x509.SystemCertPool()
	if roots == nil {
		roots = x509.NewCertPool()
	}
	roots.AppendCertsFromPEM(c.pki.read("ca.crt"))
	defaultTransportOnce.Do(func() {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, _ := net.SplitHostPort(addr); strings.HasSuffix(host, ".amazonaws.com") {
				addr = a.sts
			}
			return dial(ctx, network, addr)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
		http.DefaultTransport = tr
	})
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: webhook
  cluster:
    server: https://%s/authenticate
    certificate-authority: %s
users:
- name: apiserver
contexts:
- name: webhook
  context: {cluster: webhook, user: apiserver}
current-context: webhook
`, hookAddr, c.pki.path("ca.crt"))
	path := filepath.Join(c.Dir, "authn-webhook.kubeconfig")
	return a, path, os.WriteFile(path, []byte(cfg), 0o600)
}

// serveTLS serves h over HTTPS on loopback with the named certificate of p.
func serveTLS(p *pki, name string, h http.Handler) (string, func(), error) {
	cert, err := tls.LoadX509KeyPair(p.path(name+".crt"), p.path(name+".key"))
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// User makes an IAM user the stand-in knows.
func (a *AWS) User(name string) AWSUser {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := AWSUser{AccessKeyID: fmt.Sprintf("AKIATEST%012d", len(a.users)+1), SecretAccessKey: "secret-" + name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		ARN: "arn:aws:iam::" + a.Account + ":user/" + name}
	a.users[u.AccessKeyID] = awsUser{secret: u.SecretAccessKey, arn: u.ARN}
	return u
}

// getCallerIdentity answers a presigned GetCallerIdentity when its SigV4 signature is the
// one the user's secret key gives.
func (a *AWS) getCallerIdentity(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		a.assumeRoleWithWebIdentity(w, r)
		return
	}
	q := r.URL.Query()
	if q.Get("Action") != "GetCallerIdentity" {
		http.Error(w, "only GetCallerIdentity", http.StatusBadRequest)
		return
	}
	akid, _, _ := strings.Cut(q.Get("X-Amz-Credential"), "/")
	a.mu.Lock()
	u, ok := a.users[akid]
	a.mu.Unlock()
	if !ok || !a.signed(r, u.secret) {
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]any{"Error": map[string]string{"Code": "SignatureDoesNotMatch", "Message": "The request signature we calculated does not match the signature you provided."}})
		return
	}
	id := u.userID
	if id == "" {
		id = "AIDA" + akid[4:]
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"GetCallerIdentityResponse": map[string]any{"GetCallerIdentityResult": map[string]string{
		"Account": a.Account, "Arn": u.arn, "UserId": id}}})
}

// signed recomputes the request's presigned signature with secret.
func (a *AWS) signed(r *http.Request, secret string) bool {
	q := r.URL.Query()
	date, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	exp, _ := strconv.Atoi(q.Get("X-Amz-Expires"))
	akid, scope, _ := strings.Cut(q.Get("X-Amz-Credential"), "/")
	parts := strings.Split(scope, "/") // date/region/service/aws4_request
	if len(parts) != 4 {
		return false
	}
	u := url.URL{Scheme: "https", Host: r.Host, Path: r.URL.Path}
	u.RawQuery = url.Values{"Action": {q.Get("Action")}, "Version": {q.Get("Version")}}.Encode()
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	for _, h := range strings.Split(q.Get("X-Amz-SignedHeaders"), ";") {
		if h != "host" {
			req.Header.Set(h, r.Header.Get(h))
		}
	}
	signer := v4.NewSigner(credentials.NewStaticCredentials(akid, secret, q.Get("X-Amz-Security-Token")))
	if _, err := signer.Presign(req, nil, parts[2], parts[1], time.Duration(exp)*time.Second, date); err != nil {
		return false
	}
	return req.URL.Query().Get("X-Amz-Signature") == q.Get("X-Amz-Signature")
}

// tokenReview is the API server's token webhook: an EKS token verified by
// aws-iam-authenticator's verifier becomes the user named by the caller's ARN.
func (a *AWS) tokenReview(w http.ResponseWriter, r *http.Request) {
	var tr authnv1.TokenReview
	if err := json.NewDecoder(r.Body).Decode(&tr); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tr.Status = authnv1.TokenReviewStatus{}
	for _, review := range a.others {
		if user, ok := review(tr.Spec.Token); ok {
			tr.Status.Authenticated, tr.Status.User = true, authnv1.UserInfo{Username: user, Groups: []string{"system:authenticated"}}
		}
	}
	if strings.HasPrefix(tr.Spec.Token, "k8s-aws-v1.") {
		id, err := token.NewVerifier(a.ClusterID, "aws", a.Region).Verify(tr.Spec.Token)
		if err != nil {
			tr.Status.Error = err.Error()
		} else {
			tr.Status.Authenticated = true
			tr.Status.User = authnv1.UserInfo{Username: id.CanonicalARN, Groups: []string{"system:authenticated"}}
		}
	}
	tr.APIVersion, tr.Kind = "authentication.k8s.io/v1", "TokenReview"
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(tr)
}

// Role makes an IAM role that the GitHub jobs of subject may assume with their OIDC token.
func (a *AWS) Role(name, subject string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	arn := "arn:aws:iam::" + a.Account + ":role/" + name
	a.roles[arn] = subject
	return arn
}

// assumeRoleWithWebIdentity exchanges a GitHub OIDC token (verified) for temporary keys of a
// role that trusts its subject.
func (a *AWS) assumeRoleWithWebIdentity(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRoleWithWebIdentity" {
		http.Error(w, "only AssumeRoleWithWebIdentity", http.StatusBadRequest)
		return
	}
	role, session := r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName")
	claims, err := a.oidc.Verify(r.Form.Get("WebIdentityToken"))
	a.mu.Lock()
	allowed := err == nil && a.roles[role] != "" && claims["sub"] == a.roles[role]
	a.mu.Unlock()
	if !allowed {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>`)
		return
	}
	u := a.User(session)
	a.mu.Lock()
	a.users[u.AccessKeyID] = awsUser{secret: u.SecretAccessKey, userID: "AROATESTROLE0000000001:" + session,
		arn: "arn:aws:sts::" + a.Account + ":assumed-role/" + role[strings.LastIndex(role, "/")+1:] + "/" + session}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>session-%s</SessionToken><Expiration>%s</Expiration></Credentials>
<SubjectFromWebIdentityToken>%s</SubjectFromWebIdentityToken><AssumedRoleUser><Arn>%s</Arn><AssumedRoleId>AROA:%s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`, u.AccessKeyID, u.SecretAccessKey, session, time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		claims["sub"], role, session)
}
