# Movie Trend Analyzer. `make run` runs the product, `make test` its tests;
# both start PostgreSQL and RabbitMQ first (scripts/services.sh).

GO      ?= go
# Honour go.mod's toolchain line (a patch release that fixes the standard
# library's known vulnerabilities), downloading it through the module proxy
# when the local Go is older; a machine may default to GOTOOLCHAIN=local.
export GOTOOLCHAIN := auto
BIN     := bin/trend
NPM     ?= npm
NODE    ?= node
# The dashboard is built when npm is there and Node.js is one that
# frontend/package.json's engines allow (Debian 12's own nodejs is 18):
# the ranges its tools declare (Vite, jsdom, Vitest) leave out 21, 23 and
# 22 before 22.13. Otherwise bin/trend is built without it and serves a
# page that says how to build it (the embedded dist/ then holds only
# .gitkeep).
NODE_WANT := ^20.19, ^22.13 or >=24
NODE_VERSION := $(shell $(NODE) --version 2>/dev/null)
# +0 makes the fields numbers (as strings, "9" > "20").
NODE_OK := $(shell echo '$(NODE_VERSION)' | awk -F. '{ sub(/^v/, "", $$1); maj = $$1 + 0; min = $$2 + 0; if (maj >= 24 || (maj == 22 && min >= 13) || (maj == 20 && min >= 19)) print "yes" }')
HAVE_NPM := $(if $(NODE_OK),$(shell command -v $(NPM) 2>/dev/null))
NO_DASHBOARD := $(if $(shell command -v $(NPM) 2>/dev/null),$(if $(NODE_VERSION),Node.js $(NODE_VERSION) is not $(NODE_WANT),Node.js not found),npm not found)

