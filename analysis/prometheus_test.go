package analysis

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// promServer answers /api/v1/query with body (Prometheus's JSON envelope around it).
func promServer(t *testing.T, status int, data string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/api/v1/query") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status == 200 {
			fmt.Fprintf(w, `{"status":"success","data":%s}`, data)
		} else {
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestQueryTellsNoDataFromZero(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, data string
		want       Sample
	}{
		{"empty vector", `{"resultType":"vector","result":[]}`, Sample{NoData: true}},
		{"zero", `{"resultType":"vector","result":[{"metric":{},"value":[1,"0"]}]}`, Sample{Value: 0}},
		{"NaN (0/0)", `{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}`, Sample{NoData: true}},
		{"scalar", `{"resultType":"scalar","result":[1,"0.25"]}`, Sample{Value: 0.25}},
	} {
		p, err := NewPrometheus(promServer(t, 200, tc.data), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Query(ctx, "x")
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	p, _ := NewPrometheus(promServer(t, 200, `{"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1,"1"]},{"metric":{"pod":"b"},"value":[1,"2"]}]}`), nil)
	if _, err := p.Query(ctx, "x"); err == nil || !strings.Contains(err.Error(), "2 series") {
		t.Errorf("two series for one number: %v", err)
	}
	if v, err := p.QueryVector(ctx, "x"); err != nil || len(v) != 2 || v[1].Labels["pod"] != "b" || v[1].Value != 2 {
		t.Errorf("QueryVector = %+v, %v", v, err)
	}
}

func TestErrorsNamePrometheusNotCredentials(t *testing.T) {
	base := promServer(t, 400, "")
	withCreds := strings.Replace(base, "http://", "http://admin:s3cret@", 1)
	p, err := NewPrometheus(withCreds, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Query(context.Background(), "up")
	if err == nil || !strings.Contains(err.Error(), base) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error = %v; want it to name %s without the password", err, base)
	}
	down, _ := NewPrometheus("http://admin:s3cret@127.0.0.1:1", nil)
	_, err = down.Query(context.Background(), "up")
	if err == nil || !strings.Contains(err.Error(), "prometheus at http://127.0.0.1:1") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("unreachable: %v", err)
	}
	if _, err := NewPrometheus("ftp://x", nil); err == nil {
		t.Error("an ftp URL was accepted")
	}
}
