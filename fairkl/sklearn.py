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

import jax
import numpy as np
import sklearn
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import make_scorer
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fairkl import _validation as v
from fairkl.dependence import cka_centered, cka_rbf, hsic
from fairkl.kernels import centered_rbf_kernel, median_heuristic
from fairkl.models import FairKernelRidge, prepare_sensitive

__all__ = [
    "FairKernelRidgeRegressor",
    "FairKernelRidgeCV",
    "yardstick",
    "dependence_score",
    "mean_parity_gap",
    "make_dependence_scorer",
    "make_parity_scorer",
    "best_within_budget",
]


class FairKernelRidgeRegressor(RegressorMixin, BaseEstimator):
    """scikit-learn estimator for fair kernel ridge regression.

    A thin wrapper over :class:`fairkl.models.FairKernelRidge` (same hyperparameter
    names and objective). With ``mu=0`` or no sensitive features it is plain
    kernel ridge regression, equal to
    ``KernelRidge(kernel="rbf", gamma=1/(2*sigma**2), alpha=lam)``.

    Parameters
    ----------
    sigma, lam, mu, sigma_q, penalty, kernel_q, sigma_f, tol
        As in :class:`fairkl.models.FairKernelRidge`.
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
            Supported for the unpenalised fit (see :meth:`fairkl.models.FairKernelRidge.fit`).

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


# ----------------------------------------------------------------------------
# Efficient model selection
# ----------------------------------------------------------------------------

class FairKernelRidgeCV(RegressorMixin, BaseEstimator):
    r"""Fair kernel ridge regression with efficient built-in model selection, like ``RidgeCV``.

    Cross-validates a grid of ``sigmas`` × ``lams`` × ``mus`` for the
    HSIC-penalised model (the closed-form family, ``penalty="hsic"``) at the
    cost of a few fits: per fold and per ``sigma``, one eigendecomposition of
    the training kernel gives every ``lam``, and the low-rank μ-path gives
    every ``mu`` (:func:`fairkl.solvers.kfold_hsic_grid`) — the same numbers
    ``GridSearchCV`` gets by refitting every candidate on every fold. For
    every grid point it reports the cross-validated mean squared error and
    the dependence (CKA on a fixed yardstick) between held-out predictions and
    the sensitive attribute, the Pareto front of the two, and refits the
    chosen point on all the data.

    Parameters
    ----------
    sigmas : sequence of float > 0
    lams : sequence of float > 0
    mus : sequence of float >= 0, default (0.0,)
    sigma_q, kernel_q : as in :class:`fairkl.models.FairKernelRidge`
        With ``sigma_q=None`` each fold uses the median heuristic on its own
        training part, as a refit would.
    cv : int, cross-validation splitter, iterable of splits, or "loo"; default 5
        ``"loo"``: exact leave-one-out from one eigendecomposition per sigma
        (:func:`fairkl.solvers.loo_krr_grid`); only for ``mus`` all zero,
        since the fairness penalty couples all training points.
    budget : float or None
        Choose the most accurate grid point whose mean held-out CKA is at most
        ``budget`` (the fairest point if none is).
    tradeoff : float or None
        If no budget: minimise ``mean_test_mse / var(y) + tradeoff * mean_test_cka``.
        With neither, the most accurate point is chosen.
    dtype : {"float64", "float32"}, default "float64"

    Attributes
    ----------
    cv_results_ : dict of arrays, one entry per grid point (order: sigma, lam, mu)
        ``params``, ``param_sigma``, ``param_lam``, ``param_mu``,
        ``mean_test_mse``, ``std_test_mse``, ``mean_test_cka``, ``std_test_cka``
        (CKA entries NaN without sensitive features; std NaN for "loo"),
        ``rank_test_mse``.
    pareto_front_ : ndarray of int
        Grid indices that are Pareto-optimal for (``mean_test_mse``, ``mean_test_cka``).
    best_index_ : int
    best_params_ : dict
    sigma_, lam_, mu_ : float
    model_ : FairKernelRidge
        Refitted on all the data at the chosen point.
    yardstick_ : dict
        Fixed bandwidths for the CKA columns (see :func:`yardstick`).
    """

    def __init__(
        self,
        sigmas=(0.3, 1.0, 3.0),
        lams=(1e-3, 1e-2, 1e-1),
        mus=(0.0,),
        sigma_q: float | None = None,
        *,
        kernel_q: str = "rbf",
        cv=5,
        budget: float | None = None,
        tradeoff: float | None = None,
        dtype: str = "float64",
    ):
        self.sigmas = sigmas
        self.lams = lams
        self.mus = mus
        self.sigma_q = sigma_q
        self.kernel_q = kernel_q
        self.cv = cv
        self.budget = budget
        self.tradeoff = tradeoff
        self.dtype = dtype

    @staticmethod
    def _grid(name, values, allow_zero):
        arr = v.as_float_array(values, name).reshape(-1)
        for x in arr:
            v.check_positive(float(x), f"{name} entries", allow_zero=allow_zero)
        return arr

    def fit(self, X, y, sensitive_features=None):
        """Cross-validate the grid and refit the chosen point.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sensitive_features : array-like of shape (n_samples,) or (n_samples, d_q)
            Required when any ``mu > 0`` or a ``budget``/``tradeoff`` is set.

        Returns
        -------
        self
        """
        from keras import ops
        from sklearn.model_selection import check_cv

        from fairkl import solvers
        from fairkl.kernels import rbf_kernel
        from fairkl.pareto import pareto_front

        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        v.check_X(X)
        sigmas = self._grid("sigmas", self.sigmas, False)
        lams = self._grid("lams", self.lams, False)
        mus = self._grid("mus", self.mus, True)
        v.check_choice(self.kernel_q, "kernel_q", ("rbf", "linear"))
        budget = v.check_positive(self.budget, "budget", allow_zero=True, allow_none=True)
        tradeoff = v.check_positive(self.tradeoff, "tradeoff", allow_zero=True, allow_none=True)
        n = X.shape[0]
        if sensitive_features is None:
            if np.any(mus > 0) or budget is not None or tradeoff is not None:
                raise ValueError(
                    "sensitive_features is required when mus has a value > 0 or a budget/tradeoff is set."
                )
            q = None
            self.yardstick_ = {}
        else:
            q = v.check_sensitive(np.asarray(sensitive_features), n, name="sensitive_features")
            self.yardstick_ = yardstick(y, q)
        loo = isinstance(self.cv, str) and self.cv == "loo"
        if loo and np.any(mus > 0):
            raise ValueError(
                "cv='loo' (exact leave-one-out) needs mus all 0: the fairness penalty couples every "
                "training point. Use K-fold cross-validation (cv=5) for mu > 0."
            )
        splits = [(np.arange(n), np.arange(n))] if loo else list(check_cv(self.cv).split(X, y))

        c = lambda a: ops.convert_to_tensor(a, dtype=self.dtype)  # noqa: E731
        shape = (len(splits), len(sigmas), len(lams), len(mus))
        mse = np.empty(shape)
        dep = np.full(shape, np.nan)
        for k, (train, test) in enumerate(splits):
            Xtr, Xte, ytr = c(X[train]), c(X[test]), c(y[train])
            B = ops.zeros((len(train), 1), dtype=self.dtype)
            if q is not None and np.any(mus > 0):
                qk = prepare_sensitive(q[train], self.kernel_q)
                sq = self.sigma_q if self.sigma_q is not None else float(median_heuristic(c(qk)))
                tol = 1e-13 if self.dtype == "float64" else 1e-7
                B, _, _ = solvers.centered_sensitive_factor(c(qk), c(sq), self.kernel_q, tol)
            for a, sigma in enumerate(sigmas):
                Ktr = rbf_kernel(Xtr, sigma=sigma)
                if loo:
                    pred = np.asarray(solvers.loo_krr_grid(Ktr, ytr, c(lams)))[:, None, :]
                else:
                    pred = np.asarray(solvers.kfold_hsic_grid(Ktr, rbf_kernel(Xte, Xtr, sigma=sigma), ytr, B,
                                                              c(lams), c(mus)))
                mse[k, a] = np.mean((pred - y[test]) ** 2, axis=-1)
                if q is not None:
                    yard = self.yardstick_
                    F = c(pred.reshape(-1, len(test)))
                    dep[k, a] = np.asarray(
                        _cka_rows(F, c(q[test]), c(yard["sigma_pred"]), c(yard["sigma_q"]))
                    ).reshape(len(lams), len(mus))

        grid = [(sg, lm, m) for sg in sigmas for lm in lams for m in mus]
        flat = lambda a: a.reshape(len(splits), -1)  # noqa: E731
        std = (lambda a: flat(a).std(axis=0)) if not loo else (lambda a: np.full(len(grid), np.nan))
        mean_mse, mean_dep = flat(mse).mean(axis=0), flat(dep).mean(axis=0)
        self.cv_results_ = {
            "params": [{"sigma": float(a), "lam": float(b), "mu": float(m)} for a, b, m in grid],
            "param_sigma": np.array([g[0] for g in grid]),
            "param_lam": np.array([g[1] for g in grid]),
            "param_mu": np.array([g[2] for g in grid]),
            "mean_test_mse": mean_mse,
            "std_test_mse": std(mse),
            "mean_test_cka": mean_dep,
            "std_test_cka": std(dep),
            "rank_test_mse": np.argsort(np.argsort(mean_mse, kind="stable"), kind="stable") + 1,
        }
        if q is not None:
            self.pareto_front_ = pareto_front(np.column_stack([mean_mse, mean_dep]))
        else:
            self.pareto_front_ = np.flatnonzero(mean_mse == mean_mse.min())
        if budget is not None:
            ok = mean_dep <= budget
            best = int(np.flatnonzero(ok)[np.argmin(mean_mse[ok])]) if ok.any() else int(np.argmin(mean_dep))
        elif tradeoff is not None:
            best = int(np.argmin(mean_mse / np.var(y) + tradeoff * mean_dep))
        else:
            best = int(np.argmin(mean_mse))
        self.best_index_ = best
        self.best_params_ = self.cv_results_["params"][best]
        self.sigma_, self.lam_, self.mu_ = (self.best_params_[k] for k in ("sigma", "lam", "mu"))
        self.model_ = FairKernelRidge(
            self.sigma_, self.lam_, self.mu_, self.sigma_q, penalty="hsic", kernel_q=self.kernel_q, dtype=self.dtype
        ).fit(X, y, q=q)
        return self

    def predict(self, X):
        """Predictions of the refitted model, shape (n_samples,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.predict(X).astype(np.float64)


@jax.jit
def _cka_rows(F, q, sigma_pred, sigma_q):
    """CKA of each row of F (m, n) with q on a fixed yardstick, in one compiled loop."""
    Lc = centered_rbf_kernel(q, sigma_q)
    return jax.lax.map(lambda f: cka_centered(centered_rbf_kernel(f[:, None], sigma_pred), Lc), F)
