package health

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHealthyBody(t *testing.T) {
	tests := []struct {
		name        string
		code        int
		contentType string
		body        string
		wantErr     string // "" for healthy
	}{
		{name: "200 no body", code: 200},
		{name: "204", code: 204},
		{name: "200 plain text", code: 200, contentType: "text/plain", body: "ok"},
		{name: "200 html", code: 200, contentType: "text/html", body: "<html>degraded</html>"},
		{name: "500", code: 500, body: "boom", wantErr: "HTTP 500"},
		{name: "503 with healthy json", code: 503, contentType: "application/json", body: `{"status":"healthy"}`, wantErr: "HTTP 503"},
		{name: "301", code: 301, wantErr: "HTTP 301"},
		{name: "199", code: 199, wantErr: "HTTP 199"},
		{name: "json healthy", code: 200, contentType: "application/json", body: `{"status":"healthy"}`},
		{name: "json HEALTHY", code: 200, contentType: "application/json; charset=utf-8", body: `{"status":"HEALTHY","checks":{"db":"ok"}}`},
		{name: "json degraded", code: 200, contentType: "application/json", body: `{"status":"degraded"}`, wantErr: `"degraded"`},
		{name: "json status not a string", code: 200, contentType: "application/json", body: `{"status":false}`, wantErr: "false"},
		{name: "json without status", code: 200, contentType: "application/json", body: `{"uptime":12}`},
		{name: "json object without content type", code: 200, body: ` {"status":"unhealthy"}`, wantErr: `"unhealthy"`},
		{name: "json array", code: 200, contentType: "application/json", body: `["status"]`},
		{name: "json content type but not json", code: 200, contentType: "application/json", body: "OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := HealthyBody(tt.code, tt.contentType, []byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("HealthyBody = %v, want healthy", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("HealthyBody = nil, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("HealthyBody = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckHTTPBecomesHealthy(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"starting"}`)
		case 2:
			fmt.Fprint(w, `{"status":"degraded"}`)
		default:
			fmt.Fprint(w, `{"status":"healthy"}`)
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := CheckHTTP(ctx, srv.Client(), srv.URL+"/healthz", 5*time.Millisecond); err != nil {
		t.Fatalf("CheckHTTP = %v, want nil", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("server was asked %d times, want 3 (stop at the first healthy answer)", n)
	}
}

func TestCheckHTTPNeverHealthy(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"degraded"}`)
	}))
	defer srv.Close()

	// Attempts at about 0, 100 and 200ms; the deadline falls in the wait after the third, so
	// the last problem is a complete answer (see the report: a deadline that falls during an
	// attempt loses it).
	const deadline = 250 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err := CheckHTTP(ctx, nil, srv.URL+"/healthz", 100*time.Millisecond)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("CheckHTTP = nil, want an error")
	}
	if !strings.Contains(err.Error(), `"degraded"`) {
		t.Errorf("CheckHTTP = %q, want it to say the last answer", err)
	}
	if strings.Contains(err.Error(), srv.URL) {
		t.Errorf("CheckHTTP = %q names the URL: the caller does, once", err)
	}
	if strings.Contains(err.Error(), "503") {
		t.Errorf("CheckHTTP = %q, want the last problem, not the first", err)
	}
	if elapsed < deadline {
		t.Errorf("CheckHTTP gave up after %s, before the %s deadline", elapsed, deadline)
	}
	if elapsed > 5*time.Second {
		t.Errorf("CheckHTTP took %s, far past the %s deadline", elapsed, deadline)
	}
	if n := calls.Load(); n < 2 {
		t.Errorf("server was asked %d times, want retries", n)
	}
}

func TestCheckHTTPStatusCode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadGateway)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// The interval outlasts the deadline: one attempt, then the deadline ends the wait.
	err := CheckHTTP(ctx, srv.Client(), srv.URL, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") {
		t.Errorf("CheckHTTP = %v, want an error mentioning HTTP 502", err)
	}
}
