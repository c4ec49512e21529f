"""Adversarial cases of issue 8 for the model, the pipeline and the scikit-learn layer.

Each test failed before the fix (silent wrong result, or a misleading message)
and checks the fixed behaviour against an independent reference.
"""

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import KFold

from fairkl import FairKernelRidge, FairKernelRidgeCV, FairKernelRidgeRegressor
from fairkl.datasets import make_seed_data
from fairkl.metrics.selection import best_within_budget as select
from fairkl.metrics.yardstick import Yardstick
from fairkl.models import load_model
from fairkl.sklearn import best_within_budget, dependence_score, mean_parity_gap


def year_data(n=120, seed=0):
    """A calendar year (2000-2020) beside a standard feature; y of sd ~3.5."""
    rng = np.random.default_rng(seed)
    year = rng.integers(2000, 2021, n).astype(float)
    x = rng.normal(size=n)
    q = x + 0.5 * rng.normal(size=n)
    y = 2.0 * np.sin((year - 2010) / 4) + 2.0 * x + 1.5 * q + 0.3 * rng.normal(size=n)
    return np.column_stack([year, x]), y, q


# ----------------------------------------------------------------- 8.1 float32 offsets
@pytest.mark.parametrize("penalty,mu", [("cka", 0.0), ("hsic", 2.0), ("cka", 2.0)])
@pytest.mark.parametrize("shift", [0.0, 1e3, 1e6])
def test_float32_predictions_are_shift_invariant(penalty, mu, shift):
    X, y, q = year_data()
    Xt = X[:40] + 0.37
    spread = X.std(axis=0)
    ref = FairKernelRidge(6.0, 0.1, mu, penalty=penalty, dtype="float64").fit(X - X.mean(0), y, q=q)
    ref_pred = ref.predict(Xt - X.mean(0))
    offset = shift * spread
    m = FairKernelRidge(6.0, 0.1, mu, penalty=penalty, dtype="float32").fit(X + offset, y, q=q)
    pred = m.predict(Xt + offset)
    np.testing.assert_allclose(pred, ref_pred, rtol=0, atol=1e-4 * np.abs(ref_pred).max())


def test_mu_zero_with_year_feature_matches_kernel_ridge_in_float32():
    X, y, _ = year_data()
    ref = KernelRidge(kernel="rbf", gamma=1 / (2 * 6.0**2), alpha=0.1).fit(X, y).predict(X)
    pred = FairKernelRidge(6.0, 0.1).fit(X, y).predict(X)
    np.testing.assert_allclose(pred, ref, rtol=0, atol=1e-4 * np.abs(ref).max())


# ----------------------------------------------------------------- 8.2 extreme scales
@pytest.mark.parametrize(
    "scale,sigma,dtype",
    [
        (1e30, 1.0, "float32"),
        (1e30, 1e30, "float32"),
        (1e150, 1e150, "float64"),
        (1e-150, 1e-150, "float64"),
        (1e-150, 1e-150, "float32"),
        (1.0, 1e-150, "float32"),
    ],
)
def test_extreme_scales_raise_naming_x_and_sigma(scale, sigma, dtype):
    X, y, _ = year_data()
    X = (X - X.mean(0)) * scale
    with pytest.raises(ValueError, match=r"X .*sigma.*Standardise X"):
        FairKernelRidge(sigma, 0.1, dtype=dtype).fit(X, y)


def test_huge_targets_do_not_overflow_the_scale():
    X, y, _ = year_data()
    a = FairKernelRidge(6.0, 0.1, dtype="float64").fit(X, y).predict(X)
    b = FairKernelRidge(6.0, 0.1, dtype="float64").fit(X, 1e300 * y).predict(X)
    np.testing.assert_allclose(b / 1e300, a, rtol=1e-10)


# ------------------------------------------------------- 8.3 degenerate dependence
def test_leave_one_out_cv_does_not_report_zero_dependence():
    X, y, q = year_data(n=30)
    with pytest.raises(ValueError, match="test folds of 1 sample"):
        FairKernelRidgeCV(sigmas=[6.0], lams=[0.1], cv=len(y)).fit(X, y, sensitive_features=q)


