"""The batched tuner's fits: the fit pipeline's vectorised solve, and nothing of its own.

Every setup step (validation, the scale of ``y``, the prepared ``q``, the
median heuristics) is :func:`fairkl.pipeline.prepare`'s; the fits are
:func:`fairkl.pipeline.solve_batch` (``jax.vmap`` of the model's compiled CKA
fit) and the predictions :func:`fairkl.pipeline.predict_batch`.
"""

from __future__ import annotations

import numpy as np

from fairkl.pipeline import FitConfig, predict_batch, prepare, solve_batch

FLOAT_FIELDS = ("sigma", "lam", "mu", "lr")


def prepare_search(X, y, q, options: dict):
    """``(config, problem)`` shared by every batch of a search (``prepare`` runs once).

    ``mu=1`` only so that ``q`` and the bandwidth on predictions are prepared;
    each trial's own ``mu`` is passed to :func:`solve_batch`.
    """
    config = FitConfig(**{**options, "mu": 1.0, "penalty": "cka", "dtype": "float64"})
    return config, prepare(X, y, q, config, q_name="q_train")


def fit_predict(config: FitConfig, problem, X_val, used: list[dict], size: int | None = None,
                fits_per_call: int = 1):
    """Validation predictions (units of ``y``, shape (len(used), m)) and ``converged`` flags.

    ``used`` holds validated settings (:meth:`FairKernelRidgeHyperModel.check_values`),
    padded with copies of its first entry to ``size`` rows. The fits run
    ``fits_per_call`` at a time through :func:`solve_batch` (``jax.vmap``;
    a short last group is padded), so every call has one shape and each
    program compiles once; the predictions of all rows are one
    :func:`predict_batch` call. ``sigma_q=None`` is passed as NaN: the
    pipeline's median heuristic, as a single fit.

    Why ``fits_per_call=1`` by default: on CPU, vmap saves nothing per solver
    step (measured 92.7 vs 90.1 us per trial-step at n = 150), while a
    vectorised group runs until its slowest fit: with the default space
    55% of the executed steps were padding. On an accelerator, groups pay.
    """
    k = len(used)
    rows = used + [used[0]] * (max(size or k, k) - k)
    g = max(1, int(fits_per_call))
    padded = rows + [rows[0]] * (-len(rows) % g)
    cols = {f: np.array([u[f] for u in padded], dtype=np.float64) for f in FLOAT_FIELDS}
    sigma_qs = np.array([np.nan if u["sigma_q"] is None else u["sigma_q"] for u in padded], dtype=np.float64)
    epochs = np.array([u["epochs"] for u in padded], dtype=np.int32)
    alphas, converged = [], []
    for s in range(0, len(padded), g):
        part = slice(s, s + g)
        res = solve_batch(problem, config, sigmas=cols["sigma"][part], lams=cols["lam"][part],
                          mus=cols["mu"][part], sigma_qs=sigma_qs[part], lrs=cols["lr"][part], epochs=epochs[part])
        alphas.append(np.asarray(res.alpha))
        converged.append(np.asarray(res.converged))
    pred = predict_batch(problem, X_val, np.concatenate(alphas), cols["sigma"], config)
    return pred[:k], np.concatenate(converged)[:k]
