"""Shared fixtures: the seed tutorial's data and independent NumPy references.

Also, for the test suite only (fairkl itself never does this):

* JAX's persistent compilation cache in ``.jax_cache/`` at the project root
  (ignored by git). Most of the suite's in-process time is XLA compilation of
  the same few programs in each process (three test files: 64 s with an
  empty cache, 9 s with a filled one). Set through the environment, so the
  subprocesses the tests start (README blocks, searches, the sharded fit)
  share it. ``FAIRKL_TEST_JAX_CACHE=0`` turns it off; a
  ``JAX_COMPILATION_CACHE_DIR`` already set is kept. ``make test`` runs the
  suite on two pytest-xdist workers (``--dist loadfile``: a file's tests, and
  so its module fixtures, stay on one worker); each worker sets the same
  variables here, and JAX's cache is safe for concurrent processes.
* The order of the test files: longest first (estimated from their kinds of tests), so that
  pytest-xdist's workers end together (``make test`` turns xdist's own order off).
* The ``subprocess`` marker on every test that starts another Python process
  (found from its source and that of the project's fixtures it uses:
  ``subprocess``, ``sys.executable`` or a helper function or class of its module
  that uses them), so that ``make test-fast``
  (``-m "not slow and not subprocess"``) can leave them out.
"""

import importlib.util
import inspect
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JAX_CACHE = ROOT / ".jax_cache"

# Lets scikit-learn's estimator checks run check_array_api_input (with NumPy
# inputs) instead of skipping it; must be set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
if os.environ.get("FAIRKL_TEST_JAX_CACHE", "1").strip().lower() not in ("0", "false", "no", "off"):
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(JAX_CACHE))
    # Every program, however quick to compile (the default keeps only those taking >= 1 s).
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax
import numpy as np
import pytest

import fairkl  # noqa: F401  (selects the JAX backend before anything imports keras)
from fairkl.datasets import make_seed_data

# jax reads these variables when first imported; a plugin may have imported it earlier.
if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
    jax.config.update(
        "jax_persistent_cache_min_compile_time_secs",
        float(os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")),
    )
    jax.config.update(
        "jax_persistent_cache_min_entry_size_bytes",
        int(os.environ.get("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")),
    )

SPAWNS = re.compile(r"\bsubprocess\b|\bsys\.executable\b|\bPopen\b")


def _spawning_helpers(module) -> set[str]:
    """Names of the functions and classes a test module can call (its own, imported ones, and
    those of the helper modules under tests/ it imports) whose source starts a process."""
    names = set()
    scopes = [vars(module)] + [
        vars(m)
        for m in vars(module).values()
        if inspect.ismodule(m) and str(getattr(m, "__file__", "")).startswith(str(ROOT / "tests"))
    ]
    for scope in scopes:
        for name, obj in scope.items():
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and not name.startswith("test"):
                try:
                    if SPAWNS.search(inspect.getsource(obj)):
                        names.add(name)
                except (OSError, TypeError):
                    pass
    return names


def _fixture_sources(item) -> list[str]:
    """The source of every fixture of the project's tests that a test uses (directly or through
    another fixture): a module fixture that starts a process serves several tests."""
    sources = []
    info = getattr(item, "_fixtureinfo", None)
    for name in getattr(item, "fixturenames", ()):
        for definition in info.name2fixturedefs.get(name, ()) if info else ():
            func = getattr(definition, "func", None)
            try:
                if str(inspect.getfile(func)).startswith(str(ROOT / "tests")):
                    sources.append(inspect.getsource(func))
            except (OSError, TypeError):
                pass
    return sources


def pytest_collection_modifyitems(config, items):
    helpers = {}
    for item in items:
        fn, module = getattr(item, "function", None), getattr(item, "module", None)
        if fn is None or module is None:
            continue
        if module not in helpers:
            helpers[module] = _spawning_helpers(module)
        try:
            sources = [inspect.getsource(fn), *_fixture_sources(item)]
        except (OSError, TypeError):
            continue
        if any(
            SPAWNS.search(src)
            or any(re.search(rf"\b{re.escape(h)}\(", src) for h in helpers[module])
            for src in sources
        ):
            item.add_marker(pytest.mark.subprocess)
    _longest_files_first(items)


#: Rough seconds per test item, to hand pytest-xdist the longest files first (`make test` passes
#: ``--no-loadscope-reorder``: by default xdist orders files by their number of tests, which put
#: a file of a few long tests, e.g. the site's, at the end, running alone while the other worker
#: idled). A notebook cell, a test marked ``slow`` (builds) or ``subprocess`` (starts Python).
ITEM_SECONDS = {"notebook": 1.0, "slow": 10.0, "subprocess": 3.0, "other": 0.05}


def _item_seconds(item) -> float:
    if str(item.path).endswith(".ipynb"):
        return ITEM_SECONDS["notebook"]
    for kind in ("slow", "subprocess"):
        if item.get_closest_marker(kind) is not None:
            return ITEM_SECONDS[kind]
    return ITEM_SECONDS["other"]


def _longest_files_first(items) -> None:
    """Reorder ``items`` in place: files by their estimated seconds, longest first (stable).

    A test module may state its own estimate as ``EXPECTED_SECONDS`` (e.g. one test that
    installs a virtual environment: minutes, however few its tests).
    """
    cost: dict = {}
    for item in items:
        cost[item.path] = cost.get(item.path, 0.0) + _item_seconds(item)
    for item in items:
        stated = getattr(getattr(item, "module", None), "EXPECTED_SECONDS", None)
        if stated is not None:
            cost[item.path] = float(stated)
    rank = {path: i for i, path in enumerate(sorted(cost, key=lambda p: (-cost[p], str(p))))}
    items.sort(key=lambda item: rank[item.path])


@pytest.fixture(scope="session")
def full_site(tmp_path_factory):
    """The whole book built once per test run without a repository and without executing its
    pages (tests/site_build.py: shared by the pytest-xdist workers); the HTML folder."""
    from tests.site_build import shared_full_site

    return shared_full_site(tmp_path_factory)


@pytest.fixture(scope="session", autouse=True)
def _fairkl_x64_scope():
    """The whole session inside fairkl's 64-bit scope (``fairkl._backend.x64_context``).

    Importing fairkl no longer turns ``jax_enable_x64`` on for the process: its public
    entry points (fits, predictions, metrics, tuners) enter the scope themselves, but
    many tests call lower layers directly (kernels, linalg, solvers, pipeline) and check
    them to float64 accuracy, which is how such code must be called (inside the scope).
    Session-scoped, so that module fixtures are built inside it too. The tests of the
    scope itself (tests/test_x64_scope.py) leave it with a nested ``enable_x64(False)``
    context, as a user with JAX's default would be.
    """
    from fairkl._backend import x64_context

    with x64_context():
        yield


@pytest.fixture(scope="session")
def seed_data():
    """The seed's problem, n = 200, split 150 train / 50 held out."""
    X, y, q = make_seed_data(n=200, seed=0)
    return X[:150], y[:150], q[:150], X[150:], y[150:], q[150:]


def np_rbf(A, B, sigma):
    """RBF kernel by explicit differences (no expansion trick)."""
    d2 = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * sigma**2))


