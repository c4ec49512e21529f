# Two commands do everything on a machine with python3 (>= 3.11, with venv) and make:
#   make book   build the site into _build/html
#   make test   run every test (package, notebooks, wheel, README, workflows, site)
#   make test-fast  the package tests only (no notebooks, subprocesses, wheel or site builds): ~1 min
# Tests and pages run JOBS at a time (default 2: pytest-xdist workers, book pages executed in
# parallel before the Sphinx build); JOBS=1 runs them one after another.
# Each creates (or refreshes, when pyproject.toml or this Makefile changes) the virtual
# environment .venv. Also:
#   make book REPO_URL=https://github.com/OWNER/fairkl   the site with repository, issue,
#                       Binder and Colab buttons (default: none of them)
#   make test-floor     the package tests on the oldest declared dependency versions
#   make dist           sdist and wheel into dist/ (the same as `python -m build`)
#   make lab            JupyterLab on the book's pages, opened as notebooks (prints the address)
#   make bench          the benchmark tables

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NBTEST := _nbtest
FLOOR  := .venv-floor
REPO_URL    ?=
# The site's published address (book/_ext/site_downloads.py reads FAIRKL_SITE_URL).
SITE_URL    ?=
REPO_BRANCH ?= main
JOBS ?= 2
# pytest-xdist: JOBS worker processes, each test file kept on one worker (its module fixtures are
# built once, its tests run in order), the longest files first (tests/conftest.py orders them;
# xdist's own order, by number of tests, is turned off); JOBS=1 runs in this process, without xdist.
XDIST = $(if $(filter-out 0 1,$(JOBS)),-n $(JOBS) --dist loadfile --no-loadscope-reorder,-p no:xdist)

.PHONY: book test test-fast test-floor dist lab bench clean

# JAX's persistent compilation cache for the book's execution and the tests (most of their
# time is XLA compiling the same programs in each process): a folder ignored by git.
# `make test JAX_CACHE=` runs without it. fairkl itself never turns it on.
JAX_CACHE ?= $(CURDIR)/.jax_cache
JAXENV := JAX_COMPILATION_CACHE_DIR="$(JAX_CACHE)" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
          JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
# Executed pages kept by jupyter-cache (_config.yml: execute_notebooks: cache). It keys on the
# pages' code only, so the cache is emptied whenever the package, its data or pyproject.toml
# change (the digest below); `make clean` empties it too.
NBCACHE := _build/.jupyter_cache
BOOK_KEY = $$(find fairkl fairkl_data -type f ! -path '*/__pycache__/*' | LC_ALL=C sort | xargs cat pyproject.toml _config.yml | sha256sum | cut -c1-16)

# An existing .venv made by another Python (or half-made) is replaced, not patched.
$(STAMP): pyproject.toml Makefile
	@$(BIN)/python -c "import sys; sys.exit(sys.version_info < (3, 11))" 2>/dev/null || rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# ml_dtypes < 0.7 here only (users get what jax allows, >= 0.5): 0.7.0 takes 0.62 s to import
	# its extension against 0.06 s for 0.6.0 and 0.5.4 (numpy 2.4), in every process that imports
	# jax (each page's kernel, each test worker and subprocess). Drop the bound once a release
	# imports fast again, or when jax requires ml_dtypes >= 0.7 (pip would then refuse it).
	$(BIN)/python -m pip install --quiet -e ".[book,test]" "ml_dtypes<0.7"
	# jsonschema (under nbformat, so in every page's kernel, nbval worker and the build) imports
	# rfc3987-syntax, an optional checker of the 'iri' formats no notebook schema uses, which
	# builds ~35 Earley parsers at import: 1.4 s per process (jsonschema#1428). Not needed here.
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	touch $(STAMP)

