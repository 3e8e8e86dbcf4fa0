# Targets match the README. `make demo` and `make test` are the two commands.
GO       ?= go
BIN      ?= bin/keywarden
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/keywarden/keywarden/internal/cli.Version=$(VERSION)
AS_OF    ?= 2026-11-23

.PHONY: demo test test-deps build lint bench bench-org clean

## demo: scan the sample credential report in examples/ (no AWS account needed)
demo:
	$(GO) run ./cmd/keywarden scan --credential-report examples/credential-report.csv --as-of $(AS_OF) --format table

## test: install what the tests need, then vet and run every test
test: test-deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }
	$(GO) test -count=1 -timeout 30m ./...

test-deps:
	./scripts/test-deps.sh

## build: the keywarden binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/keywarden

lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }

## bench: benchmarks (they seed moto; not part of `make test`)
bench: test-deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-org: organization scale, keywarden beside a baseline scanner (docs/performance.md); BENCH_DELAY=20ms
BENCH_DELAY ?= 20ms
bench-org: test-deps
	$(GO) test -run '^$$' -bench OrgScale -benchtime 1x -timeout 90m ./bench/ -args -org.delay=$(BENCH_DELAY)

clean:
	rm -rf bin dist
