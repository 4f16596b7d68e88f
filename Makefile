# medperf-lite: `make tutorial` plays the whole tutorial on this host, `make test` runs the tests.
# Both install what they need first (a venv with the package, torch==2.13.0 CPU, bubblewrap).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup tutorial test test-fast wheel-test mutation lint images engine-up engine-down bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	@command -v bwrap >/dev/null || { apt-get update -q && apt-get install -y -q bubblewrap; }
	@# the teaching demos' tests: a learner's terminal (tmux) and a real browser on the live view
	@command -v tmux >/dev/null && command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -q && apt-get install -y -q tmux chromium chromium-driver; }
	touch $@

tutorial: setup
	$(BIN)/medperf-lite simulate tutorial

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist worksteal $(PYTEST_ARGS)

wheel-test: setup
	.ci/wheel-test

# the rules machine at 100 examples here (200 in `make test`; 100 already kill every mutant of rules.py)
test-fast: setup
	$(BIN)/ruff check .
	MEDPERF_LITE_PROPERTY_EXAMPLES=$${MEDPERF_LITE_PROPERTY_EXAMPLES:-100} $(BIN)/pytest -n 2 --dist worksteal -m "not slow and not docker" $(PYTEST_ARGS)

# mutmut 3.4 (the last that accepts click 8.1) predates pytest 9: its own venv, pytest 8
MUTATION_VENV ?= .venv-mutation
mutation:
	test -x $(MUTATION_VENV)/bin/mutmut || { $(PYTHON) -m venv $(MUTATION_VENV) && \
	  $(MUTATION_VENV)/bin/pip install -q --upgrade pip && \
	  $(MUTATION_VENV)/bin/pip install -q torch==2.13.0 -e '.[test]' "pytest>=8,<9" "mutmut==3.4.0"; }
	rm -rf mutants
	MEDPERF_LITE_PROPERTY_EXAMPLES=$${MEDPERF_LITE_PROPERTY_EXAMPLES:-100} $(MUTATION_VENV)/bin/mutmut run --max-children 2
	$(MUTATION_VENV)/bin/mutmut results

images: setup
	$(BIN)/python fixtures/containers/build.py

engine-up:
	fixtures/containers/engine.sh up

engine-down:
	fixtures/containers/engine.sh down

bench: setup
	$(BIN)/python bench/cli_latency.py
	$(BIN)/python bench/tutorial_vs_nvflare.py
