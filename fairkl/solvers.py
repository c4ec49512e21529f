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
points used by :class:`fairkl.models.FairKernelRidge` (one XLA program per fit).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
from keras import ops

from fairkl._ops import eps as _eps
from fairkl._ops import mean
from fairkl.dependence import _normalise, centered_tiny
from fairkl.kernels import center_kernel, centered_rbf_kernel, linear_kernel, median_heuristic, rbf_kernel

# --------------------------------------------------------------------------
# Linear algebra
# --------------------------------------------------------------------------

#: Number of times :func:`cholesky_jitter` multiplies the jitter by 10.
JITTER_TRIES = 12


@jax.jit
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

def centered_sensitive_kernel(q, sigma_q, kernel_q: str):
    """:math:`HLH` for the kernel on ``q`` (accurate centring for the RBF kernel)."""
    if kernel_q == "linear":
        return center_kernel(linear_kernel(q))
    return centered_rbf_kernel(q, sigma_q)


class CKAPenalty(NamedTuple):
    """What the CKA penalty needs, fixed before optimisation (build with ``CKAPenalty.make``)."""

    Lc: object  #: centred sensitive kernel HLH
    sigma_f: object  #: RBF bandwidth on (standardised) predictions
    hll: object  #: biased HSIC(L, L)

    @classmethod
    def make(cls, Lc, sigma_f) -> "CKAPenalty":
        n = Lc.shape[0]
        return cls(Lc, sigma_f, ops.sum(Lc * Lc) / (n * n))


def cka_penalty(f, pen: CKAPenalty):
    r"""Biased CKA between an RBF kernel on ``f`` (bandwidth ``pen.sigma_f``) and ``pen.Lc``.

    The hot function of the iterative solver, written for few passes over
    the n × n kernel. With :math:`E = K_f - 11^\top` (computed by ``expm1``,
    accurate when predictions are nearly constant; centring removes the
    :math:`11^\top`):

    .. math::
       n^2\,\mathrm{HSIC}(K_f, L) = \langle E, \tilde L\rangle,\qquad
       n^2\,\mathrm{HSIC}(K_f, K_f) = \lVert E\rVert^2 - \tfrac2n\lVert E1\rVert^2
       + \tfrac{(1^\top E 1)^2}{n^2},

    since :math:`\tilde L` is centred and :math:`\lVert HEH\rVert^2` expands so.
    Equal to :func:`fairkl.dependence.cka_rbf` with the same bandwidths; 0,
    with zero gradient, when ``f`` is exactly constant.
    """
    n = f.shape[0]
    d = f[:, None] - f[None, :]
    E = ops.expm1(-(d * d) / (2.0 * pen.sigma_f * pen.sigma_f))
    rows = ops.sum(E, axis=1)
    total = ops.sum(rows)
    hfl = ops.sum(E * pen.Lc) / (n * n)
    hff = (ops.sum(E * E) - (2.0 / n) * ops.sum(rows * rows) + total * total / (n * n)) / (n * n)
    return _normalise(hfl, ops.maximum(hff, 0.0), pen.hll, centered_tiny(f.dtype))


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


def preconditioned_gradient(z, y, mu, g_f):
    r""":math:`e = z - y + \tfrac{n\mu}{2}\nabla_f D` with :math:`z = (K + \lambda I)\alpha`.

    The gradient is :math:`\nabla_\alpha J = \tfrac2n K e`; :func:`cka_descent`
    steps along :math:`e` (preconditioned by the data term's Hessian).
    """
    n = z.shape[0]
    return z - y + (0.5 * n * mu) * g_f


def objective_and_grad(alpha, K, y, lam, mu, penalty):
    r""":math:`J(\alpha)` and :math:`\nabla_\alpha J = \tfrac2n K e` (see :func:`preconditioned_gradient`).

    The data-term gradient is analytic; :math:`\nabla_f D` is by automatic
    differentiation. The tests check this against finite differences; the
    iterative solver uses the same :func:`preconditioned_gradient`.
    """
    n = K.shape[0]
    f = ops.matmul(K, alpha)
    D, g_f = jax.value_and_grad(penalty)(f)
    r = y - f
    J = (ops.sum(r * r) + lam * ops.sum(alpha * f)) / n + mu * D
    e = preconditioned_gradient(f + lam * alpha, y, mu, g_f)
    return J, (2.0 / n) * ops.matmul(K, e)


