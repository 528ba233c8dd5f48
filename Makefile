# Quick start: `make demo` runs example pipelines, `make test` runs the whole suite.
# Both create .venv themselves from Python >= 3.10 and the package registry.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest browser bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# "compat": the checkout on sys.path, as a plain install behaves (the default editable
	# mode adds an import hook that every fresh interpreter, a fork server too, pays for).
	$(BIN)/python -m pip install --quiet -e ".[test]" --config-settings editable_mode=compat
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/run_all.py

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check pypeln tests examples benchmarks
	$(BIN)/ruff format --check pypeln tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict pypeln tests/typing_check.py
	$(BIN)/basedpyright --pythonpath $(BIN)/python

# The monitor page's tests render it in headless Chromium (Debian's chromium package): it is
# installed when missing and apt-get can (as root); else those tests are skipped, and say so.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium >/dev/null; } ; } || \
	  echo "chromium is not installed: the monitor page's browser tests will be skipped"

# Two sessions: backends that join a cluster (ray) leave its threads in the test process.
# They run side by side (each mostly waits: on workers, on Ray starting actors); the cluster
# part's output follows the local part's, and either failing fails the target. Each lists its
# slowest tests: the cluster part is the longer one (every ray run starts its actors).
pytest: $(STAMP) browser
	@log=$$(mktemp); \
	PYPELN_TESTS=cluster $(BIN)/pytest -q --durations=20 > $$log 2>&1 & cluster=$$!; \
	PYPELN_TESTS=local $(BIN)/pytest -q --durations=20; local=$$?; \
	wait $$cluster; status=$$?; \
	echo "--- PYPELN_TESTS=cluster"; cat $$log; rm -f $$log; \
	test $$local -eq 0 && test $$status -eq 0

# The benchmark suite (not part of `make test`): installs the peers (the `bench` extra), runs
# every scenario (under 10 minutes on 2 cores) and writes benchmarks/results/.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]" --config-settings editable_mode=compat
	$(BIN)/python -m compileall -q pypeln benchmarks  # fresh interpreters read bytecode, as installed
	$(BIN)/python benchmarks/run.py

docs: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]" --config-settings editable_mode=compat
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) site build *.egg-info
