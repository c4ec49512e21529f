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

Landmarks (:func:`fairkl.landmarks.select_landmarks`, data preparation): ``"uniform"`` (default), ``"kmeans++"``
(D² sampling) or ``"pivoted_cholesky"`` (greedy largest residual variance of
:math:`K`), all seeded.

The ``fit_*`` functions take standardised targets :math:`\tilde y` (like
:mod:`fairkl.solvers`) and return a :class:`LowRankResult` whose first nine
fields are those of :class:`fairkl.solvers.FitResult`; ``alpha`` holds the
landmark coefficients :math:`\beta`, so predictions are
``predict(X_new, landmarks, alpha, sigma)`` (:func:`predict`).
Everything is float64 internally.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from keras import ops

from fairkl._backend import user_stacklevel
from fairkl._constants import (  # noqa: F401  (LANDMARK_METHODS: for callers that validate them)
    FEATURE_KINDS,
    LANDMARK_METHODS,
    N_FEATURES,
    PIVOT_FLOOR,
    PREDICT_CHUNK,
    Q_MAX_RANK,
    Q_TOL,
    RCOND,
)
from fairkl._ops import mean
from fairkl.dependence import centered_tiny, normalise_hsic
from fairkl.kernels import median_heuristic, rbf_kernel
from fairkl.linalg import cho_solve, cholesky_jitter
from fairkl.sensitive import centered_factor
from fairkl.solvers.lbfgs import Point, decrement, minimize
from fairkl.solvers.objective import map_row_blocks, row_block_start, row_blocks
from fairkl.solvers.programs import predict_program, x_kernel
from fairkl.solvers.result import FitResult

#: Rows of Phi (or of a prediction) formed at once: bounds the memory of k(X_chunk, Z).
CHUNK = PREDICT_CHUNK
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

    def fit_result(self) -> FitResult:
        """The :class:`fairkl.solvers.FitResult` view (``alpha`` = landmark coefficients)."""
        return FitResult(*self[:9])


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


def features(X, nmap: NystromMap):
    r""":math:`\Phi = k(X, Z)M` for a block of rows (O(rows·m·(d + m)))."""
    return ops.matmul(rbf_kernel(X, nmap.landmarks, sigma=nmap.sigma), nmap.proj)


@partial(jax.jit, static_argnames=("chunk",))
def gram_statistics(X, y, B, nmap: NystromMap, chunk: int = CHUNK):
    r""":math:`\Phi^\top\Phi`, :math:`\Phi^\top y` and :math:`\Phi^\top B`, accumulated over row chunks.

    Memory O(m² + m r + chunk·m): :math:`\Phi` is never held whole.
    """
    n = X.shape[0]
    c, count = row_blocks(n, chunk)
    m, r = nmap.proj.shape[1], B.shape[1]

    def body(i, acc):
        A, b, Pt = acc
        start = row_block_start(i, n, c)
        mask = ops.cast(start + ops.arange(c) >= i * c, F64)  # rows not covered by earlier chunks
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
    r""":math:`\Phi` (n × m), built ``chunk`` rows at a time into one buffer (no n × m temporaries).

    :func:`fairkl.solvers.objective.map_row_blocks` of :func:`features`.
    """

    def block(start, size):
        return (features(jax.lax.dynamic_slice_in_dim(X, start, size), nmap),)

    return map_row_blocks(block, X.shape[0], chunk, ((nmap.proj.shape[1],),), F64)[0]


# --------------------------------------------------------------------------
# Kernel on q: the one centred factor, with the low-rank model's settings
# --------------------------------------------------------------------------


def sensitive_factor(
    q, sigma_q, kernel_q: str = "rbf", tol: float = Q_TOL, max_rank: int = Q_MAX_RANK
):
    r""":func:`fairkl.sensitive.centered_factor` with the low-rank model's settings: ``(B, residual)``.

    The rank starts at 16 and doubles up to ``max_rank`` (the model's memory
    is O(n r)); pivots below ``PIVOT_FLOOR`` times the largest diagonal entry
    add zero columns (exhausted, e.g. one-hot groups). ``kernel_q="linear"``:
    :math:`B = Hq`, exact.
    """
    q = ops.convert_to_tensor(q, dtype=F64)
    B, _, residual = centered_factor(
        q, sigma_q, kernel_q, tol, 16, max_rank=max_rank, growth=2, floor=PIVOT_FLOOR
    )
    return B, residual


# --------------------------------------------------------------------------
# Closed forms: mu = 0 and HSIC, and the HSIC mu-path
# --------------------------------------------------------------------------


