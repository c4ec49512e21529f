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
* Measuring on :math:`\tilde y` makes :math:`\mu` exactly independent of the
  units of ``y``; dividing by :math:`n` makes it roughly, not exactly,
  independent of the sample size (the training-HSIC ratio at :math:`\mu = 3`
  was 0.354 / 0.360 / 0.382 at n = 300 / 600 / 1,200).
* The penalty :math:`D` is either

  - ``"hsic"``: :math:`f^\top \tilde L f / n^2`, biased HSIC with a linear
    kernel on the predictions and :math:`\tilde L = HLH`, :math:`L = l(q, q)`.
    The objective is quadratic; its minimiser solves
    :math:`(K + \lambda I + \tfrac{\mu}{n}\tilde L K)\,\alpha = \tilde y`
    (Pérez-Suay et al., 2017). With an exact factor :math:`\tilde L = BB^\top`
    of small rank (groups, a linear kernel, a smooth kernel on a 1-D q) it is
    solved by the Woodbury identity from one Cholesky factor
    (:func:`fkl_hsic_from_factor`); otherwise by LU (:func:`fit_hsic`);
  - ``"cka"``: biased CKA between an RBF kernel on the predictions
    (bandwidth :math:`\sigma_f`, fixed before optimisation) and :math:`L`.
    Not quadratic: solved iteratively (:func:`cka_descent`).

Every function here is pure, works on ``keras.ops`` tensors and runs inside
``jax.jit``; the ``fit_*`` programs at the bottom are the compiled entry
points used by :mod:`fairkl.pipeline` (one XLA program per fit).

Memory (the lean exact path)
----------------------------
A single fit never keeps :math:`K`: the kernel is built into the buffer that
LAPACK factors (:func:`ridge_factor`), and every later product with
:math:`K` goes through the factor of :math:`C = K + (\lambda + j)I`, since
:math:`KC^{-1}b = b - (\lambda + j)C^{-1}b`. The closed forms
(:func:`fit_krr`, :func:`fit_hsic_woodbury`) hold two n × n arrays at the
peak and one afterwards; the CKA fit (:func:`fit_cka_lean`) applies the
smoother with two triangular solves and evaluates its penalty in row blocks
(:func:`cka_value_and_grad`), adding the dense kernel on q only when it has
no small exact factor. :func:`fit_cka` (a stored smoother, automatic
differentiation) is the dense form, faster for small n and vmapped by the
tuner. ``tests/test_lean.py`` checks the counts on XLA's buffer assignment.

Layout of the package: :mod:`~fairkl.solvers.objective` (the objective and
its penalties, and the one blocked map over rows), :mod:`~fairkl.solvers.exact`
(closed forms), :mod:`~fairkl.solvers.lbfgs` (the one L-BFGS, which takes a
preconditioner), :mod:`~fairkl.solvers.cv` (cross-validation programs),
:mod:`~fairkl.solvers.programs` (the compiled entry points),
:mod:`~fairkl.solvers.paths` (the CKA μ-path of the cross-validation),
:mod:`~fairkl.solvers.grouped` (the tuner's grouped fits with their validation
predictions) and :mod:`~fairkl.solvers.lowrank` (the low-rank Nyström programs
and the one host-side chunked prediction); landmark selection, data preparation, is
:mod:`fairkl.landmarks`. Linear algebra
lives in :mod:`fairkl.linalg`, the kernel on ``q`` in :mod:`fairkl.sensitive`;
their names are re-exported here for compatibility.
"""

from __future__ import annotations

from fairkl._constants import JITTER_TRIES, LBFGS_MEMORY
from fairkl.linalg import (
    cho_solve,
    cholesky,
    cholesky_jitter,
    condition_estimate,
    factor_condition,
    jitter_tries,
    pivoted_cholesky,
    ridge_condition,
)
from fairkl.sensitive import centered_factor as centered_sensitive_factor
from fairkl.sensitive import centered_kernel as centered_sensitive_kernel
from fairkl.sensitive import kernel_matrix as sensitive_kernel
from fairkl.solvers.cv import kfold_hsic_grid, loo_krr_grid
from fairkl.solvers.exact import (
    fkl_hsic_from_factor,
    fkl_hsic_path,
    fkl_hsic_solve,
    fkl_hsic_woodbury,
    krr_from_factor,
    krr_solve,
)
from fairkl.solvers.lbfgs import cka_descent, cka_descent_factor
from fairkl.solvers.objective import (
    BlockedCKA,
    CKAPenalty,
    cka_penalty,
    cka_value_and_grad,
    data_term,
    hsic_penalty,
    objective,
    objective_and_grad,
    preconditioned_gradient,
)
from fairkl.solvers.programs import (
    X_KERNELS,
    fit_cka,
    fit_cka_batch,
    fit_cka_lean,
    fit_hsic,
    fit_hsic_woodbury,
    fit_krr,
    hsic_path_program,
    kernel_matrix,
    kernel_matvec,
    predict_program,
    ridge_factor,
    x_kernel,
)
from fairkl.solvers.result import FitResult

__all__ = [
    "BlockedCKA",
    "CKAPenalty",
    "FitResult",
    "JITTER_TRIES",
    "LBFGS_MEMORY",
    "X_KERNELS",
    "centered_sensitive_factor",
    "centered_sensitive_kernel",
    "cho_solve",
    "cholesky",
    "cholesky_jitter",
    "cka_descent",
    "cka_descent_factor",
    "cka_penalty",
    "cka_value_and_grad",
    "condition_estimate",
    "data_term",
    "factor_condition",
    "fit_cka",
    "fit_cka_batch",
    "fit_cka_lean",
    "fit_hsic",
    "fit_hsic_woodbury",
    "fit_krr",
    "fkl_hsic_from_factor",
    "fkl_hsic_path",
    "fkl_hsic_solve",
    "fkl_hsic_woodbury",
    "hsic_path_program",
    "hsic_penalty",
    "jitter_tries",
    "kernel_matrix",
    "kernel_matvec",
    "kfold_hsic_grid",
    "krr_from_factor",
    "krr_solve",
    "loo_krr_grid",
    "objective",
    "objective_and_grad",
    "pivoted_cholesky",
    "preconditioned_gradient",
    "predict_program",
    "ridge_condition",
    "ridge_factor",
    "sensitive_kernel",
    "x_kernel",
]
