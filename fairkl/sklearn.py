"""scikit-learn integration: an estimator, fairness scorers and efficient model selection.

The estimator takes the sensitive attribute as ``sensitive_features`` (the
fairlearn name) in ``fit``; with metadata routing enabled it is routed per fold
by ``cross_validate``, ``GridSearchCV`` and ``Pipeline``::

    import sklearn
    sklearn.set_config(enable_metadata_routing=True)
    est = FairKernelRidgeRegressor(mu=5.0).set_fit_request(sensitive_features=True)
    cross_validate(est, X, y, params={"sensitive_features": A}, scoring=...)

The scorers read ``sensitive_features`` at score time (which needs metadata
routing, enabled before they are made).
"""

from __future__ import annotations

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import make_scorer
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fairkl import _validation as v
from fairkl.dependence import cka_rbf, hsic
from fairkl.kernels import centered_rbf_kernel, median_heuristic
from fairkl.models import FairKernelRidge

__all__ = [
    "FairKernelRidgeRegressor",
    "yardstick",
    "dependence_score",
    "mean_parity_gap",
    "make_dependence_scorer",
    "make_parity_scorer",
    "best_within_budget",
]


class FairKernelRidgeRegressor(RegressorMixin, BaseEstimator):
    """scikit-learn estimator for fair kernel ridge regression.

    A thin wrapper over :class:`fairkl.FairKernelRidge` (same hyperparameter
    names and objective). With ``mu=0`` or no sensitive features it is plain
    kernel ridge regression, equal to
    ``KernelRidge(kernel="rbf", gamma=1/(2*sigma**2), alpha=lam)``.

    Parameters
    ----------
    sigma, lam, mu, sigma_q, penalty, kernel_q, sigma_f, tol
        As in :class:`fairkl.FairKernelRidge`.
    epochs : int, default 300
        Maximum steps of the iterative (CKA) solver.
    lr : float, default 0.01
        First step of the iterative solver.
    dtype : {"float64", "float32"}, default "float64"
        Compute precision (scikit-learn's usual float64 by default).

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

    def fit(self, X, y, sensitive_features=None, sample_weight=None):
        """Fit on ``X``, ``y``; ``sensitive_features`` is required when ``mu > 0``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes), optional
        sample_weight : array-like of shape (n_samples,), optional
            Supported for the unpenalised fit (see :meth:`fairkl.FairKernelRidge.fit`).

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        q = None
        if sensitive_features is not None:
            q = v.check_sensitive(np.asarray(sensitive_features), X.shape[0], name="sensitive_features")
        elif self.mu > 0:
            raise ValueError(
                f"sensitive_features is required when mu > 0 (mu={self.mu}). Pass "
                f"fit(X, y, sensitive_features=A); in cross-validation enable metadata routing "
                f"and call set_fit_request(sensitive_features=True)."
            )
        model = FairKernelRidge(
            self.sigma, self.lam, self.mu, self.sigma_q, penalty=self.penalty, kernel_q=self.kernel_q,
            sigma_f=self.sigma_f, tol=self.tol, dtype=self.dtype,
        )
        model.fit(X, y, q=q, epochs=self.epochs, lr=self.lr, sample_weight=sample_weight)
        self.model_ = model
        return self

    def predict(self, X):
        """Predictions for ``X``, array of shape (n_samples,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.predict(X).astype(np.float64)


# ----------------------------------------------------------------------------
# Fairness metrics and scorers
# ----------------------------------------------------------------------------

def yardstick(y, sensitive_features) -> dict:
    """Fixed bandwidths for comparing dependence across models, folds and trials.

    The median-heuristic bandwidths of the targets and of the sensitive
    attribute on the whole dataset. Pass them to :func:`dependence_score` or
    :func:`make_dependence_scorer` so that every candidate is measured with the
    same ruler (never each model's own ``sigma_q``).

    Returns
    -------
    dict with keys ``sigma_pred`` and ``sigma_q``
    """
    y = v.as_float_array(y, "y").reshape(len(y), -1)
    q = v.as_float_array(sensitive_features, "sensitive_features").reshape(len(y), -1)
    return {"sigma_pred": float(median_heuristic(y)), "sigma_q": float(median_heuristic(q))}


def dependence_score(y_true, y_pred, *, sensitive_features, sigma_pred: float, sigma_q: float,
                     measure: str = "cka") -> float:
    """Dependence between predictions and the sensitive attribute (lower is fairer).

    Parameters
    ----------
    y_true : ignored (present for the scorer signature)
    y_pred : array-like of shape (n,)
    sensitive_features : array-like of shape (n,) or (n, d_q)
    sigma_pred, sigma_q : float
        Fixed RBF bandwidths (see :func:`yardstick`).
    measure : {"cka", "hsic"}
        Biased CKA in [0, 1], or biased HSIC (RBF kernels on both).
    """
    v.check_choice(measure, "measure", ("cka", "hsic"))
    f = v.as_float_array(y_pred, "y_pred").reshape(-1, 1)
    q = v.check_sensitive(sensitive_features, f.shape[0], name="sensitive_features")
    if measure == "cka":
        return float(cka_rbf(f, q, sigma_a=sigma_pred, sigma_b=sigma_q))
    Kc = centered_rbf_kernel(f, sigma_pred)
    Lc = centered_rbf_kernel(q, sigma_q)
    return float(hsic(Kc, Lc))


def _groups(sensitive_features, n: int) -> np.ndarray:
    a = np.asarray(sensitive_features)
    if a.ndim == 1:
        a = a[:, None]
    if a.shape[0] != n:
        raise ValueError(f"sensitive_features has {a.shape[0]} rows but y_pred has {n}.")
    _, codes = np.unique(a, axis=0, return_inverse=True)
    return codes.reshape(-1)


def mean_parity_gap(y_true, y_pred, *, sensitive_features) -> float:
    """Largest difference between the mean predictions of two groups (lower is fairer).

    ``sensitive_features`` holds group labels (any values; one column, or
    one-hot/several columns whose distinct rows are the groups). For a
    continuous attribute use :func:`dependence_score`.
    """
    f = v.as_float_array(y_pred, "y_pred").reshape(-1)
    codes = _groups(sensitive_features, f.shape[0])
    means = np.array([f[codes == g].mean() for g in np.unique(codes)])
    return float(means.max() - means.min())


def _scorer(fn, **kwargs):
    scorer = make_scorer(fn, greater_is_better=False, **kwargs)
    if sklearn.get_config().get("enable_metadata_routing", False):
        scorer = scorer.set_score_request(sensitive_features=True)
    return scorer


def make_dependence_scorer(measure: str = "cka", *, sigma_pred: float, sigma_q: float):
    """A scorer of held-out dependence that reads ``sensitive_features`` at score time.

    Like every "lower is better" scikit-learn scorer it returns the *negated*
    value (``cv_results_`` shows ``-CKA``). Enable metadata routing before
    calling this so that the scorer requests ``sensitive_features``.
    """
    v.check_choice(measure, "measure", ("cka", "hsic"))
    return _scorer(dependence_score, sigma_pred=sigma_pred, sigma_q=sigma_q, measure=measure)


def make_parity_scorer():
    """A scorer of :func:`mean_parity_gap` (negated; see :func:`make_dependence_scorer`)."""
    return _scorer(mean_parity_gap)


def best_within_budget(budget: float, *, fairness: str = "cka", accuracy: str = "neg_mean_squared_error"):
    """A ``refit`` callable: the most accurate candidate whose mean unfairness is at most ``budget``.

    ``fairness`` and ``accuracy`` name entries of the ``scoring`` dict of a
    multi-metric search. The fairness scorer is negated (see
    :func:`make_dependence_scorer`), so a candidate qualifies when
    ``-mean_test_<fairness> <= budget``. If none does, the fairest candidate
    is chosen.
    """
    budget = v.check_positive(budget, "budget", allow_zero=True)

    def refit(cv_results) -> int:
        unfair = -np.asarray(cv_results[f"mean_test_{fairness}"], dtype=float)
        acc = np.asarray(cv_results[f"mean_test_{accuracy}"], dtype=float)
        ok = unfair <= budget
        if not ok.any():
            return int(np.nanargmin(unfair))
        return int(np.flatnonzero(ok)[np.nanargmax(acc[ok])])

    return refit
