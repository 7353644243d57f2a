package config

import (
	"regexp"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// secretKeyRE matches the last segment of a values key that names a secret.
var secretKeyRE = regexp.MustCompile(`(?i)(pass(word|wd|phrase)?|secret|token|api[-_]?key|private[-_]?key|credential|auth|dsn|connection[-_]?string|webhook)`)

// SecretValues lists the values of c known to be secret: the kubeconfig's credentials and the
// values of `set` lines whose key names a secret (password, token, apiKey, …). The edge masks
// them in the log; the diagnosis replaces them in the evidence it quotes.
func (c Config) SecretValues() []string {
	out := append(append(KubeconfigSecrets(string(c.Kubeconfig)), c.SetSecrets()...), URLSecrets(c.PrometheusURL)...)
	out = append(out, URLSecrets(c.Source.Repository)...)
	out = append(out, c.prometheusSecrets()...)
	for _, s := range []string{c.Notify.GitHubToken, c.Notify.SlackWebhookURL, c.Source.Password} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// SetSecrets lists the values of `set` lines whose key names a secret (password, token,
// apiKey, …).
func (c Config) SetSecrets() []string { return SetLineSecrets(c.Set) }

// SetLineSecrets lists the secret values of raw `set` lines, valid or not, so that the edge
// masks them before it validates anything: each value whose key names a secret, and each
// comma-separated part of it (Helm's --set splits there, so an error could show one part).
func SetLineSecrets(lines []string) []string {
	var out []string
	for _, s := range lines {
		k, v, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		last := k[strings.LastIndexAny(k, ".")+1:]
		if !secretKeyRE.MatchString(last) {
			continue
		}
		out = append(out, v)
		if parts := strings.Split(v, ","); len(parts) > 1 {
			for _, p := range parts {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// kubeconfigSecretKeys are the kubeconfig fields whose values are credentials.
var kubeconfigSecretKeys = map[string]bool{"token": true, "client-key-data": true, "client-certificate-data": true,
	"password": true, "id-token": true, "refresh-token": true, "client-secret": true, "access-token": true}

// KubeconfigSecrets lists every credential in kubeconfig content: user tokens, passwords and
// client keys (each line of a PEM block too), auth-provider tokens and secrets, and exec plugin
// environment values. It reads the text line by line as well as parsed, so credentials are
// found even in a kubeconfig that does not parse.
func KubeconfigSecrets(content string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		for _, l := range strings.Split(strings.TrimSpace(v), "\n") {
			if l = strings.TrimSpace(l); l != "" && !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	for _, line := range strings.Split(content, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && kubeconfigSecretKeys[strings.TrimSpace(k)] {
			add(strings.Trim(strings.TrimSpace(v), `"'`))
		}
	}
	cfg, err := clientcmd.Load([]byte(content))
	if err != nil {
		return out
	}
	for _, u := range cfg.AuthInfos {
		add(u.Token)
		add(u.Password)
		add(string(u.ClientKeyData))
		if u.AuthProvider != nil {
			for k, v := range u.AuthProvider.Config {
				lk := strings.ToLower(k)
				if strings.Contains(lk, "token") || strings.Contains(lk, "secret") || strings.Contains(lk, "password") {
					add(v)
				}
			}
		}
		if u.Exec != nil {
			for _, e := range u.Exec.Env {
				add(e.Value)
			}
		}
	}
	return out
}

// prometheusSecrets are the parsed Prometheus credentials (PrometheusSecrets reads raw input).
func (c Config) prometheusSecrets() []string {
	var b strings.Builder
	for k, v := range c.PrometheusAuth.Headers {
		b.WriteString(k + ": " + v + "\n")
	}
	return PrometheusSecrets(c.PrometheusAuth.Token, b.String())
}
