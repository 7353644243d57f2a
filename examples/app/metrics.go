package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the app's Prometheus series, in the conventional shape promhttp gives them:
//
//	http_requests_total{code,method,handler}             counter
//	http_request_duration_seconds{code,method,handler}   histogram (the client's default buckets)
//	app_info{version}                                    gauge, 1
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(version string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests answered, by status code, method and route.",
		}, []string{"code", "method", "handler"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "How long HTTP requests took, by status code, method and route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"code", "method", "handler"}),
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "app_info", Help: "The running version."}, []string{"version"})
	info.WithLabelValues(version).Set(1)
	m.reg.MustRegister(m.requests, m.duration, info)
	return m
}

// instrument counts and times every request to next under handler (the route, not the raw
// URL, so the label set stays small).
func (m *metrics) instrument(handler string, next http.Handler) http.Handler {
	l := prometheus.Labels{"handler": handler}
	return promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(l),
		promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(l), next))
}

// handler serves the registry in the exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
