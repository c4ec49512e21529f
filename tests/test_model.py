"""FairKernelRidge end to end: references, invariances, convergence, persistence."""

import warnings

import keras
import numpy as np
import pytest
from scipy.linalg import LinAlgWarning
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_ridge import KernelRidge

from fairkl import FairKernelRidge
from fairkl.dependence import cka_rbf
from fairkl.kernels import median_heuristic
from tests.conftest import np_center, np_rbf


def heldout_cka(pred, q, sigma_f, sigma_q):
    """One fixed yardstick: bandwidths from the training data, not from each model."""
    return float(cka_rbf(pred, q, sigma_a=sigma_f, sigma_b=sigma_q))


@pytest.mark.parametrize("sigma,lam", [(0.5, 1e-3), (1.0, 1e-2), (3.0, 1.0)])
@pytest.mark.parametrize("penalty", ["cka", "hsic"])
def test_mu_zero_equals_sklearn_kernel_ridge(seed_data, sigma, lam, penalty):
    X, y, q, Xt, _, _ = seed_data
    model = FairKernelRidge(sigma, lam, 0.0, penalty=penalty, dtype="float64").fit(X, y, q=q)
    ref = KernelRidge(kernel="rbf", gamma=1 / (2 * sigma**2), alpha=lam).fit(X, y)
    for A in (X, Xt):
        expected = ref.predict(A)
        np.testing.assert_allclose(
            model.predict(A), expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max()
        )


def test_hsic_fit_equals_dense_solve_of_fkl_system(seed_data):
    X, y, q, Xt, _, _ = seed_data
    n, sigma, lam, mu = len(y), 1.0, 1e-2, 4.0
    model = FairKernelRidge(sigma, lam, mu, penalty="hsic", dtype="float64").fit(X, y, q=q)
    K = np_rbf(X, X, sigma)
    sq = float(median_heuristic(q))
    assert model.sigma_q_ == pytest.approx(sq)
    Lc = np_center(np_rbf(q, q, sq))
    s = y.std()
    alpha = np.linalg.solve(K + lam * np.eye(n) + mu / n * Lc @ K, y / s)
    np.testing.assert_allclose(
        model.predict(Xt), s * np_rbf(Xt, X, sigma) @ alpha, rtol=1e-8, atol=1e-8
    )


def test_float32_and_float64_agree(seed_data):
    X, y, q, Xt, _, _ = seed_data
    fit = lambda dtype, penalty: FairKernelRidge(1.0, 1e-2, 3.0, penalty=penalty, dtype=dtype).fit(
        X, y, q=q
    )  # noqa: E731
    # Closed form: the float32 solve is float32-accurate.
    p64, p32 = fit("float64", "hsic").predict(Xt), fit("float32", "hsic").predict(Xt)
    assert p32.dtype == np.float32
    np.testing.assert_allclose(p32, p64, rtol=0, atol=1e-4 * np.abs(p64).max())
    # Iterative: the CKA objective is flat along some directions, so float32
    # lands within float32 noise of the float64 optimum *in objective value*;
    # the predictions agree to a few percent.
    m64, m32 = fit("float64", "cka"), fit("float32", "cka")
    assert m32.sigma_f_ == pytest.approx(m64.sigma_f_, rel=1e-6)
    assert m32.sigma_q_ == pytest.approx(m64.sigma_q_, rel=1e-6)
    j64 = lambda model: cka_objective_np(model, X, y, q, model.alpha_.astype(np.float64))  # noqa: E731
    assert j64(m32) == pytest.approx(j64(m64), rel=1e-4)
    assert j64(m64) <= j64(m32) + 1e-9
    np.testing.assert_allclose(
        m32.predict(Xt), m64.predict(Xt), rtol=0, atol=5e-2 * np.abs(m64.predict(Xt)).max()
    )


def test_fit_tends_to_unpenalised_fit_as_mu_vanishes(seed_data):
    X, y, q, Xt, _, _ = seed_data
    base = FairKernelRidge(1.0, 1e-2, 0.0, dtype="float64").fit(X, y).predict(Xt)
    gaps = []
    for mu in (1e-2, 1e-4, 1e-6):
        p = FairKernelRidge(1.0, 1e-2, mu, dtype="float64").fit(X, y, q=q).predict(Xt)
        gaps.append(np.abs(p - base).max())
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 1e-4 * np.abs(base).max()


