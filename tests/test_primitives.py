"""The one copy of each numerical primitive (issue 20), each against an independent reference:
the pivoted Cholesky against a hand NumPy loop and NumPy's dense Cholesky, the centred factor of
the kernel on q against a dense NumPy HLH, and the L-BFGS against the minimiser of a quadratic and
against scipy's L-BFGS-B on the low-rank CKA objective."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize as scipy_minimize

from fairkl.kernels import median_heuristic, rbf_kernel
from fairkl.linalg import pivoted_cholesky_columns
from fairkl.sensitive import centered_factor
from fairkl.solvers import lowrank
from fairkl.solvers.lbfgs import Point, minimize
from tests.conftest import np_center, np_rbf


def np_pivoted(A, rank, tol=0.0, floor=0.0):
    """Greedy pivoted Cholesky written directly from its definition (NumPy loop, A stored)."""
    n = A.shape[0]
    G, d, piv = np.zeros((n, rank)), np.diag(A).copy(), []
    for k in range(rank):
        i = int(np.argmax(np.where(np.isin(np.arange(n), piv), -np.inf, d)))
        live = d[i] > floor * np.diag(A).max() and np.maximum(d, 0)[
            ~np.isin(np.arange(n), piv)
        ].sum() > tol * np.trace(A)
        if live:
            G[:, k] = (A[:, i] - G[:, :k] @ G[i, :k]) / np.sqrt(d[i])
            d = d - G[:, k] ** 2
        piv.append(i)
    return G, piv


def columns_of(X, sigma):
    Xj = jnp.asarray(X)
    return lambda i: rbf_kernel(Xj, Xj[i][None, :], sigma=sigma)[:, 0]


def test_pivoted_cholesky_against_a_numpy_loop_and_dense_cholesky():
    X = np.random.default_rng(0).standard_normal((30, 2))
    A = np_rbf(X, X, 0.8) + 1e-3 * np.eye(30)  # SPD: full rank reachable
    col = columns_of(X, 0.8)
    G, d, piv = pivoted_cholesky_columns(
        lambda i: col(i) + 1e-3 * jnp.eye(30)[i], jnp.asarray(np.diag(A)), 30
    )
    G, piv = np.asarray(G), np.asarray(piv)
    G_ref, piv_ref = np_pivoted(A, 30)
    assert piv.tolist() == piv_ref
    np.testing.assert_allclose(G, G_ref, atol=1e-10)
    # full rank: rows in pivot order are the (lower) Cholesky factor of the permuted matrix
    np.testing.assert_allclose(G[piv], np.linalg.cholesky(A[np.ix_(piv, piv)]), atol=1e-10)
    assert np.all(np.asarray(d) == -np.inf)  # every row a pivot


def test_pivoted_cholesky_stops_by_trace_and_by_floor_with_distinct_pivots():
    X = np.random.default_rng(1).standard_normal((40, 1))
    A = np_rbf(X, X, 1.0)
    G, _, _ = pivoted_cholesky_columns(columns_of(X, 1.0), jnp.ones(40), 25, tol=1e-6)
    G_ref, _ = np_pivoted(A, 25, tol=1e-6)
    np.testing.assert_allclose(np.asarray(G), G_ref, atol=1e-10)
    used = int(np.count_nonzero(np.abs(G_ref).sum(0)))
    assert 1 < used < 25  # the trace test stopped it early
    assert np.trace(A - G_ref @ G_ref.T) <= 1e-6 * np.trace(A)
    # three distinct rows, each repeated: rank 3, then zero columns and still distinct pivots
    groups = np.eye(3)[np.arange(12) % 3]
    G, _, piv = pivoted_cholesky_columns(columns_of(groups, 1.0), jnp.ones(12), 8, floor=1e-12)
    G = np.asarray(G)
    assert np.count_nonzero(np.abs(G).sum(0) > 0) == 3
    assert len(set(np.asarray(piv).tolist())) == 8
    np.testing.assert_allclose(G @ G.T, np_rbf(groups, groups, 1.0), atol=1e-12)


@pytest.mark.parametrize("settings", ["exact", "low-rank"])
def test_centered_factor_against_dense_hlh(settings):
    rng = np.random.default_rng(2)
    options = (
        {} if settings == "exact" else dict(max_rank=256, growth=2, floor=1e-12)
    )  # the exact path's and the low-rank model's settings
    tol = 1e-13 if settings == "exact" else 1e-10  # the low-rank model's default (Q_TOL)
    qc = rng.standard_normal((80, 1))
    sq = float(median_heuristic(jnp.asarray(qc)))
    B, rank, residual = centered_factor(jnp.asarray(qc), sq, "rbf", tol, 16, **options)
    assert residual <= tol and B.shape[1] == rank
    np.testing.assert_allclose(
        np.asarray(B) @ np.asarray(B).T, np_center(np_rbf(qc, qc, sq)), atol=1e3 * tol
    )
    np.testing.assert_allclose(np.asarray(B).sum(0), 0.0, atol=1e-10)  # columns centred
    groups = np.eye(4)[rng.integers(0, 4, 80)]
    B, _, residual = centered_factor(jnp.asarray(groups), 1.0, "rbf", 1e-13, 16, **options)
    assert residual < 1e-13
    np.testing.assert_allclose(
        np.asarray(B) @ np.asarray(B).T, np_center(np_rbf(groups, groups, 1.0)), atol=1e-12
    )
    q2 = rng.standard_normal((80, 2))
    B, rank, residual = centered_factor(jnp.asarray(q2), np.nan, "linear", 1e-13, **options)
    assert rank == 2 and residual == 0.0
    np.testing.assert_allclose(np.asarray(B) @ np.asarray(B).T, np_center(q2 @ q2.T), atol=1e-12)


@pytest.mark.parametrize("precondition", [False, True])
def test_lbfgs_finds_the_minimiser_of_a_quadratic(precondition):
    # J(x) = (x - x*)^T A (x - x*) / n: grad = (2/n) A (x - x*) = (2/n) S e, e = S^-1 A (x - x*)
    rng = np.random.default_rng(3)
    m, n = 12, 50
    Q = rng.standard_normal((m, m))
    A = Q @ Q.T + 0.5 * np.eye(m)
    x_star = rng.standard_normal(m)
    S = A + 0.3 * np.diag(rng.uniform(size=m)) if precondition else np.eye(m)
    Sinv_A = np.linalg.solve(S, A)
    A_, S_, SA_ = jnp.asarray(A), jnp.asarray(S), jnp.asarray(Sinv_A)

    def fun(x):
        r = x - jnp.asarray(x_star)
        e = SA_ @ r
        return Point(x, r @ (A_ @ r) / n, e, S_ @ e)

    st = minimize(fun, jnp.zeros(m), n, 200, 1.0, 1e-26)
    np.testing.assert_allclose(np.asarray(st.point.z), x_star, atol=1e-10)
    assert int(st.it) < 200


def test_lowrank_cka_lbfgs_against_scipy_lbfgsb():
    rng = np.random.default_rng(4)
    n, d = 80, 3
    q = rng.standard_normal((n, 1))
    X = rng.standard_normal((n, d))
    X[:, 0] += q[:, 0]
    y = np.sin(X[:, 0]) + 0.3 * X[:, 1]
    y = y / y.std()
    Z = X[:15]
    s, U = np.linalg.eigh(np_rbf(Z, Z, 1.5))
    Phi = np_rbf(X, Z, 1.5) @ (U / np.sqrt(s))
    m, lam, mu = Phi.shape[1], 1e-2, 2.0
    R = np.linalg.cholesky(Phi.T @ Phi + lam * np.eye(m))
    c = np.linalg.solve(R, Phi.T @ y)
    sq = float(median_heuristic(jnp.asarray(q)))
    B = np_center(np_rbf(q, q, sq))
    w_, V_ = np.linalg.eigh(B)
    B = V_[:, w_ > 1e-12] * np.sqrt(w_[w_ > 1e-12])
    om, wt = lowrank.prediction_frequencies(1.0, 16)
    hll = np.sum((B.T @ B) ** 2) / n**2
    const = y @ y - c @ c

    def J(v):  # dense NumPy objective in the whitened variable
        f = Phi @ np.linalg.solve(R.T, v)
        arg = (f - f[0])[:, None] * om[None, :]
        sw = np.sqrt(wt)[None, :]
        Psi = np.concatenate([(np.cos(arg) - 1) * sw, np.sin(arg) * sw], axis=1)
        Psi = Psi - Psi.mean(0)
        hfl = np.sum((Psi.T @ B) ** 2) / n**2
        hff = np.sum((Psi.T @ Psi) ** 2) / n**2
        return (np.sum((v - c) ** 2) + const) / n + mu * hfl / np.sqrt(hff * hll)

    def J_and_grad(v):
        val, g = lowrank.nystrom_cka_value_and_grad(
            jnp.asarray(v), *(jnp.asarray(a) for a in (Phi, R, c)), const,
            *(jnp.asarray(a) for a in (B, om, wt)), hll, mu,
        )  # fmt: skip
        return float(val), np.asarray(g)

    ref = scipy_minimize(
        J_and_grad,
        c,
        jac=True,
        method="L-BFGS-B",
        options=dict(gtol=1e-12, ftol=1e-15, maxiter=2000),
    )
    v, Jv, dec, it = lowrank.cka_lbfgs(
        *(jnp.asarray(a) for a in (Phi, R, c)), const, *(jnp.asarray(a) for a in (B, om, wt)),
        hll, mu, 500, 0.01, 1e-20,
    )  # fmt: skip
    assert float(Jv) == pytest.approx(J(np.asarray(v)), rel=1e-12)  # the loop reports J(v)
    assert float(Jv) == pytest.approx(ref.fun, rel=1e-9)
    assert float(Jv) <= ref.fun + 1e-12
    np.testing.assert_allclose(np.asarray(v), ref.x, atol=1e-4)
    assert J(np.asarray(v)) < J(c) - 1e-3  # a real move from the mu = 0 start
