r"""Dense linear algebra for kernel systems: Cholesky with jitter, solves, pivoted Cholesky, conditioning.

Every function is pure, works on ``keras.ops`` tensors and runs inside ``jax.jit``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from keras import ops

from fairkl._constants import JITTER_TRIES
from fairkl._ops import eps as _eps
from fairkl._ops import mean


def add_diagonal(A, value):
    r""":math:`A + vI` without materialising :math:`I` (one scatter-add on the diagonal; in place
    when XLA may reuse ``A``'s buffer)."""
    i = jnp.arange(A.shape[0])
    return A.at[i, i].add(ops.cast(value, A.dtype))


@jax.jit
def cholesky_jitter(A):
    r"""Cholesky factor of a symmetric positive (semi-)definite matrix, with jitter.

    Tries :math:`A`, then :math:`A + jI` with
    :math:`j = \varepsilon\,\overline{\operatorname{diag} A}\cdot 10^k`,
    :math:`k = 0, 1, \dots` (at most ``JITTER_TRIES`` times), until the
    factorisation is finite.

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
    base = _eps(A.dtype) * ops.maximum(mean(ops.abs(ops.diagonal(A))), 1e-30)

    def factor(j):
        return cholesky(add_diagonal(A, j))

    def cond(state):
        k, _, c = state
        return ops.logical_and(k < JITTER_TRIES, ops.logical_not(ops.all(ops.isfinite(c))))

    def body(state):
        k = state[0]
        j = base * ops.power(ops.cast(10.0, A.dtype), ops.cast(k, A.dtype))
        return k + 1, j, factor(j)

    def retry(chol0):
        # Reached only when the plain factorisation failed: the loop (and its second
        # factor buffer) costs nothing in the usual case.
        _, jitter, chol = jax.lax.while_loop(cond, body, (0, zero, chol0))
        return jitter, chol

    zero = ops.zeros((), dtype=A.dtype)
    chol0 = factor(zero)
    jitter, chol = jax.lax.cond(ops.all(ops.isfinite(chol0)), lambda c: (zero, c), retry, chol0)
    return chol, jitter


def cholesky(A):
    """Lower Cholesky factor of a symmetric matrix, reading its lower triangle only.

    Unlike ``keras.ops.cholesky`` (``jnp.linalg.cholesky``), the input is not
    symmetrised first: no n × n copy, and LAPACK factors the buffer in place
    when ``A`` is not used afterwards. NaN if ``A`` is not positive definite.
    """
    return jax.lax.linalg.cholesky(A, symmetrize_input=False)


def jitter_tries(base: float, tries: int = JITTER_TRIES):
    r"""The jitters a lean fit tries, in order: 0, then :math:`b\cdot 10^k`, :math:`k = 0, \dots,` ``tries - 1``.

    The same schedule as :func:`cholesky_jitter` (with :math:`b = \varepsilon\,\overline{\operatorname{diag} A}`),
    run by the caller one compiled fit per try: a retry inside the program
    would keep a second n × n buffer alive for the rare failed factorisation.
    """
    return [0.0] + [base * 10.0**k for k in range(tries)]


def factor_condition_passing(chol, iters: int = 10):
    r"""Condition estimate of :math:`C = LL^\top` from its factor alone (no copy of :math:`C`).

    ``iters`` steps of power iteration with :math:`Cv = L(L^\top v)` and of
    inverse iteration with two triangular solves, from the start of
    :func:`condition_estimate`; the estimate is
    :math:`\|Cv\|\,\|C^{-1}u\|` for the last unit iterates v, u (each
    factor a lower bound of the extreme eigenvalue it estimates).

    One loop (unrolled, each iteration added its own solves and products to
    every fit program: 0.5 s of XLA compilation per program, 0.25 s as a
    loop). The products read a row-major copy of :math:`L` (XLA's dot wants
    that layout; LAPACK's factor is column-major); the loop is the factor's
    last use here, so XLA keeps that copy only while the loop runs (a
    Rayleigh quotient after the loop kept a third n × n array alive).

    Returns ``(condition, L)``: the factor comes back out of the loop, and a
    caller that uses it afterwards (the CKA fit's descent) should use this
    one. Otherwise XLA passes the loop a copy of the factor, because the
    original is still live after the loop (jax 0.4.30: 5 n × n arrays instead
    of 4 in the CKA fit with the dense kernel on q).
    """
    n = chol.shape[0]
    x0 = ops.cast(ops.cos(ops.cast(ops.arange(n), chol.dtype) * 1.3) + 1.5, chol.dtype)

    def norm(v):
        return ops.sqrt(ops.sum(v * v))

    def power_step(_, carry):
        L, top, bottom, _, _ = carry
        big = ops.matmul(L, ops.matmul(top, L))  # L (L^T v); v @ L is L^T v without a copy
        small = cho_solve(L, bottom)
        big_norm, small_norm = norm(big), norm(small)
        return L, big / big_norm, small / small_norm, big_norm, small_norm

    start = x0 / norm(x0)
    one = ops.ones((), dtype=chol.dtype)
    L, _, _, largest, inverse_smallest = jax.lax.fori_loop(
        0, iters, power_step, (chol, start, start, one, one)
    )
    return largest * inverse_smallest, L


def factor_condition(chol, iters: int = 10):
    """The estimate of ``factor_condition_passing`` alone (for callers that do not use the factor afterwards)."""
    return factor_condition_passing(chol, iters)[0]


def cho_solve(chol, b):
    """Solve :math:`(LL^\\top) x = b` from the lower Cholesky factor ``L``.

    Two triangular solves, O(n^2) per right-hand side; no re-factorisation and
    no transposed copy of ``L`` (the second solve reads ``L`` as its transpose).
    """
    B = b[:, None] if b.ndim == 1 else b
    tri = jax.lax.linalg.triangular_solve
    z = tri(chol, B, left_side=True, lower=True)
    x = tri(chol, z, left_side=True, lower=True, transpose_a=True)
    return x[:, 0] if b.ndim == 1 else x


def pivoted_cholesky_columns(column, diag, rank: int, tol=0.0, floor=0.0):
    r"""Greedy pivoted Cholesky :math:`A \approx GG^\top` of a PSD matrix given by its columns.

    The one pivoted Cholesky of fairkl (Harbrecht et al., 2012): ``column(i)``
    returns column ``i`` of :math:`A` (computed on the fly, so :math:`A` is
    never formed) and ``diag`` its diagonal. Step k takes the pivot
    :math:`i_k = \arg\max_i d_i` of the residual diagonal
    :math:`d = \operatorname{diag}(A - GG^\top)` and sets

    .. math::
       g_k = \frac{A_{:,i_k} - G\,G_{i_k,:}^\top}{\sqrt{d_{i_k}}},\qquad
       d \leftarrow d - g_k\odot g_k .

    A column is added only while (a) the residual trace
    :math:`\sum_i \max(d_i, 0)` exceeds ``tol`` times :math:`\operatorname{tr}A`
    and (b) the pivot exceeds ``floor`` times :math:`\max\operatorname{diag}A`
    (an exhausted matrix, e.g. groups or duplicate rows, gets zero columns,
    not rounding noise); the remaining columns are zero. A chosen pivot's
    residual is set to :math:`-\infty` (it is 0 in exact arithmetic), so the
    pivots are distinct even after the matrix is exhausted.

    Parameters
    ----------
    column : callable
        ``i -> A[:, i]`` (traced index; shape (n,)).
    diag : tensor of shape (n,)
        The diagonal of :math:`A`.
    rank : int
        Number of columns of ``G`` (static).
    tol, floor : float
        Stopping thresholds (a) and (b) above; 0 disables them.

    Returns
    -------
    G : tensor of shape (n, rank)
    residual : tensor of shape (n,)
        The residual diagonal (:math:`-\infty` at the pivots).
    pivots : int tensor of shape (rank,)
        The pivot of each step (also of the zero columns).
    """
    n = diag.shape[0]
    total = ops.maximum(ops.sum(diag), 1e-300 if "64" in str(diag.dtype) else 1e-30)
    cutoff = floor * ops.max(diag)

    def body(k, state):
        G, d, piv = state
        i = ops.argmax(d)
        pivot = ops.take(d, i)
        ok = (pivot > cutoff) & (ops.sum(ops.maximum(d, 0.0)) > tol * total)
        col = column(i) - ops.matmul(G, ops.take(G, i, axis=0))
        g = ops.where(ok, col / ops.sqrt(ops.where(ok, pivot, 1.0)), 0.0)
        G = ops.slice_update(G, (0, k), g[:, None])
        # A mask, not a dynamic update at i: with d sharded over rows, the floor JAX's (0.4.30)
        # partitioner mixed int32/int64 offsets in that update (an XLA verifier error).
        d = ops.where(ops.arange(n) == i, -math.inf, d - g * g)
        return G, d, ops.slice_update(piv, (k,), ops.cast(i, piv.dtype)[None])

    state = (ops.zeros((n, rank), dtype=diag.dtype), diag, ops.zeros((rank,), dtype="int32"))
    return ops.fori_loop(0, rank, body, state)


def pivoted_cholesky(L, rank: int, tol):
    r"""Low-rank factor :math:`G` (n × rank) with :math:`L \approx GG^\top`, from a stored matrix.

    :func:`fairkl.linalg.pivoted_cholesky_columns` with the columns of ``L``: columns are
    added while the trace of the residual :math:`L - GG^\top` (a PSD matrix)
    exceeds ``tol * tr(L)``; the remaining columns are zero.

    Returns
    -------
    G : tensor of shape (n, rank)
    residual : scalar tensor
        :math:`\operatorname{tr}(L - GG^\top) / \operatorname{tr}(L)`.
    """
    G, d, _ = pivoted_cholesky_columns(lambda i: ops.take(L, i, axis=1), ops.diagonal(L), rank, tol)
    return G, relative_residual(d, ops.diagonal(L))


def relative_residual(d, diag):
    r"""Relative residual trace :math:`\sum_i\max(d_i, 0) / \operatorname{tr}A` of a pivoted factor."""
    total = ops.maximum(ops.sum(diag), 1e-300 if "64" in str(diag.dtype) else 1e-30)
    return ops.sum(ops.maximum(d, 0.0)) / total


def condition_estimate(A, chol, iters: int = 10, shift=0.0):
    r"""Estimate of the 2-norm condition number of the SPD matrix :math:`A + sI` from its Cholesky factor.

    ``iters`` steps of power iteration (largest eigenvalue) and of inverse
    iteration with the factor (smallest eigenvalue), then Rayleigh quotients:
    O(iters * n^2), negligible next to the factorisation. Accurate to a small
    factor for the kernel matrices met here (tested against ``numpy.linalg.cond``).
    The shift :math:`s` enters the products only (:math:`A + sI` is never formed).
    """
    n = A.shape[0]
    # Deterministic start, not orthogonal to either end of the spectrum in practice.
    x0 = ops.cast(ops.cos(ops.cast(ops.arange(n), A.dtype) * 1.3) + 1.5, A.dtype)

    def unit(v):
        return v / ops.sqrt(ops.sum(v * v))

    def mv(v):
        return ops.matmul(A, v) + shift * v

    top = ops.fori_loop(0, iters, lambda i, v: unit(mv(v)), unit(x0))
    bottom = ops.fori_loop(0, iters, lambda i, v: unit(cho_solve(chol, v)), unit(x0))
    rayleigh = lambda v: ops.sum(v * mv(v))
    return rayleigh(top) / ops.maximum(rayleigh(bottom), ops.sqrt(ops.sum(top * top)) * 1e-300)


def ridge_condition(K, lam, chol, jitter):
    r"""Condition estimate of :math:`K + (\lambda + j)I` given its Cholesky factor (no n × n copy)."""
    return condition_estimate(K, chol, shift=lam + jitter)