@pytest.mark.parametrize("penalty", ["cka", "hsic"])
def test_heldout_dependence_falls_as_mu_grows(seed_data, penalty):
    X, y, q, Xt, yt, qt = seed_data
    sf, sq = float(median_heuristic(y[:, None])), float(median_heuristic(q))
    deps, mses = [], []
    for mu in (0.0, 1.0, 5.0, 20.0):
        pred = (
            FairKernelRidge(1.0, 1e-2, mu, penalty=penalty, dtype="float64")
            .fit(X, y, q=q)
            .predict(Xt)
        )
        deps.append(heldout_cka(pred, qt, sf, sq))
        mses.append(np.mean((pred - yt) ** 2))
    assert deps[-1] < 0.5 * deps[0]
    assert all(b <= a + 0.05 for a, b in zip(deps, deps[1:], strict=False))
    assert mses[-1] > mses[0]  # fairness costs accuracy here: y = sin(x) + 3q


@pytest.mark.parametrize("penalty", ["cka", "hsic"])
def test_invariant_to_units_of_y_and_q(seed_data, penalty):
    X, y, q, Xt, _, qt = seed_data
    m1 = FairKernelRidge(1.0, 1e-2, 5.0, penalty=penalty, dtype="float64").fit(X, y, q=q)
    m2 = FairKernelRidge(1.0, 1e-2, 5.0, penalty=penalty, dtype="float64").fit(
        X, 1000 * y, q=0.01 * q
    )
    p1, p2 = m1.predict(Xt), m2.predict(Xt)
    np.testing.assert_allclose(p2, 1000 * p1, rtol=1e-6, atol=1e-6 * np.abs(1000 * p1).max())
    assert float(cka_rbf(p2, 0.01 * qt)) == pytest.approx(float(cka_rbf(p1, qt)), rel=1e-6)
    assert m2.objective_ == pytest.approx(m1.objective_, rel=1e-6)


def test_linear_kernel_on_q_is_unit_invariant(seed_data):
    X, y, q, Xt, _, _ = seed_data
    p1 = (
        FairKernelRidge(1.0, 1e-2, 5.0, penalty="hsic", kernel_q="linear", dtype="float64")
        .fit(X, y, q=q)
        .predict(Xt)
    )
    p2 = (
        FairKernelRidge(1.0, 1e-2, 5.0, penalty="hsic", kernel_q="linear", dtype="float64")
        .fit(X, y, q=50 * q + 3)
        .predict(Xt)
    )
    np.testing.assert_allclose(p1, p2, rtol=1e-8, atol=1e-8)


CORNERS = [(s, lam, lr) for s in (0.1, 5.0) for lam in (1e-4, 1.0) for lr in (1e-3, 0.05)]


@pytest.mark.parametrize("sigma,lam,lr", CORNERS)
@pytest.mark.parametrize("sigma_q", [None, 1.0, 5.0])
def test_cka_solver_converges_on_the_seed_search_space(seed_data, sigma, lam, lr, sigma_q):
    X, y, q, Xt, _, _ = seed_data
    for mu in (1.0, 20.0):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            warnings.simplefilter(
                "ignore", LinAlgWarning
            )  # float32 at lam=1e-4: expected, tested elsewhere
            model = FairKernelRidge(sigma, lam, mu, sigma_q=sigma_q).fit(
                X, y, q=q, epochs=300, lr=lr
            )
        assert model.converged_
        assert np.all(np.isfinite(model.predict(Xt)))
        # Never worse than its warm start (the mu = 0 solution), measured independently.
        assert model.objective_ <= objective_of_warm_start(model, X, y, q) + 1e-6


def cka_objective_np(model, X, y, q, alpha):
    """J(alpha) for a fitted CKA model, from the documented formula in NumPy (float64)."""
    n = len(y)
    K = np_rbf(X, X, model.sigma)
    ys = y / y.std()
    f = K @ alpha
    Kf = np_rbf(f[:, None], f[:, None], model.sigma_f_ / y.std())
    L = np_rbf(q, q, model.sigma_q_)
    h = lambda A, B: np.trace(np_center(A) @ np_center(B))  # noqa: E731
    D = h(Kf, L) / np.sqrt(h(Kf, Kf) * h(L, L))
    return (np.sum((ys - f) ** 2) + model.lam * alpha @ f) / n + model.mu * D


