"""Adversarial pass S5 (issue 19): kernels and dependence measures.

Each case failed before this pass (raw IndexError/AttributeError/JAX errors,
silently accepted bad input, or a silently wrong value). Errors must be of the
stated type and name the argument; legal inputs are checked against explicit
NumPy formulas in float64.
"""

import jax
import numpy as np
import pandas as pd
import pytest

from fairkl import dependence, kernels

RNG = np.random.default_rng(0)
A = RNG.normal(size=(8, 2))
B = RNG.normal(size=(5, 2))


def ref_sqdist(A, B=None):
    A = np.asarray(A, dtype=np.float64)
    B = A if B is None else np.asarray(B, dtype=np.float64)
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)


def ref_median(A):
    """Median of the non-zero pairwise distances over ordered pairs, as np.median would."""
    D = np.sqrt(ref_sqdist(A))
    D = D[~np.eye(len(A), dtype=bool)]
    return float(np.median(D[D > 0]))


def ref_cka(K, L):
    n = len(K)
    H = np.eye(n) - 1.0 / n
    Kc, Lc = H @ K @ H, H @ L @ H
    return float(np.sum(Kc * Lc) / np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc)))


POINT_FUNCTIONS = {
    "squared_distances": kernels.squared_distances,
    "rbf_kernel": kernels.rbf_kernel,
    "linear_kernel": kernels.linear_kernel,
    "centered_rbf_kernel": kernels.centered_rbf_kernel,
    "median_heuristic": kernels.median_heuristic,
}


@pytest.mark.parametrize("fn", POINT_FUNCTIONS, ids=str)
@pytest.mark.parametrize(
    "bad, error, words",
    [
        (np.arange(5.0), ValueError, "A must be 2-D"),  # was IndexError / a scalar
        (np.ones((3, 2, 2)), ValueError, "A must be 2-D"),  # was a JAX matmul error
        (np.ones((3, 0)), ValueError, "A must be 2-D"),  # was a numpy reduction error
        (None, ValueError, "A is None"),  # was AttributeError
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "A must be numeric"),
        (A + 1j, TypeError, "A has complex dtype"),  # was silently accepted
        (np.where(A > 1, np.nan, A), ValueError, "A contains"),  # NaN read as distance 0
        (np.where(A > 1, np.inf, A), ValueError, "A contains"),
    ],
    ids=["1-D", "3-D", "no-features", "None", "strings", "complex", "nan", "inf"],
)
def test_bad_points_named(fn, bad, error, words):
    with pytest.raises(error, match=words):
        POINT_FUNCTIONS[fn](bad)


@pytest.mark.parametrize("fn", ["squared_distances", "rbf_kernel", "linear_kernel"])
def test_feature_mismatch_names_B(fn):
    with pytest.raises(ValueError, match="B has 3 features but A has 2"):
        POINT_FUNCTIONS[fn](A, np.ones((4, 3)))


def test_nan_rows_raise_instead_of_kernel_one():
    """Before: a NaN anywhere made every RBF kernel value exactly 1 and every distance 0."""
    An = A.copy()
    An[0, 0] = np.nan
    with pytest.raises(ValueError, match="A contains 1 NaN"):
        kernels.rbf_kernel(An)
    with pytest.raises(ValueError, match="B contains 1 NaN"):
        kernels.squared_distances(A, An)


def test_traced_nan_propagates():
    """Inside jit no check can run: NaN must come out as NaN, never as distance 0 (kernel 1).

    The common centre of the points is NaN, so every value is NaN: loud, not silent.
    """
    An = A.copy()
    An[0, 0] = np.nan
    K = np.asarray(jax.jit(kernels.rbf_kernel)(An))
    assert np.all(np.isnan(K))


@pytest.mark.parametrize(
    "sigma, error, words",
    [
        (True, TypeError, "sigma must be a positive real number"),  # was used as 1.0
        ("1", TypeError, "sigma must be a positive real number"),
        (1 + 1j, TypeError, "sigma must be a positive real number"),
        ([1.0, 2.0], TypeError, "sigma must be a single positive number"),
        (0.0, ValueError, "sigma must be > 0"),
        (np.nan, ValueError, "sigma must be finite"),
    ],
)
def test_bad_bandwidth_named(sigma, error, words):
    with pytest.raises(error, match=words):
        kernels.rbf_kernel(A, sigma=sigma)


def test_median_heuristic_of_integers_is_not_truncated():
    """Before: integer input returned an integer bandwidth (5 for a true 5.657)."""
    Xi = np.arange(10).reshape(5, 2)
    got = float(kernels.median_heuristic(Xi))
    assert got == pytest.approx(ref_median(Xi.astype(float)), rel=1e-12)
    assert got == pytest.approx(4.0 * np.sqrt(2.0), rel=1e-12)  # hand count of the 20 distances


