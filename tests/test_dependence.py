"""HSIC and CKA against dense formulas and brute-force U-statistics."""

import itertools

import jax
import numpy as np
import pytest

from fairkl import dependence
from tests.conftest import np_center, np_rbf


@pytest.fixture
def kernels_pair():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(9, 2))
    z = x[:, :1] + 0.5 * rng.normal(size=(9, 1))
    return np_rbf(x, x, 1.0), np_rbf(z, z, 0.8)


def test_biased_hsic_equals_trace_formula(kernels_pair):
    K, L = kernels_pair
    n = len(K)
    expected = np.trace(np_center(K) @ np_center(L)) / n**2
    assert float(dependence.hsic(K, L)) == pytest.approx(expected, rel=1e-12)


def brute_unbiased_hsic(K, L):
    """U-statistic E[k_ij l_ij] + E[k_ij] E[l_qr] - 2 E[k_ij l_iq] over distinct indices."""
    n = len(K)
    idx = range(n)
    t1 = np.mean([K[i, j] * L[i, j] for i, j in itertools.permutations(idx, 2)])
    t2 = np.mean([K[i, j] * L[a, b] for i, j, a, b in itertools.permutations(idx, 4)])
    t3 = np.mean([K[i, j] * L[i, a] for i, j, a in itertools.permutations(idx, 3)])
    return t1 + t2 - 2 * t3


def test_unbiased_hsic_equals_brute_force_u_statistic(kernels_pair):
    K, L = kernels_pair
    assert float(dependence.hsic(K, L, unbiased=True)) == pytest.approx(
        brute_unbiased_hsic(K, L), rel=1e-10
    )


def test_unbiased_hsic_needs_four_samples():
    K = np.eye(3)
    with pytest.raises(ValueError, match="at least 4"):
        dependence.hsic(K, K, unbiased=True)


def test_cka_biased_and_debiased_match_references(kernels_pair):
    K, L = kernels_pair
    hb = lambda a, b: np.trace(np_center(a) @ np_center(b))  # noqa: E731
    assert float(dependence.cka(K, L)) == pytest.approx(
        hb(K, L) / np.sqrt(hb(K, K) * hb(L, L)), rel=1e-12
    )
    hu = brute_unbiased_hsic
    expected = hu(K, L) / np.sqrt(hu(K, K) * hu(L, L))
    assert float(dependence.cka(K, L, debiased=True)) == pytest.approx(expected, rel=1e-9)


def test_cka_bounds_and_identity(kernels_pair):
    K, L = kernels_pair
    assert float(dependence.cka(K, K)) == pytest.approx(1.0, rel=1e-12)
    assert 0.0 <= float(dependence.cka(K, L)) <= 1.0


def test_cka_of_constant_is_zero_with_finite_gradient():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(20, 1))
    f = np.full(20, 3.0)
    assert float(dependence.cka_rbf(f, q)) == 0.0
    L = np_rbf(q, q, 1.0)

    def pen(f):
        from fairkl.kernels import rbf_kernel

        return dependence.cka(rbf_kernel(f[:, None], sigma=1.0), L)

    g = np.asarray(jax.grad(pen)(jax.numpy.asarray(f)))
    assert np.all(np.isfinite(g)) and np.all(g == 0)


def test_cka_rbf_is_unit_invariant_and_detects_nonlinear_dependence():
    rng = np.random.default_rng(3)
    q = rng.normal(size=200)
    f = q**2 + 0.1 * rng.normal(size=200)  # uncorrelated with q, yet dependent
    assert abs(np.corrcoef(f, q)[0, 1]) < 0.15
    dep = float(dependence.cka_rbf(f, q))
    indep = float(dependence.cka_rbf(rng.normal(size=200), q))
    assert dep > 5 * indep
    assert float(dependence.cka_rbf(1000 * f, q / 7)) == pytest.approx(dep, rel=1e-9)
