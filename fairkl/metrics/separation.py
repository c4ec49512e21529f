r"""Separation for regression: the dependence of predictions on q *given* the target.

Independence (:math:`f \perp q`, what the HSIC/CKA penalty pushes towards)
asks that the predictions carry no information about the sensitive
attribute :math:`q`. **Separation** (:math:`f \perp q \mid y`; equalised odds
for decisions, :func:`fairkl.metrics.equalized_odds_difference`) allows
:math:`f` to depend on :math:`q` through the target :math:`y` but not beyond:
among samples with the same target, the predictions must not differ with
:math:`q`. When :math:`y` itself depends on :math:`q` the two cannot both
hold for an accurate model.

:func:`conditional_dependence` measures separation by stratifying on
:math:`y`: it cuts :math:`y` into quantile bins :math:`B_1, \dots, B_K` and
averages, weighted by the bin sizes, the dependence of :math:`f` on
:math:`q` within each bin,

.. math:: D_{f q \mid y} = \sum_{k=1}^{K} \frac{n_k}{n}\, D(f_{B_k}, q_{B_k}),
   \qquad D \in \{\mathrm{CKA}, \mathrm{HSIC}_b\},

with RBF kernels whose bandwidths are fixed once, by the median heuristic
(:func:`fairkl.kernels.median_heuristic`) on all :math:`n` rows, so that
every bin is measured on one yardstick.
:func:`conditional_independence_test` adds a p-value by permuting :math:`q`
within each bin (which keeps the dependence of :math:`q` on the bin of
:math:`y` and destroys any other).

Limits
------
* Binning is a coarse conditioning: within a bin :math:`y` still varies, and
  if both :math:`f` and :math:`q` depend on :math:`y` they stay slightly
  dependent inside the bin even when :math:`f \perp q \mid y` holds exactly
  (residual confounding). The measure is then small but not 0, and the
  permutation test rejects a little more often than its level; more bins
  reduce this, at the price of fewer rows per bin. For a target with at most
  ``n_bins`` distinct values (labels, ratings) the bins are the values and
  the conditioning is exact.
* Biased HSIC has a positive bias of order :math:`1/n_k` in each bin, so
  HSIC values are comparable only at equal bin sizes (CKA is normalised but
  shares the bias); compare models on the same rows and bins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np

from fairkl import _validation as v
from fairkl._backend import x64_scope
from fairkl.kernels import median_heuristic
from fairkl.metrics.groups import as_vector, is_label_data

__all__ = [
    "ConditionalTestResult",
    "conditional_dependence",
    "conditional_independence_test",
]

_MEASURES = ("cka", "hsic")
#: Smallest number of rows a bin may hold.
MIN_BIN_SIZE = 4
#: Largest number of rows a bin may hold: its two float64 kernels and their
#: temporaries take about 3 x 8 x m^2 bytes (2.4 GB at m = 10,000).
MAX_BIN_SIZE = 10_000
#: Elements of the gathered (permutations x m x m) block per step of the permutation loop.
_GATHER_BUDGET = 2_000_000


@dataclass(frozen=True)
class ConditionalTestResult:
    """Result of :func:`conditional_independence_test`; unpacks as ``statistic, pvalue``.

    Attributes
    ----------
    statistic : float
        :func:`conditional_dependence` of the data.
    pvalue : float
        :math:`(1 + \\#\\{T_\\pi \\ge T\\}) / (1 + B)` over ``B`` within-bin permutations.
    measure : str
        ``"cka"`` or ``"hsic"``.
    n_permutations : int
    bin_sizes : ndarray of int
        Rows per bin of ``y_true``, in increasing order of ``y_true``.
    bin_statistics : ndarray of float
        The dependence within each bin (``statistic`` is their mean weighted
        by ``bin_sizes``).
    sigma_pred, sigma_q : float
        RBF bandwidths used for the predictions and for ``q``.
    null_distribution : ndarray
        The permuted statistics.
    """

    statistic: float
    pvalue: float
    measure: str
    n_permutations: int
    bin_sizes: np.ndarray = field(repr=False)
    bin_statistics: np.ndarray = field(repr=False)
    sigma_pred: float
    sigma_q: float
    null_distribution: np.ndarray = field(default=None, repr=False)

    def __iter__(self):
        return iter((self.statistic, self.pvalue))


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def _q_columns(sensitive_features, n: int) -> np.ndarray:
    """Float (n, d): numbers as given; group labels (strings, categoricals) one-hot."""
    if sensitive_features is None:
        raise ValueError(
            "sensitive_features is None; pass the sensitive attribute of every sample."
        )
    if is_label_data(sensitive_features):
        codes = v.group_labels(sensitive_features, "sensitive_features")
        Q = np.eye(int(codes.max()) + 1)[codes]
    else:
        Q = v.as_float_array(sensitive_features, "sensitive_features")
        if Q.ndim == 1:
            Q = Q[:, None]
        if Q.ndim != 2:
            raise ValueError(
                f"sensitive_features must be 1-D or 2-D (n_samples, n_attributes); "
                f"got shape {Q.shape}."
            )
    if Q.shape[0] != n:
        raise ValueError(f"sensitive_features has {Q.shape[0]} rows but y_pred has {n}.")
    if np.all(Q == Q[:1]):
        raise ValueError(
            "sensitive_features takes one value only; there is no dependence to measure."
        )
    return Q


def _bins(y: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index per row: the distinct values if few, else quantile bins (see the docstring)."""
    values = np.unique(y)
    if values.size <= n_bins:
        return np.searchsorted(values, y)
    edges = np.quantile(y, np.linspace(0.0, 1.0, n_bins + 1))[1:-1]
    b = np.searchsorted(edges, y, side="right")
    return np.unique(b, return_inverse=True)[1]  # ties can leave a bin empty: renumber


