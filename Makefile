# oeskit — the two set-up commands are `make run` and `make test`; both create .venv if missing.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
HOST    ?= 127.0.0.1
PORT    ?= 8080
# Workers for make test; each test is a unit of its own except xdist_group members (tests/scheduling.py).
# Three on two cores: about a quarter of the suite's worker time is designed waits (timeouts,
# Retry-After, servers starting), which a third worker fills (237-259 s -> 215-234 s, measured
# back to back on the 2-core machine).
TEST_WORKERS ?= 3
XDIST   := -n $(TEST_WORKERS) --dist loadgroup

.PHONY: run test test-fast test-image lint bench soak wheel clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## start the sandbox with the demo world on $(HOST):$(PORT)
	@mkdir -p .oeskit
	$(BIN)/oeskit serve --host $(HOST) --port $(PORT) --db .oeskit/sandbox.db --fresh \
		--world demo

# The suite starts a few hundred Python processes (servers, CLIs, pytester runs). With
# PYTHONDONTWRITEBYTECODE set (as on these machines) each of them compiled oeskit's ~80 modules
# from source again (~75 ms), and each xdist worker re-rewrote every test module: the tests
# run with bytecode caching on (an empty value is "unset" to Python).
NOCACHE := PYTHONDONTWRITEBYTECODE=

test: $(STAMP)  ## the whole suite (what CI runs), on $(TEST_WORKERS) pytest-xdist workers
	$(NOCACHE) $(BIN)/python -m pytest $(XDIST)

test-fast: $(STAMP)  ## everything but the tests marked slow
	$(NOCACHE) $(BIN)/python -m pytest $(XDIST) -m "not slow"

test-image: $(STAMP)  ## build the Containerfile's image and run it with podman (marker image)
	$(BIN)/python -m pytest -m image -p no:xdist

lint: $(STAMP)  ## ruff (lint + format), mypy --strict on src, and the import contracts
	$(BIN)/ruff check src tests bench soak
	$(BIN)/ruff format --check src tests bench soak
	$(BIN)/mypy
	$(BIN)/lint-imports

wheel: $(STAMP)  ## build dist/oeskit-<version>-py3-none-any.whl (what the CI recipes install)
	$(BIN)/python -m pip wheel --no-deps --quiet --wheel-dir dist .
	@ls dist/oeskit-*.whl

bench: $(STAMP)  ## benchmarks; never part of `make test` (servers start from cached bytecode, as from the wheel)
	$(NOCACHE) $(BIN)/python -m bench

soak: $(STAMP)  ## 60 s of mixed load at 16 connections, then oeskit doctor
	$(BIN)/python -m soak --seconds 60 --connections 16

clean:
	rm -rf $(VENV) .oeskit .pytest_cache .hypothesis dist
