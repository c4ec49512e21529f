r"""The scikit-learn classifier :class:`FairKernelRidgeClassifier`: the Fair Kernel Learning protocol.

Pérez-Suay et al. (ECML-PKDD 2017) classify by regression: fit fair kernel
ridge regression on labels coded :math:`\pm 1` and decide by the sign of
:math:`f(x)`. This module wraps :class:`~fairkl.sklearn.FairKernelRidgeRegressor`
(by composition, same hyperparameters and objective) in that protocol.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from fairkl._backend import x64_methods
from fairkl.sklearn.estimator import FairKernelRidgeRegressor


@x64_methods("fit", "decision_function", "predict")
class FairKernelRidgeClassifier(ClassifierMixin, BaseEstimator):
    r"""Binary classifier by fair kernel ridge regression on :math:`\pm 1` labels (the FKL paper's protocol).

    The two classes (any labels: numbers, strings, booleans) are sorted into
    ``classes_``; ``classes_[1]`` is coded :math:`+1` and ``classes_[0]``
    :math:`-1`, and :class:`~fairkl.sklearn.FairKernelRidgeRegressor` is fitted
    to those codes with the sensitive attribute, minimising

    .. math:: J(\alpha) = \tfrac1n\left[\lVert t - K\alpha\rVert^2
              + \lambda\,\alpha^\top K\alpha\right] + \mu\,D(K\alpha, q),
              \qquad t_i \in \{-1, +1\}

    (the data term on :math:`t / s_t`, see the regressor).
    :meth:`decision_function` is :math:`f(x)`, :meth:`predict` is
    ``classes_[1]`` where :math:`f(x) > 0` and ``classes_[0]`` otherwise, and
    ``score`` is accuracy. With ``mu=0`` the decision function equals
    ``KernelRidge(kernel="rbf", gamma=1/(2*sigma**2), alpha=lam)`` fitted to
    the :math:`\pm 1` codes (ridge is linear in the targets, so the internal
    scaling by :math:`s_t` cancels; there is no intercept in either).

    What the penalty buys at the decision level: ``penalty="hsic"`` (linear
    kernel on f) removes the dependence of the *mean* of f on q, not of the
    sign. On Adult (q = sex; the book's chapter "Reproducing Fair Kernel
    Learning on UCI Adult") ``penalty="cka"`` did no better than
    ``penalty="hsic"`` at matched error, but reached smaller parity gaps at
    a higher error. Measure
    decisions with :func:`fairkl.metrics.statistical_parity_difference`,
    :func:`~fairkl.metrics.equal_opportunity_difference` and
    :func:`~fairkl.metrics.error_rate_gap`.

    Parameters
    ----------
    sigma, lam, mu, sigma_q, penalty, kernel_q, sigma_f, epochs, lr, tol, dtype, n_components, landmarks, random_state
        As in :class:`~fairkl.sklearn.FairKernelRidgeRegressor` (the rows of
        :data:`fairkl.hyperparameters.HYPERPARAMETERS`; ``tests/test_hyperparameters.py``
        checks this signature against the table, and the regressor validates the values).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two class labels, sorted; ``classes_[1]`` is the positive class.
    regressor_ : FairKernelRidgeRegressor
        The fitted regression on the :math:`\pm 1` codes.
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # binary only: the sign of one regression
        return tags

    def _regressor(self) -> FairKernelRidgeRegressor:
        # Composition: every hyperparameter of this class is one of the regressor's.
        names = self._get_param_names()
        return FairKernelRidgeRegressor(**{k: getattr(self, k) for k in names})

    def fit(self, X, y, sensitive_features=None, sample_weight=None):
        """Fit on ``X`` and binary labels ``y``; ``sensitive_features`` is required when ``mu > 0``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Exactly two distinct labels (any type that sorts).
        sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes), optional
            Continuous values or group labels, as for the regressor.
        sample_weight : array-like of shape (n_samples,), optional
            Supported for the unpenalised fit (``mu=0``).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``y`` is continuous, or does not hold exactly two classes.
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) != 2:
            shown = classes[:6].tolist()
            raise ValueError(
                f"Only binary classification is supported: y has {len(classes)} class(es) "
                f"{shown}{'...' if len(classes) > 6 else ''}, and FairKernelRidgeClassifier (the sign of one "
                f"fair regression) needs exactly 2. For more classes wrap it in "
                f"sklearn.multiclass.OneVsRestClassifier."
            )
        self.classes_ = classes
        target = 2.0 * codes.reshape(-1) - 1.0  # classes_[0] -> -1, classes_[1] -> +1
        self.regressor_ = self._regressor().fit(X, target, sensitive_features, sample_weight)
        return self

    def decision_function(self, X):
        """:math:`f(x)`, the fair regression on the :math:`\\pm 1` codes: > 0 means ``classes_[1]``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.regressor_.predict(X)

    def predict(self, X):
        """``classes_[1]`` where :meth:`decision_function` > 0, else ``classes_[0]``."""
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]
