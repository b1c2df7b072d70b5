# rfidgw: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
# One version string for the binary, the .deb and build_info: git describe
# made Debian-valid by scripts/version.sh (v1.2.0-3-gabc1234 -> 1.2.0+3.gabc1234).
override VERSION := $(shell VERSION='$(VERSION)' ./scripts/version.sh)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
FUZZTIME ?= 8s
# Debian packages the tests need: command -> package, installed with apt when
# missing (root only; otherwise the tests that need them skip and say why).
APT_CMDS := mosquitto:mosquitto chromium:chromium dpkg-deb:dpkg promtool:prometheus

.PHONY: all build deps test vet lint race unit fuzz-short fuzz bench bench-e2e bench-e2e-short demo clean deb deb-test chaos fleet demo-fleet

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
	./scripts/epcis-schema.sh
	@missing=""; for cp in $(APT_CMDS); do c=$${cp%%:*}; p=$${cp#*:}; command -v $$c >/dev/null 2>&1 || missing="$$missing $$p"; done; \
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

# lint: staticcheck at a pinned version, installed once into bin/tools/ (not a
# go.mod requirement). Clean means no output.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := bin/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck
lint: $(STATICCHECK)
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# race: the race detector over the packages where it runs in reasonable time:
# the concurrent stages without cgo or a browser in their tests (measured on
# 2 cores at load 9-23: ~70 s with a warm cache, +~140 s to build
# them with -race on an empty cache). internal/zonepage (chromedp) and the
# packages that link librdkafka (uplink, internal/config, internal/gateway,
# cmd/rfidgw) would add ~200 s of -race build for little: run
# `make race RACE_PKGS=./internal/zonepage/` by hand. RACE_FLAGS -short keeps
# edge's model test to 3 floors.
RACE_PKGS ?= ./edge/ ./buffer/ ./reader/... ./internal/sdnotify/
RACE_FLAGS ?= -short
race:
	$(GO) test -race -count=1 -timeout 10m $(RACE_FLAGS) $(RACE_PKGS)

# unit + integration + end-to-end tests (the e2e tests build the binaries themselves)
unit:
	$(GO) test -count=1 -timeout 12m ./...

# every fuzz target for a short time (FUZZTIME); crashers land in testdata/fuzz as regression tests
fuzz-short:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

# longer fuzzing: make fuzz FUZZTIME=5m
fuzz:
	FUZZTIME=$(if $(filter 8s,$(FUZZTIME)),60s,$(FUZZTIME)) ./scripts/fuzz.sh

# the .deb: dist/rfidgw_<version>_<arch>.deb (ARCH=arm64 needs gcc-aarch64-linux-gnu)
ARCH ?= $(shell $(GO) env GOARCH)
deb:
	VERSION=$(VERSION) ./scripts/deb.sh $(ARCH)

deb-test:
	./scripts/deb_test.sh

# the full fault-injection suite (about 30-40 minutes) and 200 power cuts of the
# buffer on powerfs (about a minute; root and /dev/fuse, else skipped); short
# forms run in `make test`
chaos: build
	$(GO) test -count=1 -run PowerCut -v -timeout 20m ./buffer/ -args -powercut.cuts=200
	$(GO) test -count=1 -run . -v -timeout 60m ./chaos/ -args -chaos.full

# the long fleet test (the short form runs in `make test`): docs/reliability.md
fleet: build
	$(GO) test -count=1 -run TestFleet -v -timeout 60m ./cmd/rfidgw/ -args -fleet.full

# two floor gateways and the hub on the dev broker: scripts/demo-fleet.sh
demo-fleet: build
	./scripts/demo-fleet.sh

test: deps vet lint build unit race deb-test fuzz-short
	@echo "make test: all green"

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./edge/ ./buffer/ ./uplink/ ./reader/...

# the whole daemon: the built bin/rfidgw (GOMAXPROCS=1, pinned to CPU 0) fed by
# simulated readers, into an in-process kfake broker (internal/benche2e/BENCH.md).
# BENCH_ARGS adds flags, e.g. BENCH_ARGS='-llrp 0 -mqtt 10 -rate 20000'.
BENCH_E2E = $(GO) test -tags benche2e -count=1 -run TestBenchE2E -v -timeout 30m ./internal/benche2e/ -args -bin $(CURDIR)/bin/rfidgw
bench-e2e: build
	$(BENCH_E2E) -llrp 50 -rate 50000 -tags 100000 -runs 3 $(BENCH_ARGS)
	$(BENCH_E2E) -llrp 50 -rate 0 -tags 100000 -idle 0 -runs 3 $(BENCH_ARGS)
	$(BENCH_E2E) -llrp 0 -mqtt 10 -rate 20000 -tags 20000 -idle 0 $(BENCH_ARGS)
	$(BENCH_E2E) -llrp 0 -serial 10 -rate 20000 -tags 20000 -idle 0 $(BENCH_ARGS)

# about a minute: 10 LLRP readers at 10,000 reads/s
bench-e2e-short: build
	$(BENCH_E2E) -llrp 10 -rate 10000 -tags 20000 -warmup 5s -duration 15s -idle 5s $(BENCH_ARGS)

demo: build
	./scripts/demo.sh

clean:
	rm -rf bin dist .demo
