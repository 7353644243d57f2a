package config

import (
	"strings"
	"testing"
)

func TestRedactURLs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"failed to fetch https://user:s3cret@charts.example.com/stable/web-1.0.0.tgz : 404 Not Found",
			"failed to fetch https://charts.example.com/stable/web-1.0.0.tgz : 404 Not Found"},
		{`chart_repository: "https://ci:pa%40ss@host:8443/charts" is down`, `chart_repository: "https://host:8443/charts" is down`},
		{"oci://robot:tok3n@registry.example.com/charts/web:1.2.3 answered 401", "oci://registry.example.com/charts/web:1.2.3 answered 401"},
		{"get https://s3.amazonaws.com/b/web.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAXX%2F2026&X-Amz-Signature=abcdef0123&X-Amz-Security-Token=FwoGZX: 403",
			"get https://s3.amazonaws.com/b/web.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Security-Token=***: 403"},
		{"two: https://a.example/x?token=t0k&page=2 and https://u:p@b.example/y?sig=SIG&sv=2020 end.",
			"two: https://a.example/x?token=***&page=2 and https://b.example/y?sig=***&sv=2020 end."},
		{"https://h/cb#access_token=abc&state=1", "https://h/cb#access_token=***&state=1"},
		{"https://h/p?api_key=K1&password=P1&client_secret=C1", "https://h/p?api_key=***&password=***&client_secret=***"},
		{"https://h/p?token=a:b:c&x=1", "https://h/p?token=***&x=1"},
		{"no URL here, user:pass@host is not one", "no URL here, user:pass@host is not one"},
		{"https://example.com/a@b/c", "https://example.com/a@b/c"},
		{"http://only-user@host/x", "http://host/x"},
	} {
		if got := RedactURLs(tc.in); got != tc.want {
			t.Errorf("RedactURLs(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactURLsLeavesNoSecret(t *testing.T) {
	in := "a\nhttps://x:SECRET1@h/p?token=SECRET2 (oci://y:SECRET3@r/c) https://h/q?sig=SECRET4"
	out := RedactURLs(in)
	for _, s := range []string{"SECRET1", "SECRET2", "SECRET3", "SECRET4"} {
		if strings.Contains(out, s) {
			t.Errorf("%s left in %q", s, out)
		}
	}
	if RedactURLs(out) != out {
		t.Errorf("not idempotent: %q", RedactURLs(out))
	}
}
