r"""Cross-validation programs: exact leave-one-out for ridge, K-fold grids for the HSIC-penalised model."""

from __future__ import annotations

import jax
from keras import ops


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
        v = ops.matmul(
            ops.transpose(Q), ops.matmul(ops.transpose(UtB), smooth * Uty)
        )  # Q^T B^T K C^-1 y
        base = ops.matmul(P, inv * Uty)  # K_te C^-1 y
        KZQ = ops.matmul(P, inv[:, None] * ops.matmul(UtB, Q))  # K_te C^-1 B Q
        coef = t[:, None] * v[None, :] / (1.0 + t[:, None] * evals[None, :])  # (M, r)
        return base[None, :] - ops.matmul(coef, ops.transpose(KZQ))

    return jax.vmap(per_lam)(lams)
