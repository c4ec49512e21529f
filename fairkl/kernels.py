r"""Kernel functions, kernel centring and the median-heuristic bandwidth.

All functions take and return ``keras.ops`` tensors, are differentiable and can
be used inside ``jax.jit``.

Conventions
-----------
The RBF (Gaussian) kernel with bandwidth :math:`\sigma` is

.. math:: k(x, x') = \exp\!\left(-\frac{\lVert x - x'\rVert^2}{2\sigma^2}\right),

which is scikit-learn's ``rbf`` kernel with ``gamma = 1 / (2 sigma**2)``.

Accuracy
--------
Distances between several features use the expansion
:math:`\lVert a\rVert^2 + \lVert b\rVert^2 - 2a^\top b` (one matrix product,
O(n m d)), which cancels catastrophically when the data sit far from the
origin (a calendar-year column in float32 loses every digit). Both inputs are
therefore first shifted by a common centre :math:`c` (the mean of ``B``, or of
``A`` when ``B`` is omitted, accumulated in float64) and divided by a common
scale :math:`s` (their largest absolute centred coordinate):

.. math:: \lVert a - b\rVert^2 = s^2\,\lVert u - v\rVert^2,\qquad
   u = (a - c)/s,\; v = (b - c)/s.

Distances are thereby invariant to a shift of the data, and no intermediate
overflows or underflows: the kernels stay finite (never NaN) for data and
bandwidths of any consistent scale (e.g. ``X * 1e150`` with ``sigma * 1e150``
in float64, ``X * 1e30`` with ``sigma * 1e30`` in float32). A distance too
large for the dtype gives a kernel value of exactly 0, which is correct.
Since the distance does not depend on :math:`c` or :math:`s`, both are held
constant under differentiation. A single feature uses exact differences.

Bandwidths given as concrete numbers are checked (finite, > 0) eagerly;
traced bandwidths inside ``jax.jit`` are not.

Inputs
------
Point sets must be 2-D ``(n, d)`` with ``d >= 1`` (checked from the static
shape, also inside ``jax.jit``); ``B`` must have ``A``'s number of features.
Called eagerly, the public functions also accept NumPy arrays, lists and
pandas objects (booleans and integers become float64, float32 stays
float32) and raise ``ValueError``/``TypeError`` naming the argument for
``None``, strings, objects, complex numbers and NaN/inf values. Traced
NaN propagates to the output (it is never read as distance 0).
"""

from __future__ import annotations

from functools import partial

import jax
import numpy as np
from keras import ops

from fairkl._backend import x64_context, x64_enabled_by_fairkl
from fairkl._ops import eps, is_concrete, mean

#: Largest number of rows used by :func:`median_heuristic`; above it a
#: deterministic, evenly strided subsample keeps the cost at O(m^2).
MEDIAN_MAX_ROWS = 1000


def check_bandwidth(sigma, name: str = "sigma") -> None:
    """Raise unless a concrete bandwidth is a finite real number > 0.

    ``TypeError`` for ``None``, booleans, strings and complex numbers;
    ``ValueError`` for 0, negative, NaN or inf. Traced values (inside ``jax.jit``/``vmap``) are not checked.
    """
    if not is_concrete(sigma):
        return
    kind = "b" if isinstance(sigma, (bool, np.bool_)) else np.asarray(sigma).dtype.kind
    if sigma is None or kind not in "iuf":
        raise TypeError(
            f"{name} must be a positive real number; got {sigma!r} ({type(sigma).__name__})."
        )
    arr = np.asarray(sigma, dtype=np.float64)
    if isinstance(sigma, (list, tuple)) or arr.size != 1:
        raise TypeError(
            f"{name} must be a single positive number (one bandwidth for all features); got "
            f"{sigma!r}. Rescale the features instead of giving each its own bandwidth."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} must be finite; got {sigma}. Pass a positive bandwidth "
            f"(e.g. fairkl.kernels.median_heuristic of the data)."
        )
    if not np.all(arr > 0):
        raise ValueError(
            f"{name} must be > 0; got {sigma}. Pass a positive bandwidth "
            f"(e.g. fairkl.kernels.median_heuristic of the data)."
        )


