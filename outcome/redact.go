package outcome

import (
	"context"
	"reflect"

	"github.com/shepherd-deploy/shepherd/config"
	"github.com/shepherd-deploy/shepherd/diagnose"
)

// Scrubber strips credentials from text: every URL's user info and query secrets
// (config.RedactURLs), and each known secret value (config.Config.SecretValues) as ***.
type Scrubber func(string) string

// NewScrubber is the Scrubber for secrets.
func NewScrubber(secrets []string) Scrubber {
	return func(s string) string { return diagnose.Redact(config.RedactURLs(s), secrets) }
}

// Redact is o with every text in it scrubbed: the message, the diagnosis, the timeline, the
// stages, the revisions. It is what every sink (outputs, summary, JSON, text, the GitHub
// deployment's status, Slack) is given, so none of them can show a credential. o itself is
// left as it was.
func Redact(o Outcome, scrub Scrubber) Outcome {
	v := scrubbed(reflect.ValueOf(o), scrub)
	return v.Interface().(Outcome)
}

// RedactReporter is r with every event and the outcome scrubbed before r sees them.
func RedactReporter(r Reporter, scrub Scrubber) Reporter {
	if r == nil {
		return nil
	}
	return &redacting{Events: r, r: r, scrub: scrub}
}

// RedactEvents is e with every event's message scrubbed before e sees it.
func RedactEvents(e Events, scrub Scrubber) Events {
	if e == nil {
		return nil
	}
	return &redacting{Events: e, scrub: scrub}
}

type redacting struct {
	Events
	r     Reporter
	scrub Scrubber
}

func (x *redacting) Event(ctx context.Context, e Event) {
	e.Message = x.scrub(e.Message)
	x.Events.Event(ctx, e)
}

func (x *redacting) Finish(ctx context.Context, o Outcome) error {
	return x.r.Finish(ctx, Redact(o, x.scrub))
}

// scrubbed is a deep copy of v with scrub applied to every string reachable through exported
// fields, pointers, slices, arrays and maps.
func scrubbed(v reflect.Value, scrub Scrubber) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	switch v.Kind() {
	case reflect.String:
		out.SetString(scrub(v.String()))
	case reflect.Pointer:
		if v.IsNil() {
			return v
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
