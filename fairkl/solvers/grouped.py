r"""The tuner's grouped fits: B CKA fits and their validation predictions, one compiled program.

:func:`fit_predict_program` runs :func:`fairkl.solvers.fit_cka_batch` (the
model's compiled CKA fit, one setting after another inside one call, each
stopping on its own) and predicts the validation inputs with every fit
(:func:`fairkl.solvers.predict_program`), so that a group of trials costs
one dispatch and one transfer back. :mod:`fairkl.tuning.programs` prepares
its arguments and calls it once per group.
"""

from __future__ import annotations

from functools import partial

import jax

from fairkl.solvers.programs import fit_cka_batch, predict_program


@partial(jax.jit, static_argnames=("kernel_q", "kernel"))
def fit_predict_program(
    X,
    y,
    q,
    X_val,
    sigma_f,
    tol,
    sigmas,
    lams,
    mus,
    sigma_qs,
    lrs,
    epochs,
    kernel_q="rbf",
    kernel="rbf",
):
    """Fit B settings (:func:`fairkl.solvers.fit_cka_batch`) and predict ``X_val``: one compiled program.

    ``X``, ``y``, ``q``, ``X_val``, ``sigma_f`` and ``tol`` are shared (as
    :func:`fairkl.pipeline.prepare` left them, ``X_val`` centred by the
    training mean); ``sigmas`` ... ``epochs`` are 1-D of length B.

    Returns ``(pred, converged, n_iter)``: standardised predictions (B, m)
    and the per-fit flags and step counts (B,).
    """
    res = fit_cka_batch(
        X,
        y,
        q,
        sigma_f,
        tol,
        sigmas,
        lams,
        mus,
        sigma_qs,
        lrs,
        epochs,
        kernel_q=kernel_q,
        kernel=kernel,
    )
    pred = jax.vmap(lambda a, s: predict_program(X_val, X, a, s, kernel=kernel))(res.alpha, sigmas)
    return pred, res.converged, res.n_iter
