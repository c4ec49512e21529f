"""Solvers against dense NumPy solves and finite differences of an independent NumPy objective."""

import jax.numpy as jnp
import numpy as np
import pytest

from fairkl import kernels, solvers
from fairkl.datasets import make_seed_data
from tests.conftest import np_center, np_rbf


@pytest.fixture(scope="module")
def problem():
    X, y, q = make_seed_data(n=60, seed=4)
    ys = y / y.std()
    K = np_rbf(X, X, 1.0)
    sq = float(kernels.median_heuristic(q))
    L = np_rbf(q, q, sq)
    sf = float(kernels.median_heuristic(ys[:, None]))
    return dict(X=X, y=ys, q=q, K=K, L=L, Lc=np_center(L), sigma_q=sq, sigma_f=sf)


def np_objective(alpha, p, lam, mu, penalty):
    """J(alpha) written directly from the documented formula, in NumPy."""
    K, y, n = p["K"], p["y"], len(p["y"])
    f = K @ alpha
    data = (np.sum((y - f) ** 2) + lam * alpha @ K @ alpha) / n
    if penalty == "hsic":
        D = f @ p["Lc"] @ f / n**2
    else:
        Kf = np_rbf(f[:, None], f[:, None], p["sigma_f"])
        h = lambda A, B: np.trace(np_center(A) @ np_center(B))  # noqa: E731
        D = h(Kf, p["L"]) / np.sqrt(h(Kf, Kf) * h(p["L"], p["L"]))
    return data + mu * D


def fd_grad(fun, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


def cka_pen(p):
    return solvers.CKAPenalty.make(jnp.asarray(p["Lc"]), p["sigma_f"])


@pytest.mark.parametrize("penalty", ["cka", "hsic"])
def test_objective_and_gradient_against_numpy_and_finite_differences(problem, penalty):
    p = problem
    rng = np.random.default_rng(0)
    alpha = 0.1 * rng.normal(size=len(p["y"]))
    lam, mu = 0.05, 3.0
    if penalty == "hsic":
        pen = lambda f: solvers.hsic_penalty(f, jnp.asarray(p["Lc"]))  # noqa: E731
    else:
        pen = lambda f: solvers.cka_penalty(f, cka_pen(p))  # noqa: E731
    J, grad = solvers.objective_and_grad(
        jnp.asarray(alpha), jnp.asarray(p["K"]), jnp.asarray(p["y"]), lam, mu, pen
    )
    ref = lambda a: np_objective(a, p, lam, mu, penalty)  # noqa: E731
    assert float(J) == pytest.approx(ref(alpha), rel=1e-12)
    np.testing.assert_allclose(np.asarray(grad), fd_grad(ref, alpha), rtol=1e-6, atol=1e-8)


def test_hsic_closed_form_equals_dense_solve_and_is_stationary(problem):
    p = problem
    n, lam, mu = len(p["y"]), 0.01, 5.0
    alpha = np.asarray(
        solvers.fkl_hsic_solve(
            jnp.asarray(p["K"]), jnp.asarray(p["Lc"]), jnp.asarray(p["y"]), lam, mu
        )
    )
    A = p["K"] + lam * np.eye(n) + mu / n * p["Lc"] @ p["K"]
    np.testing.assert_allclose(alpha, np.linalg.solve(A, p["y"]), rtol=1e-8, atol=1e-8)
    # Independent of the derivation of the system: the gradient of J vanishes there.
    g = fd_grad(lambda a: np_objective(a, p, lam, mu, "hsic"), alpha)
    g0 = fd_grad(lambda a: np_objective(a, p, lam, mu, "hsic"), np.zeros(n))
    assert np.linalg.norm(g) < 1e-6 * np.linalg.norm(g0)


@pytest.mark.parametrize("lam", [1e-4, 0.1])
def test_cka_descent_reaches_a_stationary_point(problem, lam):
    p = problem
    mu = 5.0
    res = solvers.cka_descent(
        jnp.asarray(p["K"]), jnp.asarray(p["y"]), lam, mu, cka_pen(p), 500, 0.01, 1e-12
    )
    assert bool(res.converged)
    alpha = np.asarray(res.alpha)
    ref = lambda a: np_objective(a, p, lam, mu, "cka")  # noqa: E731
    # Stationary: the finite-difference gradient of the NumPy objective has
    # shrunk by orders of magnitude from the warm start (the mu = 0 solution).
    n = len(alpha)
    alpha0 = np.linalg.solve(p["K"] + lam * np.eye(n), p["y"])
    g_star, g_0 = fd_grad(ref, alpha, h=1e-7), fd_grad(ref, alpha0, h=1e-7)
    assert np.linalg.norm(g_star) < 1e-5 * np.linalg.norm(g_0)
    # And it is a descent from the warm start (the mu = 0 solution).
    assert ref(alpha) < ref(alpha0) - 1e-3
    assert float(res.objective) == pytest.approx(ref(alpha), rel=1e-10)


def test_cholesky_jitter_rescues_singular_matrix():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(20, 3))
    A = G @ G.T  # rank 3: plain Cholesky fails
    chol, jitter = solvers.cholesky_jitter(jnp.asarray(A))
    chol = np.asarray(chol)
    assert float(jitter) > 0 and np.all(np.isfinite(chol))
    np.testing.assert_allclose(chol @ chol.T, A + float(jitter) * np.eye(20), atol=1e-10)
    chol, jitter = solvers.cholesky_jitter(jnp.asarray(A + np.eye(20)))
    assert float(jitter) == 0.0


