"""The scikit-learn estimator :class:`FairKernelRidgeRegressor` (a thin wrapper over the Keras model)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from fairkl._backend import x64_methods
from fairkl.hyperparameters import ESTIMATOR_NAMES, MODEL_NAMES
from fairkl.models import FairKernelRidge
from fairkl.pipeline import FitConfig, prepare


@x64_methods("fit", "predict")
class FairKernelRidgeRegressor(RegressorMixin, BaseEstimator):
    """scikit-learn estimator for fair kernel ridge regression.

    A thin wrapper over :class:`fairkl.models.FairKernelRidge` (same hyperparameter
    names, defaults and objective; ``epochs`` and ``lr`` are the model's ``fit``
    arguments). With ``mu=0`` or no sensitive features it is plain kernel ridge
    regression, equal to ``KernelRidge(kernel="rbf", gamma=1/(2*sigma**2), alpha=lam)``.

    The parameters are the rows of :data:`fairkl.hyperparameters.HYPERPARAMETERS`
    (scopes ``"model"`` and ``"fit"``) with the defaults of
    :data:`fairkl.hyperparameters.ESTIMATOR_DEFAULTS`; ``tests/test_hyperparameters.py``
    checks the signature against the table.

    Parameters
    ----------
    sigma, lam, mu, sigma_q, penalty, kernel_q, sigma_f, tol
        As in :class:`fairkl.models.FairKernelRidge`.
    epochs : int, default 300
        Maximum steps of the iterative (CKA) solver.
    lr : float, default 0.01
        First step of the iterative solver.
    dtype : {"float64", "float32"}, default "float64"
        Compute precision. The one documented difference from the Keras model
        (float32, Keras' default): scikit-learn estimators compute in float64.
    n_components, landmarks, random_state
        The low-rank (Nyström) model, as in :class:`fairkl.models.FairKernelRidge`
        (``n_components=None``: the exact model).

    Attributes
    ----------
    model_ : FairKernelRidge
        The fitted Keras model.
    n_features_in_ : int
    feature_names_in_ : ndarray, when X has string column names
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
        epochs: int = 300,
        lr: float = 0.01,
        tol: float | None = None,
        dtype: str = "float64",
        n_components: int | None = None,
        landmarks: str = "uniform",
        random_state: int = 0,
    ):
        self.sigma = sigma
        self.lam = lam
        self.mu = mu
        self.sigma_q = sigma_q
        self.penalty = penalty
        self.kernel_q = kernel_q
        self.sigma_f = sigma_f
        self.epochs = epochs
        self.lr = lr
        self.tol = tol
        self.dtype = dtype
        self.n_components = n_components
        self.landmarks = landmarks
        self.random_state = random_state

    def _fit_config(self) -> FitConfig:
        """The parameters validated by the table's checks (through :class:`FitConfig`)."""
        return FitConfig(**{k: getattr(self, k) for k in ESTIMATOR_NAMES})

    def fit(self, X, y, sensitive_features=None, sample_weight=None):
        """Fit on ``X``, ``y``; ``sensitive_features`` is required when ``mu > 0``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes), optional
            Continuous values or group labels.
        sample_weight : array-like of shape (n_samples,), optional
            Supported for the unpenalised fit (see :meth:`fairkl.models.FairKernelRidge.fit`).

        Returns
        -------
        self
        """
        config = self._fit_config()
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        problem = prepare(
            X, y, sensitive_features, config, sample_weight, q_name="sensitive_features"
        )
        model = FairKernelRidge(**{k: getattr(self, k) for k in MODEL_NAMES})
        self.model_ = model.fit_prepared(problem, config)
        return self

    def predict(self, X):
        """Predictions for ``X``, array of shape (n_samples,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.predict(X).astype(np.float64)
