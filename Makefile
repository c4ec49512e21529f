# Two commands do everything on a machine with python3 and make:
#   make book   build the site into _build/html
#   make test   run every test
# Each creates (or refreshes, when pyproject.toml changes) the virtual environment .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: book test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

book: $(STAMP)
	rm -rf _build/html
	$(BIN)/jupyter-book build . --path-output . -W -n --keep-going

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_sklearn.py
	$(BIN)/python benchmarks/bench_tuning.py

clean:
	rm -rf _build .pytest_cache
