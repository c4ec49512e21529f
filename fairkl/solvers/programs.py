r"""Compiled fit programs: one XLA program per fit, hyperparameters traced.

The kernel on ``X`` is named by a static string resolved through
:data:`X_KERNELS` (adding a kernel on ``X`` is one entry there); the kind of
kernel on ``q`` is static too. Every other argument is a traced value, so a
new value never recompiles.
"""

from __future__ import annotations

from functools import partial

import jax
from keras import ops

from fairkl.kernels import median_heuristic, rbf_kernel
from fairkl.linalg import add_diagonal, cholesky_jitter, ridge_condition
from fairkl.sensitive import centered_kernel
from fairkl.solvers.exact import fkl_hsic_path, fkl_hsic_solve, fkl_hsic_woodbury, krr_solve
from fairkl.solvers.lbfgs import cka_descent
from fairkl.solvers.objective import CKAPenalty, data_term, hsic_penalty
from fairkl.solvers.result import FitResult

#: Kernels on X by name: ``k(A, B=None, sigma=...)`` returning the (n, m) kernel matrix.
#: A new kernel on X is one entry here (the name then works in every fit, CV and prediction path).
X_KERNELS = {"rbf": rbf_kernel}


def x_kernel(name: str):
    """The kernel function on X registered under ``name``."""
    try:
        return X_KERNELS[name]
    except KeyError:
        raise ValueError(f"kernel must be one of {sorted(X_KERNELS)}; got {name!r}.") from None


def _bandwidth(values, given, auto: bool):
    return median_heuristic(values) if auto else given


def _closed_form(alpha, objective, condition, jitter, sigma_q):
    zero = ops.zeros_like(objective)
    return FitResult(alpha, objective, zero, 0, True, jitter, condition, sigma_q, zero, ops.ones_like(objective))


@partial(jax.jit, static_argnames=("kernel", "weighted"))
def fit_krr(X, y, sigma, lam, sqrt_w, kernel="rbf", weighted=True):
    r"""Compiled (weighted) kernel ridge regression (``mu = 0``) for standardised ``y``.

    With weights :math:`w` it minimises
    :math:`\frac{1}{\sum w}[\sum_i w_i (y_i - f_i)^2 + \lambda \alpha^\top K\alpha]`
    by the symmetric form :math:`\alpha = W^{1/2}(W^{1/2}KW^{1/2} + \lambda I)^{-1}W^{1/2}y`
    (as scikit-learn's KernelRidge); integer weights equal repeated samples.
    ``sqrt_w`` is :math:`\sqrt{w}` (ones for an unweighted fit). ``weighted=False``
    (static; ``sqrt_w`` then ignored) skips the weighted copy of :math:`K`. Returns a :class:`FitResult`.
    """
    K = x_kernel(kernel)(X, sigma=sigma)
    if not weighted:
        alpha, chol, jitter = krr_solve(K, y, lam)
        r = y - ops.matmul(K, alpha)
        J = (ops.sum(r * r) + lam * ops.sum(alpha * (y - r))) / y.shape[0]
        return _closed_form(alpha, J, ridge_condition(K, lam, chol, jitter), jitter, ops.zeros_like(sigma))
    Kw = sqrt_w[:, None] * K * sqrt_w[None, :]
    beta, chol, jitter = krr_solve(Kw, sqrt_w * y, lam)
    alpha = sqrt_w * beta
    r = y - ops.matmul(K, alpha)
    J = (ops.sum(sqrt_w * sqrt_w * r * r) + lam * ops.sum(alpha * ops.matmul(K, alpha))) / ops.sum(sqrt_w * sqrt_w)
    return _closed_form(alpha, J, ridge_condition(Kw, lam, chol, jitter), jitter, ops.zeros_like(sigma))


@partial(jax.jit, static_argnames=("kernel_q", "auto_sigma_q", "kernel"))
def fit_hsic(X, y, q, sigma, lam, mu, sigma_q, kernel_q="rbf", auto_sigma_q=False, kernel="rbf"):
    r"""Compiled exact HSIC-penalised fit: a :class:`FitResult`.

    The Cholesky factor of :math:`K + \lambda I` is computed too, only to
    estimate the conditioning of the problem (the solve itself is LU).
    """
    sigma_q = _bandwidth(q, sigma_q, auto_sigma_q)
    K = x_kernel(kernel)(X, sigma=sigma)
    Lc = centered_kernel(q, sigma_q, kernel_q)
    alpha = fkl_hsic_solve(K, Lc, y, lam, mu)
    chol, jitter = cholesky_jitter(add_diagonal(K, lam))
    J = data_term(alpha, K, y, lam) + mu * hsic_penalty(ops.matmul(K, alpha), Lc)
    return _closed_form(alpha, J, ridge_condition(K, lam, chol, jitter), jitter, sigma_q)


