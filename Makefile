# Gatehouse: the two commands a fresh clone needs are `make run` and `make test`.
GO        ?= go
BIN       ?= bin/gatehouse
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# The whole suite; -race needs cgo, which the Go toolchain here has.
TEST_FLAGS ?= -race -count=1 -timeout 15m

# The local settings of `make run` and `make dev`: plain HTTP (no Secure cookie),
# the example app on, the per-IP budget off (so `make bench` can load it), and a
# local dev server (Vite's http://localhost:5173) allowed for CORS. Each can be
# set back in the environment.
DEV_ENV = COOKIE_SECURE=$${COOKIE_SECURE:-false} EXAMPLE_APP_ENABLED=$${EXAMPLE_APP_ENABLED:-true} \
	RATE_LIMIT_PER_IP=$${RATE_LIMIT_PER_IP:-0} CORS_ALLOWED_ORIGINS=$${CORS_ALLOWED_ORIGINS-http://localhost:5173} \
	MAIL_URL=$${MAIL_URL:-log:}
AIR ?= github.com/air-verse/air@v1.67.4

.PHONY: test-ha soak scale
.PHONY: help run dev build test test-short test-e2e bench bench-compare bench-coldstart fuzz-smoke fuzz lint lint-spec generate cover migrate fmt vet tidy clean

## run: serve on :3000 with the embedded SQLite database (./data), /docs and the
## example app (/example/); local settings (DEV_ENV above: plain-HTTP cookie, no
## per-IP budget, CORS for http://localhost:5173, mail to the log so the
## verification and reset links show up in the terminal).
run:
	$(DEV_ENV) $(GO) run ./cmd/gatehouse

## dev: like run, but rebuilt and restarted on every change (air, through go run).
dev:
	$(DEV_ENV) $(GO) run $(AIR) -c .air.toml

## help: list the targets.
help:
	@awk '/^## [a-z][a-z0-9-]*:/ { sub(/^## /, ""); n = index($$0, ":"); printf "  %-14s%s\n", substr($$0, 1, n - 1), substr($$0, n + 1); more = 1; next } \
		more && /^## / { sub(/^## /, ""); printf "  %-14s %s\n", "", $$0; next } { more = 0 }' $(MAKEFILE_LIST)

## build: a static binary in bin/.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gatehouse

# The modules published beside the service (a resource server fetches them
# without the service's dependencies); the root module builds the verifier
# from ./api/verify through a replace, and each is tested in its own module,
# with its own go.sum, as a consumer would build it.
SUBMODULES := api/verify api/verify/verifyecho

## test: the whole suite (SQLite always; PostgreSQL when its binaries exist,
## required when REQUIRE_POSTGRES=1), the verifier modules included.
test:
	$(GO) vet ./...
	@set -e; for m in $(SUBMODULES); do echo "vet $$m"; (cd $$m && GOWORK=off $(GO) vet ./...); done
	$(GO) test $(TEST_FLAGS) ./...
	@set -e; for m in $(SUBMODULES); do (cd $$m && GOWORK=off $(GO) test $(TEST_FLAGS) ./...); done
	$(MAKE) --no-print-directory fuzz-smoke

# The fuzz targets: package and name. `make test` runs each briefly on top of
# its committed seed corpus (testdata/fuzz); `make fuzz FUZZTIME=10m` runs
# each for longer. The brief run is a count of executions, not a duration:
# with a duration, Go 1.26's fuzzing coordinator can report its own deadline
# as a failure when a worker is mid-call as time runs out (golang/go#75804,
# fixed in Go 1.27), which a loaded CI machine hits now and then.
FUZZ_TARGETS := \
	./adapter/http:FuzzBind \
	./adapter/http:FuzzBearerToken \
	./domain/session:FuzzParseRefreshToken \
	./adapter/token:FuzzVerify \
	./adapter/password:FuzzVerify
FUZZTIME ?= 20000x

## fuzz-smoke: every fuzz target for FUZZTIME (20,000 executions) each.
fuzz-smoke fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## test-e2e: the browser end-to-end tests alone (Debian's Chromium; they are part
## of `make test` when it is installed; REQUIRE_BROWSER=1 makes its absence a failure).
test-e2e:
	$(GO) test -count=1 -timeout 10m -v ./e2e/

## test-short: the suite without -race, for a quick loop.
test-short:
	$(GO) test -count=1 ./...
	@set -e; for m in $(SUBMODULES); do (cd $$m && GOWORK=off $(GO) test -count=1 ./...); done

## bench: load a running service for a fixed time (`make run` in another shell;
## elsewhere start the service with RATE_LIMIT_PER_IP=0, since the load comes from one address).
## bench-compare measures the service beside its floors, in one run; it needs the
## service on PostgreSQL: DATABASE_URL=postgres://... RATE_LIMIT_PER_IP=0 make run
BENCH_URL   ?= http://127.0.0.1:3000
BENCH_FLAGS ?= -duration 10s -concurrency 16
bench:
	$(GO) run ./cmd/gatehouse-bench -url $(BENCH_URL) $(BENCH_FLAGS)
bench-compare:
	$(GO) run ./cmd/gatehouse-bench compare -url $(BENCH_URL) -database-url "$$DATABASE_URL" $(BENCH_FLAGS) $${BENCH_PID:+-pid $$BENCH_PID}
bench-coldstart: build
	$(GO) run ./cmd/gatehouse-bench coldstart -binary $(BIN) -runs 5

## lint: gofmt, go vet and golangci-lint (when installed).
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@set -e; for m in $(SUBMODULES); do (cd $$m && GOWORK=off $(GO) vet ./...); done
	@if command -v golangci-lint >/dev/null 2>&1; then golangci-lint run ./... && for m in $(SUBMODULES); do (cd $$m && golangci-lint run ./...) || exit 1; done; else echo "golangci-lint not installed; skipped (go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0)"; fi

## lint-spec: lint api/openapi.yaml with Redocly and Spectral (zero errors
## wanted; settings in redocly.yaml, .redocly.lint-ignore.yaml, .spectral.yaml).
## The tools are pinned in tools/speclint/package-lock.json; needs node >= 20.19 and npm.
SPECLINT := tools/speclint
NPM_CI   := npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true
lint-spec: $(SPECLINT)/node_modules/.package-lock.json
	$(SPECLINT)/node_modules/.bin/redocly lint --format=stylish api/openapi.yaml
	$(SPECLINT)/node_modules/.bin/spectral lint --fail-severity=error -r .spectral.yaml api/openapi.yaml

$(SPECLINT)/node_modules/.package-lock.json: $(SPECLINT)/package-lock.json
	cd $(SPECLINT) && $(NPM_CI)

## generate: regenerate the Go client (clients/go/gatehouse) from api/openapi.yaml
## with the oapi-codegen pinned in go.mod; run it after every spec change.
generate:
	cd clients/go/gatehouse && $(GO) generate ./

## cover: the suite with a coverage profile and summary.
cover:
	$(GO) test -count=1 -coverprofile=coverage.out ./...
	$(GO) tool cover -func=coverage.out | tail -1

## migrate: apply the database migrations (DATABASE_URL selects the database).
migrate:
	$(GO) run ./cmd/gatehouse migrate

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin coverage.out

## test-ha: the high-availability suite (internal/hatest, build tag "ha"): a
## primary with a synchronous streaming replica, PgBouncer in transaction mode,
## three instances of the built binary behind HAProxy on loopback; faults under
## a mixed load, then crash consistency. Needs postgresql, pgbouncer, haproxy.
test-ha: build
	$(GO) vet -tags ha ./internal/hatest/
	GATEHOUSE_BIN=$(abspath $(BIN)) $(GO) test -tags ha -count=1 -v -timeout 10m -run 'TestFaults|TestCrashConsistency|TestWebhookDelivery' ./internal/hatest/

## soak: the mixed load against the same topology for SOAK (10m), reporting every
## SOAK_EVERY (1m) throughput, p99, RSS, goroutines, open fds and pool connections.
SOAK       ?= 10m
SOAK_EVERY ?= 1m
soak: build
	GATEHOUSE_BIN=$(abspath $(BIN)) $(GO) test -tags ha -count=1 -v -timeout 0 -run '^TestSoak$$' ./internal/hatest/ -args -soak.duration=$(SOAK) -soak.every=$(SOAK_EVERY)

## scale: the figures of the README's "At scale" (tools/scale/scale.sh; not part of
## `make test`): its own PostgreSQL, 1M accounts seeded on it and on SQLite, size
## comparisons, operator paths, CPU per operation, memory after SCALE_SOAK (1h) of
## mixed load, refresh during the purge, the mail claim, the migration lock test.
## Output in SCALE_OUT (./scale-out); needs PostgreSQL binaries and psql.
scale:
	tools/scale/scale.sh
