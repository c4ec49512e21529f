"""Group metrics against fairlearn, scipy.stats, np.corrcoef and brute-force loops; scorers with routing."""

import itertools

import fairlearn.metrics as fairlearn_metrics  # test-only dependency (not a fairkl requirement)
import numpy as np
import pandas as pd
import pytest
import sklearn
from scipy import stats
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error
from sklearn.model_selection import KFold, cross_validate

from fairkl.metrics import (
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
    mean_prediction_gap,
    mse_gap,
    statistical_parity_difference,
    wasserstein_gap,
)

MetricFrame = fairlearn_metrics.MetricFrame


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    n = 300
    sex = rng.choice(np.array(["female", "male"]), size=n)
    race = rng.integers(0, 3, size=n)
    y = rng.normal(size=n) + (sex == "male")
    f = y + 0.3 * rng.normal(size=n) + 0.2 * race
    return y, f, sex, race


def brute_groups(y, f, labels):
    """{label: (n, mean f, mean y, mse, mae)} by a Python loop over distinct labels."""
    out = {}
    for g in sorted(set(labels)):
        idx = [i for i, lab in enumerate(labels) if lab == g]
        e = f[idx] - y[idx]
        out[g] = (len(idx), f[idx].mean(), y[idx].mean(), np.mean(e**2), np.mean(np.abs(e)))
    return out


