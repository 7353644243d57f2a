package diagnose

import (
	"reflect"
	"sort"
	"strings"
)

// Masked is what a secret value is replaced by.
const Masked = "***"

// masker replaces every secret (longest first, so a secret inside another is not half
// replaced) by Masked; nil when there are none.
func masker(secrets []string) *strings.Replacer {
	var s []string
	for _, v := range secrets {
		if len(strings.TrimSpace(v)) >= 3 { // a one- or two-character value would mask half the text
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return nil
	}
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	pairs := make([]string, 0, 2*len(s))
	for _, v := range s {
		pairs = append(pairs, v, Masked)
	}
	return strings.NewReplacer(pairs...)
}

// Redact replaces every secret in text by ***.
func Redact(text string, secrets []string) string {
	if r := masker(secrets); r != nil {
		return r.Replace(text)
	}
	return text
}

// redact replaces the secrets in every settable string reachable from v (fields, slices,
// pointers).
func redact(v reflect.Value, r *strings.Replacer) {
	if r == nil {
		return
	}
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(r.Replace(v.String()))
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			redact(v.Elem(), r)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				redact(v.Field(i), r)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			redact(v.Index(i), r)
		}
	}
}
