package release

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"
	"sigs.k8s.io/yaml"
)

// diffContext is how many unchanged lines Diff shows around a change.
const diffContext = 2

// Diff compares two manifests resource by resource (keyed by Kind, Namespace and Name) and
// returns a unified-diff-like text of what changes from oldManifest to newManifest:
//
//   - an added resource: "+ Kind/name (added)" followed by its lines prefixed "+ ";
//   - a removed resource: "- Kind/name (removed)";
//   - a changed resource: "~ Kind/name" followed by line-level hunks: removed lines
//     prefixed "- ", added lines "+ ", up to 2 unchanged context lines "  ", and "@@"
//     between hunks that are further apart.
//
// A resource with a namespace set in the manifest is named "Kind/name -n namespace".
// Resource blocks are separated by a blank line and ordered by Kind, then Name, then
// Namespace; unchanged resources are omitted, and the "# Source:" comment is not compared.
// Diff returns "" when nothing changed.
func Diff(oldManifest, newManifest string) (string, error) {
	oldRes, err := SplitManifest(oldManifest)
	if err != nil {
		return "", fmt.Errorf("old manifest: %w", err)
	}
	newRes, err := SplitManifest(newManifest)
	if err != nil {
		return "", fmt.Errorf("new manifest: %w", err)
	}
	olds, news := indexResources(oldRes), indexResources(newRes)
	keys := make([]resourceKey, 0, len(olds)+len(news))
	for k := range olds {
		keys = append(keys, k)
	}
	for k := range news {
		if _, ok := olds[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b resourceKey) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.name, b.name), cmp.Compare(a.namespace, b.namespace))
	})

	var b strings.Builder
	for _, k := range keys {
		oldRaw, inOld := olds[k]
		newRaw, inNew := news[k]
		if inOld && inNew && oldRaw == newRaw {
			continue
		}
		if k.kind == "Secret" {
			oldRaw, newRaw = hideSecretValues(oldRaw, newRaw)
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		switch {
		case !inOld:
			fmt.Fprintf(&b, "+ %s (added)\n", k)
			for _, line := range strings.Split(newRaw, "\n") {
				writeDiffLine(&b, '+', line)
			}
		case !inNew:
			fmt.Fprintf(&b, "- %s (removed)\n", k)
		default:
			fmt.Fprintf(&b, "~ %s\n", k)
			writeHunks(&b, diffLines(strings.Split(oldRaw, "\n"), strings.Split(newRaw, "\n")))
		}
	}
	return b.String(), nil
}

// Secret values never appear in a diff: hideSecretValues replaces each value of a Secret's
// data and stringData by one of these, so the diff shows which keys were added, removed or
// changed, and nothing of what they hold.
const (
	secretHidden  = "(hidden)"
	secretChanged = "(hidden, changed)"
)

// hideSecretValues returns the two texts of a Secret with every data/stringData value
// replaced: "(hidden)" on the old side and for an unchanged or added key, "(hidden, changed)"
// on the new side for a changed one. A text that does not parse is hidden whole.
func hideSecretValues(oldRaw, newRaw string) (string, string) {
	var o, n map[string]any
	if oldRaw != "" && yaml.Unmarshal([]byte(oldRaw), &o) != nil {
		o, oldRaw = nil, "(a Secret that does not parse: its content is hidden)"
	}
	if newRaw != "" && yaml.Unmarshal([]byte(newRaw), &n) != nil {
		n, newRaw = nil, "(a Secret that does not parse: its content is hidden)"
	}
	for _, field := range []string{"data", "stringData"} {
		om, _ := o[field].(map[string]any)
		nm, _ := n[field].(map[string]any)
		for k, nv := range nm {
			nm[k] = secretHidden
			if ov, ok := om[k]; ok && fmt.Sprint(ov) != fmt.Sprint(nv) {
				nm[k] = secretChanged
			}
		}
		for k := range om {
			om[k] = secretHidden
		}
	}
	enc := func(m map[string]any, raw string) string {
		if m == nil {
			return raw
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return "(a Secret: its content is hidden)"
		}
		return strings.TrimRight(string(y), "\n")
	}
	return enc(o, oldRaw), enc(n, newRaw)
}

type resourceKey struct{ kind, namespace, name string }

func (k resourceKey) String() string {
	if k.namespace != "" {
		return k.kind + "/" + k.name + " -n " + k.namespace
	}
	return k.kind + "/" + k.name
}

// indexResources maps each resource to its text; resources that appear twice under one
// key have their texts joined, so neither copy's changes go unseen.
func indexResources(rs []Resource) map[resourceKey]string {
	m := make(map[resourceKey]string, len(rs))
	for _, r := range rs {
		k := resourceKey{r.Kind, r.Namespace, r.Name}
		if prev, ok := m[k]; ok {
			m[k] = prev + "\n---\n" + r.Raw
			continue
		}
		m[k] = r.Raw
	}
	return m
}

// lineOp is one line of a line diff: op is ' ' (unchanged), '-' (removed) or '+' (added).
type lineOp struct {
	op   byte
	line string
}

func writeDiffLine(b *strings.Builder, op byte, line string) {
	b.WriteByte(op)
	if line != "" {
		b.WriteByte(' ')
		b.WriteString(line)
	}
	b.WriteByte('\n')
}

// writeHunks writes the changes in ops with diffContext unchanged lines around them,
// separating hunks whose contexts don't meet with "@@".
func writeHunks(b *strings.Builder, ops []lineOp) {
	var changes []int
	for i, o := range ops {
		if o.op != ' ' {
			changes = append(changes, i)
		}
	}
	for i := 0; i < len(changes); {
		j := i
		for j+1 < len(changes) && changes[j+1]-changes[j]-1 <= 2*diffContext {
			j++
		}
		if i > 0 {
			b.WriteString("@@\n")
		}
		start := max(changes[i]-diffContext, 0)
		end := min(changes[j]+diffContext, len(ops)-1)
		for _, o := range ops[start : end+1] {
			writeDiffLine(b, o.op, o.line)
		}
		i = j + 1
	}
}

// diffLines returns a shortest line diff turning a into b (go-diff's Myers diff in line mode,
// without its time-bound shortcuts), with removals before additions within each run of
// changes.
func diffLines(a, b []string) []lineOp {
	dmp := diffmatchpatch.New()
	dmp.DiffTimeout = 0 // exact: no half-match heuristic, no deadline
	ra, rb, table := dmp.DiffLinesToRunes(joinLines(a), joinLines(b))
	diffs := dmp.DiffCharsToLines(dmp.DiffMainRunes(ra, rb, false), table)
	var ops, dels, adds []lineOp
	flush := func() {
		ops = append(append(ops, dels...), adds...)
		dels, adds = dels[:0], adds[:0]
	}
	for _, d := range diffs {
		for _, line := range strings.SplitAfter(d.Text, "\n") {
			if line == "" {
				continue
			}
			line = strings.TrimSuffix(line, "\n")
			switch d.Type {
			case diffmatchpatch.DiffDelete:
				dels = append(dels, lineOp{'-', line})
			case diffmatchpatch.DiffInsert:
				adds = append(adds, lineOp{'+', line})
			default:
				flush()
				ops = append(ops, lineOp{' ', line})
			}
		}
	}
	flush()
	return ops
}

// joinLines is the text of lines, each ended by a newline.
func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}
