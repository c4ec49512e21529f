"""Deprecated alias of the low-rank (Nyström) model's old home; it defines nothing.

Issue 20 dissolved this module: landmark selection (data preparation) is
:mod:`fairkl.landmarks`; the low-rank programs, the Nyström map and its
statistics are :mod:`fairkl.solvers.lowrank`; the pivoted Cholesky is
:func:`fairkl.linalg.pivoted_cholesky_columns`; the centred factor of the
kernel on ``q`` is :func:`fairkl.sensitive.centered_factor`; the L-BFGS is
:func:`fairkl.solvers.lbfgs.minimize`; the constants are in
:mod:`fairkl._constants`. The names below are re-exported so that code written
against ``fairkl.lowrank`` keeps working; import them from their new homes.
"""

from __future__ import annotations

from fairkl._constants import (
    FEATURE_KINDS,
    LANDMARK_METHODS,
    LBFGS_MEMORY,
    N_FEATURES,
    PIVOT_FLOOR,
    POOL_PER_LANDMARK,
    Q_MAX_RANK,
    Q_TOL,
    RCOND,
)
from fairkl.landmarks import select_landmarks
from fairkl.solvers.lowrank import (
    CHUNK,
    LowRankResult,
    NystromMap,
    cka_features_penalty,
    cka_lbfgs,
    feature_matrix,
    features,
    fit_cka_lowrank,
    fit_hsic_lowrank,
    fit_krr_lowrank,
    gram_statistics,
    hsic_path_from_factor,
    hsic_path_lowrank,
    hsic_path_solve,
    hsic_solve,
    nystrom_cka_value_and_grad,
    nystrom_map,
    predict,
    prediction_frequencies,
    sensitive_factor,
)

__all__ = [
    "CHUNK",
    "FEATURE_KINDS",
    "LANDMARK_METHODS",
    "LBFGS_MEMORY",
    "LowRankResult",
    "N_FEATURES",
    "NystromMap",
    "PIVOT_FLOOR",
    "POOL_PER_LANDMARK",
    "Q_MAX_RANK",
    "Q_TOL",
    "RCOND",
    "cka_features_penalty",
    "cka_lbfgs",
    "feature_matrix",
    "features",
    "fit_cka_lowrank",
    "fit_hsic_lowrank",
    "fit_krr_lowrank",
    "gram_statistics",
    "hsic_path_from_factor",
    "hsic_path_lowrank",
    "hsic_path_solve",
    "hsic_solve",
    "nystrom_cka_value_and_grad",
    "nystrom_map",
    "predict",
    "prediction_frequencies",
    "select_landmarks",
    "sensitive_factor",
]
