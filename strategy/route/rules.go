package route

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/internal/rewrite"
	"github.com/shepherd-deploy/shepherd/release"
)

// The pure half of an HTTPRoute a strategy changes: the route's backendRefs to a Service split
// between two Services at a weight (a canary's stable and canary tracks), preview rules that
// send requests carrying a header to the new version, and the route's status read for whether
// the gateway took a generation of it.

// Split returns a copy of an HTTPRoute's spec where every backendRef to Service svc (in the
// route's namespace) becomes two, Services stable and canary, weighted 100-percent and percent
// of the original's weight; the rule's other backends keep their share (their weights
// are scaled by the same 100). It fails when no rule sends to svc, naming the Services the
// route does send to.
func Split(spec map[string]any, svc, stable, canary string, percent int) (map[string]any, error) {
	if percent < 0 || percent > 100 {
		return nil, fmt.Errorf("weight %d%% is not 0 to 100", percent)
	}
	out := rewrite.DeepCopy(spec)
	rules, _ := out["rules"].([]any)
	found := 0
	var seen []string
	for _, r := range rules {
		rule, ok := r.(map[string]any)
		if !ok {
			continue
		}
		refs, _ := rule["backendRefs"].([]any)
		var split []any
		for _, x := range refs {
			ref, ok := x.(map[string]any)
			if !ok {
				continue
			}
			w := weightOf(ref)
			if !isService(ref, svc) {
				seen = append(seen, fmt.Sprint(ref["name"]))
				ref["weight"] = w * 100
				split = append(split, ref)
				continue
			}
			found++
			s, c := rewrite.DeepCopy(ref), rewrite.DeepCopy(ref)
			s["name"], s["weight"] = stable, w*int64(100-percent)
			c["name"], c["weight"] = canary, w*int64(percent)
			split = append(split, s, c)
		}
		if len(refs) > 0 {
			rule["backendRefs"] = split
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("no rule sends to Service %s (it sends to: %s)", svc, orNone(seen))
	}
	return out, nil
}

// Preview returns a copy of an HTTPRoute's spec with, for every rule that sends to Service
// svc, a twin rule that sends requests carrying header name: value to Service target alone
// (<svc>-canary, a blue-green's <svc>-preview). The twin's matches are the rule's, each with
// the header added: more header matches win over the rule's own under the Gateway API's
// precedence, whatever the rules' order.
func Preview(spec map[string]any, svc, target, name, value string) (map[string]any, error) {
	out := rewrite.DeepCopy(spec)
	rules, _ := out["rules"].([]any)
	var twins []any
	for _, r := range rules {
		rule, ok := r.(map[string]any)
		if !ok || !sendsTo(rule, svc) {
			continue
		}
		twin := rewrite.DeepCopy(rule)
		header := map[string]any{"type": "Exact", "name": name, "value": value}
		matches, _ := twin["matches"].([]any)
		if len(matches) == 0 {
			matches = []any{map[string]any{}}
		}
		for _, m := range matches {
			if match, ok := m.(map[string]any); ok {
				headers, _ := match["headers"].([]any)
				match["headers"] = append(headers, header)
			}
		}
		twin["matches"] = matches
		ref := map[string]any{"name": target}
		for _, x := range rule["backendRefs"].([]any) {
			if b, ok := x.(map[string]any); ok && isService(b, svc) {
				if port, ok := b["port"]; ok {
					ref["port"] = port
				}
				break
			}
		}
		twin["backendRefs"] = []any{ref}
		delete(twin, "name") // a sectionName must stay unique
		twins = append(twins, twin)
	}
	if len(twins) == 0 {
		return nil, fmt.Errorf("no rule sends to Service %s", svc)
	}
	out["rules"] = append(rules, twins...)
	return out, nil
}

// sendsTo says whether a rule has a backendRef to Service svc.
func sendsTo(rule map[string]any, svc string) bool {
	refs, _ := rule["backendRefs"].([]any)
	for _, x := range refs {
		if ref, ok := x.(map[string]any); ok && isService(ref, svc) {
			return true
		}
	}
	return false
}

// Sends are the Services in the route's own namespace its rules send to, each once.
func Sends(spec map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	rules, _ := spec["rules"].([]any)
	for _, r := range rules {
		rule, _ := r.(map[string]any)
		refs, _ := rule["backendRefs"].([]any)
		for _, x := range refs {
			ref, _ := x.(map[string]any)
			if n, ok := ref["name"].(string); ok && isService(ref, n) && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Share is Service canary's share, in percent to one decimal, of the weight a route's spec
// gives Service svc's backends: canary against stable and svc itself (0 when the route sends
// svc nothing).
func Share(spec map[string]any, svc, stable, canary string) float64 {
	var share, rest float64
	rules, _ := spec["rules"].([]any)
	for _, x := range rules {
		rule, _ := x.(map[string]any)
		refs, _ := rule["backendRefs"].([]any)
		for _, y := range refs {
			ref, _ := y.(map[string]any)
			switch {
			case isService(ref, canary):
				share += float64(weightOf(ref))
			case isService(ref, stable), isService(ref, svc):
				rest += float64(weightOf(ref))
			}
		}
	}
	if share+rest == 0 {
		return 0
	}
	return math.Round(1000*share/(share+rest)) / 10
}

// Accepted reads an HTTPRoute's status for generation gen: ok when every parent has
// Accepted and ResolvedRefs true for that generation or a later one; rejected, with the
// condition's reason and message, when a parent has either false for it; neither while the
// gateway has not caught up (or the route has no parent status yet).
func Accepted(route map[string]any, gen int64) (ok bool, rejected string) {
	status, _ := route["status"].(map[string]any)
	parents, _ := status["parents"].([]any)
	if len(parents) == 0 {
		return false, ""
	}
	for _, p := range parents {
		parent, _ := p.(map[string]any)
		conds, _ := parent["conditions"].([]any)
		good := 0
		for _, c := range conds {
			cond, _ := c.(map[string]any)
			t := cond["type"]
			if (t != "Accepted" && t != "ResolvedRefs") || int64Of(cond["observedGeneration"]) < gen {
				continue
			}
			if cond["status"] == "False" {
				return false, fmt.Sprintf("%s: %v (%v)", t, cond["reason"], cond["message"])
			}
			if cond["status"] == "True" {
				good++
			}
		}
		if good < 2 {
			return false, ""
		}
	}
	return true, ""
}

// isService says whether a backendRef is Service name in the route's own namespace.
func isService(ref map[string]any, name string) bool {
	if g, ok := ref["group"].(string); ok && g != "" {
		return false
	}
	if k, ok := ref["kind"].(string); ok && k != "Service" {
		return false
	}
	if ns, ok := ref["namespace"].(string); ok && ns != "" {
		return false // another namespace's Service is not the chart's
	}
	return ref["name"] == name
}

// weightOf is a backendRef's weight (1 when unset, as the Gateway API defaults it).
func weightOf(ref map[string]any) int64 {
	if _, ok := ref["weight"]; !ok {
		return 1
	}
	return int64Of(ref["weight"])
}

func int64Of(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no Service"
	}
	return strings.Join(s, ", ")
}

// SentServices are the chart's Services (in the rendered manifest) among those route sends
// to; none is an error that names both lists.
func SentServices(rendered, route string, sends []string) ([]string, error) {
	rs, err := release.SplitManifest(rendered)
	if err != nil {
		return nil, err
	}
	var chart, out []string
	for _, r := range rs {
		if r.Kind == "Service" {
			chart = append(chart, r.Name)
			if slices.Contains(sends, r.Name) {
				out = append(out, r.Name)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: HTTPRoute %s sends to %s; none of them is a Service of the chart (it renders %s): the route must send to the chart's Service for its weights to move",
			config.InHTTPRoute, route, orNone(sends), orNone(chart))
	}
	sort.Strings(out)
	return out, nil
}
