r"""Compiled μ-paths of the iterative CKA fit (the cross-validation engine's program).

:func:`cka_mu_path` runs the CKA fit of :func:`fairkl.solvers.lbfgs.cka_descent`
for every ``lam`` and every ``mu`` of a grid on one training fold, each fit
started, like a single fit, at the exact μ = 0 solution, and returns the
held-out predictions. :class:`fairkl.sklearn.FairKernelRidgeCV` calls it once
per fold and ``sigma`` (``penalty="cka"``); the closed-form (HSIC) grids are
in :mod:`fairkl.solvers.cv`.
"""

from __future__ import annotations

from functools import partial

import jax
from keras import ops

from fairkl.sensitive import centered_kernel
from fairkl.solvers.lbfgs import cka_descent
from fairkl.solvers.objective import CKAPenalty
from fairkl.solvers.programs import x_kernel


@partial(jax.jit, static_argnames=("kernel_q", "kernel"))
def cka_mu_path(
    Xtr,
    Xte,
    y,
    q,
    sigma,
    lams,
    mus,
    sigma_q,
    sigma_f,
    epochs,
    lr,
    tol,
    kernel_q="rbf",
    kernel="rbf",
):
    """CKA fits for every lam and every mu, each started at the mu = 0 solution (as a refit is).

    One compiled program per fold shape (hyperparameters traced).

    Parameters
    ----------
    Xtr, Xte : (n, d), (m, d) training and held-out inputs, centred by the training mean
    y : (n,) standardised training targets
    q : (n, k) the sensitive attribute as the kernel on q sees it
    sigma : bandwidth on X
    lams, mus : (L,), (M,) grids
    sigma_q, sigma_f : bandwidths on q and on the standardised predictions
    epochs, lr, tol : solver settings (as :class:`fairkl.pipeline.FitConfig`)

    Returns
    -------
    pred : (L, M, m) held-out predictions on the standardised scale
    n_iter : (L, M) solver steps
    converged : (L, M) flags
    """
    kern = x_kernel(kernel)
    K, K_test = kern(Xtr, sigma=sigma), kern(Xte, Xtr, sigma=sigma)
    pen = CKAPenalty.make(centered_kernel(q, sigma_q, kernel_q), sigma_f)

    def per_lam(lam):
        def one_mu(mu):
            # z0=None: start at z = y, the exact mu = 0 solution, like fit() (no warm start: the
            # objective is not convex and a warm start can land in another local minimum).
            res = cka_descent(K, y, lam, mu, pen, epochs, lr, tol)
            return ops.matmul(K_test, res.alpha), res.n_iter, res.converged

        return jax.lax.map(one_mu, mus)

    return jax.lax.map(per_lam, lams)
