"""Choosing one candidate from (error, unfairness) results: one rule, used everywhere.

:func:`best_within_budget` is the single selection rule of fairkl: the
scikit-learn ``refit`` callable (:func:`fairkl.sklearn.best_within_budget`),
:class:`fairkl.sklearn.FairKernelRidgeCV` and the tuning tables call it.
"""

from __future__ import annotations

import numpy as np

from fairkl import _validation as v


def _vector(values, name: str) -> np.ndarray:
    if values is None:
        raise ValueError(f"{name} is None; expected one number per candidate.")
    if np.iscomplexobj(values):
        raise TypeError(f"{name} must hold real numbers; got complex values.")
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers: {exc}") from exc
    if arr.ndim == 2 and 1 in arr.shape:  # a row or a column of candidates
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one value per candidate); got shape {arr.shape}. Pass the "
            f"mean score of each candidate (e.g. cv_results_['mean_test_...'])."
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty: there is no candidate to choose from.")
    return arr


def best_within_budget(error, unfairness, budget: float) -> int:
    """Index of the most accurate candidate whose unfairness is at most ``budget``.

    Parameters
    ----------
    error : array-like of shape (m,)
        Lower is better (e.g. mean held-out MSE). NaN counts as worst.
    unfairness : array-like of shape (m,)
        Lower is fairer (e.g. mean held-out CKA). NaN never meets the budget.
    budget : float >= 0
        ``inf`` imposes no constraint (the most accurate candidate).

    Returns
    -------
    int
        Among candidates with ``unfairness <= budget``, the one with the
        smallest ``error`` (first on ties). **Fallback** when none meets the
        budget: the fairest candidate (smallest unfairness, NaNs ignored;
        ties broken by error).

    Raises
    ------
    ValueError
        If every ``unfairness`` is NaN (nothing can be judged against the
        budget), or the arrays differ in length.
    """
    if not (isinstance(budget, (float, np.floating)) and budget == np.inf):  # inf: no constraint
        budget = v.check_positive(budget, "budget", allow_zero=True)
    err, unf = _vector(error, "error"), _vector(unfairness, "unfairness")
    if err.shape != unf.shape:
        raise ValueError(f"error has {err.size} candidates but unfairness has {unf.size}.")
    if np.all(np.isnan(unf)):
        raise ValueError(
            f"unfairness is NaN for all {unf.size} candidates, so none can be judged against "
            f"budget={budget}. Check the fairness scores (e.g. sensitive_features missing or "
            f"constant at score time)."
        )
    err = np.where(np.isnan(err), np.inf, err)
    ok = unf <= budget
    if ok.any():
        idx = np.flatnonzero(ok)
        return int(idx[np.argmin(err[idx])])
    fairest = np.flatnonzero(unf == np.nanmin(unf))
    return int(fairest[np.argmin(err[fairest])])
