"""Kernels, centring and the median heuristic against independent computations."""

import itertools

import numpy as np
import pytest
from sklearn.metrics.pairwise import linear_kernel as sk_linear
from sklearn.metrics.pairwise import rbf_kernel as sk_rbf

from fairkl import kernels
from tests.conftest import np_center, np_rbf


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    return rng.normal(size=(30, 3)), rng.normal(size=(12, 3))


def test_rbf_matches_sklearn_and_explicit_differences(data):
    A, B = data
    for sigma in (0.3, 1.0, 4.0):
        got = np.asarray(kernels.rbf_kernel(A, B, sigma=sigma))
        np.testing.assert_allclose(
            got, sk_rbf(A, B, gamma=1 / (2 * sigma**2)), rtol=1e-12, atol=1e-14
        )
        np.testing.assert_allclose(got, np_rbf(A, B, sigma), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.diag(np.asarray(kernels.rbf_kernel(A, sigma=1.0))), 1.0)


def test_linear_matches_sklearn(data):
    A, B = data
    np.testing.assert_allclose(np.asarray(kernels.linear_kernel(A, B)), sk_linear(A, B), rtol=1e-13)


def test_center_kernel_equals_HKH(data):
    A, _ = data
    K = np_rbf(A, A, 1.0)
    np.testing.assert_allclose(np.asarray(kernels.center_kernel(K)), np_center(K), atol=1e-14)


def test_float32_inputs_stay_float32(data):
    A, _ = data
    K = kernels.rbf_kernel(A.astype(np.float32), sigma=1.0)
    assert str(K.dtype) == "float32"
    assert str(kernels.median_heuristic(A.astype(np.float32)).dtype) == "float32"


def brute_median(A):
    """Median over ordered pairs i != j of the non-zero distances, by a loop."""
    d = [np.linalg.norm(A[i] - A[j]) for i, j in itertools.permutations(range(len(A)), 2)]
    d = [x for x in d if x > 1e-12]
    return float(np.median(d))


def test_median_heuristic_matches_brute_force(data):
    A, _ = data
    assert float(kernels.median_heuristic(A)) == pytest.approx(brute_median(A), rel=1e-10)


def test_median_heuristic_scales_with_units(data):
    A, _ = data
    assert float(kernels.median_heuristic(1000 * A)) == pytest.approx(
        1000 * float(kernels.median_heuristic(A)), rel=1e-10
    )


def test_median_heuristic_ignores_ties_of_groups():
    # 90% of rows in group 0: most distances are 0, the median of all would be 0.
    groups = np.array([0] * 27 + [1] * 3)
    onehot = np.eye(2)[groups]
    assert float(kernels.median_heuristic(onehot)) == pytest.approx(np.sqrt(2))
    assert brute_median(onehot) == pytest.approx(np.sqrt(2))


def test_median_heuristic_of_constant_is_one():
    assert float(kernels.median_heuristic(np.ones((10, 2)))) == 1.0


def test_median_heuristic_subsamples_large_inputs():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5000, 1))
    got = float(kernels.median_heuristic(A))
    # Population median of |Z1 - Z2| for standard normals: sqrt(2) * 0.6745.
    assert got == pytest.approx(np.sqrt(2) * 0.6745, rel=0.05)


def test_median_heuristic_compiled_path_matches_brute_force(data):
    import jax

    A, _ = data
    got = float(jax.jit(kernels.median_heuristic)(A))
    assert got == pytest.approx(brute_median(A), rel=1e-10)
    assert float(jax.jit(kernels.median_heuristic)(np.ones((6, 2)))) == 1.0


def test_rbf_gradient_matches_finite_differences(data):
    # The centre and scale are held constant under autodiff; the distance does
    # not depend on them, so the gradient must still be exact.
    import jax

    A, B = data
    W = np.random.default_rng(5).normal(size=(len(A), len(B)))

    def loss(a):
        return (kernels.rbf_kernel(a, B + 100.0, sigma=1.3) * W).sum()

    A = A + 100.0
    g = np.asarray(jax.grad(loss)(A))
    h = 1e-6
    fd = np.zeros_like(A)
    for idx in np.ndindex(*A.shape):
        e = np.zeros_like(A)
        e[idx] = h
        fd[idx] = (float(loss(A + e)) - float(loss(A - e))) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