def _prepare(y_true, y_pred, sensitive_features, n_bins, measure, sigma_pred, sigma_q):
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            "conditional_dependence needs 64-bit JAX, but jax_enable_x64 is off "
            "(FAIRKL_ENABLE_X64=0 was set before importing fairkl). Unset it, or call "
            "jax.config.update('jax_enable_x64', True)."
        )
    measure = v.check_choice(measure, "measure", _MEASURES)
    n_bins = v.check_int(n_bins, "n_bins")
    f = as_vector(y_pred, "y_pred")
    y = as_vector(y_true, "y_true")
    if y.shape[0] != f.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} rows but y_pred has {f.shape[0]}.")
    Q = _q_columns(sensitive_features, f.shape[0])
    bins = _bins(y, n_bins)
    sizes = np.bincount(bins)
    if sizes.min() < MIN_BIN_SIZE:
        raise ValueError(
            f"n_bins={n_bins} leaves a bin of y_true with {int(sizes.min())} row(s) (bin sizes "
            f"{sizes.tolist()}); each needs at least {MIN_BIN_SIZE}. Use fewer bins."
        )
    if sizes.max() > MAX_BIN_SIZE:
        raise ValueError(
            f"a bin of y_true holds {int(sizes.max())} rows (bin sizes {sizes.tolist()}); the "
            f"kernel matrices of more than {MAX_BIN_SIZE} rows would need "
            f"{3 * 8 * int(sizes.max()) ** 2 / 1e9:.1f} GB. Pass a random subsample of the rows "
            f"(the same for every model compared), or more n_bins for a continuous y_true."
        )
    F = f[:, None]
    sf = _bandwidth(F, sigma_pred, "sigma_pred")
    sq = _bandwidth(Q, sigma_q, "sigma_q")
    return F, Q, bins, sizes, measure, sf, sq


def _bandwidth(X: np.ndarray, sigma, name: str) -> float:
    if sigma is None:
        return float(median_heuristic(jax.numpy.asarray(X)))
    return v.check_positive(sigma, name)


