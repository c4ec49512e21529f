"""FairKernelRidgeCV(penalty="cka"): warm-started along mu, equal to GridSearchCV's cold refits."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold

from fairkl.datasets import make_seed_data
from fairkl.sklearn import FairKernelRidgeCV, FairKernelRidgeRegressor

GRID = dict(sigmas=[1.0, 3.0], lams=[1e-2, 1e-1], mus=[10.0, 0.0, 3.0])  # mus unsorted on purpose


@pytest.fixture(scope="module")
def fitted():
    X, y, q = make_seed_data(n=80, seed=7)
    q = q[:, 0]
    splitter = KFold(3, shuffle=True, random_state=2)
    cv = FairKernelRidgeCV(**GRID, cv=splitter, penalty="cka").fit(X, y, sensitive_features=q)
    search = GridSearchCV(
        FairKernelRidgeRegressor(penalty="cka"),
        {"sigma": GRID["sigmas"], "lam": GRID["lams"], "mu": GRID["mus"]},
        scoring={"mse": "neg_mean_squared_error", "n_iter": lambda est, X_, y_: est.model_.n_iter_},
        cv=splitter,
        refit=False,
    ).fit(X, y, sensitive_features=q)  # no routing: GridSearchCV slices sensitive_features per fold
    return X, y, q, cv, search


def _lookup(search, params, key):
    for i, p in enumerate(search.cv_results_["params"]):
        if all(p[k] == params[k] for k in ("sigma", "lam", "mu")):
            return search.cv_results_[key][i]
    raise KeyError(params)


def test_cv_results_equal_grid_search_refits(fitted):
    _, _, _, cv, search = fitted
    ours = cv.cv_results_["mean_test_mse"]
    ref = np.array([-_lookup(search, p, "mean_test_mse") for p in cv.cv_results_["params"]])
    # Warm and cold starts stop at different points within the solver's tol (decrement <= 1e-10).
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
    assert np.all(np.isfinite(cv.cv_results_["mean_test_cka"]))
    assert cv.model_.penalty == "cka" and cv.model_.mu == cv.mu_


def test_candidates_start_where_their_refit_starts(fitted):
    """Each candidate starts at the mu = 0 solution, as a cold refit does (a warm start along
    mu reached other local minima of the non-convex CKA objective), so their step counts
    agree up to the dense vs lean form of the solver (within 2%)."""
    _, _, _, cv, search = fitted
    cold = np.array([_lookup(search, p, "mean_test_n_iter") * 3 for p in cv.cv_results_["params"]])
    steps = cv.cv_results_["n_iter"]
    mu = cv.cv_results_["param_mu"]
    np.testing.assert_array_equal(steps[mu == 0], 0)
    np.testing.assert_allclose(cold[mu == 0], 0)
    assert steps.sum() == cv.n_iter_
    np.testing.assert_allclose(steps.sum(), cold.sum(), rtol=0.02)


def test_cka_penalty_lowers_held_out_cka(fitted):
    _, _, _, cv, _ = fitted
    r = cv.cv_results_
    for s in GRID["sigmas"]:
        for lam in GRID["lams"]:
            pick = (r["param_sigma"] == s) & (r["param_lam"] == lam)
            order = np.argsort(r["param_mu"][pick])
            assert r["mean_test_cka"][pick][order][-1] < r["mean_test_cka"][pick][order][0]


def test_cka_options_are_validated():
    X, y, q = make_seed_data(n=40, seed=0)
    with pytest.raises(ValueError, match="penalty must be one of"):
        FairKernelRidgeCV(penalty="mmd").fit(X, y, sensitive_features=q)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        FairKernelRidgeCV(penalty="cka", epochs=0, mus=[0.0, 1.0]).fit(X, y, sensitive_features=q)
