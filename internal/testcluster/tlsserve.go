package testcluster

import (
	"crypto/tls"
	"net"
	"net/http"
	"testing"
)

// serveHTTPS serves h over HTTPS on a free loopback port, with a serving certificate for name
// from ca, until the test ends; it returns the address (host:port).
func serveHTTPS(t testing.TB, ca *CA, name string, h http.Handler) string {
	t.Helper()
	crt, key, err := ca.Serving(name)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}
