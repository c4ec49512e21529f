"""The scikit-learn layer: estimator checks, metadata routing per fold, scorers, FairKernelRidgeCV."""

import numpy as np
import pytest
import sklearn
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data
from fairkl.sklearn import (
    FairKernelRidgeCV,
    FairKernelRidgeRegressor,
    best_within_budget,
    dependence_score,
    make_dependence_scorer,
    make_parity_scorer,
    mean_parity_gap,
    yardstick,
)
from tests.conftest import np_center, np_rbf


@parametrize_with_checks([FairKernelRidgeRegressor(), FairKernelRidgeCV()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    X, y, q = make_seed_data(n=120, seed=3)
    return X, y, q[:, 0]


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def test_mu_zero_and_sample_weight_match_kernel_ridge(data):
    X, y, _ = data
    w = np.random.default_rng(0).uniform(0.0, 3.0, len(y))
    ours = FairKernelRidgeRegressor(sigma=0.8, lam=1e-2).fit(X, y, sample_weight=w).predict(X)
    ref = (
        KernelRidge(kernel="rbf", gamma=1 / (2 * 0.8**2), alpha=1e-2)
        .fit(X, y, sample_weight=w)
        .predict(X)
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-9)


def test_sample_weight_with_penalty_is_refused(data):
    X, y, q = data
    with pytest.raises(ValueError, match="sample_weight is supported only for the unpenalised fit"):
        FairKernelRidgeRegressor(mu=1.0).fit(
            X, y, sensitive_features=q, sample_weight=np.arange(len(y)) + 1.0
        )


def manual_fold_predictions(est_params, X, y, q, train, test, scaler=False):
    Xtr, Xte = X[train], X[test]
    if scaler:
        sc = StandardScaler().fit(Xtr)
        Xtr, Xte = sc.transform(Xtr), sc.transform(Xte)
    return (
        FairKernelRidge(dtype="float64", **est_params).fit(Xtr, y[train], q=q[train]).predict(Xte)
    )


def test_cross_validate_routes_sensitive_features_per_fold(data, routing):
    X, y, q = data
    yard = yardstick(y, q)
    est = FairKernelRidgeRegressor(sigma=1.0, lam=1e-2, mu=5.0).set_fit_request(
        sensitive_features=True
    )
    scoring = {"mse": "neg_mean_squared_error", "cka": make_dependence_scorer("cka", **yard)}
    cv = KFold(4, shuffle=True, random_state=0)
    res = cross_validate(
        est,
        X,
        y,
        cv=cv,
        scoring=scoring,
        params={"sensitive_features": q},
        return_estimator=True,
        return_indices=True,
    )
    for k, (train, test) in enumerate(
        zip(res["indices"]["train"], res["indices"]["test"], strict=False)
    ):
        fitted = res["estimator"][k]
        # The bandwidth on q comes from the fold's own training slice.
        assert fitted.model_.sigma_q_ == pytest.approx(
            float(
                np.median(
                    np.abs(q[train][:, None] - q[train][None, :])[~np.eye(len(train), dtype=bool)]
                )
            ),
            rel=1e-9,
        )
        pred = manual_fold_predictions(dict(sigma=1.0, lam=1e-2, mu=5.0), X, y, q, train, test)
        np.testing.assert_allclose(fitted.predict(X[test]), pred, rtol=1e-9, atol=1e-9)
        assert -res["test_mse"][k] == pytest.approx(np.mean((pred - y[test]) ** 2), rel=1e-9)
        assert -res["test_cka"][k] == pytest.approx(np_cka(pred, q[test], **yard), rel=1e-8)


def np_cka(f, q, sigma_pred, sigma_q):
    Kc = np_center(np_rbf(f[:, None], f[:, None], sigma_pred))
    Lc = np_center(np_rbf(q[:, None], q[:, None], sigma_q))
    return np.sum(Kc * Lc) / np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc))


