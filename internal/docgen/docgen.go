// Package docgen writes the inputs reference (docs/inputs.md) from action.yml, so the
// reference cannot drift from what the action declares: the root package's contract test
// compares the file with Inputs' output.
package docgen

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// Command regenerates docs/inputs.md from the module's root: the contract test writes what it
// compares (the generator needs no program of its own).
const Command = "go test -run TestActionContract -update-inputs ."

type action struct {
	Inputs map[string]struct {
		Description string  `json:"description"`
		Default     *string `json:"default"`
		Required    bool    `json:"required"`
	} `json:"inputs"`
	Outputs map[string]struct {
		Description string `json:"description"`
	} `json:"outputs"`
}

// Inputs renders the reference of an action.yml: a table of its inputs (name, default,
// description), then one of its outputs, each in the order the file declares them.
func Inputs(actionYAML []byte) ([]byte, error) {
	var a action
	if err := yaml.Unmarshal(actionYAML, &a); err != nil {
		return nil, fmt.Errorf("action.yml: %w", err)
	}
	inputs, err := order(actionYAML, "inputs", len(a.Inputs))
	if err != nil {
		return nil, err
	}
	outputs, err := order(actionYAML, "outputs", len(a.Outputs))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!-- Generated from action.yml by `%s`; do not edit. -->\n\n", Command)
	b.WriteString("# Inputs and outputs\n\n[README](../README.md) › Inputs and outputs\n\n")
	b.WriteString("Every input of the action (`with:`), its default and what it does, as `action.yml` declares them.\n")
	b.WriteString("The CLI takes most of them as flags of the same name (`chart_version` is `--chart-version`;\n")
	b.WriteString("`shepherd COMMAND --help`); GitHub-native reporting and keyless access are the action's alone.\n")
	b.WriteString("How the inputs of a feature work together: [blue-green](blue-green.md), [canary](canary.md),\n")
	b.WriteString("[canary analysis](canary-analysis.md), [traffic routing](traffic-routing.md),\n")
	b.WriteString("[cluster access](cluster-access.md), [chart sources](chart-sources.md), [reporting](reporting.md).\n\n")
	b.WriteString("## Inputs\n\n| input | default | what it is |\n|---|---|---|\n")
	for _, name := range inputs {
		in, ok := a.Inputs[name]
		if !ok {
			return nil, fmt.Errorf("action.yml: input %q is not under inputs", name)
		}
		def, desc := "", cell(in.Description)
		if in.Default != nil && *in.Default != "" {
			def = "`" + cell(*in.Default) + "` "
		}
		if in.Required {
			desc = "Required. " + desc
		}
		fmt.Fprintf(&b, "| `%s` | %s| %s |\n", name, def, desc)
	}
	b.WriteString("\n## Outputs\n\n| output | value |\n|---|---|\n")
	for _, name := range outputs {
		out, ok := a.Outputs[name]
		if !ok {
			return nil, fmt.Errorf("action.yml: output %q is not under outputs", name)
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", name, cell(out.Description))
	}
	return b.Bytes(), nil
}

var key = regexp.MustCompile(`^  ([A-Za-z0-9_-]+):`)

// order lists the keys of a top-level mapping of action.yml in the order the file has them
// (a decoded map has none); want is how many the decoder found.
func order(actionYAML []byte, section string, want int) ([]string, error) {
	var keys []string
	in := false
	s := bufio.NewScanner(bytes.NewReader(actionYAML))
	for s.Scan() {
		line := s.Text()
		switch {
		case line == section+":":
			in = true
		case in && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
			in = false
		case in:
			if m := key.FindStringSubmatch(line); m != nil {
				keys = append(keys, m[1])
			}
		}
	}
	if len(keys) != want {
		return nil, fmt.Errorf("action.yml: found %d %s in the file's lines, the YAML decoder %d: write each as a two-space indented key under %q", len(keys), section, want, section+":")
	}
	return keys, nil
}

// cell makes a description one Markdown table cell: one line, pipes escaped, and < written
// as &lt; so that <name>-canary is not taken for an HTML tag.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "<", "&lt;")
}
