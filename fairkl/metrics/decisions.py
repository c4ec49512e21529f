r"""Decision metrics beyond one threshold: error-rate parity, per-group ROC, threshold sweeps.

A score :math:`f` becomes a decision :math:`\hat y = 1` when :math:`f \ge t`.
Statistical parity (:func:`~fairkl.metrics.statistical_parity_difference`)
looks at :math:`P(\hat y = 1 \mid g)` alone; the measures here also condition
on the true label :math:`y`:

* true-positive rate :math:`\mathrm{TPR}_g = P(\hat y = 1 \mid y = 1, g)` and
  false-positive rate :math:`\mathrm{FPR}_g = P(\hat y = 1 \mid y = 0, g)`;
  :func:`true_positive_rate_difference` and
  :func:`false_positive_rate_difference` are :math:`\max_g - \min_g` of them;
* :func:`true_positive_rate` and :func:`false_positive_rate` are the
  per-group rates themselves, for :func:`fairkl.metrics.group_table` and
  fairlearn's ``MetricFrame``;
* :func:`equalized_odds_difference` is the larger of the two (fairlearn's
  ``equalized_odds_difference`` with its default ``agg="worst_case"``):
  0 when every group has the same TPR *and* the same FPR (Hardt et al., 2016,
  "Equality of opportunity in supervised learning");
* :func:`group_roc` / :func:`group_auc`: each group's ROC curve and area, i.e.
  every threshold at once;
* :func:`threshold_sweep`: error rate and the parity measures at a grid of
  thresholds, so a trade-off is not read off the single threshold ``t = 0``.

Labels and decisions are coded ±1 or {0, 1}, with 1 the positive class.
Groups follow the one rule of :mod:`fairkl.metrics.groups` (one column:
one group per value; several columns: intersections, see also
:func:`fairkl.metrics.intersect`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fairkl import _validation as v
from fairkl.metrics.groups import (
    as_decisions,
    as_vector,
    class_counts,
    class_rates,
    encode_groups,
    need_two_groups,
)

__all__ = [
    "GroupROC",
    "equalized_odds_difference",
    "false_positive_rate",
    "false_positive_rate_difference",
    "group_auc",
    "group_roc",
    "threshold_sweep",
    "true_positive_rate",
    "true_positive_rate_difference",
]


# ---------------------------------------------------------------------------
# Shared validation
# ---------------------------------------------------------------------------


def _groups(sensitive_features, n: int, name_n: str) -> tuple[np.ndarray, list]:
    """Group codes and labels (:func:`~fairkl.metrics.groups.encode_groups`); the length must be ``n``; at least 2 groups."""
    codes, names, _ = encode_groups(sensitive_features, "sensitive_features")
    if codes.shape[0] != n:
        raise ValueError(f"sensitive_features has {codes.shape[0]} rows but {name_n} has {n}.")
    need_two_groups(names)
    return codes, names


def _labels_and_decisions(y_true, y_pred):
    y = as_decisions(y_true, "y_true")
    d = as_decisions(y_pred, "y_pred")
    if y.shape != d.shape:
        raise ValueError(f"y_true has {y.shape[0]} rows but y_pred has {d.shape[0]}.")
    return y, d


# ---------------------------------------------------------------------------
# Per-group callables (MetricFrame / group_table: signature (y_true, y_pred))
# ---------------------------------------------------------------------------


def _rate_of(y_true, y_pred, which: str) -> float:
    y, d = _labels_and_decisions(y_true, y_pred)
    mask = y if which == "positive" else ~y
    if not mask.any():
        rate = "true-positive" if which == "positive" else "false-positive"
        raise ValueError(f"the {rate} rate is undefined: no {which} labels in y_true.")
    return float(np.count_nonzero(d[mask]) / np.count_nonzero(mask))


def true_positive_rate(y_true, y_pred) -> float:
    r"""Fraction of positive labels decided positive, :math:`P(\hat y = 1 \mid y = 1)`.

    For one group's rows, e.g. in :func:`fairkl.metrics.group_table` or
    fairlearn's ``MetricFrame`` (equals ``fairlearn.metrics.true_positive_rate``).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Labels and decisions, each coded ±1 or {0, 1} (1 is positive).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``y_true`` has no positive label.
    """
    return _rate_of(y_true, y_pred, "positive")


def false_positive_rate(y_true, y_pred) -> float:
    r"""Fraction of negative labels decided positive, :math:`P(\hat y = 1 \mid y = 0)`.

    For one group's rows, e.g. in :func:`fairkl.metrics.group_table` or
    fairlearn's ``MetricFrame`` (equals ``fairlearn.metrics.false_positive_rate``).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Labels and decisions, each coded ±1 or {0, 1} (1 is positive).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``y_true`` has no negative label.
    """
    return _rate_of(y_true, y_pred, "negative")


# ---------------------------------------------------------------------------
# Equalised odds
# ---------------------------------------------------------------------------


def true_positive_rate_difference(y_true, y_pred, *, sensitive_features) -> float:
    r"""Largest minus smallest per-group true-positive rate (>= 0).

    .. math:: \max_g P(\hat y = 1 \mid y = 1, g) - \min_g P(\hat y = 1 \mid y = 1, g)

    The same number as :func:`~fairkl.metrics.equal_opportunity_difference`
    and as fairlearn's ``MetricFrame(metrics=true_positive_rate, ...).difference()``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Labels and decisions, each coded ±1 or {0, 1} (1 is positive).
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels; several columns give intersectional groups.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a group has no positive label (its rate is undefined), if there is
        one group only, or for lengths, NaN or codings that do not fit.
    """
    y, d = _labels_and_decisions(y_true, y_pred)
    codes, names = _groups(sensitive_features, y.shape[0], "y_pred")
    r = class_rates(y, d, codes, names, "positive")
    return float(r.max() - r.min())


def false_positive_rate_difference(y_true, y_pred, *, sensitive_features) -> float:
    r"""Largest minus smallest per-group false-positive rate (>= 0).

    .. math:: \max_g P(\hat y = 1 \mid y = 0, g) - \min_g P(\hat y = 1 \mid y = 0, g)

    (with ±1 labels, :math:`y = 0` reads :math:`y = -1`). Equals fairlearn's
    ``MetricFrame(metrics=false_positive_rate, ...).difference()``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Labels and decisions, each coded ±1 or {0, 1} (1 is positive).
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels; several columns give intersectional groups.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a group has no negative label (its rate is undefined), if there is
        one group only, or for lengths, NaN or codings that do not fit.
    """
    y, d = _labels_and_decisions(y_true, y_pred)
    codes, names = _groups(sensitive_features, y.shape[0], "y_pred")
    r = class_rates(y, d, codes, names, "negative")
    return float(r.max() - r.min())


def equalized_odds_difference(y_true, y_pred, *, sensitive_features) -> float:
    r"""The larger of the true- and false-positive-rate differences (>= 0).

    .. math:: \max\big(\Delta_{\mathrm{TPR}}, \Delta_{\mathrm{FPR}}\big),\qquad
              \Delta_{\mathrm{TPR}} = \max_g \mathrm{TPR}_g - \min_g \mathrm{TPR}_g

    fairlearn's ``equalized_odds_difference`` (default ``agg="worst_case"``).
    0 means equalised odds: the decision is independent of the group given
    the true label (separation, :math:`\hat y \perp g \mid y`).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Labels and decisions, each coded ±1 or {0, 1} (1 is positive).
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels; several columns give intersectional groups.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a group lacks positive or negative labels, if there is one group
        only, or for lengths, NaN or codings that do not fit.
    """
    y, d = _labels_and_decisions(y_true, y_pred)
    codes, names = _groups(sensitive_features, y.shape[0], "y_pred")
    tpr = class_rates(y, d, codes, names, "positive")
    fpr = class_rates(y, d, codes, names, "negative")
    return float(max(tpr.max() - tpr.min(), fpr.max() - fpr.min()))


# ---------------------------------------------------------------------------
# ROC per group
# ---------------------------------------------------------------------------


class GroupROC(NamedTuple):
    """One group's ROC curve (see :func:`group_roc`).

    Attributes
    ----------
    fpr, tpr : ndarray
        False- and true-positive rates of the decisions ``score >= threshold``,
        both increasing from 0 to 1.
    thresholds : ndarray
        Decreasing; the first is ``inf`` (no positive decision), then every
        distinct score of the group.
    auc : float
        Area under the curve (trapezoidal rule): the probability that a random
        positive row scores above a random negative row, ties counted one half.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float


