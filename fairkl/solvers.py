r"""Solvers for fair kernel ridge regression.

The objective (one convention, used by every code path)
-------------------------------------------------------
With training kernel :math:`K = k(X, X)`, standardised targets
:math:`\tilde y = y / s_y` (:math:`s_y` the standard deviation of ``y``; no
centring, exactly like :class:`sklearn.kernel_ridge.KernelRidge`, which fits no
intercept) and training predictions :math:`f = K\alpha`,

.. math::
   J(\alpha) = \frac1n\Big[\lVert \tilde y - K\alpha\rVert^2
               + \lambda\,\alpha^\top K \alpha\Big] + \mu\, D(K\alpha, q).

* :math:`\lambda` is scikit-learn's ``alpha``: at :math:`\mu = 0` the minimiser
  is :math:`\alpha = (K + \lambda I)^{-1}\tilde y`, the KernelRidge solution.
* Dividing by :math:`n` and measuring on :math:`\tilde y` makes :math:`\mu`
  independent of the sample size and of the units of ``y``.
* The penalty :math:`D` is either

  - ``"hsic"``: :math:`f^\top \tilde L f / n^2`, biased HSIC with a linear
    kernel on the predictions and :math:`\tilde L = HLH`, :math:`L = l(q, q)`.
    The objective is quadratic; its minimiser solves
    :math:`(K + \lambda I + \tfrac{\mu}{n}\tilde L K)\,\alpha = \tilde y`
    (Pérez-Suay et al., 2017), a non-symmetric system solved by LU;
  - ``"cka"``: biased CKA between an RBF kernel on the predictions
    (bandwidth :math:`\sigma_f`, fixed before optimisation) and :math:`L`.
    Not quadratic: solved iteratively (:func:`cka_descent`).

Every function here is pure, works on ``keras.ops`` tensors and runs inside
``jax.jit``; the ``fit_*`` programs at the bottom are the compiled entry
points used by :class:`fairkl.FairKernelRidge` (one XLA program per fit).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
from keras import ops

from fairkl._ops import eps as _eps
from fairkl._ops import mean
from fairkl.dependence import _normalise
from fairkl.kernels import center_kernel, linear_kernel, median_heuristic, rbf_kernel

# --------------------------------------------------------------------------
# Linear algebra
# --------------------------------------------------------------------------

#: Number of times :func:`cholesky_jitter` multiplies the jitter by 10.
JITTER_TRIES = 12


def cholesky_jitter(A):
    r"""Cholesky factor of a symmetric positive (semi-)definite matrix, with jitter.

    Tries :math:`A`, then :math:`A + jI` with
    :math:`j = \varepsilon\,\overline{\operatorname{diag} A}\cdot 10^k`,
    :math:`k = 0, 1, \dots`, until the factorisation is finite.

    Parameters
    ----------
    A : tensor of shape (n, n)

    Returns
    -------
    chol : tensor of shape (n, n)
        Lower-triangular factor of :math:`A + jI` (NaN if every try failed).
    jitter : scalar tensor
        The :math:`j` that was added (0 if none was needed).
    """
    n = A.shape[0]
    eye = ops.eye(n, dtype=A.dtype)
    base = _eps(A.dtype) * ops.maximum(mean(ops.abs(ops.diagonal(A))), 1e-30)

    def factor(j):
        return ops.cholesky(A + j * eye)

    def ok(c):
        return ops.all(ops.isfinite(c))

    def cond(k, _, c):
        return ops.logical_and(k < JITTER_TRIES, ops.logical_not(ok(c)))

    def body(k, _, __):
        j = base * ops.power(ops.cast(10.0, A.dtype), ops.cast(k, A.dtype))
        return k + 1, j, factor(j)

    zero = ops.zeros((), dtype=A.dtype)
    _, jitter, chol = ops.while_loop(cond, body, (0, zero, factor(zero)))
    return chol, jitter


def cho_solve(chol, b):
    """Solve :math:`(LL^\\top) x = b` from the lower Cholesky factor ``L``.

    Two triangular solves, O(n^2) per right-hand side; no re-factorisation.
    """
    z = ops.solve_triangular(chol, b, lower=True)
    return ops.solve_triangular(ops.transpose(chol), z, lower=False)


def pivoted_cholesky(L, rank: int, tol):
    r"""Low-rank factor :math:`G` (n × rank) with :math:`L \approx GG^\top`.

    Greedy diagonal pivoting (Harbrecht et al., 2012). Columns are added while
    the trace of the residual :math:`L - GG^\top` (a PSD matrix) exceeds
    ``tol * tr(L)``; the remaining columns are zero.

    Returns
    -------
    G : tensor of shape (n, rank)
    residual : scalar tensor
        :math:`\operatorname{tr}(L - GG^\top) / \operatorname{tr}(L)`.
    """
    n = L.shape[0]
    diag0 = ops.diagonal(L)
    total = ops.maximum(ops.sum(diag0), 1e-300 if "64" in str(L.dtype) else 1e-30)

    def body(k, state):
        G, d = state
        i = ops.argmax(d)
        pivot = ops.take(d, i)
        active = ops.sum(ops.maximum(d, 0.0)) > tol * total
        col = ops.take(L, i, axis=1) - ops.matmul(G, ops.take(G, i, axis=0))
        g = ops.where(active & (pivot > 0), col / ops.sqrt(ops.where(pivot > 0, pivot, 1.0)), 0.0)
        G = ops.slice_update(G, (0, k), g[:, None])
        return G, d - g * g

    G0 = ops.zeros((n, rank), dtype=L.dtype)
    G, d = ops.fori_loop(0, rank, body, (G0, diag0))
    return G, ops.sum(ops.maximum(d, 0.0)) / total


# --------------------------------------------------------------------------
# Kernel on the sensitive attribute
# --------------------------------------------------------------------------

def sensitive_kernel(q, sigma_q, kernel_q: str):
    """Kernel matrix :math:`L = l(q, q)`: ``"rbf"`` with bandwidth ``sigma_q`` or ``"linear"``."""
    if kernel_q == "linear":
        return linear_kernel(q)
    return rbf_kernel(q, sigma=sigma_q)


# --------------------------------------------------------------------------
# Objective
# --------------------------------------------------------------------------

class CKAPenalty(NamedTuple):
    """What the CKA penalty needs of the sensitive attribute, computed once per fit."""

    Lc: object  #: centred sensitive kernel HLH
    hll: object  #: biased HSIC(L, L)
    sigma_f: object  #: RBF bandwidth on (standardised) predictions


def make_cka_penalty(L, sigma_f) -> CKAPenalty:
    """Precompute the centred sensitive kernel for :func:`cka_penalty`."""
    n = L.shape[0]
    Lc = center_kernel(L)
    return CKAPenalty(Lc, ops.sum(Lc * Lc) / (n * n), sigma_f)


def cka_penalty(f, pen: CKAPenalty):
    r"""Biased CKA between an RBF kernel on ``f`` and the sensitive kernel.

    0 (with zero gradient) when ``f`` or ``q`` is constant.
    """
    n = f.shape[0]
    Kf = rbf_kernel(f[:, None], sigma=pen.sigma_f)
    hfl = ops.sum(Kf * pen.Lc) / (n * n)  # Lc is centred: tr(H Kf H Lc) = sum(Kf * Lc)
    Kfc = center_kernel(Kf)
    hff = ops.sum(Kfc * Kfc) / (n * n)
    return _normalise(hfl, hff, pen.hll, 1.0)


def hsic_penalty(f, Lc):
    r"""Biased HSIC with a linear kernel on ``f``: :math:`f^\top \tilde L f / n^2`."""
    n = f.shape[0]
    return ops.sum(f * ops.matmul(Lc, f)) / (n * n)


def data_term(alpha, K, y, lam):
    r""":math:`\frac1n[\lVert y - K\alpha\rVert^2 + \lambda\alpha^\top K\alpha]`."""
    n = K.shape[0]
    f = ops.matmul(K, alpha)
    r = y - f
    return (ops.sum(r * r) + lam * ops.sum(alpha * f)) / n


def objective(alpha, K, y, lam, mu, penalty):
    r"""The fair objective :math:`J(\alpha)` for a penalty function ``penalty(f)``."""
    return data_term(alpha, K, y, lam) + mu * penalty(ops.matmul(K, alpha))


def objective_and_grad(alpha, K, y, lam, mu, penalty):
    r""":math:`J(\alpha)` and :math:`\nabla_\alpha J = K\,[\tfrac2n(K\alpha + \lambda\alpha - y) + \mu\nabla_f D]`.

    The data-term gradient is analytic; :math:`\nabla_f D` is by automatic
    differentiation. This is the gradient the iterative solver uses.
    """
    n = K.shape[0]
    f = ops.matmul(K, alpha)
    D, g_f = jax.value_and_grad(penalty)(f)
    r = y - f
    J = (ops.sum(r * r) + lam * ops.sum(alpha * f)) / n + mu * D
    grad = ops.matmul(K, (2.0 / n) * (f + lam * alpha - y) + mu * g_f)
    return J, grad


# --------------------------------------------------------------------------
# Exact solvers
# --------------------------------------------------------------------------

def krr_solve(K, y, lam):
    r"""Kernel ridge regression :math:`\alpha = (K + \lambda I)^{-1} y` by Cholesky with jitter.

    Returns ``(alpha, chol, jitter)``; ``chol`` factors :math:`K + \lambda I + jI`.
    """
    n = K.shape[0]
    chol, jitter = cholesky_jitter(K + lam * ops.eye(n, dtype=K.dtype))
    return cho_solve(chol, y), chol, jitter


def fkl_hsic_solve(K, Lc, y, lam, mu):
    r"""Exact minimiser for the HSIC penalty: LU solve of
    :math:`(K + \lambda I + \tfrac{\mu}{n}\tilde L K)\alpha = y`.
    """
    n = K.shape[0]
    A = K + lam * ops.eye(n, dtype=K.dtype) + (mu / n) * ops.matmul(Lc, K)
    return ops.solve(A, y)


def fkl_hsic_path(K, B, y, lam, mus):
    r"""HSIC-penalised solutions for many :math:`\mu` from one Cholesky factorisation.

    With :math:`\tilde L = BB^\top` (rank r), :math:`C = K + \lambda I` and
    :math:`t = \mu / n`, the Woodbury identity gives

    .. math::
       \alpha(t) = \alpha_0 - t\, C^{-1}B\,(I_r + t\,S)^{-1} B^\top K \alpha_0,
       \qquad \alpha_0 = C^{-1}y,\quad S = B^\top K C^{-1} B .

    :math:`S` is symmetric PSD, so one eigendecomposition :math:`S = Q\Lambda Q^\top`
    makes every further :math:`\mu` cost O(nr).

    Returns
    -------
    alphas : tensor of shape (len(mus), n)
    jitter : scalar tensor
    """
    n = K.shape[0]
    alpha0, chol, jitter = krr_solve(K, y, lam)
    Z = cho_solve(chol, B)  # C^{-1} B, (n, r)
    KZ = ops.matmul(K, Z)
    S = ops.matmul(ops.transpose(B), KZ)
    S = 0.5 * (S + ops.transpose(S))
    evals, Q = ops.eigh(S)
    evals = ops.maximum(evals, 0.0)
    v = ops.matmul(ops.transpose(Q), ops.matmul(ops.transpose(B), ops.matmul(K, alpha0)))
    t = mus[:, None] / n
    coef = t * v[None, :] / (1.0 + t * evals[None, :])  # (m, r)
    return alpha0[None, :] - ops.matmul(coef, ops.transpose(ops.matmul(Z, Q))), jitter


# --------------------------------------------------------------------------
# Iterative solver for the CKA penalty
# --------------------------------------------------------------------------

class DescentResult(NamedTuple):
    alpha: object
    objective: object
    decrement: object  #: stationarity measure <grad J, d> at the returned point
    n_iter: object
    converged: object


def cka_descent(K, y, lam, mu, pen: CKAPenalty, epochs, lr, tol):
    r"""Minimise :math:`J` with the CKA penalty by preconditioned descent.

    The step direction is the gradient preconditioned by the inverse Hessian
    of the data term, :math:`P = \tfrac n2 (K(K+\lambda I))^{-1}`:

    .. math:: d = P\nabla J = \alpha - \alpha_0 + \tfrac{n\mu}{2}(K + \lambda I)^{-1}\nabla_f D,

    so that at :math:`\mu = 0` a unit step lands on the exact solution
    :math:`\alpha_0 = (K+\lambda I)^{-1}y`, whatever the conditioning of
    :math:`K`. The iteration starts at :math:`\alpha_0` (so the fit tends to the
    :math:`\mu = 0` fit as :math:`\mu \to 0`), takes a first step of size
    ``lr``, then Barzilai–Borwein steps in the metric :math:`P^{-1}`, each
    accepted only if it passes an Armijo test (else halved). :math:`J` never
    increases, so the iteration cannot diverge.

    It stops when the decrement :math:`\nabla J^\top d \le` ``tol``
    (converged; this is about twice the distance to a stationary value of
    :math:`J`) or after ``epochs`` trial steps (not converged).

    ``epochs``, ``lr`` and ``tol`` are traced values: changing them does not
    recompile.
    """
    n = K.shape[0]
    dtype = K.dtype
    alpha0, chol, _ = krr_solve(K, y, lam)
    penalty = partial(cka_penalty, pen=pen)
    vg = jax.value_and_grad(penalty)
    eps = _eps(dtype)

    def evaluate(alpha, f):
        D, g_f = vg(f)
        r = y - f
        J = (ops.sum(r * r) + lam * ops.sum(alpha * f)) / n + mu * D
        d = alpha - alpha0 + (0.5 * n * mu) * cho_solve(chol, g_f)
        Kd = ops.matmul(K, d)
        # <grad J, d> = (2/n)(f + lam*alpha - y).Kd + mu * g_f.Kd  (>= 0)
        dec = ops.sum(((2.0 / n) * (f + lam * alpha - y) + mu * g_f) * Kd)
        return J, d, Kd, dec

    f0 = ops.matmul(K, alpha0)
    J0, d0, Kd0, dec0 = evaluate(alpha0, f0)
    one = ops.ones((), dtype=dtype)
    state0 = (0, alpha0, f0, J0, d0, Kd0, dec0, one * lr)

    def cond(it, alpha, f, J, d, Kd, dec, t):
        return (it < epochs) & (dec > tol) & (t > 1e3 * eps)

    def body(it, alpha, f, J, d, Kd, dec, t):
        a_new = alpha - t * d
        f_new = f - t * Kd
        J_new, d_new, Kd_new, dec_new = evaluate(a_new, f_new)
        # Armijo test with slack for rounding in J.
        accept = ops.isfinite(J_new) & (J_new <= J - 1e-4 * t * dec + 8.0 * eps * ops.abs(J))
        # Barzilai-Borwein step in the metric P^{-1} = (2/n) K (K + lam I):
        # t = <s, s>_P^{-1} / <s, y>_P^{-1}, s = -t d, y = d_new - d (both scale with P^{-1}).
        Ks = -t * Kd
        num = ops.sum(Ks * Ks) + lam * ops.sum(-t * d * Ks)
        dKd = Kd_new - Kd
        den = ops.sum(Ks * dKd) + lam * ops.sum(-t * d * dKd)
        bb = ops.where(den > 0, num / ops.where(den > 0, den, 1.0), 1.0)
        t_acc = ops.clip(bb, 1e-6, 1e3)
        pick = lambda a, b: ops.where(accept, a, b)  # noqa: E731
        return (
            it + 1,
            pick(a_new, alpha),
            pick(f_new, f),
            pick(J_new, J),
            pick(d_new, d),
            pick(Kd_new, Kd),
            pick(dec_new, dec),
            pick(t_acc, 0.5 * t),
        )

    it, alpha, _, J, _, _, dec, _ = ops.while_loop(cond, body, state0)
    return DescentResult(alpha, J, dec, it, dec <= tol)


# --------------------------------------------------------------------------
# Compiled fit programs (one XLA program each; hyperparameters are traced)
# --------------------------------------------------------------------------

def _bandwidth(values, given, auto: bool):
    return median_heuristic(values) if auto else given


@partial(jax.jit, static_argnames=())
def fit_krr(X, y, sigma, lam):
    """Compiled KRR fit: returns ``(alpha, jitter)`` for standardised ``y``."""
    alpha, _, jitter = krr_solve(rbf_kernel(X, sigma=sigma), y, lam)
    return alpha, jitter


@partial(jax.jit, static_argnames=("kernel_q", "auto_sigma_q"))
def fit_hsic(X, y, q, sigma, lam, mu, sigma_q, kernel_q="rbf", auto_sigma_q=False):
    """Compiled exact HSIC-penalised fit: returns ``(alpha, sigma_q)``."""
    sigma_q = _bandwidth(q, sigma_q, auto_sigma_q)
    K = rbf_kernel(X, sigma=sigma)
    Lc = center_kernel(sensitive_kernel(q, sigma_q, kernel_q))
    return fkl_hsic_solve(K, Lc, y, lam, mu), sigma_q


@partial(jax.jit, static_argnames=("kernel_q", "rank"))
def hsic_path_program(X, y, q, sigma, lam, mus, sigma_q, tol, kernel_q="rbf", rank=64):
    """Compiled μ-path: returns ``(alphas, residual, jitter)`` (see :func:`fkl_hsic_path`)."""
    K = rbf_kernel(X, sigma=sigma)
    G, residual = pivoted_cholesky(sensitive_kernel(q, sigma_q, kernel_q), rank, tol)
    B = G - mean(G, axis=0, keepdims=True)  # H G, so that HLH ~ B B^T
    alphas, jitter = fkl_hsic_path(K, B, y, lam, mus)
    return alphas, residual, jitter


@partial(jax.jit, static_argnames=("kernel_q", "auto_sigma_q", "auto_sigma_f"))
def fit_cka(
    X, y, q, sigma, lam, mu, sigma_q, sigma_f, epochs, lr, tol,
    kernel_q="rbf", auto_sigma_q=False, auto_sigma_f=False,
):
    """Compiled CKA-penalised fit: one program from inputs to coefficients.

    Returns ``(DescentResult, sigma_q, sigma_f)``.
    """
    sigma_q = _bandwidth(q, sigma_q, auto_sigma_q)
    sigma_f = _bandwidth(y[:, None], sigma_f, auto_sigma_f)
    K = rbf_kernel(X, sigma=sigma)
    pen = make_cka_penalty(sensitive_kernel(q, sigma_q, kernel_q), sigma_f)
    return cka_descent(K, y, lam, mu, pen, epochs, lr, tol), sigma_q, sigma_f


@jax.jit
def predict_program(X_new, X_fit, alpha, sigma):
    """Compiled prediction :math:`k(X_{new}, X_{fit})\\,\\alpha`."""
    return ops.matmul(rbf_kernel(X_new, X_fit, sigma=sigma), alpha)