def objective_of_warm_start(model, X, y, q):
    alpha0 = np.linalg.solve(np_rbf(X, X, model.sigma) + model.lam * np.eye(len(y)), y / y.std())
    return cka_objective_np(model, X, y, q, alpha0)


def test_collapsing_predictions_are_flagged_with_an_explanation(seed_data):
    # sigma_q far below the spread of q (sd 1) with a strong penalty: J keeps
    # decreasing as the predictions shrink to a constant; there is no minimiser.
    X, y, q, *_ = seed_data
    with pytest.warns(ConvergenceWarning, match="collapsing towards a constant"):
        model = FairKernelRidge(5.0, 1.0, 20.0, sigma_q=0.1, dtype="float64").fit(X, y, q=q)
    assert model.converged_ is False and np.all(np.isfinite(model.alpha_))


def test_non_convergence_is_flagged_and_warned(seed_data):
    X, y, q, *_ = seed_data
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = FairKernelRidge(1.0, 1e-2, 20.0).fit(X, y, q=q, epochs=2)
    assert model.converged_ is False
    assert np.all(np.isfinite(model.alpha_))


@pytest.mark.parametrize("penalty,mu", [("cka", 0.0), ("hsic", 1.0), ("cka", 1.0)])
def test_ill_conditioned_system_warns(seed_data, penalty, mu):
    X, y, q, *_ = seed_data
    with pytest.warns(LinAlgWarning, match="ill-conditioned .* Increase lam"):
        model = FairKernelRidge(1.0, 0.0, mu, penalty=penalty, dtype="float64").fit(X, y, q=q)
    assert model.condition_ > 1e14
    with warnings.catch_warnings():
        warnings.simplefilter("error", LinAlgWarning)
        FairKernelRidge(1.0, 1e-4, mu, penalty=penalty, dtype="float64").fit(X, y, q=q)


def test_refit_replaces_state(seed_data):
    X, y, q, Xt, _, _ = seed_data
    model = FairKernelRidge(1.0, 1e-2, 2.0)
    model.fit(X[:60], y[:60], q=q[:60])
    assert model.alpha_.shape == (60,)
    model.fit(X, y, q=q)
    fresh = FairKernelRidge(1.0, 1e-2, 2.0).fit(X, y, q=q)
    assert model.alpha_.shape == (150,)
    np.testing.assert_array_equal(model.predict(Xt), fresh.predict(Xt))
    assert model.weights == []  # nothing accumulates in Keras' weight lists


def test_config_round_trip():
    model = FairKernelRidge(
        0.7, 1e-3, 2.0, sigma_q=0.4, penalty="hsic", kernel_q="rbf", dtype="float64", name="m"
    )
    clone = FairKernelRidge.from_config(model.get_config())
    assert clone.get_config() == model.get_config()


@pytest.mark.parametrize("penalty", ["cka", "hsic"])
def test_save_and_load_round_trip(seed_data, tmp_path, penalty):
    X, y, q, Xt, _, _ = seed_data
    model = FairKernelRidge(0.8, 1e-3, 3.0, penalty=penalty).fit(X, y, q=q)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects: fairkl registers the class
    assert isinstance(loaded, FairKernelRidge)
    np.testing.assert_array_equal(loaded.predict(Xt), model.predict(Xt))
    assert loaded.get_config() == model.get_config()
    for attr in ("y_scale_", "sigma_q_", "n_iter_", "converged_", "n_features_in_"):
        assert getattr(loaded, attr) == getattr(model, attr)


def test_unfitted_model_saves_and_loads_unfitted(tmp_path):
    path = tmp_path / "m.keras"
    FairKernelRidge(2.0).save(path)
    loaded = keras.models.load_model(path)
    assert loaded.sigma == 2.0 and not loaded.is_fitted


def test_calling_the_model_equals_predict(seed_data):
    X, y, q, Xt, _, _ = seed_data
    model = FairKernelRidge(1.0, 1e-2, 1.0).fit(X, y, q=q)
    np.testing.assert_allclose(np.asarray(model(Xt)), model.predict(Xt), rtol=1e-6)


