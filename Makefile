# Shepherd — make targets. `make test` is what CI runs (.ci/run).
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TOOLS_BIN   := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/shepherd/bin
E2E_TIMEOUT ?= 40m
# Tests run side by side within a package: most of an e2e test's time is waiting (stages,
# readiness, verification windows), not CPU, so more than one per core.
E2E_PARALLEL ?= 3
# The data plane's Prometheus: Debian's package, pinned (internal/testcluster/prometheus.go).
PROMETHEUS_PKG := prometheus=2.42.0+ds-5+deb12u1
# The chart tests' OCI registry: Debian's docker-registry (the distribution registry), pinned
# (internal/testcluster/registry.go).
REGISTRY_PKG := docker-registry=2.8.2+ds1-1

.PHONY: test unit e2e lint demo cluster-bins prometheus registry fmt bench

## test: lint, then every test — unit and end-to-end (real local control plane) — in one go test run
test: lint cluster-bins prometheus registry
	$(GO) test -tags e2e -count=1 -parallel $(E2E_PARALLEL) -timeout $(E2E_TIMEOUT) ./...

## unit: unit tests only (no cluster)
unit:
	$(GO) test -count=1 ./...

## e2e: end-to-end tests only
e2e: cluster-bins prometheus registry
	$(GO) test -tags e2e -count=1 -parallel $(E2E_PARALLEL) -timeout $(E2E_TIMEOUT) ./test/...

## cluster-bins: build the local control plane's binaries and its gateway (Traefik) once per machine (cached, keyed by version)
cluster-bins:
	$(GO) run ./internal/testcluster/cmd/testcluster build

## prometheus: install the data plane's Prometheus (Debian's package) unless it is there
prometheus:
	@command -v prometheus >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "the data plane needs Prometheus: sudo apt-get install $(PROMETHEUS_PKG)"; exit 1; fi; \
	  echo "installing $(PROMETHEUS_PKG) (Debian) for the data plane"; \
	  apt-get update -qq && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PROMETHEUS_PKG) >/dev/null || \
	    { echo "$(PROMETHEUS_PKG) is gone from the archive (a Debian point release): installing its successor"; \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; }; }

## registry: install the chart tests' OCI registry (Debian's package) unless it is there
registry:
	@command -v docker-registry >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "the chart tests need an OCI registry: sudo apt-get install $(REGISTRY_PKG)"; exit 1; fi; \
	  echo "installing $(REGISTRY_PKG) (Debian) for the chart tests"; \
	  apt-get update -qq && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(REGISTRY_PKG) >/dev/null || \
	    { echo "$(REGISTRY_PKG) is gone from the archive (a Debian point release): installing its successor"; \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null; }; }; }

## lint: gofmt, go vet (with and without the e2e tag), staticcheck
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...
	@test -x $(TOOLS_BIN)/staticcheck || GOBIN=$(TOOLS_BIN) $(GO) install $(STATICCHECK)
	$(TOOLS_BIN)/staticcheck ./...
	$(TOOLS_BIN)/staticcheck -tags e2e ./...

## demo: a local deploy end to end on a throw-away local cluster (no cluster of yours needed)
demo: cluster-bins prometheus
	$(GO) run ./internal/testcluster/cmd/demo

## bench: Shepherd vs `helm upgrade --atomic --wait` on a local cluster (about 12 minutes; `go run ./bench -quick` for a fast run)
bench: cluster-bins prometheus
	$(GO) run ./bench

fmt:
	gofmt -w $$(git ls-files '*.go')