@pytest.mark.parametrize("sigma,lam", [(0.3, 1e-4), (1.0, 1e-2), (5.0, 1e-4), (1.0, 0.0)])
def test_condition_estimate_matches_numpy(problem, sigma, lam):
    X = problem["X"]
    A = np_rbf(X, X, sigma) + lam * np.eye(len(X))
    chol, jitter = solvers.cholesky_jitter(jnp.asarray(A))
    A = A + float(jitter) * np.eye(len(X))
    est = float(solvers.condition_estimate(jnp.asarray(A), chol))
    true = np.linalg.cond(A)
    if true < 1e12:  # beyond that numpy's own value is rounding-limited
        assert est == pytest.approx(true, rel=0.1)
    else:
        assert est > 1e12


def test_cho_solve_matches_numpy():
    rng = np.random.default_rng(1)
    G = rng.normal(size=(15, 15))
    A = G @ G.T + np.eye(15)
    b = rng.normal(size=15)
    chol, _ = solvers.cholesky_jitter(jnp.asarray(A))
    np.testing.assert_allclose(
        np.asarray(solvers.cho_solve(chol, jnp.asarray(b))), np.linalg.solve(A, b), rtol=1e-10
    )


def test_pivoted_cholesky_is_exact_for_groups():
    groups = np.arange(40) % 3
    L = np_rbf(np.eye(3)[groups], np.eye(3)[groups], 1.0)
    G, residual = solvers.pivoted_cholesky(jnp.asarray(L), 10, 1e-13)
    G = np.asarray(G)
    np.testing.assert_allclose(G @ G.T, L, atol=1e-12)
    assert float(residual) < 1e-13
    assert np.count_nonzero(np.abs(G).sum(0) > 0) == 3


@pytest.mark.parametrize("kind", ["groups", "continuous"])
def test_mu_path_equals_separate_dense_solves(problem, kind):
    p = problem
    n, lam = len(p["y"]), 0.01
    if kind == "groups":
        q = np.eye(3)[np.arange(n) % 3]
        sq = 1.0
    else:
        q, sq = p["q"], p["sigma_q"]
    Lc = np_center(np_rbf(q, q, sq))
    mus = np.array([0.0, 0.1, 1.0, 10.0, 100.0])
    B, rank, residual = solvers.centered_sensitive_factor(
        jnp.asarray(q), sq, "rbf", 1e-14, start_rank=8
    )
    assert residual < 1e-14 and rank <= n
    alphas, _ = solvers.hsic_path_program(
        jnp.asarray(p["X"]), jnp.asarray(p["y"]), B, 1.0, lam, jnp.asarray(mus)
    )
    for mu, alpha in zip(mus, np.asarray(alphas), strict=False):
        A = p["K"] + lam * np.eye(n) + mu / n * Lc @ p["K"]
        expected = np.linalg.solve(A, p["y"])
        np.testing.assert_allclose(p["K"] @ alpha, p["K"] @ expected, rtol=1e-8, atol=1e-9)


