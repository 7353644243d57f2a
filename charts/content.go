package charts

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"

	"helm.sh/helm/v3/pkg/chart"
)

// AnnotationContent records a chart's content digest (ContentDigest) in the release record:
// what a canary ran, so that its promotion renders exactly that and nothing edited since.
const AnnotationContent = "shepherd.io/chart-content"

// ContentDigest identifies what a chart renders: "sha256:…" over every file it was loaded
// from (Chart.yaml, values, templates, and its dependencies' archives or files under
// charts/), by name and content. It is the only digest a chart directory has, so an edited
// template changes it where no archive digest exists. "" for a chart with no files as loaded
// (one read back from a release record).
func ContentDigest(ch *chart.Chart) string {
	if ch == nil || len(ch.Raw) == 0 {
		return ""
	}
	files := make([]*chart.File, 0, len(ch.Raw))
	for _, f := range ch.Raw {
		if f != nil {
			files = append(files, f)
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	h := sha256.New()
	var n [8]byte
	for _, f := range files {
		for _, part := range [][]byte{[]byte(f.Name), f.Data} {
			binary.BigEndian.PutUint64(n[:], uint64(len(part)))
			h.Write(n[:])
			h.Write(part)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// RecordedContent is the content digest recorded on a chart (a release record's), "" when
// the revision was deployed before Shepherd recorded one.
func RecordedContent(ch *chart.Chart) string {
	if ch == nil || ch.Metadata == nil {
		return ""
	}
	return ch.Metadata.Annotations[AnnotationContent]
}
