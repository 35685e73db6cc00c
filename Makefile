# brink: `make build` builds the web UI and the binary; `make test` runs every
# test (unit, end-to-end with real dockerd/HAProxy/Chromium); `make bench`
# prints side-by-side ratios against peers measured in the same run.
GO        ?= go
BIN       := bin/brink
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/brinkhq/brink/internal/cli.Version=$(VERSION)
export CGO_ENABLED ?= 0

.PHONY: build ui go test unit lint bench clean lab proto demo

build: ui go

go:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/brink
	$(GO) build -trimpath -ldflags '-s -w' -o bin/brink-target ./cmd/brink-target

# Regenerates the protobuf and Connect code under internal/gen (committed).
proto:
	bash proto/generate.sh

ui:
	@if [ -f web/package.json ]; then \
		cd web && ( [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error ) && npm run build; \
	else echo "web/ not present: skipping UI build"; fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -short ./...

# The full suite: unit tests and end-to-end tests against real servers,
# real dockerd, real HAProxy and real Chromium. Needs scripts/setup.sh first.
# -p 1: the end-to-end packages measure timing-sensitive things (arrival-rate
# lateness, knees, CPU rates) on a 2-core machine; running two of them at once
# would measure each other.
test: build lint
	$(GO) test -count=1 -p 1 -timeout 60m ./...
	@if [ -f web/package.json ]; then cd web && npm test; fi

bench: build
	bash bench/run.sh

# A 20-second open-model test against the sample target, with JSON and HTML reports in out/.
demo: build
	@mkdir -p out; bin/brink-target --listen 127.0.0.1:8080 --cpu 200us & pid=$$!; trap "kill $$pid" EXIT; sleep 1; \
	$(BIN) run --url http://127.0.0.1:8080/ --rate 2000/s --duration 20s \
	  --threshold 'p95<50ms' --threshold 'error_rate<1%' --out json=out/demo.json --report out/demo.html

lab: build
	$(BIN) lab

clean:
	rm -rf bin out
