r"""The fair objective and its penalties (see :mod:`fairkl.solvers` for the convention)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from keras import ops

from fairkl.dependence import centered_tiny, normalise_hsic


class CKAPenalty(NamedTuple):
    """What the CKA penalty needs, fixed before optimisation (build with ``CKAPenalty.make``)."""

    Lc: object  #: centred sensitive kernel HLH
    sigma_f: object  #: RBF bandwidth on (standardised) predictions
    hll: object  #: biased HSIC(L, L)

    @classmethod
    def make(cls, Lc, sigma_f) -> CKAPenalty:
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
    return normalise_hsic(hfl, ops.maximum(hff, 0.0), pen.hll, centered_tiny(f.dtype))


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

    The gradient is :math:`\nabla_\alpha J = \tfrac2n K e`;
    :func:`fairkl.solvers.cka_descent` steps along :math:`e` (preconditioned by
    the data term's Hessian).
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


class BlockedCKA(NamedTuple):
    r"""The CKA penalty for large n, evaluated in row blocks (build with ``BlockedCKA.make``).

    The kernel on ``q`` enters either as the dense centred matrix ``Lc`` or,
    when it has an exact small factor, as ``B`` with :math:`\tilde L = BB^\top`
    (then no n × n array is needed at all); the other field is None.
    """

    Lc: object  #: centred sensitive kernel (n, n), or None
    B: object  #: factor (n, r) of the centred sensitive kernel, or None
    sigma_f: object
    hll: object  #: biased HSIC(L, L)

    @classmethod
    def make(cls, sigma_f, Lc=None, B=None) -> BlockedCKA:
        if (Lc is None) == (B is None):
            raise ValueError("BlockedCKA needs exactly one of Lc (dense) and B (factor).")
        if Lc is not None:
            n = Lc.shape[0]
            return cls(Lc, None, sigma_f, ops.sum(Lc * Lc) / (n * n))
        n = B.shape[0]
        G = ops.matmul(ops.transpose(B), B)  # ||B B^T||_F^2 = ||B^T B||_F^2
        return cls(None, B, sigma_f, ops.sum(G * G) / (n * n))

    def block(self, start, size: int):
        """Rows ``start:start + size`` of the kernel on q: of ``Lc``, or of ``B`` (no copy of the rest)."""
        M = self.Lc if self.B is None else self.B
        return jax.lax.dynamic_slice_in_dim(M, start, size, axis=0)

    def contract(self, rows, M):
        r""":math:`\sum_j \tilde L_{ij} M_{ij}` for the rows i of a block (``rows`` from :meth:`block`, M its (b, n) block)."""
        if self.B is None:
            return ops.sum(rows * M, axis=1)
        return ops.sum(rows * ops.matmul(M, self.B), axis=1)


def row_blocks(n: int, block: int):
    """Size ``s = min(block, n)`` and count of the row blocks of :func:`map_row_blocks`."""
    size = min(block, n)
    return size, -(-n // size)


def row_block_start(k, n: int, size: int):
    """Start row of block ``k``: ``k * size``, the last one moved back to end at row ``n``."""
    return ops.minimum(k * size, n - size)


def map_row_blocks(fn, n: int, block: int, outputs, dtype="float64"):
    """Per-row results of ``fn(start, size)`` over row blocks, written into one buffer per output.

    ``outputs`` is the number of outputs, each of shape (size,) per block and
    (n,) in all, or a tuple of their trailing shapes (``((m,),)``: one output
    of shape (size, m) per block, (n, m) in all). Blocks start at 0, size,
    2 size, ...; the last one is moved back to end at row n, so it recomputes
    a few rows and writes the same values again: no padded copy of any input,
    and no padded or sliced copy of the output (unlike ``lax.map`` with
    ``batch_size``). The one blocked map over rows of fairkl (the blocked CKA
    penalty, the Nyström features).
    """
    size, count = row_blocks(n, block)
    trailing = ((),) * outputs if isinstance(outputs, int) else tuple(outputs)

    def body(k, outs):
        start = row_block_start(k, n, size)
        return tuple(
            jax.lax.dynamic_update_slice_in_dim(o, v, start, axis=0)
            for o, v in zip(outs, fn(start, size), strict=True)
        )

    zeros = tuple(jnp.zeros((n,) + tuple(t), dtype=dtype) for t in trailing)
    return ops.fori_loop(0, count, body, zeros)


#: Rows per block of :func:`cka_value_and_grad` (a block is BLOCK × n numbers).
BLOCK = 256


def cka_value_and_grad(f, pen: BlockedCKA, block: int = BLOCK):
    r""":func:`cka_penalty` and its gradient in f, in row blocks: O(n · block) memory.

    Same value as :func:`cka_penalty` (same :math:`E = K_f - 11^\top`). The
    gradient is analytic: with :math:`c_{ij} = \partial E_{ij}/\partial f_i
    = -\tfrac{f_i - f_j}{\sigma_f^2}(E_{ij} + 1)`, row sums :math:`r = E1`,
    :math:`T = 1^\top E1` and :math:`D = \phi(h_{fl}, h_{ff})`,

    .. math::
       \frac{\partial D}{\partial f_i} = \frac{2}{n^2}\sum_j
       \Big(\phi_1\,\tilde L_{ij} + \phi_2\,W_{ij}\Big) c_{ij},\qquad
       W_{ij} = 2E_{ij} - \tfrac2n(r_i + r_j) + \tfrac{2T}{n^2}.

    Two passes over the rows (statistics, then gradient), each recomputing
    its block of :math:`E`: no n × n array for the predictions' kernel.
    The tests check it against automatic differentiation of :func:`cka_penalty`.
    """
    n = f.shape[0]
    s2 = pen.sigma_f * pen.sigma_f

    def stats(start, size):
        fi = jax.lax.dynamic_slice_in_dim(f, start, size)[:, None]
        E = ops.expm1(-((fi - f[None, :]) ** 2) / (2.0 * s2))
        return ops.sum(E, axis=1), ops.sum(E * E, axis=1), pen.contract(pen.block(start, size), E)

    r, sq, h = map_row_blocks(stats, n, block, 3, f.dtype)
    total = ops.sum(r)
    hfl = ops.sum(h) / (n * n)
    hff = (ops.sum(sq) - (2.0 / n) * ops.sum(r * r) + total * total / (n * n)) / (n * n)

    def phi(a, b):
        return normalise_hsic(a, ops.maximum(b, 0.0), pen.hll, centered_tiny(f.dtype))

    D, (d_fl, d_ff) = jax.value_and_grad(phi, argnums=(0, 1))(hfl, hff)

    def grad_rows(start, size):
        d = jax.lax.dynamic_slice_in_dim(f, start, size)[:, None] - f[None, :]
        ri = jax.lax.dynamic_slice_in_dim(r, start, size)
        E = ops.expm1(-(d * d) / (2.0 * s2))
        c = -(d / s2) * (E + 1.0)
        sc = ops.sum(c, axis=1)
        w = (
            2.0 * ops.sum(E * c, axis=1)
            - (2.0 / n) * (ri * sc + ops.matmul(c, r))
            + (2.0 * total / (n * n)) * sc
        )
        return (d_fl * pen.contract(pen.block(start, size), c) + d_ff * w,)

    (g,) = map_row_blocks(grad_rows, n, block, 1, f.dtype)
    return D, (2.0 / (n * n)) * g
