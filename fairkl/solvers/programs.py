r"""Compiled fit programs: one XLA program per fit, hyperparameters traced.

The kernel on ``X`` is named by a static string resolved through
:data:`fairkl.kernels.X_KERNELS` (adding a kernel on ``X`` is one entry there); the kind of
kernel on ``q`` is static too. Every other argument is a traced value, so a
new value never recompiles.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from keras import ops

# the registry of kernels on X lives with the kernels (imported by every layer above)
from fairkl.kernels import X_KERNELS, kernel_matrix, median_heuristic, x_kernel  # noqa: F401
from fairkl.linalg import (
    add_diagonal,
    cho_solve,
    cholesky,
    factor_condition,
    factor_condition_passing,
)
from fairkl.sensitive import centered_kernel
from fairkl.solvers.exact import fkl_hsic_from_factor, fkl_hsic_path, fkl_hsic_solve
from fairkl.solvers.lbfgs import cka_descent, cka_descent_factor
from fairkl.solvers.objective import BlockedCKA, CKAPenalty
from fairkl.solvers.result import FitResult


@partial(jax.jit, static_argnames=("kernel",))
def kernel_diagonal(X, sigma, kernel="rbf"):
    r""":math:`k(x_i, x_i)` for every row of ``X``: O(n d), one compiled program.

    (Evaluated eagerly under ``vmap``, the kernel's five operations were each
    compiled on their own in every new process.)
    """
    k = x_kernel(kernel)
    return jax.vmap(lambda x: k(x[None, :], sigma=sigma)[0, 0])(X)


def _bandwidth(values, given, auto: bool):
    return median_heuristic(values) if auto else given


def _closed_form(alpha, objective, condition, jitter, sigma_q):
    zero = ops.zeros_like(objective)
    return FitResult(
        alpha, objective, zero, 0, True, jitter, condition, sigma_q, zero, ops.ones_like(objective)
    )


def ridge_factor(X, sigma, lam, jitter, kernel: str = "rbf", sqrt_w=None):
    r"""Lower Cholesky factor of :math:`C = K + (\lambda + j)I` (weighted: :math:`W^{1/2}KW^{1/2}`).

    The kernel is built straight into the buffer that LAPACK factors, and is
    not kept: two n × n arrays at the peak, one afterwards. ``jitter`` is
    :math:`j`, traced; the caller retries with the next value of
    ``fairkl.linalg.jitter_tries`` when the factor is not finite.
    """
    K = x_kernel(kernel)(X, sigma=sigma)
    if sqrt_w is not None:
        K = sqrt_w[:, None] * K * sqrt_w[None, :]
    return cholesky(add_diagonal(K, lam + jitter))


@partial(jax.jit, static_argnames=("kernel", "weighted"))
def fit_krr(X, y, sigma, lam, sqrt_w, jitter=0.0, kernel="rbf", weighted=True):
    r"""Compiled (weighted) kernel ridge regression (``mu = 0``) for standardised ``y``.

    With weights :math:`w` it minimises
    :math:`\frac{1}{\sum w}[\sum_i w_i (y_i - f_i)^2 + \lambda \alpha^\top K\alpha]`
    by the symmetric form :math:`\alpha = W^{1/2}\beta`,
    :math:`\beta = (W^{1/2}KW^{1/2} + \lambda I)^{-1}W^{1/2}y` (as scikit-learn's
    KernelRidge); integer weights equal repeated samples. ``sqrt_w`` is
    :math:`\sqrt{w}` (ones for an unweighted fit; ignored when the static
    ``weighted`` is False). One n × n array (the factor): the residuals and
    :math:`\alpha^\top K\alpha` follow from :math:`W^{1/2}KW^{1/2}\beta = W^{1/2}y - s\beta`.
    Returns a :class:`FitResult`.
    """
    sw = sqrt_w if weighted else ops.ones_like(y)
    chol = ridge_factor(X, sigma, lam, jitter, kernel, sqrt_w if weighted else None)
    shift = lam + jitter
    beta = cho_solve(chol, sw * y)
    r = shift * beta  # = W^{1/2} (y - K alpha)
    J = (ops.sum(r * r) + lam * ops.sum(beta * (sw * y - r))) / ops.sum(sw * sw)
    return _closed_form(sw * beta, J, factor_condition(chol), jitter, ops.zeros_like(sigma))


@partial(jax.jit, static_argnames=("kernel_q", "auto_sigma_q", "kernel"))
def fit_hsic(
    X, y, q, sigma, lam, mu, sigma_q, jitter=0.0, kernel_q="rbf", auto_sigma_q=False, kernel="rbf"
):
    r"""Compiled exact HSIC-penalised fit by LU (the fallback when :math:`\tilde L` has no small factor).

    Solves :math:`(K + \lambda I + \tfrac{\mu}{n}\tilde LK)\alpha = y`; the
    Cholesky factor of :math:`K + \lambda I` is computed afterwards, only to
    estimate the conditioning, and the objective's products with :math:`K`
    and :math:`L` by row blocks. XLA still holds about five n × n arrays
    (the LU path is the one exact fit that is not lean; the pipeline uses it
    only when :math:`\tilde L` has no exact factor of rank < n/4).
    Returns a :class:`FitResult`.
    """
    sigma_q = _bandwidth(q, sigma_q, auto_sigma_q)
    alpha = fkl_hsic_solve(
        x_kernel(kernel)(X, sigma=sigma), centered_kernel(q, sigma_q, kernel_q), y, lam, mu
    )
    f = kernel_matvec(X, X, alpha, sigma, kernel)
    r = y - f
    n = y.shape[0]
    fc = f - ops.sum(f) / n  # f^T (HLH) f = (Hf)^T L (Hf), with L f by blocks (no n x n matrix)
    Lf = (
        kernel_matvec(q, q, fc, sigma_q, "rbf")
        if kernel_q == "rbf"
        else ops.matmul(q, ops.matmul(fc, q))
    )
    J = (ops.sum(r * r) + lam * ops.sum(alpha * f)) / n + mu * ops.sum(fc * Lf) / (n * n)
    chol = ridge_factor(X, sigma, lam, jitter, kernel)
    return _closed_form(alpha, J, factor_condition(chol), jitter, sigma_q)


@partial(jax.jit, static_argnames=("kernel",))
def fit_hsic_woodbury(X, y, B, sigma, lam, mu, sigma_q, jitter=0.0, kernel="rbf"):
    r"""Compiled exact HSIC-penalised fit from a rank-r factor :math:`\tilde L = BB^\top`.

    The same :math:`\alpha` as :func:`fit_hsic` when the factor is exact, from
    one Cholesky and O(n² r) work (:func:`fkl_hsic_from_factor`): one n × n
    array in all.
    """
    chol = ridge_factor(X, sigma, lam, jitter, kernel)
    alpha, J = fkl_hsic_from_factor(chol, lam + jitter, B, y, lam, mu)
    return _closed_form(alpha, J, factor_condition(chol), jitter, sigma_q)


@partial(jax.jit, static_argnames=("kernel_q", "auto_sigma_q", "auto_sigma_f", "kernel"))
def fit_cka(
    X,
    y,
    q,
    sigma,
    lam,
    mu,
    sigma_q,
    sigma_f,
    epochs,
    lr,
    tol,
    kernel_q="rbf",
    auto_sigma_q=False,
    auto_sigma_f=False,
    kernel="rbf",
):
    """Compiled CKA-penalised fit, one program from inputs to coefficients: a :class:`FitResult`.

    The dense form (stored smoother, :func:`cka_descent`): fastest for small
    n and vmappable over every traced argument (see :func:`fit_cka_batch`);
    :func:`fit_cka_lean` is the same fit in one or two n × n arrays.
    """
    sigma_q = _bandwidth(q, sigma_q, auto_sigma_q)
    sigma_f = _bandwidth(y[:, None], sigma_f, auto_sigma_f)
    K = x_kernel(kernel)(X, sigma=sigma)
    pen = CKAPenalty.make(centered_kernel(q, sigma_q, kernel_q), sigma_f)
    return cka_descent(K, y, lam, mu, pen, epochs, lr, tol)._replace(sigma_q=sigma_q)


@partial(jax.jit, static_argnames=("kernel_q", "kernel"))
def fit_cka_lean(
    X,
    y,
    q,
    B,
    sigma,
    lam,
    mu,
    sigma_q,
    sigma_f,
    epochs,
    lr,
    tol,
    jitter=0.0,
    kernel_q="rbf",
    kernel="rbf",
):
    r"""Compiled CKA-penalised fit holding the Cholesky factor only (:func:`cka_descent_factor`).

    ``B`` is an exact centred factor of the kernel on ``q`` (:math:`\tilde L = BB^\top`,
    e.g. one column per group) or None, in which case the dense :math:`\tilde L`
    is built (a second n × n array). The kernel on ``X`` is never stored.
    """
    chol = ridge_factor(X, sigma, lam, jitter, kernel)
    condition, chol = factor_condition_passing(chol)
    if B is not None:
        pen = BlockedCKA.make(sigma_f, B=B)
    else:
        pen = BlockedCKA.make(sigma_f, Lc=centered_kernel(q, sigma_q, kernel_q))
    return cka_descent_factor(
        chol, jitter, y, lam, mu, pen, epochs, lr, tol, condition=condition
    )._replace(sigma_q=sigma_q)


@partial(jax.jit, static_argnames=("kernel_q", "kernel"))
def fit_cka_batch(
    X, y, q, sigma_f, tol, sigmas, lams, mus, sigma_qs, lrs, epochs, kernel_q="rbf", kernel="rbf"
):
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
        return fit_cka(
            X, y, q, sigma, lam, mu, sigma_q, sigma_f, ep, lr, tol, kernel_q=kernel_q, kernel=kernel
        )

    return jax.lax.map(one, (sigmas, lams, mus, sigma_qs, lrs, epochs))


@partial(jax.jit, static_argnames=("kernel",))
def hsic_path_program(X, y, B, sigma, lam, mus, kernel="rbf"):
    """Compiled μ-path: returns ``(alphas, jitter)`` (see :func:`fkl_hsic_path`)."""
    return fkl_hsic_path(x_kernel(kernel)(X, sigma=sigma), B, y, lam, mus)


def kernel_matvec(X_new, X_fit, v, sigma, kernel: str = "rbf", block: int = 512):
    r""":math:`k(X_{new}, X_{fit})\,v` in row blocks of ``X_new``: O(block · n) memory, no n × n kernel."""
    k = x_kernel(kernel)
    m, d = X_new.shape
    nb = -(-m // block)
    rows = jnp.pad(X_new, ((0, nb * block - m), (0, 0)), mode="edge").reshape(nb, block, d)
    out = jax.lax.map(lambda xb: ops.matmul(k(xb, X_fit, sigma=sigma), v), rows)
    return out.reshape((nb * block,) + tuple(v.shape[1:]))[:m]


#: Rows of the smallest padded prediction block (see :func:`predict_program`), and the budget
#: (kernel entries, 2**22 = 32 MB in float64) that caps the padding when the fit has many rows.
PREDICT_MIN_ROWS = 256
PREDICT_PAD_BUDGET = 1 << 22


def predict_rows(m: int, n_fit: int) -> int:
    """The padded row count of a prediction of ``m`` rows from ``n_fit`` training rows.

    The next power of two, and at least ``PREDICT_MIN_ROWS`` while that block of
    the kernel stays within ``PREDICT_PAD_BUDGET`` entries: predictions on the
    validation rows, the training rows and a single row then share one program.
    """
    floor = max(1, min(PREDICT_MIN_ROWS, PREDICT_PAD_BUDGET // max(n_fit, 1)))
    return max(1 << max(m - 1, 0).bit_length(), floor)


@partial(jax.jit, static_argnames=("kernel",))
def _predict(X_new, X_fit, alpha, sigma, kernel="rbf"):
    return ops.matmul(x_kernel(kernel)(X_new, X_fit, sigma=sigma), alpha)


def predict_program(X_new, X_fit, alpha, sigma, kernel="rbf"):
    """Compiled prediction :math:`k(X_{new}, X_{fit})\\,\\alpha` (``alpha`` of shape (n,) or (n, m)).

    Called with concrete arrays, ``X_new`` is padded (by repeating its last
    row) to :func:`~fairkl.solvers.programs.predict_rows` rows and the result cut back, on the host
    (NumPy: an eager pad or slice would compile programs of its own), and a
    NumPy array is returned. The program is then compiled per padded size, not
    per number of rows (a stock search predicts on its 50 validation rows and
    on its 150 training rows: one program). Each row's prediction depends on
    that row alone, so the padding changes no value. Inside a trace (``jit``,
    ``vmap``: any argument traced) the shapes are fixed anyway: nothing is
    padded and the result is traced.
    """
    m = X_new.shape[0]
    if m == 0 or any(isinstance(a, jax.core.Tracer) for a in (X_new, X_fit, alpha, sigma)):
        return _predict(X_new, X_fit, alpha, sigma, kernel=kernel)
    rows = predict_rows(m, X_fit.shape[0])
    if rows > m:
        X_new = np.pad(np.asarray(X_new), ((0, rows - m), (0, 0)), mode="edge")
    return np.asarray(_predict(X_new, X_fit, alpha, sigma, kernel=kernel))[:m]
