package config

import (
	"regexp"
	"strings"
)

// Redacted is what a credential in a URL's query is replaced by.
const Redacted = "***"

// urlRE finds URLs in text: a scheme, ://, then anything up to a space, a quote or a bracket.
var urlRE = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.-]*://[^\s"'<>\x60]+`)

// queryRE finds the parameters of a URL's query (or fragment) whose name says they carry a
// credential: tokens, signatures, keys, passwords, AWS's, Google's and Azure's presigned-URL
// fields.
var queryRE = regexp.MustCompile(`(?i)([?&;#])([a-z0-9_.-]*(token|sig|signature|secret|passw(or)?d|pass|pwd|key|credential|auth|code|session)[a-z0-9_.-]*)=([^&;#,)]*)`)

// RedactURLs strips the credentials from every URL in text: the user info (user:password@)
// goes, and the values of query parameters that name a credential (?token=, sig=,
// X-Amz-Signature=, access_token=, …) become ***. The rest of the text, and of each URL, is
// left as it was: an error still says which host and path failed.
func RedactURLs(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return urlRE.ReplaceAllStringFunc(text, redactURL)
}

// redactURL strips one URL's credentials.
func redactURL(u string) string {
	i := strings.Index(u, "://") + 3
	rest := u[i:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = rest[at+1:]
	}
	out := u[:i] + rest
	if strings.ContainsAny(out, "?#") {
		out = queryRE.ReplaceAllStringFunc(out, func(m string) string {
			tail := "" // a colon that ends the URL is the sentence's ("GET URL: 403")
			if strings.HasSuffix(m, ":") {
				tail = ":"
			}
			return m[:strings.Index(m, "=")+1] + Redacted + tail
		})
	}
	return out
}
