# grant-ledger — two commands to start: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
# test processes: the suite spreads over the cores (each test has its own database)
TEST_WORKERS ?= auto

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/grant-ledger demo --replace

test: $(TSTAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: $(TSTAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(TSTAMP)
	$(BIN)/ruff check ledger projections commands audit tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) *.egg-info grant-ledger-demo.db*
