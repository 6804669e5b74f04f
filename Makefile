# The commands a person types. Every target installs what it needs first:
# a Python virtual environment with the pinned packages, and (npm ci) the pinned CDK CLI
# with a supported Node.js, which then runs both the CLI and the jsii runtime.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# uv installs the same exact pins as pip, several times faster (the SageMaker SDK and
# its dependencies are most of the download); pip only brings uv itself into the venv.
# Bytecode is compiled at install (uv, on every core): where PYTHONDONTWRITEBYTECODE is set,
# as it is on the machines this project is developed on, Python never keeps what it compiles on
# import, and every test run would compile botocore, moto, pandas and aws-cdk-lib's bindings
# again (about 50 s of CPU per run of the suite; docs/BENCHMARKS.md has the figures).
UV_PIN := uv==0.13.9
UV := $(VENV)/bin/uv
CDK := node_modules/.bin/cdk
# Environments to synthesize: all by default; `make synth ENV=dev` (or ENV=dev,staging).
ENV ?=
SELECT := $(if $(ENV),-c mlops:select=$(ENV),)

# The project-local Node.js (node_modules/.bin) comes first, for the CDK CLI and for jsii.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# jsii unpacks aws-cdk-lib once into this cache and reuses it on every later run.
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/.cache/jsii
# The CLI makes no calls home: no version check, no telemetry, no notices.
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help setup synth schema test rehearse lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# After node_modules: the import check below starts jsii, which must find Node 22.
$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-nodeps.txt pyproject.toml node_modules/.installed
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), f"Python 3.11+ is required, found {sys.version.split()[0]}: set PYTHON=python3.11"'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned Python packages into $(VENV) with $(UV_PIN) ..."
	@$(PY) -m pip install --quiet $(UV_PIN)
	@$(UV) pip install --quiet --python $(PY) --compile-bytecode -r requirements-dev.txt
	@$(UV) pip install --quiet --python $(PY) --compile-bytecode --no-deps -r requirements-nodeps.txt
	@$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	@$(PY) -c 'import aws_cdk, cdk_nag, pydantic, cfnlint, pytest, mlops_constructs, xgboost, smclarify.bias.report'
	@touch $@

node_modules/.installed: package.json package-lock.json
	@echo "Installing the pinned CDK CLI and Node.js with npm ci ..."
	@npm ci --no-audit --no-fund --loglevel=error
	@node --version | grep -q '^v22\.' || { echo "node_modules/.bin/node is not Node 22: $$(node --version)"; exit 1; }
	@touch $@

setup: $(VENV)/.installed node_modules/.installed ## Install everything (venv, pinned packages, CDK CLI, Node)

synth: setup ## Synthesize every environment (or ENV=dev) into cdk.out/
	@$(CDK) synth --quiet $(SELECT) '**'
	@echo "Synthesized to cdk.out: $$(find cdk.out -name '*.template.json' | wc -l) templates"

# config/schema.json and config/delivery.schema.json, generated from the config models
# (stacks/config.py) for editors; a test fails while they are stale.
schema: setup ## Regenerate the JSON Schemas of the config/ files from the config models
	@$(PY) -m stacks.config_files

# The suite runs on two pytest-xdist workers, a test module per worker at a time (each
# worker synthesizes the app once for the modules that need it), the longest modules first
# by the times of the previous run (tests/conftest.py keeps them in .pytest_cache).
PYTEST_PARALLEL ?= -n 2 --dist loadfile

test: setup lint ## Run the whole test suite (and the linters)
	@$(PY) -m pytest $(PYTEST_PARALLEL)

# The run rehearsal (tests/rehearsal): executes what the stacks deploy, offline, from the
# synthesized app: the pipeline's steps with their real scripts, the serving payloads, and
# every run-time data flow against the synthesized policies. make test runs it too.
rehearse: setup ## Run what is deployed, offline: pipeline steps, payloads, data flows
	@$(PY) -m pytest -q tests/rehearsal

lint: setup ## ruff and mypy
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy

bench: setup ## Time synth of all environments vs an empty app, and the test suite
	@PYTEST_PARALLEL="$(PYTEST_PARALLEL)" $(PY) benchmarks/bench.py

# The standing monthly cost (what is billed while idle) of each synthesized environment, at the
# dated list prices of tools/prices/<region>.yaml: tools/cost.py says what it counts and what not.
.PHONY: cost
cost: synth ## Standing monthly cost of each environment (or ENV=dev) at list prices
	@$(PY) tools/cost.py --cdk-out cdk.out $(if $(ENV),--env $(ENV),)

# The architecture picture: the pinned diagrams package in the venv, and Graphviz's dot
# (Debian package graphviz, installed here when run as root on a machine with apt-get).
$(VENV)/.diagram-installed: requirements-diagram.txt $(VENV)/.installed
	@echo "Installing the pinned diagram packages into $(VENV) ..."
	@$(UV) pip install --quiet --python $(PY) -r requirements-diagram.txt
	@touch $@

.PHONY: diagram
diagram: setup $(VENV)/.diagram-installed ## Draw docs/architecture.png from the synthesized app (ENV=dev)
	@command -v dot >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Graphviz (Debian package graphviz) with apt-get ..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "make diagram needs Graphviz's dot: install the package 'graphviz' (apt-get install graphviz, dnf install graphviz or brew install graphviz), then run make diagram again"; \
	    exit 1; \
	  fi; }
	@$(PY) tools/diagram.py --env $(or $(ENV),dev)

clean: ## Remove build output (keeps the installed tools)
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache .cache/pipeline-definitions