def _ridge_factor(A0, dropped, lam):
    r"""Cholesky of :math:`\Phi^\top\Phi + \lambda I` (1 on dropped directions, which keeps w = 0 there)."""
    A = A0 + ops.diag(lam + dropped * (1.0 - lam))
    chol, jitter = cholesky_jitter(A)
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
    chol, _ = cholesky_jitter(A)
    w = cho_solve(chol, b)
    Pw = ops.matmul(ops.transpose(P), w)
    J = (
        yy - 2.0 * ops.sum(w * b) + ops.sum(w * ops.matmul(A0, w)) + lam * ops.sum(w * w)
    ) / n + mu * ops.sum(Pw * Pw) / (n * n)
    return w, J, info


@partial(jax.jit, static_argnames=("chunk",))
def _closed_form_fit(
    X, y, B, nmap: NystromMap, lam, mu, sigma_q, chunk: int = CHUNK
) -> LowRankResult:
    """One compiled program per fit: Gram statistics, :func:`hsic_solve` and the result (``B=None``: ridge)."""
    if B is None:
        B = ops.zeros((X.shape[0], 1), dtype=F64)
    A0, b, P = gram_statistics(X, y, B, nmap, chunk=chunk)
    w, J, info = hsic_solve(A0, b, P, ops.sum(y * y), nmap.dropped, X.shape[0], lam, mu)
    return _result(ops.matmul(nmap.proj, w), J, info, nmap, w, sigma_q, 0.0)


