r"""A kernel test of independence (HSIC) with a p-value.

:func:`hsic_test` asks whether two variables measured on the same samples
(typically held-out predictions :math:`f` and the sensitive attribute
:math:`q`) are independent. The statistic is the biased HSIC with RBF kernels
(see :mod:`fairkl.dependence`),

.. math:: T = \mathrm{HSIC}_b = \frac{1}{n^2}\operatorname{tr}(\tilde K \tilde L)
          = \frac{1}{n^2}\sum_{ij} \tilde K_{ij} L_{ij},
          \qquad \tilde K = HKH,

and two ways to get its null distribution (Gretton et al., 2008, "A kernel
statistical test of independence", NIPS 20):

* ``"permutation"``: recompute :math:`T` after permuting the rows of ``b``
  ``B`` times, and report :math:`p = (1 + \#\{T_\pi \ge T\}) / (1 + B)`
  (valid at any :math:`n`, exact up to Monte Carlo error);
* ``"gamma"``: match a gamma distribution to the mean and variance of
  :math:`n\,T` under independence (fast, approximate; good for large
  :math:`n`).

What the test says
------------------
A **small p-value rejects independence**: the predictions still carry
information about ``q`` (of any kind, with RBF kernels: not only a mean
shift). A **large p-value does not prove independence**: it only says that
this sample cannot tell, and with few held-out rows the test has little power.
Run it on held-out data: a model's training predictions carry the training
noise and say little about new data. A fairness penalty lowers the
dependence; it rarely removes it: on Communities and Crime a 500-permutation
test still rejected independence (p <= 0.01) for every model tried in issue
10, fairkl's least dependent included. Report the p-value next to the
dependence (CKA/HSIC) rather than reading "low CKA" as "independent".

The test is symmetric and cannot see the *sign* of a dependence (neither can
CKA): whether one group gets higher predictions is read from the signed
:func:`fairkl.metrics.mean_prediction_gap` and :func:`fairkl.metrics.correlation`.
On Communities and Crime, beyond mu ~ 50 the held-out mean gap and
correlation cross zero and reverse (correlation -0.13 at mu = 1e4) while CKA
keeps falling: the penalty over-corrects, and only the signed metrics show it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from fairkl import _validation as v
from fairkl._backend import user_stacklevel, x64_scope
from fairkl.kernels import centered_rbf_kernel, kernel_matrix, median_heuristic, rbf_kernel
from fairkl.linalg import pivoted_cholesky_columns
from fairkl.metrics.groups import encode_groups as _encode_groups
from fairkl.metrics.groups import is_label_data as _is_label_data

#: Permutations evaluated per step of the compiled loop (bounds the memory of
#: the gathered factors: chunk x n x rank numbers).
PERMUTATION_CHUNK = 50
#: Largest rank tried for the pivoted-Cholesky factor of each kernel.
MAX_FACTOR_RANK = 512
#: Residual kernel diagonal at which the pivoted Cholesky stops: the factors
#: reproduce every permuted statistic to ~1e-12 relative.
FACTOR_TOL = 1e-13
#: Use the factored route while rank_a * rank_b <= this times n; beyond it the
#: dense gather (n^2 per permutation) is cheaper.
LOWRANK_BUDGET = 8
#: Relative tolerance for ties between a permuted statistic and the observed
#: one (as in ``scipy.stats.permutation_test``): rounding must not decide them.
TIE_RTOL = 100 * np.finfo(np.float64).eps

_METHODS = ("permutation", "gamma")
#: Below this n the gamma approximation is anti-conservative (benchmarks/bench_gamma_calibration.py).
GAMMA_MIN_CALIBRATED = 30


@dataclass(frozen=True)
class HSICTestResult:
    """Result of :func:`hsic_test`; unpacks as ``statistic, pvalue`` like scipy's results.

    Attributes
    ----------
    statistic : float
        Biased HSIC :math:`\\operatorname{tr}(\\tilde K \\tilde L)/n^2` (the gamma
        approximation models :math:`n` times it).
    pvalue : float
        Probability, under independence, of a statistic at least as large.
    method : str
        ``"permutation"`` or ``"gamma"``.
    n_permutations : int or None
        Number of permutations (``None`` for the gamma method).
    sigma_a, sigma_b : float
        RBF bandwidths used for ``a`` and ``b``.
    null_distribution : ndarray or None
        The permuted statistics (same scale as ``statistic``); ``None`` for the
        gamma method or a constant input.
    gamma_shape, gamma_scale : float or None
        Parameters of the gamma law fitted to :math:`n\\,T` (gamma method only).
    """

    statistic: float
    pvalue: float
    method: str
    n_permutations: int | None
    sigma_a: float
    sigma_b: float
    null_distribution: np.ndarray | None = field(default=None, repr=False)
    gamma_shape: float | None = None
    gamma_scale: float | None = None

    def __iter__(self):
        return iter((self.statistic, self.pvalue))


@x64_scope
def hsic_test(
    a,
    b,
    *,
    method: str = "permutation",
    n_permutations: int = 1000,
    random_state=None,
    sigma_a: float | None = None,
    sigma_b: float | None = None,
) -> HSICTestResult:
    r"""Test whether ``a`` and ``b`` are independent with the HSIC statistic.

    See the module notes: a small p-value rejects independence; a large one
    does not prove it. Use held-out data.

    Parameters
    ----------
    a, b : array-like of shape (n,) or (n, d)
        Paired samples, e.g. predictions and the sensitive attribute. Numeric
        data is used as given; non-numeric data (strings, pandas categoricals,
        objects) is read as group labels and one-hot encoded.
    method : {"permutation", "gamma"}, default "permutation"
    n_permutations : int, default 1000
        Number ``B`` of permutations (permutation method). The p-value cannot
        be below :math:`1/(1 + B)`.
    random_state : None, int, numpy Generator or RandomState
        Seeds the permutations, drawn as
        ``np.random.default_rng(random_state).permuted(np.tile(np.arange(n), (B, 1)), axis=1)``
        (a ``RandomState`` first draws an integer seed); row ``k`` permutes ``b``.
    sigma_a, sigma_b : float, optional
        RBF bandwidths; ``None`` uses :func:`~fairkl.kernels.median_heuristic`
        on the variable. Fix them to compare several models on one yardstick.

    Returns
    -------
    HSICTestResult

    Notes
    -----
    **Constant input.** If every row of ``a`` (or of ``b``) is the same, the
    centred kernel is zero, every permuted statistic equals the observed one,
    and the permutation formula gives exactly ``statistic = 0``,
    ``pvalue = 1``. Both methods return that (the gamma law is undefined there).

    **Computation (permutation method).** :math:`T_\pi = \sum_{ij}\tilde K_{ij}
    L_{\pi_i\pi_j}/n^2`. The kernels are factored once by pivoted Cholesky,
    :math:`K \approx FF^\top`, :math:`L \approx GG^\top` (residual diagonal
    :math:`\le 10^{-13}`), so that :math:`T_\pi = \lVert (HF)^\top G_{\pi}\rVert_F^2
    / n^2` costs :math:`O(n\,r_a r_b)` per permutation (one matrix product
    per chunk of permutations) and memory :math:`O(n(r_a + r_b))`: no
    :math:`n\times n` matrix is formed, so large held-out sets (tens of
    thousands of rows) are fine. The observed statistic comes from the same
    factors (identity permutation), so it agrees with the dense
    :func:`fairkl.dependence.hsic` to about :math:`10^{-10}` relative, and the
    comparison with the permuted values is like for like. When the ranks are
    large (several continuous columns on both sides) the dense
    :math:`O(n^2)` gather is used instead. Either way the permutations run
    in one compiled XLA program. Ties :math:`T_\pi \ge T(1 - 100\epsilon)`
    count as exceedances, as in ``scipy.stats.permutation_test``. The gamma
    method forms the dense kernels (memory :math:`O(n^2)`).

    **Gamma method** (Gretton et al., 2008): under independence
    :math:`n\,T` is approximately Gamma with shape :math:`m^2/s^2` and scale
    :math:`n s^2/m`, where

    .. math::
       m = \frac1n\left(1 + \mu_a\mu_b - \mu_a - \mu_b\right),\quad
       \mu_a = \frac{1}{n(n-1)}\sum_{i\ne j}K_{ij},\\
       s^2 = \frac{72(n-4)(n-5)}{n(n-1)(n-2)(n-3)}\cdot
       \frac{1}{n(n-1)}\sum_{i\ne j}\left(\tfrac16\tilde K_{ij}\tilde L_{ij}\right)^2 .

    It needs :math:`n \ge 6`.

    Examples
    --------
    >>> import numpy as np
    >>> from fairkl.metrics import hsic_test
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=200)
    >>> res = hsic_test(x, x**2 + 0.1 * rng.normal(size=200), random_state=0)
    >>> bool(res.pvalue < 0.01)
    True
    """
    method = v.check_choice(method, "method", _METHODS)
    A = _as_columns(a, "a")
    Bm = _as_columns(b, "b")
    n = A.shape[0]
    if Bm.shape[0] != n:
        raise ValueError(f"a and b must have the same number of rows; got {n} and {Bm.shape[0]}.")
    min_n = 6 if method == "gamma" else v.MIN_SAMPLES
    if n < min_n:
        raise ValueError(f"hsic_test(method={method!r}) needs at least {min_n} samples; got n={n}.")
    if not jax.config.jax_enable_x64:
        # float32 kernels turn near-ties into exceedances: p-values moved by up to 0.3.
        raise RuntimeError(
            "hsic_test needs 64-bit JAX, but jax_enable_x64 is off (FAIRKL_ENABLE_X64=0 was set "
            "before importing fairkl). Unset it, or call jax.config.update('jax_enable_x64', True)."
        )
    if method == "gamma" and n < GAMMA_MIN_CALIBRATED:
        warnings.warn(
            f"hsic_test(method='gamma') with n={n}: below n = {GAMMA_MIN_CALIBRATED} the gamma "
            f"approximation rejects too often under independence (measured: 10% at n = 8, 7-8% at "
            f"n = 12-16, 6% at n = 20, at the 5% level; benchmarks/bench_gamma_calibration.py). "
            f"Use method='permutation' (exact) for small samples.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    n_perm = v.check_int(n_permutations, "n_permutations") if method == "permutation" else None
    sa = _bandwidth(A, sigma_a, "sigma_a")
    sb = _bandwidth(Bm, sigma_b, "sigma_b")
    common = dict(method=method, n_permutations=n_perm, sigma_a=sa, sigma_b=sb)
    if _is_constant(A) or _is_constant(Bm):
        return HSICTestResult(statistic=0.0, pvalue=1.0, **common)
    if method == "gamma":
        Kc, L = (np.asarray(M) for M in _kernels(jnp.asarray(A), jnp.asarray(Bm), sa, sb))
        stat = float(np.sum(Kc * L)) / (n * n)
        shape, scale = _gamma_parameters(Kc, L, A, sa)
        p = float(stats.gamma.sf(n * stat, shape, scale=scale))
        return HSICTestResult(
            statistic=stat, pvalue=p, gamma_shape=shape, gamma_scale=scale, **common
        )
    perms = _draw_permutations(n, n_perm, random_state)
    observed, null = _permuted_statistics(A, Bm, sa, sb, perms)
    exceed = int(np.count_nonzero(null >= observed - TIE_RTOL * abs(observed)))
    p = (1.0 + exceed) / (1.0 + n_perm)
    return HSICTestResult(
        statistic=observed / (n * n), pvalue=p, null_distribution=null / (n * n), **common
    )


def _as_columns(x, name: str) -> np.ndarray:
    """Float (n, d) array; group labels (strings, categoricals) become one-hot columns."""
    if _is_label_data(x):
        codes, _names, _columns = _encode_groups(x, name)
        return np.eye(int(codes.max()) + 1)[codes]
    arr = v.as_float_array(x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D or 2-D (n_samples, n_features); got shape {arr.shape}."
        )
    return arr


@jax.jit
def _kernels(A, B, sa, sb):
    """Centred RBF kernel of A and RBF kernel of B, compiled once per shape."""
    return centered_rbf_kernel(A, sa), rbf_kernel(B, sigma=sb)


def _bandwidth(X: np.ndarray, sigma, name: str) -> float:
    if sigma is None:
        # Eager on purpose: the eager median heuristic can use NumPy's
        # partition-based median, ~20x faster than a compiled sort.
        return float(median_heuristic(jnp.asarray(X)))
    return v.check_positive(sigma, name)


def _is_constant(X: np.ndarray) -> bool:
    return bool(np.all(X == X[0]))


def _draw_permutations(n: int, n_perm: int, random_state) -> np.ndarray:
    if isinstance(random_state, np.random.RandomState):
        random_state = int(random_state.randint(np.iinfo(np.int32).max))
    if (
        isinstance(random_state, (int, np.integer))
        and not isinstance(random_state, bool)
        and random_state < 0
    ):
        raise ValueError(f"random_state must be a non-negative int (a seed); got {random_state}.")
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"random_state must be None, a non-negative int, a numpy Generator or RandomState; "
            f"got {random_state!r}."
        ) from exc
    return rng.permuted(np.tile(np.arange(n, dtype=np.int32), (n_perm, 1)), axis=1)


def _gamma_parameters(Kc, L, A, sa) -> tuple[float, float]:
    """Shape and scale of the gamma law of n*HSIC_b under independence (Gretton et al., 2008)."""
    n = Kc.shape[0]
    Lc = L - L.mean(axis=0) - L.mean(axis=1, keepdims=True) + L.mean()
    W = (Kc * Lc / 6.0) ** 2
    var = (W.sum() - np.trace(W)) / (n * (n - 1))
    var *= 72.0 * (n - 4) * (n - 5) / (n * (n - 1) * (n - 2) * (n - 3))
    # Off-diagonal kernel means; the RBF diagonal is 1.
    K = np.asarray(kernel_matrix(jnp.asarray(A), None, sa))
    mu_a = (K.sum() - n) / (n * (n - 1))
    mu_b = (L.sum() - n) / (n * (n - 1))
    mean = (1.0 + mu_a * mu_b - mu_a - mu_b) / n
    if not (var > 0 and mean > 0):
        raise ValueError(
            f"the gamma approximation is undefined for these data (null mean {mean:.3g}, "
            f"variance {var:.3g}); use method='permutation'."
        )
    return float(mean * mean / var), float(n * var / mean)


def _pivoted_cholesky(X: np.ndarray, sigma: float, max_rank: int) -> np.ndarray | None:
    """Factor G (n x r) with RBF(X) ~ G G^T to ``FACTOR_TOL``; None if the rank would exceed ``max_rank``.

    :func:`fairkl.linalg.pivoted_cholesky_columns` (columns of the kernel on the
    fly), its rank doubling from 64 (one compilation per rank) until every
    residual variance is at most ``FACTOR_TOL``; the unused zero columns are cut.
    """
    n = X.shape[0]
    top = min(max_rank, n)
    rank = min(64, top)  # one compilation in the usual case (smooth or grouped data)
    Xj, sj = jnp.asarray(X, dtype=jnp.float64), jnp.asarray(sigma, dtype=jnp.float64)
    while True:
        G, worst = _factor_program(Xj, sj, rank=rank)
        if float(worst) <= FACTOR_TOL:
            G = np.asarray(G)
            return G[:, : int(np.count_nonzero(np.any(G != 0.0, axis=0)))]
        if rank >= top:
            return None
        rank = min(top, 2 * rank)


@partial(jax.jit, static_argnames=("rank",))
def _factor_program(X, sigma, rank: int):
    """(G, largest residual variance) of a pivoted Cholesky of RBF(X); pivots <= FACTOR_TOL add 0."""

    def column(i):
        return rbf_kernel(X, X[i][None, :], sigma=sigma)[:, 0]

    G, d, _ = pivoted_cholesky_columns(
        column, jnp.ones(X.shape[0], X.dtype), rank, floor=FACTOR_TOL
    )
    return G, jnp.max(d)


def _permuted_statistics(A, Bm, sa, sb, perms):
    """(observed, null) sums n^2 * T by one compiled program; the identity permutation goes first.

    The low-rank route never forms an n x n matrix (memory O(n r)).
    """
    n, n_perm = A.shape[0], perms.shape[0]
    total = n_perm + 1
    pad = (-total) % PERMUTATION_CHUNK
    ident = np.arange(n, dtype=np.int32)
    P = np.concatenate([ident[None], perms, np.tile(ident, (pad, 1))])
    F = _pivoted_cholesky(A, sa, MAX_FACTOR_RANK)
    G = _pivoted_cholesky(Bm, sb, MAX_FACTOR_RANK) if F is not None else None
    if G is not None and F.shape[1] * G.shape[1] <= LOWRANK_BUDGET * n:
        Fc = F - F.mean(axis=0)  # HF: centring one side centres the product
        if Fc.shape[1] < G.shape[1]:
            # ||Fc^T P G|| = ||(P^T Fc)^T G||, and P^T Fc = Fc[inverse permutation]:
            # gather the narrower factor, keep the wider one fixed in one GEMM.
            small, wide, P = Fc, G, _inverse_permutations(P)
        else:
            small, wide = G, Fc
        P = jnp.asarray(P.reshape(-1, PERMUTATION_CHUNK, n))
        out = _lowrank_program(
            jnp.asarray(_pad_rank(small, 4)), jnp.asarray(_pad_rank(wide, 16)), P
        )
    else:
        P = jnp.asarray(P.reshape(-1, PERMUTATION_CHUNK, n))
        out = _dense_program(*_kernels(jnp.asarray(A), jnp.asarray(Bm), sa, sb), P)
    out = np.asarray(out).reshape(-1)[:total]
    return float(out[0]), out[1:]


def _inverse_permutations(P: np.ndarray) -> np.ndarray:
    """Row-wise inverses (inv[k, P[k, i]] = i) by one scatter, O(B n)."""
    inv = np.empty_like(P)
    np.put_along_axis(
        inv, P, np.broadcast_to(np.arange(P.shape[1], dtype=P.dtype), P.shape), axis=1
    )
    return inv


def _pad_rank(F: np.ndarray, multiple: int) -> np.ndarray:
    """Zero columns up to a multiple: same result, few compiled shapes."""
    return np.pad(F, ((0, 0), (0, (-F.shape[1]) % multiple)))


@jax.jit
def _lowrank_program(S, W, P):
    """sum((S[p]^T W)^2) for every permutation p; a chunk is one (c*r_S x n) @ (n x r_W) product."""
    c, n = P.shape[1], P.shape[2]

    def chunk(pc):
        Sp = jnp.swapaxes(S[pc], 1, 2).reshape(c * S.shape[1], n)  # (c*r_S, n)
        M = (Sp @ W).reshape(c, -1)
        return jnp.sum(M * M, axis=1)

    return jax.lax.map(chunk, P)


@jax.jit
def _dense_program(Kc, L, P):
    def one(p):
        return jnp.sum(Kc * L[p][:, p])

    return jax.lax.map(jax.vmap(one), P)
