# Developer entry points. Everything runs from the project venv in .venv, which `make venv`
# (a dependency of the other targets) creates and refreshes when pyproject.toml changes.

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
PIP_FLAGS := -q --disable-pip-version-check
TYPED := core patients community loyalty content messaging campaigns care dashboards oncall privacy social media api workers console cli

.PHONY: venv run test lint fmt bench clean-data

# cli.assets: GraphiQL's browser files (npm ci from web/package-lock.json with the venv's Node); it
# returns at once when api/static/vendor/ already matches the lock.
venv: $(STAMP)
	@$(BIN)/python -m cli.assets

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $@

run: venv
	$(BIN)/portal run

# Tests start their own throwaway PostgreSQL and Redis, one of each per xdist worker (tests/conftest.py).
# -n auto: one worker per core; --dist loadscope: whole modules to a worker, the slow ones first
# (tests/conftest.py). `$(BIN)/python -m pytest -q` runs the same tests serially.
test: venv
	$(BIN)/python -m pytest -q -n auto --dist loadscope

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED)
	$(BIN)/lint-imports --no-cache

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv
	@set -e; for f in bench/*.py; do \
		[ -e "$$f" ] || continue; \
		echo "== $$f"; $(BIN)/python "$$f"; \
	done

# Stops nothing: run it with `portal run` stopped.
clean-data:
	rm -rf .data
