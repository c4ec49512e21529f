r"""The one table of fairkl's hyperparameters: name, default, validation, one-line doc.

Every wrapper is derived from :data:`HYPERPARAMETERS` (issue 20):

* :class:`fairkl.pipeline.FitConfig` — its fields, defaults and per-field
  checks (:func:`check_all` also applies the rules that tie fields together);
* :class:`fairkl.models.FairKernelRidge` — its constructor keywords
  (``scope == "model"``), ``get_config`` and the save fingerprint
  (:func:`fingerprint_names`, by name);
* the scikit-learn estimators — their constructor parameters (``"model"``
  and ``"fit"`` scopes) with the defaults of :data:`ESTIMATOR_DEFAULTS`;
  scikit-learn needs explicit keyword signatures, so those are written out
  and ``tests/test_hyperparameters.py`` checks them against this table;
* the KerasTuner HyperModel's default search space (:data:`DEFAULT_SPACE`).

A low layer: it imports the constants, the validation helpers and the two
registries it checks against (the kernels on ``X`` of :mod:`fairkl.solvers`,
the landmark methods of :mod:`fairkl.landmarks`), nothing from the pipeline,
the models, the scikit-learn layer or the tuner.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fairkl import _validation as v
from fairkl import solvers
from fairkl._constants import DTYPES, KERNELS_Q, LANDMARK_METHODS, PENALTIES


@dataclass(frozen=True)
class Hyperparameter:
    """One row of the table.

    Attributes
    ----------
    name : str
        The keyword, the same in every wrapper.
    default : object
        Default of :class:`~fairkl.pipeline.FitConfig` and the Keras model
        (the scikit-learn estimators override a few: :data:`ESTIMATOR_DEFAULTS`).
    check : callable
        ``check(value) -> value``: the validated (normalised) value, or a
        ``ValueError``/``TypeError`` whose message names the argument.
    doc : str
        One line for error messages and the API page.
    scope : {"model", "fit", "internal"}
        ``"model"``: a constructor keyword of :class:`fairkl.models.FairKernelRidge`;
        ``"fit"``: an argument of its ``fit`` (a constructor keyword of the
        scikit-learn estimators); ``"internal"``: a :class:`FitConfig` field only.
    fingerprint : {"always", "low_rank", None}
        Part of the save fingerprint for every model, for low-rank models
        only (exact models keep the fingerprint they had before the low-rank
        model existed, so older files load), or never.
    search : tuple or None
        Default search-space entry of the HyperModel (see
        :data:`fairkl.tuning.hypermodel.DEFAULT_SPACE` for the format).
    positional : bool
        May be passed by position (the first four constructor arguments).
    annotation : str
        The type hint of the field of :class:`~fairkl.pipeline.FitConfig`.
    """

    name: str
    default: Any
    check: Callable[[Any], Any]
    doc: str
    scope: str = "model"
    fingerprint: str | None = "always"
    search: tuple | None = None
    positional: bool = False
    annotation: str = "float"


def _positive(name: str, *, zero: bool = False, none: bool = False):
    return lambda x: v.check_positive(x, name, allow_zero=zero, allow_none=none)


def _choice(name: str, choices):
    return lambda x: v.check_choice(x, name, choices)


def _check_kernel(kernel):
    solvers.x_kernel(kernel)  # the registry: "kernel must be one of [...]; got ..."
    return kernel


def _check_epochs(epochs) -> int:
    return v.check_int(epochs, "epochs")


def _check_lr(lr) -> float:
    lr = v.check_positive(lr, "lr")
    if lr > 1:
        raise ValueError(f"lr must be in (0, 1]; got {lr}.")
    if lr < 1e-12:
        raise ValueError(
            f"lr={lr} is below the smallest first step the line search takes (~2e-13, "
            f"in units of the Newton step of the data term); use lr in [1e-6, 1], e.g. 0.01."
        )
    return lr


def _check_n_components(m):
    """None (the exact model) or a positive integer number of landmarks."""
    if m is None:
        return None
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
        raise ValueError(
            f"n_components (the number of landmarks of the low-rank model) must be None (exact "
            f"model) or an integer >= 1; got {m!r}. Typical values: 500 to 2000."
        )
    return int(m)


def _check_landmarks(method):
    if method not in LANDMARK_METHODS:
        raise ValueError(f"landmarks must be one of {list(LANDMARK_METHODS)}; got {method!r}.")
    return method


def _check_random_state(rs) -> int:
    if isinstance(rs, bool) or not isinstance(rs, numbers.Integral) or rs < 0:
        raise ValueError(
            f"random_state (the seed of the landmark choice) must be an integer >= 0; got {rs!r}."
        )
    return int(rs)


#: The table. Order: FitConfig's field order (positional construction keeps working).
#: The search entries were measured on the book's data (``make_seed_data(n=200, seed=0)``, 150
#: train / 50 validation; ``benchmarks/bench_tuning_space.py``): with the data term on
#: standardised ``y`` and CKA in [0, 1], the trade-off happens for mu between ~0.03 (still plain
#: KRR) and ~3 (fully fair); mu = 10 and beyond only slows the solver, so mu is log-uniform over
#: [1e-3, 10] with its lowest decade mapped to 0 (a quarter of the draws are plain KRR); sigma
#: below ~0.3 over-fits these inputs (validation MSE 10x that of sigma = 1), hence its lower end.
HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(
        "sigma",
        1.0,
        _positive("sigma"),
        "bandwidth of the RBF kernel on X (> 0)",
        search=("log", 0.3, 5.0),
        positional=True,
    ),
    Hyperparameter(
        "lam",
        1e-2,
        _positive("lam", zero=True),
        "ridge strength lambda (>= 0), KernelRidge's alpha",
        search=("log", 1e-4, 1.0),
        positional=True,
    ),
    Hyperparameter(
        "mu",
        0.0,
        _positive("mu", zero=True),
        "fairness strength mu (>= 0); 0 is plain kernel ridge regression",
        search=("log_or_zero", 1e-2, 10.0),
        positional=True,
    ),
    Hyperparameter(
        "sigma_q",
        None,
        _positive("sigma_q", none=True),
        "bandwidth of the RBF kernel on q (> 0); None: median heuristic",
        search=("log", 0.1, 5.0),
        positional=True,
        annotation="float | None",
    ),
    Hyperparameter(
        "penalty", "cka", _choice("penalty", PENALTIES), "dependence penalty", annotation="str"
    ),
    Hyperparameter(
        "kernel_q", "rbf", _choice("kernel_q", KERNELS_Q), "kernel on q", annotation="str"
    ),
    Hyperparameter(
        "sigma_f",
        None,
        _positive("sigma_f", none=True),
        "bandwidth on the predictions of the CKA penalty (units of y); None: median heuristic",
        annotation="float | None",
    ),
    Hyperparameter(
        "tol",
        None,
        _positive("tol", none=True),
        "stopping tolerance of the iterative solver on the decrement; None: 1e-10",
        annotation="float | None",
    ),
    Hyperparameter(
        "epochs",
        300,
        _check_epochs,
        "maximum steps of the iterative (CKA) solver (integer >= 1)",
        scope="fit",
        fingerprint=None,
        search=("int", 50, 300, 50),
        annotation="int",
    ),
    Hyperparameter(
        "lr",
        0.01,
        _check_lr,
        "first step of the iterative solver, a fraction of the Newton step (in [1e-12, 1])",
        scope="fit",
        fingerprint=None,
        search=("log", 1e-3, 0.05),
    ),
    Hyperparameter(
        "dtype",
        "float32",
        _choice("dtype", DTYPES),
        "compute precision of kernels, closed-form solves and predictions",
        fingerprint=None,
        annotation="str",
    ),
    Hyperparameter(
        "kernel",
        "rbf",
        _check_kernel,
        "kernel on X (a key of fairkl.solvers.X_KERNELS)",
        scope="internal",
        fingerprint=None,
        annotation="str",
    ),
    Hyperparameter(
        "n_components",
        None,
        _check_n_components,
        "None: the exact model; m: the low-rank (Nystroem) model on m landmarks",
        fingerprint="low_rank",
        annotation="int | None",
    ),
    Hyperparameter(
        "landmarks",
        "uniform",
        _check_landmarks,
        "how the low-rank model chooses its landmarks",
        fingerprint="low_rank",
        annotation="str",
    ),
    Hyperparameter(
        "random_state",
        0,
        _check_random_state,
        "seed of the landmark choice (integer >= 0)",
        fingerprint="low_rank",
        annotation="int",
    ),
)

#: The rows by name.
BY_NAME: dict[str, Hyperparameter] = {h.name: h for h in HYPERPARAMETERS}

#: Constructor keywords of :class:`fairkl.models.FairKernelRidge`, in signature order.
MODEL_NAMES: tuple[str, ...] = tuple(h.name for h in HYPERPARAMETERS if h.scope == "model")

#: Constructor parameters of the scikit-learn estimators (the model's and its fit's).
ESTIMATOR_NAMES: tuple[str, ...] = tuple(
    h.name for h in HYPERPARAMETERS if h.scope in ("model", "fit")
)

#: Where the scikit-learn estimators' defaults differ from the table's, and why: scikit-learn
#: estimators compute in float64 (the Keras model follows Keras' float32 default).
ESTIMATOR_DEFAULTS: dict[str, Any] = {
    **{name: BY_NAME[name].default for name in ESTIMATOR_NAMES},
    "dtype": "float64",
}

#: The HyperModel's default search space (``fairkl.tuning.DEFAULT_SPACE``), from the table.
DEFAULT_SPACE: dict[str, tuple] = {h.name: h.search for h in HYPERPARAMETERS if h.search}


def defaults(names=None) -> dict:
    """``{name: default}`` for ``names`` (all rows when None)."""
    return {n: BY_NAME[n].default for n in (names or BY_NAME)}


def check(name: str, value):
    """``value`` validated by the row ``name`` (the error names the argument)."""
    return BY_NAME[name].check(value)


def check_all(values: dict) -> dict:
    """Every value validated by its row, then the rules that tie rows together.

    Returns the normalised values (floats, ints). Unknown names are a
    ``TypeError`` naming them, like an unexpected keyword.
    """
    unknown = set(values) - set(BY_NAME)
    if unknown:
        raise TypeError(f"unknown hyperparameter(s) {sorted(unknown)}; known: {sorted(BY_NAME)}.")
    out = {name: BY_NAME[name].check(value) for name, value in values.items()}
    m, kernel = out.get("n_components"), out.get("kernel", "rbf")
    if m is not None and kernel != "rbf":
        raise ValueError(
            f"n_components (the low-rank model) supports kernel='rbf' only; got kernel={kernel!r}. "
            f"Use n_components=None for the exact model."
        )
    return out


def fingerprint_names(low_rank: bool) -> tuple[str, ...]:
    """Names whose values make up a model's save fingerprint (see :attr:`Hyperparameter.fingerprint`)."""
    kinds = ("always", "low_rank") if low_rank else ("always",)
    return tuple(h.name for h in HYPERPARAMETERS if h.fingerprint in kinds)
