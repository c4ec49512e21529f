r"""The fair objective and its penalties (see :mod:`fairkl.solvers` for the convention)."""

from __future__ import annotations

from typing import NamedTuple

import jax
from keras import ops

from fairkl.dependence import centered_tiny, normalise_hsic


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
