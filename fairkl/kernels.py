r"""Kernel functions, kernel centring and the median-heuristic bandwidth.

All functions take and return ``keras.ops`` tensors, are differentiable and can
be used inside ``jax.jit``.

Conventions
-----------
The RBF (Gaussian) kernel with bandwidth :math:`\sigma` is

.. math:: k(x, x') = \exp\!\left(-\frac{\lVert x - x'\rVert^2}{2\sigma^2}\right),

which is scikit-learn's ``rbf`` kernel with ``gamma = 1 / (2 sigma**2)``.
"""

from __future__ import annotations

from keras import ops

from fairkl._ops import eps, mean

#: Largest number of rows used by :func:`median_heuristic`; above it a
#: deterministic, evenly strided subsample keeps the cost at O(m^2).
MEDIAN_MAX_ROWS = 1000


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
        Exact differences for one feature; otherwise clipped at zero (the expansion :math:`\lVert a\rVert^2 + \lVert b\rVert^2
        - 2 a^\top b` can round slightly below it).
    """
    if B is None:
        B = A
    if A.shape[1] == 1:
        # One feature: exact differences, cheaper than the expansion and free
        # of its cancellation (identical values give exactly 0).
        diff = A - ops.transpose(B)
        return diff * diff
    a2 = ops.sum(A * A, axis=1)[:, None]
    b2 = ops.sum(B * B, axis=1)[None, :]
    return ops.maximum(a2 + b2 - 2.0 * ops.matmul(A, ops.transpose(B)), 0.0)


def rbf_kernel(A, B=None, sigma=1.0):
    r"""RBF kernel matrix :math:`\exp(-\lVert a_i - b_j\rVert^2 / 2\sigma^2)`.

    Parameters
    ----------
    A : tensor of shape (n, d)
    B : tensor of shape (m, d), optional
        Defaults to ``A``.
    sigma : float or scalar tensor
        Bandwidth, > 0, in the units of the inputs.

    Returns
    -------
    tensor of shape (n, m)
    """
    return ops.exp(-squared_distances(A, B) / (2.0 * sigma * sigma))


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
    if B is None:
        B = A
    return ops.matmul(A, ops.transpose(B))


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
    row = mean(K, axis=1, keepdims=True)
    col = mean(K, axis=0, keepdims=True)
    return K - row - col + mean(K)


def centered_rbf_kernel(A, sigma=1.0):
    r"""Centred RBF kernel :math:`HKH`, computed accurately for small distances.

    Since :math:`H\mathbf{1} = 0`, :math:`HKH = H(K - 11^\top)H`, and
    :math:`K - 1 = \operatorname{expm1}(-d^2 / 2\sigma^2)` keeps full relative
    precision when the points are close compared with :math:`\sigma` (where
    ``center_kernel(rbf_kernel(A))`` loses every digit to cancellation,
    notably in float32). Constant inputs give exactly 0 for one feature.

    Parameters
    ----------
    A : tensor of shape (n, d)
    sigma : float or scalar tensor

    Returns
    -------
    tensor of shape (n, n)
    """
    return center_kernel(ops.expm1(-squared_distances(A) / (2.0 * sigma * sigma)))


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
        Invariant to the units of ``A``: ``median_heuristic(c * A) == c * median_heuristic(A)``.
    """
    n = A.shape[0]
    if n > MEDIAN_MAX_ROWS:
        A = A[:: -(-n // MEDIAN_MAX_ROWS)]
    # Computed in float64 whatever the input dtype: in float32 the rounding of
    # the distance expansion hides small distances among the zeros, and the
    # bandwidth (hence the whole fit) would differ by ~0.5% between precisions.
    out_dtype = A.dtype
    A = ops.cast(A, "float64")
    d2 = ops.sort(ops.reshape(squared_distances(A), (-1,)))
    m = d2.shape[0]
    # Squared distances below this are rounding noise of the expansion.
    scale = ops.max(ops.sum(A * A, axis=1))
    tiny = 64.0 * eps(A.dtype) * scale
    k = ops.sum(ops.cast(d2 <= tiny, "int32"))
    lo = k + (m - k - 1) // 2
    hi = k + (m - k) // 2
    lo = ops.minimum(lo, m - 1)
    hi = ops.minimum(hi, m - 1)
    # Average the two middle *distances* (not squared distances), as np.median would.
    med = 0.5 * (ops.sqrt(ops.take(d2, lo)) + ops.sqrt(ops.take(d2, hi)))
    med = ops.where(k < m, med, ops.ones_like(med))
    return ops.cast(med, out_dtype)
