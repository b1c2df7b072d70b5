# rfidgw: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
FUZZTIME ?= 8s
# Packages needed by the tests, installed with apt when missing (root only).
APT_PKGS := mosquitto

.PHONY: all build deps test vet unit fuzz-short fuzz bench demo clean

all: build

build: bin/rfidgw bin/devkafka

bin/rfidgw: FORCE
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/rfidgw ./cmd/rfidgw

bin/devkafka: FORCE
	$(GO) build -o bin/devkafka ./cmd/devkafka

FORCE:

# deps: Go modules (no `go mod tidy`: it pulls ~800 MB of confluent-kafka-go's
# own test dependencies) and the Debian packages the tests use.
deps:
	$(GO) mod download
	@missing=""; for p in $(APT_PKGS); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "WARNING: missing$$missing and not root: tests that need them will skip (sudo apt-get install$$missing)"; \
	  fi; \
	fi

vet:
	$(GO) vet ./...

# unit + integration + end-to-end tests (the e2e tests build the binaries themselves)
unit:
	$(GO) test -count=1 -timeout 12m ./...

# every fuzz target for a short time (FUZZTIME); crashers land in testdata/fuzz as regression tests
fuzz-short:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg > /tmp/rfidgw-fuzz.log 2>&1 || { cat /tmp/rfidgw-fuzz.log; exit 1; }; \
	  done; \
	done

fuzz:
	$(MAKE) fuzz-short FUZZTIME=$${FUZZTIME:-60s}

test: deps vet build unit fuzz-short
	@echo "make test: all green"

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./edge/ ./buffer/ ./uplink/ ./reader/...

demo: build
	./scripts/demo.sh

clean:
	rm -rf bin dist .demo
