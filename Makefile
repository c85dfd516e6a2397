# The two commands a new user needs: `make run` and `make test` (and `make ui` for the Dagster UI).
# Each creates .venv on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=
PYTEST_ARGS ?=
# Most tests wait on a dbt or Dagster process: two at once use a 2-core machine (CI's) far better.
TEST_WORKERS ?= 2

.PHONY: run test ui install install-dev chromium java bench bench-scale lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: generate the sample shop (unless a landing folder is set), materialize every asset, print a summary
run: $(VENV)/.installed
	$(BIN)/retention run $(ARGS)

## chromium: Debian's browser for the UI test (Playwright drives it; it never downloads one).
## Installed when missing and we are root; if that fails the browser test skips with the reason.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium could not be installed: the browser test will be skipped"; \
	fi

## java: Debian's Java 17 for local Spark (dbt_target=spark and its tests). Installed when missing
## and we are root; if that fails the Spark tests skip with the reason.
java:
	@if ! command -v java >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing openjdk-17-jre-headless for the Spark tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null) \
	    || echo "java could not be installed: the Spark tests will be skipped"; \
	fi

## test: the whole test suite (real DuckDB, dbt, Dagster, Chromium, local Spark; PostgreSQL/MariaDB tests skip if absent),
## in TEST_WORKERS processes at once (pytest-xdist; TEST_WORKERS=0 runs it in this process)
test: $(VENV)/.installed-dev chromium java
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## ui: the Dagster UI on http://localhost:3000 (asset graph, daily schedule, runs, checks)
ui: $(VENV)/.installed
	$(BIN)/retention ui $(ARGS)

bench: $(VENV)/.installed-dev
	for b in $(filter-out benchmarks/bench_scale.py,$(wildcard benchmarks/bench_*.py)); do \
	  echo "== $$b"; $(BIN)/python $$b || exit 1; done

## bench-scale: full history and three daily runs at 1 M customers / 10 M orders / 100 M events
## (ARGS='--customers 100000' for a tenth); the generated shop is cached in data/bench
bench-scale: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_scale.py $(ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check retention_pipeline tests

clean:
	rm -rf data dbt_project/target dbt_project/logs .pytest_cache