def _points(A, name: str):
    """``A`` as a 2-D real tensor of points, checked (values only when concrete)."""
    if A is None:
        raise ValueError(f"{name} is None; expected a 2-D array (n_samples, n_features).")
    if not isinstance(A, jax.core.Tracer):
        if not isinstance(A, jax.Array):
            A = np.asarray(A)
        kind = np.dtype(A.dtype).kind
        if kind == "c":
            raise TypeError(f"{name} has complex dtype {A.dtype}; kernels need real numbers.")
        if kind not in "biuf":
            raise TypeError(
                f"{name} must be numeric; got dtype {A.dtype}. Encode labels first "
                f"(e.g. sklearn.preprocessing.OneHotEncoder)."
            )
        if kind in "biu":  # integer arithmetic would truncate distances and bandwidths
            A = np.asarray(A, dtype=np.float64)
        A = ops.convert_to_tensor(A)
    if len(A.shape) != 2 or A.shape[1] == 0:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features) with at least one feature; got shape "
            f"{tuple(A.shape)}. Reshape a single variable with {name}.reshape(-1, 1)."
        )
    if is_concrete(A) and not bool(np.all(np.isfinite(np.asarray(A)))):
        bad = int(np.size(A) - np.count_nonzero(np.isfinite(np.asarray(A))))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); kernel values would be meaningless. "
            f"Drop or impute those rows first."
        )
    return A


def _point_pair(A, B):
    """Checked ``A`` and ``B`` (None stays None) with the same number of features."""
    A = _points(A, "A")
    if B is None:
        return A, None
    B = _points(B, "B")
    if B.shape[1] != A.shape[1]:
        raise ValueError(
            f"B has {B.shape[1]} features but A has {A.shape[1]}; both must have the same features."
        )
    return A, B


def _centre_and_scale(A, B):
    """Common centre ``c`` and scale ``s`` of two point sets (held constant under autodiff)."""
    ref = A if B is None else B
    c = mean(ops.cast(ref, "float64"), axis=0, keepdims=True)
    c = ops.stop_gradient(ops.cast(c, A.dtype))
    s = ops.max(ops.abs(A - c))
    if B is not None:
        s = ops.maximum(s, ops.max(ops.abs(B - c)))
    # All points identical: any positive scale gives distance 0.
    s = ops.stop_gradient(ops.where(s > 0, s, ops.ones_like(s)))
    return c, s


def _unit_squared_distances(U, V):
    """Expansion of ||u - v||^2 for points of norm <= sqrt(d), rounding noise set to 0.

    The expansion's rounding error is a few eps * (||u||^2 + ||v||^2); values
    below that carry no information and are set to exactly 0, so that a point
    is at distance 0 from itself (the kernel's diagonal stays exactly 1 even
    when the bandwidth is tiny compared with the data).
    """
    u2 = ops.sum(U * U, axis=1)[:, None]
    v2 = ops.sum(V * V, axis=1)[None, :]
    d2 = u2 + v2 - 2.0 * ops.matmul(U, ops.transpose(V))
    noise = (4.0 * eps(U.dtype)) * (u2 + v2)
    # d2 <= noise, not d2 > noise: a traced NaN must stay NaN, not become distance 0.
    return ops.where(d2 <= noise, ops.zeros_like(d2), d2)


@jax.jit  # one compiled program per shape when called eagerly (nested jit is free)
def _scaled_squared_distances(A, B, factor):
    r"""``(factor * ||a_i - b_j||)^2`` by the centred, scaled expansion.

    ``factor`` is ``1`` for plain distances, ``1/sigma`` for kernels: applying
    it to the scale :math:`s` before squaring keeps huge-but-consistent data
    and bandwidths finite.
    """
    c, s = _centre_and_scale(A, B)
    U = (A - c) / s
    V = U if B is None else (B - c) / s
    inner = _unit_squared_distances(U, V)
    r = s * factor
    # (r * inner) * r overflows only when the true value does (kernel 0);
    # where() keeps coincident points at exactly 0 even if r overflowed.
    return ops.where(inner == 0, ops.zeros_like(inner), (r * inner) * r)


def squared_distances(A, B=None):
    r"""Pairwise squared Euclidean distances :math:`\lVert a_i - b_j\rVert^2`.

    Parameters
    ----------
    A : tensor of shape (n, d)
    B : tensor of shape (m, d), optional
        Defaults to ``A``.

    Returns
    -------
    tensor of shape (n, m)
        Exact differences for one feature; otherwise the centred, scaled
        expansion (see the module notes), clipped at zero. Invariant to a
        common shift of ``A`` and ``B``. A distance whose square exceeds
        the dtype's range is ``inf`` (never NaN).
    """
    A, B = _point_pair(A, B)
    if A.shape[0] == 0 or (B is not None and B.shape[0] == 0):
        return ops.zeros((A.shape[0], A.shape[0] if B is None else B.shape[0]), dtype=A.dtype)
    if A.shape[1] == 1:
        # One feature: exact differences, cheaper than the expansion and free
        # of its cancellation (identical values give exactly 0).
        diff = A - ops.transpose(A if B is None else B)
        return diff * diff
    return _scaled_squared_distances(A, B, 1.0)


