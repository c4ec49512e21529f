r"""Kernel dependence measures: HSIC and CKA (biased and unbiased/debiased).

For kernel matrices :math:`K` and :math:`L` on the same :math:`n` samples,
with :math:`\tilde K = HKH`:

* biased HSIC (Gretton et al., 2005):
  :math:`\mathrm{HSIC}_b(K, L) = \operatorname{tr}(\tilde K \tilde L) / n^2`;
* unbiased HSIC (Song et al., 2012), with :math:`\bar K, \bar L` the kernels with
  zeroed diagonals:

  .. math::
     \mathrm{HSIC}_u = \frac{1}{n(n-3)}\Big[\operatorname{tr}(\bar K \bar L)
     + \frac{1^\top \bar K 1 \; 1^\top \bar L 1}{(n-1)(n-2)}
     - \frac{2}{n-2} 1^\top \bar K \bar L 1\Big],

  which needs :math:`n \ge 4` and can be slightly negative;
* CKA (Kornblith et al., 2019):
  :math:`\mathrm{HSIC}(K, L) / \sqrt{\mathrm{HSIC}(K, K)\,\mathrm{HSIC}(L, L)}`,
  biased (in [0, 1]) or debiased (built on the unbiased HSIC).

Degenerate values
-----------------
* **Constant argument.** If either kernel is constant after centring (a
  constant variable), the normalised dependence is 0/0. fairkl defines CKA to
  be **0** there (nothing depends on a constant), with a zero gradient, so
  that a penalty never produces NaN. This is the *only* case in which 0 is
  returned for a dependence that was not measured.
* **Measures that cannot be computed raise.** The public functions
  (:func:`hsic`, :func:`cka`, :func:`cka_centered`, :func:`cka_rbf`) called
  eagerly on concrete values raise ``ValueError`` naming the argument for:
  a NaN or infinite value in an input; fewer than 2 samples (4 for the
  unbiased/debiased estimators); mismatched shapes; and, in :func:`cka_rbf`,
  a bandwidth that is 0, negative, NaN or inf, one so small that the RBF
  kernel of a variable with distinct values underflows to the identity
  matrix (it then sees nothing but the sample indices), or one so large that
  the centred kernel of a non-constant variable underflows to 0 (which would
  read as "independent").
* **Inside ``jax.jit``/``vmap``/``grad``** (traced values) no check can run:
  NaN propagates (it is never turned into 0), and :func:`normalise_hsic`
  keeps the penalty differentiable.
"""

from __future__ import annotations

import jax
import numpy as np
from keras import ops

from fairkl._backend import x64_scope
from fairkl._ops import eps, is_concrete, mean
from fairkl.kernels import (
    _points,
    center_kernel,
    check_bandwidth,
    median_heuristic,
    rbf_exponent,
)


@x64_scope
def hsic(K, L, unbiased: bool = False):
    """Hilbert-Schmidt independence criterion of two kernel matrices.

    Parameters
    ----------
    K, L : tensor of shape (n, n)
        Symmetric kernel matrices on the same samples.
    unbiased : bool, default False
        Use the unbiased estimator of Song et al. (2012) (``n >= 4``).

    Returns
    -------
    scalar tensor

    Raises
    ------
    ValueError
        For concrete inputs: non-square or mismatched matrices, NaN/inf
        entries, fewer than 2 samples (4 when ``unbiased``).
    """
    _check_flag(unbiased, "unbiased")
    K, L = _check_kernels(("K", K), ("L", L), min_samples=4 if unbiased else 2)
    return _hsic(K, L, unbiased)


def _hsic(K, L, unbiased: bool):
    n = K.shape[0]
    if not unbiased:
        # tr(HKH HLH) = sum(HKH * L): one centring suffices.
        return ops.sum(center_kernel(K) * L) / (n * n)
    if n < 4:
        raise ValueError(f"unbiased HSIC needs at least 4 samples, got n={n}")
    eye = ops.eye(n, dtype=K.dtype)
    Kb = K * (1.0 - eye)
    Lb = L * (1.0 - eye)
    k1 = ops.sum(Kb, axis=1)
    l1 = ops.sum(Lb, axis=1)
    term1 = ops.sum(Kb * Lb)
    term2 = ops.sum(k1) * ops.sum(l1) / ((n - 1) * (n - 2))
    term3 = 2.0 * ops.sum(k1 * l1) / (n - 2)
    return (term1 + term2 - term3) / (n * (n - 3))


