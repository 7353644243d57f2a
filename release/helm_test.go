package release

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	helmrelease "helm.sh/helm/v3/pkg/release"
)

func rel(version int, status helmrelease.Status) *helmrelease.Release {
	return &helmrelease.Release{Name: "web", Version: version, Info: &helmrelease.Info{Status: status}}
}

func TestLastGood(t *testing.T) {
	tests := []struct {
		name    string
		history []*helmrelease.Release
		before  int
		want    int // 0: nil
	}{
		{name: "no history", history: nil, before: 5, want: 0},
		{name: "previous deployed", before: 3,
			history: []*helmrelease.Release{rel(1, helmrelease.StatusSuperseded), rel(2, helmrelease.StatusDeployed), rel(3, helmrelease.StatusPendingUpgrade)},
			want:    2},
		{name: "skips failed, pending and uninstalled", before: 6,
			history: []*helmrelease.Release{
				rel(1, helmrelease.StatusSuperseded),
				rel(2, helmrelease.StatusFailed),
				rel(3, helmrelease.StatusPendingUpgrade),
				rel(4, helmrelease.StatusUninstalled),
				rel(5, helmrelease.StatusPendingRollback),
				rel(6, helmrelease.StatusDeployed),
			},
			want: 1},
		{name: "superseded counts as good", before: 4,
			history: []*helmrelease.Release{rel(2, helmrelease.StatusSuperseded), rel(3, helmrelease.StatusSuperseded), rel(4, helmrelease.StatusFailed)},
			want:    3},
		{name: "newest below before, whatever the slice order", before: 9,
			history: []*helmrelease.Release{rel(7, helmrelease.StatusSuperseded), rel(3, helmrelease.StatusSuperseded), rel(8, helmrelease.StatusFailed), rel(5, helmrelease.StatusSuperseded)},
			want:    7},
		{name: "revisions at or after before are ignored even if deployed", before: 3,
			history: []*helmrelease.Release{rel(1, helmrelease.StatusSuperseded), rel(3, helmrelease.StatusDeployed), rel(4, helmrelease.StatusDeployed)},
			want:    1},
		{name: "none good", before: 4,
			history: []*helmrelease.Release{rel(1, helmrelease.StatusFailed), rel(2, helmrelease.StatusPendingInstall), rel(3, helmrelease.StatusUninstalling)},
			want:    0},
		{name: "only the current revision", before: 1,
			history: []*helmrelease.Release{rel(1, helmrelease.StatusDeployed)},
			want:    0},
		{name: "release without info is skipped", before: 3,
			history: []*helmrelease.Release{rel(1, helmrelease.StatusSuperseded), {Name: "web", Version: 2}},
			want:    1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LastGood(tt.history, tt.before, nil)
			switch {
			case tt.want == 0 && got != nil:
				t.Errorf("LastGood = revision %d, want nil", got.Version)
			case tt.want != 0 && got == nil:
				t.Errorf("LastGood = nil, want revision %d", tt.want)
			case tt.want != 0 && got.Version != tt.want:
				t.Errorf("LastGood = revision %d, want %d", got.Version, tt.want)
			}
		})
	}
}

func writeValues(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValues(t *testing.T) {
	base := writeValues(t, "base.yaml", `replicaCount: 1
image:
  repository: example.com/web
  tag: "1.0.0"
app:
  image:
    repository: example.com/app
    tag: old
env: staging
`)
	prod := writeValues(t, "prod.yaml", `replicaCount: 2
env: prod
`)
	tests := []struct {
		name   string
		files  []string
		set    []string
		tagKey string
		tag    string
		want   map[string]any
	}{
		{
			name:  "no files, no set, no tag",
			files: nil, tagKey: "image.tag",
			want: map[string]any{},
		},
		{
			name:  "later files win, tag empty leaves values alone",
			files: []string{base, prod}, tagKey: "image.tag", tag: "",
			want: map[string]any{
				"replicaCount": float64(2),
				"image":        map[string]any{"repository": "example.com/web", "tag": "1.0.0"},
				"app":          map[string]any{"image": map[string]any{"repository": "example.com/app", "tag": "old"}},
				"env":          "prod",
			},
		},
		{
			name:  "set lines override files",
			files: []string{base}, set: []string{"replicaCount=3", "env=dev", "extra.list[0]=x"}, tagKey: "image.tag",
			want: map[string]any{
				"replicaCount": int64(3),
				"image":        map[string]any{"repository": "example.com/web", "tag": "1.0.0"},
				"app":          map[string]any{"image": map[string]any{"repository": "example.com/app", "tag": "old"}},
				"env":          "dev",
				"extra":        map[string]any{"list": []any{"x"}},
			},
		},
		{
			name:  "numeric-looking tag is a string at a nested key",
			files: []string{base}, tagKey: "app.image.tag", tag: "1.10",
			want: map[string]any{
				"replicaCount": float64(1),
				"image":        map[string]any{"repository": "example.com/web", "tag": "1.0.0"},
				"app":          map[string]any{"image": map[string]any{"repository": "example.com/app", "tag": "1.10"}},
				"env":          "staging",
			},
		},
		{
			name:  "tag wins over a set line for the same key",
			files: nil, set: []string{"image.tag=2.0"}, tagKey: "image.tag", tag: "2.1",
			want: map[string]any{"image": map[string]any{"tag": "2.1"}},
		},
		{
			name:   "integer-looking tag at an indexed key without files",
			tagKey: "images[0].tag", tag: "42",
			want: map[string]any{"images": []any{map[string]any{"tag": "42"}}},
		},
		{
			name:   "boolean-looking tag stays a string",
			tagKey: "image.tag", tag: "true",
			want: map[string]any{"image": map[string]any{"tag": "true"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Values(tt.files, tt.set, tt.tagKey, tt.tag)
			if err != nil {
				t.Fatalf("Values: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Values:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestValuesErrors(t *testing.T) {
	bad := writeValues(t, "bad.yaml", "image: [unclosed\n")
	tests := []struct {
		name  string
		files []string
		set   []string
	}{
		{name: "missing file", files: []string{filepath.Join(t.TempDir(), "nope.yaml")}},
		{name: "invalid yaml", files: []string{bad}},
		{name: "bad set line", set: []string{"a[=b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := Values(tt.files, tt.set, "image.tag", "v1"); err == nil {
				t.Errorf("Values = %v, want an error", got)
			}
		})
	}
}