def rbf_exponent(A, B=None, sigma=1.0):
    r""":math:`\lVert a_i - b_j\rVert^2 / 2\sigma^2`, the exponent of the RBF kernel.

    Computed as :math:`\tfrac12\lVert (a_i - b_j)/\sigma\rVert^2` with the
    division applied before squaring (see the module notes), so that it is
    finite or ``+inf``, never NaN, for finite inputs and a positive bandwidth.

    Parameters
    ----------
    A : tensor of shape (n, d)
    B : tensor of shape (m, d), optional
        Defaults to ``A``.
    sigma : float or scalar tensor
        Bandwidth, > 0 (checked when concrete).

    Returns
    -------
    tensor of shape (n, m), non-negative
    """
    check_bandwidth(sigma, "sigma")
    A, B = _point_pair(A, B)
    if A.shape[0] == 0 or (B is not None and B.shape[0] == 0):
        return ops.zeros((A.shape[0], A.shape[0] if B is None else B.shape[0]), dtype=A.dtype)
    if A.shape[1] == 1:
        t = (A - ops.transpose(A if B is None else B)) / sigma
        return 0.5 * (t * t)
    return 0.5 * _scaled_squared_distances(A, B, 1.0 / sigma)


def rbf_kernel(A, B=None, sigma=1.0):
    r"""RBF kernel matrix :math:`\exp(-\lVert a_i - b_j\rVert^2 / 2\sigma^2)`.

    Parameters
    ----------
    A : tensor of shape (n, d)
    B : tensor of shape (m, d), optional
        Defaults to ``A``.
    sigma : float or scalar tensor
        Bandwidth, > 0, in the units of the inputs (checked when concrete:
        ``ValueError`` for 0, negative, NaN or inf).

    Returns
    -------
    tensor of shape (n, m)
        Values in [0, 1], invariant to a common shift of the inputs and
        finite for any consistent scale of data and bandwidth.
    """
    return ops.exp(-rbf_exponent(A, B, sigma))


def linear_kernel(A, B=None):
    r"""Linear kernel matrix :math:`a_i^\top b_j`.

    Parameters
    ----------
    A : tensor of shape (n, d)
    B : tensor of shape (m, d), optional
        Defaults to ``A``.

    Returns
    -------
    tensor of shape (n, m)
    """
    A, B = _point_pair(A, B)
    if B is None:
        B = A
    return ops.matmul(A, ops.transpose(B))


#: The kernels on X, by name. Each is called as ``k(A, B=None, sigma=...)`` and returns the
#: (n, m) kernel matrix. A new kernel on X is one entry here (the name then works in every
#: fit, cross-validation and prediction path).
X_KERNELS = {"rbf": rbf_kernel}


def x_kernel(name: str):
    """The kernel function on X registered under ``name``."""
    try:
        return X_KERNELS[name]
    except KeyError:
        raise ValueError(f"kernel must be one of {sorted(X_KERNELS)}; got {name!r}.") from None


@partial(jax.jit, static_argnames=("kernel",))
def kernel_matrix(A, B, sigma, kernel="rbf"):
    r"""The kernel matrix :math:`k(A, B)` (``B=None``: :math:`k(A, A)`) as one compiled program.

    For callers outside a compiled fit (the cross-validation folds, the
    independence test): evaluated eagerly, the kernel's operations are each
    compiled on their own for every new shape (four programs per shape
    instead of one). ``sigma`` is traced and not checked here: the caller
    validates it.
    """
    return x_kernel(kernel)(A, B, sigma=sigma)


def center_kernel(K):
    r"""Double-centre a kernel matrix: :math:`\tilde K = HKH`, :math:`H = I - \tfrac1n 11^\top`.

    Computed from row, column and grand means in O(n^2); H is never formed.

    Parameters
    ----------
    K : tensor of shape (n, n)

    Returns
    -------
    tensor of shape (n, n)
    """
    K = _points(K, "K")
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be a square (n, n) kernel matrix; got shape {tuple(K.shape)}.")
    row = mean(K, axis=1, keepdims=True)
    col = mean(K, axis=0, keepdims=True)
    return K - row - col + mean(K)


