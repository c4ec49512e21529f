"""Issue 19: the low-rank model with every row a landmark vs the exact model (scikit-learn reference)."""

import warnings

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from fairkl import FairKernelRidge
from fairkl._constants import RCOND
from fairkl.datasets import make_seed_data


@pytest.mark.parametrize("lam", [1e-2, 1e-3, 1e-6])
def test_all_landmarks_match_sklearn_within_the_documented_bound(lam):
    X, y, _ = make_seed_data(n=100, seed=0)
    ref = KernelRidge(kernel="rbf", gamma=0.5, alpha=lam).fit(X, y).predict(X)
    bound = RCOND * len(y) / lam  # documented: times ||y|| (dropped eigen-directions)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = FairKernelRidge(1.0, lam, n_components=len(y), dtype="float64").fit(X, y).predict(X)
    warned = [w for w in caught if "every row a landmark" in str(w.message)]
    err = np.max(np.abs(got - ref))
    assert err <= bound * np.linalg.norm(y) + 1e-9 * np.std(y), (err, bound)
    # the error does grow as 1/lam past the documented range, and then the fit says so
    assert bool(warned) == (bound > 1e-6), ([str(w.message) for w in caught], bound)
    if err > 1e-7 * np.std(y):
        assert warned
