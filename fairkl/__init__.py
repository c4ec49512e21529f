"""fairkl: fair kernel ridge regression with HSIC/CKA penalties, on Keras (JAX backend).

Layers, from the bottom up: :mod:`fairkl.kernels`, :mod:`fairkl.dependence`,
:mod:`fairkl.pareto` (primitives) → :mod:`fairkl.solvers` →
:mod:`fairkl.models` → :mod:`fairkl.sklearn` (integrations).
Importing fairkl selects the Keras JAX backend if none was chosen.
"""

from fairkl._backend import ensure_jax_backend

ensure_jax_backend()

from fairkl import datasets, dependence, kernels, pareto, solvers  # noqa: E402
from fairkl.models import FairKernelRidge, MuPath  # noqa: E402
from fairkl.sklearn import FairKernelRidgeCV, FairKernelRidgeRegressor  # noqa: E402

__all__ = [
    "FairKernelRidge",
    "FairKernelRidgeCV",
    "FairKernelRidgeRegressor",
    "MuPath",
    "datasets",
    "dependence",
    "kernels",
    "pareto",
    "solvers",
]
__version__ = "0.1.0"
