r"""Intersectional groups and per-group metrics with bootstrap intervals.

* :func:`intersect` combines several sensitive columns (e.g. race and sex) row
  by row into one label per row, ``"White × Female"``.
* :func:`group_table` reports, for every group, its size and any metrics
  ``metric(y_true, y_pred)`` with a percentile-bootstrap interval. Small
  intersections get wide intervals: the interval, not the point value, says
  how much a difference between two groups can be trusted.

The bootstrap resamples the rows of each group with replacement (the group
sizes are kept fixed, as in a stratified bootstrap), recomputes each metric
on every resample, and reports the :math:`(1 - c)/2` and :math:`(1 + c)/2`
percentiles (linear interpolation, ``np.percentile``) of the resampled
values for a confidence level :math:`c` (Efron & Tibshirani, 1993, ch. 13).
It describes the sampling noise of each group's value given its rows; it is
not a test of a difference between groups.
"""

from __future__ import annotations

import warnings

import numpy as np

from fairkl import _validation as v
from fairkl._backend import user_stacklevel

__all__ = ["group_table", "intersect"]


def intersect(*columns, sep: str = " × ") -> np.ndarray:
    """One string label per row combining several sensitive columns (intersectional groups).

    Parameters
    ----------
    *columns : array-like of shape (n,)
        Two or more columns of the same length (strings, integers, booleans,
        pandas Series or categoricals); a 2-D array or DataFrame counts as its
        columns.
    sep : str, default " × "
        Put between the values of one row.

    Returns
    -------
    ndarray of str objects, shape (n,)
        ``sep.join(str(value) for value in row)`` for every row, e.g.
        ``"White × Female"``; usable as ``sensitive_features`` of every
        fairkl metric (one group per distinct combination).

    Raises
    ------
    ValueError
        If fewer than one column is given, the lengths differ, or a value is
        missing (``None``/NaN).

    Examples
    --------
    >>> from fairkl.metrics import intersect
    >>> intersect(["a", "b", "a"], [0, 1, 1]).tolist()
    ['a × 0', 'b × 1', 'a × 1']
    """
    if not isinstance(sep, str):
        raise TypeError(f"sep must be a string; got {sep!r}.")
    cols = []
    for j, col in enumerate(columns):
        name = f"columns[{j}]"
        if hasattr(col, "columns") and hasattr(col, "iloc"):  # DataFrame
            cols += [(f"{name}[{c!r}]", col[c]) for c in col.columns]
            continue
        arr = np.asarray(col, dtype=object)
        if arr.ndim == 2:
            cols += [(f"{name}[:, {k}]", arr[:, k]) for k in range(arr.shape[1])]
        elif arr.ndim == 1:
            cols.append((name, col))
        else:
            raise ValueError(f"{name} must be 1-D or 2-D; got shape {arr.shape}.")
    if not cols:
        raise ValueError("intersect needs at least one column of group labels.")
    values = []
    for name, col in cols:
        arr = np.asarray(col, dtype=object).reshape(-1)
        missing = [i for i, a in enumerate(arr.tolist()) if a is None or (a != a)]
        if missing:
            raise ValueError(
                f"{name} has {len(missing)} missing value(s) (None/NaN), first at row "
                f"{missing[0]}; drop them or give them a label first."
            )
        if values and arr.shape[0] != values[0].shape[0]:
            raise ValueError(
                f"{name} has {arr.shape[0]} rows but {cols[0][0]} has {values[0].shape[0]}."
            )
        values.append(arr)
    out = np.empty(values[0].shape[0], dtype=object)
    out[:] = [sep.join(str(a) for a in row) for row in zip(*values, strict=True)]
    return out


def _as_1d(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,); got shape {arr.shape}.")
    return arr


