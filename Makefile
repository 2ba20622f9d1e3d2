# Parley: `make run` starts the embedded stack, `make test` runs every test,
# `make bench SCALE=small|full` runs the benchmarks (docs/benchmarks.md; never
# part of `make test`). All install what is missing first (Debian packages,
# a pinned virtualenv; pgbench comes with postgresql-15); `make test` also
# installs node and the pinned JavaScript clients (tests/js, npm ci).

SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
PG_PACKAGES := postgresql-15 postgresql-15-pgtap postgresql-15-wal2json python3-venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTHON_STAMP := $(VENV)/.installed
JS_DIR := tests/js
JS_STAMP := $(JS_DIR)/node_modules/.installed

.PHONY: run test reset deps test-deps system-packages node-packages lint migrate stop clean bench

run: deps
	$(VENV)/bin/parley run

# The suite runs on three targets (docs/testing.md): the shim (vanilla
# PostgreSQL + Parley's sql/platform_*.sql), then Supabase's own platform SQL
# (../shared/supabase-platform) as-is and with hosted roles. The platform
# targets are skipped, with the reason printed, when the snapshot is absent.
# TARGET=shim|platform|hosted runs one target only; PYTEST_ARGS passes more.
PLATFORM_DIR ?= $(abspath ../shared/supabase-platform)
TARGET ?=
PYTEST_ARGS ?=
test: deps test-deps lint
ifneq ($(TARGET),)
	PARLEY_PLATFORM_DIR=$(PLATFORM_DIR) $(PYTHON) -m pytest --target $(TARGET) $(PYTEST_ARGS)
else
	$(PYTHON) -m pytest --target shim $(PYTEST_ARGS)
	@if [ -x "$(PLATFORM_DIR)/apply.sh" ]; then \
	  PARLEY_PLATFORM_DIR=$(PLATFORM_DIR) $(PYTHON) -m pytest --target platform $(PYTEST_ARGS) && \
	  PARLEY_PLATFORM_DIR=$(PLATFORM_DIR) $(PYTHON) -m pytest --target hosted $(PYTEST_ARGS); \
	else \
	  echo "make test: platform and hosted targets SKIPPED: $(PLATFORM_DIR)/apply.sh not found"; \
	  echo "  (Supabase's platform SQL snapshot; set PLATFORM_DIR=... to run them, see docs/testing.md)"; \
	fi
endif

lint: deps
	$(PYTHON) -m ruff check python tests bench
	$(PYTHON) -m ruff format --check python tests bench

# Benchmarks: a throwaway cluster of their own, results in bench/results/.
# SCALE=small (default, a few minutes), SCALE=search (1.2M messages, search) or SCALE=full (10M messages);
# BENCH_ARGS passes more options, e.g. BENCH_ARGS="--only 1,2 --keep".
SCALE ?= small
BENCH_ARGS ?=
bench: deps
	PYTHONPATH=bench:python $(PYTHON) -m parley_bench --scale $(SCALE) $(BENCH_ARGS)

# Drop the embedded database, migrate and seed it; asks first (YES=1 skips the question).
reset: deps
	$(VENV)/bin/parley reset $(if $(YES),--yes)

migrate: deps
	$(VENV)/bin/parley migrate

stop: deps
	$(VENV)/bin/parley stop

deps: system-packages $(PYTHON_STAMP)

# The official JavaScript client the realtime tests run under node (pinned in tests/js/package-lock.json).
test-deps: node-packages $(JS_STAMP)

node-packages:
	@if ! command -v node >/dev/null || ! command -v npm >/dev/null; then \
	  echo "Installing Debian packages: nodejs npm"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm; \
	fi

$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	npm ci --prefix $(JS_DIR) --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

# Installs only what is missing; a no-op taking milliseconds otherwise.
# Debian's postgresql-common would create and start a "main" cluster on
# install; Parley runs its own, so that is switched off first.
system-packages:
	@missing=""; \
	for package in $(PG_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then \
	    $(SUDO) mkdir -p /etc/postgresql-common && \
	    echo "create_main_cluster = false" | $(SUDO) tee /etc/postgresql-common/createcluster.conf >/dev/null; \
	  fi; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    -o Dpkg::Options::=--force-confold $$missing; \
	fi

$(PYTHON_STAMP): requirements.lock pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e '.[test]'
	touch $(PYTHON_STAMP)

clean:
	-$(VENV)/bin/parley stop
	rm -rf .parley $(VENV) $(JS_DIR)/node_modules
