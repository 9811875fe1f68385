# Shoal's make targets. Every target installs what it needs (we run as root on Debian).
SHELL := /bin/bash
GO ?= go
BIN := bin/shoal
PKGS := ./...
TEST_TIMEOUT ?= 25m
export GOFLAGS := -mod=mod

.PHONY: all build deps test unit e2e demo headline bench lint fmt clean sample-images busybox-image
IMAGES_DIR ?= build/images

all: build

deps:
	@need=""; \
	command -v ip >/dev/null || need="$$need iproute2"; \
	command -v nft >/dev/null || need="$$need nftables"; \
	command -v runc >/dev/null || need="$$need runc"; \
	command -v docker >/dev/null || need="$$need docker.io"; \
	test -x /bin/busybox || need="$$need busybox-static"; \
	if [ -n "$$need" ]; then \
		echo "installing:$$need"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	fi

build:
	$(GO) build -o $(BIN) ./cmd/shoal

# The whole suite: unit, in-process cluster, fuzz seeds, and end-to-end labs with real binaries.
test: deps build
	SHOAL_BIN=$(CURDIR)/$(BIN) $(GO) test -race -timeout $(TEST_TIMEOUT) $(PKGS)

unit: build
	$(GO) test -race -short $(PKGS)

e2e: deps build
	SHOAL_BIN=$(CURDIR)/$(BIN) $(GO) test -timeout $(TEST_TIMEOUT) -v ./e2e/...

demo: deps build sample-images busybox-image
	IMAGES_DIR=$(IMAGES_DIR) ./scripts/demo.sh $(CURDIR)/$(BIN)
	$(MAKE) --no-print-directory headline

# The headline experiment: 10 clients x 500 requests through the routing mesh on a node
# without the service, during a rolling update (stop-first, then start-first) and a scale
# up and down; it reports completed and failed requests and the versions seen. `make test`
# runs it too.
headline: deps build sample-images busybox-image
	set -o pipefail; SHOAL_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 15m -v -run TestHeadlineNoDroppedRequests ./e2e/ | grep -E 'headline_test|^(---|ok|FAIL)'

bench: deps build
	SHOAL_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 2s ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null; then staticcheck $(PKGS); fi

fmt:
	gofmt -w $$(git ls-files '*.go')

# sleepy:1 and sleepy:2 (the sample app) as importable rootfs tarballs and docker-save archives.
sample-images:
	GO=$(GO) ./scripts/images/pack-sleepy.sh $(IMAGES_DIR)

# Debian's static busybox as an image with a shell.
busybox-image: deps
	./scripts/images/pack-busybox.sh $(IMAGES_DIR)

clean:
	rm -rf bin build
