package docgen

import (
	"strings"
	"testing"
)

// The reference keeps action.yml's order (not the decoded map's), marks required inputs,
// and keeps a description with | or <name> one table cell that renders as written.
func TestInputsKeepsOrderAndEscapes(t *testing.T) {
	src := `name: x
inputs:
  zeta:
    description: "Last in the alphabet, first in the file: a | b, <name>-canary."
    default: "1"
  alpha:
    description: |
      Two
      lines.
    required: true
outputs:
  out:
    description: "one | two"
runs:
  using: docker
`
	got, err := Inputs([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{
		"| `zeta` | `1` | Last in the alphabet, first in the file: a \\| b, &lt;name>-canary. |\n| `alpha` | | Required. Two lines. |\n",
		"| `out` | one \\| two |\n",
		Command,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("reference lacks %q:\n%s", want, s)
		}
	}
}

// An inputs mapping the line scan cannot order (flow style) is an error naming the section,
// never a reference with inputs missing.
func TestInputsRefusesWhatItCannotOrder(t *testing.T) {
	_, err := Inputs([]byte("inputs: {a: {description: x}}\noutputs:\n  o:\n    description: y\n"))
	if err == nil || !strings.Contains(err.Error(), "inputs") {
		t.Fatalf("err = %v, want one naming inputs", err)
	}
}
