# Movie Trend Analyzer. `make run` runs the product, `make test` its tests;
# both start PostgreSQL and RabbitMQ first (scripts/services.sh).

GO      ?= go
BIN     := bin/trend
HTTP_ADDR ?= :8000

.PHONY: all services build migrate run test test-short vet lint clean help

all: build

help:
	@echo "make run      start PostgreSQL and RabbitMQ, build, migrate, run every role (trend all)"
	@echo "make test     start PostgreSQL and RabbitMQ, then run every test with the race detector"
	@echo "make services start (installing if needed) PostgreSQL and RabbitMQ"
	@echo "make build    build $(BIN)"
	@echo "make vet      gofmt check and go vet"

services:
	@bash scripts/services.sh

build:
	$(GO) build -o $(BIN) ./cmd/trend

migrate: services build
	./$(BIN) migrate

run: services build
	@./$(BIN) migrate
	@echo
	@echo "  API          http://localhost$(HTTP_ADDR)/api/movies"
	@echo "  health       http://localhost$(HTTP_ADDR)/readyz"
	@echo "  RabbitMQ UI  http://localhost:15672  (guest / guest)"
	@if [ -z "$$TMDB_API_KEY$$TMDB_READ_TOKEN" ] && ! grep -qsE '^TMDB_(API_KEY|READ_TOKEN)=.' .env; then \
		echo "  TMDB         no key set: the built-in stand-in (trend tmdb-fake) serves 924 movies"; fi
	@echo
	HTTP_ADDR=$(HTTP_ADDR) ./$(BIN) all --no-migrate

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

test: services vet
	$(GO) test -race -count=1 -timeout 15m ./...

test-short:
	$(GO) test -count=1 -short ./...

clean:
	rm -rf bin
