// Package runnerfiles reads the files a GitHub runner hands a step, for the tests and the bench
// that drive Shepherd exactly as a runner does.
package runnerfiles

import (
	"bufio"
	"strings"
)

// ParseOutputs reads a GITHUB_OUTPUT file: name<<DELIMITER, the value's lines, DELIMITER.
func ParseOutputs(s string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, delim, ok := strings.Cut(sc.Text(), "<<")
		if !ok {
			continue
		}
		var val []string
		for sc.Scan() && sc.Text() != delim {
			val = append(val, sc.Text())
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}
