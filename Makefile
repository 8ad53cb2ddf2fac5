# Model Foundry: the two commands (`make quickstart`, `make test`) and the chores around them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# torch is installed first, pinned, so that installing the package pulls no other build. On machines whose pip
# finds the CPU wheel of 2.13.0 locally that is what comes; elsewhere pass the index of the build you want, e.g.
# `make test TORCH_PIP_ARGS="--index-url <PyTorch's CPU wheel index>"`, or another pin with TORCH=...
TORCH ?= torch==2.13.0
TORCH_PIP_ARGS ?=
PYTEST_ARGS ?=

.PHONY: quickstart test test-all export readme clean-runs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

quickstart: $(VENV)/.installed
	$(BIN)/model-foundry synthetic data/synthetic
	$(BIN)/model-foundry train configs/quickstart.yaml
	$(BIN)/model-foundry evaluate runs/quickstart --pairs data/synthetic/minimal_pairs.jsonl
	$(BIN)/model-foundry plot runs/quickstart

# Tests run in one process per core (pytest-xdist), each torch on one thread: small models gain little from a second
# thread, and two multi-threaded torch processes on the same cores slow each other down many times over.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

test: $(VENV)/.installed
	$(TEST_ENV) $(BIN)/python -m pytest -n auto --dist worksteal $(PYTEST_ARGS)

test-all: $(VENV)/.installed
	$(TEST_ENV) MODEL_FOUNDRY_TEST_FLAGS="slow" $(BIN)/python -m pytest -n auto --dist worksteal --runslow $(PYTEST_ARGS)

export: $(VENV)/.installed
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	$(BIN)/python tools/readme.py

readme: $(VENV)/.installed
	$(BIN)/python tools/readme.py

clean-runs:
	rm -rf runs data/tokenized data/tokenizers
