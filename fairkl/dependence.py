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

Degenerate case: if either kernel is constant after centring (a constant
variable), the normalised dependence is 0/0. fairkl defines CKA to be **0**
there (nothing depends on a constant), with a zero gradient, so that a
penalty never produces NaN.
"""

from __future__ import annotations

from keras import ops

from fairkl._ops import eps, mean
from fairkl.kernels import center_kernel, centered_rbf_kernel, median_heuristic, rbf_kernel


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
    """
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


def _normalise(hkl, hkk, hll, tiny):
    # A constant variable gives hkk or hll at or below `tiny`: define CKA = 0
    # there, and keep the gradient finite by never dividing by the tiny value.
    ok = (hkk > tiny) & (hll > tiny)
    one = ops.ones_like(hkk)
    denom = ops.sqrt(ops.where(ok, hkk, one)) * ops.sqrt(ops.where(ok, hll, one))
    return ops.where(ok, hkl / denom, ops.zeros_like(hkl))


def centered_tiny(dtype) -> float:
    """Threshold below which the HSIC of a centred kernel counts as zero.

    For kernels from :func:`~fairkl.kernels.centered_rbf_kernel` a constant
    variable gives exactly 0, so only underflow needs a margin.
    """
    import numpy as np

    return 1e4 * float(np.finfo(str(dtype).split(".")[-1]).tiny)


def cka_centered(Kc, Lc):
    """Biased CKA of two already-centred kernel matrices (see :func:`cka`)."""
    n = Kc.shape[0]
    h = lambda A, B: ops.sum(A * B) / (n * n)  # noqa: E731
    return _normalise(h(Kc, Lc), h(Kc, Kc), h(Lc, Lc), centered_tiny(Kc.dtype))


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
    """
    hkl = hsic(K, L, unbiased=debiased)
    hkk = hsic(K, K, unbiased=debiased)
    hll = hsic(L, L, unbiased=debiased)
    # Rounding level of a constant kernel after centring.
    scale = ops.maximum(mean(ops.abs(ops.diagonal(K))), mean(ops.abs(ops.diagonal(L))))
    return _normalise(hkl, hkk, hll, (64.0 * eps(K.dtype) * scale) ** 2)


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
    """
    a = _as_2d(a)
    b = _as_2d(b)
    sa = median_heuristic(a) if sigma_a is None else sigma_a
    sb = median_heuristic(b) if sigma_b is None else sigma_b
    if debiased:
        return cka(rbf_kernel(a, sigma=sa), rbf_kernel(b, sigma=sb), debiased=True)
    return cka_centered(centered_rbf_kernel(a, sa), centered_rbf_kernel(b, sb))


def _as_2d(x):
    x = ops.convert_to_tensor(x)
    return ops.reshape(x, (x.shape[0], -1))