def normalise_hsic(hkl, hkk, hll, tiny):
    r"""CKA from three HSIC values: :math:`h_{KL} / \sqrt{h_{KK} h_{LL}}`, jit-safe.

    For compiled code (penalties, batched scoring): no input checks.

    Parameters
    ----------
    hkl, hkk, hll : scalar tensors
        HSIC(K, L), HSIC(K, K), HSIC(L, L).
    tiny : float
        Threshold at or below which ``hkk`` or ``hll`` counts as zero (a
        constant variable); e.g. :func:`centered_tiny`.

    Returns
    -------
    scalar tensor
        0, with a zero (finite) gradient, when ``hkk <= tiny`` or
        ``hll <= tiny``; NaN when any input is NaN (never hidden as 0).
    """
    # The constant case divides by nothing tiny, so the gradient stays finite.
    # Written as "not <=" so that NaN selects the NaN branch.
    ok = ops.logical_and(ops.logical_not(hkk <= tiny), ops.logical_not(hll <= tiny))
    one = ops.ones_like(hkk)
    denom = ops.sqrt(ops.where(ok, hkk, one)) * ops.sqrt(ops.where(ok, hll, one))
    return ops.where(ok, hkl / denom, ops.zeros_like(hkl))


#: Deprecated private alias of :func:`normalise_hsic` (kept for old imports).
_normalise = normalise_hsic


def centered_tiny(dtype) -> float:
    """Threshold below which the HSIC of a centred kernel counts as zero.

    For kernels from :func:`~fairkl.kernels.centered_rbf_kernel` a constant
    variable gives exactly 0, so only underflow needs a margin.
    """
    return 1e4 * float(np.finfo(str(dtype).split(".")[-1]).tiny)


def cka_centered(Kc, Lc):
    """Biased CKA of two already-centred kernel matrices (see :func:`cka`).

    Jit-safe (used inside compiled scoring). Called eagerly on concrete
    matrices it raises ``ValueError`` for NaN/inf entries, mismatched shapes
    or fewer than 2 samples; 0 means a constant (all-zero centred) kernel.
    """
    Kc, Lc = _check_kernels(("Kc", Kc), ("Lc", Lc), min_samples=2)
    return _cka_centered(Kc, Lc)


def _cka_centered(Kc, Lc):
    n = Kc.shape[0]
    h = lambda A, B: ops.sum(A * B) / (n * n)  # noqa: E731
    return normalise_hsic(h(Kc, Lc), h(Kc, Kc), h(Lc, Lc), centered_tiny(Kc.dtype))


@x64_scope
def cka(K, L, debiased: bool = False):
    """Centred kernel alignment of two kernel matrices.

    Parameters
    ----------
    K, L : tensor of shape (n, n)
    debiased : bool, default False
        Build on the unbiased HSIC (Kornblith et al., 2019, appendix); the
        result is then close to, but not bounded by, [0, 1].

    Returns
    -------
    scalar tensor
        0 when either kernel is constant after centring (see module notes).

    Raises
    ------
    ValueError
        For concrete inputs: NaN/inf entries, mismatched shapes, fewer than
        2 samples (4 when ``debiased``).
    """
    _check_flag(debiased, "debiased")
    K, L = _check_kernels(("K", K), ("L", L), min_samples=4 if debiased else 2)
    return _cka(K, L, debiased)


def _cka(K, L, debiased: bool):
    hkl = _hsic(K, L, debiased)
    hkk = _hsic(K, K, debiased)
    hll = _hsic(L, L, debiased)
    # Rounding level of a constant kernel after centring.
    scale = ops.maximum(mean(ops.abs(ops.diagonal(K))), mean(ops.abs(ops.diagonal(L))))
    return normalise_hsic(hkl, hkk, hll, (64.0 * eps(K.dtype) * scale) ** 2)


@x64_scope
def cka_rbf(a, b, sigma_a=None, sigma_b=None, debiased: bool = False):
    """CKA between two variables with RBF kernels on each.

    A convenience for measuring dependence between predictions and a
    sensitive attribute on held-out data.

    Parameters
    ----------
    a : tensor of shape (n,) or (n, d_a)
    b : tensor of shape (n,) or (n, d_b)
    sigma_a, sigma_b : float, optional
        Bandwidths; ``None`` uses :func:`~fairkl.kernels.median_heuristic` on
        the variable itself. To compare several models on one yardstick, fix
        them once (e.g. from the training targets and attribute).
    debiased : bool, default False

    Returns
    -------
    scalar tensor
        0 only when ``a`` or ``b`` is constant (every row equal).

    Raises
    ------
    ValueError
        Called eagerly: when ``a`` or ``b`` holds NaN/inf, their lengths
        differ, there are fewer than 2 samples (4 if ``debiased``), a
        bandwidth is 0, negative, NaN or inf, or a bandwidth is so small
        (the kernel of distinct values is the identity) or so large (the
        centred kernel of a non-constant variable is 0) that the measure
        is meaningless. Each message names the argument.
    """
    _check_flag(debiased, "debiased")
    a = _as_2d(a, "a")
    b = _as_2d(b, "b")
    eager = is_concrete(a, b)
    if eager:
        _check_variables(a, b, min_samples=4 if debiased else 2)
    sa = median_heuristic(a) if sigma_a is None else sigma_a
    sb = median_heuristic(b) if sigma_b is None else sigma_b
    check_bandwidth(sa, "sigma_a")
    check_bandwidth(sb, "sigma_b")
    za = rbf_exponent(a, None, sa)
    zb = rbf_exponent(b, None, sb)
    if eager:
        _check_rbf_not_degenerate(a, za, "a", "sigma_a", sa)
        _check_rbf_not_degenerate(b, zb, "b", "sigma_b", sb)
    if debiased:
        return _cka(ops.exp(-za), ops.exp(-zb), debiased=True)
    return _cka_centered(center_kernel(ops.expm1(-za)), center_kernel(ops.expm1(-zb)))


