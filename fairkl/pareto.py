"""Pareto fronts and hypervolume for minimisation problems (e.g. error × dependence).

Small NumPy functions shared by the scikit-learn and KerasTuner layers.
"""

from __future__ import annotations

import numpy as np

from fairkl import _validation as v


def _points(points) -> np.ndarray:
    P = v.as_float_array(points, "points")
    if P.ndim != 2:
        raise ValueError(f"points must be 2-D (n_points, n_objectives); got shape {P.shape}.")
    return P


def pareto_front(points) -> np.ndarray:
    """Indices of the non-dominated points, all objectives minimised.

    A point is dominated if another is no worse in every objective and better
    in at least one. Exact duplicates of a front point are all kept.

    Two objectives: sort by the first (ties by the second) and sweep with a
    running minimum of the second, O(n log n). More objectives: pairwise
    comparison, O(k n^2).

    Parameters
    ----------
    points : array-like of shape (n_points, n_objectives)

    Returns
    -------
    ndarray of int
        Indices into ``points``, ordered by the first objective.
    """
    P = _points(points)
    n, k = P.shape
    if k == 2:
        order = np.lexsort((P[:, 1], P[:, 0]))
        front, best, last = [], np.inf, None
        for i in order:
            if P[i, 1] < best:
                front.append(i)
                best, last = P[i, 1], P[i]
            elif last is not None and np.array_equal(P[i], last):
                front.append(i)
        return np.array(front, dtype=int)
    keep = []
    for i in range(n):
        le = np.all(P <= P[i], axis=1)
        lt = np.any(P < P[i], axis=1)
        if not np.any(le & lt):
            keep.append(i)
    keep = np.array(keep, dtype=int)
    return keep[np.argsort(P[keep, 0], kind="stable")]


def hypervolume_2d(points, reference) -> float:
    """Area dominated by ``points`` and bounded by ``reference`` (both objectives minimised).

    Points that do not dominate the reference point contribute nothing.
    """
    P = _points(points)
    if P.shape[1] != 2:
        raise ValueError(f"hypervolume_2d needs 2 objectives; got {P.shape[1]}.")
    ref = v.as_float_array(reference, "reference").reshape(-1)
    if ref.shape != (2,):
        raise ValueError(f"reference must have 2 values; got shape {ref.shape}.")
    P = P[np.all(P < ref, axis=1)]
    if len(P) == 0:
        return 0.0
    F = P[pareto_front(P)]
    xs = np.append(F[1:, 0], ref[0])
    return float(np.sum((xs - F[:, 0]) * (ref[1] - F[:, 1])))
