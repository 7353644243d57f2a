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

// Scrubbed is a deep copy of v with scrub applied to every string reachable through its
// exported fields, pointers, interfaces, slices, arrays and maps; v itself is left as it was.
// It is the one walk every redaction of a structure takes (a diagnosis, an outcome).
func Scrubbed[T any](v T, scrub func(string) string) T {
	return scrubbed(reflect.ValueOf(&v).Elem(), scrub).Interface().(T)
}

func scrubbed(v reflect.Value, scrub func(string) string) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	switch v.Kind() {
	case reflect.String:
		out.SetString(scrub(v.String()))
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return v
		}
		if v.Kind() == reflect.Interface {
			out.Set(scrubbed(v.Elem(), scrub))
			break
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(scrubbed(v.Elem(), scrub))
		out.Set(p)
	case reflect.Struct:
		out.Set(v) // unexported fields as they are
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(scrubbed(v.Field(i), scrub))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out.Set(reflect.MakeSlice(v.Type(), v.Len(), v.Len()))
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(scrubbed(v.Index(i), scrub))
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(scrubbed(v.Index(i), scrub))
		}
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out.Set(reflect.MakeMapWithSize(v.Type(), v.Len()))
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(scrubbed(it.Key(), scrub), scrubbed(it.Value(), scrub))
		}
	default:
		out.Set(v)
	}
	return out
}
