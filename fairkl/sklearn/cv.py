r"""``FairKernelRidgeCV``: the whole (sigma, lam, mu) grid cross-validated for the price of a few fits."""

from __future__ import annotations

import numbers
import warnings
from typing import NamedTuple

import numpy as np
from keras import ops
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils.validation import check_is_fitted, validate_data

from fairkl import _validation as v
from fairkl import solvers
from fairkl._backend import user_stacklevel, x64_methods
from fairkl._constants import KERNELS_Q, PATH_TOL, PENALTIES
from fairkl.metrics.selection import best_within_budget
from fairkl.metrics.yardstick import UndefinedDependence, Yardstick
from fairkl.models import FairKernelRidge
from fairkl.pareto import pareto_front
from fairkl.pipeline import FitConfig, center, check_scale, prepare
from fairkl.sensitive import group_codes
from fairkl.solvers.paths import cka_mu_path


class _Grid(NamedTuple):
    sigmas: np.ndarray
    lams: np.ndarray
    mus: np.ndarray
    budget: float | None
    tradeoff: float | None

    @property
    def fair(self) -> bool:
        return bool(np.any(self.mus > 0))


def _grid(name, values, allow_zero):
    arr = v.as_float_array(values, name).reshape(-1)
    for x in arr:
        v.check_positive(float(x), f"{name} entries", allow_zero=allow_zero)
    return arr


