// Package words holds the small formatters the engine and the strategies share in what they
// tell the user.
package words

import "fmt"

// OrDefault is s, or def when s is empty.
func OrDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Truncate is s cut to n bytes, an ellipsis marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// RevName names revision v in a message ("none, first install" for 0).
func RevName(v int) string {
	if v == 0 {
		return "none, first install"
	}
	return fmt.Sprint(v)
}