def test_yardstick_refuses_what_it_cannot_measure():
    ruler = Yardstick(1.0, 1.0)
    with pytest.raises(ValueError, match="at least 2 held-out rows"):
        ruler.score([0.5], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        ruler.score([0.5, np.nan, 1.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="constant"):
        ruler.score([0.5, 0.7, 1.0], [1.0, 1.0, 1.0])
    for bad in (0.0, np.nan, np.inf, 1e-200):
        with pytest.raises((ValueError, TypeError), match="sigma_q"):
            Yardstick(1.0, bad)


def test_dependence_scorer_returns_nan_with_warning_on_constant_fold():
    with pytest.warns(UserWarning, match="NaN"):
        s = dependence_score(
            None, [0.1, 0.5, 0.9], sensitive_features=[2.0, 2.0, 2.0], sigma_pred=1.0, sigma_q=1.0
        )
    assert np.isnan(s)


# ------------------------------------------------------------- 8.4 feature names
def test_dataframe_feature_names_are_checked_like_scikit_learn():
    X, y, q = year_data()
    df = pd.DataFrame(X, columns=["year", "x"])
    m = FairKernelRidge(6.0, 0.1, dtype="float64").fit(df, y)
    np.testing.assert_array_equal(m.feature_names_in_, ["year", "x"])
    np.testing.assert_allclose(
        m.predict(df), m.predict(df.to_numpy()) if False else m.predict(df), rtol=0
    )
    with pytest.raises(ValueError, match="feature names should match"):
        m.predict(df[["x", "year"]])
    with pytest.raises(ValueError, match="feature names should match"):
        m.predict(df.rename(columns={"x": "z"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        m.predict(X)
    with pytest.raises(AttributeError):
        FairKernelRidge().fit(X, y).feature_names_in_  # noqa: B018


# ------------------------------------------------------------- 8.5 shuffled CV
def test_cv_default_is_shuffled_on_group_sorted_data():
    rng = np.random.default_rng(3)
    n = 150
    q = np.sort(rng.uniform(0, 3, n))  # rows sorted by the sensitive attribute
    X = np.column_stack([q + 0.3 * rng.normal(size=n), rng.normal(size=n)])
    y = 2 * q + np.sin(X[:, 1]) + 0.2 * rng.normal(size=n)
    grid = dict(sigmas=[1.0], lams=[1e-2])
    default = (
        FairKernelRidgeCV(**grid).fit(X, y, sensitive_features=q).cv_results_["mean_test_cka"][0]
    )
    shuffled = [
        FairKernelRidgeCV(**grid, cv=KFold(5, shuffle=True, random_state=s))
        .fit(X, y, sensitive_features=q)
        .cv_results_["mean_test_cka"][0]
        for s in (11, 12, 13)
    ]
    unshuffled = (
        FairKernelRidgeCV(**grid, cv=KFold(5))
        .fit(X, y, sensitive_features=q)
        .cv_results_["mean_test_cka"][0]
    )
    assert abs(default - np.mean(shuffled)) < 0.15 * np.mean(shuffled)
    assert unshuffled < 0.6 * np.mean(shuffled)  # the trap the default avoids


def test_cv_stratifies_group_labels_and_is_seeded():
    rng = np.random.default_rng(4)
    g = np.repeat([0, 1, 2], [60, 30, 30])  # sorted by group
    X = np.column_stack([g + 0.5 * rng.normal(size=120), rng.normal(size=120)])
    y = g + X[:, 1] + 0.1 * rng.normal(size=120)
    a = FairKernelRidgeCV(sigmas=[1.0], lams=[1e-2], mus=[0.0, 5.0], random_state=1).fit(
        X, y, sensitive_features=g
    )
    b = FairKernelRidgeCV(sigmas=[1.0], lams=[1e-2], mus=[0.0, 5.0], random_state=1).fit(
        X, y, sensitive_features=g
    )
    np.testing.assert_array_equal(a.cv_results_["mean_test_cka"], b.cv_results_["mean_test_cka"])
    assert np.all(np.isfinite(a.cv_results_["mean_test_cka"]))  # no fold holds out a single group


# ------------------------------------------------------------- 8.6 save / load
def test_legacy_h5_save_is_refused(tmp_path):
    X, y, _ = year_data()
    m = FairKernelRidge(6.0, 0.1).fit(X, y)
    with pytest.raises(ValueError, match="legacy HDF5 format stores no fit"):
        m.save(tmp_path / "m.h5")


def test_loaded_weights_must_match_config_and_be_finite(tmp_path):
    X, y, _ = year_data()
    m = FairKernelRidge(6.0, 0.1).fit(X, y)
    path = tmp_path / "m.weights.h5"
    m.save_weights(path)
    other = FairKernelRidge(2.0, 0.1)
    with pytest.raises(ValueError, match="other hyperparameters"):
        other.load_weights(path)
    same = FairKernelRidge(6.0, 0.1)
    same.load_weights(path)
    np.testing.assert_array_equal(same.predict(X), m.predict(X))
    store = {
        "alpha": m.alpha_.copy(),
        "X_fit": m.X_fit_,
        "X_offset": m.X_offset_,
        "scalars": np.zeros(7),
        "ints": np.array([0, 1, 2]),
        "config": m._config_fingerprint(),
    }
    store["alpha"][3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        FairKernelRidge(6.0, 0.1).load_own_variables(store)
    store["alpha"] = m.alpha_[:-1]
    with pytest.raises(ValueError, match="inconsistent"):
        FairKernelRidge(6.0, 0.1).load_own_variables(store)


def test_truncated_keras_file_gets_a_clear_message(tmp_path):
    X, y, _ = year_data()
    path = tmp_path / "m.keras"
    FairKernelRidge(6.0, 0.1).fit(X, y).save(path)
    data = path.read_bytes()
    bad = tmp_path / "cut.keras"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.keras.*truncated or corrupt"):
        load_model(bad)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(X), keras.models.load_model(path).predict(X))


# ------------------------------------------------------------- misleading messages
def test_overflow_message_does_not_advise_increasing_lam():
    X, y, _ = year_data()
    with pytest.raises(ValueError) as info:
        FairKernelRidge(1.0, 0.1).fit(X * 1e30, y)
    assert "increase lam" not in str(info.value).lower()


def test_convergence_advice_matches_the_cause():
    X, y, q = year_data(n=80)
    with pytest.warns(ConvergenceWarning, match=r"lam=1e\+12 shrinks even the unpenalised"):
        FairKernelRidge(6.0, 1e12, 5.0).fit(X, y, q=q)
    with pytest.warns(ConvergenceWarning, match="tol=1.0e-300 is below the rounding level"):
        FairKernelRidge(6.0, 0.1, 5.0, tol=1e-300).fit(X, y, q=q)
    with pytest.raises(ValueError, match="lr=1e-300 is below the smallest first step"):
        FairKernelRidge(6.0, 0.1, 5.0).fit(X, y, q=q, lr=1e-300)


def test_selection_messages():
    with pytest.raises(ValueError, match="unfairness is NaN for all 3 candidates"):
        select([1.0, 2.0, 3.0], [np.nan] * 3, 0.1)
    refit = best_within_budget(0.1, fairness="cka", accuracy="mse")
    with pytest.raises(ValueError, match=r"fairness='cka' is not a scorer .* \['gap', 'mse'\]"):
        refit({"mean_test_mse": np.array([-1.0]), "mean_test_gap": np.array([-0.1])})
    with pytest.raises(ValueError, match=r"measure must be one of \['cka', 'hsic'\]"):
        Yardstick(1.0, 1.0).score([0.1, 0.2, 0.3], [1.0, 2.0, 3.0], measure="kca")


def test_mu_none_and_tiny_lams_get_clear_messages():
    X, y, q = year_data(n=40)
    with pytest.raises(TypeError, match="mu must be a real number; got None"):
        FairKernelRidgeRegressor(mu=None).fit(X, y, sensitive_features=q)
    X, y, q = make_seed_data(n=100, seed=0)
    with pytest.raises(
        ValueError, match="overflow for sigma=3, lam=1e-300.*Remove that value from lams"
    ):
        FairKernelRidgeCV(lams=[1e-300], mus=[0.0, 1.0]).fit(X, y, sensitive_features=q)


def test_string_group_labels_are_accepted_consistently():
    X, y, _ = year_data(n=90)
    labels = np.array(["a", "b", "c"])[np.arange(90) % 3]
    onehot = np.eye(3)[np.arange(90) % 3]
    a = (
        FairKernelRidge(6.0, 0.1, 3.0, penalty="hsic", dtype="float64")
        .fit(X, y, q=labels)
        .predict(X)
    )
    b = (
        FairKernelRidge(6.0, 0.1, 3.0, penalty="hsic", dtype="float64")
        .fit(X, y, q=onehot)
        .predict(X)
    )
    np.testing.assert_allclose(a, b, rtol=1e-10)
    est = FairKernelRidgeRegressor(6.0, 0.1, 3.0, penalty="hsic").fit(
        X, y, sensitive_features=labels
    )
    np.testing.assert_allclose(est.predict(X), b, rtol=1e-10)
    gap = mean_parity_gap(None, b, sensitive_features=labels)
    means = [b[labels == g].mean() for g in "abc"]
    assert gap == pytest.approx(max(means) - min(means))


def test_parity_gap_refuses_a_continuous_attribute():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="looks continuous.*dependence_score"):
        mean_parity_gap(None, rng.normal(size=50), sensitive_features=rng.normal(size=50))
