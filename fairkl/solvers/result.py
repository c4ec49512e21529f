"""The one result type every compiled fit program returns."""

from __future__ import annotations

from typing import NamedTuple


class FitResult(NamedTuple):
    """What every compiled fit program returns (scalars are 0-d tensors)."""

    alpha: object  #: coefficients for the standardised targets
    objective: object  #: J at alpha
    decrement: object  #: stationarity measure of the iterative solver (0 for closed forms)
    n_iter: object  #: trial steps of the iterative solver (0 for closed forms)
    converged: object
    jitter: object  #: diagonal jitter the Cholesky factorisation of K + lam I needed
    condition: object  #: estimate of the condition number of K + lam I (+ jitter)
    sigma_q: object  #: bandwidth used on q
    sigma_f: object  #: bandwidth used on the standardised predictions
    step: object = 1.0  #: last trial step length of the line search (1 for closed forms)