def test_grid_search_multimetric_with_budget_refit(data, routing):
    X, y, q = data
    yard = yardstick(y, q)
    est = FairKernelRidgeRegressor(sigma=1.0, lam=1e-2, penalty="hsic").set_fit_request(
        sensitive_features=True
    )
    scoring = {"mse": "neg_mean_squared_error", "cka": make_dependence_scorer("cka", **yard)}
    budget = 0.15
    grid = {"mu": [0.0, 2.0, 10.0, 50.0], "lam": [1e-3, 1e-1]}
    cv = KFold(3, shuffle=True, random_state=1)
    gs = GridSearchCV(
        est,
        grid,
        scoring=scoring,
        refit=best_within_budget(budget, fairness="cka", accuracy="mse"),
        cv=cv,
    )
    gs.fit(X, y, sensitive_features=q)
    r = gs.cv_results_
    # One candidate recomputed by hand, fold by fold.
    i = 5
    params = r["params"][i]
    mses, ckas = [], []
    for train, test in cv.split(X):
        pred = manual_fold_predictions(
            dict(sigma=1.0, penalty="hsic", **params), X, y, q, train, test
        )
        mses.append(np.mean((pred - y[test]) ** 2))
        ckas.append(np_cka(pred, q[test], **yard))
    assert -r["mean_test_mse"][i] == pytest.approx(np.mean(mses), rel=1e-9)
    assert -r["mean_test_cka"][i] == pytest.approx(np.mean(ckas), rel=1e-8)
    # The refit choice: most accurate among candidates within the budget.
    unfair, acc = -r["mean_test_cka"], r["mean_test_mse"]
    ok = np.flatnonzero(unfair <= budget)
    assert ok.size and gs.best_index_ == ok[np.argmax(acc[ok])]
    assert gs.best_estimator_.model_.mu == r["params"][gs.best_index_]["mu"]


def test_randomized_search_and_pipeline_route_per_fold(data, routing):
    X, y, q = data
    pipe = make_pipeline(
        StandardScaler(), FairKernelRidgeRegressor(mu=3.0).set_fit_request(sensitive_features=True)
    )
    cv = KFold(3, shuffle=True, random_state=2)
    res = cross_validate(
        pipe,
        10 * X + 5,
        y,
        cv=cv,
        params={"sensitive_features": q},
        return_estimator=True,
        return_indices=True,
        scoring="neg_mean_squared_error",
    )
    for k, (train, test) in enumerate(
        zip(res["indices"]["train"], res["indices"]["test"], strict=False)
    ):
        pred = manual_fold_predictions(dict(mu=3.0), 10 * X + 5, y, q, train, test, scaler=True)
        assert -res["test_score"][k] == pytest.approx(np.mean((pred - y[test]) ** 2), rel=1e-9)
    rs = RandomizedSearchCV(
        pipe,
        {"fairkernelridgeregressor__mu": [0.0, 1.0, 4.0]},
        n_iter=2,
        cv=cv,
        random_state=0,
        scoring="neg_mean_squared_error",
    )
    rs.fit(X, y, sensitive_features=q)
    i = 0
    mu = rs.cv_results_["params"][i]["fairkernelridgeregressor__mu"]
    manual = [
        np.mean((manual_fold_predictions(dict(mu=mu), X, y, q, tr, te, scaler=True) - y[te]) ** 2)
        for tr, te in cv.split(X)
    ]
    assert -rs.cv_results_["mean_test_score"][i] == pytest.approx(np.mean(manual), rel=1e-9)


def test_grid_search_without_routing_slices_fit_params(data):
    X, y, q = data
    assert not sklearn.get_config()["enable_metadata_routing"]
    cv = KFold(3, shuffle=True, random_state=4)
    gs = GridSearchCV(
        FairKernelRidgeRegressor(mu=2.0),
        {"lam": [1e-2, 1e-1]},
        cv=cv,
        scoring="neg_mean_squared_error",
    )
    gs.fit(X, y, sensitive_features=q)
    manual = [
        np.mean((manual_fold_predictions(dict(mu=2.0, lam=1e-2), X, y, q, tr, te) - y[te]) ** 2)
        for tr, te in cv.split(X)
    ]
    assert -gs.cv_results_["mean_test_score"][0] == pytest.approx(np.mean(manual), rel=1e-9)


