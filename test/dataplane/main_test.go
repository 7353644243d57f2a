//go:build e2e

// Package dataplane holds the end-to-end tests of the local cluster's data plane: the example
// app's pods as real processes, real traffic through Services' endpoints, a real Prometheus.
package dataplane

import (
	"testing"

	"github.com/shepherd-deploy/shepherd/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.MainWithDataPlane(m) }
