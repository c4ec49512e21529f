"""Fairness metrics, scikit-learn scorers and the ``refit`` rule for multi-metric searches."""

from __future__ import annotations

import warnings

import numpy as np
import sklearn
from sklearn.metrics import make_scorer

from fairkl import _validation as v
from fairkl._backend import user_stacklevel, x64_scope
from fairkl._constants import MEASURES
from fairkl.metrics.groups import mean_prediction_difference
from fairkl.metrics.selection import best_within_budget as _select
from fairkl.metrics.yardstick import UndefinedDependence, Yardstick


@x64_scope
def yardstick(y, sensitive_features) -> dict:
    """Fixed bandwidths for comparing dependence across models, folds and trials.

    The median-heuristic bandwidths of the targets and of the sensitive
    attribute (:meth:`fairkl.metrics.yardstick.Yardstick.from_data`). Pass them
    to :func:`dependence_score` or :func:`make_dependence_scorer` so that every
    candidate is measured with the same ruler.

    Returns
    -------
    dict with keys ``sigma_pred`` and ``sigma_q``
    """
    return Yardstick.from_data(y, sensitive_features).as_dict()


def _need_sensitive(sensitive_features, fn: str) -> None:
    """A scorer made with metadata routing off is called without sensitive_features: say so."""
    if sensitive_features is None:
        raise ValueError(
            f"{fn} got no sensitive_features: a scorer receives them only through scikit-learn's metadata "
            f"routing. Call sklearn.set_config(enable_metadata_routing=True) before making the scorer, "
            f"and pass params={{'sensitive_features': q}} to cross_validate / fit of the search."
        )


@x64_scope
def dependence_score(
    y_true,
    y_pred,
    *,
    sensitive_features=None,
    sigma_pred: float,
    sigma_q: float,
    measure: str = "cka",
) -> float:
    """Dependence between predictions and the sensitive attribute (lower is fairer).

    :meth:`fairkl.metrics.yardstick.Yardstick.score` with fixed bandwidths.
    As a scorer it must not raise on a degenerate fold: when the dependence
    cannot be measured (fewer than 2 rows, constant ``sensitive_features``) it
    returns NaN with a ``UserWarning`` (never 0, which would read as "fair").

    Parameters
    ----------
    y_true : ignored (present for the scorer signature)
    y_pred : array-like of shape (n,)
    sensitive_features : array-like of shape (n,) or (n, d_q)
    sigma_pred, sigma_q : float
        Fixed RBF bandwidths (see :func:`yardstick`).
    measure : {"cka", "hsic"}
        Biased CKA in [0, 1], or biased HSIC (RBF kernels on both).
    """
    v.check_choice(measure, "measure", MEASURES)
    _need_sensitive(sensitive_features, "dependence_score")
    try:
        return Yardstick(sigma_pred, sigma_q).score(y_pred, sensitive_features, measure)
    except UndefinedDependence as exc:
        warnings.warn(f"dependence_score is NaN: {exc}", UserWarning, stacklevel=user_stacklevel())
        return float("nan")


def mean_parity_gap(y_true, y_pred, *, sensitive_features=None) -> float:
    """Largest difference between the mean predictions of two groups (lower is fairer).

    Delegates to :func:`fairkl.metrics.mean_prediction_difference`:
    groups by the one rule ``fairkl._validation.group_labels`` (strings,
    categoricals or integers; one-hot columns; several columns give
    intersections). A continuous attribute is refused: use
    :func:`dependence_score`. A single group (e.g. in a small test fold) has
    no gap: 0.
    """
    _need_sensitive(sensitive_features, "mean_parity_gap")
    try:
        codes = v.group_labels(sensitive_features, "sensitive_features")
    except ValueError as exc:
        raise ValueError(
            f"mean_parity_gap needs group labels, but sensitive_features looks continuous: {exc} "
            f"For a continuous attribute use dependence_score / make_dependence_scorer."
        ) from exc
    if codes.max() > 0:
        return mean_prediction_difference(y_true, y_pred, sensitive_features=sensitive_features)
    f = v.as_float_array(y_pred, "y_pred").reshape(-1)
    if f.shape[0] != codes.shape[0]:
        raise ValueError(
            f"sensitive_features has {codes.shape[0]} rows but y_pred has {f.shape[0]}."
        )
    return 0.0


def _scorer(fn, **kwargs):
    scorer = make_scorer(fn, greater_is_better=False, **kwargs)
    if sklearn.get_config().get("enable_metadata_routing", False):
        scorer = scorer.set_score_request(sensitive_features=True)
    return scorer


def make_dependence_scorer(measure: str = "cka", *, sigma_pred: float, sigma_q: float):
    """A scorer of held-out dependence that reads ``sensitive_features`` at score time.

    Like every "lower is better" scikit-learn scorer it returns the *negated*
    value (``cv_results_`` shows ``-CKA``). Enable metadata routing before
    calling this so that the scorer requests ``sensitive_features``.
    """
    v.check_choice(measure, "measure", MEASURES)
    Yardstick(sigma_pred, sigma_q)  # validate the bandwidths now, not at score time
    return _scorer(dependence_score, sigma_pred=sigma_pred, sigma_q=sigma_q, measure=measure)


def make_parity_scorer():
    """A scorer of :func:`mean_parity_gap` (negated; see :func:`make_dependence_scorer`)."""
    return _scorer(mean_parity_gap)


def _result_column(cv_results, name: str, role: str) -> np.ndarray:
    key = f"mean_test_{name}"
    if key not in cv_results:
        known = sorted(k[len("mean_test_") :] for k in cv_results if k.startswith("mean_test_"))
        raise ValueError(
            f"{role}={name!r} is not a scorer of this search; the scoring dict has {known}. "
            f"Pass {role}= one of those names."
        )
    return np.asarray(cv_results[key], dtype=float)


def best_within_budget(
    budget: float, *, fairness: str = "cka", accuracy: str = "neg_mean_squared_error"
):
    """A ``refit`` callable: the most accurate candidate whose mean unfairness is at most ``budget``.

    ``fairness`` and ``accuracy`` name entries of the ``scoring`` dict of a
    multi-metric search. The fairness scorer is negated (see
    :func:`make_dependence_scorer`), so a candidate qualifies when
    ``-mean_test_<fairness> <= budget``. The choice is
    :func:`fairkl.metrics.selection.best_within_budget` (if none qualifies:
    the fairest candidate, NaNs ignored; all NaN: a clear ``ValueError``).
    """
    budget = v.check_positive(budget, "budget", allow_zero=True)

    def refit(cv_results) -> int:
        unfair = -_result_column(cv_results, fairness, "fairness")
        error = -_result_column(cv_results, accuracy, "accuracy")
        return _select(error, unfair, budget)

    return refit
