"""Fairness metrics: an HSIC independence test with a p-value, and group metrics.

* :func:`hsic_test` — is a model's (held-out) prediction independent of the
  sensitive attribute? A small p-value says no; a large one does not prove yes.
* Group metrics for regression (:func:`group_report`, :func:`mse_gap`,
  :func:`mae_gap`, the signed :func:`mean_prediction_gap`, :func:`ks_gap`,
  :func:`wasserstein_gap`, the signed :func:`correlation`) and for ±1 / {0, 1}
  decisions (:func:`statistical_parity_difference`,
  :func:`equal_opportunity_difference`, :func:`error_rate_gap`), usable with
  fairlearn's ``MetricFrame`` and as scikit-learn scorers
  (:func:`make_group_scorer`).
"""

from fairkl.metrics.groups import (
    GROUP_SCORERS,
    correlation,
    equal_opportunity_difference,
    error_rate,
    error_rate_gap,
    group_report,
    ks_gap,
    mae_gap,
    make_group_scorer,
    mean_prediction,
    mean_prediction_difference,
    mean_prediction_gap,
    mse_gap,
    statistical_parity_difference,
    wasserstein_gap,
)
from fairkl.metrics.independence import HSICTestResult, hsic_test
from fairkl.metrics.selection import best_within_budget
from fairkl.metrics.yardstick import UndefinedDependence, Yardstick

__all__ = [
    "GROUP_SCORERS",
    "HSICTestResult",
    "UndefinedDependence",
    "Yardstick",
    "best_within_budget",
    "correlation",
    "equal_opportunity_difference",
    "error_rate",
    "error_rate_gap",
    "group_report",
    "hsic_test",
    "ks_gap",
    "mae_gap",
    "make_group_scorer",
    "mean_prediction",
    "mean_prediction_difference",
    "mean_prediction_gap",
    "mse_gap",
    "statistical_parity_difference",
    "wasserstein_gap",
]