def np_center(K):
    """H K H with H formed explicitly."""
    n = K.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    return H @ K @ H


#: Characters of one output line that the site's output box shows without scrolling
#: (sphinx-book-theme's code-cell output at the page's width): longer lines are cut off.
OUTPUT_WIDTH = 80
#: Tags of cells whose outputs the site does not show (Jupyter Book's remove-* tags).
HIDDEN_OUTPUT_TAGS = {"remove-cell", "remove-output", "remove_cell", "remove_output"}
#: MIME types that the site renders instead of a result's text/plain.
RICHER_THAN_TEXT = ("text/html", "text/markdown", "text/latex", "image/png", "image/svg+xml")


def shown_text(output) -> str:
    """The text of one executed output as the site shows it ('' for an image or HTML result)."""
    kind, data = output.get("output_type"), output.get("data", {})
    if kind == "stream":
        return output.get("text", "")
    if kind in ("execute_result", "display_data") and not any(m in data for m in RICHER_THAN_TEXT):
        return data.get("text/plain", "")
    return ""  # an image, HTML, or an error (which fails the cell anyway)


class BookOutputWidth:
    """A book page's cell passes nbval only if every output line it shows fits the output box.

    Registered for the whole run (the pages' cells are collected from ``_nbtest/``, outside
    this folder, where this conftest's own hooks would not apply to them).
    """

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        outputs = getattr(item, "test_outputs", None)
        if call.when != "call" or not report.passed or outputs is None:
            return
        tags = set(item.cell.metadata.get("tags", []))
        if tags & HIDDEN_OUTPUT_TAGS:
            return
        long = [
            line
            for output in outputs
            for line in shown_text(output).splitlines()
            if len(line.rstrip()) > OUTPUT_WIDTH
        ]
        if long:
            report.outcome = "failed"
            report.longrepr = (
                f"{len(long)} output line(s) longer than {OUTPUT_WIDTH} characters, cut off on "
                f"the site's output box; break or shorten them:\n" + "\n".join(long[:10])
            )


def page_runner():
    """``.ci/execute_pages.py``, `make book`'s page runner, as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "execute_pages", ROOT / ".ci" / "execute_pages.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PageKernelsSideBySide:
    """Under pytest-xdist, each book page's kernel gets `make book`'s side-by-side settings.

    One BLAS thread and one XLA matrix-product thread (``.ci/execute_pages.py``:
    ``side_by_side``): the page runs beside the other worker's tests on few cores, where
    threads that spin while they wait slow both. Only the kernel's environment is changed
    (while nbval starts it); the worker and the other tests keep theirs.
    """

    def __init__(self):
        self.side_by_side = page_runner().side_by_side

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        notebook = item.parent
        starting = hasattr(item, "test_outputs") and getattr(notebook, "kernel", None) is None
        saved = dict(os.environ) if starting else None
        if starting:
            self.side_by_side(os.environ)
        try:
            yield
        finally:
            if saved is not None:
                os.environ.clear()
                os.environ.update(saved)


def pytest_configure(config):
    config.pluginmanager.register(BookOutputWidth(), "fairkl-book-output-width")
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        config.pluginmanager.register(PageKernelsSideBySide(), "fairkl-page-kernels")