def centered_rbf_kernel(A, sigma=1.0):
    r"""Centred RBF kernel :math:`HKH`, computed accurately for small distances.

    Since :math:`H\mathbf{1} = 0`, :math:`HKH = H(K - 11^\top)H`, and
    :math:`K - 1 = \operatorname{expm1}(-d^2 / 2\sigma^2)` keeps full relative
    precision when the points are close compared with :math:`\sigma` (where
    ``center_kernel(rbf_kernel(A))`` loses every digit to cancellation,
    notably in float32). Constant inputs give exactly 0.

    Parameters
    ----------
    A : tensor of shape (n, d)
    sigma : float or scalar tensor
        Bandwidth, > 0 (checked when concrete).

    Returns
    -------
    tensor of shape (n, n)
        Invariant to a shift of ``A``; finite for any consistent scale of
        ``A`` and ``sigma`` (see the module notes).
    """
    return center_kernel(ops.expm1(-rbf_exponent(A, None, sigma)))


@jax.jit
def _unit_distances_for_median(A):
    """Squared distances of ``A`` centred and scaled to unit size, in float64.

    Shift-invariant, and no overflow for huge data (the median is scaled back
    by ``s``). Returns the flat distances, their rounding-noise level and ``s``.
    """
    A = ops.cast(A, "float64")
    c, s = _centre_and_scale(A, None)
    U = (A - c) / s
    d2 = ops.reshape(squared_distances(U), (-1,))
    tiny = 64.0 * eps("float64") * ops.max(ops.sum(U * U, axis=1))
    return d2, tiny, s


def median_heuristic(A):
    r"""Median of the non-zero pairwise Euclidean distances between the rows of ``A``.

    The usual bandwidth rule for RBF kernels (Gretton et al., 2005). Zero
    distances (repeated rows, e.g. members of the same group of a one-hot
    attribute) are left out, so that a discrete attribute with a dominant group
    still gets a positive bandwidth. If every row is identical the distance is
    undefined and 1.0 is returned; a kernel on constant data is constant
    whatever its bandwidth.

    Parameters
    ----------
    A : tensor of shape (n, d)
        At most ``MEDIAN_MAX_ROWS`` evenly strided rows are used. The
        distances are computed in float64 for any input dtype.

    Returns
    -------
    scalar tensor
        Invariant to the units of ``A`` (``median_heuristic(c * A) == c * median_heuristic(A)``)
        and to a shift of ``A``; finite for data of any finite scale.
    """
    if isinstance(A, jax.core.Tracer) or not x64_enabled_by_fairkl():
        return _median_heuristic(A)
    # Eager: in float64 whatever the caller's JAX mode (fairkl changes no global switch).
    with x64_context():
        return _median_heuristic(A)


def _median_heuristic(A):
    A = _points(A, "A")
    n = A.shape[0]
    if n == 0:
        raise ValueError("A has 0 rows; the median distance needs at least one row.")
    if n > MEDIAN_MAX_ROWS:
        A = A[:: -(-n // MEDIAN_MAX_ROWS)]
    # Computed in float64 whatever the input dtype: in float32 the rounding of
    # the distance expansion hides small distances among the zeros, and the
    # bandwidth (hence the whole fit) would differ by ~0.5% between precisions.
    out_dtype = A.dtype  # a float dtype: _points casts integers and booleans to float64
    d2, tiny, s = _unit_distances_for_median(A)
    if is_concrete(d2):
        # Eager: numpy's partition-based median is ~20x faster than a sort.
        d2 = np.asarray(d2)
        nz = d2[d2 > float(tiny)]
        if not nz.size:
            return ops.convert_to_tensor(1.0, dtype=out_dtype)
        lo, hi = (nz.size - 1) // 2, nz.size // 2
        part = np.partition(nz, (lo, hi))
        med = 0.5 * (np.sqrt(part[lo]) + np.sqrt(part[hi])) * float(s)
        return ops.convert_to_tensor(med, dtype=out_dtype)
    d2 = ops.sort(d2)
    m = d2.shape[0]
    k = ops.sum(ops.cast(d2 <= tiny, "int32"))
    lo = ops.minimum(k + (m - k - 1) // 2, m - 1)
    hi = ops.minimum(k + (m - k) // 2, m - 1)
    # Average the two middle *distances* (not squared distances), as np.median would.
    med = 0.5 * (ops.sqrt(ops.take(d2, lo)) + ops.sqrt(ops.take(d2, hi))) * s
    med = ops.where(k < m, med, ops.ones_like(med))
    return ops.cast(med, out_dtype)
