"""The fit pipeline, the sensitive-kernel object, the yardstick and the selection rule, against independent references."""

import inspect

import numpy as np
import pytest
from keras import ops
from sklearn.kernel_ridge import KernelRidge

from fairkl import FairKernelRidge, FairKernelRidgeRegressor, solvers
from fairkl.datasets import make_seed_data
from fairkl.metrics.selection import best_within_budget
from fairkl.metrics.yardstick import Yardstick
from fairkl.pipeline import FitConfig, predict_batch, prepare, solve, solve_batch, target_scale
from fairkl.sensitive import SensitiveKernel, group_codes
from tests.conftest import np_center, np_rbf


@pytest.fixture(scope="module")
def data():
    X, y, q = make_seed_data(n=80, seed=2)
    return X, y, q


def np_median_distance(A):
    d = np.sqrt(((A[:, None, :] - A[None, :, :]) ** 2).sum(-1))
    off = d[~np.eye(len(A), dtype=bool)]
    return np.median(off[off > 0])


def test_config_is_validated_once_and_frozen():
    with pytest.raises(TypeError, match="mu must be a real number; got None"):
        FitConfig(mu=None)
    with pytest.raises(ValueError, match="penalty must be one of"):
        FitConfig(penalty="l2")
    with pytest.raises(ValueError, match="kernel must be one of \\['rbf'\\]"):
        FitConfig(kernel="laplace")
    cfg = FitConfig(sigma=2)
    assert cfg.sigma == 2.0 and isinstance(cfg.sigma, float)
    with pytest.raises(AttributeError):
        cfg.sigma = 3.0


def test_prepare_centres_scales_and_resolves_bandwidths(data):
    X, y, q = data
    p = prepare(X + 1e4, y, q, FitConfig(mu=1.0))
    np.testing.assert_allclose(p.X_offset, X.mean(0) + 1e4, rtol=1e-14)
    np.testing.assert_allclose(p.X, X - X.mean(0), atol=1e-10)
    assert p.y_scale == pytest.approx(np.std(y), rel=1e-14)
    assert p.sensitive.sigma == pytest.approx(np_median_distance(q), rel=1e-12)
    assert p.sigma_f == pytest.approx(np_median_distance((y / np.std(y))[:, None]), rel=1e-12)


def test_prepare_takes_penalised_explicitly_no_made_up_mu(data):
    """penalised=True prepares q as a fit with mu > 0 does, whatever config.mu (issue 20)."""
    X, y, q = data
    p = prepare(X, y, q, FitConfig(), penalised=True)  # mu = 0 in the config
    assert p.penalised
    assert p.sensitive.sigma == pytest.approx(np_median_distance(q), rel=1e-12)
    assert p.sigma_f == pytest.approx(np_median_distance((y / np.std(y))[:, None]), rel=1e-12)
    off = prepare(X, y, q, FitConfig(mu=1.0), penalised=False)
    assert not off.penalised and np.isnan(off.sigma_f)
    with pytest.raises(
        ValueError, match=r"q \(the sensitive attribute\) is required for a penalised"
    ):
        prepare(X, y, None, FitConfig(), penalised=True)
    with pytest.warns(UserWarning, match="q is constant"):
        assert not prepare(X, y, np.ones(len(y)), FitConfig(), penalised=True).penalised


def test_one_target_scale_rule_including_constant_targets():
    assert target_scale(np.array([1.0, 2.0, 3.0])) == pytest.approx(np.std([1.0, 2.0, 3.0]))
    assert target_scale(np.full(5, -4.0)) == 4.0
    assert target_scale(np.zeros(5)) == 1.0


def test_solve_at_mu_zero_is_kernel_ridge(data):
    X, y, q = data
    cfg = FitConfig(sigma=0.8, lam=1e-2, dtype="float64")
    p = prepare(X, y, q, cfg)
    alpha = np.asarray(solve(p, cfg).alpha) * p.y_scale
    ref = KernelRidge(kernel="rbf", gamma=1 / (2 * 0.8**2), alpha=1e-2).fit(X, y)
    np.testing.assert_allclose(alpha, ref.dual_coef_, rtol=1e-8, atol=1e-10)


def test_solve_batch_equals_separate_fits(data):
    X, y, q = data
    Xv = X[:10] + 0.1
    cfg = FitConfig(mu=1.0, penalty="cka", dtype="float64")
    p = prepare(X, y, q, cfg)
    settings = [(0.7, 1e-2, 2.0, np.nan, 0.01, 200), (1.5, 1e-1, 0.5, 0.8, 0.05, 150)]
    cols = [np.array(c) for c in zip(*settings, strict=False)]
    res = solve_batch(
        p,
        cfg,
        sigmas=cols[0],
        lams=cols[1],
        mus=cols[2],
        sigma_qs=cols[3],
        lrs=cols[4],
        epochs=cols[5].astype(int),
    )
    preds = predict_batch(p, Xv, res.alpha, cols[0], cfg)
    for k, (sigma, lam, mu, sq, lr, ep) in enumerate(settings):
        m = FairKernelRidge(sigma, lam, mu, None if np.isnan(sq) else sq, dtype="float64")
        m.fit(X, y, q=q, epochs=int(ep), lr=lr)
        np.testing.assert_allclose(preds[k], m.predict(Xv), rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match="lr must be in"):
        solve_batch(
            p, cfg, sigmas=[1.0], lams=[0.1], mus=[1.0], sigma_qs=[1.0], lrs=[2.0], epochs=[10]
        )
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        solve_batch(
            p, cfg, sigmas=[1.0], lams=[0.1], mus=[1.0], sigma_qs=[1.0], lrs=[0.1], epochs=[0]
        )


