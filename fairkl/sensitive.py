r"""The kernel on the sensitive attribute ``q``, as one object.

:class:`SensitiveKernel` holds the kind (``"rbf"`` or ``"linear"``) and the
bandwidth, and owns every step that touches ``q``: the columns the kernel sees
(:meth:`~SensitiveKernel.prepare`; standardised for the linear kernel, so the
fit is invariant to the units of ``q``), the median-heuristic bandwidth
(:meth:`~SensitiveKernel.resolve`, computed once per training set), the kernel
:math:`L = l(q, q)`, its centred form :math:`HLH` and a low-rank factor
:math:`B` with :math:`HLH \approx BB^\top`.

The traced functions :func:`kernel_matrix`, :func:`centered_kernel` take the
kind as a static string and the bandwidth as a traced value: they are what
the compiled programs of :mod:`fairkl.solvers` call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial

import jax
import numpy as np
from keras import ops

from fairkl._constants import KERNELS_Q
from fairkl._ops import mean
from fairkl._validation import group_labels
from fairkl.kernels import (
    center_kernel,
    centered_rbf_kernel,
    linear_kernel,
    median_heuristic,
    rbf_kernel,
)
from fairkl.linalg import pivoted_cholesky_columns, relative_residual


def kernel_matrix(q, sigma_q, kind: str):
    """Kernel matrix :math:`L = l(q, q)`: ``"rbf"`` with bandwidth ``sigma_q`` or ``"linear"``."""
    if kind == "linear":
        return linear_kernel(q)
    return rbf_kernel(q, sigma=sigma_q)


def centered_kernel(q, sigma_q, kind: str):
    """:math:`HLH` for the kernel on ``q`` (accurate centring for the RBF kernel)."""
    if kind == "linear":
        return center_kernel(linear_kernel(q))
    return centered_rbf_kernel(q, sigma_q)


@partial(jax.jit, static_argnames=("rank",))
def _factor_program(q, sigma_q, tol, floor, rank: int):
    """Pivoted Cholesky of the RBF kernel on ``q`` from columns on the fly, centred: (HG, residual)."""

    def column(i):
        return rbf_kernel(q, q[i][None, :], sigma=sigma_q)[:, 0]

    diag = ops.ones((q.shape[0],), dtype=q.dtype)
    G, d, _ = pivoted_cholesky_columns(column, diag, rank, tol, floor)
    return G - mean(G, axis=0, keepdims=True), relative_residual(d, diag)  # HLH ~ (HG)(HG)^T


def centered_factor(
    q,
    sigma_q,
    kind: str,
    tol: float,
    start_rank: int = 64,
    *,
    max_rank: int | None = None,
    growth: int = 4,
    floor: float = 0.0,
):
    r"""Centred factor :math:`B` (n × r) with :math:`HLH \approx BB^\top`, :math:`L = l(q, q)`.

    The one centred factor of the kernel on ``q`` (the exact μ-path, the CV
    engine, the exact CKA fit and the low-rank model all call it).

    * ``kind="linear"``: :math:`B = Hq`, exact (rank = number of columns).
    * ``kind="rbf"``: :func:`fairkl.linalg.pivoted_cholesky_columns` of
      :math:`L` from columns computed on the fly (no n × n matrix; O(n r²)
      time, O(n r) memory). Columns are added while the left-out relative
      trace exceeds ``tol`` (``floor=0``, the exact path) or, with
      ``floor > 0`` (the low-rank model), while the pivot exceeds ``floor``
      times the largest diagonal entry: down to rounding level, and ``tol``
      then only decides the rank growth. The rank starts at
      ``start_rank`` and is multiplied by ``growth`` (recompiling) until the
      left-out relative trace is at most ``tol`` or the rank reaches
      ``max_rank`` (default ``n``; at ``n`` the factor is exact). Exact with a
      few columns for one-hot groups.

    Returns
    -------
    B : tensor of shape (n, rank)
    rank : int
        Columns of ``B`` (trailing columns may be zero).
    residual : float
        Relative trace of :math:`L` left out (0 for the linear kernel).
    """
    q = ops.convert_to_tensor(q)
    if kind == "linear":
        return q - mean(q, axis=0, keepdims=True), int(q.shape[1]), 0.0
    n = q.shape[0]
    top = n if max_rank is None else min(n, int(max_rank))
    rank = min(top, start_rank)
    sigma_q = ops.cast(sigma_q, q.dtype)
    while True:
        # One stopping rule inside the loop: the trace (floor = 0) or the pivot floor.
        B, residual = _factor_program(q, sigma_q, tol if floor == 0 else 0.0, floor, rank=rank)
        if float(residual) <= tol or rank >= top:
            return B, rank, float(residual)
        rank = min(top, rank * growth)


def is_constant(q: np.ndarray) -> bool:
    """True when every column of ``q`` is constant (every dependence on it is then 0)."""
    return bool(np.all(np.ptp(q, axis=0) == 0))


def group_codes(q) -> np.ndarray | None:
    """Integer group codes when ``q`` holds groups, else ``None`` (used to stratify CV folds).

    Groups are decided by :func:`fairkl._validation.group_labels`, the one
    rule for groups in fairkl (integer labels, categorical labels, one-hot
    columns, intersections); an attribute it refuses as continuous gives
    ``None`` here instead of an error.
    """
    try:
        return group_labels(q)
    except ValueError:
        return None


@dataclass(frozen=True)
class SensitiveKernel:
    """The kernel on the sensitive attribute.

    Parameters
    ----------
    kind : {"rbf", "linear"}
    sigma : float or None
        RBF bandwidth in the units of the prepared ``q``; ``None`` until
        :meth:`resolve` sets it by the median heuristic. ``nan`` for the
        linear kernel (which has none).
    """

    kind: str = "rbf"
    sigma: float | None = None

    def __post_init__(self):
        if self.kind not in KERNELS_Q:
            raise ValueError(f"kernel_q must be one of {sorted(KERNELS_Q)}; got {self.kind!r}.")

    def prepare(self, q: np.ndarray) -> np.ndarray:
        """The columns the kernel sees: standardised for the linear kernel (unit invariance)."""
        q = np.asarray(q, dtype=np.float64)
        if self.kind != "linear":
            return q
        std = q.std(axis=0)
        return (q - q.mean(axis=0)) / np.where(std > 0, std, 1.0)

    def resolve(self, q_prepared) -> SensitiveKernel:
        """This kernel with its bandwidth fixed: the given one, or the median heuristic on ``q``."""
        if self.kind == "linear":
            return replace(self, sigma=math.nan)
        if self.sigma is not None:
            return self
        q64 = ops.convert_to_tensor(np.asarray(q_prepared, dtype=np.float64), dtype="float64")
        return replace(self, sigma=float(median_heuristic(q64)))

    @property
    def traced_sigma(self) -> float:
        """The bandwidth to pass to compiled programs (1.0 where it is unused)."""
        return 1.0 if self.sigma is None or math.isnan(self.sigma) else float(self.sigma)

    def matrix(self, q):
        """:math:`L = l(q, q)` (``q`` prepared)."""
        return kernel_matrix(q, self.traced_sigma, self.kind)

    def centered(self, q):
        """:math:`HLH` (``q`` prepared)."""
        return centered_kernel(q, self.traced_sigma, self.kind)

    def factor(self, q, tol: float, start_rank: int = 64, **options):
        """Low-rank factor of :math:`HLH` (see :func:`centered_factor`, which takes ``options``)."""
        return centered_factor(q, self.traced_sigma, self.kind, tol, start_rank, **options)
