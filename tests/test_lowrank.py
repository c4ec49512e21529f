"""Low-rank (Nyström) fair model: every closed form against an independent dense NumPy computation
of the same low-rank objective, the CKA objective and gradient against finite differences, and the
m -> n limit against the exact FairKernelRidge."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import np_center, np_rbf
from scipy.optimize import minimize

from fairkl import FairKernelRidge, solvers
from fairkl._constants import LANDMARK_METHODS
from fairkl.dependence import cka_rbf
from fairkl.kernels import median_heuristic
from fairkl.landmarks import select_landmarks
from fairkl.solvers import lowrank

SIGMA, LAM = 1.5, 1e-2


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n, d = 120, 4
    q = rng.standard_normal(n)
    X = rng.standard_normal((n, d))
    X[:, 0] += q
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.2 * rng.standard_normal(n)
    Xte = rng.standard_normal((40, d))
    return X, y / y.std(), q[:, None], Xte


def np_features(X, Z, sigma, rcond=lowrank.RCOND):
    """Dense Nyström features Phi = K_nm U s^-1/2 (dropped eigenvalues as in the module) and M."""
    s, U = np.linalg.eigh(np_rbf(Z, Z, sigma))
    keep = s > rcond * s.max()
    M = U[:, keep] / np.sqrt(s[keep])
    return np_rbf(X, Z, sigma) @ M, M


def np_centered_factor(q, sigma_q):
    """Exact factor of HLH from its eigendecomposition (L dense, H formed explicitly)."""
    s, U = np.linalg.eigh(np_center(np_rbf(q, q, sigma_q)))
    keep = s > 1e-14 * s.max()
    return U[:, keep] * np.sqrt(s[keep])


def np_hsic_weights(Phi, y, B, lam, mu):
    n = Phi.shape[0]
    P = Phi.T @ B
    return np.linalg.solve(Phi.T @ Phi + lam * np.eye(Phi.shape[1]) + (mu / n) * P @ P.T, Phi.T @ y)


def test_features_and_gram_statistics_match_dense(data):
    X, y, q, _ = data
    Z = X[::3]
    nmap = lowrank.nystrom_map(jnp.asarray(Z), SIGMA)
    Phi_ref, _ = np_features(X, Z, SIGMA)
    # chunk 7 does not divide n = 120: the overlapping last chunk must not double count
    Phi = np.asarray(lowrank.feature_matrix(jnp.asarray(X), nmap, chunk=7))
    np.testing.assert_allclose(Phi @ Phi.T, Phi_ref @ Phi_ref.T, atol=1e-10)
    B = np.column_stack([q[:, 0], q[:, 0] ** 2])
    A, b, P = (
        np.asarray(t)
        for t in lowrank.gram_statistics(
            jnp.asarray(X), jnp.asarray(y), jnp.asarray(B), nmap, chunk=7
        )
    )
    np.testing.assert_allclose(A, Phi.T @ Phi, atol=1e-10)
    np.testing.assert_allclose(b, Phi.T @ y, atol=1e-10)
    np.testing.assert_allclose(P, Phi.T @ B, atol=1e-10)


@pytest.mark.parametrize("mu", [0.0, 7.0])
def test_closed_form_equals_dense_solve(data, mu):
    X, y, q, Xte = data
    Z = X[select_landmarks(X, 30, seed=1)]
    Phi, M = np_features(X, Z, SIGMA)
    sq = float(median_heuristic(jnp.asarray(q)))
    B = np_centered_factor(q, sq)
    w = np_hsic_weights(Phi, y, B, LAM, mu)
    if mu == 0:
        res = lowrank.fit_krr_lowrank(X, y, Z, SIGMA, LAM)
    else:
        res = lowrank.fit_hsic_lowrank(X, y, q, Z, SIGMA, LAM, mu, tol_q=1e-14)
    expected = np_rbf(Xte, Z, SIGMA) @ (M @ w)
    np.testing.assert_allclose(
        lowrank.predict(Xte, res.landmarks, res.alpha, SIGMA), expected, rtol=1e-8, atol=1e-9
    )
    n = X.shape[0]
    J = (np.sum((y - Phi @ w) ** 2) + LAM * w @ w) / n + mu * np.sum((B.T @ Phi @ w) ** 2) / n**2
    assert float(res.objective) == pytest.approx(J, rel=1e-9)


def test_hsic_minimiser_equals_generic_optimiser(data):
    X, y, q, _ = data
    Z = X[:12]
    Phi, _ = np_features(X, Z, SIGMA)
    Bq = q - q.mean()  # linear kernel on q: HLH = (Hq)(Hq)^T exactly
    n, mu = X.shape[0], 20.0

    def J(w):
        return (np.sum((y - Phi @ w) ** 2) + LAM * w @ w) / n + mu * np.sum(
            (Bq.T @ Phi @ w) ** 2
        ) / n**2

    opt = minimize(
        J, np.zeros(Phi.shape[1]), method="BFGS", options={"gtol": 1e-12, "maxiter": 5000}
    )
    res = lowrank.fit_hsic_lowrank(X, y, q, Z, SIGMA, LAM, mu, kernel_q="linear")
    f_opt = Phi @ opt.x
    f_res = np_rbf(X, Z, SIGMA) @ np.asarray(res.alpha)
    np.testing.assert_allclose(f_res, f_opt, atol=1e-5)
    assert float(res.objective) == pytest.approx(opt.fun, rel=1e-8)


def test_mu_path_equals_separate_solves(data):
    X, y, q, _ = data
    Z = X[select_landmarks(X, 25, seed=2)]
    mus = np.array([0.0, 0.5, 5.0, 50.0])
    betas = np.asarray(lowrank.hsic_path_lowrank(X, y, q, Z, SIGMA, LAM, mus, tol_q=1e-14))
    Phi, M = np_features(X, Z, SIGMA)
    B = np_centered_factor(q, float(median_heuristic(jnp.asarray(q))))
    for mu, beta in zip(mus, betas, strict=False):
        np.testing.assert_allclose(
            np_rbf(X, Z, SIGMA) @ beta,
            Phi @ np_hsic_weights(Phi, y, B, LAM, mu),
            rtol=1e-8,
            atol=1e-9,
        )


# The centred factor of the kernel on q (groups and continuous q, with the low-rank model's
# settings) is tested once, in tests/test_primitives.py.


def np_cka_features(f, B, omega, weight):
    arg = f[:, None] * omega[None, :]
    Psi = np.concatenate([np.cos(arg), np.sin(arg)], axis=1) * np.sqrt(
        np.concatenate([weight, weight])
    )
    Psi = Psi - Psi.mean(0)
    return np.sum((Psi.T @ B) ** 2) / np.sqrt(np.sum((Psi.T @ Psi) ** 2) * np.sum((B.T @ B) ** 2))


@pytest.mark.parametrize("kind", ["quadrature", "rff"])
def test_feature_cka_approaches_exact_cka_as_features_grow(data, kind):
    X, y, q, _ = data
    f = np.sin(X[:, 0]) + 0.3 * X[:, 1]
    sf, sq = (
        float(median_heuristic(jnp.asarray(f[:, None]))),
        float(median_heuristic(jnp.asarray(q))),
    )
    B = np_centered_factor(q, sq)
    exact = float(cka_rbf(f, q, sigma_a=sf, sigma_b=sq))
    hll = np.sum((B.T @ B) ** 2) / len(f) ** 2
    seeds = range(5) if kind == "rff" else range(1)  # random features: mean error over seeds
    errors = []
    for D in (8, 32, 128, 512):
        err = []
        for seed in seeds:
            om, wt = lowrank.prediction_frequencies(sf, D, kind, seed=seed)
            approx = float(
                lowrank.cka_features_penalty(
                    jnp.asarray(f), jnp.asarray(B), jnp.asarray(om), jnp.asarray(wt), hll
                )
            )
            assert approx == pytest.approx(
                np_cka_features(f, B, om, wt), rel=1e-10
            )  # the features, densely
            err.append(abs(approx - exact))
        errors.append(np.mean(err))
    assert errors[-1] < errors[0] / 4
    assert errors[-1] < (1e-10 if kind == "quadrature" else 0.05 * exact)


def test_feature_cka_is_zero_for_constant_predictions(data):
    X, y, q, _ = data
    B = jnp.asarray(q - q.mean())
    om, wt = lowrank.prediction_frequencies(1.0)
    f = jnp.full((X.shape[0],), 0.37)
    val = lowrank.cka_features_penalty(f, B, jnp.asarray(om), jnp.asarray(wt), 1.0)
    import jax

    grad = jax.grad(lowrank.cka_features_penalty)(f, B, jnp.asarray(om), jnp.asarray(wt), 1.0)
    assert float(val) == 0.0 and np.all(np.asarray(grad) == 0.0)


def _cka_problem(data, mu):
    X, y, q, _ = data
    Z = X[select_landmarks(X, 20, seed=5)]
    Phi, M = np_features(X, Z, SIGMA)
    sq, sf = (
        float(median_heuristic(jnp.asarray(q))),
        float(median_heuristic(jnp.asarray(y[:, None]))),
    )
    B = np_centered_factor(q, sq)
    om, wt = lowrank.prediction_frequencies(sf, 32)
    n = X.shape[0]

    def J(w):  # the low-rank CKA objective in w, densely in NumPy
        return (np.sum((y - Phi @ w) ** 2) + LAM * w @ w) / n + mu * np_cka_features(
            Phi @ w, B, om, wt
        )

    return Phi, M, B, om, wt, J, Z, sq, sf


def test_cka_objective_and_gradient_against_dense_and_finite_differences(data):
    X, y, q, _ = data
    mu = 3.0
    Phi, M, B, om, wt, J, *_ = _cka_problem(data, mu)
    n, m = Phi.shape
    A = Phi.T @ Phi + LAM * np.eye(m)
    R = np.linalg.cholesky(A)
    c = np.linalg.solve(R, Phi.T @ y)
    hll = np.sum((B.T @ B) ** 2) / n**2
    rng = np.random.default_rng(1)
    w = np.linalg.solve(A, Phi.T @ y) + 0.1 * rng.standard_normal(m)
    v = R.T @ w
    val, g = lowrank.nystrom_cka_value_and_grad(
        jnp.asarray(v),
        jnp.asarray(Phi),
        jnp.asarray(R),
        jnp.asarray(c),
        y @ y - c @ c,
        jnp.asarray(B),
        jnp.asarray(om),
        jnp.asarray(wt),
        hll,
        mu,
    )
    assert float(val) == pytest.approx(J(w), rel=1e-10)
    Jv = lambda vv: J(np.linalg.solve(R.T, vv))  # noqa: E731
    h = 1e-6
    fd = np.array([(Jv(v + h * e) - Jv(v - h * e)) / (2 * h) for e in np.eye(m)])
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-5, atol=1e-9)


def test_cka_fit_is_stationary_for_the_dense_objective(data):
    X, y, q, _ = data
    mu = 3.0
    Phi, M, B, om, wt, J, Z, sq, sf = _cka_problem(data, mu)
    res = lowrank.fit_cka_lowrank(X, y, q, Z, SIGMA, LAM, mu, n_features=32, tol=1e-14, epochs=500)
    assert bool(res.converged) and int(res.n_iter) > 1
    w = np.linalg.lstsq(Phi, np_rbf(X, Z, SIGMA) @ np.asarray(res.alpha), rcond=None)[0]
    assert float(res.objective) == pytest.approx(J(w), rel=1e-10)
    h = 1e-6
    fd = np.array([(J(w + h * e) - J(w - h * e)) / (2 * h) for e in np.eye(len(w))])
    assert np.max(np.abs(fd)) < 1e-6
    # and it is a real improvement on the mu = 0 start
    w0 = np.linalg.solve(Phi.T @ Phi + LAM * np.eye(len(w)), Phi.T @ y)
    assert J(w) < J(w0) - 1e-3


@pytest.mark.parametrize("penalty", ["none", "hsic", "cka"])
def test_all_points_as_landmarks_equals_exact_model(data, penalty):
    X, y, q, Xte = data
    mu = {"none": 0.0, "hsic": 5.0, "cka": 2.0}[penalty]
    exact = FairKernelRidge(
        SIGMA, LAM, mu, penalty="cka" if penalty == "none" else penalty, dtype="float64", tol=1e-14
    ).fit(X, y, q=q, epochs=1000)
    if penalty == "none":
        res = lowrank.fit_krr_lowrank(X, y, X, SIGMA, LAM)
    elif penalty == "hsic":
        res = lowrank.fit_hsic_lowrank(X, y, q, X, SIGMA, LAM, mu, tol_q=1e-14)
    else:
        res = lowrank.fit_cka_lowrank(X, y, q, X, SIGMA, LAM, mu, tol=1e-14, epochs=1000)
    pred = lowrank.predict(Xte, res.landmarks, res.alpha, SIGMA) * exact.y_scale_
    ref = exact.predict(Xte)
    # Closed forms: rounding only. CKA: 64 Gauss-Hermite features of the prediction kernel.
    tol = 1e-8 if penalty != "cka" else 1e-6
    np.testing.assert_allclose(pred, ref, atol=tol * np.abs(ref).max())
    assert float(res.objective) == pytest.approx(exact.objective_, rel=1e-8)


def test_predict_streams_in_chunks(data):
    X, y, q, Xte = data
    res = lowrank.fit_krr_lowrank(X, y, X[:30], SIGMA, LAM)
    big = np.concatenate([Xte] * 5)
    np.testing.assert_allclose(
        lowrank.predict(big, res.landmarks, res.alpha, SIGMA, chunk=64),
        np_rbf(big, X[:30], SIGMA) @ np.asarray(res.alpha),
        rtol=1e-10,
        atol=1e-12,
    )


def np_greedy_pivots(X, sigma, m):
    """Brute-force greedy pivoted Cholesky on the dense kernel."""
    K = np_rbf(X, X, sigma)
    piv = []
    for _ in range(m):
        Z = np.array(piv, dtype=int)
        resid = np.diag(K) - (
            np.einsum("ij,jk,ik->i", K[:, Z], np.linalg.inv(K[np.ix_(Z, Z)]), K[:, Z])
            if piv
            else 0.0
        )
        resid[Z] = -1
        piv.append(int(np.argmax(resid)))
    return np.sort(piv)


def test_landmark_methods_seeded_distinct_and_greedy_equals_brute_force(data):
    X = data[0]
    for method in LANDMARK_METHODS:
        a = select_landmarks(X, 15, method=method, seed=3, sigma=SIGMA)
        assert np.array_equal(a, select_landmarks(X, 15, method=method, seed=3, sigma=SIGMA))
        assert len(np.unique(a)) == 15 and np.all(np.diff(a) > 0)
    assert not np.array_equal(select_landmarks(X, 15, seed=3), select_landmarks(X, 15, seed=4))
    np.testing.assert_array_equal(
        select_landmarks(X, 10, method="pivoted_cholesky", sigma=SIGMA, pool=X.shape[0]),
        np_greedy_pivots(X, SIGMA, 10),
    )
    assert np.array_equal(
        select_landmarks(X, X.shape[0], method="kmeans++", pool=X.shape[0]),
        np.arange(X.shape[0]),
    )


def test_kmeanspp_spreads_landmarks_more_than_chance():
    rng = np.random.default_rng(0)
    # four tight clusters of very different sizes: D^2 sampling visits each one with 4 landmarks
    X = np.concatenate(
        [
            rng.normal(c, 0.01, (k, 2))
            for c, k in zip([0, 10, 20, 30], [300, 20, 10, 5], strict=False)
        ]
    )
    idx = select_landmarks(X, 4, method="kmeans++", seed=0, pool=len(X))
    assert sorted(np.round(X[idx, 0] / 10).astype(int)) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"m": 0}, "n_components"),
        ({"m": 500}, "n_components"),
        ({"m": 2.5}, "n_components"),
        ({"m": 5, "method": "random"}, "landmarks"),
        ({"m": 5, "method": "pivoted_cholesky"}, "sigma"),
    ],
)
def test_landmark_errors_name_the_argument(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        select_landmarks(data[0], **kwargs)


@pytest.mark.parametrize("kwargs", [{"n_features": 7}, {"n_features": 0}, {"kind": "sobol"}])
def test_frequency_errors_name_the_argument(kwargs):
    with pytest.raises(ValueError, match="n_features|features"):
        lowrank.prediction_frequencies(1.0, **kwargs)


def test_result_exposes_a_fit_result(data):
    X, y, q, _ = data
    res = lowrank.fit_krr_lowrank(X, y, X[:10], SIGMA, LAM)
    fr = res.fit_result()
    assert isinstance(fr, solvers.FitResult) and fr.alpha is res.alpha and int(res.rank) == 10


def test_pivoted_landmarks_with_duplicate_rows_stay_distinct_and_fit_is_finite(data):
    X, y, q, Xte = data
    Xd = np.concatenate([X[:10]] * 4)  # 10 distinct rows, 40 samples, 25 landmarks
    idx = select_landmarks(Xd, 25, method="pivoted_cholesky", sigma=SIGMA, pool=40)
    assert len(np.unique(idx)) == 25 and len(np.unique(Xd[idx], axis=0)) == 10
    res = lowrank.fit_krr_lowrank(Xd, np.tile(y[:10], 4), Xd[idx], SIGMA, LAM)
    assert int(res.rank) == 10  # repeated landmarks add no eigen-direction
    # the same function as with the 10 distinct landmarks
    ref = lowrank.fit_krr_lowrank(Xd, np.tile(y[:10], 4), X[:10], SIGMA, LAM)
    np.testing.assert_allclose(
        lowrank.predict(Xte, res.landmarks, res.alpha, SIGMA),
        lowrank.predict(Xte, ref.landmarks, ref.alpha, SIGMA),
        rtol=1e-7,
        atol=1e-9,
    )


def _temp_bytes(program, *args, **static) -> int:
    """Bytes of temporaries XLA allocates for one call of the compiled ``program`` (its arguments excluded)."""
    return program.lower(*args, **static).compile().memory_analysis().temp_size_in_bytes


def test_compiled_programs_never_copy_the_feature_matrix():
    # Shapes only (nothing is allocated): n = 20,000, m = 1,000 makes Phi 160 MB. A transposed copy of
    # Phi (what Phi^T v compiled to on CPU) would add a full copy; the fix computes v^T Phi instead.
    n, m, d, r = 20_000, 1_000, 10, 4
    f64 = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float64)  # noqa: E731
    one_copy = 8 * n * m
    nmap = lowrank.NystromMap(f64(m, d), f64(m, m), f64(m), f64())
    block = 8 * lowrank.CHUNK * m  # one block of rows of Phi: the streaming programs hold a few
    assert _temp_bytes(lowrank.feature_matrix, f64(n, d), nmap) <= 3 * block
    assert _temp_bytes(lowrank.gram_statistics, f64(n, d), f64(n), f64(n, r), nmap) <= 3 * block
    # the m x m factorisation's workspace only
    assert _temp_bytes(lowrank._whiten, f64(n, m), f64(n), f64(m), f64()) <= 4 * 8 * m * m
    # omega, weight (32 frequencies each), two scalars, epochs, lr, tol: both CKA programs end so
    tail = (f64(32), f64(32), f64(), f64(), jax.ShapeDtypeStruct((), jnp.int64), f64(), f64())
    lbfgs = _temp_bytes(lowrank.cka_lbfgs, f64(n, m), f64(m, m), f64(m), f64(), f64(n, r), *tail)
    # what remains is O(n (D_f + r)): Fourier features of f and their gradient (64 columns each)
    assert lbfgs < 0.5 * one_copy
    # The whole CKA fit as one program (what fit_cka_lowrank runs): Phi is its temporary, held once.
    whole = _temp_bytes(
        lowrank._cka_fit,
        f64(n, d),
        f64(n),
        f64(n, r),
        nmap,
        f64(),
        f64(),
        *tail,
        chunk=lowrank.CHUNK,
    )
    assert one_copy <= whole < 1.5 * one_copy
