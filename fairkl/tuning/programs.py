"""The compiled program the batched tuner runs: many fits and their validation predictions in one call.

This is the only place the tuning layer reaches into the solver layer, so
that it can be swapped for the fit pipeline's vmappable ``solve``.
"""

from __future__ import annotations

import jax

from fairkl import solvers
from fairkl.dependence import cka_centered
from fairkl.kernels import centered_rbf_kernel
from fairkl.models import DEFAULT_TOL


@jax.jit
def batch_fit_predict(X, ys, q, X_val, sigma_f, sigmas, lams, mus, sigma_qs, lrs, epochs):
    """vmap of the model's compiled CKA fit (:func:`fairkl.solvers.fit_cka`) and its validation prediction.

    ``ys`` is the standardised training target and ``sigma_f`` the bandwidth on
    it (both as in :meth:`fairkl.FairKernelRidge.fit`); returns the validation
    predictions on the standardised scale, shape (batch, n_val), and the
    ``converged`` flags.
    """

    def one(sigma, lam, mu, sigma_q, lr, ep):
        res = solvers.fit_cka(X, ys, q, sigma, lam, mu, sigma_q, sigma_f, ep, lr, DEFAULT_TOL)
        return solvers.predict_program(X_val, X, res.alpha, sigma), res.converged

    return jax.vmap(one)(sigmas, lams, mus, sigma_qs, lrs, epochs)


@jax.jit
def validation_cka(pred, Lc_val, sigma_pred):
    """Biased CKA between validation predictions (RBF, bandwidth ``sigma_pred``) and a centred q-kernel."""
    return cka_centered(centered_rbf_kernel(pred[:, None], sigma_pred), Lc_val)
