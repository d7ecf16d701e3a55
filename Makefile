# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# make test runs on both cores: one pytest-xdist worker each, with its own databases and nats-server (a
# module-scoped platform starts once per worker that runs the module). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
# `make run-pg`: an admin connection to the PostgreSQL that gets the databases ybj_<service>.
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: run run-pg test test-slow test-faults demo bench bench-pg lint format install clean-var help openapi-snapshot

help:
	@echo "make run    - set up .venv, start NATS and the five services on SQLite under var/"
	@echo "make run-pg - the same on PostgreSQL: databases ybj_<service> on PG_URL (default postgres@127.0.0.1:5432);"
	@echo "             ARGS=\"--replicas 2\" runs two processes of each service behind the gateway"
	@echo "make test   - set up .venv and run the whole test suite (the slow fault scenarios excepted)"
	@echo "make test-slow - whole programs as a user runs them (bench, demo, make run) and generated input"
	@echo "make test-faults - the fault scenarios: NATS and services killed, databases cut, long fuzzing"
	@echo "make demo   - start the platform, load a small synthetic city, play days of traffic, print a report"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - benchmarks (figures printed, JSON under var/bench/); bench-pg on PostgreSQL"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall when the dependency list or the lock changes. requirements-dev.lock pins every version for
# development and tests; requirements.lock pins the runtime alone (the container image).
$(STAMP): pyproject.toml requirements-dev.lock | $(PY)
	$(PIP) install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(PIP) install --quiet --disable-pip-version-check -c requirements-dev.lock -e ".[embedded,test,lint,bench]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m common.devrun

# Creates the missing databases ybj_enrollment, ybj_settlement, ... on PG_URL; the services migrate them at start.
# Not echoed: PG_URL may hold a password (devrun prints the server without it). ARGS go to devrun:
# ARGS="--replicas 2" runs two processes of each domain service behind the one gateway.
run-pg: $(STAMP)
	@$(PY) -m common.devrun --postgres "$(PG_URL)" $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist load -m "not faults and not slow" $(PYTEST_ARGS)

# Whole programs run as a user would (quick bench, demo, make run) and the generated-input run (also in CI).
test-slow: $(STAMP)
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist load -m "slow and not faults" $(PYTEST_ARGS)

# The merged OpenAPI document as reviewed: rewrite tests/gateway/openapi-snapshot.json after an API change.
openapi-snapshot: $(STAMP)
	UPDATE_OPENAPI_SNAPSHOT=1 $(PY) -m pytest -q tests/gateway/test_openapi_docs.py -k snapshot

# Real processes killed and restarted, databases made unreachable, the long schemathesis run (also in CI).
test-faults: $(STAMP)
	$(PY) -m pytest -m faults $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) bench/demo.py $(ARGS)

# Benchmarks print their figures (and write var/bench/*.json); they never assert timings.
bench: $(STAMP)
	$(PY) bench/bench.py $(ARGS)

bench-pg: $(STAMP)
	@$(PY) bench/bench.py --postgres "$(PG_URL)" $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check libs services tests bench
	$(VENV)/bin/ruff format --check libs services tests bench
	$(VENV)/bin/mypy libs/common services

format: $(STAMP)
	$(VENV)/bin/ruff format libs services tests bench
	$(VENV)/bin/ruff check --fix libs services tests bench

clean-var:
	rm -rf var
