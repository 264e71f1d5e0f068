# algodesk: every dependency is installed by this file and pyproject.toml/uv.lock.
# `make run` and `make test` work on a fresh machine with python3 (>= 3.11).

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
PG_BINDIR := $(shell ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

.PHONY: setup test test-fast lint fmt run bench clean pg-setup browser-setup

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

setup: $(VENV)/.synced

# PostgreSQL server binaries (initdb, pg_ctl) for the storage tests: installed from Debian
# when the machine lacks them. Tests start their own throwaway server in a temp dir.
pg-setup:
	@if [ -z "$(PG_BINDIR)" ] && ! command -v initdb >/dev/null 2>&1; then \
		echo "installing PostgreSQL server binaries (Debian package postgresql)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	fi

# Debian's Chromium for the dashboard's browser tests (driven by Playwright with
# executable_path; Playwright never downloads a browser here).
browser-setup:
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing Chromium (Debian package chromium)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

test: setup pg-setup browser-setup
	$(BIN)/pytest -n 2 --dist loadgroup

# Local inner loop: everything but the slow tests.
test-fast: setup browser-setup
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow"

lint: setup
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: setup
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# `make run` starts the desk on SQLite in $(DATA_DIR): the paper exchange, a demo account and
# bot, a replay feed of demo marks, the TradingView webhook and the API on 127.0.0.1:8000.
run: setup
	$(BIN)/algodesk serve --data-dir $(DATA_DIR)

bench: setup browser-setup
	$(BIN)/python benchmarks/ledger_verify.py
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/backtest.py
	$(BIN)/python benchmarks/dashboard.py
	$(BIN)/python benchmarks/webhook.py
	$(BIN)/python benchmarks/api.py

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache .hypothesis
