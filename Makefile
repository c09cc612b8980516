# Two entry points (see README Quickstart):
#   make run   -> set up .venv from the lock file and run `dpmodel plan` on the default scenario
#   make test  -> set up .venv from the lock file and run the whole test suite (two pytest-xdist workers)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dpmodel needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dpmodel plan

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_plan.py --out benchmarks/results/plan.md
	$(BIN)/python benchmarks/bench_traces.py --out benchmarks/results/traces.md
	$(BIN)/python benchmarks/bench_policy.py --out benchmarks/results/policy.md

lint: $(STAMP)
	$(BIN)/ruff check dpmodel tests benchmarks
	$(BIN)/ruff format --check dpmodel tests benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info