@partial(jax.jit, static_argnames=("kernel",))
def fit_hsic_woodbury(X, y, B, sigma, lam, mu, sigma_q, kernel="rbf"):
    r"""Compiled exact HSIC-penalised fit from a rank-r factor :math:`\tilde L = BB^\top` (see
    ``fkl_hsic_woodbury``): the same :math:`\alpha` as :func:`fit_hsic` when the factor is exact,
    with one Cholesky, O(n² r) extra work and no second n × n matrix."""
    K = x_kernel(kernel)(X, sigma=sigma)
    alpha, chol, jitter = fkl_hsic_woodbury(K, B, y, lam, mu)
    f = ops.matmul(K, alpha)
    r = y - f
    Bf = ops.matmul(ops.transpose(B), f)
    n = y.shape[0]
    J = (ops.sum(r * r) + lam * ops.sum(alpha * f)) / n + mu * ops.sum(Bf * Bf) / (n * n)
    return _closed_form(alpha, J, ridge_condition(K, lam, chol, jitter), jitter, sigma_q)


@partial(jax.jit, static_argnames=("kernel_q", "auto_sigma_q", "auto_sigma_f", "kernel"))
def fit_cka(
    X, y, q, sigma, lam, mu, sigma_q, sigma_f, epochs, lr, tol,
    kernel_q="rbf", auto_sigma_q=False, auto_sigma_f=False, kernel="rbf",
):
    """Compiled CKA-penalised fit, one program from inputs to coefficients: a :class:`FitResult`.

    Pure and vmappable over every traced argument (see :func:`fit_cka_batch`).
    """
    sigma_q = _bandwidth(q, sigma_q, auto_sigma_q)
    sigma_f = _bandwidth(y[:, None], sigma_f, auto_sigma_f)
    K = x_kernel(kernel)(X, sigma=sigma)
    pen = CKAPenalty.make(centered_kernel(q, sigma_q, kernel_q), sigma_f)
    return cka_descent(K, y, lam, mu, pen, epochs, lr, tol)._replace(sigma_q=sigma_q)


@partial(jax.jit, static_argnames=("kernel_q", "kernel"))
def fit_cka_batch(X, y, q, sigma_f, tol, sigmas, lams, mus, sigma_qs, lrs, epochs, kernel_q="rbf", kernel="rbf"):
    """:func:`fit_cka` for a batch of hyperparameters in one compiled call, one fit after another.

    ``X, y, q, sigma_f, tol`` are shared (``y`` standardised, ``sigma_f`` in its
    units); ``sigmas, lams, mus, sigma_qs, lrs`` (float) and ``epochs`` (int)
    are 1-D of one length B. Returns a :class:`FitResult` whose fields have a
    leading axis B.

    The fits run in sequence (``jax.lax.map``), not vectorised (``jax.vmap``):
    each one stops at its own step count. A vmapped ``while_loop`` runs every
    fit until the slowest one stops: on 256 random settings of the book's
    data (groups of 16) it executed 15,984 trial-steps for 3,313 needed and
    took 2.5x the CPU time of this loop (2.79 vs 1.10 s); one call for B fits
    still pays the dispatch once.
    """
    def one(args):
        sigma, lam, mu, sigma_q, lr, ep = args
        return fit_cka(X, y, q, sigma, lam, mu, sigma_q, sigma_f, ep, lr, tol, kernel_q=kernel_q, kernel=kernel)

    return jax.lax.map(one, (sigmas, lams, mus, sigma_qs, lrs, epochs))


@partial(jax.jit, static_argnames=("kernel",))
def hsic_path_program(X, y, B, sigma, lam, mus, kernel="rbf"):
    """Compiled μ-path: returns ``(alphas, jitter)`` (see :func:`fkl_hsic_path`)."""
    return fkl_hsic_path(x_kernel(kernel)(X, sigma=sigma), B, y, lam, mus)


@partial(jax.jit, static_argnames=("kernel",))
def predict_program(X_new, X_fit, alpha, sigma, kernel="rbf"):
    """Compiled prediction :math:`k(X_{new}, X_{fit})\\,\\alpha` (``alpha`` of shape (n,) or (n, m))."""
    return ops.matmul(x_kernel(kernel)(X_new, X_fit, sigma=sigma), alpha)
