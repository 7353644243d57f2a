package report

import (
	"fmt"
	"strings"

	"github.com/shepherd-deploy/shepherd/outcome"
)

// phaseDiagram is a mermaid flowchart of the run's phases in the order they began, each
// coloured by the worst thing said in it; a canary's stages are nodes of their own, coloured by
// their verdict. "" when the run has no timeline.
func phaseDiagram(o outcome.Outcome) string {
	type node struct{ label, class string }
	var nodes []node
	at := map[string]int{}
	for _, e := range o.Timeline {
		if e.Phase == "stage" && o.Canary != nil {
			if _, ok := at["stage"]; !ok {
				at["stage"] = -1
				for i, s := range o.Canary.Stages {
					if s.Ran {
						nodes = append(nodes, node{fmt.Sprintf("stage %d: %s", i+1, pctCell(s.Actual)), stageClass(s.Verdict)})
					}
				}
			}
			continue
		}
		i, ok := at[e.Phase]
		if !ok {
			i = len(nodes)
			at[e.Phase] = i
			nodes = append(nodes, node{e.Phase, "ok"})
		}
		switch {
		case e.Level == outcome.Error:
			nodes[i].class = "fail"
		case e.Level == outcome.Warn && nodes[i].class == "ok":
			nodes[i].class = "warn"
		}
	}
	if len(nodes) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart LR\n")
	for i, n := range nodes {
		fmt.Fprintf(&b, "  n%d[\"%s\"]:::%s\n", i, strings.ReplaceAll(n.label, `"`, "'"), n.class)
		if i > 0 {
			fmt.Fprintf(&b, "  n%d --> n%d\n", i-1, i)
		}
	}
	b.WriteString("  classDef ok fill:#dafbe1,stroke:#1a7f37\n  classDef warn fill:#fff8c5,stroke:#9a6700\n  classDef fail fill:#ffebe9,stroke:#cf222e\n  classDef idle fill:#f6f8fa,stroke:#8c959f\n```\n\n")
	return b.String()
}

func stageClass(verdict string) string {
	switch verdict {
	case "pass":
		return "ok"
	case "fail":
		return "fail"
	case "no data":
		return "warn"
	}
	return "idle"
}
