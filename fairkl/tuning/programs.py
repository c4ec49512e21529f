"""The batched tuner's fits: the fit pipeline's setup, the solvers' batched CKA fit, one call per group.

Every setup step (validation, the scale of ``y``, the prepared ``q``, the
median heuristics) is :func:`fairkl.pipeline.prepare`'s, run once per search
(:func:`prepare_search`); the fits are :func:`fairkl.solvers.fit_cka_batch`
(the model's compiled CKA fit, one after another in one call) and the
validation predictions :func:`fairkl.solvers.predict_program`, both inside one
compiled program (:func:`fairkl.solvers.grouped.fit_predict_program`, owned by
the solvers), so a group of trials costs one dispatch and one transfer back.

Where the time of a 1000-trial search goes (``benchmarks/bench_tuning.py``):
the compiled fits (their setup, O(n³), and their L-BFGS steps), the
compilation of the one program, and KerasTuner's bookkeeping. What was
removed: per-call conversion of the shared arrays (now converted once), a
vmapped group running until its slowest fit (now each fit stops on its own),
the re-validation of every setting (done once, by
:meth:`FairKernelRidgeHyperModel.check_values`), a predict call traced anew
per batch, OpenBLAS's spinning threads (:func:`one_blas_thread`), and the
results of the fit the tuner does not read (the condition estimate, the
objective: unused outputs of the compiled program, so XLA drops their
computation).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from keras import ops

from fairkl._backend import SMALL_N, blas_limit, one_blas_thread, x64_scope  # noqa: F401  (re-exported)
from fairkl.pipeline import FitConfig, Problem, center, prepare
from fairkl.solvers.grouped import fit_predict_program  # looked up per call (benchmarks time it)

FLOAT_FIELDS = ("sigma", "lam", "mu", "lr")


class SearchData(NamedTuple):
    """What every group of a search shares: the config, the prepared problem and its device arrays."""

    config: FitConfig
    problem: Problem
    arrays: tuple  #: (X, y, q, X_val, sigma_f, tol) as float64 device arrays, converted once


@x64_scope
def prepare_search(X, y, q, options: dict, X_val=None) -> SearchData:
    """The :class:`SearchData` shared by every batch of a search (``prepare`` runs once).

    ``q`` and the bandwidth on predictions are prepared for penalised fits
    (``penalised=True``); each trial's own ``mu`` is passed to the compiled
    program. ``X_val`` (the validation inputs) is centred by the training
    mean (:func:`fairkl.pipeline.center`).
    """
    config = FitConfig(**{**options, "penalty": "cka", "dtype": "float64"})
    p = prepare(X, y, q, config, q_name="q_train", penalised=True)
    c = lambda a: ops.convert_to_tensor(np.asarray(a, dtype=np.float64), dtype="float64")  # noqa: E731
    Xv = c(center(p, X_val)) if X_val is not None else c(p.X[:1])
    return SearchData(config, p, (c(p.X), c(p.y), c(p.q), Xv, c(p.sigma_f), c(config.stopping_tol)))


def columns(problem: Problem, rows: list[dict]) -> dict:
    """The program's per-fit arguments for validated settings (``sigma_q=None``: the problem's median heuristic)."""
    cols = {f: np.array([u[f] for u in rows], dtype=np.float64) for f in FLOAT_FIELDS}
    cols["sigma_q"] = np.array(
        [problem.sensitive.traced_sigma if u["sigma_q"] is None else u["sigma_q"] for u in rows],
        dtype=np.float64,
    )
    cols["epochs"] = np.array([u["epochs"] for u in rows], dtype=np.int32)
    return cols


class Dispatched(NamedTuple):
    """Compiled calls of one batch, dispatched and maybe still running (:func:`dispatch`)."""

    outputs: list  #: per group, the program's (predictions, converged, steps) as device arrays
    k: int  #: settings asked for (the rows after them are padding)
    y_scale: float


@x64_scope
def dispatch(
    data: SearchData, used: list[dict], size: int | None = None, fits_per_call: int = 16
) -> Dispatched:
    """Start the compiled fits of validated settings without waiting for them (:func:`collect` waits).

    ``used`` holds validated settings (:meth:`FairKernelRidgeHyperModel.check_values`).
    The fits run ``fits_per_call`` per call of :func:`fit_predict_program`;
    the rows are padded to a multiple of it (to at least ``size``) so that
    every call has one shape and the program compiles once. Padding rows are
    copies of the first setting with ``mu = 0`` (a closed form: no solver step).

    JAX dispatches compiled calls asynchronously: the caller may do other
    work (the batched tuner records the previous batch's trials) while they
    run. They call LAPACK: hold :func:`blas_limit` until :func:`collect`
    returns (``FairKernelRidgeHyperModel.evaluate_batch`` and ``BatchedTuner`` do).
    """
    k = len(used)
    g = max(1, int(fits_per_call))
    pad = {**used[0], "mu": 0.0}
    total = max(size or k, k)
    rows = used + [pad] * (total - k + (-total % g))
    cols = columns(data.problem, rows)
    config = data.config
    outputs = []
    for s in range(0, len(rows), g):
        part = {f: ops.convert_to_tensor(a[s : s + g]) for f, a in cols.items()}
        outputs.append(
            fit_predict_program(
                *data.arrays,
                part["sigma"],
                part["lam"],
                part["mu"],
                part["sigma_q"],
                part["lr"],
                part["epochs"],
                kernel_q=config.kernel_q,
                kernel=config.kernel,
            )
        )
    return Dispatched(outputs, k, data.problem.y_scale)


def collect(started: Dispatched):
    """Wait for :func:`dispatch`'s calls: predictions (units of ``y``, shape (k, m)), ``converged``, steps."""
    preds, converged, steps = zip(*(jax.device_get(out) for out in started.outputs), strict=True)
    k = started.k
    pred = np.concatenate(preds)[:k] * started.y_scale
    return pred, np.concatenate(converged)[:k], np.concatenate(steps)[:k]