def _as_2d(x, name: str):
    """``x`` of shape (n,) or (n, d) as (n, d), checked by :func:`fairkl.kernels._points`."""
    if x is None:
        raise ValueError(f"{name} is None; expected an array of shape (n,) or (n, d).")
    if not isinstance(x, jax.core.Tracer) and not isinstance(x, jax.Array):
        x = np.asarray(x)
    if len(x.shape) == 0 or x.shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {tuple(x.shape)}).")
    return _points(ops.reshape(x, (x.shape[0], -1)) if len(x.shape) != 2 else x, name)


def _check_kernels(*named, min_samples: int):
    """Eager checks of kernel matrices; returns them as tensors (traced values pass unchecked).

    Concrete inputs may be NumPy arrays, lists or pandas frames; integers and
    booleans become float64 (see :func:`fairkl.kernels._points`).
    """
    if not is_concrete(*(m for _, m in named)):
        return tuple(m for _, m in named)
    out, n = [], None
    for name, M in named:
        if M is None:
            raise ValueError(f"{name} is None; expected a square (n, n) kernel matrix.")
        shape = tuple(np.shape(M))
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"{name} must be a square (n, n) kernel matrix; got shape {shape}.")
        if n is not None and shape[0] != n:
            raise ValueError(
                f"{name} has {shape[0]} samples but {named[0][0]} has {n}; "
                f"both kernels must be on the same samples."
            )
        n = shape[0]
        M = _points(np.asarray(M) if _is_pandas(M) else M, name)  # dtype and finiteness
        out.append(M)
    if n < min_samples:
        raise ValueError(
            f"{named[0][0]} has {n} sample(s); this dependence measure needs at "
            f"least {min_samples}."
        )
    if len({str(M.dtype) for M in out}) > 1:  # float32 with float64: compute in float64
        out = [ops.cast(M, "float64") for M in out]
    return tuple(out)


def _is_pandas(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas"


def _check_flag(value, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r} ({type(value).__name__}).")


def _check_variables(a, b, min_samples: int):
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a has {a.shape[0]} rows but b has {b.shape[0]}; pass paired samples.")
    if a.shape[0] < min_samples:
        raise ValueError(
            f"a and b have {a.shape[0]} sample(s); this dependence measure needs "
            f"at least {min_samples}."
        )
    _check_finite(a, "a")
    _check_finite(b, "b")


def _check_finite(x, name: str):
    arr = np.asarray(x)
    if not np.all(np.isfinite(arr)):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); the dependence "
            f"cannot be measured. Drop or impute those rows first."
        )


def _check_rbf_not_degenerate(x, z, name: str, sigma_name: str, sigma):
    r"""Raise if the RBF kernel of a non-constant ``x`` carries no information.

    ``z`` is the exponent :math:`d^2/2\sigma^2`. Too small a bandwidth: every
    pair of rows has kernel value 0 and no two rows are equal (the kernel is
    the identity, whatever the values). Too large: every ``expm1(-z)`` is 0
    although some rows differ (the centred kernel is 0, read as "constant").
    """
    arr = np.asarray(x)
    if np.all(arr == arr[:1]):
        return  # truly constant: CKA = 0 by definition
    Z = np.asarray(z)
    off = ~np.eye(Z.shape[0], dtype=bool)
    E = np.expm1(-Z[off])
    hint = f"a bandwidth near the median heuristic ({float(_median_np(arr)):.3g})"
    if np.all(E == -1.0):
        raise ValueError(
            f"{sigma_name}={float(np.asarray(sigma)):.3g} is so small compared with "
            f"the distances between the values of {name} that its RBF kernel is the "
            f"identity matrix; the dependence would be meaningless. Use {hint}."
        )
    if np.all(E == 0.0):
        raise ValueError(
            f"{sigma_name}={float(np.asarray(sigma)):.3g} is so large compared with "
            f"the spread of {name} that its RBF kernel is constant, which would read "
            f"as independence. Use {hint}."
        )


def _median_np(arr):
    return median_heuristic(ops.convert_to_tensor(np.asarray(arr, dtype=np.float64)))
