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
* Decisions beyond one threshold: :func:`true_positive_rate_difference`,
  :func:`false_positive_rate_difference`, :func:`equalized_odds_difference`,
  per-group ROC curves and AUC (:func:`group_roc`, :func:`group_auc`) and
  :func:`threshold_sweep`.
* Separation for regression (:math:`f \\perp q \\mid y`):
  :func:`conditional_dependence` and :func:`conditional_independence_test`.
* Intersectional groups and intervals: :func:`intersect` (e.g. race × sex)
  and :func:`group_table` (per-group size and metrics with bootstrap
  intervals).
"""

from fairkl.metrics.decisions import (
    GroupROC,
    equalized_odds_difference,
    false_positive_rate_difference,
    group_auc,
    group_roc,
    threshold_sweep,
    true_positive_rate_difference,
)
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
from fairkl.metrics.intervals import group_table, intersect
from fairkl.metrics.selection import best_within_budget
from fairkl.metrics.separation import (
    ConditionalTestResult,
    conditional_dependence,
    conditional_independence_test,
)
from fairkl.metrics.yardstick import UndefinedDependence, Yardstick

__all__ = [
    "ConditionalTestResult",
    "GROUP_SCORERS",
    "GroupROC",
    "HSICTestResult",
    "UndefinedDependence",
    "Yardstick",
    "best_within_budget",
    "conditional_dependence",
    "conditional_independence_test",
    "correlation",
    "equal_opportunity_difference",
    "equalized_odds_difference",
    "error_rate",
    "error_rate_gap",
    "false_positive_rate_difference",
    "group_auc",
    "group_report",
    "group_roc",
    "group_table",
    "hsic_test",
    "intersect",
    "ks_gap",
    "mae_gap",
    "make_group_scorer",
    "mean_prediction",
    "mean_prediction_difference",
    "mean_prediction_gap",
    "mse_gap",
    "statistical_parity_difference",
    "threshold_sweep",
    "true_positive_rate_difference",
    "wasserstein_gap",
]
