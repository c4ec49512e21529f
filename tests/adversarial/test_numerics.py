"""Adversarial cases for the numerical primitives (issue 8): each failed before the fix.

References are independent: explicit-difference NumPy kernels in float64,
dense NumPy CKA formulas, hand-built one-hot encodings.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from fairkl import _validation as v
from fairkl import dependence, kernels


def ref_sqdist(A, B=None):
    """Squared distances by explicit differences in float64."""
    A = np.asarray(A, dtype=np.float64)
    B = A if B is None else np.asarray(B, dtype=np.float64)
    return ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)


def ref_rbf(A, B=None, sigma=1.0):
    return np.exp(-ref_sqdist(A, B) / (2.0 * float(sigma) ** 2))


def ref_cka(K, L):
    n = len(K)
    H = np.eye(n) - np.ones((n, n)) / n
    Kc, Lc = H @ K @ H, H @ L @ H
    return np.sum(Kc * Lc) / np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc))


def grid_data(n=40, d=3, seed=0):
    """Float32 data on a 1/16 grid: X + offset is exact for the offsets used below."""
    rng = np.random.default_rng(seed)
    return (np.round(rng.normal(size=(n, d)) * 16) / 16).astype(np.float32)


# --------------------------------------------------------------------------
# 1. Shift invariance (float32 cancellation)
# --------------------------------------------------------------------------

OFFSETS = [1e3, 1e4, 1e5, 1e6]


@pytest.mark.parametrize("offset", OFFSETS)
def test_float32_rbf_is_shift_invariant(offset):
    X = grid_data()
    spread = float(X.std())
    Xs = (X + np.float32(offset * spread // 1)).astype(np.float32)
    # The shifted data are exactly representable, so the true kernels are equal.
    assert np.array_equal(Xs.astype(np.float64) - (offset * spread // 1), X.astype(np.float64))
    for sigma in (0.5, 1.0, 3.0):
        K0 = np.asarray(kernels.rbf_kernel(X, sigma=sigma))
        K1 = np.asarray(kernels.rbf_kernel(Xs, sigma=sigma))
        np.testing.assert_allclose(K1, K0, atol=1e-5)
        np.testing.assert_allclose(K1, ref_rbf(Xs, sigma=sigma), atol=1e-5)
        Kc = np.asarray(kernels.centered_rbf_kernel(Xs, sigma))
        H = np.eye(len(X)) - 1.0 / len(X)
        np.testing.assert_allclose(Kc, H @ ref_rbf(Xs, sigma=sigma) @ H, atol=1e-5)
    assert float(kernels.median_heuristic(Xs)) == pytest.approx(
        float(kernels.median_heuristic(X)), rel=1e-6
    )


def test_float32_cross_kernel_with_calendar_year_column():
    rng = np.random.default_rng(1)
    year = rng.integers(2000, 2021, size=(60, 1))
    other = np.round(rng.normal(size=(60, 1)) * 64) / 64
    A = np.hstack([year, other]).astype(np.float32)
    B = A[:25] + np.float32(1.0)  # new points, also exact in float32
    for sigma in (1.0, 5.0):
        got = np.asarray(kernels.rbf_kernel(A, B, sigma=sigma))
        np.testing.assert_allclose(got, ref_rbf(A, B, sigma), atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(kernels.squared_distances(A, B)), ref_sqdist(A, B), rtol=1e-5, atol=1e-4
    )


def test_squared_distances_shift_invariant_float64_reference():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(30, 4)) + 1e8
    B = rng.normal(size=(10, 4)) + 1e8
    got = np.asarray(kernels.squared_distances(A, B))
    # Explicit differences are exact here; the plain expansion has error ~1e16 * 1e-16 = O(1).
    np.testing.assert_allclose(got, ref_sqdist(A, B), rtol=1e-6)


def test_shift_invariance_holds_under_jit():
    X = grid_data()
    Xs = (X + np.float32(1e5)).astype(np.float32)
    f = jax.jit(lambda a, s: kernels.rbf_kernel(a, sigma=s))
    np.testing.assert_allclose(np.asarray(f(Xs, 1.0)), ref_rbf(X, sigma=1.0), atol=1e-5)


# --------------------------------------------------------------------------
# 2. Extreme scales: finite kernels, never NaN
# --------------------------------------------------------------------------

SCALES = [
    ("float32", 1e30),
    ("float32", 1e-30),
    ("float64", 1e200),
    ("float64", 1e-200),
    ("float64", 1e160),
]


@pytest.mark.parametrize("dtype,scale", SCALES)
def test_consistent_extreme_scales_give_the_unit_scale_kernel(dtype, scale):
    X = grid_data(n=30).astype(np.float64)
    Xb = (X * scale).astype(dtype)
    expected = ref_rbf(X, sigma=1.5)
    got = np.asarray(kernels.rbf_kernel(Xb, sigma=1.5 * scale))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, expected, atol=tol)
    got1 = np.asarray(kernels.rbf_kernel(Xb[:, :1], sigma=1.5 * scale))
    np.testing.assert_allclose(got1, ref_rbf(X[:, :1], sigma=1.5), atol=tol)
    Kc = np.asarray(kernels.centered_rbf_kernel(Xb, 1.5 * scale))
    H = np.eye(len(X)) - 1.0 / len(X)
    np.testing.assert_allclose(Kc, H @ expected @ H, atol=tol)
    assert float(kernels.median_heuristic(Xb)) / scale == pytest.approx(
        float(kernels.median_heuristic(X)), rel=1e-6
    )


@pytest.mark.parametrize("dtype,scale", SCALES)
def test_inconsistent_extreme_scales_give_finite_kernels(dtype, scale):
    X = (grid_data(n=20).astype(np.float64) * scale).astype(dtype)
    for sigma in (1.0, 1e-200 if dtype == "float64" else 1e-30):
        for K in (
            kernels.rbf_kernel(X, sigma=sigma),
            kernels.centered_rbf_kernel(X, sigma),
            kernels.rbf_kernel(X, X[:5], sigma=sigma),
        ):
            K = np.asarray(K)
            assert np.all(np.isfinite(K)), (dtype, scale, sigma)
    # Tiny data with a unit bandwidth is the all-ones kernel; huge data the identity.
    K = np.asarray(kernels.rbf_kernel(X, sigma=1.0))
    expected = np.ones_like(K) if scale < 1 else np.eye(len(X))
    np.testing.assert_allclose(K, expected, atol=1e-6)


def test_squared_distances_overflow_to_inf_not_nan():
    X = grid_data(n=10).astype(np.float32) * np.float32(1e30)
    d2 = np.asarray(kernels.squared_distances(X))
    assert not np.any(np.isnan(d2))
    assert np.all(np.diag(d2) == 0)


@pytest.mark.parametrize("sigma", [0.0, -1.0, np.nan, np.inf])
def test_kernels_reject_bad_concrete_bandwidths(sigma):
    X = grid_data(n=10)
    for fn in (
        lambda: kernels.rbf_kernel(X, sigma=sigma),
        lambda: kernels.centered_rbf_kernel(X, sigma),
    ):
        with pytest.raises(ValueError, match="sigma must be"):
            fn()


# --------------------------------------------------------------------------
# 3. Degenerate dependence values are never a silent 0
# --------------------------------------------------------------------------


@pytest.fixture
def pair():
    rng = np.random.default_rng(3)
    a = rng.normal(size=60)
    return a, a + rng.normal(size=60)


@pytest.mark.parametrize("which", ["sigma_a", "sigma_b"])
@pytest.mark.parametrize("sigma", [0.0, -2.0, np.nan, np.inf, 1e-200, 1e300])
@pytest.mark.parametrize("debiased", [False, True])
def test_cka_rbf_rejects_degenerate_bandwidths(pair, which, sigma, debiased):
    a, b = pair
    with pytest.raises(ValueError, match=which):
        dependence.cka_rbf(a, b, debiased=debiased, **{which: sigma})


def test_cka_rbf_tiny_bandwidth_float32_rejected(pair):
    a, b = (x.astype(np.float32) for x in pair)
    with pytest.raises(ValueError, match="sigma_b=1e-20 is so small"):
        dependence.cka_rbf(a, b, sigma_b=1e-20)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_dependence_rejects_non_finite_inputs(pair, bad):
    a, b = pair
    a2 = a.copy()
    a2[7] = bad
    with pytest.raises(ValueError, match="a contains 1 NaN or infinite"):
        dependence.cka_rbf(a2, b)
    with pytest.raises(ValueError, match="b contains 1 NaN or infinite"):
        dependence.cka_rbf(b, a2)
    K = ref_rbf(a[:, None])
    L = ref_rbf(b[:, None])
    Kbad = K.copy()
    Kbad[3, 4] = bad
    for fn, name in (
        (dependence.cka, "K"),
        (dependence.hsic, "K"),
        (dependence.cka_centered, "Kc"),
    ):
        with pytest.raises(ValueError, match=f"{name} contains 1 NaN"):
            fn(Kbad, L)
    with pytest.raises(ValueError, match="L contains 1 NaN"):
        dependence.cka(K, Kbad, debiased=True)


def test_dependence_rejects_too_few_or_mismatched_samples(pair):
    a, b = pair
    with pytest.raises(ValueError, match="at least 2"):
        dependence.cka_rbf(a[:1], b[:1])
    with pytest.raises(ValueError, match="a has 60 rows but b has 59"):
        dependence.cka_rbf(a, b[:-1])
    with pytest.raises(ValueError, match="L has 5 samples but K has 6"):
        dependence.hsic(np.eye(6), np.eye(5))
    with pytest.raises(ValueError, match="square"):
        dependence.cka(np.ones((4, 3)), np.eye(4))


def test_zero_only_for_a_truly_constant_argument(pair):
    a, b = pair
    const = np.full(60, 2.5)
    assert float(dependence.cka_rbf(const, b)) == 0.0
    assert float(dependence.cka_rbf(a, const, sigma_b=1e-200)) == 0.0  # constant: any bandwidth
    assert float(dependence.cka_rbf(const[:, None] * np.ones((1, 3)), b, debiased=True)) == 0.0
    assert float(dependence.cka(np.ones((60, 60)), ref_rbf(b[:, None]))) == 0.0


def test_tiny_bandwidth_on_groups_is_the_group_indicator_kernel(pair):
    # Repeated rows: the limiting "delta" kernel still sees which rows share a group.
    a, _ = pair
    groups = np.random.default_rng(4).integers(0, 3, size=60)
    onehot = np.eye(3)[groups]
    expected = ref_cka(
        ref_rbf(a[:, None], sigma=float(kernels.median_heuristic(a[:, None]))),
        (groups[:, None] == groups[None, :]).astype(float),
    )
    got = float(dependence.cka_rbf(a, onehot, sigma_b=1e-200))
    assert got == pytest.approx(expected, rel=1e-9)
    assert got > 0


def test_nan_propagates_under_jit_and_constant_gradient_is_finite(pair):
    a, b = pair
    Lc = kernels.centered_rbf_kernel(b[:, None], 1.0)

    @jax.jit
    def score(f):
        return dependence.cka_centered(kernels.centered_rbf_kernel(f[:, None], 1.0), Lc)

    assert float(score(jnp.asarray(a))) == pytest.approx(
        ref_cka(ref_rbf(a[:, None]), ref_rbf(b[:, None])), rel=1e-9
    )
    assert np.isnan(float(score(jnp.asarray(np.where(np.arange(60) == 5, np.nan, a)))))
    g = jax.grad(score)(jnp.full(60, 1.0))
    assert float(score(jnp.full(60, 1.0))) == 0.0
    assert np.all(np.asarray(g) == 0)


def test_normalise_hsic_public_and_alias():
    assert dependence._normalise is dependence.normalise_hsic
    tiny = dependence.centered_tiny("float64")
    assert float(dependence.normalise_hsic(0.3, 0.25, 4.0, tiny)) == pytest.approx(0.3)
    assert float(dependence.normalise_hsic(0.0, 0.0, 4.0, tiny)) == 0.0
    assert np.isnan(float(dependence.normalise_hsic(np.nan, np.nan, 4.0, tiny)))
    grad = jax.grad(lambda h: dependence.normalise_hsic(h * 0.1, h, jnp.float64(4.0), tiny))(0.0)
    assert np.isfinite(float(grad))


# --------------------------------------------------------------------------
# 4. Validation: categorical sensitive attributes, group labels, messages
# --------------------------------------------------------------------------


def test_check_sensitive_one_hot_encodes_labels():
    labels = ["b", "a", "c", "a", "b"]
    expected = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]], dtype=float)
    for q in (
        labels,
        np.array(labels),
        np.array(labels, dtype=object),
        pd.Series(labels),
        pd.Series(labels, dtype="category"),
        pd.Series(labels, dtype="string"),
        pd.Categorical(labels),
        pd.DataFrame({"g": labels}),
    ):
        np.testing.assert_array_equal(v.check_sensitive(q, 5), expected)
    np.testing.assert_array_equal(
        v.check_sensitive(np.array([True, False, True, True, False]), 5), np.eye(2)[[1, 0, 1, 1, 0]]
    )


def test_check_sensitive_pandas_categories_and_mixed_frame():
    cat = pd.Categorical(["x", "y", "x", "x"], categories=["y", "x", "z"])
    np.testing.assert_array_equal(v.check_sensitive(cat, 4), np.eye(3)[[1, 0, 1, 1]])
    df = pd.DataFrame(
        {
            "sex": ["m", "f", "m", "f"],
            "age": [30, 41, 52, 23],
            "flag": pd.array([True, False, False, True], dtype="boolean"),
        }
    )
    expected = np.column_stack([np.eye(2)[[1, 0, 1, 0]], [30, 41, 52, 23], np.eye(2)[[1, 0, 0, 1]]])
    np.testing.assert_array_equal(v.check_sensitive(df, 4), expected)
    np.testing.assert_array_equal(
        v.check_sensitive(pd.Series([1.5, 2.0, 3.0, 4.0]), 4), [[1.5], [2], [3], [4]]
    )


@pytest.mark.parametrize(
    "q,match",
    [
        (pd.Series(["a", None, "b", "a"]), "q contains 1 missing value"),
        (pd.Series(["a", "b", None, "a"], dtype="category"), "q contains 1 missing value"),
        (np.array(["a", 1, "b", 2], dtype=object), "q mixes labels of different types"),
        (pd.DataFrame({"r": ["a", "b", "a", None]}), r"q\['r'\] contains 1 missing"),
        (pd.Series([1.0, None, 2.0, 3.0], dtype="Float64"), "q contains 1 missing value"),
    ],
)
def test_check_sensitive_messages(q, match):
    with pytest.raises((ValueError, TypeError), match=match):
        v.check_sensitive(q, 4)


def test_group_labels_rule():
    codes, labels = v.group_labels(
        pd.Series(["m", "f", "m", "x"], dtype="category"), return_labels=True
    )
    np.testing.assert_array_equal(codes, [1, 0, 1, 2])
    assert labels == ["f", "m", "x"]
    np.testing.assert_array_equal(v.group_labels(np.eye(3)[[2, 0, 1, 2]]), [2, 0, 1, 2])
    np.testing.assert_array_equal(v.group_labels([3, 1, 3, 7]), [1, 0, 1, 2])
    df = pd.DataFrame(
        {
            "s": ["m", "f", "m", "f"],
            "r": pd.Categorical(["b", "a", "a", "a"], categories=["b", "a"]),
        }
    )
    codes, labels = v.group_labels(df, return_labels=True)
    # Combinations in lexicographic order of per-column codes (s: f<m; r: declared b<a).
    assert labels == [("f", "a"), ("m", "b"), ("m", "a")]
    np.testing.assert_array_equal(codes, [1, 0, 2, 0])
    # Every one-hot encoding of check_sensitive maps back to the same groups.
    for q in (["b", "a", "c", "a"], np.array([True, False, True, True])):
        direct = v.group_labels(q)
        np.testing.assert_array_equal(v.group_labels(v.check_sensitive(q, 4)), direct)


def test_group_labels_refuses_continuous_values():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="q has non-integer values"):
        v.group_labels(rng.normal(size=50))
    with pytest.raises(
        ValueError, match=r"sens has 40 distinct values among 40 rows \(more than 20\)"
    ):
        v.group_labels(np.arange(40.0), name="sens")
    assert len(np.unique(v.group_labels(np.arange(8.0)))) == 8  # few rows: up to 10 groups allowed
    with pytest.raises(ValueError, match="q has 3 rows but X has 4"):
        v.group_labels(["a", "b", "a"], n=4)


@pytest.mark.parametrize(
    "value,exc,match",
    [
        (
            sp.csr_matrix(np.eye(5)),
            TypeError,
            r"X is a sparse matrix; fairkl needs dense data: call X.toarray\(\)",
        ),
        (
            pd.DataFrame({"a": pd.array([1, None, 3, 4], dtype="Int64"), "b": [1.0, 2, 3, 4]}),
            ValueError,
            r"X contains 1 missing value\(s\) \(pd.NA/None",
        ),
        (
            pd.DataFrame({"a": [1, pd.NA, 3, 4]}, dtype=object),
            ValueError,
            r"X contains 1 missing value\(s\) \(pd.NA",
        ),
        (
            np.array([[1.0, None], [2.0, 3.0]], dtype=object),
            ValueError,
            r"X contains 1 missing value\(s\)",
        ),
        (
            np.array([[1.0, 2j], [2.0, 3.0]]),
            TypeError,
            "X has complex dtype complex128; fairkl needs real numbers",
        ),
        (np.array([[1.0, 2j], [2.0, 3.0]], dtype=object), TypeError, "X contains complex numbers"),
        (
            np.array([["a", "b"], ["c", "d"]]),
            TypeError,
            "X must be numeric; got dtype <U1. Encode categorical",
        ),
        (
            np.array([[1.0, np.inf], [2.0, 3.0]]),
            ValueError,
            r"X contains 1 NaN or infinite value\(s\)",
        ),
    ],
)
def test_as_float_array_messages(value, exc, match):
    with pytest.raises(exc, match=match):
        v.check_X(value, min_samples=1)


def test_object_arrays_of_numbers_still_accepted():
    X = np.array([[1, 2.5], [3, np.float32(4)]], dtype=object)
    np.testing.assert_array_equal(v.as_float_array(X, "X"), [[1.0, 2.5], [3.0, 4.0]])
    df = pd.DataFrame({"a": pd.array([1, 2, 3], dtype="Int64"), "b": [0.5, 1.5, 2.5]})
    np.testing.assert_array_equal(v.check_X(df, min_samples=1), [[1, 0.5], [2, 1.5], [3, 2.5]])