def test_median_heuristic_zero_rows_named():
    with pytest.raises(ValueError, match="A has 0 rows"):
        kernels.median_heuristic(np.ones((0, 2)))


@pytest.mark.parametrize(
    "make",
    [
        lambda a: pd.DataFrame(a, index=list("abcdefgh")),  # was a JAX/pandas error
        lambda a: np.asfortranarray(a),
        lambda a: a.tolist(),
    ],
    ids=["DataFrame", "Fortran", "list"],
)
def test_odd_but_legal_containers(make):
    sigma = 1.3
    K = np.asarray(kernels.rbf_kernel(make(A), None, sigma))
    np.testing.assert_allclose(K, np.exp(-ref_sqdist(A) / (2 * sigma**2)), rtol=1e-12)
    assert float(kernels.median_heuristic(make(A))) == pytest.approx(ref_median(A), rel=1e-12)


def test_boolean_points_are_numbers():
    """Before: linear_kernel of booleans returned a boolean matrix (logical and/or)."""
    Ab = A > 0
    K = np.asarray(kernels.linear_kernel(Ab))
    np.testing.assert_array_equal(K, Ab.astype(float) @ Ab.astype(float).T)
    D = np.asarray(kernels.squared_distances(Ab))
    np.testing.assert_allclose(D, ref_sqdist(Ab.astype(float)), rtol=1e-14, atol=1e-14)


def test_zero_rows_give_empty_matrices():
    """Before: a reduction over nothing raised; now (0, m) like NumPy/scikit-learn."""
    assert np.asarray(kernels.rbf_kernel(np.ones((0, 2)), B)).shape == (0, 5)
    assert np.asarray(kernels.squared_distances(B, np.ones((0, 2)))).shape == (5, 0)


def test_center_kernel_requires_square():
    with pytest.raises(ValueError, match="K must be a square"):
        kernels.center_kernel(np.ones((3, 4)))


K = np.exp(-ref_sqdist(A) / 2.0)
L = np.exp(-ref_sqdist(A[:, :1] ** 2) / 2.0)


@pytest.mark.parametrize("fn", ["hsic", "cka"])
@pytest.mark.parametrize(
    "bad, error, words",
    [
        (None, ValueError, "K is None"),  # was AttributeError
        (np.array([["a"]]), TypeError, "K must be numeric"),
        (np.full((8, 8), "a"), TypeError, "K must be numeric"),  # was a numpy ufunc error
        (K.astype(complex), TypeError, "K has complex dtype"),
    ],
    ids=["None", "1x1-strings", "strings", "complex"],
)
def test_bad_kernel_matrices_named(fn, bad, error, words):
    with pytest.raises(error, match=words):
        getattr(dependence, fn)(bad, L)


@pytest.mark.parametrize("fn, flag", [("hsic", "unbiased"), ("cka", "debiased")])
def test_estimator_flag_must_be_bool(fn, flag):
    """Before: unbiased='yes' silently chose the unbiased estimator."""
    with pytest.raises(TypeError, match=f"{flag} must be True or False"):
        getattr(dependence, fn)(K, L, **{flag: "yes"})


def test_integer_and_pandas_kernels_are_legal():
    """Before: integer kernels raised 'not inexact' and DataFrames a pandas coercion error."""
    Ki, Li = np.eye(8, dtype=int) + 1, np.round(L).astype(int)
    assert float(dependence.cka(Ki, Li)) == pytest.approx(
        ref_cka(Ki.astype(float), Li.astype(float)), rel=1e-12
    )
    got = float(dependence.cka(pd.DataFrame(K), pd.DataFrame(L)))
    assert got == pytest.approx(ref_cka(K, L), rel=1e-12)


def test_cka_rbf_zero_rows_and_complex_named():
    with pytest.raises(ValueError, match="a has no samples"):  # was ZeroDivisionError
        dependence.cka_rbf(np.ones(0), np.ones(0))
    with pytest.raises(TypeError, match="a has complex dtype"):  # was a complex CKA
        dependence.cka_rbf(A[:, 0] + 1j, A[:, 1])
    with pytest.raises(TypeError, match="sigma_a must be a positive real number"):
        dependence.cka_rbf(A[:, 0], A[:, 1], True)  # was used as 1.0


def test_cka_rbf_integers_match_reference():
    a, b = np.arange(8), A[:, 1] ** 2
    Ka = np.exp(-ref_sqdist(a[:, None].astype(float)) / (2 * 2.0**2))
    Kb = np.exp(-ref_sqdist(b[:, None]) / (2 * 0.7**2))
    assert float(dependence.cka_rbf(a, b, 2.0, 0.7)) == pytest.approx(ref_cka(Ka, Kb), rel=1e-10)
