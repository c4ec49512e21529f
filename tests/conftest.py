"""Shared fixtures: the seed tutorial's data and independent NumPy references."""

import os

# Lets scikit-learn's estimator checks run check_array_api_input (with NumPy
# inputs) instead of skipping it; must be set before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fairkl  # noqa: F401  (selects the JAX backend before anything imports keras)
from fairkl.datasets import make_seed_data  # noqa: E402


@pytest.fixture(scope="session")
def seed_data():
    """The seed's problem, n = 200, split 150 train / 50 held out."""
    X, y, q = make_seed_data(n=200, seed=0)
    return X[:150], y[:150], q[:150], X[150:], y[150:], q[150:]


def np_rbf(A, B, sigma):
    """RBF kernel by explicit differences (no expansion trick)."""
    d2 = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * sigma**2))


def np_center(K):
    """H K H with H formed explicitly."""
    n = K.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    return H @ K @ H