# --------------------------------------------------------------------------
# Exact solvers
# --------------------------------------------------------------------------

def condition_estimate(A, chol, iters: int = 10):
    r"""Estimate of the 2-norm condition number of an SPD matrix from its Cholesky factor.

    ``iters`` steps of power iteration (largest eigenvalue) and of inverse
    iteration with the factor (smallest eigenvalue), then Rayleigh quotients:
    O(iters * n^2), negligible next to the factorisation. Accurate to a small
    factor for the kernel matrices met here (tested against ``numpy.linalg.cond``).
    """
    n = A.shape[0]
    # Deterministic start, not orthogonal to either end of the spectrum in practice.
    x0 = ops.cast(ops.cos(ops.cast(ops.arange(n), A.dtype) * 1.3) + 1.5, A.dtype)

    def unit(v):
        return v / ops.sqrt(ops.sum(v * v))

    top = ops.fori_loop(0, iters, lambda i, v: unit(ops.matmul(A, v)), unit(x0))
    bottom = ops.fori_loop(0, iters, lambda i, v: unit(cho_solve(chol, v)), unit(x0))
    rayleigh = lambda v: ops.sum(v * ops.matmul(A, v))  # noqa: E731
    return rayleigh(top) / ops.maximum(rayleigh(bottom), ops.sqrt(ops.sum(top * top)) * 1e-300)


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

class FitResult(NamedTuple):
    """What every compiled fit program returns (scalars are 0-d tensors)."""

    alpha: object  #: coefficients for the standardised targets
    objective: object  #: J at alpha
    decrement: object  #: stationarity measure of the iterative solver (0 for closed forms)
    n_iter: object  #: trial steps of the iterative solver (0 for closed forms)
    converged: object
    jitter: object  #: diagonal jitter the Cholesky factorisation of K + lam I needed
    condition: object  #: estimate of the condition number of K + lam I (+ jitter)
    sigma_q: object  #: bandwidth used on q
    sigma_f: object  #: bandwidth used on the standardised predictions


#: Number of (step, gradient change) pairs kept by the L-BFGS solver.
LBFGS_MEMORY = 8


