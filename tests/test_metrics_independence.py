"""hsic_test against brute-force NumPy loops, an independent gamma formula, and its calibration."""

import numpy as np
import pytest
from scipy import stats

from fairkl.metrics import hsic_test
from fairkl.metrics import independence as ind
from tests.conftest import np_center, np_rbf


def np_median(X):
    """Median of the non-zero pairwise distances by explicit differences."""
    d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    return float(np.median(d[d > 0]))


def brute_force(a, b, n_perm, seed):
    """Observed biased HSIC, permuted statistics and p-value by an explicit NumPy loop."""
    A, B = a.reshape(len(a), -1), b.reshape(len(b), -1)
    n = len(A)
    sa, sb = np_median(A), np_median(B)
    Kc = np_center(np_rbf(A, A, sa))
    L = np_rbf(B, B, sb)
    t = np.trace(Kc @ np_center(L)) / n**2
    perms = np.random.default_rng(seed).permuted(np.tile(np.arange(n), (n_perm, 1)), axis=1)
    null = np.array([np.sum(Kc * L[p][:, p]) / n**2 for p in perms])
    p = (1 + np.sum(null >= t)) / (1 + n_perm)
    return t, null, p, sa, sb


def np_gamma_pvalue(a, b):
    """Gretton et al. (2008) gamma approximation, written out with explicit H and loops."""
    A, B = a.reshape(len(a), -1), b.reshape(len(b), -1)
    m = len(A)
    K, L = np_rbf(A, A, np_median(A)), np_rbf(B, B, np_median(B))
    H = np.eye(m) - np.ones((m, m)) / m
    Kc, Lc = H @ K @ H, H @ L @ H
    test_stat = np.sum(Kc * Lc) / m  # m * HSIC_b
    off = ~np.eye(m, dtype=bool)
    var = np.sum(((Kc * Lc / 6) ** 2)[off]) / (m * (m - 1))
    var = 72 * (m - 4) * (m - 5) / (m * (m - 1) * (m - 2) * (m - 3)) * var
    mu_x = K[off].sum() / (m * (m - 1))
    mu_y = L[off].sum() / (m * (m - 1))
    mean = (1 + mu_x * mu_y - mu_x - mu_y) / m
    alpha, beta = mean**2 / var, var * m / mean
    return 1 - stats.gamma.cdf(test_stat, alpha, scale=beta)


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((1,), (1,)), ((5,), (5,))],  # low-rank route; dense route (ranks too high to factor cheaply)
)
def test_permutation_matches_brute_force(shape_a, shape_b):
    rng = np.random.default_rng(1)
    n, B = 60, 150
    a = rng.normal(size=(n, *shape_a))
    b = 0.5 * a[:, :1] ** 2 + rng.normal(size=(n, *shape_b))
    t, null, p, sa, sb = brute_force(a, b, B, seed=7)
    res = hsic_test(a, b, n_permutations=B, random_state=7)
    assert res.sigma_a == pytest.approx(sa, rel=1e-12) and res.sigma_b == pytest.approx(
        sb, rel=1e-12
    )
    assert res.statistic == pytest.approx(t, rel=1e-10)
    np.testing.assert_allclose(res.null_distribution, null, rtol=1e-9, atol=1e-15)
    # No permuted value within rounding of the observed one, so the count is unambiguous.
    assert np.min(np.abs(null - t)) > 1e-8 * t
    assert res.pvalue == p
    assert res.method == "permutation" and res.n_permutations == B


def test_both_routes_are_taken():
    rng = np.random.default_rng(0)
    low = ind._pivoted_cholesky(rng.normal(size=(60, 1)), 1.0, ind.MAX_FACTOR_RANK)
    high = ind._pivoted_cholesky(rng.normal(size=(60, 5)), 1.0, ind.MAX_FACTOR_RANK)
    assert low.shape[1] ** 2 <= ind.LOWRANK_BUDGET * 60 < high.shape[1] ** 2


def test_group_labels_are_one_hot_encoded():
    rng = np.random.default_rng(2)
    g = rng.choice(np.array(["a", "b", "c"]), size=80)
    f = (g == "b") + rng.normal(size=80)
    onehot = (g[:, None] == np.array(["a", "b", "c"])).astype(float)
    t, null, p, _, _ = brute_force(f, onehot, 100, seed=3)
    res = hsic_test(f, g, n_permutations=100, random_state=3)
    assert res.statistic == pytest.approx(t, rel=1e-10)
    np.testing.assert_allclose(res.null_distribution, null, rtol=1e-9, atol=1e-15)
    assert res.pvalue == p


def test_ties_of_discrete_data_are_counted():
    # Binary decisions vs binary groups: T depends only on the 2x2 table, so many
    # permutations tie exactly with the observed value; rounding must not decide.
    rng = np.random.default_rng(6)
    g = rng.integers(0, 2, size=40)
    d = np.where(rng.random(40) < 0.5 + 0.1 * g, 1.0, -1.0)
    t, null, _, _, _ = brute_force(d, g.astype(float), 300, seed=2)
    ties = np.isclose(null, t, rtol=1e-9, atol=0)
    assert ties.sum() > 5  # the case is really about ties
    p = (1 + np.sum((null > t) | ties)) / 301
    assert hsic_test(d, g, n_permutations=300, random_state=2).pvalue == p


