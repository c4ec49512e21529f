r"""The Fair Kernel Ridge Regression model, a :class:`keras.Model`.

See :mod:`fairkl.solvers` for the objective, which is the same in every code
path:

.. math::
   J(\alpha) = \frac1n\Big[\lVert y/s_y - K\alpha\rVert^2
               + \lambda\,\alpha^\top K \alpha\Big] + \mu\, D(K\alpha, q),
   \qquad \hat y(x) = s_y \sum_i \alpha_i\, k(x - \bar x, x_i - \bar x).

``fit`` is :func:`fairkl.pipeline.prepare` → :func:`fairkl.pipeline.solve` →
record; every setup step lives in :mod:`fairkl.pipeline`.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops
from scipy.linalg import LinAlgWarning
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from fairkl import _validation as v
from fairkl import hyperparameters as hp
from fairkl import solvers
from fairkl._backend import user_stacklevel, x64_methods, x64_scope
from fairkl._constants import (
    DEFAULT_TOL,
    DTYPES,
    ILL_CONDITIONED,
    KERNELS_Q,
    PATH_TOL,
    PENALTIES,
    PREDICT_CHUNK,
)
from fairkl._ops import eps as _eps
from fairkl.pipeline import FitConfig, center, feature_names, prepare, solve
from fairkl.sensitive import SensitiveKernel
from fairkl.solvers import lowrank

__all__ = [
    "FairKernelRidge",
    "MuPath",
    "load_model",
    "DEFAULT_TOL",
    "PATH_TOL",
    "prepare_sensitive",
]
# Kept importable from here for fairkl.tuning and user code (their home is fairkl._constants).
_COMPAT = (DEFAULT_TOL, PATH_TOL, PENALTIES, KERNELS_Q, DTYPES)

#: Centred-row norm past which a row is "far" (see FairKernelRidge._predict_scaled): a quarter of
#: the square root of the dtype's largest value (4.6e18 in float32), far beyond SCALE_LIMIT.
_FAR_ROW = {name: math.sqrt(float(np.finfo(name).max)) / 4 for name in ("float32", "float64")}
_SCALARS = ("y_scale_", "sigma_q_", "sigma_f_", "objective_", "decrement_", "jitter_", "condition_")
#: The model's hyperparameters (its constructor keywords, ``get_config`` and the fingerprint are
#: derived from the one table, :data:`fairkl.hyperparameters.HYPERPARAMETERS`).
_CONFIG_KEYS = hp.MODEL_NAMES


def prepare_sensitive(q: np.ndarray, kernel_q: str) -> np.ndarray:
    """The columns the kernel on ``q`` sees (see :meth:`fairkl.sensitive.SensitiveKernel.prepare`)."""
    return SensitiveKernel(kernel_q).prepare(q)


@keras.saving.register_keras_serializable(package="fairkl")
@x64_methods("fit", "fit_prepared", "predict", "__call__", "evaluate", "mu_path")
class FairKernelRidge(keras.Model):
    r"""Kernel ridge regression with a penalty on the dependence between predictions and ``q``.

    Parameters
    ----------
    sigma : float, default 1.0
        Bandwidth of the RBF kernel on ``X`` (scikit-learn's
        ``gamma = 1 / (2 * sigma**2)``). Must be > 0.
    lam : float, default 1e-2
        Ridge strength :math:`\lambda \ge 0`, identical to ``KernelRidge(alpha=lam)``.
    mu : float, default 0.0
        Fairness strength :math:`\mu \ge 0`. Exactly invariant to the units of
        ``y`` (and of ``X`` and ``q`` with their bandwidths). Across sample
        sizes the same value gives only approximately the same trade-off: the
        achieved CKA ratio (fair / unfair) differed by 10–40% between
        n = 200 and n = 2,000 (measured). ``mu=0`` is plain kernel ridge regression.
    sigma_q : float or None, default None
        Bandwidth of the RBF kernel on the sensitive attribute ``q``, in the
        units of ``q``. ``None``: the median pairwise distance between the rows
        of ``q`` at fit time (median heuristic; invariant to the units of ``q``).
        Ignored when ``kernel_q="linear"``.
    penalty : {"cka", "hsic"}, default "cka"
        ``"cka"``: biased CKA between an RBF kernel on the predictions and the
        kernel on ``q`` (solved iteratively). With characteristic kernels CKA
        is zero only under independence, but the penalty acts on the
        *training* predictions and does not make held-out predictions
        independent of ``q`` (a 500-permutation HSIC test still rejected
        independence, p <= 0.01, for every model tried); test held-out
        predictions with :func:`fairkl.metrics.hsic_test` for a
        p-value. CKA cannot see the sign of a dependence (a strong ``mu`` can
        reverse a gap: check :func:`fairkl.metrics.mean_prediction_gap`).
        ``"hsic"``: biased HSIC with a *linear* kernel on the predictions, the
        Fair Kernel Learning penalty of Pérez-Suay et al. (2017) (solved
        exactly). It removes the dependence of the *mean* of the predictions
        on ``q`` (first moments only): on Adult it drove the mean gap to ~0
        yet left a decision-level parity gap for sign(f) near 0.09. At matched
        error ``"cka"`` did no better on that gap; it reached further along the
        trade-off, to a smaller gap at a higher error (the Adult chapter
        computes both).
    kernel_q : {"rbf", "linear"}, default "rbf"
        Kernel on ``q``. With ``"linear"`` the columns of ``q`` are standardised first.
    sigma_f : float or None, default None
        Bandwidth of the RBF kernel on the predictions for ``penalty="cka"``,
        in the units of ``y``. ``None``: median heuristic on the training targets.
    tol : float or None
        Stopping tolerance of the iterative solver on the decrement (about
        twice the gap to a stationary value of the objective); ``None`` means 1e-10.
    dtype : {"float32", "float64"}, default "float32"
        Precision of the kernels, the closed-form solves and the predictions.
        float32 is the default because it is Keras' default, halves memory
        (one n×n float64 matrix at n = 10,000 is 0.8 GB) and is what
        accelerators run fast; it is accurate here because ``X`` is centred by
        its training mean in float64 *before* the cast (so a feature such as a
        calendar year loses no digits to cancellation) and scales float32
        cannot represent are refused at fit time. Use ``"float64"`` for small
        ``lam`` (a :class:`~scipy.linalg.LinAlgWarning` says when). The
        iterative CKA solver always works in float64: its line search compares
        objective values that agree to 7 digits.
    n_components : int or None, default None
        ``None``: the exact model: O(n³) time, and memory of one or two n × n
        arrays (the kernel is factored in place and never kept; a CKA fit
        whose ``q`` kernel has no exact factor of rank <= 32, e.g. several
        continuous columns, adds that n × n matrix): 2.0–2.2 GB in float64 at
        n = 10,000, practical to n ≈ 20,000. An integer m: the low-rank (Nyström) model of
        :mod:`fairkl.solvers.lowrank` — predictions :math:`k(x, Z)\beta` on m landmark
        rows :math:`Z` of ``X``, the same objective with :math:`K \approx
        K_{nm}K_{mm}^{+}K_{mn}`; O(n m²) time and O(n m) memory (no n × n
        matrix), so n = 50,000 fits in seconds. The CKA penalty then uses 64
        Gauss–Hermite Fourier features of the prediction kernel. Computed in
        float64 whatever ``dtype``; ``sample_weight`` is not supported.
    landmarks : {"uniform", "kmeans++", "pivoted_cholesky"}, default "uniform"
        How the m landmarks are chosen (see :func:`fairkl.landmarks.select_landmarks`).
    random_state : int, default 0
        Seed of the landmark choice (equal seeds, equal landmarks).

    Attributes
    ----------
    alpha_ : ndarray of shape (n_samples,)
        Dual coefficients on the standardised scale.
    X_fit_ : ndarray of shape (n_samples, n_features)
        Training inputs minus ``X_offset_`` (in the compute dtype); for the
        low-rank model the landmarks, shape (n_components, n_features), and
        ``alpha_`` their coefficients.
    X_offset_ : ndarray of shape (n_features,)
        Training mean of ``X`` (float64), subtracted in float64 before every prediction.
    y_scale_ : float
        :math:`s_y` (see :func:`fairkl.pipeline.target_scale`).
    sigma_q_, sigma_f_ : float
        Bandwidths used (``nan`` when not applicable).
    converged_ : bool
    n_iter_ : int
    objective_ : float
    jitter_ : float
    condition_ : float
        Lower estimate of the condition number of :math:`K + \lambda I`.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names;
        ``predict`` then checks them, like scikit-learn.

    Notes
    -----
    The constructor's keywords are the ``"model"`` rows of
    :data:`fairkl.hyperparameters.HYPERPARAMETERS` (their defaults and checks;
    ``get_config`` and the save fingerprint are derived from it).
    Like :class:`sklearn.kernel_ridge.KernelRidge`, the model has no
    intercept: ``y`` is scaled but not centred, and at ``mu=0`` the predictions
    equal ``KernelRidge(kernel="rbf", gamma=1/(2*sigma**2), alpha=lam)``.
    Save with ``model.save("m.keras")``; the legacy ``.h5`` format is refused
    (it would not store the fit). :func:`fairkl.models.load_model` loads with a
    clear message for a truncated file; loading checks the fitted state
    (shapes, finite values, and that the weights were fitted with this
    model's hyperparameters).

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
        n_components: int | None = None,
        landmarks: str = "uniform",
        random_state: int = 0,
        **kwargs,
    ):
        dtype = _dtype_name(dtype)
        super().__init__(dtype=dtype, **kwargs)
        given = dict(
            sigma=sigma,
            lam=lam,
            mu=mu,
            sigma_q=sigma_q,
            penalty=penalty,
            kernel_q=kernel_q,
            sigma_f=sigma_f,
            tol=tol,
            dtype=dtype,
            n_components=n_components,
            landmarks=landmarks,
            random_state=random_state,
        )  # the signature above is checked against the table by tests/test_hyperparameters.py
        cfg = FitConfig(**given)
        for key in _CONFIG_KEYS:
            if key != "dtype":  # Keras owns self.dtype (the policy's variable dtype)
                setattr(self, key, getattr(cfg, key))
        self.compute_dtype_name = dtype
        self._reset_fit()
        # No Keras variables to create: the fitted state is saved by save_own_variables.
        self.built = True

    # ------------------------------------------------------------------ config
    def _hyperparameters(self) -> dict:
        """``{name: value}`` of this model's constructor keywords (the table's ``"model"`` rows)."""
        return {
            k: (self.compute_dtype_name if k == "dtype" else getattr(self, k)) for k in _CONFIG_KEYS
        }

    def get_config(self) -> dict:
        cfg = {"name": self.name, "trainable": self.trainable}
        cfg.update(self._hyperparameters())
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> FairKernelRidge:
        return cls(**config)

    def fit_config(self, epochs: int = 300, lr: float = 0.01) -> FitConfig:
        """This model's hyperparameters with the solver settings of one fit, validated."""
        return FitConfig(**self._hyperparameters(), epochs=epochs, lr=lr)

    # ------------------------------------------------------------- fit state
    def _reset_fit(self) -> None:
        self.alpha_ = None
        self.X_fit_ = None
        self.X_offset_ = None
        self._feature_names = None
        for key in _SCALARS:
            setattr(self, key, float("nan"))
        self.jitter_ = 0.0
        self.n_iter_ = 0
        self.converged_ = True

    @property
    def feature_names_in_(self) -> np.ndarray:
        if self._feature_names is None:
            raise AttributeError(
                "feature_names_in_ is set only when fit saw a DataFrame with string column names."
            )
        return self._feature_names

    @property
    def is_fitted(self) -> bool:
        return self.alpha_ is not None

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call fit(X, y, q=...) before predict."
            )

    def _cast(self, a):
        return ops.convert_to_tensor(a, dtype=self.compute_dtype_name)

    # ------------------------------------------------------------------- fit
    def fit(
        self,
        X,
        y,
        q=None,
        epochs: int = 300,
        lr: float = 0.01,
        verbose: int = 0,
        sample_weight=None,
    ):
        """Fit the model; re-fitting replaces every fitted quantity.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs (n_samples >= 4). Do not include ``q`` among the features.
        y : array-like of shape (n_samples,) or (n_samples, 1)
        q : array-like of shape (n_samples,) or (n_samples, n_attributes), optional
            Sensitive attribute (continuous values, group labels or one-hot
            groups). Required when ``mu > 0``.
        epochs : int, default 300
            Maximum number of steps of the iterative solver (``penalty="cka"``, ``mu > 0``).
        lr : float in [1e-12, 1], default 0.01
            Size of the first step, as a fraction of the Newton step of the data
            term; later steps come from L-BFGS with backtracking.
        verbose : int, default 0
            1 prints a one-line summary.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the squared errors (unpenalised fit only).

        Returns
        -------
        self
        """
        config = self.fit_config(epochs, lr)
        problem = prepare(X, y, q, config, sample_weight)
        self.fit_prepared(problem, config)
        if verbose:
            print(
                f"FairKernelRidge: n={problem.n} penalty={self.penalty} mu={self.mu} "
                f"objective={self.objective_:.6g} n_iter={self.n_iter_} converged={self.converged_}"
            )
        return self

    def fit_prepared(self, problem, config: FitConfig) -> FairKernelRidge:
        """Fit from a :class:`fairkl.pipeline.Problem` built with ``config`` (used by the integrations)."""
        _check_mu(config.mu)
        _check_target_range(problem, config.dtype)
        result = solve(problem, config)
        self._reset_fit()
        self._record(problem, config, result)
        self._warn_conditioning()
        if not self.converged_:
            self._warn_convergence(problem, config)
        return self

    def _record(self, problem, config: FitConfig, res) -> None:
        alpha = np.asarray(res.alpha).astype(self.compute_dtype_name)
        if not np.all(np.isfinite(alpha)):
            remedy = (
                f"Increase lam (now {self.lam})"
                if self.lam < 1e-3
                else "Check X and y for extreme values, or standardise X"
            )
            raise FloatingPointError(
                f"the solve produced non-finite coefficients (sigma={self.sigma}, lam={self.lam}, "
                f"mu={self.mu}): K + lam*I is numerically singular in {config.dtype}. {remedy}"
                + (", or use dtype='float64'." if config.dtype == "float32" else ".")
            )
        self.objective_, self.jitter_ = float(res.objective), float(res.jitter)
        self.condition_ = float(res.condition)
        if problem.penalised and self.kernel_q == "rbf":
            self.sigma_q_ = float(res.sigma_q)
        if problem.penalised and self.penalty == "cka":
            self.sigma_f_ = float(res.sigma_f) * problem.y_scale
            self.decrement_, self.n_iter_ = float(res.decrement), int(res.n_iter)
            self.converged_ = bool(res.converged)
            self._last_step = float(getattr(res, "step", 1.0))  # low-rank results carry no step
        self.alpha_ = alpha
        self.X_fit_ = np.asarray(
            self._cast(problem.X if problem.landmarks is None else problem.landmarks)
        )
        self.X_offset_ = problem.X_offset
        self.y_scale_ = problem.y_scale
        self.n_features_in_ = problem.X.shape[1]
        self._feature_names = problem.feature_names

    def _warn_conditioning(self) -> None:
        # Predictions are formed in the compute dtype: judge the conditioning there.
        precision = self.compute_dtype_name
        if self.condition_ * _eps(precision) > ILL_CONDITIONED:
            warnings.warn(
                f"K + lam*I is ill-conditioned (condition number >= {self.condition_:.1e} in "
                f"{precision}): the coefficients, and predictions away from the training points, "
                f"may be inaccurate. Increase lam (now {self.lam})"
                + (" or use dtype='float64'." if precision == "float32" else "."),
                LinAlgWarning,
                stacklevel=user_stacklevel(),
            )

    def _warn_convergence(self, problem, config: FitConfig) -> None:
        warnings.warn(
            f"FairKernelRidge did not converge in epochs={config.epochs} steps (decrement "
            f"{self.decrement_:.2e} > tol={config.stopping_tol:.1e}); the coefficients are the best "
            f"found and converged_ is False. {self._convergence_hint(problem, config)}",
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )

    def _convergence_hint(self, problem, config: FitConfig) -> str:
        """Advice that matches why the solver stopped (far from a minimum, tolerance floor, ridge, collapse, budget, stall).

        No second fit runs here: the unpenalised spread is bounded in closed form.
        """
        floor = 1e3 * _eps("float64") * max(abs(self.objective_), 1.0)
        if config.stopping_tol < floor and self.decrement_ <= 10 * floor:
            return (
                f"tol={config.stopping_tol:.1e} is below the rounding level of the objective "
                f"(~{floor:.0e} in float64) and the decrement ({self.decrement_:.1e}) is at that level, "
                f"so no step can certify it: use tol >= {floor:.0e} (default {DEFAULT_TOL:g}); more "
                f"epochs will not help."
            )
        spread = float(np.std(self._predict_scaled(problem.X)))
        if spread < 0.02 and np.std(problem.y) > 0:
            # Unpenalised predictions K (K + lam I)^-1 y: their size is at most
            # ||K|| / (||K|| + lam) * ||y||, and ||K||_2 <= trace K = n for the RBF kernel.
            n = problem.n
            bound = n / (n + self.lam) * float(np.sqrt(np.mean(problem.y**2)))
            if bound < 0.02:
                return (
                    f"lam={self.lam:g} shrinks even the unpenalised (mu=0) predictions to a constant "
                    f"(their size is at most {bound:.1%} of y's), where the penalty is flat: lower lam."
                )
            return (
                f"The predictions are collapsing towards a constant (their spread is {spread:.1%} of "
                f"y's): with this sigma_q and mu the objective has no minimiser with non-constant "
                f"predictions. Increase sigma_q (or leave it to the median heuristic) or lower mu."
            )
        if not (self.decrement_ <= max(abs(self.objective_), 1.0)):
            # The decrement (about twice the gap to a stationary value) exceeds the objective itself:
            # the coefficients are far from any minimum, whatever tol is.
            return (
                f"The decrement ({self.decrement_:.1e}) exceeds the objective ({self.objective_:.3g}): "
                f"the coefficients are far from a minimum and their predictions are not meaningful. "
                f"At mu={self.mu:g} the penalty's curvature is about mu times the data term's and the "
                f"solver needs far more steps (measured on make_seed_data, n=100, sigma=1, lam=1e-2: 3000 "
                f"epochs brought the decrement to 2e-9 at mu=1e4 but only to 0.6 at mu=1e5): lower mu "
                f"or increase epochs (now {config.epochs})."
            )
        if self.n_iter_ >= config.epochs:
            return f"Increase epochs (now {config.epochs})."
        return (
            f"The line search stalled (the step fell below 2e-13) with decrement {self.decrement_:.1e}: "
            f"the objective is flat to rounding here (lam={self.lam}, mu={self.mu}). The coefficients "
            f"are usable; a larger tol avoids the warning."
        )

    # --------------------------------------------------------------- predict
    def _check_predict_X(self, X) -> np.ndarray:
        self._check_fitted()
        self._check_feature_names(X)
        X = v.check_X(X, min_samples=1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but this model was fitted with {self.n_features_in_}."
            )
        return X

    def _check_feature_names(self, X) -> None:
        """scikit-learn's rule: names seen at fit must match at predict (order included)."""
        names, fitted = feature_names(X), self._feature_names
        if fitted is None:
            if names is not None:
                warnings.warn(
                    f"X has feature names, but {type(self).__name__} was fitted without feature "
                    f"names",
                    UserWarning,
                    stacklevel=user_stacklevel(),
                )
            return
        if names is None:
            warnings.warn(
                f"X does not have valid feature names, but {type(self).__name__} was fitted "
                f"with feature names",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        elif len(names) != len(fitted) or np.any(names != fitted):
            raise ValueError(
                f"The feature names should match those that were passed during fit: fitted with "
                f"{list(fitted)}, got {list(names)}. Pass the columns in the order used by fit."
            )

    def predict(
        self, x, batch_size: int | None = None, verbose: int = 0, steps=None, callbacks=None
    ) -> np.ndarray:
        """Predict targets for ``x``.

        Parameters
        ----------
        x : array-like of shape (n_samples, n_features)
            Inputs, with the columns (and, for a DataFrame, the names) used by ``fit``.
        batch_size : int, optional
            Rows per compiled prediction call (default 2048). Each call holds a
            ``batch_size`` × (training rows or landmarks) kernel block, so a smaller value
            bounds memory on large inputs; the predictions do not depend on it.
        verbose : int, default 0
            Accepted for Keras compatibility; nothing is printed.
        steps, callbacks : None
            Keras options for datasets and generators. This model predicts from arrays in
            one pass and has no steps or callbacks: any value other than None raises.

        Returns
        -------
        ndarray of shape (n_samples,), in the units of the training ``y``.
        """
        for name, value in (("steps", steps), ("callbacks", callbacks)):
            if value is not None:
                raise ValueError(
                    f"predict() got {name}={value!r}, but FairKernelRidge predicts from arrays in "
                    f"one pass and has no {name}; leave {name}=None (use batch_size to bound "
                    f"memory)."
                )
        chunk = PREDICT_CHUNK if batch_size is None else v.check_int(batch_size, "batch_size")
        X = self._check_predict_X(x)
        return self._unscale(self._predict_scaled(center(self.X_offset_, X), chunk))

    def _unscale(self, scaled: np.ndarray) -> np.ndarray:
        """Predictions in y's units: multiplied in float64, then in the compute dtype (fit checked the range)."""
        return (np.asarray(scaled, dtype=np.float64) * self.y_scale_).astype(
            self.compute_dtype_name
        )

    def _predict_scaled(self, Xc: np.ndarray, chunk: int = PREDICT_CHUNK) -> np.ndarray:
        """Standardised predictions for inputs already centred by ``X_offset_``."""
        alpha, Xf, sigma = self._cast(self.alpha_), self._cast(self.X_fit_), self._cast(self.sigma)
        # Rows too far from the training mean for the compute dtype (cast or square would overflow, and
        # the kernel gave a constant garbage value) are, since fit bounds the training inputs and sigma
        # (pipeline.check_scale), so far from every training row that each kernel value is exactly 0:
        # their prediction is 0, computed here rather than from an overflowed cast.
        far = np.sqrt(np.sum(np.square(Xc / _FAR_ROW[self.compute_dtype_name]), axis=1)) > 1.0
        if np.any(far):
            Xc = np.where(far[:, None], 0.0, Xc)
            return np.where(far, 0.0, self._predict_scaled(Xc, chunk)).astype(
                self.compute_dtype_name
            )
        # The one chunked prediction (equal zero-padded chunks: one compilation per shape).
        return lowrank.predict(Xc, Xf, alpha, sigma, chunk)

    def __call__(self, inputs, *args, **kwargs):
        """``model(X)``: eager predictions as a tensor.

        Keras' ``Layer.__call__`` would first cast ``X`` to the compute dtype,
        rounding it before the float64 centring; this model has no symbolic
        graph, so the call goes straight to :meth:`call`.
        """
        return self.call(inputs)

    def call(self, inputs):
        """``model(X)`` returns predictions as a tensor (eager; X is centred in float64 first).

        Inside a traced Keras step (``compile()`` then ``evaluate()``) the inputs are symbolic:
        their width is checked, they are centred in float64 in the graph and the predictions
        equal :meth:`predict` to the compute dtype's rounding, with shape (n, 1) there (Keras'
        convention for a regression output). Values cannot be refused inside
        the trace: a row with NaN or inf predicts NaN, so the loss is NaN.
        """
        import jax

        if isinstance(inputs, jax.core.Tracer):
            self._check_fitted()
            if inputs.ndim != 2 or inputs.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has shape {tuple(inputs.shape)}, but this model was fitted with "
                    f"{self.n_features_in_} features (expected (n_samples, {self.n_features_in_}))."
                )
            xc = ops.cast(inputs, "float64") - ops.convert_to_tensor(
                self.X_offset_, dtype="float64"
            )
            pred = solvers.predict_program(
                self._cast(xc),
                self._cast(self.X_fit_),
                self._cast(self.alpha_),
                self._cast(self.sigma),
            )
            # No exception can be raised from inside the trace: a row with NaN/inf gives NaN (the
            # kernel alone could map it to a finite value), so the loss shows it.
            ok = ops.all(ops.isfinite(inputs), axis=1)
            pred = ops.where(ok, ops.cast(pred, "float64") * self.y_scale_, float("nan"))
            # Shape (n, 1), Keras' regression convention: its losses then align a y of shape (n,)
            # or (n, 1) row by row (a (n,) output against a (n, 1) y broadcast to (n, n), and a
            # (n,) pair reduced each batch to one number, which broke sample weights).
            return self._cast(ops.expand_dims(pred, -1))
        # The same checks as predict: a wrong width or a NaN must not give numbers.
        Xc = center(self.X_offset_, self._check_predict_X(inputs))
        return self._cast(self._unscale(self._predict_scaled(Xc)))

    _WEIGHT_KEYS = ("alpha", "X_fit", "X_offset", "scalars", "ints", "config")

    def get_weights(self) -> list:
        """The fitted state as NumPy arrays (the fit is not held in Keras variables).

        Order: ``alpha_``, ``X_fit_``, ``X_offset_``, the scalars, the counters and a
        fingerprint of the hyperparameters; :meth:`set_weights` on a model built with
        the same configuration restores the fit. ``[]`` for an unfitted model.
        """
        store: dict = {}
        self.save_own_variables(store)
        return [np.array(store[k]) for k in self._WEIGHT_KEYS] if store else []

    def set_weights(self, weights) -> None:
        """Restore a fit from :meth:`get_weights` (checked like a loaded file: shapes, finite values, config)."""
        weights = list(weights)
        if len(weights) == 0:
            self._reset_fit()
            return
        if len(weights) != len(self._WEIGHT_KEYS):
            raise ValueError(
                f"set_weights expects the {len(self._WEIGHT_KEYS)} arrays of FairKernelRidge.get_weights() "
                f"({', '.join(self._WEIGHT_KEYS)}); got {len(weights)}."
            )
        self.load_own_variables(
            dict(zip(self._WEIGHT_KEYS, (np.asarray(w) for w in weights), strict=False))
        )

    # -------------------------------------------------------------- μ-path
    def mu_path(self, X, y, q, mus) -> MuPath:
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
        mus = v.check_mus(mus, "mus", limit=MU_LIMIT)
        config = FitConfig(**{**self._hyperparameters(), "penalty": "hsic"})
        p = prepare(X, y, q, config, penalised=True)  # the path's own mus are passed below
        kernel = p.sensitive.resolve(p.q)
        c = self._cast
        if p.landmarks is not None:  # low rank: coefficients on the landmarks
            B, residual = lowrank.sensitive_factor(p.q, kernel.traced_sigma, self.kernel_q)
            alphas = lowrank.hsic_path_from_factor(
                p.X, p.y, B, p.landmarks, self.sigma, self.lam, mus
            )
            X_fit = p.landmarks
        else:
            B, _, residual = kernel.factor(c(p.q), PATH_TOL[self.compute_dtype_name])
            alphas, _ = solvers.hsic_path_program(
                c(p.X), c(p.y), B, c(self.sigma), c(self.lam), c(mus)
            )
            X_fit = p.X
        # The pivoted factor stops early inside a fixed-width buffer (zero columns), and a group factor
        # has one centred column per group (G columns, rank G - 1): report the factor's matrix rank.
        rank = int(np.linalg.matrix_rank(np.asarray(B, dtype=np.float64)))
        return MuPath(
            mus=mus,
            alphas=np.asarray(alphas).astype(self.compute_dtype_name),
            X_fit=np.asarray(c(X_fit)),
            sigma=self.sigma,
            y_scale=p.y_scale,
            sigma_q=kernel.sigma,
            rank=rank,
            residual=residual,
            dtype=self.compute_dtype_name,
            X_offset=p.X_offset,
        )

    # ------------------------------------------------------------ save/load
    def save(self, filepath, *args, **kwargs):
        """Save to a ``.keras`` file (config and fit). The legacy ``.h5`` format is refused."""
        if str(filepath).lower().endswith((".h5", ".hdf5")):
            raise ValueError(
                f"cannot save FairKernelRidge to {str(filepath)!r}: the legacy HDF5 format stores no "
                f"fit (coefficients and training inputs). Use a '.keras' file, e.g. model.save('model.keras')."
            )
        return super().save(filepath, *args, **kwargs)

    def _config_fingerprint(self) -> np.ndarray:
        # By name from the table; an exact model's fingerprint leaves out the low-rank rows (as
        # before the low-rank model existed, so that older files load).
        keys = hp.fingerprint_names(low_rank=self.n_components is not None)
        blob = json.dumps({k: getattr(self, k) for k in keys}, sort_keys=True)
        return np.frombuffer(hashlib.sha256(blob.encode()).digest()[:8], dtype=np.int64).copy()

    def save_own_variables(self, store) -> None:
        if not self.is_fitted:
            return
        store["alpha"] = np.asarray(self.alpha_)
        store["X_fit"] = np.asarray(self.X_fit_)
        store["X_offset"] = np.asarray(self.X_offset_, dtype=np.float64)
        store["scalars"] = np.array([getattr(self, k) for k in _SCALARS], dtype=np.float64)
        store["ints"] = np.array(
            [self.n_iter_, int(self.converged_), self.n_features_in_], dtype=np.int64
        )
        store["config"] = self._config_fingerprint()

    def load_own_variables(self, store) -> None:
        if "alpha" not in store:
            self._reset_fit()
            return
        state = {
            k: np.asarray(store[k])
            for k in ("alpha", "X_fit", "X_offset", "scalars", "ints", "config")
            if k in store
        }
        _check_loaded_state(state, self._config_fingerprint(), self.get_config())
        self._reset_fit()
        self.alpha_, self.X_fit_, self.X_offset_ = state["alpha"], state["X_fit"], state["X_offset"]
        for k, val in zip(_SCALARS, state["scalars"], strict=False):
            setattr(self, k, float(val))
        n_iter, conv, nfeat = (int(i) for i in state["ints"])
        self.n_iter_, self.converged_, self.n_features_in_ = n_iter, bool(conv), nfeat