def _centred_rbf(X: np.ndarray, sigma: float) -> np.ndarray:
    """H (K - 1) H with K the RBF kernel, in NumPy float64.

    Exact coordinate differences (no ``|a|^2 + |b|^2 - 2ab`` cancellation; q
    has few columns) and ``expm1``, whose centring equals that of K but keeps
    the digits of kernel values near 1 (as :func:`fairkl.kernels.centered_rbf_kernel`).
    NumPy rather than the compiled kernels: bins have varying sizes, and a
    compilation per new shape cost more than the whole computation.
    """
    d2 = np.zeros((X.shape[0], X.shape[0]))
    for col in X.T:  # column by column: memory m^2, not m^2 d
        d2 += (col[:, None] - col[None, :]) ** 2
    E = np.expm1(-d2 / (2.0 * sigma * sigma))
    E -= E.mean(axis=0, keepdims=True)
    E -= E.mean(axis=1, keepdims=True)
    return E


def _bin_kernels(F, Q, bins, sizes, sf, sq, measure):
    """Per bin: centred kernels (Kc, Lc) and the normaliser of sum(Kc * Lc)."""
    out = []
    for k in range(sizes.size):
        rows = np.flatnonzero(bins == k)
        Kc = _centred_rbf(F[rows], sf)
        Lc = _centred_rbf(Q[rows], sq)
        m = rows.size
        if measure == "hsic":
            norm = float(m * m)
        else:
            # A constant f or q within the bin: CKA 0 by definition (fairkl.dependence).
            const = np.all(F[rows] == F[rows][:1]) or np.all(Q[rows] == Q[rows][:1])
            norm = 0.0 if const else float(np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc)))
        out.append((Kc, Lc, norm))
    return out


def _bin_statistics(parts) -> np.ndarray:
    """The dependence within each bin (0 for a constant kernel)."""
    return np.array([float(np.sum(Kc * Lc)) / norm if norm > 0 else 0.0 for Kc, Lc, norm in parts])


def _statistic(parts, sizes) -> float:
    return float(np.sum(sizes / sizes.sum() * _bin_statistics(parts)))


# ---------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------


@x64_scope
def conditional_dependence(
    y_true,
    y_pred,
    *,
    sensitive_features,
    n_bins: int = 5,
    measure: str = "cka",
    sigma_pred: float | None = None,
    sigma_q: float | None = None,
) -> float:
    r"""Dependence of the predictions on q within bins of the target: a separation measure.

    .. math:: D_{f q \mid y} = \sum_{k} \frac{n_k}{n}\, D(f_{B_k}, q_{B_k})

    (see the module notes). 0 when, within every bin of ``y_true``, the
    predictions carry no information about ``q``; lower is better.

    Bins: if ``y_true`` has at most ``n_bins`` distinct values, one bin per
    value (exact conditioning, e.g. for labels); otherwise quantile bins:
    with :math:`e =` ``np.quantile(y_true, np.linspace(0, 1, n_bins + 1))``
    bin :math:`k` holds the rows with :math:`e_k \le y < e_{k+1}` (the last
    bin also holds the maximum); bins left empty by ties are dropped.

    Within a bin of :math:`m` rows, with centred RBF kernels
    :math:`\tilde K` (of ``y_pred``) and :math:`\tilde L` (of ``q``):
    ``"hsic"`` is the biased :math:`\operatorname{tr}(\tilde K\tilde L)/m^2`
    and ``"cka"`` is :math:`\operatorname{tr}(\tilde K\tilde L) /
    \lVert\tilde K\rVert_F\lVert\tilde L\rVert_F` (0 if ``y_pred`` or ``q``
    is constant in the bin), as in :mod:`fairkl.dependence`.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        The target (real numbers).
    y_pred : array-like of shape (n,)
        Predictions.
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Numbers are used as given (a continuous attribute is fine); group
        labels (strings, categoricals) are one-hot encoded.
    n_bins : int, default 5
        Number of quantile bins of ``y_true``; each needs at least 4 rows and
        at most 10,000 (the kernels of a bin take :math:`O(n_k^2)` memory:
        subsample larger data first).
    measure : {"cka", "hsic"}, default "cka"
    sigma_pred, sigma_q : float, optional
        RBF bandwidths for ``y_pred`` and ``q``; ``None``: the median
        heuristic on all rows. Fix them to compare several models on one
        yardstick.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For mismatched lengths, NaN/inf, a constant ``sensitive_features``,
        a bin with fewer than 4 rows, or an invalid ``measure``/``n_bins``/bandwidth.
    """
    F, Q, bins, sizes, measure, sf, sq = _prepare(
        y_true, y_pred, sensitive_features, n_bins, measure, sigma_pred, sigma_q
    )
    return _statistic(_bin_kernels(F, Q, bins, sizes, sf, sq, measure), sizes)


