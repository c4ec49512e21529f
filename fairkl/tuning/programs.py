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


def fit_predict(config: FitConfig, problem, X_val, used: list[dict], size: int | None = None):
    """Validation predictions (units of ``y``, shape (len(used), m)) and ``converged`` flags.

    ``used`` holds validated settings (:meth:`FairKernelRidgeHyperModel.check_values`);
    it is padded with copies of its first entry to ``size`` rows, so that
    every call has one shape and the program compiles once. ``sigma_q=None``
    is passed as NaN: the pipeline's median heuristic, as a single fit.
    """
    k = len(used)
    rows = used + [used[0]] * (max(size or k, k) - k)
    cols = {f: np.array([u[f] for u in rows], dtype=np.float64) for f in FLOAT_FIELDS}
    sigma_qs = np.array([np.nan if u["sigma_q"] is None else u["sigma_q"] for u in rows], dtype=np.float64)
    res = solve_batch(problem, config, sigmas=cols["sigma"], lams=cols["lam"], mus=cols["mu"], sigma_qs=sigma_qs,
                      lrs=cols["lr"], epochs=np.array([u["epochs"] for u in rows], dtype=np.int32))
    pred = predict_batch(problem, X_val, res.alpha, cols["sigma"], config)
    return pred[:k], np.asarray(res.converged)[:k]