def _roc(y: np.ndarray, s: np.ndarray) -> GroupROC:
    """ROC of boolean labels ``y`` and scores ``s`` at every distinct score (no point dropped)."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # Last index of each run of equal scores: the decisions s >= t change only there.
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    return GroupROC(fpr=fpr, tpr=tpr, thresholds=np.r_[np.inf, s[last]], auc=auc)


def _score_groups(y_true, y_score, sensitive_features):
    y = as_decisions(y_true, "y_true")
    s = as_vector(y_score, "y_score")
    if s.shape[0] != y.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} rows but y_score has {s.shape[0]}.")
    codes, names = _groups(sensitive_features, s.shape[0], "y_score")
    return y, s, codes, names


def group_roc(y_true, y_score, *, sensitive_features) -> dict:
    """Each group's ROC curve and AUC for decisions ``y_score >= threshold``.

    Every distinct score of the group is a threshold (scikit-learn's
    ``roc_curve(..., drop_intermediate=False)``); the AUC is
    ``roc_auc_score`` on the group's rows. Comparing the groups' curves shows
    whether a score ranks equally well within each group, at every threshold
    at once; a common threshold picks one point on each curve.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Labels coded ±1 or {0, 1} (1 is positive).
    y_score : array-like of shape (n,)
        Real scores (e.g. the model's ``f``), higher meaning more positive.
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels; several columns give intersectional groups (tuples).

    Returns
    -------
    dict
        Group label -> :class:`GroupROC` ``(fpr, tpr, thresholds, auc)``, in
        group order.

    Raises
    ------
    ValueError
        If a group lacks positive or negative labels (its curve is undefined),
        for one group only, or for lengths, NaN or label codings that do not fit.
    """
    y, s, codes, names = _score_groups(y_true, y_score, sensitive_features)
    class_counts(y, codes, names, "positive")
    class_counts(y, codes, names, "negative")
    return {name: _roc(y[codes == g], s[codes == g]) for g, name in enumerate(names)}


def group_auc(y_true, y_score, *, sensitive_features) -> dict:
    """Each group's area under the ROC curve (see :func:`group_roc`).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Labels coded ±1 or {0, 1} (1 is positive).
    y_score : array-like of shape (n,)
        Real scores, higher meaning more positive.
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels.

    Returns
    -------
    dict
        Group label -> AUC (float), in group order.
    """
    return {
        g: r.auc
        for g, r in group_roc(y_true, y_score, sensitive_features=sensitive_features).items()
    }


# ---------------------------------------------------------------------------
# Threshold sweep
# ---------------------------------------------------------------------------

#: Number of quantiles of the score used as default thresholds by :func:`threshold_sweep`.
SWEEP_QUANTILES = 51


def threshold_sweep(y_true, y_score, *, sensitive_features, thresholds=None):
    r"""Error rate and group-parity measures of the decisions ``y_score >= t``, for many ``t``.

    For every threshold :math:`t` the decision is :math:`\hat y = 1` when
    :math:`f \ge t` (the chapters' ``sign(f)`` is :math:`t = 0` up to scores
    exactly 0), and the row reports

    * ``error_rate``: :math:`P(\hat y \ne y)`;
    * ``positive_rate``: :math:`P(\hat y = 1)`;
    * ``statistical_parity_difference``: :math:`\max_g - \min_g` of
      :math:`P(\hat y = 1 \mid g)`;
    * ``true_positive_rate_difference``, ``false_positive_rate_difference``
      and their maximum ``equalized_odds_difference``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Labels coded ±1 or {0, 1} (1 is positive). Every group needs positive
        and negative labels.
    y_score : array-like of shape (n,)
        Real scores, higher meaning more positive.
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels; several columns give intersectional groups.
    thresholds : array-like of float, optional
        Thresholds, in the order given. Default: the 51 quantiles
        ``np.quantile(y_score, np.linspace(0, 1, 51))`` (0 %, 2 %, ..., 100 %;
        duplicates removed), so the positive rate moves in steps of about 2 %
        whatever the scale or skew of the score; the smallest threshold makes
        every decision positive.

    Returns
    -------
    pandas.DataFrame (dict of NumPy arrays if pandas is not installed)
        One row per threshold; columns ``threshold``, ``error_rate``,
        ``positive_rate``, ``statistical_parity_difference``,
        ``true_positive_rate_difference``, ``false_positive_rate_difference``,
        ``equalized_odds_difference``.
    """
    y, s, codes, names = _score_groups(y_true, y_score, sensitive_features)
    if thresholds is None:
        t = np.unique(np.quantile(s, np.linspace(0.0, 1.0, SWEEP_QUANTILES)))
    else:
        t = v.as_float_array(thresholds, "thresholds").reshape(-1)
    D = s[None, :] >= t[:, None]  # (n_thresholds, n)
    G = len(names)
    onehot = np.zeros((s.shape[0], G))
    onehot[np.arange(s.shape[0]), codes] = 1.0
    group_rate = (D.astype(float) @ onehot) / onehot.sum(axis=0)
    tpr = class_rates(y, D, codes, names, "positive")
    fpr = class_rates(y, D, codes, names, "negative")
    dtpr = tpr.max(axis=1) - tpr.min(axis=1)
    dfpr = fpr.max(axis=1) - fpr.min(axis=1)
    table = {
        "threshold": t,
        "error_rate": np.mean(D != y[None, :], axis=1),
        "positive_rate": np.mean(D, axis=1),
        "statistical_parity_difference": group_rate.max(axis=1) - group_rate.min(axis=1),
        "true_positive_rate_difference": dtpr,
        "false_positive_rate_difference": dfpr,
        "equalized_odds_difference": np.maximum(dtpr, dfpr),
    }
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency of the book extra
        return table
    return pd.DataFrame(table)