@x64_scope
def conditional_independence_test(
    y_true,
    y_pred,
    *,
    sensitive_features,
    n_bins: int = 5,
    measure: str = "cka",
    n_permutations: int = 1000,
    random_state=None,
    sigma_pred: float | None = None,
    sigma_q: float | None = None,
) -> ConditionalTestResult:
    r"""Permutation test of separation, :math:`f \perp q \mid y`, with :func:`conditional_dependence`.

    The null distribution permutes ``q`` **within** each bin of ``y_true``
    (keeping each row's bin), ``B`` times, and the p-value is
    :math:`(1 + \#\{T_\pi \ge T(1 - 100\epsilon)\}) / (1 + B)`. A small
    p-value says the predictions depend on ``q`` beyond what the bins of
    ``y_true`` explain; a large one does not prove separation. The test is
    exact when the bins are the distinct values of ``y_true``; with quantile
    bins of a continuous target it rejects somewhat more often than its level
    when both ``f`` and ``q`` depend on ``y`` (see the module notes).

    Parameters
    ----------
    y_true, y_pred, sensitive_features, n_bins, measure, sigma_pred, sigma_q
        As in :func:`conditional_dependence`.
    n_permutations : int, default 1000
        Number ``B`` of permutations; the p-value is at least :math:`1/(1+B)`.
    random_state : None, int or numpy Generator
        Seeds ``rng = np.random.default_rng(random_state)``; bin by bin, in
        increasing order of ``y_true``, the permutations of a bin of
        :math:`m` rows are ``rng.permuted(np.tile(np.arange(m), (B, 1)), axis=1)``.

    Returns
    -------
    ConditionalTestResult
        Unpacks as ``statistic, pvalue``.

    Notes
    -----
    Each bin's kernels are formed once (memory :math:`O(\max_k n_k^2)`); a
    permutation costs :math:`O(\sum_k n_k^2)`. Bins of more than 10,000 rows
    are refused (memory); subsample the rows first.
    """
    F, Q, bins, sizes, measure, sf, sq = _prepare(
        y_true, y_pred, sensitive_features, n_bins, measure, sigma_pred, sigma_q
    )
    B = v.check_int(n_permutations, "n_permutations")
    rng = np.random.default_rng(random_state)
    parts = _bin_kernels(F, Q, bins, sizes, sf, sq, measure)
    observed = _statistic(parts, sizes)
    n = sizes.sum()
    null = np.zeros(B)
    for (Kc, Lc, norm), m in zip(parts, sizes, strict=True):
        P = rng.permuted(np.tile(np.arange(m), (B, 1)), axis=1)
        if norm <= 0:
            continue
        step = max(1, _GATHER_BUDGET // (m * m))
        for start in range(0, B, step):
            p = P[start : start + step]
            # sum_ij Kc_ij Lc_{p_i p_j}: the bin's statistic with q permuted by p.
            permuted = Lc[p[:, :, None], p[:, None, :]]
            null[start : start + step] += (m / n) * np.einsum("ij,bij->b", Kc, permuted) / norm
    tol = 100 * np.finfo(np.float64).eps * abs(observed)
    p_value = (1.0 + np.count_nonzero(null >= observed - tol)) / (1.0 + B)
    return ConditionalTestResult(
        statistic=observed,
        pvalue=float(p_value),
        measure=measure,
        n_permutations=B,
        bin_sizes=sizes,
        bin_statistics=_bin_statistics(parts),
        sigma_pred=sf,
        sigma_q=sq,
        null_distribution=null,
    )
