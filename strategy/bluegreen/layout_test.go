package bluegreen

import (
	"strings"
	"testing"
)

func TestReadLayout(t *testing.T) {
	out, err := Colorize(bgChart, Blue, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ReadLayout(out)
	if err != nil {
		t.Fatal(err)
	}
	if !l.IsBlueGreen() || strings.Join(l.Deployments[Blue], ",") != "web-blue" || strings.Join(l.Services, ",") != "web" || len(l.Plain) != 0 {
		t.Errorf("layout of a coloured manifest: %+v", l)
	}
	plain, err := ReadLayout(bgChart)
	if err != nil {
		t.Fatal(err)
	}
	if plain.IsBlueGreen() || strings.Join(plain.Plain, ",") != "web" {
		t.Errorf("layout of a plain manifest: %+v", plain)
	}
}