def test_scorers_against_direct_computation(data):
    X, y, q = data
    rng = np.random.default_rng(0)
    pred = y + rng.normal(size=len(y))
    yard = yardstick(y, q)
    off = ~np.eye(len(y), dtype=bool)
    assert yard["sigma_pred"] == pytest.approx(
        np.median(np.abs(y[:, None] - y[None, :])[off]), rel=1e-12
    )
    assert dependence_score(None, pred, sensitive_features=q, **yard) == pytest.approx(
        np_cka(pred, q, **yard), rel=1e-10
    )
    Kc = np_center(np_rbf(pred[:, None], pred[:, None], yard["sigma_pred"]))
    Lc = np_center(np_rbf(q[:, None], q[:, None], yard["sigma_q"]))
    hsic = dependence_score(None, pred, sensitive_features=q, measure="hsic", **yard)
    assert hsic == pytest.approx(np.sum(Kc * Lc) / len(y) ** 2, rel=1e-10)
    groups = np.array(["a", "b", "c"])[np.arange(len(y)) % 3]
    means = [pred[groups == g].mean() for g in "abc"]
    assert mean_parity_gap(None, pred, sensitive_features=groups) == pytest.approx(
        max(means) - min(means)
    )
    onehot = np.eye(3)[np.arange(len(y)) % 3]
    assert mean_parity_gap(None, pred, sensitive_features=onehot) == pytest.approx(
        max(means) - min(means)
    )


def test_parity_scorer_in_cross_validation(data, routing):
    X, y, _ = data
    groups = (X[:, 1] > 0).astype(int)
    est = FairKernelRidgeRegressor(mu=5.0, penalty="hsic").set_fit_request(sensitive_features=True)
    cv = KFold(3, shuffle=True, random_state=5)
    res = cross_validate(
        est,
        X,
        y,
        cv=cv,
        scoring={"gap": make_parity_scorer()},
        params={"sensitive_features": groups},
        return_indices=True,
    )
    for k, (train, test) in enumerate(
        zip(res["indices"]["train"], res["indices"]["test"], strict=False)
    ):
        pred = manual_fold_predictions(
            dict(mu=5.0, penalty="hsic"), X, y, groups.astype(float), train, test
        )
        g = groups[test]
        assert -res["test_gap"][k] == pytest.approx(
            abs(pred[g == 1].mean() - pred[g == 0].mean()), rel=1e-9
        )


def test_errors_name_sensitive_features(data):
    X, y, q = data
    with pytest.raises(ValueError, match="sensitive_features has 119 rows but X has 120"):
        FairKernelRidgeRegressor(mu=1.0).fit(X, y, sensitive_features=q[:-1])
    with pytest.raises(ValueError, match="sensitive_features is required when mu > 0"):
        FairKernelRidgeRegressor(mu=1.0).fit(X, y)
    with pytest.raises(ValueError, match="sensitive_features is required"):
        FairKernelRidgeCV(mus=[0.0, 1.0]).fit(X, y)
    with pytest.raises(ValueError, match="sensitive_features has 119 rows"):
        dependence_score(None, y, sensitive_features=q[:-1], sigma_pred=1.0, sigma_q=1.0)
    with pytest.raises(ValueError, match="lams entries must be > 0"):
        FairKernelRidgeCV(lams=[0.0]).fit(X, y)


# ---------------------------------------------------------------- FairKernelRidgeCV


