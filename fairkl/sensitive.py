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
from fairkl.linalg import pivoted_cholesky


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


@partial(jax.jit, static_argnames=("kind", "rank"))
def _factor_program(q, sigma_q, tol, kind, rank):
    G, residual = pivoted_cholesky(kernel_matrix(q, sigma_q, kind), rank, tol)
    return G - mean(G, axis=0, keepdims=True), residual  # H G, so that HLH ~ (HG)(HG)^T


def centered_factor(q, sigma_q, kind: str, tol: float, start_rank: int = 64):
    r"""Low-rank :math:`B` with :math:`HLH \approx BB^\top`, exact to ``tol``.

    Pivoted Cholesky of :math:`L`; the rank starts at ``start_rank`` and grows
    fourfold (recompiling) until the left-out relative trace is at most
    ``tol`` or the rank reaches ``n`` (then the factor is exact). Exact with a
    few columns for one-hot groups or a linear kernel.

    Returns
    -------
    B : tensor of shape (n, rank)
    rank : int
    residual : float
        Relative trace of :math:`L` left out.
    """
    n = q.shape[0]
    rank = min(n, start_rank)
    while True:
        B, residual = _factor_program(q, sigma_q, tol, kind=kind, rank=rank)
        if float(residual) <= tol or rank == n:
            return B, rank, float(residual)
        rank = min(n, rank * 4)


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

    def factor(self, q, tol: float, start_rank: int = 64):
        """Low-rank factor of :math:`HLH` (see :func:`centered_factor`)."""
        q = ops.convert_to_tensor(q)
        return centered_factor(q, ops.cast(self.traced_sigma, q.dtype), self.kind, tol, start_rank)