def cka_descent(K, y, lam, mu, pen: CKAPenalty, epochs, lr, tol):
    r"""Minimise :math:`J` with the CKA penalty: preconditioned L-BFGS in a well-scaled variable.

    **Parametrisation.** Write :math:`\alpha = C^{-1}z` with
    :math:`C = K + \lambda I`, so that :math:`f = K\alpha = Sz` with the smoother
    :math:`S = KC^{-1} = I - \lambda C^{-1}` (eigenvalues in [0, 1)). Up to a
    constant,

    .. math:: J(z) = \tfrac1n (z - y)^\top S (z - y) + \mu D(Sz),

    and every quantity in the loop is of the order of ``y`` however ill-conditioned
    :math:`K` is; the coefficients :math:`\alpha` (which can be huge) are
    formed once at the end.

    **Preconditioning.** The gradient is :math:`\nabla_z J = \tfrac2n S e` with
    :math:`e = z - y + \tfrac{n\mu}2 \nabla_f D`, the gradient preconditioned
    by the inverse Hessian of the data term; at :math:`\mu = 0` one unit step
    along :math:`-e` lands on the exact solution. L-BFGS (memory
    ``LBFGS_MEMORY``) uses that preconditioner as its initial inverse Hessian,
    so it only has to learn the curvature of the penalty. :math:`S` is formed
    once; a step costs two products with it plus the penalty's gradient.

    **Safeguards.** Start at :math:`z = y` (the exact :math:`\mu = 0` solution,
    so the fit tends to the unpenalised fit as :math:`\mu \to 0`). The first
    step has length ``lr`` along :math:`-e`, later ones start at 1. A step is
    accepted only if it passes the Armijo test, else halved; a direction that
    is not a descent direction resets the memory. :math:`J` never increases:
    the iteration cannot diverge.

    **Stopping.** When the decrement :math:`\nabla J^\top e = \tfrac2n e^\top S e`
    (about twice the gap to a stationary value of :math:`J`) is at most
    ``tol`` (converged), or after ``epochs`` trial steps (not converged).
    ``epochs``, ``lr`` and ``tol`` are traced: changing them does not
    recompile.
    """
    n = K.shape[0]
    m = LBFGS_MEMORY
    dtype = K.dtype
    eye = ops.eye(n, dtype=dtype)
    chol, jitter = cholesky_jitter(K + lam * eye)
    # The smoother S = K C^{-1} = I - lam C^{-1}, formed once (O(n^3), like the
    # factorisation) so that each step costs matrix-vector products only.
    S = eye - (lam + jitter) * cho_solve(chol, eye)
    S = 0.5 * (S + ops.transpose(S))

    def smooth(v):
        return ops.matmul(S, v)

    vg = jax.value_and_grad(partial(cka_penalty, pen=pen))
    eps = _eps(dtype)
    f0 = smooth(y)
    data0 = ops.sum(y * (y - f0)) / n  # data term at the mu = 0 solution

    def evaluate(z):
        """J - data0, the preconditioned gradient e and S e."""
        f = smooth(z)
        D, g = vg(f)
        J = ops.sum((z - y) * (f - f0)) / n + mu * D
        e = preconditioned_gradient(z, y, mu, g)
        return J, e, smooth(e)

    def two_loop(e, Se, mem):
        """L-BFGS direction r ~ H grad (and S r), with H0 = gamma * (n/2) S^{-1}.

        Vectors are kept in 'pre-S' form: grad = S u with u = (2/n) e; the
        memory holds s (steps in z), Ss, w (changes of u) and Sw.
        """
        Sm, SSm, Wm, SWm, rho, count, gamma = mem
        u, Su = (2.0 / n) * e, (2.0 / n) * Se
        k = ops.minimum(count, m)

        # The memory is small and fixed: unrolled loops, no nested XLA loops.
        a = [None] * m
        for j in range(m):  # newest to oldest
            i = (count - 1 - j) % m
            a[j] = ops.where(j < k, rho[i] * ops.sum(SSm[i] * u), 0.0)
            u, Su = u - a[j] * Wm[i], Su - a[j] * SWm[i]
        r, Sr = gamma * (0.5 * n) * u, gamma * (0.5 * n) * Su
        for j in reversed(range(m)):  # oldest to newest
            i = (count - 1 - j) % m
            c = ops.where(j < k, a[j] - rho[i] * ops.sum(Wm[i] * Sr), 0.0)
            r, Sr = r + c * Sm[i], Sr + c * SSm[i]
        return r, Sr

    def remember(mem, s, Ss, w, Sw):
        Sm, SSm, Wm, SWm, rho, count, gamma = mem
        curv = ops.sum(Ss * w)  # s^T (grad change)
        wSw = ops.sum(w * Sw)
        ok = (curv > eps * ops.sqrt(ops.sum(s * Ss) * wSw)) & (wSw > 0)
        i = count % m
        put = lambda M, v: ops.where(ok, ops.slice_update(M, (i, 0), v[None, :]), M)  # noqa: E731
        return (
            put(Sm, s), put(SSm, Ss), put(Wm, w), put(SWm, Sw),
            ops.where(ok, ops.slice_update(rho, (i,), (1.0 / ops.where(ok, curv, 1.0))[None]), rho),
            ops.where(ok, count + 1, count),
            ops.where(ok, curv / ((0.5 * n) * ops.where(ok, wSw, 1.0)), gamma),
        )

    zeros_mn = ops.zeros((m, n), dtype=dtype)
    one = ops.ones((), dtype=dtype)
    mem0 = (zeros_mn, zeros_mn, zeros_mn, zeros_mn, ops.zeros((m,), dtype=dtype), 0, one)
    J0, e0, Se0 = evaluate(y)
    # state: it, z, J, e, Se, direction r (step is -t r), S r, t, memory
    state0 = (0, y, J0, e0, Se0, e0, Se0, one * lr, mem0)

    def decrement(e, Se):
        return (2.0 / n) * ops.sum(e * Se)

    def cond(it, z, J, e, Se, r, Sr, t, mem):
        return (it < epochs) & (decrement(e, Se) > tol) & (t > 1e3 * eps)

    def body(it, z, J, e, Se, r, Sr, t, mem):
        slope = (2.0 / n) * ops.sum(e * Sr)  # grad^T r > 0
        z_new = z - t * r
        J_new, e_new, Se_new = evaluate(z_new)
        accept = ops.isfinite(J_new) & (J_new <= J - 1e-4 * t * slope + 8.0 * eps * (ops.abs(J) + data0))
        mem_new = remember(mem, -t * r, -t * Sr, (2.0 / n) * (e_new - e), (2.0 / n) * (Se_new - Se))
        r_new, Sr_new = two_loop(e_new, Se_new, mem_new)
        descent = (2.0 / n) * ops.sum(e_new * Sr_new) > 0
        # Not a descent direction (non-convexity): forget the memory, use -e.
        mem_new = jax.tree_util.tree_map(lambda a, b: ops.where(descent, a, b), mem_new, mem0)
        r_new, Sr_new = ops.where(descent, r_new, e_new), ops.where(descent, Sr_new, Se_new)
        pick = lambda a, b: ops.where(accept, a, b)  # noqa: E731
        return (
            it + 1,
            pick(z_new, z),
            pick(J_new, J),
            pick(e_new, e),
            pick(Se_new, Se),
            pick(r_new, r),
            pick(Sr_new, Sr),
            pick(one, 0.5 * t),
            jax.tree_util.tree_map(pick, mem_new, mem),
        )

    it, z, J, e, Se, _, _, _, _ = ops.while_loop(cond, body, state0)
    dec = decrement(e, Se)
    return FitResult(
        cho_solve(chol, z), J + data0, dec, it, dec <= tol, jitter, _ridge_condition(K, lam, chol, jitter),
        ops.zeros_like(J), pen.sigma_f,
    )