def test_group_report_matches_loop_and_metricframe(data):
    y, f, sex, _ = data
    rep = group_report(y, f, sex)
    ref = brute_groups(y, f, list(sex))
    assert list(rep["group"]) == sorted(ref)
    for _, row in rep.iterrows():
        n, mf, my, mse, mae = ref[row["group"]]
        assert row["n"] == n
        np.testing.assert_allclose(
            [row["mean_prediction"], row["mean_target"], row["mse"], row["mae"]],
            [mf, my, mse, mae],
            rtol=1e-12,
        )
    mf = MetricFrame(
        metrics={
            "mean_prediction": mean_prediction,
            "mse": mean_squared_error,
            "mae": mean_absolute_error,
        },
        y_true=y,
        y_pred=f,
        sensitive_features=sex,
    )
    np.testing.assert_allclose(
        mf.by_group["mean_prediction"].to_numpy(), rep["mean_prediction"].to_numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(mf.by_group["mse"].to_numpy(), rep["mse"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(mf.by_group["mae"].to_numpy(), rep["mae"].to_numpy(), rtol=1e-12)


def test_group_report_without_pandas_is_a_dict(data):
    y, f, sex, _ = data
    rep = group_report(y, f, sex, as_frame=False)
    assert isinstance(rep, dict) and set(rep) == {
        "group",
        "n",
        "mean_prediction",
        "mean_target",
        "mse",
        "mae",
    }
    assert rep["n"].sum() == len(y)


def test_encodings_give_the_same_groups(data):
    y, f, sex, _ = data
    male = (sex == "male").astype(int)
    encodings = [
        sex,
        list(sex),
        pd.Series(sex, dtype="category"),
        male,  # integer codes
        male.astype(bool),
        np.column_stack([1 - male, male]),  # one-hot columns
        pd.DataFrame({"female": 1 - male, "male": male}),
    ]
    ref = group_report(y, f, sex, as_frame=False)
    for enc in encodings:
        rep = group_report(y, f, enc, as_frame=False)
        for col in ("n", "mean_prediction", "mse", "mae"):
            np.testing.assert_allclose(rep[col], ref[col], rtol=1e-12)
        assert mse_gap(y, f, sensitive_features=enc) == pytest.approx(
            mse_gap(y, f, sensitive_features=sex), rel=1e-12
        )
    one_hot = group_report(y, f, pd.DataFrame({"female": 1 - male, "male": male}), as_frame=False)
    assert list(one_hot["group"]) == ["female", "male"]


def test_intersectional_report_matches_loop_and_metricframe(data):
    y, f, sex, race = data
    q = pd.DataFrame({"sex": sex, "race": race})
    rep = group_report(y, f, q)
    ref = brute_groups(y, f, list(zip(sex, race.tolist(), strict=False)))
    assert list(zip(rep["sex"], rep["race"], strict=False)) == sorted(ref)
    for _, row in rep.iterrows():
        n, mf, _, mse, mae = ref[(row["sex"], row["race"])]
        assert row["n"] == n
        np.testing.assert_allclose(
            [row["mean_prediction"], row["mse"], row["mae"]], [mf, mse, mae], rtol=1e-12
        )
    frame = MetricFrame(metrics=mean_squared_error, y_true=y, y_pred=f, sensitive_features=q)
    np.testing.assert_allclose(frame.by_group.to_numpy(), rep["mse"].to_numpy(), rtol=1e-12)
    assert mse_gap(y, f, sensitive_features=q) == pytest.approx(frame.difference(), rel=1e-12)
    # A plain 2-D array gives the same partition.
    arr = np.column_stack([sex, race.astype(str)])
    assert mae_gap(y, f, sensitive_features=arr) == pytest.approx(
        mae_gap(y, f, sensitive_features=q), rel=1e-12
    )


def test_accuracy_parity_gaps_match_metricframe_difference(data):
    y, f, _, race = data
    for fn, metric in ((mse_gap, mean_squared_error), (mae_gap, mean_absolute_error)):
        frame = MetricFrame(metrics=metric, y_true=y, y_pred=f, sensitive_features=race)
        assert fn(y, f, sensitive_features=race) == pytest.approx(
            frame.difference(method="between_groups"), rel=1e-12
        )


def test_mean_prediction_gap_sign_and_group(data):
    y, f, sex, race = data
    gap = mean_prediction_gap(y, f, sensitive_features=sex)
    assert gap == pytest.approx(f[sex == "male"].mean() - f[sex == "female"].mean(), rel=1e-12)
    assert gap > 0  # males get higher predictions in this fixture
    assert mean_prediction_gap(y, f, sensitive_features=sex, group="female") == pytest.approx(
        -gap, rel=1e-12
    )
    q = pd.DataFrame({"sex": sex, "race": race})
    g_int = mean_prediction_gap(y, f, sensitive_features=q, group=("male", 1))
    inside = (sex == "male") & (race == 1)
    assert g_int == pytest.approx(f[inside].mean() - f[~inside].mean(), rel=1e-12)
    g2 = mean_prediction_gap(None, f, sensitive_features=race, group=2)
    assert g2 == pytest.approx(f[race == 2].mean() - f[race != 2].mean(), rel=1e-12)
    with pytest.raises(ValueError, match="3 groups"):
        mean_prediction_gap(y, f, sensitive_features=race)
    with pytest.raises(ValueError, match="not among the groups"):
        mean_prediction_gap(y, f, sensitive_features=sex, group="other")


@pytest.mark.parametrize("discrete", [False, True])
def test_distribution_gaps_match_scipy(data, discrete):
    y, f, sex, race = data
    if discrete:  # ties within and between groups
        f = np.round(f)
    a, b = f[sex == "female"], f[sex == "male"]
    assert ks_gap(y, f, sensitive_features=sex) == pytest.approx(
        stats.ks_2samp(a, b).statistic, abs=1e-15
    )
    assert wasserstein_gap(y, f, sensitive_features=sex) == pytest.approx(
        stats.wasserstein_distance(a, b), rel=1e-12
    )
    pairs = list(itertools.combinations([f[race == g] for g in range(3)], 2))
    ks_pairs = max(stats.ks_2samp(u, w).statistic for u, w in pairs)
    assert ks_gap(y, f, sensitive_features=race) == pytest.approx(ks_pairs, abs=1e-15)
    assert wasserstein_gap(y, f, sensitive_features=race) == pytest.approx(
        max(stats.wasserstein_distance(u, w) for u, w in pairs), rel=1e-12
    )


def test_correlation_matches_corrcoef(data):
    y, f, sex, _ = data
    rng = np.random.default_rng(1)
    q = rng.normal(size=len(f)) + f
    assert correlation(y, f, sensitive_features=q) == pytest.approx(
        np.corrcoef(f, q)[0, 1], rel=1e-12
    )
    male = (sex == "male").astype(float)
    r = correlation(None, f, sensitive_features=male.reshape(-1, 1))
    assert r == pytest.approx(np.corrcoef(f, male)[0, 1], rel=1e-12) and r > 0
    assert correlation(y, np.full(len(f), 3.0), sensitive_features=q) == 0.0
    with pytest.raises(TypeError, match="numeric sensitive attribute"):
        correlation(y, f, sensitive_features=sex)


@pytest.fixture
def decisions():
    rng = np.random.default_rng(2)
    n = 400
    g = rng.choice(np.array(["a", "b", "c"]), size=n)
    y = (rng.random(n) < 0.4 + 0.2 * (g == "a")).astype(int)
    d = (rng.random(n) < 0.3 + 0.3 * y + 0.1 * (g == "b")).astype(int)
    return y, d, g


@pytest.mark.parametrize("coding", ["01", "pm1"])
def test_decision_metrics_match_fairlearn(decisions, coding):
    y01, d01, g = decisions
    y, d = (y01, d01) if coding == "01" else (2 * y01 - 1, 2 * d01 - 1)
    assert statistical_parity_difference(y, d, sensitive_features=g) == pytest.approx(
        fairlearn_metrics.demographic_parity_difference(y01, d01, sensitive_features=g), rel=1e-12
    )
    assert equal_opportunity_difference(y, d, sensitive_features=g) == pytest.approx(
        fairlearn_metrics.equal_opportunity_difference(y01, d01, sensitive_features=g), rel=1e-12
    )
    tpr = MetricFrame(
        metrics=fairlearn_metrics.true_positive_rate, y_true=y01, y_pred=d01, sensitive_features=g
    )
    assert equal_opportunity_difference(y, d, sensitive_features=g) == pytest.approx(
        tpr.difference(), rel=1e-12
    )
    err = MetricFrame(metrics=error_rate, y_true=y, y_pred=d, sensitive_features=g)
    brute = {k: np.mean(y01[g == k] != d01[g == k]) for k in "abc"}
    np.testing.assert_allclose(err.by_group.to_numpy(), [brute[k] for k in "abc"], rtol=1e-12)
    gap = max(brute.values()) - min(brute.values())
    assert error_rate_gap(y, d, sensitive_features=g) == pytest.approx(gap, rel=1e-12)


def test_statistical_parity_ignores_continuous_targets(decisions):
    y, d, g = decisions
    target = np.random.default_rng(0).normal(size=len(y))
    assert statistical_parity_difference(target, d, sensitive_features=g) == pytest.approx(
        fairlearn_metrics.demographic_parity_difference(y, d, sensitive_features=g), rel=1e-12
    )


def test_decision_scorers_in_cross_validate(decisions):
    y, _, g = decisions
    X = np.column_stack([y + np.random.default_rng(4).normal(size=len(y)), g == "a"])
    names = ["statistical_parity_difference", "equal_opportunity_difference", "error_rate_gap"]
    cv = KFold(2)
    with sklearn.config_context(enable_metadata_routing=True):
        res = cross_validate(
            LogisticRegression(),
            X,
            y,
            cv=cv,
            params={"sensitive_features": g},
            scoring={name: make_group_scorer(name) for name in names},
        )
    for k, (train, test) in enumerate(cv.split(X)):
        d = LogisticRegression().fit(X[train], y[train]).predict(X[test])
        assert res["test_statistical_parity_difference"][k] == pytest.approx(
            -fairlearn_metrics.demographic_parity_difference(
                y[test], d, sensitive_features=g[test]
            ),
            rel=1e-12,
        )
        assert res["test_equal_opportunity_difference"][k] == pytest.approx(
            -fairlearn_metrics.equal_opportunity_difference(y[test], d, sensitive_features=g[test]),
            rel=1e-12,
        )
        err = MetricFrame(metrics=error_rate, y_true=y[test], y_pred=d, sensitive_features=g[test])
        assert res["test_error_rate_gap"][k] == pytest.approx(-err.difference(), rel=1e-12)


def test_decision_errors(decisions):
    y, d, g = decisions
    with pytest.raises(ValueError, match=r"y_pred must hold decisions coded"):
        statistical_parity_difference(y, d + 0.5, sensitive_features=g)
    with pytest.raises(ValueError, match="undefined for group"):
        equal_opportunity_difference(np.where(g == "c", 0, y), d, sensitive_features=g)


def test_scorers_in_cross_validate_with_routing(data):
    y, f, sex, race = data
    rng = np.random.default_rng(3)
    X = np.column_stack([f, race, rng.normal(size=len(y))])
    q = pd.Series(sex)
    names = ["mse_gap", "mae_gap", "mean_prediction_gap", "ks_gap", "wasserstein_gap"]
    cv = KFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        scoring = {name: make_group_scorer(name) for name in names}
        res = cross_validate(
            LinearRegression(), X, y, cv=cv, scoring=scoring, params={"sensitive_features": q}
        )
    assert not sklearn.get_config()["enable_metadata_routing"]
    for k, (train, test) in enumerate(cv.split(X)):
        pred = LinearRegression().fit(X[train], y[train]).predict(X[test])
        for name in names:
            expected = -abs(GROUP_SCORERS[name](y[test], pred, sensitive_features=sex[test]))
            assert res[f"test_{name}"][k] == pytest.approx(expected, rel=1e-10)
        brute = pred[sex[test] == "male"].mean() - pred[sex[test] == "female"].mean()
        assert res["test_mean_prediction_gap"][k] == pytest.approx(-abs(brute), rel=1e-10)


def test_scorer_errors():
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(ValueError, match="valid names: .*ks_gap"):
            make_group_scorer("parity")
    with sklearn.config_context(enable_metadata_routing=False):
        with pytest.raises(RuntimeError, match="enable_metadata_routing=True"):
            make_group_scorer("ks_gap")


@pytest.mark.parametrize(
    "args, match",
    [
        (
            (np.zeros(5), np.zeros(4), np.array([0, 1, 0, 1, 0])),
            "y_true has 5 rows but y_pred has 4",
        ),
        ((np.zeros(4), np.zeros(4), np.array([0, 1, 0])), "sensitive_features has 3 rows"),
        ((np.zeros(4), np.zeros(4), np.array(["a", None, "b", "a"], dtype=object)), "missing"),
        ((np.zeros(4), np.zeros(4), np.array([0.0, np.nan, 1.0, 1.0])), "missing"),
        ((np.zeros(4), np.zeros(4), pd.Series([1, None, 2, 1], dtype="Int64")), "missing"),
        ((np.zeros(4), np.zeros(4), pd.Series(["a", None, "b", "a"], dtype="category")), "missing"),
        ((np.zeros(4), np.zeros(4), np.zeros(4)), "at least 2 groups"),
        ((np.zeros(4), np.array([0, np.inf, 0, 0]), np.array([0, 1, 0, 1])), "NaN or infinite"),
        ((np.zeros(4), np.zeros(4), None), "sensitive_features is None"),
        ((np.zeros(4), np.zeros(4), np.array([0.0, 0.5, 1.0, 1.0])), "non-integer"),
        ((np.zeros(30), np.zeros(30), np.arange(30)), "looks continuous"),
    ],
)
def test_bad_input_errors(args, match):
    y, f, q = args
    with pytest.raises(ValueError, match=match):
        mse_gap(y, f, sensitive_features=q)


# ---------------------------------------------------------------- one group rule (issue 9.3)
def test_one_group_rule_everywhere(data):
    """group_labels decides the groups of the metrics, the parity scorer, the HSIC test and CV strata."""
    from fairkl import _validation as v
    from fairkl.metrics.groups import encode_groups, mean_prediction_difference
    from fairkl.sensitive import group_codes
    from fairkl.sklearn import mean_parity_gap

    y, f, sex, race = data
    male = (sex == "male").astype(int)
    for enc in (
        sex,
        male,
        male.astype(bool),
        np.column_stack([1 - male, male]),
        pd.DataFrame({"sex": sex, "race": race}),
        np.column_stack([male, race]),
        race,
    ):
        codes = v.group_labels(enc)
        np.testing.assert_array_equal(encode_groups(enc)[0], codes)
        if not isinstance(enc, pd.DataFrame) and np.asarray(enc).dtype.kind in "biu":
            np.testing.assert_array_equal(group_codes(np.asarray(enc, dtype=float)), codes)
        means = [f[codes == g].mean() for g in range(codes.max() + 1)]  # brute force
        assert mean_parity_gap(None, f, sensitive_features=enc) == pytest.approx(
            max(means) - min(means), rel=1e-12
        )
        assert mean_prediction_difference(y, f, sensitive_features=enc) == pytest.approx(
            MetricFrame(
                metrics=mean_prediction, y_true=y, y_pred=f, sensitive_features=enc
            ).difference(),
            rel=1e-12,
        )
    assert (
        group_codes(np.random.default_rng(0).normal(size=(50, 1))) is None
    )  # continuous: no strata


def test_group_labels_names_and_attributes(data):
    from fairkl import _validation as v

    _, _, sex, race = data
    male = (sex == "male").astype(int)
    _, labels, attrs = v.group_labels(
        pd.DataFrame({"f": 1 - male, "m": male}), return_labels=True, return_attributes=True
    )
    assert labels == ["f", "m"] and attrs == ["group"]
    _, labels, attrs = v.group_labels(
        pd.Series(race, name="race"), return_labels=True, return_attributes=True
    )
    assert labels == [0, 1, 2] and all(type(x) is int for x in labels) and attrs == ["race"]
    _, labels, attrs = v.group_labels(
        np.column_stack([male, race]), "sf", return_labels=True, return_attributes=True
    )
    assert attrs == ["sf_0", "sf_1"] and labels[0] == (0, 0) and len(labels) == 6


def test_a_continuous_column_is_refused_inside_an_intersection(data):
    y, f, sex, _ = data
    age = np.random.default_rng(1).normal(40, 10, size=len(sex))
    with pytest.raises(ValueError, match=r"sensitive_features\['age'\] has non-integer values"):
        group_report(y, f, pd.DataFrame({"sex": sex, "age": age}))
    with pytest.raises(TypeError, match="mixes labels of different types"):
        mse_gap(y, f, sensitive_features=np.array([1, "a"] * (len(y) // 2), dtype=object))