def test_loo_grid_equals_brute_force_leave_one_out(problem):
    p = problem
    K, y, n = p["K"], p["y"], len(p["y"])
    lams = np.array([1e-4, 1e-2, 1.0])
    loo = np.asarray(solvers.loo_krr_grid(jnp.asarray(K), jnp.asarray(y), jnp.asarray(lams)))
    for lam, row in zip(lams, loo, strict=False):
        for i in range(n):
            keep = np.arange(n) != i
            alpha = np.linalg.solve(K[np.ix_(keep, keep)] + lam * np.eye(n - 1), y[keep])
            assert row[i] == pytest.approx(K[i, keep] @ alpha, rel=1e-8, abs=1e-10)


def test_kfold_grid_equals_dense_solves_on_the_training_part(problem):
    p = problem
    X, y, q = p["X"], p["y"], p["q"]
    train, test = np.arange(0, 45), np.arange(45, 60)
    sq = float(kernels.median_heuristic(q[train]))
    B, _, _ = solvers.centered_sensitive_factor(jnp.asarray(q[train]), sq, "rbf", 1e-14)
    Ktr, Kte = np_rbf(X[train], X[train], 1.0), np_rbf(X[test], X[train], 1.0)
    lams, mus = np.array([1e-3, 0.1]), np.array([0.0, 3.0, 30.0])
    pred = np.asarray(
        solvers.kfold_hsic_grid(
            jnp.asarray(Ktr),
            jnp.asarray(Kte),
            jnp.asarray(y[train]),
            B,
            jnp.asarray(lams),
            jnp.asarray(mus),
        )
    )
    n = len(train)
    Lc = np_center(np_rbf(q[train], q[train], sq))
    for a, lam in enumerate(lams):
        for b, mu in enumerate(mus):
            alpha = np.linalg.solve(Ktr + lam * np.eye(n) + mu / n * Lc @ Ktr, y[train])
            np.testing.assert_allclose(pred[a, b], Kte @ alpha, rtol=1e-8, atol=1e-9)


def test_fit_programs_do_not_recompile_for_new_hyperparameters(problem):
    p = problem
    X, y, q = (jnp.asarray(p[k]) for k in ("X", "y", "q"))
    args = dict(kernel_q="rbf", auto_sigma_q=True, auto_sigma_f=True)
    solvers.fit_cka(X, y, q, 1.0, 0.1, 1.0, 1.0, 1.0, 300, 0.01, 1e-8, **args)
    before = solvers.fit_cka._cache_size()
    for epochs, lr, mu, sigma, lam in [(50, 0.05, 2.0, 0.5, 1e-3), (120, 1e-3, 20.0, 3.0, 1.0)]:
        solvers.fit_cka(X, y, q, sigma, lam, mu, 1.0, 1.0, epochs, lr, 1e-8, **args)
    assert solvers.fit_cka._cache_size() == before


@pytest.mark.parametrize("spread", [1.0, 1e-3, 1e-6])
def test_cka_penalty_equals_dense_cka_even_for_nearly_constant_predictions(problem, spread):
    p = problem
    f = 0.3 + spread * np.random.default_rng(1).normal(size=len(p["y"]))
    pen = cka_pen(p)
    sf = p["sigma_f"]
    # Reference in exact-enough arithmetic: centre expm1 explicitly with H formed.
    E = np.expm1(-((f[:, None] - f[None, :]) ** 2) / (2 * sf**2))
    Ec = np_center(E)
    expected = np.sum(Ec * p["Lc"]) / np.sqrt(np.sum(Ec * Ec) * np.sum(p["Lc"] * p["Lc"]))
    assert float(solvers.cka_penalty(jnp.asarray(f), pen)) == pytest.approx(expected, rel=1e-9)
