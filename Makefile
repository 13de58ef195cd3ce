# grant-ledger — two commands to start: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
# test processes: the suite spreads over the cores (each test has its own database; one process
# more than the cores was no quicker on 2 cores: 910 s against 855 s); the long tests (marked slow;
# `PYTEST_ARGS="-m 'not slow'"` leaves them out) are handed out first and an idle process takes
# tests queued for another
TEST_WORKERS ?= auto
# the slowest tests are listed at the end of every run: the suite's budget is 15 minutes on 2 cores
TEST_DURATIONS ?= 25

.PHONY: demo test bench bench-scale lint clean catalogues

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,postgres]'
	touch $@ $(STAMP)

DEMO_DB    := grant-ledger-demo.db
DEMO_AUDIT := grant-ledger-demo-audit
DEMO_KEYS  := grant-ledger-demo-keys

demo: $(STAMP)
	$(BIN)/grant-ledger demo --replace
	@printf '\n10. 审计 audit: an approver signs a checkpoint; the bundle is verified against the trust root alone\n'
	@rm -rf $(DEMO_AUDIT)
	$(BIN)/grant-ledger --db $(DEMO_DB) --key $(DEMO_KEYS)/approver.key audit checkpoint > $(DEMO_AUDIT)-checkpoint.txt
	$(BIN)/grant-ledger --db $(DEMO_DB) audit export $(DEMO_AUDIT)
	$(BIN)/grant-ledger audit verify $(DEMO_AUDIT) --trusted $(DEMO_AUDIT)-checkpoint.txt \
		--root $$($(BIN)/grant-ledger --lang en --db $(DEMO_DB) info | sed -n 's/^trust root: \([0-9a-f]*\).*/\1/p')

# the sources compiled first: the suite starts hundreds of fresh interpreters (commands run as a
# person runs them, audit helpers, web servers), and where PYTHONDONTWRITEBYTECODE is set each one
# compiled every module it imports again (the suite took 902 s so, 855 s compiled first)
test: $(TSTAMP)
	$(BIN)/python -m compileall -q ledger projections commands audit tests bench
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=$(TEST_DURATIONS) $(PYTEST_ARGS)

bench: $(TSTAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# the ten-million row of the speed issue (an hour or more): BENCH_EVENTS, BENCH_SCALE_BASES
bench-scale: $(TSTAMP)
	$(BIN)/python -m bench.scale

lint: $(TSTAMP)
	$(BIN)/ruff check ledger projections commands audit tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# after changing a message: extract, update each language's .po (fill in the Chinese), compile
catalogues: $(TSTAMP)
	$(BIN)/python -m commands.catalogues

clean:
	rm -rf $(VENV) *.egg-info grant-ledger-demo.db* $(DEMO_AUDIT) $(DEMO_KEYS) $(DEMO_AUDIT)-checkpoint.txt