# A page whose code (and the package) did not change since the last `make book` is not executed
# again: its outputs come from jupyter-cache. Everything else in _build is rebuilt, so that every
# page is read again and its executed notebook (with outputs) is written for the download button.
# A fresh clone (CI, publishing) has no cache: every page is executed, JOBS pages at a time, by
# .ci/execute_pages.py into the same cache before the build, so that the build itself executes
# none. (jupyter-cache keeps only pages that ran without error, so the key is written first.)
book: $(STAMP)
	@start=$$(date +%s); key=$(BOOK_KEY); state=cached; \
	if [ "$$(cat $(NBCACHE).key 2>/dev/null)" != "$$key" ]; then rm -rf $(NBCACHE); state="cold: no cache"; fi; \
	mkdir -p _build && find _build -mindepth 1 -maxdepth 1 ! -name '.jupyter_cache*' -exec rm -rf {} + && \
	echo $$key > $(NBCACHE).key && \
	$(JAXENV) $(BIN)/python .ci/execute_pages.py $(NBCACHE) --jobs $(JOBS) && \
	FAIRKL_REPO_URL="$(REPO_URL)" FAIRKL_REPO_BRANCH="$(REPO_BRANCH)" FAIRKL_SITE_URL="$(SITE_URL)" $(JAXENV) \
	  $(BIN)/jupyter-book build . --path-output . -W -n --keep-going && \
	echo "make book ($$state): $$(( $$(date +%s) - start )) s"

# The book's notebooks run too: converted to .ipynb in $(NBTEST)/ (ignored by git)
# and executed by nbval; their hidden assert cells check the key numbers. The workers take the
# files longest first (tests/conftest.py orders them), so that they end together.
test: $(STAMP)
	rm -rf $(NBTEST) && mkdir -p $(NBTEST)
	for f in book/*.py; do $(BIN)/jupytext --quiet --to ipynb -o $(NBTEST)/$$(basename $$f .py).ipynb $$f; done
	$(JAXENV) $(BIN)/python -m pytest $(NBTEST) tests --nbval-lax --nbval-current-env $(XDIST)

# The developer's inner loop: the package tests without the notebooks, the tests that start
# processes (README blocks, searches, the sharded fit), and the wheel and site builds.
test-fast: $(STAMP)
	$(JAXENV) $(BIN)/python -m pytest tests -m "not slow and not subprocess" -q $(XDIST)

# A fresh venv with every core dependency at its declared floor (.ci/lower_bounds.py), fairkl
# installed from this folder; runs the package tests (not the notebooks, wheel or book builds).
test-floor:
	rm -rf $(FLOOR)
	$(PYTHON) -m venv $(FLOOR)
	$(PYTHON) .ci/lower_bounds.py > $(FLOOR)/constraints.txt
	$(FLOOR)/bin/python -m pip install --quiet --upgrade pip
	$(FLOOR)/bin/python -m pip install --quiet -c $(FLOOR)/constraints.txt ".[test]"
	$(FLOOR)/bin/python -m pip list --format=freeze | grep -iE "^(keras|jax|jaxlib|numpy|scipy|scikit-learn|matplotlib|keras-tuner|six)=="
	$(FLOOR)/bin/python -m pytest tests -m "not slow and not book" -p no:cacheprovider $(XDIST)

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

# JupyterLab on book/: .py pages open as notebooks (jupytext) by the setting Binder uses
# (binder/overrides.json, read in place), their MyST rendered by jupyterlab-myst. As root it
# adds --allow-root. It prints the address to open; LAB_PORT picks the port (no fallback to
# another one, so the printed address is right), LAB_ARGS adds options (e.g. --ip=0.0.0.0).
LAB_PORT ?= 8888
LAB_ARGS ?=
lab: $(STAMP)
	@token=$$($(BIN)/python -c "import secrets; print(secrets.token_hex(16))"); \
	root=$$([ "$$(id -u)" = 0 ] && echo --allow-root); \
	echo "JupyterLab on book/ -- open http://localhost:$(LAB_PORT)/lab?token=$$token"; \
	exec $(BIN)/jupyter lab book/ --port=$(LAB_PORT) --ServerApp.port_retries=0 \
	  --IdentityProvider.token=$$token --LabApp.app_settings_dir="$(CURDIR)/binder" $$root $(LAB_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_sklearn.py
	$(BIN)/python benchmarks/bench_tuning.py

clean:
	rm -rf _build $(NBTEST) .pytest_cache dist $(FLOOR) .jax_cache
