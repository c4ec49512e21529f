r"""The one L-BFGS of fairkl: preconditioned, for the CKA-penalised objectives, in optax's style.

:func:`minimize` is the loop; it takes the objective as a function
``x -> Point(x, J, e, Se)`` that returns, besides :math:`J`, the
*preconditioned gradient* :math:`e` and :math:`Se`, with

.. math::
   \nabla_x J = \tfrac2n\,S e ,

:math:`S` symmetric positive definite and :math:`n` the sample count. The
initial inverse Hessian is :math:`\gamma\,\tfrac n2 S^{-1}`, so the first
direction is :math:`e` itself, and :math:`S` is never inverted. Two callers:

* the exact CKA fit (:func:`cka_descent`, :func:`cka_descent_factor`):
  :math:`x = z = (K + \lambda I)\alpha`, :math:`S` the smoother
  :math:`K(K + \lambda I)^{-1}` (see :func:`evaluate`);
* the low-rank CKA fit (:func:`fairkl.solvers.lowrank.cka_lbfgs`): the
  whitened weights, :math:`S = I`, :math:`e = \tfrac n2\nabla J`.

The loop carries named state (:class:`Memory`, :class:`Point`, :class:`State`);
each phase is a small module-level pure function: :func:`two_loop` (the
L-BFGS direction), :func:`remember` (memory update), :func:`armijo`
(line-search test) and :func:`step` (one trial step). :func:`cka_descent`
documents the method.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
from keras import ops

from fairkl._constants import LBFGS_MEMORY, MIN_STEP_EPS
from fairkl._ops import eps as _eps
from fairkl.linalg import (
    add_diagonal,
    cho_solve,
    cholesky_jitter,
    factor_condition,
    ridge_condition,
)
from fairkl.solvers.objective import (
    BlockedCKA,
    CKAPenalty,
    cka_penalty,
    cka_value_and_grad,
    preconditioned_gradient,
)
from fairkl.solvers.result import FitResult


class Smoothed(NamedTuple):
    """The fixed parts of :math:`J(z) = \\tfrac1n (z-y)^\\top S (z-y) + \\mu D(Sz)` (up to a constant).

    ``smooth`` applies the smoother and ``penalty`` returns :math:`(D(f), \\nabla D(f))`;
    both are functions, so the dense form (a stored S, automatic differentiation)
    and the lean form (the Cholesky factor, ``cka_value_and_grad``)
    share the loop.
    """

    smooth: object  #: v -> S v with the symmetric smoother S = K (K + lam I)^{-1}
    y: object  #: standardised targets
    f0: object  #: S y, the mu = 0 predictions
    mu: object
    penalty: object  #: f -> (D, grad D)


class Point(NamedTuple):
    """An iterate with its objective, preconditioned gradient e and S e."""

    z: object
    J: object
    e: object
    Se: object


class Memory(NamedTuple):
    """L-BFGS memory in 'pre-S' form: steps s, S s, gradient changes w, S w (rows, ring buffer)."""

    s: object
    Ss: object
    w: object
    Sw: object
    rho: object  #: 1 / s^T (grad change)
    count: object  #: pairs stored so far
    gamma: object  #: scale of the initial inverse Hessian

    @classmethod
    def empty(cls, size: int, dtype) -> Memory:
        """No pairs stored, for a variable of ``size`` entries."""
        zeros = ops.zeros((LBFGS_MEMORY, size), dtype=dtype)
        return cls(
            zeros,
            zeros,
            zeros,
            zeros,
            ops.zeros((LBFGS_MEMORY,), dtype=dtype),
            0,
            ops.ones((), dtype=dtype),
        )


class State(NamedTuple):
    """Loop state: iteration, current point, direction r (step is -t r) and S r, step t, memory."""

    it: object
    point: Point
    r: object
    Sr: object
    t: object
    mem: Memory


def evaluate(z, prob: Smoothed) -> Point:
    """:math:`J(z) - J_0`, the preconditioned gradient e and S e."""
    n = z.shape[0]
    f = prob.smooth(z)
    D, g = prob.penalty(f)
    J = ops.sum((z - prob.y) * (f - prob.f0)) / n + prob.mu * D
    e = preconditioned_gradient(z, prob.y, prob.mu, g)
    return Point(z, J, e, prob.smooth(e))


def two_loop(e, Se, mem: Memory, n):
    """L-BFGS direction :math:`r \\approx H\\nabla J` (and S r), with :math:`H_0 = \\gamma\\,\\tfrac n2 S^{-1}`.

    The gradient is S u with u = (2/n) e. Two short loops over the memory
    (``fori_loop``: unrolled, the 2 × ``LBFGS_MEMORY`` passes made each fit
    program take ~0.4 s longer to compile, and each step ~20% longer to run).
    """
    m = LBFGS_MEMORY
    k = ops.minimum(mem.count, m)

    def newest_first(j, carry):
        u, Su, a = carry
        i = (mem.count - 1 - j) % m
        aj = ops.where(j < k, mem.rho[i] * ops.sum(mem.Ss[i] * u), 0.0)
        return u - aj * mem.w[i], Su - aj * mem.Sw[i], ops.slice_update(a, (j,), aj[None])

    u, Su, a = jax.lax.fori_loop(
        0, m, newest_first, ((2.0 / n) * e, (2.0 / n) * Se, ops.zeros((m,), dtype=e.dtype))
    )

    def oldest_first(jj, carry):
        r, Sr = carry
        j = m - 1 - jj
        i = (mem.count - 1 - j) % m
        c = ops.where(j < k, a[j] - mem.rho[i] * ops.sum(mem.w[i] * Sr), 0.0)
        return r + c * mem.s[i], Sr + c * mem.Ss[i]

    scale = mem.gamma * (0.5 * n)
    return jax.lax.fori_loop(0, m, oldest_first, (scale * u, scale * Su))


def remember(mem: Memory, s, Ss, w, Sw, n) -> Memory:
    """Store the pair (s, w) if its curvature is positive (else keep the memory)."""
    curv = ops.sum(Ss * w)  # s^T (grad change)
    wSw = ops.sum(w * Sw)
    ok = (curv > _eps(s.dtype) * ops.sqrt(ops.sum(s * Ss) * wSw)) & (wSw > 0)
    i = mem.count % LBFGS_MEMORY

    def put(M, v):
        return ops.where(ok, ops.slice_update(M, (i, 0), v[None, :]), M)

    rho = ops.where(
        ok, ops.slice_update(mem.rho, (i,), (1.0 / ops.where(ok, curv, 1.0))[None]), mem.rho
    )
    gamma = ops.where(ok, curv / ((0.5 * n) * ops.where(ok, wSw, 1.0)), mem.gamma)
    return Memory(
        put(mem.s, s),
        put(mem.Ss, Ss),
        put(mem.w, w),
        put(mem.Sw, Sw),
        rho,
        ops.where(ok, mem.count + 1, mem.count),
        gamma,
    )


def armijo(old: Point, new: Point, t, slope, scale):
    """Sufficient decrease (with a rounding allowance relative to ``scale``)."""
    allowance = 8.0 * _eps(new.J.dtype) * (ops.abs(old.J) + scale)
    return ops.isfinite(new.J) & (new.J <= old.J - 1e-4 * t * slope + allowance)


def decrement(p: Point, n):
    """:math:`\\nabla J^\\top e = \\tfrac2n e^\\top S e`, about twice the gap to a stationary value."""
    return (2.0 / n) * ops.sum(p.e * p.Se)


def step(state: State, fun, n, scale) -> State:
    """One trial step of :func:`minimize`: evaluate, update the memory and direction, accept or halve."""
    p, t = state.point, state.t
    slope = (2.0 / n) * ops.sum(p.e * state.Sr)  # grad^T r > 0
    new = fun(p.z - t * state.r)
    accept = armijo(p, new, t, slope, scale)
    mem = remember(
        state.mem,
        -t * state.r,
        -t * state.Sr,
        (2.0 / n) * (new.e - p.e),
        (2.0 / n) * (new.Se - p.Se),
        n,
    )
    r, Sr = two_loop(new.e, new.Se, mem, n)
    descent = (2.0 / n) * ops.sum(new.e * Sr) > 0
    # Not a descent direction (non-convexity): forget the memory, use -e.
    mem = jax.tree_util.tree_map(
        lambda a, b: ops.where(descent, a, b), mem, Memory.empty(p.z.shape[0], p.z.dtype)
    )
    r, Sr = ops.where(descent, r, new.e), ops.where(descent, Sr, new.Se)
    candidate = State(state.it + 1, new, r, Sr, ops.ones_like(t), mem)
    kept = state._replace(it=state.it + 1, t=0.5 * t)
    return jax.tree_util.tree_map(lambda a, b: ops.where(accept, a, b), candidate, kept)


def smoother(K, lam):
    r""":math:`S = K C^{-1} = I - \lambda C^{-1}` with :math:`C = K + \lambda I`; returns ``(S, chol, jitter)``.

    Formed once (O(n^3), like the factorisation) so that each step costs
    matrix-vector products only.
    """
    chol, jitter = cholesky_jitter(add_diagonal(K, lam))
    # C^{-1} = L^{-T} L^{-1}: one triangular inverse and a product symmetric by construction
    # (no identity right-hand side for two solves, no symmetrised copy).
    Linv = ops.solve_triangular(chol, ops.eye(K.shape[0], dtype=K.dtype), lower=True)
    S = add_diagonal(-(lam + jitter) * ops.matmul(ops.transpose(Linv), Linv), 1.0)
    return S, chol, jitter


def cka_descent(K, y, lam, mu, pen: CKAPenalty, epochs, lr, tol, z0=None):
    r"""Minimise :math:`J` with the CKA penalty: preconditioned L-BFGS in a well-scaled variable.

    **Parametrisation.** Write :math:`\alpha = C^{-1}z` with
    :math:`C = K + \lambda I`, so that :math:`f = K\alpha = Sz` with the smoother
    :math:`S = KC^{-1} = I - \lambda C^{-1}` (eigenvalues in [0, 1)). Up to a
    constant, :math:`J(z) = \tfrac1n (z - y)^\top S (z - y) + \mu D(Sz)`, and
    every quantity in the loop is of the order of ``y`` however ill-conditioned
    :math:`K` is; the coefficients :math:`\alpha` are formed once at the end.

    **Preconditioning.** :math:`\nabla_z J = \tfrac2n S e` with
    :math:`e = z - y + \tfrac{n\mu}2 \nabla_f D`; at :math:`\mu = 0` one unit
    step along :math:`-e` lands on the exact solution. L-BFGS (memory
    ``LBFGS_MEMORY``) uses that preconditioner as its initial inverse Hessian.

    **Safeguards.** Start at :math:`z = y` (the exact :math:`\mu = 0` solution),
    or at ``z0`` when given (a warm start, e.g. the previous μ's solution
    :math:`z = C\alpha` along a μ-path: see ``warm_point``).
    The first step has length ``lr`` along :math:`-e`, later ones start at 1;
    a step is accepted only if it passes the Armijo test, else halved; a
    direction that is not a descent direction resets the memory. :math:`J`
    never increases.

    **Stopping.** When the decrement :math:`\tfrac2n e^\top S e` is at most
    ``tol`` (converged), after ``epochs`` trial steps, or when the step falls
    below ``MIN_STEP_EPS`` × machine epsilon (not converged). ``epochs``,
    ``lr`` and ``tol`` are traced: changing them does not recompile.
    """
    S, chol, jitter = smoother(K, lam)
    # Conditioning now, so that K is dead before the loop (the loop needs S and the factor only).
    condition = ridge_condition(K, lam, chol, jitter)
    prob = Smoothed(
        lambda v: ops.matmul(S, v),
        y,
        ops.matmul(S, y),
        mu,
        lambda f: jax.value_and_grad(cka_penalty)(f, pen),
    )
    return _finish(
        descend(prob, epochs, lr, tol, z0), prob, chol, jitter, condition, tol, pen.sigma_f
    )


def cka_descent_factor(
    chol, jitter, y, lam, mu, pen: BlockedCKA, epochs, lr, tol, z0=None, condition=None
):
    r""":func:`cka_descent` from the Cholesky factor of :math:`C = K + (\lambda + j)I` alone (the lean form).

    The smoother is applied as :math:`Sv = v - (\lambda + j)C^{-1}v` (two
    triangular solves) instead of being stored, and the penalty is evaluated
    in row blocks (``cka_value_and_grad``), so
    the whole descent holds one n × n array (plus ``pen.Lc`` when the kernel
    on q has no small factor). Same iterates as :func:`cka_descent` to rounding.
    ``condition`` is the condition estimate of :math:`C` if already computed
    (``fairkl.linalg.factor_condition``).
    """
    shift = lam + jitter

    def smooth(v):
        return v - shift * cho_solve(chol, v)

    prob = Smoothed(smooth, y, smooth(y), mu, lambda f: cka_value_and_grad(f, pen))
    return _finish(
        descend(prob, epochs, lr, tol, z0),
        prob,
        chol,
        jitter,
        factor_condition(chol) if condition is None else condition,
        tol,
        pen.sigma_f,
    )


def minimize(fun, x0, n, epochs, lr, tol, scale=0.0) -> State:
    r"""Preconditioned L-BFGS from ``x0``: the final :class:`State`.

    ``fun(x)`` returns the :class:`Point` ``(x, J, e, Se)`` (see the module
    notes); ``n`` is the sample count of :math:`\nabla J = \tfrac2n Se`.
    L-BFGS (memory ``LBFGS_MEMORY``) with initial inverse Hessian
    :math:`\gamma\,\tfrac n2 S^{-1}`: the first direction is :math:`e`, with
    step ``lr``; later steps start at 1. A step is accepted only if it passes
    the Armijo test (with a rounding allowance of 8 machine epsilons times
    :math:`|J|` + ``scale``), else halved; a direction that is not a descent
    direction resets the memory. :math:`J` never increases. Stops when the
    decrement :math:`\tfrac2n e^\top Se` is at most ``tol``, after ``epochs``
    trial steps, or when the step falls below ``MIN_STEP_EPS`` × machine
    epsilon. ``epochs``, ``lr`` and ``tol`` may be traced.
    """
    dtype = x0.dtype
    p0 = fun(x0)
    state0 = State(
        0, p0, p0.e, p0.Se, ops.ones((), dtype=dtype) * lr, Memory.empty(x0.shape[0], dtype)
    )
    min_step = MIN_STEP_EPS * _eps(dtype)

    def cond(s: State):
        return (s.it < epochs) & (decrement(s.point, n) > tol) & (s.t > min_step)

    return ops.while_loop(cond, lambda s: (step(s, fun, n, scale),), (state0,))[0]


def descend(prob: Smoothed, epochs, lr, tol, z0=None) -> State:
    """:func:`minimize` on a smoothed problem (:func:`cka_descent`), from ``z0`` or the ``mu = 0`` solution."""
    y = prob.y
    n = y.shape[0]
    data0 = ops.sum(y * (y - prob.f0)) / n  # data term at the mu = 0 solution
    return minimize(lambda z: evaluate(z, prob), y if z0 is None else z0, n, epochs, lr, tol, data0)


def _finish(final: State, prob: Smoothed, chol, jitter, condition, tol, sigma_f) -> FitResult:
    """The :class:`FitResult` of a finished descent: :math:`\\alpha = C^{-1}z` and the diagnostics."""
    y = prob.y
    data0 = ops.sum(y * (y - prob.f0)) / y.shape[0]
    dec = decrement(final.point, y.shape[0])
    return FitResult(
        cho_solve(chol, final.point.z),
        final.point.J + data0,
        dec,
        final.it,
        dec <= tol,
        jitter,
        condition,
        ops.zeros_like(dec),
        sigma_f,
        final.t,
    )


def warm_point(K, lam, result: FitResult):
    r"""The iterate :math:`z = (K + (\lambda + j) I)\alpha` of a finished descent, to warm-start the next.

    :func:`cka_descent` returns :math:`\alpha = C^{-1}z` with the jittered
    :math:`C`; this undoes that map (to rounding).
    """
    return ops.matmul(K, result.alpha) + (lam + result.jitter) * result.alpha