def _warn_truncation(n: int, nmap: NystromMap, lam) -> None:
    """With every row a landmark, say when the dropped eigen-directions of K_mm can matter (see the module notes)."""
    # counted on the host: an eager sum would compile one more program per shape
    m, dropped = int(nmap.landmarks.shape[0]), float(np.sum(np.asarray(nmap.dropped)))
    bound = RCOND * m / max(float(lam), 1e-300)
    if m == n and dropped > 0 and bound > 1e-6:
        warnings.warn(
            f"the low-rank model with every row a landmark (n_components={m}) dropped {dropped:.0f} "
            f"eigenvalues of K_mm below {RCOND:g} * max; at lam={float(lam):g} they can move the training "
            f"predictions by up to {bound:.1e} * ||y|| relative to the exact model. Use the exact model "
            f"(n_components=None), or lam >= {RCOND * m * 1e6:.0e}.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def fit_krr_lowrank(X, y, landmarks, sigma, lam, chunk: int = CHUNK) -> LowRankResult:
    r"""Low-rank kernel ridge regression (``mu = 0``): :math:`(\Phi^\top\Phi + \lambda I)w = \Phi^\top\tilde y`."""
    X, y = _f64(X), _f64(y)
    nmap = nystrom_map(_f64(landmarks), _f64(sigma))
    _warn_truncation(X.shape[0], nmap, lam)
    return _closed_form_fit(X, y, None, nmap, _f64(lam), _f64(0.0), _f64(0.0), chunk=chunk)


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
    return _closed_form_fit(X, y, B, nmap, _f64(lam), _f64(mu), sigma_q, chunk=chunk)


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
    return _hsic_path(X, y, B, nmap, _f64(lam), _f64(np.asarray(mus)), chunk=chunk)


@partial(jax.jit, static_argnames=("chunk",))
def _hsic_path(X, y, B, nmap: NystromMap, lam, mus, chunk: int = CHUNK):
    """One compiled program per path: Gram statistics, :func:`hsic_path_solve` and β = M w."""
    A0, b, P = gram_statistics(X, y, B, nmap, chunk=chunk)
    W = hsic_path_solve(A0, b, P, nmap.dropped, X.shape[0], lam, mus)
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


def nystrom_cka_value_and_grad(v, Phi, chol, c, const, B, omega, weight, hll, mu):
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
    r"""Minimise :math:`J(v)` of :func:`nystrom_cka_value_and_grad` by the one L-BFGS.

    :func:`fairkl.solvers.lbfgs.minimize` with the identity as :math:`S`: the
    preconditioned gradient is :math:`e = \tfrac n2\nabla_v J`, so the initial
    inverse Hessian is :math:`\gamma\,\tfrac n2 I` (the data term's, exact at
    ``mu = 0``), started at the ``mu = 0`` solution :math:`v = c`; first step
    ``lr``, later 1, halved until the Armijo test passes (J never increases).
    Stops when the decrement :math:`\tfrac n2\lVert\nabla_v J\rVert^2 \le`
    ``tol`` (about twice the gap to a stationary value, as in
    :func:`fairkl.solvers.cka_descent`) or after ``epochs`` trial steps. Per
    step: two products with :math:`\Phi` (O(n m)) and the penalty
    (O(n (D_f² + D_f r))). ``mu``, ``epochs``, ``lr``, ``tol`` are traced.
    Returns ``(v, J, decrement, n_iter)``.
    """
    n = Phi.shape[0]

    def fun(v):
        J, g = nystrom_cka_value_and_grad(v, Phi, chol, c, const, B, omega, weight, hll, mu)
        e = (0.5 * n) * g
        return Point(v, J, e, e)

    st = minimize(fun, c, n, epochs, lr, tol)
    return st.point.z, st.point.J, decrement(st.point, n), st.it


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
    omega, weight = prediction_frequencies(sigma_f, n_features, features_kind, seed)
    return _cka_fit(
        X,
        y,
        B,
        nmap,
        _f64(lam),
        _f64(mu),
        _f64(omega),
        _f64(weight),
        sigma_q,
        _f64(sigma_f),
        epochs,
        _f64(lr),
        _f64(tol),
        chunk=chunk,
    )


@partial(jax.jit, static_argnames=("chunk",))
def _cka_fit(
    X, y, B, nmap: NystromMap, lam, mu, omega, weight, sigma_q, sigma_f, epochs, lr, tol, chunk: int
) -> LowRankResult:
    """One compiled program per fit (:func:`fit_cka_lowrank`): features, whitening, :func:`cka_lbfgs`, result.

    Holds one n × m feature matrix (a temporary of this program) and no copy of it.
    """
    n = X.shape[0]
    Phi = feature_matrix(X, nmap, chunk=chunk)
    info, c = _whiten(Phi, y, nmap.dropped, lam)
    chol = info[1]
    BtB = ops.matmul(ops.transpose(B), B)
    v, J, dec, it = cka_lbfgs(
        Phi,
        chol,
        c,
        ops.sum(y * y) - ops.sum(c * c),
        B,
        omega,
        weight,
        ops.sum(BtB * BtB) / (n * n),
        mu,
        epochs,
        lr,
        tol,
    )
    w = ops.solve_triangular(ops.transpose(chol), v, lower=False)
    return _result(
        ops.matmul(nmap.proj, w), J, info, nmap, w, sigma_q, sigma_f, dec, it, dec <= tol
    )


# --------------------------------------------------------------------------
# Prediction and helpers
# --------------------------------------------------------------------------


def predict(X_new, X_fit, coef, sigma, chunk: int = CHUNK, kernel: str = "rbf") -> np.ndarray:
    r""":math:`k(X_{new}, X_{fit})\,c` in chunks of ``chunk`` rows (memory O(chunk · len(X_fit))).

    The one host-side chunked prediction: the low-rank model (``X_fit`` the
    landmarks, ``coef`` :math:`\beta`) and the exact one (``X_fit`` the
    training inputs, ``coef`` :math:`\alpha`). Each chunk is one call of
    :func:`fairkl.solvers.predict_program`; the last is zero-padded to
    ``chunk`` rows, so every call has the same shape and compiles once.
    Computed in the dtype of ``coef``, standardised scale.
    """
    x_kernel(kernel)  # a clear error for an unknown kernel, before any work
    dtype = ops.convert_to_tensor(coef).dtype
    X_new = np.asarray(X_new)
    n = X_new.shape[0]
    if n <= chunk:
        return np.asarray(predict_program(_cast(X_new, dtype), X_fit, coef, sigma, kernel=kernel))
    pad = (-n) % chunk  # equal chunks: one compilation
    Xp = np.concatenate([X_new, np.zeros((pad, X_new.shape[1]), X_new.dtype)]) if pad else X_new
    out = [
        np.asarray(
            predict_program(_cast(Xp[i : i + chunk], dtype), X_fit, coef, sigma, kernel=kernel)
        )
        for i in range(0, Xp.shape[0], chunk)
    ]
    return np.concatenate(out)[:n]


def _cast(a, dtype):
    return ops.convert_to_tensor(a, dtype=dtype)


def _f64(a):
    return ops.convert_to_tensor(a, dtype=F64)


def _sigma_q(q, sigma_q, kernel_q):
    if kernel_q == "linear":
        return ops.zeros((), dtype=F64)
    return median_heuristic(q) if sigma_q is None else _f64(sigma_q)