def load_model(filepath, **kwargs) -> FairKernelRidge:
    """``keras.saving.load_model`` with a clear message for a missing, truncated or corrupt ``.keras`` file.

    Keras reports a truncated archive as "File not found"; this checks the
    zip archive first and names the file and the problem.
    """
    import os
    import zipfile

    path = os.fspath(filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path!r}.")
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(
            f"{path!r} is not a complete .keras archive ({exc}): the file is truncated or corrupt. "
            f"Save the model again with model.save({path!r})."
        ) from exc
    if broken is not None:
        raise ValueError(
            f"{path!r} is corrupt (member {broken!r} fails its checksum): save the model again."
        )
    return keras.saving.load_model(path, **kwargs)


def _check_loaded_state(state: dict, fingerprint: np.ndarray, config: dict) -> None:
    """Refuse saved weights that are incomplete, inconsistent, non-finite or from another configuration."""
    missing = {"X_offset", "scalars", "ints", "config"} - set(state)
    if missing:
        raise ValueError(
            f"the saved FairKernelRidge state lacks {sorted(missing)}: re-save the model with this fairkl."
        )
    if not np.array_equal(state["config"], fingerprint):
        raise ValueError(
            f"the saved weights were fitted with other hyperparameters than this model's "
            f"({ {k: config[k] for k in _CONFIG_KEYS} }): load them into a model built with the same config "
            f"(keras.models.load_model does that)."
        )
    alpha, X_fit, ints = state["alpha"], state["X_fit"], state["ints"]
    n, d = alpha.shape[0], int(ints[2]) if ints.shape == (3,) else -1
    shapes_ok = (
        alpha.ndim == 1
        and X_fit.shape == (n, d)
        and state["X_offset"].shape == (d,)
        and state["scalars"].shape == (len(_SCALARS),)
    )
    m = config.get("n_components")
    if shapes_ok and m is not None and n != m:
        raise ValueError(
            f"the saved low-rank state has {n} landmark coefficients, but n_components={m}: the file is corrupt."
        )
    if not shapes_ok:
        raise ValueError(
            f"the saved FairKernelRidge state is inconsistent (alpha {alpha.shape}, X_fit {X_fit.shape})."
        )
    arrays = (alpha, X_fit, state["X_offset"], state["scalars"][:1])
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError(
            "the saved FairKernelRidge state contains NaN or infinite values: the file is corrupt."
        )