def test_large_predict_is_chunked_correctly(seed_data):
    X, y, q, *_ = seed_data
    model = FairKernelRidge(1.0, 1e-2, dtype="float64").fit(X, y)
    big = np.random.default_rng(0).uniform(-3, 3, size=(5000, 2))
    ref = KernelRidge(kernel="rbf", gamma=0.5, alpha=1e-2).fit(X, y).predict(big)
    np.testing.assert_allclose(model.predict(big), ref, rtol=1e-8, atol=1e-8)


def test_mu_path_model_method_equals_separate_fits(seed_data):
    X, y, q, Xt, _, _ = seed_data
    mus = np.array([0.0, 0.5, 5.0, 50.0])
    path = FairKernelRidge(1.0, 1e-2, dtype="float64").mu_path(X, y, q, mus)
    assert path.residual < 1e-13
    preds = path.predict(Xt)
    for mu, p in zip(mus, preds, strict=False):
        ref = (
            FairKernelRidge(1.0, 1e-2, mu, penalty="hsic", dtype="float64")
            .fit(X, y, q=q)
            .predict(Xt)
        )
        np.testing.assert_allclose(p, ref, rtol=1e-7, atol=1e-7 * np.abs(ref).max())


def test_constant_q_gives_unpenalised_fit_with_warning(seed_data):
    X, y, _, Xt, _, _ = seed_data
    base = FairKernelRidge(1.0, 1e-2, dtype="float64").fit(X, y).predict(Xt)
    for penalty in ("cka", "hsic"):
        with pytest.warns(UserWarning, match="q is constant"):
            m = FairKernelRidge(1.0, 1e-2, 5.0, penalty=penalty, dtype="float64").fit(
                X, y, q=np.ones(len(y))
            )
        np.testing.assert_allclose(m.predict(Xt), base, rtol=1e-8, atol=1e-8)


def test_constant_predictions_have_zero_dependence(seed_data):
    X, _, q, Xt, _, qt = seed_data
    y0 = np.full(len(X), 2.5)
    m = FairKernelRidge(1.0, 1e-2, 5.0, dtype="float64").fit(X, y0, q=q, epochs=5000)
    assert m.converged_ and np.isfinite(m.objective_)
    assert np.all(np.isfinite(m.predict(Xt)))
    assert float(cka_rbf(np.full(len(Xt), 1.0), qt)) == 0.0


# ----------------------------------------------------------------- low rank
@pytest.mark.parametrize("penalty,mu", [("hsic", 0.0), ("hsic", 4.0), ("cka", 2.0)])
def test_low_rank_model_with_every_point_a_landmark_equals_exact_model(seed_data, penalty, mu):
    X, y, q, Xt, _, _ = seed_data
    kw = dict(penalty=penalty, dtype="float64", tol=1e-14)
    # sigma = 0.5 keeps K's spectrum within ~1e-11 of its top: the Nystrom map's K^(-1/2)
    # then loses only rounding (at sigma = 1 the eigh error on the tiny eigenvalues shows at 1e-6).
    exact = FairKernelRidge(0.5, 1e-2, mu, **kw).fit(X, y, q=q, epochs=1000)
    low = FairKernelRidge(0.5, 1e-2, mu, n_components=len(y), **kw).fit(X, y, q=q, epochs=1000)
    np.testing.assert_allclose(np.sort(low.X_fit_[:, 0]), np.sort(exact.X_fit_[:, 0]), rtol=1e-14)
    ref = exact.predict(Xt)
    # Closed forms: rounding (and the eigenvalues of K below 1e-12 max that the Nystrom
    # map drops). CKA: the prediction kernel by 64 Gauss-Hermite features.
    tol = 1e-7 if penalty == "hsic" else 1e-5
    np.testing.assert_allclose(low.predict(Xt), ref, atol=tol * np.abs(ref).max())


def np_nystrom(Xc, Z, sigma, rcond=1e-12):
    """Phi = K_nm U diag(s^-1/2) with the eigenvalues below rcond * max dropped."""
    s, U = np.linalg.eigh(np_rbf(Z, Z, sigma))
    keep = s > rcond * s.max()
    M = U[:, keep] / np.sqrt(s[keep])
    return np_rbf(Xc, Z, sigma) @ M, M