# --------------------------------------------------------------------------
# Compiled fit programs (one XLA program each; hyperparameters are traced)
# --------------------------------------------------------------------------

def _bandwidth(values, given, auto: bool):
    return median_heuristic(values) if auto else given


def _closed_form(alpha, objective, condition, jitter, sigma_q):
    zero = ops.zeros_like(objective)
    return FitResult(alpha, objective, zero, 0, True, jitter, condition, sigma_q, zero)


def _ridge_condition(K, lam, chol, jitter):
    return condition_estimate(K + (lam + jitter) * ops.eye(K.shape[0], dtype=K.dtype), chol)


@jax.jit
def fit_krr(X, y, sigma, lam, sqrt_w):
    r"""Compiled (weighted) kernel ridge regression (``mu = 0``) for standardised ``y``.

    With weights :math:`w` it minimises
    :math:`\frac{1}{\sum w}[\sum_i w_i (y_i - f_i)^2 + \lambda \alpha^\top K\alpha]`
    by the symmetric form :math:`\alpha = W^{1/2}(W^{1/2}KW^{1/2} + \lambda I)^{-1}W^{1/2}y`
    (as scikit-learn's KernelRidge); integer weights equal repeated samples.
    ``sqrt_w`` is :math:`\sqrt{w}` (ones for an unweighted fit). Returns a :class:`FitResult`.
    """
    K = rbf_kernel(X, sigma=sigma)
    Kw = sqrt_w[:, None] * K * sqrt_w[None, :]
    beta, chol, jitter = krr_solve(Kw, sqrt_w * y, lam)
    alpha = sqrt_w * beta
    r = y - ops.matmul(K, alpha)
    J = (ops.sum(sqrt_w * sqrt_w * r * r) + lam * ops.sum(alpha * ops.matmul(K, alpha))) / ops.sum(sqrt_w * sqrt_w)
    return _closed_form(alpha, J, _ridge_condition(Kw, lam, chol, jitter), jitter, ops.zeros_like(sigma))