@x64_methods("fit", "predict")
class FairKernelRidgeCV(RegressorMixin, BaseEstimator):
    r"""Fair kernel ridge regression with efficient built-in model selection, like ``RidgeCV``.

    Cross-validates a grid of ``sigmas`` × ``lams`` × ``mus``, with the same
    numbers ``GridSearchCV`` gets by refitting every candidate on every fold
    (each fold is set up by :func:`fairkl.pipeline.prepare`, exactly as a
    refit would be), at a lower cost:

    * ``penalty="hsic"`` (default, the fast path; the closed-form family):
      per fold and per ``sigma``, one eigendecomposition of the training
      kernel gives every ``lam``, and the low-rank μ-path gives every ``mu``
      (:func:`fairkl.solvers.kfold_hsic_grid`);
    * ``penalty="cka"``: the iterative CKA fit, so that fitting and selection
      use the same notion of dependence. Per fold, sigma and lam, one
      compiled program walks the ``mus`` and starts each fit, like a single
      fit (and so like the refitted ``model_`` and ``GridSearchCV``), from the
      exact μ = 0 solution. The CKA objective is not convex: warm starts from
      the previous μ's solution (used before) reached other local minima than
      a refit (held-out MSE 9.39 against 8.56 at μ = 10, issue 19), so the
      numbers a candidate was chosen on were not those of the model refitted.
      The kernel is formed once per (fold, sigma); the smoother
      :math:`K(K + \lambda I)^{-1}` is re-formed per μ (one O(n³) Cholesky
      each, as in a single fit) and each L-BFGS step costs O(n²);
      ``cv_results_["n_iter"]`` counts the steps.

    For every grid point it reports the cross-validated mean
    squared error and the dependence (CKA on a fixed
    :class:`~fairkl.metrics.yardstick.Yardstick`) between held-out predictions
    and the sensitive attribute, the Pareto front of the two, and refits the
    chosen point on all the data.

    Parameters
    ----------
    sigmas : sequence of float > 0
    lams : sequence of float > 0
    mus : sequence of float >= 0, default (0.0,)
    sigma_q, kernel_q : as in :class:`fairkl.models.FairKernelRidge`
        With ``sigma_q=None`` each fold uses the median heuristic on its own
        training part, as a refit would.
    penalty : {"hsic", "cka"}, default "hsic"
        The penalty fitted (see above); the held-out columns are CKA either way.
    sigma_f, tol, epochs, lr : as in :class:`~fairkl.sklearn.FairKernelRidgeRegressor`
        Used by ``penalty="cka"`` only.
    cv : int, cross-validation splitter, iterable of splits, or "loo"; default 5
        An integer k means **shuffled**, seeded k-fold (``random_state``):
        ``StratifiedKFold`` on the groups when the sensitive attribute holds
        group labels (by ``fairkl._validation.group_labels``: labels,
        integer codes or one-hot columns; each group with at least k members), else ``KFold(shuffle=True)``. Unshuffled folds on
        data sorted by group would hold out whole groups and underestimate the
        held-out dependence several-fold. ``"loo"``: exact leave-one-out from
        one eigendecomposition per sigma (only for ``mus`` all zero). Held-out
        dependence needs test folds of at least 2 rows.
    budget : float or None
        Choose the most accurate grid point whose mean held-out CKA is at most
        ``budget`` (the fairest point if none is;
        :func:`fairkl.metrics.selection.best_within_budget`).
    tradeoff : float or None
        If no budget (setting both is an error): minimise ``mean_test_mse / var(y) + tradeoff * mean_test_cka``.
        With neither, the most accurate point is chosen.
    dtype : {"float64", "float32"}, default "float64"
    random_state : int, default 0
        Seed of the shuffled splitter used when ``cv`` is an integer.

    Attributes
    ----------
    cv_results_ : dict of arrays, one entry per grid point (order: sigma, lam, mu)
        ``params``, ``param_sigma``, ``param_lam``, ``param_mu``,
        ``mean_test_mse``, ``std_test_mse``, ``mean_test_cka``, ``std_test_cka``
        (CKA entries NaN without sensitive features; std NaN for "loo"),
        ``rank_test_mse``, ``n_iter`` (steps of the CKA solver summed over
        folds; 0 for the closed form).
    pareto_front_ : ndarray of int
        Grid indices that are Pareto-optimal for (``mean_test_mse``, ``mean_test_cka``).
    best_index_ : int
    best_params_ : dict
    sigma_, lam_, mu_ : float
    n_iter_ : int
        Total steps of the CKA solver during cross-validation (0 for "hsic").
    model_ : FairKernelRidge
        Refitted on all the data at the chosen point (with ``penalty``).
    yardstick_ : dict
        Fixed bandwidths for the CKA columns (see :func:`fairkl.sklearn.yardstick`).
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
        random_state: int = 0,
        penalty: str = "hsic",
        sigma_f: float | None = None,
        tol: float | None = None,
        epochs: int = 300,
        lr: float = 0.01,
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
        self.random_state = random_state
        self.penalty = penalty
        self.sigma_f = sigma_f
        self.tol = tol
        self.epochs = epochs
        self.lr = lr

    @property
    def _loo(self) -> bool:
        return isinstance(self.cv, str) and self.cv == "loo"

    def _validated_grid(self) -> _Grid:
        v.check_choice(self.kernel_q, "kernel_q", KERNELS_Q)
        v.check_choice(self.penalty, "penalty", PENALTIES)
        FitConfig(
            sigma_q=self.sigma_q,
            kernel_q=self.kernel_q,
            dtype=self.dtype,
            penalty=self.penalty,
            sigma_f=self.sigma_f,
            tol=self.tol,
            epochs=self.epochs,
            lr=self.lr,
        )
        grid = _Grid(
            _grid("sigmas", self.sigmas, False),
            _grid("lams", self.lams, False),
            _grid("mus", self.mus, True),
            v.check_positive(self.budget, "budget", allow_zero=True, allow_none=True),
            v.check_positive(self.tradeoff, "tradeoff", allow_zero=True, allow_none=True),
        )
        if grid.budget is not None and grid.tradeoff is not None:
            raise ValueError(
                f"budget={grid.budget!r} and tradeoff={grid.tradeoff!r} are two different selection "
                "rules; set one of them (or neither: the most accurate point)."
            )
        if self._loo and grid.fair:
            raise ValueError(
                "cv='loo' (exact leave-one-out) needs mus all 0: the fairness penalty couples every "
                "training point. Use K-fold cross-validation (cv=5) for mu > 0."
            )
        return grid

    def _sensitive(self, sensitive_features, n: int, grid: _Grid):
        if sensitive_features is not None:
            return v.check_sensitive(sensitive_features, n, name="sensitive_features")
        if grid.fair or grid.budget is not None or grid.tradeoff is not None:
            raise ValueError(
                "sensitive_features is required when mus has a value > 0 or a budget/tradeoff is set."
            )
        return None

    def _splits(self, X, q):
        n = X.shape[0]
        if self._loo:
            return [(np.arange(n), np.arange(n))]
        if isinstance(self.cv, numbers.Integral) and not isinstance(self.cv, bool):
            k = v.check_int(self.cv, "cv", minimum=2)
            if k > n:
                raise ValueError(f"cv={k} folds need at least {k} samples; got {n}. Use cv <= {n}.")
            codes = group_codes(q) if q is not None else None
            if codes is not None and np.bincount(codes).min() >= k:
                return list(
                    StratifiedKFold(k, shuffle=True, random_state=self.random_state).split(X, codes)
                )
            return list(KFold(k, shuffle=True, random_state=self.random_state).split(X))
        return list(check_cv(self.cv).split(X))

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
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        v.check_X(X)
        grid = self._validated_grid()
        q = self._sensitive(sensitive_features, X.shape[0], grid)
        splits = self._splits(X, q)
        ruler = None if q is None else Yardstick.from_data(y, q)
        if ruler is not None and min(len(test) for _, test in splits) < 2:
            raise ValueError(
                f"cv={self.cv!r} gives test folds of {min(len(t) for _, t in splits)} sample: held-out "
                f"dependence (CKA) cannot be measured on fewer than 2 rows. Use fewer folds (cv <= n_samples / 2)."
            )
        self.yardstick_ = {} if ruler is None else ruler.as_dict()
        mse, dep, steps = self._cross_validate(X, y, q, splits, grid, ruler)
        self._record(mse, dep, grid, y, q)
        self.cv_results_["n_iter"] = steps.sum(axis=0).reshape(-1)
        self.n_iter_ = int(steps.sum())
        self.model_ = FairKernelRidge(
            self.sigma_,
            self.lam_,
            self.mu_,
            self.sigma_q,
            penalty=self.penalty,
            kernel_q=self.kernel_q,
            sigma_f=self.sigma_f,
            tol=self.tol,
            dtype=self.dtype,
        ).fit(X, y, q=q, epochs=self.epochs, lr=self.lr)
        return self

    def _fold_config(self, grid: _Grid) -> FitConfig:
        """The settings every fold shares (each grid point's sigma, lam, mu go to the programs)."""
        return FitConfig(
            sigma=grid.sigmas[0],
            lam=grid.lams[0],
            sigma_q=self.sigma_q,
            penalty=self.penalty,
            kernel_q=self.kernel_q,
            sigma_f=self.sigma_f,
            tol=self.tol,
            epochs=self.epochs,
            lr=self.lr,
            dtype=self.dtype,
        )

    def _fold_predictions(self, X, y, q, train, test, grid: _Grid):
        """Held-out predictions for every (sigma, lam, mu): array (S, L, M, m), and CKA steps (S, L, M)."""
        config = self._fold_config(grid)
        p = prepare(
            X[train],
            y[train],
            None if q is None or not grid.fair else q[train],
            config,
            q_name="sensitive_features",
            penalised=grid.fair,  # prepare q and its bandwidths for the grid's mus > 0
        )
        if p.penalised and self.penalty == "cka":
            return _cka_fold_predictions(p, center(p, X[test]), grid, config)
        c = lambda a: ops.convert_to_tensor(a, dtype=self.dtype)  # noqa: E731
        Xtr, Xte, ytr = c(p.X), c(center(p, X[test])), c(p.y)
        B = (
            p.sensitive.factor(c(p.q), PATH_TOL[self.dtype])[0]
            if p.penalised
            else ops.zeros((p.n, 1), self.dtype)
        )

        def kernel(A, B, sigma):
            return solvers.kernel_matrix(A, B, c(sigma), kernel=config.kernel)

        out = []
        for sigma in grid.sigmas:
            check_scale(p.X, float(sigma), self.dtype)
            Ktr = kernel(Xtr, None, sigma)
            if self._loo:
                pred = np.asarray(solvers.loo_krr_grid(Ktr, ytr, c(grid.lams)))[:, None, :]
            else:
                pred = np.asarray(
                    solvers.kfold_hsic_grid(
                        Ktr, kernel(Xte, Xtr, sigma), ytr, B, c(grid.lams), c(grid.mus)
                    )
                )
            out.append(pred * p.y_scale)
        return np.stack(out), np.zeros(
            (len(grid.sigmas), len(grid.lams), len(grid.mus)), dtype=np.int64
        )

    def _cross_validate(self, X, y, q, splits, grid: _Grid, ruler):
        shape = (len(splits), len(grid.sigmas), len(grid.lams), len(grid.mus))
        mse, dep, steps = np.empty(shape), np.full(shape, np.nan), np.zeros(shape, dtype=np.int64)
        for k, (train, test) in enumerate(splits):
            pred, steps[k] = self._fold_predictions(X, y, q, train, test, grid)
            with np.errstate(over="ignore", invalid="ignore"):  # judged just below
                mse[k] = np.mean((pred - y[test]) ** 2, axis=-1)
            _check_finite_errors(mse[k], grid)
            if ruler is not None:
                dep[k] = _fold_dependence(ruler, pred, q[test]).reshape(shape[1:])
        return mse, dep, steps

    def _record(self, mse, dep, grid: _Grid, y, q) -> None:
        points = [(sg, lm, m) for sg in grid.sigmas for lm in grid.lams for m in grid.mus]
        flat = lambda a: a.reshape(a.shape[0], -1)  # noqa: E731
        std = (
            (lambda a: np.full(len(points), np.nan))
            if self._loo
            else (lambda a: flat(a).std(axis=0))
        )
        mean_mse, mean_dep = flat(mse).mean(axis=0), flat(dep).mean(axis=0)
        self.cv_results_ = {
            "params": [{"sigma": float(a), "lam": float(b), "mu": float(m)} for a, b, m in points],
            "param_sigma": np.array([g[0] for g in points]),
            "param_lam": np.array([g[1] for g in points]),
            "param_mu": np.array([g[2] for g in points]),
            "mean_test_mse": mean_mse,
            "std_test_mse": std(mse),
            "mean_test_cka": mean_dep,
            "std_test_cka": std(dep),
            "rank_test_mse": np.argsort(np.argsort(mean_mse, kind="stable"), kind="stable") + 1,
        }
        finite = np.flatnonzero(np.isfinite(mean_dep))
        if q is not None and finite.size:
            self.pareto_front_ = finite[pareto_front(np.column_stack([mean_mse, mean_dep])[finite])]
        else:
            self.pareto_front_ = np.flatnonzero(mean_mse == mean_mse.min())
        if grid.budget is not None:
            best = best_within_budget(mean_mse, mean_dep, grid.budget)
        elif grid.tradeoff is not None:
            best = int(np.nanargmin(mean_mse / np.var(y) + grid.tradeoff * mean_dep))
        else:
            best = int(np.argmin(mean_mse))
        self.best_index_ = best
        self.best_params_ = self.cv_results_["params"][best]
        self.sigma_, self.lam_, self.mu_ = (self.best_params_[k] for k in ("sigma", "lam", "mu"))

    def predict(self, X):
        """Predictions of the refitted model, shape (n_samples,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.predict(X).astype(np.float64)


def _check_finite_errors(mse: np.ndarray, grid: _Grid) -> None:
    """Refuse grid points whose held-out errors overflow (a numerically singular K + lam I)."""
    bad = ~np.all(np.isfinite(mse), axis=-1)  # (S, L)
    if bad.any():
        a, b = np.argwhere(bad)[0]
        raise ValueError(
            f"held-out predictions overflow for sigma={grid.sigmas[a]:g}, lam={grid.lams[b]:g}: "
            f"K + lam*I is numerically singular there. Remove that value from lams (use lams >= 1e-10 "
            f"with standardised X)."
        )


def _fold_dependence(ruler: Yardstick, pred: np.ndarray, q_test) -> np.ndarray:
    """Held-out CKA of every grid point on one fold (NaN with a warning when q_test is constant)."""
    try:
        return ruler.score_rows(pred.reshape(-1, pred.shape[-1]), q_test)
    except UndefinedDependence as exc:
        warnings.warn(
            f"a test fold's held-out CKA is NaN: {exc}", UserWarning, stacklevel=user_stacklevel()
        )
        return np.full(pred.shape[:-1], np.nan).reshape(-1)


def _cka_fold_predictions(p, X_test, grid: _Grid, config: FitConfig):
    """Held-out predictions (S, L, M, m) and steps (S, L, M) of the CKA fits (each from the mu = 0 solution) on one fold."""
    c = lambda a: ops.convert_to_tensor(np.asarray(a, dtype=np.float64), dtype="float64")  # noqa: E731
    order = np.argsort(grid.mus, kind="stable")
    back = np.argsort(order, kind="stable")
    preds, steps, failed = [], [], 0
    for sigma in grid.sigmas:
        check_scale(p.X, float(sigma), "float64")
        pred, it, ok = cka_mu_path(
            c(p.X),
            c(X_test),
            c(p.y),
            c(p.q),
            c(sigma),
            c(grid.lams),
            c(grid.mus[order]),
            c(p.sensitive.traced_sigma),
            c(p.sigma_f),
            config.epochs,
            c(config.lr),
            c(config.stopping_tol),
            kernel_q=config.kernel_q,
            kernel=config.kernel,
        )
        preds.append(np.asarray(pred)[:, back] * p.y_scale)
        steps.append(np.asarray(it)[:, back])
        failed += int(np.size(ok) - np.count_nonzero(np.asarray(ok)))
    if failed:
        warnings.warn(
            f"{failed} CKA fit(s) of a cross-validation fold did not converge within epochs={config.epochs} "
            f"(tol={config.stopping_tol:g}); increase epochs or tol.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return np.stack(preds), np.stack(steps)