@pytest.mark.parametrize("mu", [0.0, 3.0])
def test_low_rank_model_equals_dense_numpy_low_rank_objective(seed_data, mu):
    X, y, q, Xt, _, _ = seed_data
    n, sigma, lam = len(y), 0.8, 1e-2
    model = FairKernelRidge(
        sigma,
        lam,
        mu,
        penalty="hsic",
        dtype="float64",
        n_components=12,
        landmarks="kmeans++",
        random_state=3,
    ).fit(X, y, q=q)
    Z = model.X_fit_
    assert Z.shape == (12, 2)
    Xc, s = X - X.mean(0), y.std()
    Phi, M = np_nystrom(Xc, Z, sigma)
    A = Phi.T @ Phi + lam * np.eye(Phi.shape[1])
    if mu > 0:
        Lc = np_center(np_rbf(q, q, float(median_heuristic(q))))
        A = A + mu / n * Phi.T @ Lc @ Phi
    w = np.linalg.solve(A, Phi.T @ (y / s))
    expected = s * np_rbf(Xt - X.mean(0), Z, sigma) @ (M @ w)
    np.testing.assert_allclose(
        model.predict(Xt), expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max()
    )
    f = Phi @ w
    J = (np.sum((y / s - f) ** 2) + lam * w @ w) / n + (mu * f @ Lc @ f / n**2 if mu > 0 else 0.0)
    assert model.objective_ == pytest.approx(J, rel=1e-9)


def test_low_rank_landmarks_are_seeded(seed_data):
    X, y, q, *_ = seed_data
    fit = lambda rs: (
        FairKernelRidge(1.0, n_components=20, random_state=rs, dtype="float64").fit(X, y).X_fit_
    )  # noqa: E731
    np.testing.assert_array_equal(fit(1), fit(1))
    assert not np.array_equal(fit(1), fit(2))


@pytest.mark.parametrize(
    "bad,match",
    [
        (0, "n_components .* integer >= 1; got 0"),
        (2.5, "n_components .* integer >= 1; got 2.5"),
        (True, "n_components .* integer >= 1; got True"),
        (151, "n_components=151 is larger than the number of training samples n=150"),
    ],
)
def test_bad_n_components_is_refused_with_a_clear_message(seed_data, bad, match):
    X, y, *_ = seed_data
    with pytest.raises(ValueError, match=match):
        FairKernelRidge(n_components=bad).fit(X, y)


def test_low_rank_refuses_sample_weight_and_bad_landmark_choice(seed_data):
    X, y, *_ = seed_data
    with pytest.raises(ValueError, match="sample_weight is not supported by the low-rank model"):
        FairKernelRidge(n_components=10).fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="landmarks must be one of"):
        FairKernelRidge(n_components=10, landmarks="random")
    with pytest.raises(ValueError, match="random_state .* integer >= 0; got -1"):
        FairKernelRidge(n_components=10, random_state=-1)


@pytest.mark.parametrize("penalty", ["cka", "hsic"])
def test_low_rank_save_load_and_chunked_predict(seed_data, tmp_path, penalty):
    X, y, q, *_ = seed_data
    model = FairKernelRidge(0.8, 1e-2, 3.0, penalty=penalty, n_components=25, dtype="float64").fit(
        X, y, q=q
    )
    big = np.random.default_rng(0).uniform(-3, 3, size=(5000, 2))
    pred = model.predict(big)
    Z, beta = model.X_fit_.astype(np.float64), model.alpha_.astype(np.float64)
    ref = model.y_scale_ * np_rbf(big - model.X_offset_, Z, 0.8) @ beta
    np.testing.assert_allclose(pred, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
    path = tmp_path / "low.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_config() == model.get_config() and loaded.X_fit_.shape == (25, 2)
    np.testing.assert_array_equal(loaded.predict(big), pred)


def test_low_rank_mu_path_equals_separate_low_rank_fits(seed_data):
    X, y, q, Xt, _, _ = seed_data
    mus = np.array([0.0, 2.0, 20.0])
    kw = dict(dtype="float64", n_components=30, random_state=5)
    path = FairKernelRidge(1.0, 1e-2, **kw).mu_path(X, y, q, mus)
    assert path.X_fit.shape == (30, 2) and path.alphas.shape == (3, 30)
    for mu, p in zip(mus, path.predict(Xt), strict=False):
        ref = FairKernelRidge(1.0, 1e-2, mu, penalty="hsic", **kw).fit(X, y, q=q).predict(Xt)
        np.testing.assert_allclose(p, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())