def test_sensitive_kernel_object_against_numpy(data):
    _, _, q = data
    k = SensitiveKernel("rbf").resolve(q)
    assert k.sigma == pytest.approx(np_median_distance(q), rel=1e-12)
    np.testing.assert_allclose(
        np.asarray(k.centered(q)), np_center(np_rbf(q, q, k.sigma)), atol=1e-12
    )
    B, rank, residual = k.factor(q, 1e-13)
    np.testing.assert_allclose(
        np.asarray(B) @ np.asarray(B).T, np_center(np_rbf(q, q, k.sigma)), atol=1e-6
    )
    lin = SensitiveKernel("linear")
    qs = lin.prepare(3.0 * q + 7.0)
    np.testing.assert_allclose(qs, (q - q.mean(0)) / q.std(0), atol=1e-12)
    assert np.isnan(lin.resolve(qs).sigma)
    with pytest.raises(ValueError, match="kernel_q must be one of"):
        SensitiveKernel("poly")


def test_group_codes():
    assert group_codes(np.eye(3)[[0, 1, 2, 1]]).tolist() == [
        0,
        1,
        2,
        1,
    ]  # one-hot: the column of the 1 (group_labels)
    assert group_codes(np.array([[0.5], [1.0]])) is None


def test_yardstick_against_numpy(data):
    X, y, q = data
    ruler = Yardstick.from_data(y, q)
    assert ruler.sigma_pred == pytest.approx(np_median_distance(y[:, None]), rel=1e-12)
    F = np.stack([y + np.random.default_rng(s).normal(size=len(y)) for s in range(3)])
    L = np_center(np_rbf(q, q, ruler.sigma_q))
    for f, got_cka, got_hsic in zip(
        F, ruler.score_rows(F, q), ruler.score_rows(F, q, "hsic"), strict=False
    ):
        K = np_center(np_rbf(f[:, None], f[:, None], ruler.sigma_pred))
        assert got_cka == pytest.approx(
            np.sum(K * L) / np.sqrt(np.sum(K * K) * np.sum(L * L)), rel=1e-10
        )
        assert got_hsic == pytest.approx(np.sum(K * L) / len(y) ** 2, rel=1e-10)
    assert ruler.score(F[0], q) == pytest.approx(ruler.score_rows(F, q)[0], rel=1e-14)
    assert ruler.score(np.full(len(y), 3.0), q) == 0.0  # a constant predictor is independent of q


def test_best_within_budget_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(50):
        err, unf = rng.uniform(size=12), rng.uniform(size=12)
        unf[rng.integers(12)] = np.nan
        budget = rng.uniform(0, 0.5)
        ok = [i for i in range(12) if unf[i] <= budget]
        expected = min(ok, key=lambda i: err[i]) if ok else int(np.nanargmin(unf))
        assert best_within_budget(err, unf, budget) == expected


def test_regressor_and_model_parameters_stay_in_sync():
    model = inspect.signature(FairKernelRidge.__init__).parameters
    fit = inspect.signature(FairKernelRidge.fit).parameters
    reg = inspect.signature(FairKernelRidgeRegressor.__init__).parameters
    expected = {k: p.default for k, p in model.items() if k not in ("self", "kwargs")}
    expected.update({k: fit[k].default for k in ("epochs", "lr")})
    got = {k: p.default for k, p in reg.items() if k != "self"}
    assert set(got) == set(expected)
    differences = {k for k in got if got[k] != expected[k]}
    assert differences == {
        "dtype"
    }  # documented: scikit-learn computes in float64, Keras in float32
    config_fields = set(inspect.signature(FitConfig).parameters) - {"kernel"}
    assert config_fields == set(got)


def laplace_kernel(A, B=None, sigma=1.0):
    """exp(-||a - b|| / sigma), a kernel on X that fairkl does not ship."""
    B = A if B is None else B
    d2 = ops.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=-1)
    return ops.exp(-ops.sqrt(d2 + 1e-300) / sigma)


def test_a_kernel_on_x_is_one_registry_entry(data, monkeypatch):
    X, y, _ = data
    monkeypatch.setitem(solvers.X_KERNELS, "laplace", laplace_kernel)
    cfg = FitConfig(sigma=0.9, lam=1e-2, dtype="float64", kernel="laplace")
    p = prepare(X, y, None, cfg)
    alpha = np.asarray(solve(p, cfg).alpha) * p.y_scale
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    np.testing.assert_allclose(
        alpha, np.linalg.solve(np.exp(-D / 0.9) + 1e-2 * np.eye(len(y)), y), rtol=1e-6, atol=1e-8
    )


def test_regressor_forwards_the_low_rank_parameters(data):
    X, y, q = data
    kw = dict(
        sigma=0.9,
        lam=1e-2,
        mu=2.0,
        penalty="hsic",
        n_components=20,
        landmarks="pivoted_cholesky",
        random_state=4,
    )
    reg = FairKernelRidgeRegressor(**kw).fit(X, y, sensitive_features=q)
    model = FairKernelRidge(dtype="float64", **kw).fit(X, y, q=q)
    assert reg.model_.X_fit_.shape == (20, X.shape[1])
    np.testing.assert_array_equal(reg.predict(X), model.predict(X))
    with pytest.raises(ValueError, match="solve_batch runs the exact model only"):
        cfg = FitConfig(mu=1.0, n_components=10)
        solve_batch(
            prepare(X, y, q, cfg),
            cfg,
            sigmas=[1.0],
            lams=[1e-2],
            mus=[1.0],
            sigma_qs=[np.nan],
            lrs=[0.01],
            epochs=[10],
        )
