package testcluster

import (
	"net/http"
	"strings"
	"sync"
)

// Azure is AKS's way in, locally: a stand-in of Microsoft Entra ID's token endpoint (only
// Microsoft reaches the real one) that takes a federated credential — the job's GitHub OIDC
// token for api://AzureADTokenExchange, verified, whose subject the app trusts — or an app's
// secret, and issues access tokens the API server's token webhook maps to the app's client
// id.
type Azure struct {
	// Authority is the authority host (AZURE_AUTHORITY_HOST / kubelogin --authority-host).
	Authority string
	// ServerID is the AKS server application's id (kubelogin --server-id).
	ServerID string

	oidc   *OIDC
	mu     sync.Mutex
	apps   map[string]azureApp // client id → app
	tokens map[string]string   // access token → client id
}

type azureApp struct{ subject, secret string }

func (c *Cluster) startAzure() (*Azure, error) {
	z := &Azure{ServerID: "6dae42f8-4368-4678-94ff-3960e28e3630", oidc: c.OIDC, apps: map[string]azureApp{}, tokens: map[string]string{}}
	if err := c.pki.sign("entra", "entra-stand-in", "", true); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		base := z.Authority + "/" + r.PathValue("tenant")
		writeJSON(w, map[string]any{"issuer": base + "/v2.0", "token_endpoint": base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize", "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"pairwise"}, "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", z.token)
	addr, stop, err := serveTLS(c.pki, "entra", mux)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, stop)
	z.Authority = "https://" + addr
	return z, nil
}

// App registers an app (client id) that trusts GitHub tokens of subject, or has secret.
func (z *Azure) App(clientID, subject, secret string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.apps[clientID] = azureApp{subject: subject, secret: secret}
}

// token is the client credentials grant, with a federated assertion or a secret.
func (z *Azure) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	z.mu.Lock()
	app, ok := z.apps[r.Form.Get("client_id")]
	z.mu.Unlock()
	fail := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": code, "error_description": desc})
	}
	switch {
	case !ok:
		fail("unauthorized_client", "AADSTS700016: Application not found in the directory.")
		return
	case r.Form.Get("client_assertion") != "":
		claims, err := z.oidc.Verify(r.Form.Get("client_assertion"))
		if err != nil || claims["aud"] != "api://AzureADTokenExchange" || claims["sub"] != app.subject {
			fail("invalid_client", "AADSTS70021: No matching federated identity record found for presented assertion.")
			return
		}
	case r.Form.Get("client_secret") == "" || r.Form.Get("client_secret") != app.secret:
		fail("invalid_client", "AADSTS7000215: Invalid client secret provided.")
		return
	}
	if !strings.HasPrefix(r.Form.Get("scope"), z.ServerID+"/") {
		fail("invalid_scope", "AADSTS500011: The resource principal was not found.")
		return
	}
	tok := randomToken("aad-")
	z.mu.Lock()
	z.tokens[tok] = r.Form.Get("client_id")
	z.mu.Unlock()
	writeJSON(w, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// review is the token webhook's answer for an Entra token: the app's client id.
func (z *Azure) review(token string) (string, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	id, ok := z.tokens[token]
	return id, ok
}
