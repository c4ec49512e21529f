"""Adversarial pass S5 (issue 19): the open model questions, settled against references.

* mu = 1e6: the HSIC fit is the exact minimiser (dense NumPy solve); the CKA fit
  is not (its objective exceeds that of a constant prediction), and the
  warning it raises says so.
* MuPath.predict on rows far from the data: exactly 0 (the kernel underflows),
  in float32 and float64, never a constant from an overflowed cast.
* Low-rank model with every row a landmark: warns where the documented bound
  exceeds 1e-6, equals kernel ridge regression where it does not.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge

from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data

X, Y, Q = make_seed_data(n=40, seed=3)


def rbf(A, B, sigma):
    return np.exp(-((A[:, None, :] - B[None, :, :]) ** 2).sum(-1) / (2.0 * sigma**2))


def centred(M):
    n = len(M)
    H = np.eye(n) - 1.0 / n
    return H @ M @ H


def test_hsic_mu_1e6_is_the_exact_minimiser():
    """The large spread at mu = 1e6 would be the true minimiser's: the closed form matches NumPy."""
    mu, lam = 1e6, 1e-2
    model = FairKernelRidge(sigma=1.0, lam=lam, mu=mu, penalty="hsic", dtype="float64")
    model.fit(X, Y, q=Q)
    n, s = len(Y), model.y_scale_
    K = rbf(X, X, 1.0)
    Lc = centred(rbf(Q, Q, model.sigma_q_))
    alpha = np.linalg.solve(K + lam * np.eye(n) + (mu / n) * Lc @ K, Y / s)
    ref = K @ alpha * s
    got = np.asarray(model.predict(X), dtype=float)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * np.std(Y))


def test_cka_mu_1e6_warning_is_true():
    """CKA at mu = 1e6 stops far from a minimum: its objective (evaluated in NumPy) exceeds that
    of alpha = 0, a constant prediction (CKA 0 by definition). The warning must say that the
    predictions are not meaningful, and converged_ must be False."""
    mu, lam = 1e6, 1e-2
    model = FairKernelRidge(sigma=1.0, lam=lam, mu=mu, penalty="cka", dtype="float64")
    with pytest.warns(ConvergenceWarning, match="far from a minimum") as record:
        model.fit(X, Y, q=Q)
    assert any("not meaningful" in str(w.message) for w in record)
    assert model.converged_ is False
    n, s = len(Y), model.y_scale_
    K = rbf(X, X, 1.0)
    Lc = centred(rbf(Q, Q, model.sigma_q_))
    a = np.asarray(model.alpha_, dtype=float).ravel()
    f = K @ a
    Kf = centred(rbf(f[:, None], f[:, None], model.sigma_f_))
    cka = np.sum(Kf * Lc) / np.sqrt(np.sum(Kf * Kf) * np.sum(Lc * Lc))
    ys = Y / s
    J = (np.sum((ys - f) ** 2) + lam * a @ f) / n + mu * cka
    J_constant = np.mean(ys**2)  # alpha = 0
    assert J > J_constant, (J, J_constant)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale", [1e3, 1e30, 1e39])
def test_mu_path_predict_far_rows_are_zero(dtype, scale):
    """Far from every training row the RBF kernel is 0, so every prediction is exactly 0."""
    path = FairKernelRidge(dtype=dtype).mu_path(X, Y, Q, [0.0, 10.0])
    far = X * scale + scale
    got = np.asarray(path.predict(far))
    assert got.shape == (2, len(X))
    np.testing.assert_array_equal(got, 0.0)


def test_mu_path_predict_near_rows_float32_matches_float64():
    p32 = FairKernelRidge(dtype="float32").mu_path(X, Y, Q, [0.0, 10.0])
    p64 = FairKernelRidge(dtype="float64").mu_path(X, Y, Q, [0.0, 10.0])
    Z = X + 0.01
    np.testing.assert_allclose(
        np.asarray(p32.predict(Z)), np.asarray(p64.predict(Z)), atol=1e-3 * np.std(Y)
    )
    # and the mu = 0 row is kernel ridge regression
    s = np.std(Y)
    ref = KernelRidge(alpha=1e-2, kernel="rbf", gamma=0.5).fit(X, Y / s).predict(Z) * s
    np.testing.assert_allclose(np.asarray(p64.predict(Z))[0], ref, rtol=1e-7, atol=1e-9)


def test_lowrank_every_row_a_landmark_warns_in_the_documented_range():
    """The module documents the warning on make_seed_data(n=100), sigma = 1 (eigenvalues dropped)."""
    X1, Y1, _ = make_seed_data(n=100, seed=0)
    n, s = len(Y1), np.std(Y1)
    with pytest.warns(UserWarning, match="every row a landmark"):
        FairKernelRidge(dtype="float64", n_components=n, lam=1e-6).fit(X1, Y1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # RCOND * n / lam = 1e-8 <= 1e-6: no warning
        model = FairKernelRidge(dtype="float64", n_components=n, lam=1e-2).fit(X1, Y1)
    ref = KernelRidge(alpha=1e-2, kernel="rbf", gamma=0.5).fit(X1, Y1 / s).predict(X1) * s
    np.testing.assert_allclose(np.asarray(model.predict(X1)), ref, atol=1e-6 * s)


@pytest.mark.parametrize(
    "mus, error, words",
    [
        ([1e13], ValueError, "mus has values above"),  # fit refuses mu > 1e12; mu_path did not
        ([[1.0, 2.0], [3.0, 4.0]], ValueError, "mus must be 1-D"),  # was flattened
        ([True, 1.0], TypeError, "mus must hold numbers >= 0, not booleans"),  # was mu = 1
        (None, ValueError, "mus is None"),
        ([-1.0], ValueError, "mus must all be >= 0"),
    ],
)
def test_mu_path_checks_mus(mus, error, words):
    with pytest.raises(error, match=words):
        FairKernelRidge(dtype="float64").mu_path(X, Y, Q, mus)


def test_mu_path_column_of_mus_matches_dense_solve():
    path = FairKernelRidge(dtype="float64").mu_path(X, Y, Q, np.array([[0.0], [10.0]]))
    n, s = len(Y), np.std(Y)
    K = rbf(X, X, 1.0)
    Lc = centred(rbf(Q, Q, path.sigma_q))
    alpha = np.linalg.solve(K + 1e-2 * np.eye(n) + (10.0 / n) * Lc @ K, Y / s)
    np.testing.assert_allclose(np.asarray(path.predict(X))[1], K @ alpha * s, rtol=1e-7, atol=1e-9)


def test_cv_refuses_budget_and_tradeoff_together():
    """Two selection rules at once were silently resolved in favour of the budget."""
    from fairkl.sklearn import FairKernelRidgeCV

    rng = np.random.default_rng(0)
    X, y, q = rng.normal(size=(30, 2)), rng.normal(size=30), rng.normal(size=30)
    with pytest.raises(ValueError, match="budget=0.1 and tradeoff=1.0"):
        FairKernelRidgeCV(mus=[0.0, 1.0], budget=0.1, tradeoff=1.0).fit(X, y, sensitive_features=q)


def test_cv_more_folds_than_rows_names_cv():
    """scikit-learn's message named n_splits, an argument the user never passed."""
    from fairkl.sklearn import FairKernelRidgeCV

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    with pytest.raises(ValueError, match=r"cv=100 folds need at least 100 samples; got 30"):
        FairKernelRidgeCV(cv=100).fit(X, y)