def test_gamma_matches_independent_formula():
    rng = np.random.default_rng(3)
    for n in (30, 120):
        a = rng.normal(size=n)
        b = np.sin(a) + rng.normal(size=n)
        res = hsic_test(a, b, method="gamma")
        assert res.pvalue == pytest.approx(np_gamma_pvalue(a, b), rel=1e-9, abs=1e-14)
        assert res.n_permutations is None and res.null_distribution is None


@pytest.mark.parametrize("method, n", [("permutation", 40), ("gamma", 60)])
def test_pvalues_uniform_under_independence(method, n):
    seeds = range(200)
    pvals = []
    for s in seeds:
        rng = np.random.default_rng(1000 + s)
        pvals.append(
            hsic_test(
                rng.normal(size=n),
                rng.normal(size=n),
                method=method,
                n_permutations=199,
                random_state=s,
            ).pvalue
        )
    pvals = np.array(pvals)
    assert stats.kstest(pvals, "uniform").pvalue > 0.01
    lo, hi = stats.binom.interval(0.999, len(pvals), 0.05)
    assert lo <= np.sum(pvals <= 0.05) <= hi


@pytest.mark.parametrize("method", ["permutation", "gamma"])
def test_power_under_dependence(method):
    # y = x^2 + noise: uncorrelated with x, yet dependent; power -> 1 with n.
    rejections = {}
    for n in (20, 150):
        hits = 0
        for s in range(20):
            rng = np.random.default_rng(s)
            x = rng.normal(size=n)
            res = hsic_test(
                x,
                x**2 + 0.5 * rng.normal(size=n),
                method=method,
                n_permutations=199,
                random_state=s,
            )
            hits += res.pvalue <= 0.05
        rejections[n] = hits
    assert rejections[150] == 20
    assert rejections[20] < rejections[150]


@pytest.mark.parametrize("method", ["permutation", "gamma"])
def test_constant_input_gives_zero_and_one(method):
    rng = np.random.default_rng(0)
    for a, b in (
        (np.full(30, 2.5), rng.normal(size=30)),
        (rng.normal(size=(30, 2)), np.ones((30, 3))),
    ):
        res = hsic_test(a, b, method=method, n_permutations=50, random_state=0)
        statistic, pvalue = res
        assert (statistic, pvalue) == (0.0, 1.0)


def test_permutation_constant_rule_matches_brute_force_count():
    # The documented rule (statistic 0, p = 1) is what the permutation formula gives.
    rng = np.random.default_rng(0)
    b = rng.normal(size=20)
    Kc = np.zeros((20, 20))  # centred kernel of a constant
    L = np_rbf(b[:, None], b[:, None], np_median(b[:, None]))
    null = np.array(
        [np.sum(Kc * L[p][:, p]) for p in rng.permuted(np.tile(np.arange(20), (9, 1)), axis=1)]
    )
    assert (1 + np.sum(null >= 0.0)) / 10 == hsic_test(np.zeros(20), b, n_permutations=9).pvalue


def test_given_bandwidths_are_used():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=50), rng.normal(size=50)
    res = hsic_test(a, b, sigma_a=0.7, sigma_b=2.0, n_permutations=20, random_state=0)
    Kc = np_center(np_rbf(a[:, None], a[:, None], 0.7))
    L = np_rbf(b[:, None], b[:, None], 2.0)
    assert (res.sigma_a, res.sigma_b) == (0.7, 2.0)
    assert res.statistic == pytest.approx(np.sum(Kc * L) / 50**2, rel=1e-10)


def test_random_state_reproducible_and_randomstate_accepted():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=40), rng.normal(size=40)
    r1 = hsic_test(a, b, n_permutations=30, random_state=11)
    r2 = hsic_test(a, b, n_permutations=30, random_state=np.random.default_rng(11))
    np.testing.assert_array_equal(r1.null_distribution, r2.null_distribution)
    r3 = hsic_test(a, b, n_permutations=30, random_state=np.random.RandomState(0))
    assert 0 < r3.pvalue <= 1
    with pytest.raises(TypeError, match="random_state must be"):
        hsic_test(a, b, n_permutations=30, random_state="seed")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(a=np.arange(10.0), b=np.arange(9.0)), "same number of rows"),
        (dict(a=np.r_[np.arange(9.0), np.nan], b=np.arange(10.0)), "NaN"),
        (dict(a=np.arange(3.0), b=np.arange(3.0)), "at least 4"),
        (dict(a=np.arange(5.0), b=np.arange(5.0), method="gamma"), "at least 6"),
        (dict(a=np.arange(10.0), b=np.arange(10.0), method="exact"), "method must be one of"),
        (
            dict(a=np.arange(10.0), b=np.arange(10.0), n_permutations=0),
            "n_permutations must be >= 1",
        ),
        (dict(a=np.arange(10.0), b=np.arange(10.0), sigma_a=-1.0), "sigma_a must be > 0"),
        (dict(a=np.zeros((10, 2, 2)), b=np.arange(10.0)), "1-D or 2-D"),
    ],
)
def test_bad_input_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hsic_test(**kwargs)
