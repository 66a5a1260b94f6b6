# One entry point for developers and CI. `make help` lists the targets.
SHELL := bash
BUF := $(shell ./scripts/tools.sh)/buf

.PHONY: help run test gen gen-check lint vet bench ci image

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## run everything in one process (embedded SQLite, sandbox IRP)
	go run ./cmd/irpgate serve

test: ## the test suite (needs PostgreSQL on 127.0.0.1:5432, see .ci/run)
	go test ./...

gen: ## regenerate gen/ from proto/ offline with pinned local plugins
	$(BUF) format -w proto
	$(BUF) lint
	$(BUF) generate

gen-check: gen ## fail if gen/ or proto formatting drifted from what is committed
	@git diff --exit-code -- gen proto || { echo "gen/ is out of date: run make gen and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- gen proto)" || { git status --porcelain -- gen proto; echo "untracked generated files: run make gen and commit"; exit 1; }

vet: ## go vet
	go vet ./...

lint: ## golangci-lint (pinned in tools/lint/go.mod; .golangci.yaml)
	go tool -modfile=tools/lint/go.mod golangci-lint run ./...

bench: ## run the benchmarks and write docs/benchmarks.md
	./scripts/bench.sh

image: ## the container image as irpgate.tar (no container runtime needed)
	go run ./cmd/irpgate-image -o irpgate.tar

ci: ## what CI runs
	bash .ci/run
