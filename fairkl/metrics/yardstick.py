r"""One fixed yardstick for held-out dependence between predictions and ``q``.

A :class:`Yardstick` fixes the RBF bandwidths once, from training data (the
median heuristic of the training targets and of ``q``), and scores held-out
predictions with them, so that every model, fold and trial is measured with
the same ruler (never each model's own ``sigma_q``):

.. math::
   \mathrm{CKA}(f, q) = \frac{\langle \tilde K_f, \tilde L\rangle}
   {\lVert \tilde K_f\rVert\,\lVert \tilde L\rVert},\qquad
   \mathrm{HSIC}(f, q) = \langle \tilde K_f, \tilde L\rangle / m^2,

with :math:`\tilde K_f = H K_f H`, :math:`K_f` the RBF kernel of bandwidth
``sigma_pred`` on the predictions and :math:`L` the RBF kernel of bandwidth
``sigma_q`` on ``q`` (biased estimators, :mod:`fairkl.dependence`).

Degenerate input is never reported as "perfectly fair": NaN predictions raise
``ValueError``; fewer than two held-out rows or a constant held-out ``q``
(nothing to measure dependence on) raise :class:`UndefinedDependence` (a
``ValueError``). Constant *predictions* score exactly 0,
as documented in :mod:`fairkl.dependence` (a constant predictor is independent of ``q``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import numpy as np
from keras import ops

from fairkl import _validation as v
from fairkl._backend import x64_methods
from fairkl._constants import MEASURES
from fairkl.dependence import cka_centered
from fairkl.kernels import centered_rbf_kernel, median_heuristic
from fairkl.sensitive import is_constant


class UndefinedDependence(ValueError):
    """The dependence cannot be measured on this sample (too few rows, or a constant ``q``).

    A ``ValueError``; scorers that must not raise catch it and return NaN with a warning.
    """


#: Bandwidths outside this range have squares float64 cannot represent.
_SIGMA_RANGE = (1e-150, 1e150)


def _check_bandwidth(value, name: str) -> float:
    value = v.check_positive(value, name)
    lo, hi = _SIGMA_RANGE
    if not lo <= value <= hi:
        raise ValueError(
            f"{name}={value} is outside [{lo:g}, {hi:g}]: its square is not representable; "
            f"standardise the data or use Yardstick.from_data."
        )
    return value


def _one_column(x, name: str) -> np.ndarray:
    """A 1-D float vector from shape (n,) or (n, 1); other shapes are refused by name."""
    arr = v.as_float_array(x, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or (n_samples, 1); got shape {arr.shape}."
        )
    return arr


@partial(jax.jit, static_argnames=("measure",))
def _rows_program(F, q, sigma_pred, sigma_q, measure):
    """Dependence of each row of F (m, n) with q (n, d_q), in one compiled loop."""
    n = q.shape[0]
    Lc = centered_rbf_kernel(q, sigma_q)

    def one(f):
        Kc = centered_rbf_kernel(f[:, None], sigma_pred)
        return cka_centered(Kc, Lc) if measure == "cka" else ops.sum(Kc * Lc) / (n * n)

    return jax.lax.map(one, F)


@dataclass(frozen=True)
@x64_methods("from_data", "score", "score_rows")
class Yardstick:
    """Fixed bandwidths for held-out dependence (build with :meth:`from_data`).

    Parameters
    ----------
    sigma_pred : float
        RBF bandwidth on predictions, in the units of ``y``.
    sigma_q : float
        RBF bandwidth on the sensitive attribute, in the units of ``q``.
    """

    sigma_pred: float
    sigma_q: float

    def __post_init__(self):
        object.__setattr__(self, "sigma_pred", _check_bandwidth(self.sigma_pred, "sigma_pred"))
        object.__setattr__(self, "sigma_q", _check_bandwidth(self.sigma_q, "sigma_q"))

    @classmethod
    def from_data(cls, y, q, *, q_name: str = "sensitive_features") -> Yardstick:
        """Median-heuristic bandwidths of the training targets ``y`` and attribute ``q``."""
        y = _one_column(y, "y")[:, None]
        q = v.check_sensitive(q, y.shape[0], name=q_name)
        for what, arr in (("y", y), (q_name, q)):
            if is_constant(arr):
                raise UndefinedDependence(
                    f"{what} is constant on these {arr.shape[0]} training rows, so it has no bandwidth "
                    f"(median distance 0) and dependence on it cannot be measured; a yardstick needs "
                    f"a {what} that varies."
                )
        med = lambda a: float(median_heuristic(ops.convert_to_tensor(a, dtype="float64")))  # noqa: E731
        return cls(med(y), med(q))

    def as_dict(self) -> dict:
        """``{"sigma_pred": ..., "sigma_q": ...}`` (keyword arguments of the scorers)."""
        return {"sigma_pred": self.sigma_pred, "sigma_q": self.sigma_q}

    def score(
        self, y_pred, q, measure: str = "cka", *, q_name: str = "sensitive_features"
    ) -> float:
        """Dependence of held-out predictions ``y_pred`` (n,) on ``q`` (lower is fairer)."""
        f = _one_column(y_pred, "y_pred")[None, :]
        return float(self.score_rows(f, q, measure, q_name=q_name)[0])

    def score_rows(
        self, F, q, measure: str = "cka", *, q_name: str = "sensitive_features"
    ) -> np.ndarray:
        """Dependence of each row of ``F`` (m candidates × n held-out rows) on ``q``: array (m,)."""
        v.check_choice(measure, "measure", MEASURES)
        F = v.as_float_array(F, "predictions")
        F = F.reshape(1, -1) if F.ndim == 1 else F
        n = F.shape[1]
        q = v.check_sensitive(q, n, name=q_name)
        if n < 2:
            raise UndefinedDependence(
                f"dependence needs at least 2 held-out rows; got {n} (e.g. a one-sample test fold: "
                f"use fewer folds, at most n_samples / 2)."
            )
        if is_constant(q):
            raise UndefinedDependence(
                f"{q_name} is constant on these {n} rows: dependence on it cannot be measured "
                f"(it is not evidence of fairness). Use held-out data where {q_name} varies."
            )
        c = lambda a: ops.convert_to_tensor(a, dtype="float64")  # noqa: E731
        return np.asarray(
            _rows_program(c(F), c(q), c(self.sigma_pred), c(self.sigma_q), measure=measure)
        )