@dataclass(frozen=True)
class MuPath:
    """Solutions of the HSIC-penalised objective for a grid of ``mu`` (see :meth:`FairKernelRidge.mu_path`).

    Attributes
    ----------
    mus : ndarray of shape (m,)
    alphas : ndarray of shape (m, n_samples)
        Coefficients on the standardised scale, one row per ``mu`` (on the
        landmarks ``X_fit``, shape (m, n_components), for a low-rank model).
    rank : int
        Rank of the low-rank factor of :math:`HLH` (NumPy's ``matrix_rank``), not its width.
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
    X_offset: np.ndarray | None = None  #: training mean of X (``X_fit`` is centred by it)

    @x64_scope
    def predict(self, X) -> np.ndarray:
        """Predictions for every ``mu``: array of shape (m, n_new)."""
        X = v.check_X(X, min_samples=1)
        if X.shape[1] != self.X_fit.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but the path was fitted with {self.X_fit.shape[1]}."
            )
        c = lambda a: ops.convert_to_tensor(a, dtype=self.dtype)  # noqa: E731
        Xc = X if self.X_offset is None else center(self.X_offset, X)
        # As FairKernelRidge.predict: rows whose cast would overflow have kernel 0, prediction 0.
        far = np.sqrt(np.sum(np.square(Xc / _FAR_ROW[self.dtype]), axis=1)) > 1.0
        Xc = np.where(far[:, None], 0.0, Xc)
        alphas_t = ops.transpose(c(self.alphas))
        out = np.asarray(
            ops.transpose(solvers.predict_program(c(Xc), c(self.X_fit), alphas_t, c(self.sigma)))
        )
        return np.where(far[None, :], 0.0, out) * self.y_scale


#: Largest mu accepted. The data term is O(1) on the standardised scale and the penalty at most
#: 1 (CKA) or O(1) (HSIC); past 1 / (1e3 * float64 eps) ~ 4.5e12 the data term is below a thousand
#: rounding units of mu * D, so the fit is numerically the mu -> infinity limit (mu = 1e300 used to
#: return the mu = 0 fit). Checked in one place, FairKernelRidge.fit_prepared, which every fit uses.
MU_LIMIT = 1e12


def _check_mu(mu: float) -> None:
    if mu > MU_LIMIT:
        raise ValueError(
            f"mu={mu:g} is above {MU_LIMIT:g}: there the data term is below the float64 rounding of "
            f"mu * penalty, so the fit cannot see y (numerically the mu -> infinity limit). The effect "
            f"of mu saturates long before (CKA fits need more epochs above mu ~ 1e3): use mu <= {MU_LIMIT:g}."
        )


def _check_target_range(problem, dtype: str) -> None:
    """Refuse a y whose values the compute dtype cannot hold to full precision (predictions would be 0 or inf)."""
    info = np.finfo(dtype)
    # Below tiny/eps values lose digits as subnormals; above max/8 predictions (which may exceed
    # max |y| somewhat) would overflow.
    lo, hi = float(info.tiny) / float(info.eps), float(info.max) / 8
    s = float(problem.y_scale)
    top = s * float(np.max(np.abs(problem.y)))
    if s < lo or top > hi:
        raise ValueError(
            f"y (scale s_y = {s:.3g}, max |y| = {top:.3g}) is outside the range whose values {dtype} "
            f"represents to full precision (about {lo:.0e} to {hi:.0e}): its predictions would underflow "
            f"to 0 or overflow to inf. Rescale y (e.g. to other units)"
            + (" or use dtype='float64'." if dtype == "float32" else ".")
        )


def _dtype_name(dtype) -> str:
    """The compute dtype's name from a string, a Keras ``DTypePolicy`` or its serialised dict."""
    if isinstance(dtype, dict):  # a serialised policy: deserialise through Keras' public API
        dtype = keras.dtype_policies.deserialize(dtype)
    name = getattr(dtype, "name", dtype)
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        name = np.dtype(dtype).name  # np.float64, np.dtype("float32"): as their names
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {list(DTYPES)}; got {dtype!r}.")
    return name
