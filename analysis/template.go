package analysis

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// placeholder is {{ name }} in a PromQL template (the form Flagger's metric templates use).
var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// Placeholders lists the names a template uses, each once, sorted.
func Placeholders(tmpl string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// CheckTemplate fails when tmpl uses a placeholder not in allowed, naming it and the allowed
// ones.
func CheckTemplate(tmpl string, allowed []string) error {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for _, p := range Placeholders(tmpl) {
		if !ok[p] {
			return fmt.Errorf("unknown placeholder {{ %s }} (allowed: %s)", p, "{{ "+strings.Join(allowed, " }}, {{ ")+" }}")
		}
	}
	return nil
}

// Render fills the template's placeholders from vars; a placeholder without a value is an
// error naming it.
func Render(tmpl string, vars map[string]string) (string, error) {
	var missing []string
	out := placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for placeholder(s) %s", strings.Join(missing, ", "))
	}
	return out, nil
}
