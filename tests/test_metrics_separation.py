"""Separation measures against a brute-force NumPy implementation, with sanity and null checks.

The reference below builds its own RBF kernel matrices (double loop over
pairs), its own centring matrix H, its own median heuristic and its own
binning loop, and shares no code with fairkl.
"""

import numpy as np
import pandas as pd
import pytest

from fairkl.metrics import (
    ConditionalTestResult,
    conditional_dependence,
    conditional_independence_test,
)


def _median_distance(X):
    """Median of the non-zero pairwise distances over pairs i < j."""
    d = [np.linalg.norm(X[i] - X[j]) for i in range(len(X)) for j in range(i + 1, len(X))]
    d = np.array(d)
    return float(np.median(d[d > 1e-12]))


def _rbf(X, sigma):
    m = len(X)
    K = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            K[i, j] = np.exp(-np.sum((X[i] - X[j]) ** 2) / (2 * sigma**2))
    return K


def _reference(y, f, Q, n_bins, measure, sf=None, sq=None):
    F = f.reshape(-1, 1)
    Q = Q.reshape(len(Q), -1)
    sf = _median_distance(F) if sf is None else sf
    sq = _median_distance(Q) if sq is None else sq
    if len(set(y.tolist())) <= n_bins:
        bins = [y == value for value in sorted(set(y.tolist()))]
    else:
        e = np.quantile(y, np.linspace(0, 1, n_bins + 1))
        bins = []
        for k in range(n_bins):
            upper = y < e[k + 1] if k < n_bins - 1 else y <= e[k + 1]
            rows = (y >= e[k]) & upper
            if rows.any():
                bins.append(rows)
    total = 0.0
    for rows in bins:
        m = int(rows.sum())
        H = np.eye(m) - np.ones((m, m)) / m
        Kc = H @ _rbf(F[rows], sf) @ H
        Lc = H @ _rbf(Q[rows], sq) @ H
        hkl = np.trace(Kc @ Lc) / m**2
        if measure == "hsic":
            value = hkl
        else:
            value = hkl / np.sqrt(np.trace(Kc @ Kc) / m**2 * np.trace(Lc @ Lc) / m**2)
        total += m / len(y) * value
    return total


def _data(seed, n=120, dependent=False):
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 2, size=n).astype(float)
    y = q + rng.normal(size=n)
    f = y + 0.5 * rng.normal(size=n) + (q if dependent else 0.0)
    return y, f, q


@pytest.mark.parametrize("measure", ["cka", "hsic"])
@pytest.mark.parametrize("n_bins", [3, 5])
def test_matches_brute_force_binary_q(measure, n_bins):
    y, f, q = _data(0, dependent=True)
    got = conditional_dependence(y, f, sensitive_features=q, n_bins=n_bins, measure=measure)
    ref = _reference(y, f, q, n_bins, measure)
    assert got == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("measure", ["cka", "hsic"])
def test_matches_brute_force_continuous_and_label_q(measure):
    rng = np.random.default_rng(1)
    n = 90
    qc = rng.normal(size=(n, 2))
    y = qc[:, 0] + rng.normal(size=n)
    f = y + 0.3 * qc[:, 1] + 0.5 * rng.normal(size=n)
    got = conditional_dependence(y, f, sensitive_features=qc, n_bins=4, measure=measure)
    assert got == pytest.approx(_reference(y, f, qc, 4, measure), rel=1e-10)
    # String labels are one-hot encoded (columns in sorted label order).
    labels = np.array(["a", "b", "c"])[rng.integers(0, 3, size=n)]
    onehot = (labels[:, None] == np.array(["a", "b", "c"])).astype(float)
    got = conditional_dependence(
        y, f, sensitive_features=pd.Series(labels), n_bins=4, measure=measure
    )
    assert got == pytest.approx(_reference(y, f, onehot, 4, measure), rel=1e-10)
    got = conditional_dependence(
        y, f, sensitive_features=qc, measure=measure, sigma_pred=0.7, sigma_q=2.0
    )
    assert got == pytest.approx(_reference(y, f, qc, 5, measure, 0.7, 2.0), rel=1e-10)


def test_ties_and_discrete_targets_match_brute_force():
    rng = np.random.default_rng(2)
    n = 150
    q = rng.integers(0, 2, size=n)
    y_tied = np.round(rng.normal(size=n) + q, 0)  # a few values, many ties at the edges
    f = y_tied + rng.normal(size=n) + 0.5 * q
    ref = _reference(y_tied, f, q.astype(float), 3, "cka")
    got = conditional_dependence(y_tied, f, sensitive_features=q, n_bins=3)
    assert got == pytest.approx(ref, rel=1e-10)
    y_labels = rng.integers(0, 3, size=n).astype(float)  # 3 values <= n_bins: one bin each
    got = conditional_dependence(y_labels, f, sensitive_features=q, n_bins=5)
    assert got == pytest.approx(_reference(y_labels, f, q.astype(float), 5, "cka"), rel=1e-10)


