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

.PHONY: quickstart test test-slow test-all lint book outputs dev export readme docs docs-check clean-runs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,docs]"
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

# Only what `test` leaves out: the tests marked slow, and the notebooks with slow cells run with them (the tutorials'
# training). CI runs it after `test`.
test-slow: $(VENV)/.installed
	$(TEST_ENV) $(BIN)/python -m pytest -n auto --dist worksteal --runslow -m slow $(PYTEST_ARGS)

test-all: $(VENV)/.installed
	$(TEST_ENV) $(BIN)/python -m pytest -n auto --dist worksteal --runslow $(PYTEST_ARGS)

# ruff: pyflakes, import order and bugbear's likely bugs, on the package (as exported), the tests, bench and tools
lint: $(VENV)/.installed
	$(BIN)/ruff check model_foundry tests bench tools

# the measures that keep the notebooks a book (cell and module sizes, prose, outputs, imports): tools/book.py
book: $(VENV)/.installed
	$(BIN)/python tools/book.py

# run notebooks and save their outputs the way the book keeps them: `make outputs NB="nbs/07_corpus.ipynb ..."`
NB ?=
outputs: $(VENV)/.installed
	$(if $(NB),,$(error give the notebooks: make outputs NB=nbs/07_corpus.ipynb))
	OMP_NUM_THREADS=1 $(BIN)/python tools/outputs.py $(NB)

# for contributors: the pre-commit hooks (ruff, notebooks exported and clean) and nbdev's git hooks (notebook merge
# and diff drivers)
dev: $(VENV)/.installed
	$(BIN)/pre-commit install
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/nbdev-install-hooks

export: $(VENV)/.installed
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	$(BIN)/python tools/readme.py

readme: $(VENV)/.installed
	$(BIN)/python tools/readme.py

# The documentation site, written into docs/ (not committed; the deploy workflow builds it), and README.md. With
# Quarto installed the site is nbdev's `nbdev-docs`; without, nbdev processes the notebooks and Sphinx renders them
# (tools/docs.py). README.md comes from tools/readme.py on both paths.
DOCS_ARGS ?=
docs: $(VENV)/.installed
	$(TEST_ENV) $(BIN)/python tools/docs.py $(DOCS_ARGS)

# The site in headless Chromium (tests/test_docs_site.py; screenshots in test-artifacts/), and the README.md that the
# build regenerated is the one committed.
docs-check: DOCS_ARGS += --strict
docs-check: docs
	$(TEST_ENV) $(BIN)/python -m pytest -m docs -p no:xdist tests/test_docs_site.py $(PYTEST_ARGS)
	@git diff --quiet -- README.md || { git --no-pager diff -- README.md; \
		echo "README.md is not what nbs/index.ipynb generates: commit the README.md that \`make docs\` wrote" >&2; exit 1; }

clean-runs:
	rm -rf runs data/tokenized data/tokenizers
