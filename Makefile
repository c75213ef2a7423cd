# Mesh Metrics: the two commands the README promises, and their parts.
#   make demo   the docker-less demo (builds what it needs first)
#   make test   every check and test: Go, jest, typecheck, lint, gRPC harness
#   make package   the release zip (and its .sha256) in release/
# Each target installs what it needs (npm ci, Go modules, mage) by itself.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
MAGE_VER  := v1.17.2
BIN       := $(CURDIR)/.bin
MAGE      := $(BIN)/mage
STAMPS    := .stamps
PLUGIN    := dist/gpx_meshmetrics_linux_amd64
COLLECTOR := $(BIN)/otelcol-meshmetrics
TRAEFIK   := $(BIN)/traefik
GO_PKGS   := ./pkg/... ./cmd/... ./tests/... ./dashboards/... ./scripts/...
GO_SRC    := $(shell find pkg -name '*.go' -not -name '*_test.go') go.mod go.sum Magefile.go
TS_SRC    := $(shell find src -type f -not -name '*.test.tsx' -not -name '*.test.ts') package.json

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export GOTOOLCHAIN := local

.PHONY: help deps build build-frontend build-backend build-pipeline demo package test test-go test-frontend lint-go clean

help:
	@echo "make demo   run the docker-less demo"
	@echo "make test   run every test"
	@echo "make package   the release zip in release/ (PACKAGE_PLATFORMS=all for all six platforms)"

## deps: node_modules from the lock file, Go modules, mage pinned.
deps: $(STAMPS)/npm $(STAMPS)/gomod $(MAGE)

$(STAMPS)/npm: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund
	@touch $@

$(STAMPS)/gomod: go.mod go.sum
	@mkdir -p $(STAMPS)
	$(GO) mod download
	@touch $@

$(MAGE):
	GOBIN=$(BIN) $(GO) install github.com/magefile/mage@$(MAGE_VER)

## build: the frontend bundle and the linux/amd64 backend (not all six
## release platforms: `mage` alone builds those, for releases only).
build: build-frontend build-backend

build-frontend: dist/module.js
dist/module.js: $(STAMPS)/npm $(TS_SRC)
	npm run build

build-backend: $(PLUGIN)
$(PLUGIN): $(STAMPS)/gomod $(MAGE) $(GO_SRC)
	$(MAGE) -v build:linux

## build-pipeline: the OpenTelemetry Collector (provisioning/collector's
## manifest, ocb v0.161.0; also the opt-in pair agent) and Traefik v3.6.12,
## both from the Go module proxy into .bin/. Rebuilt only when their manifest
## or script changes; warm rebuilds come from Go's own build cache (cold:
## ~20 and ~12 minutes).
build-pipeline: $(COLLECTOR) $(TRAEFIK)

$(COLLECTOR): provisioning/collector/builder-config.yaml scripts/build-collector.sh
	scripts/build-collector.sh $@

$(TRAEFIK): scripts/build-traefik.sh
	scripts/build-traefik.sh $@

demo: deps build build-pipeline
	$(GO) run ./cmd/demo

## package: release/forma3d-meshmetrics-datasource-<version>.zip and its
## .sha256: the frontend and the backends of PACKAGE_PLATFORMS (default
## linux amd64 and arm64; `all` adds linux/arm, darwin amd64/arm64 and
## windows/amd64), version from package.json, CHANGELOG entry required.
## Signed only when GRAFANA_ACCESS_POLICY_TOKEN and GRAFANA_ROOT_URLS are set.
PACKAGE_PLATFORMS ?= linux/amd64 linux/arm64
ifeq ($(strip $(PACKAGE_PLATFORMS)),all)
override PACKAGE_PLATFORMS := linux/amd64 linux/arm64 linux/arm darwin/amd64 darwin/arm64 windows/amd64
endif
# The plugin SDK's mage target for each GOOS_GOARCH.
MAGE_TARGET_linux_amd64   := build:linux
MAGE_TARGET_linux_arm64   := build:linuxARM64
MAGE_TARGET_linux_arm     := build:linuxARM
MAGE_TARGET_darwin_amd64  := build:darwin
MAGE_TARGET_darwin_arm64  := build:darwinARM64
MAGE_TARGET_windows_amd64 := build:windows
PACKAGE_BINS := $(foreach p,$(PACKAGE_PLATFORMS),dist/gpx_meshmetrics_$(subst /,_,$(p))$(if $(findstring windows,$(p)),.exe))

dist/gpx_meshmetrics_%: $(STAMPS)/gomod $(MAGE) $(GO_SRC)
	$(MAGE) -v $(MAGE_TARGET_$(basename $*))

package: deps build-frontend $(PACKAGE_BINS)
	$(GO) run ./scripts/releasezip -platforms "$(PACKAGE_PLATFORMS)"

## test: static checks first, then every test runner; Go's summary ends the run.
## The release zip is built first: tests/release checks it.
test: deps build package test-frontend lint-go test-go

test-frontend: $(STAMPS)/npm
	npm run typecheck
	npm run lint
	node --test scripts/
	npm run test:ci

lint-go:
	@unformatted="$$(gofmt -l pkg tests cmd dashboards scripts Magefile.go 2>/dev/null)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(GO_PKGS)

test-go: $(PLUGIN) $(COLLECTOR) $(TRAEFIK)
	# A count, not a duration: Go 1.26's fuzzing coordinator can report
	# "context deadline exceeded" when a -fuzztime duration ends while a
	# starved worker is mid-input (go.dev/issue/75804, fixed in Go 1.27).
	# 200,000 inputs take 15-40 s on 2 cores.
	$(GO) test -count=1 -run '^$$' -fuzz FuzzTranslate -fuzztime 200000x ./pkg/sqlgen
	# The slowest packages (promdiff, e2e) need more than go test's default
	# 10 minutes when they share this 2-core machine with the others.
	$(GO) test -count=1 -timeout 45m $(GO_PKGS)

clean:
	rm -rf dist .bin $(STAMPS) node_modules/.cache release
