package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	urlScheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// Every relative link of README.md and docs/*.md reaches a file or folder of the repository,
// and a link's #fragment a heading of the page it points to (as GitHub makes anchors), so
// the documentation a newcomer walks has no dead ends.
func TestDocLinksResolve(t *testing.T) {
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{"README.md"}, pages...)
	if len(pages) < 10 {
		t.Fatalf("found only %v", pages)
	}
	var checked int
	for _, page := range pages {
		raw, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range links(string(raw)) {
			if err := resolve(page, target); err != nil {
				t.Errorf("%s: link %s: %v", page, target, err)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Errorf("checked %d links in %v, want the README's and every page's", checked, pages)
	}
}

// links lists the targets of a Markdown text's inline links outside fenced code, but for
// absolute URLs.
func links(md string) []string {
	var out []string
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			if !urlScheme.MatchString(m[1]) {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// resolve checks that target, a link of page, names an existing path and, for a #fragment,
// a heading of that path's Markdown.
func resolve(page, target string) error {
	path, frag, _ := strings.Cut(target, "#")
	file := page
	if path != "" {
		file = filepath.Join(filepath.Dir(page), filepath.FromSlash(path))
	}
	if _, err := os.Stat(file); err != nil {
		return err
	}
	if frag == "" {
		return nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if !headingAnchors(string(raw))[frag] {
		return fmt.Errorf("%s has no heading whose anchor is #%s", file, frag)
	}
	return nil
}

// headingAnchors are the anchors GitHub gives a Markdown text's headings: lower case, every
// character but letters, digits, spaces, hyphens and underscores dropped, spaces made hyphens,
// a repeated anchor suffixed -1, -2, ….
func headingAnchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}
