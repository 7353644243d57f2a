package route

import (
	"encoding/json"
	"strings"
	"testing"
)

func spec(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		percent    int
		want, err  string
	}{
		{"one backend", `{"rules":[{"backendRefs":[{"name":"web","port":80}]}]}`, 10,
			`{"rules":[{"backendRefs":[{"name":"web-stable","port":80,"weight":90},{"name":"web-canary","port":80,"weight":10}]}]}`, ""},
		{"the other backends keep their share", `{"rules":[{"backendRefs":[{"name":"web","port":80,"weight":3},{"name":"legacy","port":80,"weight":1}]}]}`, 25,
			`{"rules":[{"backendRefs":[{"name":"web-stable","port":80,"weight":225},{"name":"web-canary","port":80,"weight":75},{"name":"legacy","port":80,"weight":100}]}]}`, ""},
		{"every rule, matches kept", `{"rules":[{"matches":[{"path":{"value":"/api"}}],"backendRefs":[{"name":"web"}]},{"backendRefs":[{"name":"web","kind":"Service"}]}]}`, 100,
			`{"rules":[{"backendRefs":[{"name":"web-stable","weight":0},{"name":"web-canary","weight":100}],"matches":[{"path":{"value":"/api"}}]},{"backendRefs":[{"kind":"Service","name":"web-stable","weight":0},{"kind":"Service","name":"web-canary","weight":100}]}]}`, ""},
		{"no rule sends to the chart's Service", `{"rules":[{"backendRefs":[{"name":"other"},{"name":"web","namespace":"elsewhere"}]}]}`, 10, "", "no rule sends to Service web (it sends to: other, web)"},
		{"a weight out of range", `{"rules":[]}`, 101, "", "101%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := spec(t, tc.spec)
			got, err := Split(in, "web", "web-stable", "web-canary", tc.percent)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(got)
			if string(raw) != tc.want {
				t.Errorf("got  %s\nwant %s", raw, tc.want)
			}
			if orig, _ := json.Marshal(in); string(orig) != string(mustJSON(t, spec(t, tc.spec))) {
				t.Errorf("the input was changed: %s", orig)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestAccepted(t *testing.T) {
	cond := func(typ, status string, gen int) string {
		return `{"type":"` + typ + `","status":"` + status + `","observedGeneration":` + string(rune('0'+gen)) + `,"reason":"R","message":"m"}`
	}
	route := func(conds ...string) map[string]any {
		return spec(t, `{"status":{"parents":[{"conditions":[`+strings.Join(conds, ",")+`]}]}}`)
	}
	for _, tc := range []struct {
		name     string
		route    map[string]any
		ok       bool
		rejected string
	}{
		{"accepted and resolved", route(cond("Accepted", "True", 3), cond("ResolvedRefs", "True", 3)), true, ""},
		{"an older generation", route(cond("Accepted", "True", 2), cond("ResolvedRefs", "True", 2)), false, ""},
		{"refs not resolved", route(cond("Accepted", "True", 3), cond("ResolvedRefs", "False", 3)), false, "ResolvedRefs: R (m)"},
		{"rejected", route(cond("Accepted", "False", 3)), false, "Accepted: R (m)"},
		{"no status yet", spec(t, `{}`), false, ""},
	} {
		ok, rejected := Accepted(tc.route, 3)
		if ok != tc.ok || rejected != tc.rejected {
			t.Errorf("%s: ok %v rejected %q, want %v %q", tc.name, ok, rejected, tc.ok, tc.rejected)
		}
	}
}

func TestPreview(t *testing.T) {
	in := spec(t, `{"rules":[{"name":"api","matches":[{"path":{"type":"PathPrefix","value":"/api"}},{"headers":[{"name":"X-Team","value":"a"}]}],"backendRefs":[{"name":"web","port":80}]},{"backendRefs":[{"name":"web","port":80}]},{"backendRefs":[{"name":"other"}]}]}`)
	got, err := Preview(in, "web", "web-canary", "X-Canary", "always")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(got["rules"].([]any)[3:])
	want := `[{"backendRefs":[{"name":"web-canary","port":80}],"matches":[{"headers":[{"name":"X-Canary","type":"Exact","value":"always"}],"path":{"type":"PathPrefix","value":"/api"}},{"headers":[{"name":"X-Team","value":"a"},{"name":"X-Canary","type":"Exact","value":"always"}]}]},` +
		`{"backendRefs":[{"name":"web-canary","port":80}],"matches":[{"headers":[{"name":"X-Canary","type":"Exact","value":"always"}]}]}]`
	if string(raw) != want {
		t.Errorf("preview rules\n got  %s\n want %s", raw, want)
	}
	if n := len(got["rules"].([]any)); n != 5 {
		t.Errorf("%d rules, want the 3 kept and 2 previews", n)
	}
	if _, err := Preview(in, "nope", "nope-canary", "X-Canary", "always"); err == nil {
		t.Error("a route that does not send to the Service got a preview rule")
	}
	if s := Sends(in); strings.Join(s, ",") != "web,other" {
		t.Errorf("RouteSends = %v", s)
	}
}

func TestShare(t *testing.T) {
	chart := spec(t, `{"rules":[{"backendRefs":[{"name":"web","port":80}]}]}`)
	if got := Share(chart, "web", "web-stable", "web-canary"); got != 0 {
		t.Errorf("the chart's route: %g%%", got)
	}
	for _, w := range []int{10, 25, 100} {
		split, err := Split(chart, "web", "web-stable", "web-canary", w)
		if err != nil {
			t.Fatal(err)
		}
		if got := Share(split, "web", "web-stable", "web-canary"); got != float64(w) {
			t.Errorf("split at %d%%: read %g%%", w, got)
		}
	}
	if got := Share(spec(t, `{"rules":[{"backendRefs":[{"name":"other"}]}]}`), "web", "web-stable", "web-canary"); got != 0 {
		t.Errorf("a route to another Service: %g%%", got)
	}
}