@partial(jax.jit, static_argnames=("kernel_q", "auto_sigma_q"))
def fit_hsic(X, y, q, sigma, lam, mu, sigma_q, kernel_q="rbf", auto_sigma_q=False):
    r"""Compiled exact HSIC-penalised fit: a :class:`FitResult`.

    The Cholesky factor of :math:`K + \lambda I` is computed too, only to
    estimate the conditioning of the problem (the solve itself is LU).
    """
    sigma_q = _bandwidth(q, sigma_q, auto_sigma_q)
    K = rbf_kernel(X, sigma=sigma)
    Lc = centered_sensitive_kernel(q, sigma_q, kernel_q)
    alpha = fkl_hsic_solve(K, Lc, y, lam, mu)
    chol, jitter = cholesky_jitter(K + lam * ops.eye(K.shape[0], dtype=K.dtype))
    J = data_term(alpha, K, y, lam) + mu * hsic_penalty(ops.matmul(K, alpha), Lc)
    return _closed_form(alpha, J, _ridge_condition(K, lam, chol, jitter), jitter, sigma_q)


@partial(jax.jit, static_argnames=("kernel_q", "rank"))
def _centered_factor_program(q, sigma_q, tol, kernel_q, rank):
    G, residual = pivoted_cholesky(sensitive_kernel(q, sigma_q, kernel_q), rank, tol)
    return G - mean(G, axis=0, keepdims=True), residual  # H G, so that HLH ~ (HG)(HG)^T


def centered_sensitive_factor(q, sigma_q, kernel_q: str, tol: float, start_rank: int = 64):
    r"""Low-rank :math:`B` with :math:`HLH \approx BB^\top`, exact to ``tol``.

    Pivoted Cholesky of :math:`L`; the rank starts at ``start_rank`` and grows
    fourfold (recompiling) until the left-out relative trace is at most
    ``tol`` or the rank reaches ``n`` (then the factor is exact). Exact with a
    few columns for one-hot groups or a linear kernel.

    Returns
    -------
    B : tensor of shape (n, rank)
    rank : int
    residual : float
        Relative trace of :math:`L` left out.
    """
    n = q.shape[0]
    rank = min(n, start_rank)
    while True:
        B, residual = _centered_factor_program(q, sigma_q, tol, kernel_q=kernel_q, rank=rank)
        if float(residual) <= tol or rank == n:
            return B, rank, float(residual)
        rank = min(n, rank * 4)


@jax.jit
def hsic_path_program(X, y, B, sigma, lam, mus):
    """Compiled μ-path: returns ``(alphas, jitter)`` (see :func:`fkl_hsic_path`)."""
    return fkl_hsic_path(rbf_kernel(X, sigma=sigma), B, y, lam, mus)


@jax.jit
def loo_krr_grid(K, y, lams):
    r"""Exact leave-one-out predictions of kernel ridge regression for many λ.

    One eigendecomposition :math:`K = U\operatorname{diag}(d)U^\top` gives the
    smoother :math:`H = K(K+\lambda I)^{-1}` for every λ, and the
    leave-one-out identity :math:`y_i - f^{(-i)}_i = (y_i - f_i)/(1 - H_{ii})`
    (exact for any penalised least squares whose penalty does not involve the
    held-out point). It does not extend to ``mu > 0``: the fairness penalty
    involves every training point, so :func:`kfold_hsic_grid` is used there.

    Parameters
    ----------
    K : tensor (n, n); y : tensor (n,); lams : tensor (L,), every value > 0

    Returns
    -------
    tensor of shape (L, n)
    """
    d, U = ops.eigh(K)
    d = ops.maximum(d, 0.0)
    Uty = ops.matmul(ops.transpose(U), y)
    U2 = U * U
    fac = d[None, :] / (d[None, :] + lams[:, None])  # (L, n)
    f = ops.matmul(fac * Uty[None, :], ops.transpose(U))
    h = ops.matmul(fac, ops.transpose(U2))
    return y[None, :] - (y[None, :] - f) / (1.0 - h)


