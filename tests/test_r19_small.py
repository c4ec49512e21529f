"""Issue 19, smaller items: MuPath.rank, string-labelled decisions, scorers without routing."""

import numpy as np
import pytest
import sklearn

from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data
from fairkl.metrics import statistical_parity_difference
from fairkl.sklearn import (
    FairKernelRidgeRegressor,
    make_dependence_scorer,
    make_parity_scorer,
)
from tests.conftest import np_center, np_rbf


def _eigen_rank(M, rel):
    """Smallest r whose left-out eigenvalue mass is at most rel * trace (NumPy reference)."""
    w = np.sort(np.clip(np.linalg.eigvalsh(M), 0, None))[::-1]
    tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])
    return int(np.argmax(tail <= rel * np.trace(M)))


@pytest.mark.parametrize("n_components", [None, 50])
def test_mu_path_rank_counts_the_factor_columns_in_use(n_components):
    # rank reported the factor's buffer width (64 exact, 32 low rank) instead of ~20.
    X, y, q = make_seed_data(n=200, seed=0)
    path = FairKernelRidge(1.0, 1e-2, dtype="float64", n_components=n_components).mu_path(
        X, y, q, [0.0, 1.0]
    )
    HLH = np_center(np_rbf(q.reshape(len(q), -1), q.reshape(len(q), -1), path.sigma_q))
    r_opt = _eigen_rank(HLH, 1e-13)
    # pivoted Cholesky needs at least the optimal (eigen) rank, and not far more on a smooth kernel
    assert r_opt <= path.rank <= 2 * r_opt, (path.rank, r_opt)


@pytest.mark.parametrize("kernel_q", ["rbf", "linear"])
def test_mu_path_rank_of_group_factors(kernel_q):
    # two groups: HLH has rank 1 (the factor has one centred column per group)
    X, y, q = make_seed_data(n=120, seed=0)
    g = (q[:, 0] > 0).astype(int)
    path = FairKernelRidge(1.0, 1e-2, dtype="float64", kernel_q=kernel_q).mu_path(
        X, y, g, [0.0, 1.0]
    )
    G = np.eye(2)[g]
    assert path.rank == np.linalg.matrix_rank(np_center(G @ G.T)) == 1


def test_decision_metrics_name_string_labels():
    # A string-labelled classifier's predictions were met with "use a OneHotEncoder".
    y = np.array(["yes", "no", "yes", "no", "yes", "no"])
    g = np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"y_pred holds class labels \(\['no', 'yes'\]\)") as info:
        statistical_parity_difference(y, y, sensitive_features=g)
    assert "OneHotEncoder" not in str(info.value)
    # the conversion the message suggests gives fairlearn's definition: rates 2/3 and 1/3
    d = (y == "yes").astype(int)
    assert statistical_parity_difference(d, d, sensitive_features=g) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "make", [make_parity_scorer, lambda: make_dependence_scorer(sigma_pred=1.0, sigma_q=1.0)]
)
def test_scorer_without_routing_says_how_to_enable_it(make):
    # A scorer made with metadata routing off raised a raw TypeError (missing sensitive_features).
    X, y, _ = make_seed_data(n=40, seed=0)
    with sklearn.config_context(enable_metadata_routing=False):
        scorer = make()
        est = FairKernelRidgeRegressor(lam=1e-2).fit(X, y)
        with pytest.raises(ValueError, match="enable_metadata_routing=True"):
            scorer(est, X, y)