def test_cv_leave_one_out_equals_brute_force_refits():
    X, y, q = make_seed_data(n=50, seed=7)
    sigmas, lams = [0.5, 2.0], [1e-3, 1e-1]
    cv = FairKernelRidgeCV(sigmas=sigmas, lams=lams, cv="loo").fit(X, y, sensitive_features=q)
    for k, params in enumerate(cv.cv_results_["params"]):
        errs = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            m = FairKernelRidge(params["sigma"], params["lam"], dtype="float64").fit(
                X[keep], y[keep]
            )
            errs.append((m.predict(X[i : i + 1])[0] - y[i]) ** 2)
        assert cv.cv_results_["mean_test_mse"][k] == pytest.approx(np.mean(errs), rel=1e-8)
    with pytest.raises(ValueError, match="cv='loo' .* needs mus all 0"):
        FairKernelRidgeCV(mus=[0.0, 1.0], cv="loo").fit(X, y, sensitive_features=q)


def test_cv_equals_grid_search_refits_and_selects_within_budget(routing):
    X, y, q = make_seed_data(n=90, seed=8)
    q = q[:, 0]
    grid = dict(sigmas=[0.7, 1.5], lams=[1e-2, 1e-1], mus=[0.0, 1.0, 10.0, 100.0])
    folds = KFold(3, shuffle=True, random_state=0)
    budget = 0.2
    cv = FairKernelRidgeCV(**grid, cv=folds, budget=budget).fit(X, y, sensitive_features=q)
    r = cv.cv_results_
    # GridSearchCV refits every candidate on every fold with LU solves: same numbers.
    yard = yardstick(y, q)
    est = FairKernelRidgeRegressor(penalty="hsic").set_fit_request(sensitive_features=True)
    gs = GridSearchCV(
        est,
        {"sigma": grid["sigmas"], "lam": grid["lams"], "mu": grid["mus"]},
        cv=folds,
        scoring={"mse": "neg_mean_squared_error", "cka": make_dependence_scorer("cka", **yard)},
        refit=False,
    )
    gs.fit(X, y, sensitive_features=q)
    order = [
        gs.cv_results_["params"].index({"sigma": p["sigma"], "lam": p["lam"], "mu": p["mu"]})
        for p in r["params"]
    ]
    np.testing.assert_allclose(
        r["mean_test_mse"], -gs.cv_results_["mean_test_mse"][order], rtol=1e-8
    )
    np.testing.assert_allclose(
        r["std_test_mse"], gs.cv_results_["std_test_mse"][order], rtol=1e-6, atol=1e-12
    )
    np.testing.assert_allclose(
        r["mean_test_cka"], -gs.cv_results_["mean_test_cka"][order], rtol=1e-7
    )
    # Held-out dependence falls with mu for fixed (sigma, lam).
    block = r["mean_test_cka"][(r["param_sigma"] == 0.7) & (r["param_lam"] == 1e-2)]
    assert block[-1] < 0.5 * block[0]
    # Selection within the budget, Pareto front by brute force, refit on all data.
    ok = np.flatnonzero(r["mean_test_cka"] <= budget)
    assert ok.size and cv.best_index_ == ok[np.argmin(r["mean_test_mse"][ok])]
    P = np.column_stack([r["mean_test_mse"], r["mean_test_cka"]])
    brute = [
        i
        for i in range(len(P))
        if not any(np.all(P[j] <= P[i]) and np.any(P[j] < P[i]) for j in range(len(P)))
    ]
    assert sorted(cv.pareto_front_.tolist()) == brute
    ref = FairKernelRidge(cv.sigma_, cv.lam_, cv.mu_, penalty="hsic", dtype="float64").fit(
        X, y, q=q
    )
    np.testing.assert_allclose(cv.predict(X), ref.predict(X), rtol=1e-10)


def test_cv_tradeoff_selection():
    X, y, q = make_seed_data(n=60, seed=9)
    cv = FairKernelRidgeCV(sigmas=[1.0], lams=[1e-2], mus=[0.0, 5.0, 50.0], tradeoff=2.0).fit(
        X, y, sensitive_features=q
    )
    r = cv.cv_results_
    assert cv.best_index_ == int(
        np.argmin(r["mean_test_mse"] / np.var(y) + 2.0 * r["mean_test_cka"])
    )
