# Shepherd — make targets. `make test` is what CI runs (.ci/run).
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TOOLS_BIN   := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/shepherd/bin
E2E_TIMEOUT ?= 40m

.PHONY: test unit e2e lint demo cluster-bins fmt bench

## test: lint, then every test — unit and end-to-end (real local control plane) — in one go test run
test: lint cluster-bins
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) ./...

## unit: unit tests only (no cluster)
unit:
	$(GO) test -count=1 ./...

## e2e: end-to-end tests only
e2e: cluster-bins
	$(GO) test -tags e2e -count=1 -timeout $(E2E_TIMEOUT) ./test/...

## cluster-bins: build the local control plane's binaries once per machine (cached, keyed by version)
cluster-bins:
	$(GO) run ./internal/testcluster/cmd/testcluster build

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
demo: cluster-bins
	$(GO) run ./internal/demo

## bench: Shepherd vs `helm upgrade --atomic --wait` on a local cluster (about 12 minutes; `go run ./bench -quick` for a fast run)
bench: cluster-bins
	$(GO) run ./bench

fmt:
	gofmt -w $$(git ls-files '*.go')
