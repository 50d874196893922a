# Two commands set everything up on a fresh machine: `make run` and `make test`.
# Both create .venv, install the project with its dev extras and the Debian packages
# the tests need (when missing and running as root), then do their job.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := cups-ipp-utils dbus-daemon prometheus
# Tests run four at a time: most of a test's time is spent waiting for the processes it
# started (brokers, workers, connectors), so four keep two cores about 60 % busy and the
# suite takes a third of its serial time. Each test has an embedded broker of its own; on a
# shared KAFKA_BOOTSTRAP_SERVERS they would meet on the contract topics, so there they run
# one at a time.
TEST_WORKERS ?= $(if $(KAFKA_BOOTSTRAP_SERVERS),0,4)

.PHONY: run up test lint bench setup system-packages clean

setup: $(STAMP) system-packages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-packages:
	@bash .ci/system-packages $(DEBIAN_PACKAGES)

run: setup
	$(BIN)/journeyhub demo

up: setup
	$(BIN)/journeyhub up

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .journeyhub .mypy_cache .pytest_cache .ruff_cache