# Where `make run` says the API is: trend's own choice (README,
# Configuration): HTTP_ADDR, else :FASTAPI_PORT, each from the environment
# (or make's command line) before .env, else :8000. make sets nothing for
# trend, so .env's values reach it.
dotenv = $(shell sed -nE 's/^[[:space:]]*(export[[:space:]]+)?$(1)[[:space:]]*=[[:space:]]*//p' .env 2>/dev/null | tail -n 1 | sed -E 's/[[:space:]]+\#.*//; s/[[:space:]]+$$//; s/^["'"'"']//; s/["'"'"']$$//')
# A setting as trend reads it: from the environment, else from .env.
setting = $(or $($(1)),$(call dotenv,$(1)))
RUN_PORT = $(call setting,FASTAPI_PORT)
RUN_ADDR = $(or $(call setting,HTTP_ADDR),$(if $(RUN_PORT),:$(RUN_PORT)),:8000)
RUN_URL = http://$(if $(filter :%,$(RUN_ADDR)),localhost)$(RUN_ADDR)
# trend starts its TMDB stand-in when it has no key or token and
# TMDB_BASE_URL is TMDB's own (internal/app, tmdbClient).
RUN_STAND_IN = $(if $(call setting,TMDB_API_KEY)$(call setting,TMDB_READ_TOKEN)$(filter-out https://api.themoviedb.org/3,$(call setting,TMDB_BASE_URL)),,yes)

.PHONY: all services build migrate run test test-short vet lint clean help dashboard test-dashboard compose-check bench-replay fuzz audit vulncheck bench test-faults test-tools

all: build

help:
	@echo "make run      start PostgreSQL and RabbitMQ, build, migrate, run every role (trend all)"
	@echo "make test     start PostgreSQL and RabbitMQ, then run every test with the race detector"
	@echo "make services start (installing if needed) PostgreSQL and RabbitMQ"
	@echo "make test-tools        install (root, apt-get) the programs tests run for real: Debian's nginx, not started"
	@echo "make build    build $(BIN) (with the dashboard when npm and Node.js $(NODE_WANT) are installed)"
	@echo "make dashboard         build the web dashboard (frontend/) into internal/web/dist"
	@echo "make test-dashboard    the dashboard's component tests (Vitest) and end-to-end tests (Chromium)"
	@echo "make vet      gofmt check and go vet"
	@echo "make vulncheck         govulncheck (make test runs it; works offline from the module proxy)"
	@echo "make audit             vulncheck and npm audit (npm's needs the registry's audit endpoint)"
	@echo "make test-faults       fault injection (root): kills, outages of a private PostgreSQL :5433 / RabbitMQ :5673 (scripts/faults-env.sh)"
	@echo "make fuzz              run every fuzz target for FUZZTIME (default 20000x inputs; a duration like 30s works too)"
	@echo "make compose-check     validate docker-compose.yml without Docker (installs Debian's docker-compose)"
	@echo "make bench             benchmark the whole system (about 4 minutes), rewrites docs/benchmarks.md"
	@echo "make bench-replay      benchmark a rebuild of the trend projection from 1,000,000 events"

services:
	@bash scripts/services.sh

# Programs that tests run for real, installed when missing (as root with
# apt-get): Debian's nginx for internal/deploy's TestNginxProxiesTheStream,
# which starts an nginx of its own. Not in scripts/services.sh: that one
# starts what `make run` needs too, and nginx is neither needed there nor
# to be started. Without root or apt-get it only says what is missing.
test-tools:
	@bash scripts/test-tools.sh

build: $(if $(HAVE_NPM),dashboard)
	@$(if $(HAVE_NPM),:,echo "note: $(NO_DASHBOARD): building without the dashboard (install Node.js $(NODE_WANT) and npm, then make build)")
	$(GO) build -o $(BIN) ./cmd/trend

# npm ci only when node_modules is missing or older than package-lock.json
# (npm writes node_modules/.package-lock.json on every install).
dashboard:
	@cd frontend && if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		$(NPM) ci --no-audit --no-fund; fi
	cd frontend && npx vite build --logLevel warn
	@node frontend/scripts/js-budget.mjs

test-dashboard: dashboard
	@# go test ./... ran before the build, where the embedded build's test skips.
	TREND_WANT_DASHBOARD=1 $(GO) test -count=1 -run TestEmbeddedBuild ./internal/web/
	cd frontend && npx vitest run
	bash scripts/e2e-dashboard.sh

migrate: services build
	./$(BIN) migrate

run: services build
	@./$(BIN) migrate
	@echo
	@echo "  API          $(RUN_URL)/api/movies"
	@echo "  health       $(RUN_URL)/readyz"
	@echo "  RabbitMQ UI  http://localhost:15672  (guest / guest)"
	@$(if $(RUN_STAND_IN),echo "  TMDB         no key set: the built-in stand-in (trend tmdb-fake) serves 924 movies",:)
	@echo
	./$(BIN) all --no-migrate

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

compose-check:
	@bash scripts/compose-check.sh

# Each fuzz target (request decoders, message unmarshallers) runs for
# FUZZTIME; its seed corpus is in the test file. A count of inputs, not a
# duration: with a duration, Go 1.26's fuzzing coordinator can fail a
# target with "context deadline exceeded" as the time runs out, when
# nothing failed (golang/go#75804, fixed in Go 1.27). 20,000 inputs take
# about 5 to 8 s a target here.
FUZZTIME ?= 20000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRegisterBody$$' -fuzztime $(FUZZTIME) ./internal/httpapi/
	$(GO) test -run '^$$' -fuzz '^FuzzViewBody$$' -fuzztime $(FUZZTIME) ./internal/httpapi/
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshalMessages$$' -fuzztime $(FUZZTIME) ./internal/messaging/
	$(GO) test -run '^$$' -fuzz '^FuzzUnbundle$$' -fuzztime $(FUZZTIME) ./internal/messaging/

bench: services build
	bash scripts/bench.sh

bench-replay: services
	$(GO) test -run '^$$' -bench BenchmarkReplay -benchtime 2x -timeout 30m ./internal/replay/

test: services test-tools vet compose-check vulncheck
	$(GO) test -race -count=1 -timeout 15m ./...
	@# The score must come out as Python's where the compiler fuses multiply-adds
	@# (arm64 does, and amd64 at GOAMD64=v3): run its tests so built, where the CPU can.
	@if [ "$$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo && grep -qw movbe /proc/cpuinfo; then \
		GOAMD64=v3 $(GO) test -count=1 -run 'TestScore|TestRound1' ./projections/trend/; \
	elif [ "$$(uname -m)" = aarch64 ] || [ "$$(uname -m)" = arm64 ]; then echo "note: arm64 fuses multiply-adds in every build: the go test above ran the score's check so built"; \
	else echo "note: this CPU runs no GOAMD64=v3 code: the score's fused multiply-add check SKIPPED"; fi
	@$(MAKE) --no-print-directory fuzz
	@$(if $(HAVE_NPM),$(MAKE) --no-print-directory test-dashboard,if [ -n "$$CI" ]; then echo "CI: $(NO_DASHBOARD): the dashboard's tests cannot run" >&2; exit 1; fi; echo "note: $(NO_DASHBOARD), dashboard tests SKIPPED (install Node.js $(NODE_WANT) and npm)")
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory test-faults; \
	elif [ -n "$$CI" ]; then echo "CI: not root: the fault-injection suite cannot run (it stops and starts private servers)" >&2; exit 1; \
	else echo "note: not root, fault-injection suite SKIPPED (it stops and starts private servers: sudo make test-faults)"; fi

# Known vulnerabilities in the Go modules and the dashboard's npm packages.
# npm audit needs the npm registry's audit endpoint, which not every machine
# reaches (ours answer 405).
audit: vulncheck
	cd frontend && $(NPM) audit

# govulncheck with a database built from the golang.org/x/vulndb module, so
# that it works where vuln.go.dev does not answer (make test runs it).
vulncheck:
	bash scripts/govulncheck.sh

# The private servers are stopped afterwards, whatever the outcome, so that
# a test run leaves running only what `make services` started.
# FAULTS_REQUIRED=1: a test that cannot start them fails instead of skipping.
# One shell, so that the private servers are stopped however it ends: a
# start that fails halfway, a failed test, an interrupt.
test-faults:
	status=0; stop_servers() { if [ "$$(id -u)" = 0 ]; then bash scripts/faults-env.sh stop >/dev/null || status=1; fi; }; \
	trap 'stop_servers; exit 130' INT TERM; \
	bash scripts/faults-env.sh start || status=$$?; \
	if [ $$status = 0 ]; then FAULTS_REQUIRED=1 $(GO) test -tags faults -race -count=1 -run Fault -v -timeout 20m ./cmd/trend/ || status=$$?; fi; \
	stop_servers; exit $$status

test-short:
	$(GO) test -count=1 -short ./...

clean:
	rm -rf bin