def group_table(
    y_true,
    y_pred,
    *,
    sensitive_features,
    metrics: dict,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state=0,
):
    r"""Per-group size and metrics, each with a percentile-bootstrap interval.

    For group :math:`g` with rows :math:`I_g` (:math:`n_g` of them) and a
    metric :math:`m`, the value is :math:`m(y_{I_g}, \hat y_{I_g})`; the
    interval is the :math:`[(1-c)/2, (1+c)/2]` percentile range of
    :math:`m(y_{J}, \hat y_{J})` over ``n_boot`` resamples :math:`J` of
    :math:`n_g` rows drawn from :math:`I_g` with replacement.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Passed to the metrics row-subset by row-subset (any values the metrics
        accept: targets and predictions, labels and decisions, labels and scores).
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels; several columns give intersectional groups (see
        :func:`intersect` for one string label per intersection).
    metrics : dict
        Column name -> callable ``metric(y_true, y_pred) -> float`` (e.g.
        :func:`~fairkl.metrics.error_rate`,
        ``sklearn.metrics.mean_squared_error``, or a ``lambda``).
    n_boot : int, default 1000
        Bootstrap resamples per group (0: no intervals; the ``_low`` and
        ``_high`` columns are then NaN).
    confidence : float, default 0.95
        Coverage level :math:`c` of the interval, in (0, 1).
    random_state : None, int or numpy Generator, default 0
        Seeds ``rng = np.random.default_rng(random_state)``. The groups are
        resampled in group order, each by one draw
        ``rng.integers(0, n_g, size=(n_boot, n_g))`` (row ``b`` indexes the
        group's rows for resample ``b``), shared by all the metrics.

    Returns
    -------
    pandas.DataFrame (dict of NumPy arrays if pandas is not installed)
        One row per group, in group order: one column per attribute (the
        group's label), ``n``, and for each metric ``name``: ``name``,
        ``name_low``, ``name_high``.

    Notes
    -----
    A resample on which a metric raises ``ValueError`` (e.g. a true-positive
    rate when the resample has no positive label) is left out of that
    metric's interval, with a ``RuntimeWarning`` giving the count; the
    interval is NaN if every resample failed. The percentile bootstrap is
    unreliable for very small groups (a handful of rows): report the size
    next to the interval, as this table does.
    """
    yt = _as_1d(y_true, "y_true")
    yp = _as_1d(y_pred, "y_pred")
    if yt.shape[0] != yp.shape[0]:
        raise ValueError(f"y_true has {yt.shape[0]} rows but y_pred has {yp.shape[0]}.")
    if sensitive_features is None:
        raise ValueError(
            "sensitive_features is None; pass the group (sensitive attribute) of every sample."
        )
    codes, names, attrs = v.group_labels(
        sensitive_features, "sensitive_features", return_labels=True, return_attributes=True
    )
    if codes.shape[0] != yt.shape[0]:
        raise ValueError(
            f"sensitive_features has {codes.shape[0]} rows but y_true has {yt.shape[0]}."
        )
    if not isinstance(metrics, dict) or not metrics:
        raise TypeError(
            f"metrics must be a non-empty dict name -> metric(y_true, y_pred); got {metrics!r}."
        )
    for key, fn in metrics.items():
        if not callable(fn):
            raise TypeError(f"metrics[{key!r}] must be callable metric(y_true, y_pred).")
    n_boot = v.check_int(n_boot, "n_boot", minimum=0)
    confidence = v.check_positive(confidence, "confidence")
    if not confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}.")
    rng = np.random.default_rng(random_state)
    pct = [100.0 * (1.0 - confidence) / 2.0, 100.0 * (1.0 + confidence) / 2.0]

    G = len(names)
    table: dict = {}
    for j, attr in enumerate(attrs):
        table[attr] = np.array([g[j] if isinstance(g, tuple) else g for g in names], dtype=object)
    table["n"] = np.bincount(codes, minlength=G)
    for key in metrics:
        table[key] = np.full(G, np.nan)
        table[f"{key}_low"] = np.full(G, np.nan)
        table[f"{key}_high"] = np.full(G, np.nan)
    for g in range(G):
        rows = np.flatnonzero(codes == g)
        draws = rng.integers(0, rows.size, size=(n_boot, rows.size)) if n_boot else None
        for key, fn in metrics.items():
            table[key][g] = float(fn(yt[rows], yp[rows]))
            if not n_boot:
                continue
            boot = np.full(n_boot, np.nan)
            for b in range(n_boot):
                idx = rows[draws[b]]
                try:
                    boot[b] = float(fn(yt[idx], yp[idx]))
                except ValueError:
                    pass  # undefined on this resample; counted below
            ok = np.isfinite(boot)
            if not ok.all():
                warnings.warn(
                    f"metric {key!r} is undefined on {int((~ok).sum())} of {n_boot} bootstrap "
                    f"resamples of group {names[g]!r} (n = {rows.size}); its interval uses the "
                    f"others.",
                    RuntimeWarning,
                    stacklevel=user_stacklevel(),
                )
            if ok.any():
                table[f"{key}_low"][g], table[f"{key}_high"][g] = np.percentile(boot[ok], pct)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        return table
    return pd.DataFrame(table)
