# Every target works on a fresh clone with only Python 3.11+ and pip.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.installed-docs
# The demo needs the package alone (transitions and attrs): a stamp of its own, so
# `make demo` on a fresh clone installs no dev tools, and `make test` still does.
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: install test lint typecheck imports pytest differential demo bench bench-table clean docs docs-serve screenshot mutate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples tools
	$(BIN)/ruff format --check src tests benchmarks examples tools

typecheck: $(STAMP)
	$(BIN)/mypy --strict src/salesstages tests/typing tools

# The layering may not get worse: no new import circle, no new arrow running up, no
# module over 800 lines, against tools/imports_baseline.json (see tools/imports.py).
imports: $(STAMP)
	$(BIN)/python tools/imports.py --check tools/imports_baseline.json

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck imports pytest

# The engines' differential suite, slow profile: at least 200 drawn logs per function
# on DuckDB (make test runs the quick profile).
differential: $(STAMP)
	SALESSTAGES_ENGINES=slow $(BIN)/python -m pytest tests/test_engines.py -k "duckdb"

$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/salesstages demo
	@echo
	@echo "salesstages is installed in $(VENV). Run it yourself with"
	@echo "    $(BIN)/salesstages --help"
	@echo "or put it on your PATH for this shell first:"
	@echo "    . $(BIN)/activate && salesstages demo --html demo.html"

# The documentation site (MkDocs + Material), warnings as errors; output in site/.
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# Refresh docs/images/report.png from the browser test (needs Chromium).
screenshot: $(STAMP)
	SALESSTAGES_SCREENSHOT_DIR=docs/images $(BIN)/python -m pytest -q tests/test_cli_browser.py

bench: $(STAMP)
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/stores.py
	$(BIN)/python benchmarks/metrics.py
	$(BIN)/python benchmarks/forecast.py
	$(BIN)/python benchmarks/auto_advance.py
	$(BIN)/python benchmarks/engines.py
	cd benchmarks && ../$(BIN)/python report.py
	cd benchmarks && ../$(BIN)/python report_engines.py
	$(BIN)/python benchmarks/many_deals.py $(BENCH_ARGS)

# Only the table of issue 24's ratios on the many-small-deals log (1.01M events by
# default; e.g. make bench-table BENCH_ARGS="--events 200000" for a quicker run).
BENCH_ARGS ?=
bench-table: $(STAMP)
	$(BIN)/python benchmarks/many_deals.py $(BENCH_ARGS)

# Mutation sampling (not part of `make test`): plant a fixed-seed sample of one-line
# bugs in each area (one per module or sub-package of src/salesstages, read from the
# tree), each in a temporary copy, and run that area's tests against it.
# Pass options through MUTATE_ARGS, e.g. make mutate MUTATE_ARGS="--per-area 30 --area deal".
MUTATE_ARGS ?=
mutate: $(STAMP)
	nice -n 10 $(BIN)/python tools/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) build dist site .pytest_cache .mypy_cache .ruff_cache
