# The two set-up commands of the README work on a fresh machine: they install what they need.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: install system-deps demo demo-script check test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	./scripts/install-system-deps.sh

demo: install
	$(VENV)/bin/steward demo

demo-script: install
	$(VENV)/bin/steward demo --script

# The house rules: import contracts, lint and format, types. Fast; `make test` runs them first.
check: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install system-deps check
	$(VENV)/bin/pytest -q

bench: install system-deps
	$(VENV)/bin/python bench/run.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
