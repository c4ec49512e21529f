r"""Low-rank (Nyström) fair kernel ridge regression for large ``n``.

The objective is the exact model's (see :mod:`fairkl.solvers`), restricted to
functions spanned by ``m`` landmarks :math:`Z`:

.. math::
   f(x) = k(x, Z)\,\beta,\qquad \beta = M w,\qquad
   \Phi = K_{nm} M,\quad M = U_m \operatorname{diag}(s^{-1/2}),\quad K_{mm} = U_m\operatorname{diag}(s)U_m^\top,

so that :math:`f = \Phi w` on the training points and the RKHS norm is
:math:`\beta^\top K_{mm}\beta = \lVert w\rVert^2`. The objective becomes

.. math::
   J(w) = \frac1n\Big[\lVert \tilde y - \Phi w\rVert^2 + \lambda\lVert w\rVert^2\Big] + \mu\, D(\Phi w, q),

the same :math:`J(\alpha)` with :math:`K \approx \Phi\Phi^\top`. With every
training point a landmark (:math:`Z = X`), :math:`\Phi\Phi^\top = K`, :math:`w
= K^{1/2}\alpha` and the two objectives coincide, except that eigenvalues of
:math:`K_{mm}` below ``rcond * max(s)`` are dropped (their column of :math:`M`
is zero): a pseudo-inverse square root, stable however close the landmarks are.
Each dropped direction moves the training predictions by at most
:math:`s_i/(s_i+\lambda) < \mathrm{RCOND}\,m/\lambda` times :math:`\lVert\tilde y\rVert`,
so with m = n the low-rank model equals the exact one only for ``lam`` well above
``RCOND * m``: measured on ``make_seed_data(n=100)``, sigma = 1, the largest
difference was 1.6e-10·sd(y) at lam = 1e-2 and 1.6e-6·sd(y) at lam = 1e-6 (the
issue-19 data: 8.9e-6 and 8.9e-2). A fit with every row a landmark warns
(:class:`UserWarning`) when that bound exceeds 1e-6.

Penalties, with :math:`\tilde L = HLH \approx BB^\top` (``B`` n × r, columns
centred; exact for one-hot groups or a linear kernel on ``q``, a pivoted-Cholesky
factor of rank r otherwise, see :func:`sensitive_factor`):

* ``"hsic"``: :math:`D = \lVert B^\top\Phi w\rVert^2/n^2`. Setting
  :math:`\nabla_w J = 0` gives the m × m SPD system
  :math:`(\Phi^\top\Phi + \lambda I + \tfrac{\mu}{n}PP^\top)\,w = \Phi^\top\tilde y`,
  :math:`P = \Phi^\top B` (:math:`K^{1/2}\times` the exact system
  :math:`(K + \lambda I + \tfrac{\mu}{n}\tilde L K)\alpha = \tilde y` when
  :math:`\Phi = K^{1/2}`). Only :math:`\Phi^\top\Phi`, :math:`\Phi^\top\tilde y`,
  :math:`\Phi^\top B` are needed, accumulated over row chunks: :math:`\Phi` is
  never stored. O(n m (m + d + r)) time, O(m² + chunk·m) memory.
* ``"cka"``: biased CKA between an RBF kernel on :math:`f` and :math:`L`,
  with the RBF kernel on the 1-D predictions replaced by Fourier features
  :math:`K_f \approx \Psi\Psi^\top` (:func:`prediction_frequencies`), so that
  :math:`n^2\mathrm{HSIC}(K_f, L) \approx \lVert (H\Psi)^\top B\rVert_F^2` and
  :math:`n^2\mathrm{HSIC}(K_f, K_f) \approx \lVert (H\Psi)^\top H\Psi\rVert_F^2`:
  O(n (D_f² + D_f r)) per evaluation, no n × n matrix. Minimised by L-BFGS in
  the whitened variable :math:`v = R^\top w` (:math:`RR^\top = \Phi^\top\Phi +
  \lambda I`), where the data term is :math:`\lVert v - c\rVert^2/n` + const.

Landmarks (:func:`select_landmarks`): ``"uniform"`` (default), ``"kmeans++"``
(D² sampling) or ``"pivoted_cholesky"`` (greedy largest residual variance of
:math:`K`), all seeded.

The ``fit_*`` functions take standardised targets :math:`\tilde y` (like
:mod:`fairkl.solvers`) and return a :class:`LowRankResult` whose first nine
fields are those of :class:`fairkl.solvers.FitResult`; ``alpha`` holds the
landmark coefficients :math:`\beta`, so predictions are
``solvers.predict_program(X_new, landmarks, alpha, sigma)`` (see :func:`predict`).
Everything is float64 internally.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from keras import ops

from fairkl import solvers
from fairkl._ops import eps as _eps
from fairkl._ops import mean
from fairkl.dependence import centered_tiny, normalise_hsic
from fairkl.kernels import median_heuristic, rbf_kernel, squared_distances

LANDMARK_METHODS = ("uniform", "kmeans++", "pivoted_cholesky")
FEATURE_KINDS = ("quadrature", "rff")
#: Rows of Φ formed at once (bounds the memory of k(X_chunk, Z)).
CHUNK = 2048
#: Eigenvalues of K_mm below RCOND * max eigenvalue are dropped.
RCOND = 1e-12
#: Candidate rows scanned by the greedy landmark methods, per landmark.
POOL_PER_LANDMARK = 8
#: Relative trace of L that the factor of the q-kernel may leave out, and its largest rank.
Q_TOL = 1e-10
Q_MAX_RANK = 256
#: Fourier features of the predictions (cos and sin pairs) for the CKA penalty.
N_FEATURES = 64
LBFGS_MEMORY = 8
#: Residual variance below which a pivoted-Cholesky pivot counts as already explained.
PIVOT_FLOOR = 1e-12

F64 = "float64"


class NystromMap(NamedTuple):
    r"""Feature map :math:`\phi(x) = k(x, Z)\,M` (see the module notes)."""

    landmarks: object  #: Z, (m, d)
    proj: object  #: M = U diag(s^-1/2), zero columns for dropped eigenvalues, (m, m)
    dropped: object  #: 1.0 where an eigenvalue was dropped, (m,)
    sigma: object  #: RBF bandwidth on X


class LowRankResult(NamedTuple):
    """A :class:`fairkl.solvers.FitResult` (first nine fields) plus what prediction needs."""

    alpha: object  #: landmark coefficients beta: predictions k(x, Z) beta (standardised scale)
    objective: object  #: J at the solution
    decrement: object  #: stationarity measure of the iterative solver (0 for closed forms)
    n_iter: object
    converged: object
    jitter: object  #: jitter the Cholesky factorisation of Phi^T Phi + lam I needed
    condition: object  #: lower estimate of the condition number of Phi^T Phi + lam I
    sigma_q: object
    sigma_f: object
    landmarks: object  #: Z, (m, d)
    weights: object  #: w, (m,): f = Phi w on the training points
    rank: object  #: eigen-directions of K_mm kept

    def fit_result(self) -> solvers.FitResult:
        """The :class:`fairkl.solvers.FitResult` view (``alpha`` = landmark coefficients)."""
        return solvers.FitResult(*self[:9])


# --------------------------------------------------------------------------
# Landmarks
# --------------------------------------------------------------------------


def select_landmarks(
    X,
    m: int,
    method: str = "uniform",
    seed: int = 0,
    sigma: float | None = None,
    pool: int | None = None,
) -> np.ndarray:
    r"""Indices of ``m`` landmark rows of ``X`` (sorted, distinct).

    Parameters
    ----------
    X : array of shape (n, d)
    m : int, 1 <= m <= n
    method : {"uniform", "kmeans++", "pivoted_cholesky"}
        ``"uniform"``: sampling without replacement (the default; O(m)).
        ``"kmeans++"``: D² sampling (Arthur & Vassilvitskii, 2007): each next
        landmark drawn with probability proportional to its squared distance to
        the nearest one chosen. ``"pivoted_cholesky"``: greedy pivoted Cholesky
        of the RBF kernel (bandwidth ``sigma``, required): each next landmark is
        the row worst explained by the ones chosen (largest residual variance
        :math:`k(x,x) - k(x,Z)K_{ZZ}^{-1}k(Z,x)`). The greedy methods scan a
        seeded uniform pool of ``pool`` rows (default ``min(n, 8 m)``): O(pool·m·d)
        and O(pool·m²) time.
    seed : int
        Seed of every random choice: equal seeds give equal landmarks.
    """
    n = X.shape[0]
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= n:
        raise ValueError(
            f"n_components (the number of landmarks) must be an integer in [1, n={n}]; got {m!r}."
        )
    if method not in LANDMARK_METHODS:
        raise ValueError(f"landmarks must be one of {list(LANDMARK_METHODS)}; got {method!r}.")
    rng = np.random.default_rng(seed)
    if method == "uniform":
        return np.sort(rng.choice(n, size=m, replace=False))
    p = max(m, min(n, POOL_PER_LANDMARK * m) if pool is None else min(n, int(pool)))
    cand = np.sort(rng.choice(n, size=p, replace=False)) if p < n else np.arange(n)
    Xc = ops.convert_to_tensor(np.asarray(X)[cand], dtype=F64)
    if method == "kmeans++":
        first = int(rng.integers(p))
        picked = _kmeanspp(Xc, jax.random.PRNGKey(seed), first, m=m)
    else:
        if sigma is None:
            raise ValueError(
                "landmarks='pivoted_cholesky' needs the kernel bandwidth sigma; pass sigma=."
            )
        picked = _pivoted_landmarks(Xc, ops.convert_to_tensor(sigma, dtype=F64), m=m)
    return np.sort(cand[np.asarray(picked)])


@partial(jax.jit, static_argnames=("m",))
def _kmeanspp(X, key, first, m: int):
    """D² sampling of ``m`` rows of ``X`` (the first one given)."""

    def body(k, state):
        idx, d2, key = state
        key, sub = jax.random.split(key)
        # Chosen rows have d2 = 0, hence probability 0: no repeats while others remain.
        logits = ops.log(ops.maximum(d2, 0.0) + 1e-300)
        i = jax.random.categorical(sub, logits)
        new = squared_distances(X, X[i][None, :])[:, 0]
        return idx.at[k].set(i), ops.minimum(d2, new), key

    d0 = squared_distances(X, X[first][None, :])[:, 0]
    idx0 = ops.zeros((m,), dtype="int64").at[0].set(first)
    idx, _, _ = jax.lax.fori_loop(1, m, body, (idx0, d0.at[first].set(0.0), key))
    return idx


@partial(jax.jit, static_argnames=("m",))
def _pivoted_landmarks(X, sigma, m: int):
    """Pivots of a greedy pivoted Cholesky of the RBF kernel on ``X`` (never formed)."""
    p = X.shape[0]

    def body(k, state):
        idx, G, d = state
        i = ops.argmax(d)
        col = rbf_kernel(X, X[i][None, :], sigma=sigma)[:, 0] - G @ G[i]
        # A pivot already explained to rounding (duplicate rows) adds nothing: no division by ~0.
        ok = d[i] > PIVOT_FLOOR
        g = ops.where(ok, col / ops.sqrt(ops.where(ok, d[i], 1.0)), 0.0)
        return idx.at[k].set(i), G.at[:, k].set(g), (d - g * g).at[i].set(-1.0)

    state = (
        ops.zeros((m,), dtype="int64"),
        ops.zeros((p, m), dtype=X.dtype),
        ops.ones((p,), dtype=X.dtype),
    )
    return jax.lax.fori_loop(0, m, body, state)[0]


# --------------------------------------------------------------------------
# Feature map and its Gram statistics (Phi never stored)
# --------------------------------------------------------------------------


@jax.jit
def nystrom_map(landmarks, sigma, rcond=RCOND) -> NystromMap:
    r"""The Nyström map for landmarks ``Z``: :math:`M = U\operatorname{diag}(s^{-1/2})` from
    :math:`K_{mm} = U\operatorname{diag}(s)U^\top`, eigenvalues below ``rcond * max(s)`` dropped."""
    s, U = ops.eigh(rbf_kernel(landmarks, sigma=sigma))
    keep = s > rcond * ops.max(s)
    inv_sqrt = ops.where(keep, 1.0 / ops.sqrt(ops.where(keep, s, 1.0)), 0.0)
    return NystromMap(landmarks, U * inv_sqrt[None, :], 1.0 - ops.cast(keep, s.dtype), sigma)


def _chunk_plan(n: int, chunk: int):
    """Chunk size c <= n and count; chunk i covers rows [min(i c, n - c), +c) (the last overlaps)."""
    c = min(n, chunk)
    return c, -(-n // c)


def _chunk(i, n: int, c: int):
    """Start row of chunk ``i`` and the mask of rows not already covered by earlier chunks."""
    start = ops.minimum(i * c, n - c)
    return start, ops.cast(start + ops.arange(c) >= i * c, F64)


def features(X, nmap: NystromMap):
    r""":math:`\Phi = k(X, Z)M` for a block of rows (O(rows·m·(d + m)))."""
    return ops.matmul(rbf_kernel(X, nmap.landmarks, sigma=nmap.sigma), nmap.proj)


@partial(jax.jit, static_argnames=("chunk",))
def gram_statistics(X, y, B, nmap: NystromMap, chunk: int = CHUNK):
    r""":math:`\Phi^\top\Phi`, :math:`\Phi^\top y` and :math:`\Phi^\top B`, accumulated over row chunks.

    Memory O(m² + m r + chunk·m): :math:`\Phi` is never held whole.
    """
    n = X.shape[0]
    c, count = _chunk_plan(n, chunk)
    m, r = nmap.proj.shape[1], B.shape[1]

    def body(i, acc):
        A, b, Pt = acc
        start, mask = _chunk(i, n, c)
        # Rows already covered are zeroed in the kernel block (0/1 mask, so masked^T masked = masked^T Phi):
        # one chunk x m block alive, and products written as v^T Phi (Phi^T v would copy the transposed block).
        K = rbf_kernel(jax.lax.dynamic_slice_in_dim(X, start, c), nmap.landmarks, sigma=nmap.sigma)
        Phi = ops.matmul(K * mask[:, None], nmap.proj)
        Bc = jax.lax.dynamic_slice_in_dim(B, start, c)
        return (
            A + ops.matmul(ops.transpose(Phi), Phi),
            b + ops.matmul(jax.lax.dynamic_slice_in_dim(y, start, c), Phi),
            Pt + ops.matmul(ops.transpose(Bc), Phi),
        )

    zeros = lambda *s: ops.zeros(s, dtype=F64)  # noqa: E731
    A, b, Pt = jax.lax.fori_loop(0, count, body, (zeros(m, m), zeros(m), zeros(r, m)))
    return 0.5 * (A + ops.transpose(A)), b, ops.transpose(Pt)


@partial(jax.jit, static_argnames=("chunk",))
def feature_matrix(X, nmap: NystromMap, chunk: int = CHUNK):
    """:math:`\\Phi` (n × m), built chunk by chunk into one buffer (no n × m temporaries)."""
    n = X.shape[0]
    c, count = _chunk_plan(n, chunk)

    def body(i, Phi):
        start, _ = _chunk(i, n, c)
        return jax.lax.dynamic_update_slice_in_dim(
            Phi, features(jax.lax.dynamic_slice_in_dim(X, start, c), nmap), start, axis=0
        )

    return jax.lax.fori_loop(0, count, body, ops.zeros((n, nmap.proj.shape[1]), dtype=F64))


# --------------------------------------------------------------------------
# Kernel on q: low-rank centred factor without any n x n matrix
# --------------------------------------------------------------------------


@partial(jax.jit, static_argnames=("kernel_q", "rank"))
def _pivoted_factor(q, sigma_q, kernel_q: str, rank: int):
    """Greedy pivoted Cholesky :math:`L \\approx GG^\\top` from columns computed on the fly."""
    n = q.shape[0]
    column = (
        (lambda i: ops.matmul(q, q[i]))
        if kernel_q == "linear"
        else (lambda i: rbf_kernel(q, q[i][None, :], sigma=sigma_q)[:, 0])
    )
    diag = ops.sum(q * q, axis=1) if kernel_q == "linear" else ops.ones((n,), dtype=q.dtype)
    total = ops.maximum(ops.sum(diag), 1e-300)

    def body(k, state):
        G, d = state
        i = ops.argmax(d)
        ok = d[i] > PIVOT_FLOOR * ops.max(diag)  # exhausted (e.g. groups): zero columns, not noise
        g = ops.where(ok, (column(i) - G @ G[i]) / ops.sqrt(ops.where(ok, d[i], 1.0)), 0.0)
        return G.at[:, k].set(g), d - g * g

    G, d = jax.lax.fori_loop(0, rank, body, (ops.zeros((n, rank), dtype=q.dtype), diag))
    return G - mean(G, axis=0, keepdims=True), ops.sum(ops.maximum(d, 0.0)) / total


def sensitive_factor(
    q, sigma_q, kernel_q: str = "rbf", tol: float = Q_TOL, max_rank: int = Q_MAX_RANK
):
    r"""Centred factor :math:`B` (n × r) with :math:`HLH \approx BB^\top`, :math:`L = l(q, q)`.

    ``kernel_q="linear"``: :math:`B = Hq`, exact. ``"rbf"``: pivoted Cholesky
    of :math:`L` from O(n) columns computed on the fly (O(n r²) time, O(n r)
    memory), rank doubling from 16 until the left-out relative trace is at most
    ``tol`` or the rank reaches ``max_rank``; exact at rank = number of
    distinct rows of ``q`` (one-hot groups).

    Returns
    -------
    B : tensor (n, r); residual : float (relative trace of L left out)
    """
    q = ops.convert_to_tensor(q, dtype=F64)
    if kernel_q == "linear":
        return q - mean(q, axis=0, keepdims=True), 0.0
    n = q.shape[0]
    rank = min(n, 16, max_rank)
    while True:
        B, residual = _pivoted_factor(q, ops.convert_to_tensor(sigma_q, dtype=F64), kernel_q, rank)
        residual = float(residual)
        if residual <= tol or rank >= min(n, max_rank):
            return B, residual
        rank = min(n, max_rank, 2 * rank)


# --------------------------------------------------------------------------
# Closed forms: mu = 0 and HSIC, and the HSIC mu-path
# --------------------------------------------------------------------------


def _ridge_factor(A0, dropped, lam):
    r"""Cholesky of :math:`\Phi^\top\Phi + \lambda I` (1 on dropped directions, which keeps w = 0 there)."""
    A = A0 + ops.diag(lam + dropped * (1.0 - lam))
    chol, jitter = solvers.cholesky_jitter(A)
    d = ops.diagonal(chol)
    return A, chol, jitter, (ops.max(d) / ops.min(d)) ** 2  # lower bound on cond(A)


def _result(beta, J, chol_info, nmap, w, sigma_q, sigma_f, decrement=0.0, n_iter=0, converged=True):
    _, _, jitter, cond = chol_info
    rank = ops.sum(1.0 - nmap.dropped)
    z = ops.zeros_like(J)
    return LowRankResult(
        beta,
        J,
        z + decrement,
        n_iter,
        converged,
        jitter,
        cond,
        sigma_q,
        z + sigma_f,
        nmap.landmarks,
        w,
        rank,
    )


@jax.jit
def hsic_solve(A0, b, P, yy, dropped, n, lam, mu):
    r"""Minimiser of the low-rank HSIC objective from the Gram statistics (``mu = 0``: ridge).

    Solves :math:`(\Phi^\top\Phi + \lambda I + \tfrac{\mu}{n}PP^\top)w = \Phi^\top\tilde y`
    by Cholesky and returns ``(w, J, chol_info)``; ``yy`` is :math:`\tilde y^\top\tilde y`.
    """
    info = _ridge_factor(A0, dropped, lam)
    A = info[0] + (mu / n) * ops.matmul(P, ops.transpose(P))
    chol, _ = solvers.cholesky_jitter(A)
    w = solvers.cho_solve(chol, b)
    Pw = ops.matmul(ops.transpose(P), w)
    J = (
        yy - 2.0 * ops.sum(w * b) + ops.sum(w * ops.matmul(A0, w)) + lam * ops.sum(w * w)
    ) / n + mu * ops.sum(Pw * Pw) / (n * n)
    return w, J, info


def _warn_truncation(n: int, nmap: NystromMap, lam) -> None:
    """With every row a landmark, say when the dropped eigen-directions of K_mm can matter (see the module notes)."""
    import warnings

    m, dropped = int(nmap.landmarks.shape[0]), float(ops.sum(nmap.dropped))
    bound = RCOND * m / max(float(lam), 1e-300)
    if m == n and dropped > 0 and bound > 1e-6:
        warnings.warn(
            f"the low-rank model with every row a landmark (n_components={m}) dropped {dropped:.0f} "
            f"eigenvalues of K_mm below {RCOND:g} * max; at lam={float(lam):g} they can move the training "
            f"predictions by up to {bound:.1e} * ||y|| relative to the exact model. Use the exact model "
            f"(n_components=None), or lam >= {RCOND * m * 1e6:.0e}.",
            UserWarning,
            stacklevel=4,
        )


def fit_krr_lowrank(X, y, landmarks, sigma, lam, chunk: int = CHUNK) -> LowRankResult:
    r"""Low-rank kernel ridge regression (``mu = 0``): :math:`(\Phi^\top\Phi + \lambda I)w = \Phi^\top\tilde y`."""
    X, y = _f64(X), _f64(y)
    nmap = nystrom_map(_f64(landmarks), _f64(sigma))
    _warn_truncation(X.shape[0], nmap, lam)
    A0, b, P = gram_statistics(X, y, ops.zeros((X.shape[0], 1), dtype=F64), nmap, chunk=chunk)
    w, J, info = hsic_solve(
        A0, b, P, ops.sum(y * y), nmap.dropped, X.shape[0], _f64(lam), _f64(0.0)
    )
    return _result(ops.matmul(nmap.proj, w), J, info, nmap, w, ops.zeros_like(J), 0.0)


def fit_hsic_lowrank(
    X,
    y,
    q,
    landmarks,
    sigma,
    lam,
    mu,
    sigma_q=None,
    kernel_q: str = "rbf",
    tol_q: float = Q_TOL,
    max_rank_q: int = Q_MAX_RANK,
    chunk: int = CHUNK,
) -> LowRankResult:
    r"""Low-rank HSIC-penalised fit in closed form (see the module notes).

    ``q`` as the exact solvers take it (prepared by the model); ``sigma_q=None``:
    median heuristic on ``q``, as the exact model. O(n m (m + d + r) + m³) time.
    """
    X, y, q = _f64(X), _f64(y), _f64(q)
    sigma_q = _sigma_q(q, sigma_q, kernel_q)
    B, _ = sensitive_factor(q, sigma_q, kernel_q, tol_q, max_rank_q)
    nmap = nystrom_map(_f64(landmarks), _f64(sigma))
    _warn_truncation(X.shape[0], nmap, lam)
    A0, b, P = gram_statistics(X, y, B, nmap, chunk=chunk)
    w, J, info = hsic_solve(A0, b, P, ops.sum(y * y), nmap.dropped, X.shape[0], _f64(lam), _f64(mu))
    return _result(ops.matmul(nmap.proj, w), J, info, nmap, w, sigma_q, 0.0)


@jax.jit
def hsic_path_solve(A0, b, P, dropped, n, lam, mus):
    r"""Weights :math:`w(\mu)` for many :math:`\mu` from one factorisation (Woodbury in r dims).

    With :math:`A = RR^\top = \Phi^\top\Phi + \lambda I`, :math:`G = R^{-1}P`,
    :math:`G^\top G = Q\Lambda Q^\top`, :math:`c = R^{-1}\Phi^\top\tilde y`, :math:`t = \mu/n`:
    :math:`w(t) = R^{-\top}\big(c - t\,GQ(I + t\Lambda)^{-1}Q^\top G^\top c\big)`.
    O(m² r + r³) once, O(m r + m²) per μ. Returns an array (len(mus), m).
    """
    _, chol, _, _ = _ridge_factor(A0, dropped, lam)
    G = ops.solve_triangular(chol, P, lower=True)
    c = ops.solve_triangular(chol, b, lower=True)
    evals, Q = ops.eigh(ops.matmul(ops.transpose(G), G))
    GQ = ops.matmul(G, Q)
    t = mus[:, None] / n
    coef = (
        t * ops.matmul(ops.transpose(GQ), c)[None, :] / (1.0 + t * ops.maximum(evals, 0.0)[None, :])
    )
    V = c[None, :] - ops.matmul(coef, ops.transpose(GQ))  # (M, m)
    return ops.transpose(ops.solve_triangular(ops.transpose(chol), ops.transpose(V), lower=False))


def hsic_path_lowrank(
    X,
    y,
    q,
    landmarks,
    sigma,
    lam,
    mus,
    sigma_q=None,
    kernel_q: str = "rbf",
    tol_q: float = Q_TOL,
    max_rank_q: int = Q_MAX_RANK,
    chunk: int = CHUNK,
):
    r"""Landmark coefficients :math:`\beta(\mu)` (len(mus), m) of the low-rank HSIC fits for every ``mu``."""
    q = _f64(q)
    B, _ = sensitive_factor(q, _sigma_q(q, sigma_q, kernel_q), kernel_q, tol_q, max_rank_q)
    return hsic_path_from_factor(X, y, B, landmarks, sigma, lam, mus, chunk)


def hsic_path_from_factor(X, y, B, landmarks, sigma, lam, mus, chunk: int = CHUNK):
    r""":func:`hsic_path_lowrank` from a centred factor :math:`B` of :math:`HLH` (see :func:`sensitive_factor`)."""
    X, y, B = _f64(X), _f64(y), _f64(B)
    nmap = nystrom_map(_f64(landmarks), _f64(sigma))
    A0, b, P = gram_statistics(X, y, B, nmap, chunk=chunk)
    W = hsic_path_solve(A0, b, P, nmap.dropped, X.shape[0], _f64(lam), _f64(np.asarray(mus)))
    return ops.matmul(W, ops.transpose(nmap.proj))


# --------------------------------------------------------------------------
# CKA penalty with Fourier features of the predictions
# --------------------------------------------------------------------------


def prediction_frequencies(
    sigma_f: float, n_features: int = N_FEATURES, kind: str = "quadrature", seed: int = 0
):
    r"""Frequencies :math:`\omega_j` and weights :math:`a_j` with
    :math:`e^{-\delta^2/2\sigma_f^2} \approx \sum_j a_j\cos(\omega_j\delta)` (``n_features/2`` of each).

    ``"rff"``: random Fourier features (Rahimi & Recht, 2007),
    :math:`\omega_j \sim N(0, \sigma_f^{-2})` (seeded), :math:`a_j = 2/D_f`;
    error :math:`O(D_f^{-1/2})`. ``"quadrature"`` (default): Gauss–Hermite
    quadrature of the same expectation (Dao et al., 2017), deterministic, with
    error decreasing faster than any power of :math:`D_f` for
    :math:`|\delta| \lesssim \sqrt{D_f}\,\sigma_f`; the predictions are 1-D, so
    quadrature is cheap and far more accurate than sampling.
    """
    if kind not in FEATURE_KINDS:
        raise ValueError(f"features must be one of {list(FEATURE_KINDS)}; got {kind!r}.")
    if (
        isinstance(n_features, bool)
        or not isinstance(n_features, (int, np.integer))
        or n_features < 2
        or n_features % 2
    ):
        raise ValueError(
            f"n_features must be an even integer >= 2 (cos/sin pairs); got {n_features!r}."
        )
    h = n_features // 2
    if kind == "rff":
        omega = np.random.default_rng(seed).standard_normal(h)
        weight = np.full(h, 1.0 / h)
    else:
        # Golub-Welsch: nodes and weights of the 2h-point rule for N(0, 1) from the
        # Jacobi matrix of the Hermite polynomials (stable for any h, unlike hermegauss).
        k = np.sqrt(np.arange(1.0, 2 * h))
        x, V = np.linalg.eigh(np.diag(k, 1) + np.diag(k, -1))
        pos = x > 0  # cos is even: fold the symmetric nodes (2h nodes, none at 0)
        omega, weight = x[pos], 2.0 * V[0, pos] ** 2
    return omega / float(sigma_f), weight


def cka_features_penalty(f, B, omega, weight, hll):
    r"""Biased CKA of an RBF kernel on ``f`` (by Fourier features) and :math:`BB^\top`.

    Features of :math:`g = f - f_1` (shift invariance), with
    :math:`\cos - 1 = -2\sin^2(\cdot/2)` (centring removes the 1): accurate for
    nearly constant predictions and exactly 0, with zero gradient, for constant
    ones, like :func:`fairkl.solvers.cka_penalty`. ``hll`` is
    :math:`\lVert B^\top B\rVert_F^2/n^2`.
    """
    n = f.shape[0]
    arg = (f - f[0])[:, None] * omega[None, :]
    s = ops.sqrt(weight)[None, :]
    # jnp, not keras.ops: ops.sin returns float32 for float64 input (Keras 3.15), which
    # would make the penalty noisy at 1e-8 and stall the line search.
    half = jnp.sin(0.5 * arg)
    Psi = ops.concatenate([-2.0 * half * half * s, jnp.sin(arg) * s], axis=1)
    Psi = Psi - mean(Psi, axis=0, keepdims=True)
    PB = ops.matmul(ops.transpose(Psi), B)
    PP = ops.matmul(ops.transpose(Psi), Psi)
    return normalise_hsic(
        ops.sum(PB * PB) / (n * n), ops.sum(PP * PP) / (n * n), hll, centered_tiny(f.dtype)
    )


class _Memory(NamedTuple):
    """L-BFGS memory: steps s, gradient changes yv, 1/(s^T y), count, scale gamma of H0 = gamma (n/2) I."""

    s: object
    yv: object
    rho: object
    count: object
    gamma: object


class _State(NamedTuple):
    it: object
    v: object
    J: object
    g: object
    r: object  #: direction (the step is -t r)
    t: object
    mem: _Memory


def _two_loop(g, mem: _Memory, n):
    """L-BFGS direction H g, newest to oldest then back (memory unrolled)."""
    k = ops.minimum(mem.count, LBFGS_MEMORY)
    a = [None] * LBFGS_MEMORY
    u = g
    for j in range(LBFGS_MEMORY):
        i = (mem.count - 1 - j) % LBFGS_MEMORY
        a[j] = ops.where(j < k, mem.rho[i] * ops.sum(mem.s[i] * u), 0.0)
        u = u - a[j] * mem.yv[i]
    r = mem.gamma * (0.5 * n) * u
    for j in reversed(range(LBFGS_MEMORY)):
        i = (mem.count - 1 - j) % LBFGS_MEMORY
        r = r + ops.where(j < k, a[j] - mem.rho[i] * ops.sum(mem.yv[i] * r), 0.0) * mem.s[i]
    return r


def _remember(mem: _Memory, s, yv, n):
    curv = ops.sum(s * yv)
    yy = ops.sum(yv * yv)
    ok = (curv > _eps(F64) * ops.sqrt(ops.sum(s * s) * yy)) & (yy > 0)
    i = mem.count % LBFGS_MEMORY
    put = lambda M, x: ops.where(ok, M.at[i].set(x), M)  # noqa: E731
    return _Memory(
        put(mem.s, s),
        put(mem.yv, yv),
        put(mem.rho, 1.0 / ops.where(ok, curv, 1.0)),
        ops.where(ok, mem.count + 1, mem.count),
        ops.where(ok, curv / ((0.5 * n) * ops.where(ok, yy, 1.0)), mem.gamma),
    )


def cka_value_and_grad(v, Phi, chol, c, const, B, omega, weight, hll, mu):
    r""":math:`J` and :math:`\nabla_v J` in the whitened variable :math:`v = R^\top w`.

    :math:`J(v) = (\lVert v - c\rVert^2 + \text{const})/n + \mu D(f)`,
    :math:`f = \Phi R^{-\top}v`, :math:`\nabla_v J = \tfrac2n(v - c) + \mu R^{-1}\Phi^\top\nabla_f D`
    (:math:`\nabla_f D` by automatic differentiation of :func:`cka_features_penalty`).
    With :math:`c = R^{-1}\Phi^\top\tilde y` and const :math:`= \tilde y^\top\tilde y - c^\top c`
    this is the low-rank :math:`J(w)` of the module notes.
    """
    n = Phi.shape[0]
    f = ops.matmul(Phi, ops.solve_triangular(ops.transpose(chol), v, lower=False))
    D, gf = jax.value_and_grad(cka_features_penalty)(f, B, omega, weight, hll)
    # gf^T Phi, not Phi^T gf: XLA (CPU) would copy the transposed n x m Phi for the latter.
    gv = ops.solve_triangular(chol, ops.matmul(gf, Phi), lower=True)
    d = v - c
    return (ops.sum(d * d) + const) / n + mu * D, (2.0 / n) * d + mu * gv


@jax.jit
def cka_lbfgs(Phi, chol, c, const, B, omega, weight, hll, mu, epochs, lr, tol):
    r"""Minimise :math:`J(v)` of :func:`cka_value_and_grad` by preconditioned L-BFGS.

    L-BFGS (memory ``LBFGS_MEMORY``) with initial inverse Hessian
    :math:`\gamma\,\tfrac n2 I` (the data term's, exact at ``mu = 0``), started
    at the ``mu = 0`` solution :math:`v = c`; first step ``lr``, later 1,
    halved until the Armijo test passes (J never increases); memory reset on a
    non-descent direction. Stops when the decrement
    :math:`\tfrac n2\lVert\nabla_v J\rVert^2 \le` ``tol`` (about twice the gap
    to a stationary value, as in :func:`fairkl.solvers.cka_descent`) or after
    ``epochs`` trial steps. Per step: two products with :math:`\Phi` (O(n m))
    and the penalty (O(n (D_f² + D_f r))). ``mu``, ``epochs``, ``lr``, ``tol``
    are traced. Returns ``(v, J, decrement, n_iter)``.
    """
    n, m = Phi.shape

    def evaluate(v):
        return cka_value_and_grad(v, Phi, chol, c, const, B, omega, weight, hll, mu)

    zero_mem = _Memory(
        ops.zeros((LBFGS_MEMORY, m), F64),
        ops.zeros((LBFGS_MEMORY, m), F64),
        ops.zeros((LBFGS_MEMORY,), F64),
        0,
        ops.ones((), F64),
    )
    J0, g0 = evaluate(c)
    one = ops.ones((), F64)
    dec = lambda g: 0.5 * n * ops.sum(g * g)  # noqa: E731

    def cond(st: _State):
        return (st.it < epochs) & (dec(st.g) > tol) & (st.t > 1e3 * _eps(F64))

    def body(st: _State):
        v_new = st.v - st.t * st.r
        J_new, g_new = evaluate(v_new)
        slope = ops.sum(st.g * st.r)
        accept = ops.isfinite(J_new) & (
            J_new <= st.J - 1e-4 * st.t * slope + 8.0 * _eps(F64) * ops.abs(st.J)
        )
        mem = _remember(st.mem, -st.t * st.r, g_new - st.g, n)
        r = _two_loop(g_new, mem, n)
        descent = ops.sum(g_new * r) > 0
        mem = jax.tree_util.tree_map(lambda a, b: ops.where(descent, a, b), mem, zero_mem)
        r = ops.where(descent, r, 0.5 * n * g_new)
        pick = lambda a, b: ops.where(accept, a, b)  # noqa: E731
        return _State(
            st.it + 1,
            pick(v_new, st.v),
            pick(J_new, st.J),
            pick(g_new, st.g),
            pick(r, st.r),
            pick(one, 0.5 * st.t),
            jax.tree_util.tree_map(pick, mem, st.mem),
        )

    st = jax.lax.while_loop(cond, body, _State(0, c, J0, g0, 0.5 * n * g0, one * lr, zero_mem))
    return st.v, st.J, dec(st.g), st.it


@jax.jit
def _whiten(Phi, y, dropped, lam):
    """Cholesky information of :math:`\\Phi^\\top\\Phi + \\lambda I` and :math:`c = R^{-1}\\Phi^\\top y`."""
    A0 = ops.matmul(ops.transpose(Phi), Phi)  # a dot over rows: no copy of Phi
    info = _ridge_factor(0.5 * (A0 + ops.transpose(A0)), dropped, lam)
    # y^T Phi, not Phi^T y: the latter copies the transposed n x m Phi (1.6 GB at n = 200k, m = 1000).
    return info, ops.solve_triangular(info[1], ops.matmul(y, Phi), lower=True)


def fit_cka_lowrank(
    X,
    y,
    q,
    landmarks,
    sigma,
    lam,
    mu,
    sigma_q=None,
    sigma_f=None,
    epochs: int = 300,
    lr: float = 0.01,
    tol: float = 1e-10,
    kernel_q: str = "rbf",
    n_features: int = N_FEATURES,
    features_kind: str = "quadrature",
    seed: int = 0,
    tol_q: float = Q_TOL,
    max_rank_q: int = Q_MAX_RANK,
    chunk: int = CHUNK,
) -> LowRankResult:
    r"""Low-rank CKA-penalised fit (see :func:`cka_lbfgs`); O(n m) memory.

    ``sigma_f=None``: median heuristic on the standardised targets, fixed before
    optimisation, as the exact model. The reported objective uses the
    Fourier-feature penalty (the quantity minimised).
    """
    X, y, q = _f64(X), _f64(y), _f64(q)
    n = X.shape[0]
    sigma_q = _sigma_q(q, sigma_q, kernel_q)
    sigma_f = float(median_heuristic(y[:, None])) if sigma_f is None else float(sigma_f)
    B, _ = sensitive_factor(q, sigma_q, kernel_q, tol_q, max_rank_q)
    nmap = nystrom_map(_f64(landmarks), _f64(sigma))
    _warn_truncation(n, nmap, lam)
    Phi = feature_matrix(X, nmap, chunk=chunk)
    info, c = _whiten(Phi, y, nmap.dropped, _f64(lam))
    chol = info[1]
    omega, weight = prediction_frequencies(sigma_f, n_features, features_kind, seed)
    BtB = ops.matmul(ops.transpose(B), B)
    v, J, dec, it = cka_lbfgs(
        Phi,
        chol,
        c,
        ops.sum(y * y) - ops.sum(c * c),
        B,
        _f64(omega),
        _f64(weight),
        ops.sum(BtB * BtB) / (n * n),
        _f64(mu),
        epochs,
        _f64(lr),
        _f64(tol),
    )
    w = ops.solve_triangular(ops.transpose(chol), v, lower=False)
    return _result(
        ops.matmul(nmap.proj, w), J, info, nmap, w, sigma_q, sigma_f, dec, it, dec <= tol
    )


# --------------------------------------------------------------------------
# Prediction and helpers
# --------------------------------------------------------------------------


def predict(X_new, landmarks, beta, sigma, chunk: int = CHUNK) -> np.ndarray:
    r""":math:`k(X_{new}, Z)\beta` in chunks of ``chunk`` rows (memory O(chunk·m)), float64, standardised scale."""
    X_new = np.asarray(X_new, dtype=np.float64)
    Z, beta, sigma = _f64(landmarks), _f64(beta), _f64(sigma)
    n = X_new.shape[0]
    if n <= chunk:
        return np.asarray(solvers.predict_program(_f64(X_new), Z, beta, sigma))
    pad = (-n) % chunk  # equal chunks: one compilation
    Xp = np.concatenate([X_new, np.zeros((pad, X_new.shape[1]))]) if pad else X_new
    out = [
        np.asarray(solvers.predict_program(_f64(Xp[i : i + chunk]), Z, beta, sigma))
        for i in range(0, Xp.shape[0], chunk)
    ]
    return np.concatenate(out)[:n]


def _f64(a):
    return ops.convert_to_tensor(a, dtype=F64)


def _sigma_q(q, sigma_q, kernel_q):
    if kernel_q == "linear":
        return ops.zeros((), dtype=F64)
    return median_heuristic(q) if sigma_q is None else _f64(sigma_q)