@jax.jit
def kfold_hsic_grid(K_train, K_test_train, y, B, lams, mus):
    r"""Held-out predictions of the HSIC-penalised model for a grid of (λ, μ), for one fold.

    The exact solutions of :func:`fkl_hsic_path` for every λ and μ from one
    eigendecomposition of the training kernel: with :math:`C = K + \lambda I
    = U\operatorname{diag}(d + \lambda)U^\top`,

    .. math:: \alpha(\lambda, t) = C^{-1}y - t\,C^{-1}B(I + tS)^{-1}B^\top K C^{-1}y,

    :math:`S = B^\top K C^{-1} B`, :math:`t = \mu / n`, and the predictions
    :math:`K_{\text{test,train}}\,\alpha`. Cost: O(n^3) once, O(n^2 r) per λ,
    O(n r) per μ.

    Parameters
    ----------
    K_train : (n, n); K_test_train : (m, n); y : (n,); B : (n, r) with HLH ~ BB^T
        on the training points; lams : (L,) > 0; mus : (M,) >= 0

    Returns
    -------
    tensor of shape (L, M, m)
    """
    n = K_train.shape[0]
    d, U = ops.eigh(K_train)
    d = ops.maximum(d, 0.0)
    UtB = ops.matmul(ops.transpose(U), B)
    Uty = ops.matmul(ops.transpose(U), y)
    P = ops.matmul(K_test_train, U)  # (m, n)
    t = mus / n

    def per_lam(lam):
        inv = 1.0 / (d + lam)
        smooth = d * inv
        S = ops.matmul(ops.transpose(UtB), smooth[:, None] * UtB)  # B^T K C^-1 B
        evals, Q = ops.eigh(0.5 * (S + ops.transpose(S)))
        evals = ops.maximum(evals, 0.0)
        v = ops.matmul(ops.transpose(Q), ops.matmul(ops.transpose(UtB), smooth * Uty))  # Q^T B^T K C^-1 y
        base = ops.matmul(P, inv * Uty)  # K_te C^-1 y
        KZQ = ops.matmul(P, inv[:, None] * ops.matmul(UtB, Q))  # K_te C^-1 B Q
        coef = t[:, None] * v[None, :] / (1.0 + t[:, None] * evals[None, :])  # (M, r)
        return base[None, :] - ops.matmul(coef, ops.transpose(KZQ))

    return jax.vmap(per_lam)(lams)


@partial(jax.jit, static_argnames=("kernel_q", "auto_sigma_q", "auto_sigma_f"))
def fit_cka(
    X, y, q, sigma, lam, mu, sigma_q, sigma_f, epochs, lr, tol,
    kernel_q="rbf", auto_sigma_q=False, auto_sigma_f=False,
):
    """Compiled CKA-penalised fit, one program from inputs to coefficients: a :class:`FitResult`."""
    sigma_q = _bandwidth(q, sigma_q, auto_sigma_q)
    sigma_f = _bandwidth(y[:, None], sigma_f, auto_sigma_f)
    K = rbf_kernel(X, sigma=sigma)
    pen = CKAPenalty.make(centered_sensitive_kernel(q, sigma_q, kernel_q), sigma_f)
    return cka_descent(K, y, lam, mu, pen, epochs, lr, tol)._replace(sigma_q=sigma_q)


@jax.jit
def predict_program(X_new, X_fit, alpha, sigma):
    """Compiled prediction :math:`k(X_{new}, X_{fit})\\,\\alpha`."""
    return ops.matmul(rbf_kernel(X_new, X_fit, sigma=sigma), alpha)
