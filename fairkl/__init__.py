"""fairkl: fair kernel ridge regression with HSIC/CKA penalties, on Keras (JAX backend).

Layers, from the bottom up: :mod:`fairkl.kernels`, :mod:`fairkl.dependence`,
:mod:`fairkl.linalg`, :mod:`fairkl.sensitive`, :mod:`fairkl.pareto` (primitives) and
:mod:`fairkl.landmarks` (data preparation) → :mod:`fairkl.solvers` (objective, the one
L-BFGS, every compiled program) → :mod:`fairkl.hyperparameters` (the one table) →
:mod:`fairkl.pipeline` (``FitConfig`` → ``prepare`` → ``solve``) → :mod:`fairkl.models` →
:mod:`fairkl.sklearn`, :mod:`fairkl.tuning` (integrations); :mod:`fairkl.metrics`
scores held-out predictions.

Importing fairkl selects the Keras JAX backend if none was chosen and changes no other
process-wide setting: JAX's 64-bit mode, which the float64 fits need, is turned on only
while a fit, a prediction, a metric or a search runs (:func:`fairkl._backend.x64_scope`,
a thread-local context restored on exit), so the user's own JAX code keeps its defaults.
"""

from fairkl._backend import ensure_jax_backend

ensure_jax_backend()

from fairkl import (
    datasets,
    dependence,
    kernels,
    linalg,
    metrics,
    pareto,
    pipeline,
    sensitive,
    solvers,
)  # noqa: E402
from fairkl.models import FairKernelRidge, MuPath  # noqa: E402
from fairkl.sklearn import FairKernelRidgeClassifier, FairKernelRidgeCV, FairKernelRidgeRegressor  # noqa: E402

__all__ = [
    "FairKernelRidge",
    "FairKernelRidgeCV",
    "FairKernelRidgeClassifier",
    "FairKernelRidgeRegressor",
    "MuPath",
    "datasets",
    "dependence",
    "kernels",
    "linalg",
    "metrics",
    "pareto",
    "pipeline",
    "sensitive",
    "solvers",
]


def _version() -> str:
    # Written once, in pyproject.toml; read from the installed distribution's metadata.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fairkl")
    except PackageNotFoundError:  # a source tree on sys.path that was never installed
        return "0+unknown"


__version__ = _version()
