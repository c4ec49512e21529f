"""Execute the book's pages two at a time into myst-nb's jupyter-cache, before the Sphinx build.

Usage (``make book`` runs it)::

    python .ci/execute_pages.py CACHE_DIR [--jobs N] [PAGE.py ...]

``jupyter-book build`` with ``execute_notebooks: cache`` (``_config.yml``)
executes the pages one after another. This script runs first and executes,
``--jobs`` at a time (default 2), every page of ``_toc.yml`` whose code has
no entry in the cache yet; the build then finds every page in the cache and
executes none.

The cached notebooks are exactly the ones myst-nb would have made: each page
is read as myst-nb reads it (``nb_custom_formats`` in ``_config.yml``:
``jupytext.reads(text, fmt="py:percent")``), executed by the function myst-nb
calls (``jupyter_cache.executors.utils.single_nb_execution``) in the page's
folder with the timeout of ``_config.yml``, and stored with
``cache_notebook_bundle`` as myst-nb stores it. jupyter-cache matches a page
on a hash of its code cells and kernelspec, so a page edited in its prose
only still matches, and a page whose code changed is executed again.

A page that fails is not cached: its traceback is printed, the script exits
with status 1, and ``make book`` stops before the build.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: Environment variables that set the BLAS libraries' thread counts (OpenBLAS, MKL, OpenMP).
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def toc_pages(toc: Path) -> list[Path]:
    """The py:percent pages listed in ``_toc.yml`` (``root``, ``file`` entries), in order."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    found.append(node[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(toc.read_text()))
    pages = [(toc.parent / name).with_suffix(".py") for name in found]
    return [p for p in pages if p.is_file()]


def read(page: Path):
    """The page as myst-nb reads it (``_config.yml``: ``nb_custom_formats``)."""
    import jupytext

    return jupytext.reads(page.read_text(encoding="utf-8"), fmt="py:percent")


def execute(page: Path, timeout: int):
    """Run one page in its folder: (executed notebook, seconds, traceback text or None)."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = read(page)
    # shutdown_kernel="immediate": once the last cell has answered, the kernel is stopped
    # without its graceful exit (Python's finalisation with jax loaded: ~0.8 s per page);
    # nbval stops its kernels the same way.
    result = single_nb_execution(
        nb,
        cwd=str(page.parent),
        timeout=timeout,
        allow_errors=False,
        meta_override=True,
        shutdown_kernel="immediate",
    )
    return nb, result.time, (result.exc_string or repr(result.err)) if result.err else None


def side_by_side(environ=os.environ) -> None:
    """One thread per page for BLAS and for XLA's matrix products, when pages run side by side.

    The kernels inherit this environment. With two pages on two cores, each page's BLAS and
    XLA threads (one per core, both spinning while they wait for work) ran every page ~1.55x
    slower than alone; with one thread each, about as fast as alone. Measured on the nine
    pages, two at a time, 2 cores: 93 s; one BLAS thread, 80 s; and one XLA thread, 75 s.
    A BLAS thread count the caller set is kept; XLA_FLAGS are extended, not replaced.
    """
    for name in BLAS_THREADS:
        environ.setdefault(name, "1")
    flags = environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path, help="jupyter-cache folder (_build/.jupyter_cache)")
    parser.add_argument("--jobs", type=int, default=2, help="pages executed at a time")
    parser.add_argument("pages", nargs="*", type=Path, help="these pages (default: _toc.yml's)")
    args = parser.parse_intermixed_args(argv)
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    config = yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]
    timeout = int(config.get("timeout", 30))
    cache = get_cache(str(args.cache))
    todo = []
    for page in args.pages or toc_pages(ROOT / "_toc.yml"):
        try:
            cache.match_cache_notebook(read(page))
        except KeyError:
            todo.append(page)
    print(f"execute_pages: {len(todo)} page(s) to execute, {max(args.jobs, 1)} at a time")
    start, failed = time.perf_counter(), []
    if args.jobs > 1:
        side_by_side()
    # spawn: each worker a clean interpreter (no state forked from this one)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max(args.jobs, 1), mp_context=context) as pool:
        runs = {pool.submit(execute, page.resolve(), timeout): page for page in todo}
        for run in as_completed(runs):
            page = runs[run]
            nb, seconds, error = run.result()
            if error is not None:
                failed.append(page.name)
                print(f"  {page.name}: FAILED after {seconds:.1f} s\n{error}", file=sys.stderr)
                continue
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, str(page.resolve()), data={"execution_seconds": seconds}),
                check_validity=False,
                overwrite=True,
            )
            print(f"  {page.name}: {seconds:.1f} s", flush=True)
    print(f"execute_pages: {time.perf_counter() - start:.1f} s wall")
    if failed:
        print(f"execute_pages: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
