r"""The Fair Kernel Ridge Regression model, a :class:`keras.Model`.

See :mod:`fairkl.solvers` for the objective, which is the same in every code
path:

.. math::
   J(\alpha) = \frac1n\Big[\lVert y/s_y - K\alpha\rVert^2
               + \lambda\,\alpha^\top K \alpha\Big] + \mu\, D(K\alpha, q),
   \qquad \hat y(x) = s_y \sum_i \alpha_i\, k(x, x_i).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops
from scipy.linalg import LinAlgWarning
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from fairkl import _validation as v
from fairkl import solvers
from fairkl._ops import eps as _eps
from fairkl.kernels import median_heuristic, rbf_kernel

PENALTIES = ("cka", "hsic")
KERNELS_Q = ("rbf", "linear")
DTYPES = ("float32", "float64")

#: Default stopping tolerance on the decrement (see :func:`fairkl.solvers.cka_descent`).
DEFAULT_TOL = 1e-10
#: Relative trace left out by the low-rank factor of the μ-path.
PATH_TOL = {"float32": 1e-7, "float64": 1e-13}
#: Warn when (condition number of K + lam I) * machine epsilon exceeds this.
ILL_CONDITIONED = 1e-2
#: Rows predicted per compiled call (bounds the memory of k(X_new, X_fit)).
PREDICT_CHUNK = 2048

_FITTED_FIELDS = ("alpha_", "X_fit_")
_SCALARS = ("y_scale_", "sigma_q_", "sigma_f_", "objective_", "decrement_", "jitter_", "condition_")


def prepare_sensitive(q: np.ndarray, kernel_q: str) -> np.ndarray:
    """The columns the kernel on ``q`` sees: standardised for the linear kernel (unit invariance)."""
    if kernel_q != "linear":
        return q
    std = q.std(axis=0)
    return (q - q.mean(axis=0)) / np.where(std > 0, std, 1.0)


@keras.saving.register_keras_serializable(package="fairkl")
class FairKernelRidge(keras.Model):
    r"""Kernel ridge regression with a penalty on the dependence between predictions and ``q``.

    Parameters
    ----------
    sigma : float, default 1.0
        Bandwidth of the RBF kernel on ``X`` (scikit-learn's
        ``gamma = 1 / (2 * sigma**2)``). Must be > 0.
    lam : float, default 1e-2
        Ridge strength :math:`\lambda \ge 0`, identical to
        ``KernelRidge(alpha=lam)``.
    mu : float, default 0.0
        Fairness strength :math:`\mu \ge 0`. Dimensionless: it does not depend
        on ``n`` or on the units of ``y``. ``mu=0`` is plain kernel ridge
        regression.
    sigma_q : float or None, default None
        Bandwidth of the RBF kernel on the sensitive attribute ``q``, in the
        units of ``q``. ``None`` sets it at fit time to the median pairwise
        distance between the rows of ``q`` (median heuristic), which makes the
        fit invariant to the units of ``q``. Ignored when ``kernel_q="linear"``.
    penalty : {"cka", "hsic"}, default "cka"
        ``"cka"``: biased CKA between an RBF kernel on the predictions and the
        kernel on ``q`` (captures any dependence; solved iteratively).
        ``"hsic"``: biased HSIC with a *linear* kernel on the predictions, the
        Fair Kernel Learning penalty of Pérez-Suay et al. (2017) (solved
        exactly in closed form; removes dependence of the mean of predictions
        on ``q``, as seen through the kernel on ``q``).
    kernel_q : {"rbf", "linear"}, default "rbf"
        Kernel on ``q``. With ``"linear"`` the columns of ``q`` are
        standardised first, so the fit is invariant to their units.
    sigma_f : float or None, default None
        Bandwidth of the RBF kernel on the predictions for ``penalty="cka"``,
        in the units of ``y``. ``None``: median heuristic on the training
        targets, fixed before optimisation.
    tol : float or None
        Stopping tolerance of the iterative solver on the decrement (about
        twice the gap to a stationary value of the objective); ``None`` means 1e-10.
    dtype : {"float32", "float64"}, default "float32"
        Precision of the kernels, the closed-form solves and the predictions.
        The iterative CKA solver always works in float64: its line search
        compares objective values that agree to 7 digits, and in float32 the
        smoother :math:`K(K+\lambda I)^{-1}` is not even positive for small
        ``lam``, so float32 iterations stop at spurious points.

    Attributes
    ----------
    alpha_ : ndarray of shape (n_samples,)
        Dual coefficients on the standardised scale (predictions are
        ``y_scale_ * k(x, X_fit_) @ alpha_``).
    X_fit_ : ndarray of shape (n_samples, n_features)
    y_scale_ : float
        :math:`s_y`, the standard deviation of the training ``y``.
    sigma_q_, sigma_f_ : float
        Bandwidths used (``nan`` when not applicable).
    converged_ : bool
        False if the iterative solver stopped before its tolerance (a
        :class:`~sklearn.exceptions.ConvergenceWarning` is issued too).
    n_iter_ : int
        Trial steps taken by the iterative solver (0 for closed forms).
    objective_ : float
        :math:`J` at the solution.
    jitter_ : float
        Diagonal jitter the Cholesky factorisation needed (0 normally).
    condition_ : float
        Lower estimate of the condition number of :math:`K + \lambda I`; a
        :class:`~scipy.linalg.LinAlgWarning` is issued when it times the
        machine epsilon exceeds 1e-2 (e.g. ``lam=0``).

    Notes
    -----
    Like :class:`sklearn.kernel_ridge.KernelRidge`, the model has no
    intercept: ``y`` is scaled by its standard deviation but not centred, and
    at ``mu=0`` the predictions equal ``KernelRidge(kernel="rbf",
    gamma=1/(2*sigma**2), alpha=lam)``. Centre ``y`` yourself if its mean is
    far from zero relative to its spread.

    Examples
    --------
    >>> from fairkl import FairKernelRidge
    >>> from fairkl.datasets import make_seed_data
    >>> X, y, q = make_seed_data(n=100, seed=0)
    >>> model = FairKernelRidge(sigma=1.0, lam=1e-2, mu=5.0).fit(X, y, q=q)
    >>> model.predict(X[:3]).shape
    (3,)
    """

    def __init__(
        self,
        sigma: float = 1.0,
        lam: float = 1e-2,
        mu: float = 0.0,
        sigma_q: float | None = None,
        *,
        penalty: str = "cka",
        kernel_q: str = "rbf",
        sigma_f: float | None = None,
        tol: float | None = None,
        dtype: str = "float32",
        **kwargs,
    ):
        dtype = _dtype_name(dtype)
        super().__init__(dtype=dtype, **kwargs)
        self.sigma = v.check_positive(sigma, "sigma")
        self.lam = v.check_positive(lam, "lam", allow_zero=True)
        self.mu = v.check_positive(mu, "mu", allow_zero=True)
        self.sigma_q = v.check_positive(sigma_q, "sigma_q", allow_none=True)
        self.penalty = v.check_choice(penalty, "penalty", PENALTIES)
        self.kernel_q = v.check_choice(kernel_q, "kernel_q", KERNELS_Q)
        self.sigma_f = v.check_positive(sigma_f, "sigma_f", allow_none=True)
        self.tol = v.check_positive(tol, "tol", allow_none=True)
        self.compute_dtype_name = dtype
        self._reset_fit()
        # No Keras variables to create: the fitted state is saved by save_own_variables.
        self.built = True

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "sigma": self.sigma,
            "lam": self.lam,
            "mu": self.mu,
            "sigma_q": self.sigma_q,
            "penalty": self.penalty,
            "kernel_q": self.kernel_q,
            "sigma_f": self.sigma_f,
            "tol": self.tol,
            "dtype": self.compute_dtype_name,
        }

    @classmethod
    def from_config(cls, config: dict) -> "FairKernelRidge":
        return cls(**config)

    # ------------------------------------------------------------- fit state
    def _reset_fit(self) -> None:
        self.alpha_ = None
        self.X_fit_ = None
        self.y_scale_ = float("nan")
        self.sigma_q_ = float("nan")
        self.sigma_f_ = float("nan")
        self.objective_ = float("nan")
        self.decrement_ = float("nan")
        self.jitter_ = 0.0
        self.condition_ = float("nan")
        self.n_iter_ = 0
        self.converged_ = True

    @property
    def is_fitted(self) -> bool:
        return self.alpha_ is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call fit(X, y, q=...) before predict."
            )

    def _cast(self, a: np.ndarray):
        return ops.convert_to_tensor(a, dtype=self.compute_dtype_name)

    # ------------------------------------------------------------------- fit
    def _prepare(self, X, y, q, penalised: bool):
        """Validate and standardise the inputs; returns arrays and the scale of y."""
        X = v.check_X(X)
        n = X.shape[0]
        y = v.check_target(y, n)
        if q is None:
            if penalised:
                raise ValueError(
                    f"q (the sensitive attribute) is required when mu > 0 (mu={self.mu}); "
                    f"pass fit(X, y, q=q) or set mu=0."
                )
        else:
            q = v.check_sensitive(q, n)
            if penalised and np.all(np.ptp(q, axis=0) == 0):
                warnings.warn(
                    "q is constant: every dependence measure is 0, so the fit equals the "
                    "unpenalised (mu=0) fit.",
                    UserWarning,
                    stacklevel=3,
                )
            q = prepare_sensitive(q, self.kernel_q)
        s = float(np.std(y))
        if s == 0.0:
            s = float(np.max(np.abs(y))) or 1.0
        return X, y / s, q, s

    def fit(self, X, y, q=None, epochs: int = 300, lr: float = 0.01, verbose: int = 0, sample_weight=None):
        """Fit the model; re-fitting replaces every fitted quantity.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs (n_samples >= 4). Do not include ``q`` among the features.
        y : array-like of shape (n_samples,) or (n_samples, 1)
        q : array-like of shape (n_samples,) or (n_samples, n_attributes), optional
            Sensitive attribute (continuous values or one-hot groups). Required
            when ``mu > 0``.
        epochs : int, default 300
            Maximum number of steps of the iterative solver (``penalty="cka"``
            with ``mu > 0``); the solver stops earlier once converged.
        lr : float in (0, 1], default 0.01
            Size of the first step, as a fraction of the Newton step of the data
            term; later steps come from L-BFGS with backtracking (see
            :func:`fairkl.solvers.cka_descent`), so convergence does not hinge on it.
        verbose : int, default 0
            1 prints a one-line summary.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the squared errors (integer weights act as
            repeated samples, as in :class:`sklearn.kernel_ridge.KernelRidge`).
            Supported for the unpenalised fit only (``mu=0`` or constant
            ``q``); weighted dependence penalties are not implemented yet.

        Returns
        -------
        self
        """
        epochs = v.check_int(epochs, "epochs")
        lr = v.check_positive(lr, "lr")
        if lr > 1:
            raise ValueError(f"lr must be in (0, 1]; got {lr}.")
        X, ys, q, s = self._prepare(X, y, q, penalised=self.mu > 0)
        sqrt_w = v.check_sample_weight(sample_weight, X.shape[0])
        # A constant q makes every dependence 0 by definition: the fit is the unpenalised one.
        penalised = self.mu > 0 and not np.all(np.ptp(q, axis=0) == 0)
        if penalised and np.ptp(sqrt_w) > 0:
            raise ValueError(
                "sample_weight is supported only for the unpenalised fit (mu=0); weighted "
                "HSIC/CKA penalties are not implemented. Pass sample_weight=None or mu=0."
            )
        self._reset_fit()
        c = self._cast
        Xt, yt = c(X), c(ys)
        auto_q = self.sigma_q is None and self.kernel_q == "rbf"
        sigma_q = 1.0 if self.sigma_q is None else self.sigma_q

        if not penalised:
            res = solvers.fit_krr(Xt, yt, c(self.sigma), c(self.lam), c(sqrt_w))
        elif self.penalty == "hsic":
            res = solvers.fit_hsic(
                Xt, yt, c(q), c(self.sigma), c(self.lam), c(self.mu), c(sigma_q),
                kernel_q=self.kernel_q, auto_sigma_q=auto_q,
            )
        else:
            # The iterative solver always runs in float64 (see the class notes).
            c64 = lambda a: ops.convert_to_tensor(a, dtype="float64")  # noqa: E731
            tol = self.tol if self.tol is not None else DEFAULT_TOL
            sigma_f = 1.0 if self.sigma_f is None else self.sigma_f / s
            res = solvers.fit_cka(
                c64(X), c64(ys), c64(q), c64(self.sigma), c64(self.lam), c64(self.mu), c64(sigma_q),
                c64(sigma_f), epochs, c64(lr), c64(tol),
                kernel_q=self.kernel_q, auto_sigma_q=auto_q, auto_sigma_f=self.sigma_f is None,
            )

        alpha = np.asarray(res.alpha).astype(self.compute_dtype_name)
        if not np.all(np.isfinite(alpha)):
            raise FloatingPointError(
                f"the solve produced non-finite coefficients (sigma={self.sigma}, lam={self.lam}, "
                f"mu={self.mu}); the kernel system is numerically singular. Increase lam or use "
                f"dtype='float64'."
            )
        self.objective_ = float(res.objective)
        self.jitter_ = float(res.jitter)
        self.condition_ = float(res.condition)
        if penalised and self.kernel_q == "rbf":
            self.sigma_q_ = float(res.sigma_q)
        if penalised and self.penalty == "cka":
            self.sigma_f_ = float(res.sigma_f) * s
            self.decrement_, self.n_iter_ = float(res.decrement), int(res.n_iter)
            self.converged_ = bool(res.converged)
        # Predictions are formed in the compute dtype: judge the conditioning there.
        precision = self.compute_dtype_name
        if self.condition_ * _eps(precision) > ILL_CONDITIONED:
            warnings.warn(
                f"K + lam*I is ill-conditioned (condition number >= {self.condition_:.1e} in "
                f"{precision}): the coefficients, and predictions away from the training points, "
                f"may be inaccurate. Increase lam (now {self.lam})"
                + (" or use dtype='float64'." if precision == "float32" else "."),
                LinAlgWarning,
                stacklevel=2,
            )
        self.alpha_ = alpha
        self.X_fit_ = np.asarray(Xt)
        self.y_scale_ = s
        self.n_features_in_ = X.shape[1]
        if not self.converged_:
            hint = "Increase epochs."
            spread = float(np.std(self._predict_scaled(X)))
            if spread < 0.02 and np.std(ys) > 0:
                hint = (
                    f"The predictions are collapsing towards a constant (their spread is "
                    f"{spread:.1%} of y's): with this sigma_q and mu the objective has no "
                    f"minimiser with non-constant predictions. Increase sigma_q (or leave it "
                    f"to the median heuristic) or lower mu."
                )
            warnings.warn(
                f"FairKernelRidge did not converge in epochs={epochs} steps (decrement "
                f"{self.decrement_:.2e} > tol); the coefficients are the best found and "
                f"converged_ is False. {hint}",
                ConvergenceWarning,
                stacklevel=2,
            )
        if verbose:
            print(
                f"FairKernelRidge: n={X.shape[0]} penalty={self.penalty} mu={self.mu} "
                f"objective={self.objective_:.6g} n_iter={self.n_iter_} converged={self.converged_}"
            )
        return self

    # --------------------------------------------------------------- predict
    def _check_predict_X(self, X) -> np.ndarray:
        self._check_fitted()
        X = v.check_X(X, min_samples=1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but this model was fitted with {self.n_features_in_}."
            )
        return X

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None) -> np.ndarray:
        """Predict targets for ``x``.

        Parameters
        ----------
        x : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), in the units of the training ``y``.
        """
        X = self._check_predict_X(x)
        return self._predict_scaled(X) * self.y_scale_

    def _predict_scaled(self, X: np.ndarray, alpha=None) -> np.ndarray:
        alpha = self._cast(self.alpha_ if alpha is None else alpha)
        Xf, sigma = self._cast(self.X_fit_), self._cast(self.sigma)
        m = X.shape[0]
        if m <= PREDICT_CHUNK:
            return np.asarray(solvers.predict_program(self._cast(X), Xf, alpha, sigma))
        pad = (-m) % PREDICT_CHUNK  # equal chunks: one compilation
        Xp = np.concatenate([X, np.zeros((pad, X.shape[1]))]) if pad else X
        out = [
            np.asarray(solvers.predict_program(self._cast(Xp[i : i + PREDICT_CHUNK]), Xf, alpha, sigma))
            for i in range(0, Xp.shape[0], PREDICT_CHUNK)
        ]
        return np.concatenate(out)[:m]

    def call(self, inputs):
        """Symbolic-free forward pass: ``model(X)`` returns predictions as a tensor."""
        self._check_fitted()
        x = ops.convert_to_tensor(inputs, dtype=self.compute_dtype_name)
        return solvers.predict_program(x, self._cast(self.X_fit_), self._cast(self.alpha_),
                                       self._cast(self.sigma)) * self.y_scale_

    # -------------------------------------------------------------- μ-path
    def mu_path(self, X, y, q, mus) -> "MuPath":
        """Exact HSIC-penalised solutions for many values of ``mu`` at once.

        Uses this model's ``sigma``, ``lam``, ``sigma_q`` and ``kernel_q`` and the
        ``"hsic"`` penalty (whatever ``self.penalty`` is). One Cholesky
        factorisation of :math:`K + \\lambda I` plus a low-rank factor of
        :math:`HLH` (exact for one-hot groups or a linear kernel; for a
        continuous ``q`` the rank grows until the left-out trace is below
        1e-13 in float64 or 1e-7 in float32).

        Parameters
        ----------
        X, y, q : as in :meth:`fit` (``q`` required)
        mus : array-like of shape (m,), every value >= 0

        Returns
        -------
        MuPath
        """
        if q is None:
            raise ValueError("q (the sensitive attribute) is required for mu_path.")
        mus = v.as_float_array(mus, "mus").reshape(-1)
        if np.any(mus < 0):
            raise ValueError(f"mus must all be >= 0; got min {mus.min()}.")
        X, ys, q, s = self._prepare(X, y, q, penalised=True)
        c = self._cast
        qt = c(q)
        sigma_q = float(self.sigma_q) if self.sigma_q is not None else float(median_heuristic(qt))
        B, rank, residual = solvers.centered_sensitive_factor(
            qt, c(sigma_q), self.kernel_q, PATH_TOL[self.compute_dtype_name]
        )
        alphas, _ = solvers.hsic_path_program(c(X), c(ys), B, c(self.sigma), c(self.lam), c(mus))
        return MuPath(
            mus=mus, alphas=np.asarray(alphas), X_fit=np.asarray(c(X)), sigma=self.sigma,
            y_scale=s, sigma_q=sigma_q if self.kernel_q == "rbf" else float("nan"),
            rank=rank, residual=residual, dtype=self.compute_dtype_name,
        )

    # ------------------------------------------------------------ save/load
    def save_own_variables(self, store) -> None:
        if not self.is_fitted:
            return
        store["alpha"] = np.asarray(self.alpha_)
        store["X_fit"] = np.asarray(self.X_fit_)
        store["scalars"] = np.array([getattr(self, k) for k in _SCALARS], dtype=np.float64)
        store["ints"] = np.array([self.n_iter_, int(self.converged_), self.n_features_in_], dtype=np.int64)

    def load_own_variables(self, store) -> None:
        if "alpha" not in store:
            self._reset_fit()
            return
        self.alpha_ = np.asarray(store["alpha"])
        self.X_fit_ = np.asarray(store["X_fit"])
        for k, val in zip(_SCALARS, np.asarray(store["scalars"])):
            setattr(self, k, float(val))
        n_iter, conv, nfeat = (int(i) for i in np.asarray(store["ints"]))
        self.n_iter_, self.converged_, self.n_features_in_ = n_iter, bool(conv), nfeat


@dataclass(frozen=True)
class MuPath:
    """Solutions of the HSIC-penalised objective for a grid of ``mu`` (see :meth:`FairKernelRidge.mu_path`).

    Attributes
    ----------
    mus : ndarray of shape (m,)
    alphas : ndarray of shape (m, n_samples)
        Coefficients on the standardised scale, one row per ``mu``.
    rank : int
        Columns of the low-rank factor of :math:`HLH`.
    residual : float
        Relative trace of :math:`L` the factor leaves out (0 means exact).
    """

    mus: np.ndarray
    alphas: np.ndarray
    X_fit: np.ndarray
    sigma: float
    y_scale: float
    sigma_q: float
    rank: int
    residual: float
    dtype: str

    def predict(self, X) -> np.ndarray:
        """Predictions for every ``mu``: array of shape (m, n_new)."""
        X = v.check_X(X, min_samples=1)
        if X.shape[1] != self.X_fit.shape[1]:
            raise ValueError(f"X has {X.shape[1]} features, but the path was fitted with {self.X_fit.shape[1]}.")
        c = lambda a: ops.convert_to_tensor(a, dtype=self.dtype)  # noqa: E731
        Kx = rbf_kernel(c(X), c(self.X_fit), sigma=self.sigma)
        return np.asarray(ops.matmul(c(self.alphas), ops.transpose(Kx))) * self.y_scale


def _dtype_name(dtype) -> str:
    name = getattr(dtype, "name", None) or (dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype)
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}; got {dtype!r}.")
    return name
