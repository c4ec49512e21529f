"""Adversarial pass S5 (issue 19): group metrics, the selection rule and the yardstick.

Each case failed before this pass (silently accepted, or a message naming the
wrong argument); legal results are checked against NumPy/SciPy directly.
"""

import numpy as np
import pytest
from scipy.stats import pearsonr

from fairkl import metrics as M
from fairkl.metrics import Yardstick

RNG = np.random.default_rng(1)
N = 40
Y = RNG.normal(size=N)
F = Y + 0.3 * RNG.normal(size=N)
Q = RNG.normal(size=N)


def test_correlation_names_sensitive_features():
    """Before: None and label arrays gave the same message, naming no argument."""
    with pytest.raises(ValueError, match="sensitive_features is None"):
        M.correlation(Y, F, sensitive_features=None)
    labels = np.array([f"{x:.3f}" for x in Q])
    with pytest.raises(TypeError, match="but sensitive_features holds labels"):
        M.correlation(Y, F, sensitive_features=labels)
    assert M.correlation(Y, F, sensitive_features=Q) == pytest.approx(pearsonr(F, Q).statistic)


def test_group_report_as_frame_checked():
    """Before: as_frame='x' returned a DataFrame without a word."""
    g = np.arange(N) % 2
    with pytest.raises(TypeError, match="as_frame must be True, False or None"):
        M.group_report(Y, F, g, as_frame="x")
    table = M.group_report(Y, F, g, as_frame=False)
    ref = [np.mean((F - Y)[g == k] ** 2) for k in (0, 1)]
    np.testing.assert_allclose(table["mse"], ref, rtol=1e-12)


@pytest.mark.parametrize(
    "error, words",
    [
        (None, "error is None"),  # was read as [nan]: candidate 0
        ([[1.0, 2.0], [3.0, 4.0]], "error must be 1-D"),  # was flattened silently
        ([1 + 1j, 2.0], "error must hold real numbers"),
    ],
)
def test_best_within_budget_refuses_malformed_error(error, words):
    with pytest.raises((ValueError, TypeError), match=words):
        M.best_within_budget(error, [0.1, 0.2, 0.3, 0.4][: np.size(error) or 1], 0.3)


def test_best_within_budget_inf_means_no_constraint():
    """Before: budget=inf was refused; it is the plain most-accurate choice."""
    err, unf = np.array([3.0, 1.0, 2.0]), np.array([0.1, 0.5, 0.2])
    assert M.best_within_budget(err, unf, np.inf) == int(np.argmin(err))
    assert M.best_within_budget(err[:, None], unf, 0.3) == 2  # a column of candidates is fine
    with pytest.raises(ValueError, match="budget must be finite"):
        M.best_within_budget(err, unf, -np.inf)


@pytest.mark.parametrize("shape", [(N, 2), (2, N)])
def test_yardstick_shapes_named(shape):
    """Before: a 2-D y or y_pred was flattened and the error blamed sensitive_features ('X has 80')."""
    bad = RNG.normal(size=shape)
    with pytest.raises(ValueError, match="y must be 1-D"):
        Yardstick.from_data(bad, Q)
    with pytest.raises(ValueError, match="y_pred must be 1-D"):
        Yardstick(1.0, 1.0).score(bad, Q)


def test_yardstick_column_vector_matches_reference():
    n = N
    H = np.eye(n) - 1.0 / n
    Kf = H @ np.exp(-((F[:, None] - F[None]) ** 2) / 2.0) @ H
    Kq = H @ np.exp(-((Q[:, None] - Q[None]) ** 2) / (2 * 0.5**2)) @ H
    ref = np.sum(Kf * Kq) / np.sqrt(np.sum(Kf * Kf) * np.sum(Kq * Kq))
    assert Yardstick(1.0, 0.5).score(F[:, None], Q) == pytest.approx(ref, rel=1e-10)
    ys = Yardstick.from_data(Y[:, None], Q)
    D = np.abs(Y[:, None] - Y[None])[~np.eye(n, dtype=bool)]
    assert ys.sigma_pred == pytest.approx(np.median(D), rel=1e-12)
