package release

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// diffContext is how many unchanged lines Diff shows around a change.
const diffContext = 2

// maxEdits bounds the line diff of one resource: past this many differing lines (after
// the common start and end are set aside) the differing region is shown as wholly replaced.
const maxEdits = 1000

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

// diffLines returns a shortest line diff turning a into b, with removals before additions
// within each run of changes.
func diffLines(a, b []string) []lineOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var ops []lineOp
	for _, l := range a[:pre] {
		ops = append(ops, lineOp{' ', l})
	}
	mid := myers(a[pre:len(a)-suf], b[pre:len(b)-suf])
	// Within each run of changes, put removals first.
	for i := 0; i < len(mid); {
		if mid[i].op == ' ' {
			ops = append(ops, mid[i])
			i++
			continue
		}
		j := i
		for j < len(mid) && mid[j].op != ' ' {
			j++
		}
		for _, o := range mid[i:j] {
			if o.op == '-' {
				ops = append(ops, o)
			}
		}
		for _, o := range mid[i:j] {
			if o.op == '+' {
				ops = append(ops, o)
			}
		}
		i = j
	}
	for _, l := range a[len(a)-suf:] {
		ops = append(ops, lineOp{' ', l})
	}
	return ops
}

// myers is Myers' O((N+M)·D) shortest-edit-script algorithm. Past maxEdits differences it
// gives up and reports all of a removed and all of b added.
func myers(a, b []string) []lineOp {
	n, m := len(a), len(b)
	if n == 0 || m == 0 {
		return replaceAll(a, b)
	}
	// v[k] is the furthest x reached on diagonal k = x-y; trace[d] is v after d edits,
	// for diagonals -d-1..d+1 (index k+d+1).
	off := n + m + 1
	v := make([]int, 2*off+1)
	var trace [][]int
	for d := 0; d <= n+m; d++ {
		if d > maxEdits {
			return replaceAll(a, b)
		}
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // step down: add b[y-1]
			} else {
				x = v[off+k-1] + 1 // step right: remove a[x-1]
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[off+k] = x
		}
		trace = append(trace, slices.Clone(v[off-d-1:off+d+2]))
		if v[off+n-m] >= n { // the end's diagonal is reached first at this d (n > 0)
			return backtrack(a, b, trace)
		}
	}
	return replaceAll(a, b) // unreachable: d = n+m always reaches the end
}

// backtrack walks the trace of myers from (len(a), len(b)) back to (0, 0).
func backtrack(a, b []string, trace [][]int) []lineOp {
	at := func(d, k int) int { return trace[d][k+d+1] }
	var rev []lineOp
	x, y := len(a), len(b)
	for d := len(trace) - 1; d > 0; d-- {
		k := x - y
		var prevK int
		if k == -d || (k != d && at(d-1, k-1) < at(d-1, k+1)) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := at(d-1, prevK)
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			rev = append(rev, lineOp{' ', a[x-1]})
			x, y = x-1, y-1
		}
		if x == prevX {
			rev = append(rev, lineOp{'+', b[y-1]})
		} else {
			rev = append(rev, lineOp{'-', a[x-1]})
		}
		x, y = prevX, prevY
	}
	for x > 0 && y > 0 {
		rev = append(rev, lineOp{' ', a[x-1]})
		x, y = x-1, y-1
	}
	slices.Reverse(rev)
	return rev
}

func replaceAll(a, b []string) []lineOp {
	ops := make([]lineOp, 0, len(a)+len(b))
	for _, l := range a {
		ops = append(ops, lineOp{'-', l})
	}
	for _, l := range b {
		ops = append(ops, lineOp{'+', l})
	}
	return ops
}
