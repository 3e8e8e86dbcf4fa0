# Targets match the README. `make demo` and `make test` are the two commands.
GO       ?= go
BIN      ?= bin/keywarden
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/keywarden/keywarden/internal/cli.Version=$(VERSION)
AS_OF    ?= 2026-11-23

.PHONY: demo test test-deps fuzz golden build lambda lint bench bench-org bench-scan soak clean

## demo: scan the sample credential report in examples/ (no AWS account needed)
demo:
	$(GO) run ./cmd/keywarden scan --credential-report examples/credential-report.csv --as-of $(AS_OF) --format table

## test: install what the tests need, then vet, staticcheck, run every
## test and fuzz the credential report parser for $(FUZZTIME); test
## artifacts (the HTML report's screenshots) are kept in
## $(TEST_OUTPUT)/_artifacts
TEST_OUTPUT ?= $(CURDIR)/.cache/test-output
test: test-deps lint
	mkdir -p $(TEST_OUTPUT)
	$(GO) test -count=1 -timeout 30m -artifacts -outputdir $(TEST_OUTPUT) ./...
	$(MAKE) --no-print-directory fuzz

## fuzz: fuzz the credential report parser (IAM user names and rows that
## IAM users control) for FUZZTIME; a failing input is saved under
## internal/inventory/testdata/fuzz/ and then runs as a seed in every go test
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseCredentialReport$$' -fuzztime $(FUZZTIME) ./internal/inventory

test-deps:
	./scripts/test-deps.sh

## golden: rewrite the golden files (testdata) of every package whose tests
## use internal/golden — go test -update on each; read the diff before committing
GOLDEN_PKGS = $(shell $(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | awk '{ for (i = 2; i <= NF; i++) if ($$i ~ /\/internal\/golden$$/) { print $$1; next } }')
golden: test-deps
	$(GO) test -count=1 $(GOLDEN_PKGS) -update

## build: the keywarden binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/keywarden

## lambda: the Lambda bundle — bootstrap for provided.al2023 on arm64, zipped (dist/keywarden-lambda.zip)
lambda:
	mkdir -p dist
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags '$(LDFLAGS)' -o dist/bootstrap ./cmd/keywarden
	cd dist && rm -f keywarden-lambda.zip && python3 -m zipfile -c keywarden-lambda.zip bootstrap
	@python3 -c 'import zipfile,stat,sys; i=zipfile.ZipFile("dist/keywarden-lambda.zip").getinfo("bootstrap"); sys.exit(0 if (i.external_attr>>16) & stat.S_IXUSR else "bootstrap is not executable in the zip")'
	@echo "dist/keywarden-lambda.zip: bootstrap for provided.al2023, arm64"

## lint: go vet, gofmt, and staticcheck at the version go.mod's tool directive
## pins (built from the module proxy on first use)
lint:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }
	$(GO) tool staticcheck ./...

## bench: benchmarks (they seed moto; not part of `make test`)
bench: test-deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-org: organization scale, keywarden beside a baseline scanner (docs/performance.md); BENCH_DELAY=20ms
BENCH_DELAY ?= 20ms
bench-org: test-deps
	$(GO) test -run '^$$' -bench OrgScale -benchtime 1x -timeout 90m ./bench/ -args -org.delay=$(BENCH_DELAY)

## bench-scan: one account's critical path, report ready and to be generated, against a model and the baseline (docs/performance.md)
bench-scan: test-deps
	$(GO) test -run '^$$' -bench Scan1000Users -benchtime 5x -timeout 30m ./bench/ -args -org.delay=$(BENCH_DELAY)

## soak: the long fault tests (build tag soak: files *_soak_test.go) —
## throttling at random, hung calls, signals and concurrent runs repeated;
## see docs/reliability.md. Not part of `make test`.
soak: test-deps
	$(GO) test -count=1 -tags soak -run Soak -timeout 90m ./...

clean:
	rm -rf bin dist
