"""scikit-learn integration: a regressor, a classifier (the FKL paper's ±1 protocol), fairness scorers
and efficient model selection.

The estimator takes the sensitive attribute as ``sensitive_features`` (the
fairlearn name) in ``fit``; with metadata routing enabled it is routed per fold
by ``cross_validate``, ``GridSearchCV`` and ``Pipeline``::

    import sklearn
    sklearn.set_config(enable_metadata_routing=True)
    est = FairKernelRidgeRegressor(mu=5.0).set_fit_request(sensitive_features=True)
    cross_validate(est, X, y, params={"sensitive_features": A}, scoring=...)

The scorers read ``sensitive_features`` at score time (which needs metadata
routing, enabled before they are made). Pass a shuffled splitter (e.g.
``KFold(5, shuffle=True, random_state=0)``) whenever the rows may be sorted
(e.g. by group): scikit-learn's integer ``cv`` does not shuffle.
Only public scikit-learn APIs are used.
"""

from __future__ import annotations

from fairkl.sklearn.classifier import FairKernelRidgeClassifier
from fairkl.sklearn.cv import FairKernelRidgeCV
from fairkl.sklearn.estimator import FairKernelRidgeRegressor
from fairkl.sklearn.scorers import (
    best_within_budget,
    dependence_score,
    make_dependence_scorer,
    make_parity_scorer,
    mean_parity_gap,
    yardstick,
)

__all__ = [
    "FairKernelRidgeRegressor",
    "FairKernelRidgeClassifier",
    "FairKernelRidgeCV",
    "yardstick",
    "dependence_score",
    "mean_parity_gap",
    "make_dependence_scorer",
    "make_parity_scorer",
    "best_within_budget",
]
