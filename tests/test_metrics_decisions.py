"""Decision metrics, ROC per group, threshold sweeps and group tables against references.

References: fairlearn (equalised odds, MetricFrame of TPR/FPR), scikit-learn's
``roc_curve``/``roc_auc_score`` applied per group by hand, brute-force loops over
thresholds calling the scalar metrics, and a hand-written bootstrap loop.
"""

import warnings

import fairlearn.metrics as flm  # test-only dependency
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from fairkl.metrics import (
    GroupROC,
    equal_opportunity_difference,
    equalized_odds_difference,
    error_rate,
    false_positive_rate_difference,
    group_auc,
    group_roc,
    group_table,
    intersect,
    statistical_parity_difference,
    threshold_sweep,
    true_positive_rate_difference,
)


def _data(n_groups: int, coding: str, seed: int = 0, n: int = 600):
    """Labels, a score that depends on the group, decisions at 0, string groups."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, size=n)
    y01 = rng.integers(0, 2, size=n)
    score = rng.normal(size=n) + 1.2 * y01 + 0.4 * g - 0.5
    d01 = (score >= 0).astype(int)
    groups = np.array([f"g{k}" for k in range(n_groups)])[g]
    if coding == "pm1":
        return 2 * y01 - 1, score, 2 * d01 - 1, groups
    return y01, score, d01, groups


CASES = [(G, c, s) for G in (2, 4) for c in ("01", "pm1") for s in (0, 1)]


@pytest.mark.parametrize("n_groups,coding,seed", CASES)
def test_equalized_odds_matches_fairlearn(n_groups, coding, seed):
    y, _, d, q = _data(n_groups, coding, seed)
    ours = equalized_odds_difference(y, d, sensitive_features=q)
    ref = flm.equalized_odds_difference(y, d, sensitive_features=q)
    assert ours == pytest.approx(ref, abs=1e-15)
    assert ours > 0.01  # the score depends on the group: the check is not 0 == 0


@pytest.mark.parametrize("n_groups,coding,seed", CASES)
def test_rate_differences_match_metricframe(n_groups, coding, seed):
    y, _, d, q = _data(n_groups, coding, seed)
    mf = flm.MetricFrame(
        metrics={"tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate},
        y_true=y,
        y_pred=d,
        sensitive_features=q,
    )
    diff = mf.difference()
    tpr = true_positive_rate_difference(y, d, sensitive_features=q)
    fpr = false_positive_rate_difference(y, d, sensitive_features=q)
    assert tpr == pytest.approx(diff["tpr"], abs=1e-15)
    assert fpr == pytest.approx(diff["fpr"], abs=1e-15)
    assert tpr == pytest.approx(equal_opportunity_difference(y, d, sensitive_features=q))
    assert equalized_odds_difference(y, d, sensitive_features=q) == max(tpr, fpr)


def test_brute_force_rates_with_intersections():
    """Two columns give intersectional groups; compare with a loop over distinct rows."""
    y, _, d, q = _data(2, "01", seed=3, n=800)
    other = np.random.default_rng(7).integers(0, 2, size=y.size)
    both = np.column_stack([q, other])
    tprs, fprs = [], []
    for key in {tuple(r) for r in both.tolist()}:
        rows = np.all(both == np.array(key, dtype=object), axis=1)
        tprs.append(d[rows & (y == 1)].mean())
        fprs.append(d[rows & (y == 0)].mean())
    assert len(tprs) == 4
    got = true_positive_rate_difference(y, d, sensitive_features=pd.DataFrame(both))
    assert got == pytest.approx(max(tprs) - min(tprs), abs=1e-15)
    got = false_positive_rate_difference(y, d, sensitive_features=intersect(q, other))
    assert got == pytest.approx(max(fprs) - min(fprs), abs=1e-15)


@pytest.mark.parametrize("n_groups,coding", [(2, "01"), (4, "pm1")])
def test_group_roc_matches_sklearn_per_group(n_groups, coding):
    y, s, _, q = _data(n_groups, coding, seed=2)
    s = np.round(s, 1)  # ties: thresholds must be the distinct scores
    rocs = group_roc(y, s, sensitive_features=q)
    assert list(rocs) == sorted(set(q.tolist()))
    for name, roc in rocs.items():
        rows = q == name
        fpr, tpr, thr = roc_curve(y[rows], s[rows], drop_intermediate=False)
        assert isinstance(roc, GroupROC)
        np.testing.assert_allclose(roc.fpr, fpr, rtol=0, atol=1e-15)
        np.testing.assert_allclose(roc.tpr, tpr, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(roc.thresholds, thr)
        assert roc.auc == pytest.approx(roc_auc_score(y[rows], s[rows]), abs=1e-14)
    aucs = group_auc(y, s, sensitive_features=q)
    assert aucs == {k: r.auc for k, r in rocs.items()}


def test_threshold_sweep_columns_match_brute_force_loop():
    y, s, _, q = _data(3, "pm1", seed=4)
    thresholds = [-1.0, -0.25, 0.0, 0.3, 1.1]
    table = threshold_sweep(y, s, sensitive_features=q, thresholds=thresholds)
    assert isinstance(table, pd.DataFrame) and len(table) == len(thresholds)
    for i, t in enumerate(thresholds):
        d = np.where(s >= t, 1, -1)
        row = table.iloc[i]
        kw = dict(sensitive_features=q)
        assert row["threshold"] == t
        assert row["error_rate"] == pytest.approx(error_rate(y, d), abs=1e-15)
        assert row["positive_rate"] == pytest.approx(np.mean(d == 1), abs=1e-15)
        for col, fn in [
            ("statistical_parity_difference", statistical_parity_difference),
            ("true_positive_rate_difference", true_positive_rate_difference),
            ("false_positive_rate_difference", false_positive_rate_difference),
            ("equalized_odds_difference", equalized_odds_difference),
        ]:
            assert row[col] == pytest.approx(fn(y, d, **kw), abs=1e-15), (t, col)


def test_threshold_sweep_default_grid():
    y, s, _, q = _data(2, "01", seed=5)
    table = threshold_sweep(y, s, sensitive_features=q)
    np.testing.assert_array_equal(
        table["threshold"], np.unique(np.quantile(s, np.linspace(0, 1, 51)))
    )
    # The smallest threshold makes every decision positive.
    assert table["positive_rate"].iloc[0] == 1.0
    assert table["true_positive_rate_difference"].iloc[0] == 0.0
    assert np.all(np.diff(table["positive_rate"]) <= 0)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda y, d, q: equalized_odds_difference(y, d[:-1], sensitive_features=q), "rows"),
        (lambda y, d, q: equalized_odds_difference(y, d, sensitive_features=q[:-1]), "rows"),
        (lambda y, d, q: equalized_odds_difference(y, d * 2, sensitive_features=q), "y_pred"),
        (lambda y, d, q: equalized_odds_difference(y + 5, d, sensitive_features=q), "y_true"),
        (
            lambda y, d, q: equalized_odds_difference(y, d, sensitive_features=np.zeros(y.size)),
            "at least 2 groups",
        ),
        (lambda y, d, q: group_roc(y, d + np.nan, sensitive_features=q), "y_score"),
        (lambda y, d, q: threshold_sweep(y, d, sensitive_features=q, thresholds=[np.nan]), "thr"),
    ],
)
def test_errors_name_the_argument(call, match):
    y, _, d, q = _data(2, "01")
    with pytest.raises(ValueError, match=match):
        call(y, d, q)


def test_undefined_rates_name_the_group():
    y = np.array([1, 1, 0, 0, 1, 1])
    d = np.array([1, 0, 0, 1, 1, 1])
    q = np.array(["a", "a", "a", "a", "b", "b"])  # group b has no negative label
    assert true_positive_rate_difference(y, d, sensitive_features=q) == 0.5
    with pytest.raises(
        ValueError, match=r"false-positive rate is undefined for group\(s\) \['b'\]"
    ):
        false_positive_rate_difference(y, d, sensitive_features=q)
    with pytest.raises(ValueError, match="'b'"):
        group_auc(y, d.astype(float), sensitive_features=q)


def test_intersect_labels():
    race = pd.Series(["White", "Black", "White"])
    sex = np.array(["Male", "Female", "Female"])
    out = intersect(race, sex)
    assert out.tolist() == ["White × Male", "Black × Female", "White × Female"]
    assert intersect(np.column_stack([race, sex]), sep="/").tolist()[0] == "White/Male"
    with pytest.raises(ValueError, match=r"columns\[1\] has 2 rows"):
        intersect(race, sex[:2])
    with pytest.raises(ValueError, match="missing"):
        intersect(race, np.array(["a", None, "b"], dtype=object))


def test_group_table_against_hand_bootstrap():
    y, _, d, q = _data(2, "01", seed=6, n=300)
    mets = {"err": error_rate, "pos": lambda a, b: float(np.mean(b))}
    table = group_table(
        y, d, sensitive_features=q, metrics=mets, n_boot=300, confidence=0.9, random_state=11
    )
    rng = np.random.default_rng(11)
    for g, name in enumerate(sorted(set(q.tolist()))):
        rows = np.flatnonzero(q == name)
        draws = rng.integers(0, rows.size, size=(300, rows.size))
        assert table["group"][g] == name and table["n"][g] == rows.size
        for key, fn in mets.items():
            assert table[key][g] == fn(y[rows], d[rows])
            boot = [fn(y[rows[b]], d[rows[b]]) for b in draws]
            lo, hi = np.percentile(boot, [5.0, 95.0])
            assert table[f"{key}_low"][g] == pytest.approx(lo, abs=1e-15)
            assert table[f"{key}_high"][g] == pytest.approx(hi, abs=1e-15)
            assert table[f"{key}_low"][g] < table[key][g] < table[f"{key}_high"][g]


def test_group_table_intersections_and_failures():
    y, _, d, q = _data(2, "01", seed=8, n=200)
    other = np.where(np.arange(200) < 6, "rare", "common")
    both = pd.DataFrame({"g": q, "h": other})
    tpr = lambda a, b: float(np.mean(b[a == 1])) if np.any(a == 1) else np.nan  # noqa: E731

    def strict_tpr(a, b):
        if not np.any(a == 1):
            raise ValueError("no positives")
        return float(np.mean(b[a == 1]))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = group_table(y, d, sensitive_features=both, metrics={"tpr": tpr}, n_boot=0)
    assert list(table.columns[:3]) == ["g", "h", "n"] and table["n"].sum() == 200
    assert table["tpr_low"].isna().all()
    small = y[:6].copy()
    small[:] = 0
    small[[0, 3]] = 1  # one positive per group of three: many resamples have none
    with pytest.warns(RuntimeWarning, match="undefined on"):
        group_table(
            small,
            d[:6],
            sensitive_features=np.array(["a", "a", "a", "b", "b", "b"]),
            metrics={"tpr": strict_tpr, "err": error_rate},
            n_boot=50,
        )
    with pytest.raises(TypeError, match="metrics"):
        group_table(y, d, sensitive_features=q, metrics={})
    with pytest.raises(ValueError, match="confidence"):
        group_table(y, d, sensitive_features=q, metrics={"e": error_rate}, confidence=1.0)
    with pytest.raises(ValueError, match="sensitive_features has 199 rows"):
        group_table(y, d, sensitive_features=q[:-1], metrics={"e": error_rate})
