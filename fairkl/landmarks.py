r"""Landmark selection for the low-rank (Nyström) model: data preparation, no fitting.

:func:`select_landmarks` picks the ``m`` rows :math:`Z` of the training inputs
on which the low-rank model of :mod:`fairkl.solvers.lowrank` is built:
``"uniform"`` (default), ``"kmeans++"`` (D² sampling) or
``"pivoted_cholesky"`` (greedy largest residual variance of the RBF kernel,
by :func:`fairkl.linalg.pivoted_cholesky_columns`), all seeded.
"""

from __future__ import annotations

from functools import partial

import jax
import numpy as np
from keras import ops

from fairkl._backend import x64_scope
from fairkl._constants import LANDMARK_METHODS, PIVOT_FLOOR, POOL_PER_LANDMARK
from fairkl.kernels import rbf_kernel, squared_distances
from fairkl.linalg import pivoted_cholesky_columns

__all__ = ["LANDMARK_METHODS", "select_landmarks"]


@x64_scope
def select_landmarks(
    X,
    m: int,
    method: str = "uniform",
    seed: int = 0,
    sigma: float | None = None,
    pool: int | None = None,
) -> np.ndarray:
    r"""Indices of ``m`` landmark rows of ``X`` (sorted, distinct).

    Parameters
    ----------
    X : array of shape (n, d)
    m : int, 1 <= m <= n
    method : {"uniform", "kmeans++", "pivoted_cholesky"}
        ``"uniform"``: sampling without replacement (the default; O(m)).
        ``"kmeans++"``: D² sampling (Arthur & Vassilvitskii, 2007): each next
        landmark drawn with probability proportional to its squared distance to
        the nearest one chosen. ``"pivoted_cholesky"``: greedy pivoted Cholesky
        of the RBF kernel (bandwidth ``sigma``, required): each next landmark is
        the row worst explained by the ones chosen (largest residual variance
        :math:`k(x,x) - k(x,Z)K_{ZZ}^{-1}k(Z,x)`). The greedy methods scan a
        seeded uniform pool of ``pool`` rows (default ``min(n, 8 m)``): O(pool·m·d)
        and O(pool·m²) time.
    seed : int
        Seed of every random choice: equal seeds give equal landmarks.
    sigma : float, optional
        RBF bandwidth, required by ``"pivoted_cholesky"``.
    pool : int, optional
        Rows scanned by the greedy methods.

    Returns
    -------
    ndarray of int, shape (m,)
    """
    n = X.shape[0]
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= n:
        raise ValueError(
            f"n_components (the number of landmarks) must be an integer in [1, n={n}]; got {m!r}."
        )
    if method not in LANDMARK_METHODS:
        raise ValueError(f"landmarks must be one of {list(LANDMARK_METHODS)}; got {method!r}.")
    rng = np.random.default_rng(seed)
    if method == "uniform":
        return np.sort(rng.choice(n, size=m, replace=False))
    p = max(m, min(n, POOL_PER_LANDMARK * m) if pool is None else min(n, int(pool)))
    cand = np.sort(rng.choice(n, size=p, replace=False)) if p < n else np.arange(n)
    Xc = ops.convert_to_tensor(np.asarray(X)[cand], dtype="float64")
    if method == "kmeans++":
        first = int(rng.integers(p))
        picked = _kmeanspp(Xc, jax.random.PRNGKey(seed), first, m=m)
    else:
        if sigma is None:
            raise ValueError(
                "landmarks='pivoted_cholesky' needs the kernel bandwidth sigma; pass sigma=."
            )
        picked = _pivoted_landmarks(Xc, ops.convert_to_tensor(sigma, dtype="float64"), m=m)
    return np.sort(cand[np.asarray(picked)])


@partial(jax.jit, static_argnames=("m",))
def _kmeanspp(X, key, first, m: int):
    """D² sampling of ``m`` rows of ``X`` (the first one given)."""

    def body(k, state):
        idx, d2, key = state
        key, sub = jax.random.split(key)
        # Chosen rows have d2 = 0, hence probability 0: no repeats while others remain.
        logits = ops.log(ops.maximum(d2, 0.0) + 1e-300)
        i = jax.random.categorical(sub, logits)
        new = squared_distances(X, X[i][None, :])[:, 0]
        return idx.at[k].set(i), ops.minimum(d2, new), key

    d0 = squared_distances(X, X[first][None, :])[:, 0]
    idx0 = ops.zeros((m,), dtype="int64").at[0].set(first)
    idx, _, _ = jax.lax.fori_loop(1, m, body, (idx0, d0.at[first].set(0.0), key))
    return idx


@partial(jax.jit, static_argnames=("m",))
def _pivoted_landmarks(X, sigma, m: int):
    """Pivots of a greedy pivoted Cholesky of the RBF kernel on ``X`` (never formed).

    A pivot already explained to rounding (duplicate rows) adds a zero column,
    and the pivots stay distinct (see :func:`fairkl.linalg.pivoted_cholesky_columns`).
    """

    def column(i):
        return rbf_kernel(X, X[i][None, :], sigma=sigma)[:, 0]

    diag = ops.ones((X.shape[0],), dtype=X.dtype)
    return pivoted_cholesky_columns(column, diag, m, floor=PIVOT_FLOOR)[2]