def test_small_when_f_depends_on_q_only_through_y():
    """y = q + noise, f = y + noise: separation holds; f = y + q breaks it."""
    null, alt = [], []
    for seed in range(3):
        y, f, q = _data(seed, n=300)
        null.append(conditional_dependence(y, f, sensitive_features=q))
        y, f, q = _data(seed, n=300, dependent=True)
        alt.append(conditional_dependence(y, f, sensitive_features=q))
    # Measured: null 0.024-0.044 (residual confounding within bins), alternative 0.40-0.46.
    assert max(null) < 0.1 < 0.3 < min(alt), (null, alt)
    assert max(null) < min(alt) / 5


def test_permutation_null_matches_a_hand_loop():
    y, f, q = _data(3, n=60, dependent=True)
    res = conditional_independence_test(
        y, f, sensitive_features=q, n_bins=3, n_permutations=20, random_state=5
    )
    assert isinstance(res, ConditionalTestResult)
    stat, p = res
    assert stat == pytest.approx(_reference(y, f, q, 3, "cka"), rel=1e-10)
    rng = np.random.default_rng(5)
    e = np.quantile(y, np.linspace(0, 1, 4))[1:-1]
    b = np.searchsorted(e, y, side="right")
    perms = {k: rng.permuted(np.tile(np.arange(np.sum(b == k)), (20, 1)), axis=1) for k in range(3)}
    sf, sq = _median_distance(f.reshape(-1, 1)), _median_distance(q.reshape(-1, 1))
    for i in range(20):
        qp = q.copy()
        for k in range(3):
            rows = np.flatnonzero(b == k)
            qp[rows] = q[rows][perms[k][i]]
        want = _reference(y, f, qp, 3, "cka", sf, sq)
        assert res.null_distribution[i] == pytest.approx(want, rel=1e-10)
    assert p == (1 + np.sum(res.null_distribution >= stat)) / 21
    assert p == 1 / 21  # f = y + q: no permutation reaches the observed dependence
    assert res.bin_sizes.tolist() == np.bincount(b).tolist()
    for k in range(3):  # one bin alone: the reference with a single value of y
        rows = b == k
        want = _reference(np.zeros(rows.sum()), f[rows], q[rows], 1, "cka", sf, sq)
        assert res.bin_statistics[k] == pytest.approx(want, rel=1e-10)


def test_permutation_pvalue_roughly_uniform_under_exact_null():
    """Discrete y (5 values = the bins): within-bin permutation is exact under f ⟂ q | y."""
    pvals = []
    for s in range(200):
        rng = np.random.default_rng(100 + s)
        y = np.repeat(np.arange(5.0), 20)
        q = (rng.random(100) < 0.2 + 0.15 * y).astype(float)  # q depends on y
        f = y + rng.normal(size=100)
        res = conditional_independence_test(
            y, f, sensitive_features=q, n_permutations=99, random_state=s
        )
        pvals.append(res.pvalue)
    pvals = np.array(pvals)
    # Under the null P(p <= a) = a for a = k/100; 200 draws: binomial sd
    # sqrt(a(1-a)/200) = 0.021 at a = 0.1, 0.035 at a = 0.5; allow 3 sd.
    for a in (0.1, 0.5):
        sd = np.sqrt(a * (1 - a) / 200)
        assert abs(np.mean(pvals <= a) - a) < 3 * sd, (a, np.mean(pvals <= a))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(measure="mi"), ValueError, "measure"),
        (dict(n_bins=0), ValueError, "n_bins"),
        (dict(n_bins=40), ValueError, "n_bins=40 leaves a bin"),
        (dict(sigma_q=-1.0), ValueError, "sigma_q"),
    ],
)
def test_argument_errors(kwargs, error, match):
    y, f, q = _data(0)
    with pytest.raises(error, match=match):
        conditional_dependence(y, f, sensitive_features=q, **kwargs)


def test_data_errors_name_the_argument():
    y, f, q = _data(0)
    with pytest.raises(ValueError, match="y_true has 119 rows"):
        conditional_dependence(y[:-1], f, sensitive_features=q)
    with pytest.raises(ValueError, match="sensitive_features has 119 rows"):
        conditional_dependence(y, f, sensitive_features=q[:-1])
    with pytest.raises(ValueError, match="y_pred contains 1 NaN"):
        conditional_dependence(y, np.r_[f[:-1], np.nan], sensitive_features=q)
    with pytest.raises(ValueError, match="one value only"):
        conditional_dependence(y, f, sensitive_features=np.ones_like(q))
    with pytest.raises(ValueError, match="n_permutations"):
        conditional_independence_test(y, f, sensitive_features=q, n_permutations=0)


def test_large_bins_are_refused(monkeypatch):
    import fairkl.metrics.separation as sep

    monkeypatch.setattr(sep, "MAX_BIN_SIZE", 50)
    y, f, q = _data(0)  # 120 rows in 2 label bins of about 60
    with pytest.raises(ValueError, match="subsample"):
        conditional_dependence(np.sign(y), f, sensitive_features=q)
    assert conditional_dependence(y, f, sensitive_features=q, n_bins=5) >= 0.0
