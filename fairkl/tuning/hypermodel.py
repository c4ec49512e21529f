"""The KerasTuner HyperModel of :class:`fairkl.FairKernelRidge`, its search space, and refits."""

from __future__ import annotations

import contextlib
import gc
import math
import numbers
import sys
import types
import warnings
from collections.abc import Mapping

import keras_tuner as kt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fairkl import _validation as v
from fairkl import hyperparameters
from fairkl._backend import blas_limit, user_stacklevel, x64_methods, x64_scope
from fairkl.metrics.yardstick import Yardstick
from fairkl.models import FairKernelRidge
from fairkl.pipeline import FitConfig
from fairkl.sensitive import is_constant
from fairkl.tuning import persistence, programs

#: The default search space: the ``search`` entries of
#: :data:`fairkl.hyperparameters.HYPERPARAMETERS` (chosen from measurements on the book's
#: data, ``make_seed_data(n=200, seed=0)``, 150 train / 50 validation; see
#: ``benchmarks/bench_tuning_space.py`` and the table's comment).
#:
#: Each entry: ``("log", lo, hi)`` log-uniform float; ``("log_or_zero", lo,
#: hi)`` log-uniform on ``[lo/10, hi]`` with draws below ``lo`` meaning 0 (KerasTuner
#: has no mixture distribution); ``("linear", lo, hi, step)`` float on a grid;
#: ``("int", lo, hi, step)``; a plain number fixes the value; ``None`` (for
#: ``sigma_q`` only) means the model's median heuristic.
DEFAULT_SPACE = dict(hyperparameters.DEFAULT_SPACE)

#: The seed tutorial's space (mu on {0, ..., 20}: nearly every trial lands at the fair end).
SEED_SPACE = {**DEFAULT_SPACE, "sigma": ("log", 0.1, 5.0), "mu": ("linear", 0.0, 20.0, 1.0)}

METRICS = ("val_mse", "val_cka", "converged")
#: Hyperparameters a trial sets on FitConfig (the searched rows of the table), and those of them
#: that are FairKernelRidge's constructor arguments (the others, epochs and lr, are fit's).
TRIAL_FIELDS = tuple(DEFAULT_SPACE)
MODEL_FIELDS = tuple(k for k in TRIAL_FIELDS if k in hyperparameters.MODEL_NAMES)


def _declare(hp, name, spec):
    if spec is None and name == "sigma_q":
        return None  # the median heuristic: nothing to tune
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return hp.Fixed(name, spec)
    kind = spec[0] if isinstance(spec, tuple) and spec else None
    if kind == "log":
        return hp.Float(name, spec[1], spec[2], sampling="log")
    if kind == "log_or_zero":
        return hp.Float(name, spec[1] / 10.0, spec[2], sampling="log")
    if kind == "linear":
        return hp.Float(name, spec[1], spec[2], step=spec[3] if len(spec) > 3 else None)
    if kind == "int":
        return hp.Int(name, spec[1], spec[2], step=spec[3] if len(spec) > 3 else 1)
    raise ValueError(
        f"space[{name!r}] must be a number, a ('log'|'log_or_zero'|'linear'|'int', ...) tuple"
        + (" or None (median heuristic)" if name == "sigma_q" else "")
        + f"; got {spec!r}."
    )


def _encode_q(q_train, q_val, n_train: int, n_val: int):
    """Numeric ``q_train``, ``q_val`` (categorical columns one-hot, as the model encodes them).

    Each split is validated on its own first (messages name it). Categorical
    labels are then encoded on both splits together, so that both get the
    same columns even when a label is missing from one split.
    """
    # A bare pandas Categorical has no 2-D form: read it as its labels.
    q_train, q_val = (
        np.asarray(a, dtype=object) if type(a).__name__ == "Categorical" else a
        for a in (q_train, q_val)
    )
    qt = v.check_sensitive(q_train, n_train, "q_train", rows_of="X_train")
    qv = v.check_sensitive(q_val, n_val, "q_val", rows_of="X_val")
    if _numeric(q_train) and _numeric(q_val):
        return qt, qv
    if hasattr(q_train, "iloc") and hasattr(q_val, "iloc"):
        import pandas as pd

        both = pd.concat([q_train, q_val], ignore_index=True)
    else:
        a, b = np.asarray(q_train, dtype=object), np.asarray(q_val, dtype=object)
        both = np.concatenate([a.reshape(len(a), -1), b.reshape(len(b), -1)])
    q = v.check_sensitive(both, n_train + n_val, "q_train and q_val")
    return q[:n_train], q[n_train:]


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _numeric(q) -> bool:
    """True for a plain numeric array (no labels to encode)."""
    dtype = getattr(q, "dtype", None)
    if dtype is None or hasattr(q, "cat") or hasattr(q, "columns"):
        return False
    return np.issubdtype(dtype, np.number)


def _check_q(q, name):
    if is_constant(q):
        raise ValueError(
            f"{name} is constant: the CKA of any predictions with it is 0, so every trial would "
            f"report val_cka = 0 ('perfectly fair') whatever it does. Pass the sensitive attribute "
            f"that varies across samples (and a validation split that contains several of its values)."
        )


# ------------------------------------------------------------------ gc.freeze
_freeze_depth = 0
_scope = (
    0  # counts the frozen_gc scopes entered as owner (the hypermodel re-freezes once per scope)
)


@contextlib.contextmanager
def frozen_gc(collect: bool = True):
    """Run a stock KerasTuner search with the objects alive now moved out of the garbage collector's way.

    KerasTuner's ``Tuner`` runs two full ``gc.collect()`` before every trial;
    with JAX and Keras loaded each costs ~0.1-0.2 s, more than a compiled fit.
    ``gc.freeze()`` moves the objects alive at entry into a permanent
    generation that collections skip; the HyperModel freezes once more after
    the first trial of the scope, when the compiled programs exist. On exit
    (also when the body raises) the freeze is undone (``gc.unfreeze()``). If
    objects were already frozen at entry (by the caller, or an enclosing
    ``frozen_gc``) nothing is touched. Either way ``gc.get_freeze_count()`` is
    back to its value at entry; the collector's thresholds are never changed.

    A :class:`FairKernelRidgeHyperModel` given to a ``kt.Tuner`` applies this
    to each of that tuner's ``search()`` calls by itself (see
    ``fairkl.tuning.hypermodel.scope_gc_to_search``): wrapping a search in
    it is only needed for other hypermodels.

    Parameters
    ----------
    collect : bool, default True
        Run one full collection before freezing (garbage alive at entry is
        then not kept until the exit).

    Examples
    --------
    >>> with frozen_gc():                                   # doctest: +SKIP
    ...     kt.RandomSearch(hypermodel, ...).search()
    """
    global _freeze_depth, _scope
    if not isinstance(collect, bool):
        raise TypeError(f"collect must be True or False; got {collect!r}.")
    owner = _freeze_depth == 0 and gc.get_freeze_count() == 0
    if owner:
        _freeze_depth = 1
        _scope += 1
        if collect:
            gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        if owner:
            _freeze_depth = 0
            gc.unfreeze()


def _freeze_compiled_programs(hypermodel) -> None:
    """Inside :func:`frozen_gc`, freeze once more after a hypermodel's first trial (its programs now exist)."""
    if _freeze_depth and getattr(hypermodel, "_froze_in_scope", None) != _scope:
        hypermodel._froze_in_scope = _scope
        gc.freeze()


#: Methods of KerasTuner's tuners that call a hypermodel's ``declare_hyperparameters`` or ``build``.
_TUNER_CALLERS = ("_populate_initial_space", "_activate_all_conditions", "_build_hypermodel")


def _calling_tuner(hypermodel):
    """The ``kt.Tuner`` whose method (two to a few frames up) called ``hypermodel``, else None."""
    frame = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            return None
        if frame.f_code.co_name in _TUNER_CALLERS:
            tuner = frame.f_locals.get("self")
            if isinstance(tuner, kt.Tuner) and getattr(tuner, "hypermodel", None) is hypermodel:
                return tuner
            return None
        frame = frame.f_back
    return None


def _search_in_frozen_gc(tuner, *fit_args, **fit_kwargs):
    """``tuner.search(...)`` inside :func:`frozen_gc` (without its initial collection): undone when it returns or raises.

    For training sets of up to ``SMALL_N`` rows the search also runs with one
    BLAS thread (:func:`fairkl._backend.blas_limit`, restored on exit): the
    fits limit themselves anyway, and KerasTuner's Bayesian oracle fits its
    Gaussian process on a matrix of the trials so far, where OpenBLAS's
    spinning threads cost more than the work (on a busy 2-core machine, 12.9
    s of CPU for a 5-trial ``kt.BayesianOptimization`` search with them, 3.5
    s with one thread; same trials).
    """
    n = len(getattr(tuner.hypermodel, "X_train", ()))
    with frozen_gc(collect=False), blas_limit(n):
        return type(tuner).search(tuner, *fit_args, **fit_kwargs)


def scope_gc_to_search(tuner) -> None:
    """Make every ``tuner.search()`` run in :func:`frozen_gc` (an attribute of this tuner only; idempotent).

    KerasTuner's ``Tuner`` (RandomSearch, GridSearch, BayesianOptimization,
    Hyperband) runs two full ``gc.collect()`` before each trial; over the
    ~300k objects JAX, Keras and KerasTuner keep alive each costs ~0.1-0.2 s,
    more than a trial's fit. The HyperModel calls this when a tuner first
    calls it (at the tuner's construction), so the stock search is fast
    with no opt-in and nothing outlives the search: the freeze is undone in
    a ``finally`` when ``search`` returns or raises. Tuners of other classes
    (e.g. :class:`fairkl.tuning.BatchedTuner`, which collects nothing) are
    left alone.
    """
    if isinstance(tuner, kt.Tuner) and "search" not in vars(tuner):
        tuner.search = types.MethodType(_search_in_frozen_gc, tuner)


@x64_methods("__init__", "build", "fit", "evaluate_batch", "start_batch", "finish_batch")
class FairKernelRidgeHyperModel(kt.HyperModel):
    """HyperModel for :class:`fairkl.models.FairKernelRidge` with a train/validation split.

    Parameters
    ----------
    X_train, y_train, q_train, X_val, y_val, q_val : array-like
        Training and validation data; ``q`` is the sensitive attribute (not a
        column of ``X``). ``q_train`` and ``q_val`` must not be constant.
    space : dict, optional
        Overrides of :data:`DEFAULT_SPACE` (same keys and format).
    penalty : {"cka", "hsic"}, default "cka"
    dtype : {"float32", "float64"}, default "float64"
    model_options : dict, optional
        Further settings shared by every trial, passed as keywords to both
        :class:`FairKernelRidge` and :class:`fairkl.pipeline.FitConfig` (and
        validated by it now), e.g. ``{"kernel_q": "linear"}``.
    fits_per_call : int, default 16
        Fits per compiled call of the batched path (:meth:`evaluate_batch`):
        they run one after another inside the call (each stops on its own),
        so a larger group only saves dispatches; groups are padded with cheap
        ``mu = 0`` fits to a multiple of it (see ``fairkl.tuning.programs.dispatch``).
    freeze_gc : bool, default False
        No longer used (``True`` warns): a ``kt.Tuner`` given this hypermodel
        runs each ``search()`` inside :func:`frozen_gc` by itself, undone
        when the search returns or raises (``scope_gc_to_search``).

    Notes
    -----
    ``fit`` returns ``{"val_mse", "val_cka", "converged"}``. ``val_cka`` is the
    biased CKA between validation predictions and ``q_val`` with RBF
    bandwidths fixed once from the training data (median heuristic of
    ``y_train`` and ``q_train``), never the trial's own ``sigma_q``: every trial
    is measured with the same ruler. Non-convergence is recorded in
    ``converged`` (its ConvergenceWarning is silenced); every other warning
    (ill-conditioning, ...) is let through. Under ``kt.Hyperband`` the epoch
    budget ``tuner/epochs`` replaces ``epochs``. A trial whose metrics are not
    finite raises :class:`keras_tuner.errors.FailedTrialError`.

    No checkpoint is written per trial (except under Hyperband, which needs
    them), so ``tuner.get_best_models()`` is not available: refit the best
    hyperparameters with :func:`refit` — a fit takes milliseconds.

    Speed. A ``kt.Tuner`` given this hypermodel runs each ``search()`` with
    the heap frozen (:func:`frozen_gc`, undone when the search returns or
    raises): KerasTuner's two ``gc.collect()`` per trial then cost almost
    nothing. Trials with different hyperparameters share compiled programs;
    the first search of a process compiles them (seconds), later searches
    reuse them. To reuse them across processes too, turn on JAX's persistent
    compilation cache yourself before the first fit, e.g.
    ``jax.config.update("jax_compilation_cache_dir", ".jax_cache")`` (or the
    ``JAX_COMPILATION_CACHE_DIR`` environment variable) with
    ``jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)``.
    fairkl never turns it on: it writes files, and its folder is yours to
    choose.
    """

    def __init__(
        self,
        X_train,
        y_train,
        q_train,
        X_val,
        y_val,
        q_val,
        *,
        space=None,
        penalty="cka",
        dtype="float64",
        model_options=None,
        fits_per_call=16,
        freeze_gc=False,
        name=None,
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        self.X_train = v.check_X(X_train, "X_train")
        self.y_train = v.check_target(y_train, len(self.X_train), "y_train", rows_of="X_train")
        self.X_val = v.check_X(X_val, "X_val", min_samples=2)
        if self.X_val.shape[1] != self.X_train.shape[1]:
            raise ValueError(
                f"X_val has {self.X_val.shape[1]} features but X_train has {self.X_train.shape[1]}."
            )
        self.y_val = v.check_target(y_val, len(self.X_val), "y_val", rows_of="X_val")
        self.q_train, self.q_val = _encode_q(q_train, q_val, len(self.X_train), len(self.X_val))
        if self.q_val.shape[1] != self.q_train.shape[1]:
            raise ValueError(
                f"q_val has {self.q_val.shape[1]} columns but q_train has {self.q_train.shape[1]}."
            )
        _check_q(self.q_train, "q_train")
        _check_q(self.q_val, "q_val")
        unknown = set(space or {}) - set(DEFAULT_SPACE)
        if unknown:
            raise ValueError(
                f"space has unknown keys {sorted(unknown)}; known: {sorted(DEFAULT_SPACE)}."
            )
        self.space = {**DEFAULT_SPACE, **(space or {})}
        for key, spec in self.space.items():
            _declare(
                kt.HyperParameters(), key, spec
            )  # a malformed entry fails here, not mid-search
        #: Settings shared by every trial, passed as keywords to both FairKernelRidge and FitConfig.
        if model_options is not None and not isinstance(model_options, Mapping):
            raise TypeError(
                f"model_options must be a dict of settings or None; got {type(model_options).__name__}."
            )
        self.options = {"penalty": penalty, "dtype": dtype, **dict(model_options or {})}
        FitConfig(**self.options)  # validates them now (unknown keys: TypeError naming them)
        self.penalty, self.dtype = self.options["penalty"], self.options["dtype"]
        #: The one ruler of every trial's val_cka (bandwidths from the training data).
        self.yardstick = Yardstick.from_data(self.y_train, self.q_train, q_name="q_train")
        self._batch = None  # (config, prepared problem) of the batched path, built on first use
        self.fits_per_call = v.check_int(fits_per_call, "fits_per_call")
        if freeze_gc:
            warnings.warn(
                "freeze_gc is no longer used: a kt.Tuner given this hypermodel runs each search() "
                "inside fairkl.tuning.frozen_gc() by itself (undone when the search returns or "
                "raises).",
                FutureWarning,
                stacklevel=user_stacklevel(),
            )

    @property
    def sigma_pred(self) -> float:
        """Alias of ``yardstick.sigma_pred`` (kept for code written before :attr:`yardstick`)."""
        return self.yardstick.sigma_pred

    @property
    def sigma_q_yardstick(self) -> float:
        """Alias of ``yardstick.sigma_q`` (kept for code written before :attr:`yardstick`)."""
        return self.yardstick.sigma_q

    # ---------------------------------------------------------- the space
    def declare_hyperparameters(self, hp):
        """Declare the space on ``hp``; a calling ``kt.Tuner`` gets its searches scoped in :func:`frozen_gc`.

        KerasTuner calls this (and :meth:`build`) when the tuner is built;
        the tuner's ``search`` then runs with the heap frozen and unfrozen
        at its end (``scope_gc_to_search``).
        """
        tuner = _calling_tuner(self)
        if tuner is not None:
            scope_gc_to_search(tuner)
        return {name: _declare(hp, name, spec) for name, spec in self.space.items()}

    def values_used(self, values: dict) -> dict:
        """The hyperparameters a trial's sampled ``values`` mean for the model.

        Maps ``log_or_zero`` draws below their ``lo`` to 0, ``sigma_q=None`` to
        the model's median heuristic, and Hyperband's ``tuner/epochs`` to
        ``epochs``.
        """
        out = {}
        for name, spec in self.space.items():
            value = values.get(name, spec if not isinstance(spec, tuple) else None)
            if (
                isinstance(spec, tuple)
                and spec[0] == "log_or_zero"
                and value is not None
                and value < spec[1]
            ):
                value = 0.0
            out[name] = value
        if "tuner/epochs" in values:
            out["epochs"] = values["tuner/epochs"]
        return out

    def _check_raw(self, values):
        """Refuse a non-number, or a negative/non-finite ``log_or_zero`` value, naming it."""
        if not isinstance(values, Mapping):
            raise TypeError(
                f"values must be a dict of hyperparameters; got {type(values).__name__}."
            )
        for name in TRIAL_FIELDS:
            value = values.get(name)
            if value is None:
                continue
            if not _is_real(value):
                raise TypeError(f"{name} must be a real number; got {value!r}.")
            spec = self.space.get(name)
            if isinstance(spec, tuple) and spec[0] == "log_or_zero" and not 0 <= value < math.inf:
                raise ValueError(f"{name} must be finite and >= 0; got {value}.")
        return values

    def check_values(self, values: dict) -> dict:
        """Validate a trial's values with :class:`fairkl.pipeline.FitConfig`; returns :meth:`values_used`.

        Raises FitConfig's own ``ValueError``/``TypeError`` for an invalid value
        (the rules and messages every fit uses). A value must be a number
        (``sigma_q`` may be None); a negative or non-finite ``log_or_zero`` value
        is refused before the "below ``lo`` means 0" rule could turn it into 0.
        """
        used = self.values_used(self._check_raw(values))
        epochs = used["epochs"]
        if isinstance(epochs, float) and epochs.is_integer():
            used["epochs"] = int(epochs)
        self.config(used)
        return used

    def config(self, used: dict) -> FitConfig:
        """The validated :class:`FitConfig` of a trial's :meth:`values_used` (with :attr:`options`)."""
        return FitConfig(**{k: used[k] for k in TRIAL_FIELDS}, **self.options)

    def make_model(self, used: dict) -> FairKernelRidge:
        """An unfitted :class:`FairKernelRidge` with a trial's hyperparameters and :attr:`options`."""
        return FairKernelRidge(**{k: used[k] for k in MODEL_FIELDS}, **self.options)

    def fingerprint(self) -> dict:
        """Digests of the space, the settings and the data (a resumed project must match them)."""
        settings = {
            "space": self.space,
            **self.options,
        }  # {"space", "penalty", "dtype"} without model_options
        data = {
            "X_train": self.X_train,
            "y_train": self.y_train,
            "q_train": self.q_train,
            "X_val": self.X_val,
            "y_val": self.y_val,
            "q_val": self.q_val,
        }
        return persistence.fingerprint(settings, data)

    # ------------------------------------------------------------ stock path
    def build(self, hp):
        tuner = _calling_tuner(self)
        if (
            tuner is not None
        ):  # e.g. a tuner reloaded from its project (its __init__ declared nothing)
            scope_gc_to_search(tuner)
        self.declare_hyperparameters(hp)
        # Raw values only (a str, a negative mu); fit-time settings FitConfig refuses (epochs,
        # lr) fail their trial in fit, as on the batched path.
        return self.make_model(self.values_used(self._check_raw(hp.values)))

    def fit(self, hp, model, *args, **kwargs):
        used = self.check_values(hp.values)
        with warnings.catch_warnings():
            # Only non-convergence is silenced: it is reported as the `converged` metric.
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            with programs.blas_limit(
                len(self.X_train)
            ):  # OpenBLAS's spinning threads (see programs)
                model.fit(
                    self.X_train, self.y_train, q=self.q_train, epochs=used["epochs"], lr=used["lr"]
                )
        metrics = self._metrics(model.predict(self.X_val), model.converged_)
        if "tuner/trial_id" in hp.values or "tuner/epochs" in hp.values:
            # Hyperband continues earlier trials from their checkpoints: let its
            # callbacks (public Keras Callback methods) save this model. Other
            # tuners skip the ~16 ms write. FairKernelRidge.fit has no callbacks
            # argument, hence the calls here.
            for callback in kwargs.get("callbacks", []):
                callback.set_model(model)
                callback.on_epoch_end(0, logs=metrics)
        _freeze_compiled_programs(self)
        return metrics

    def _metrics(self, pred, converged) -> dict:
        pred = np.asarray(pred, dtype=np.float64)
        mse = float(np.mean((pred - self.y_val) ** 2))
        if not (math.isfinite(mse) and np.all(np.isfinite(pred))):
            raise kt.errors.FailedTrialError(
                f"non-finite validation metrics (val_mse={mse}, val_cka=nan): the fit diverged."
            )
        cka = self.yardstick.score(pred, self.q_val, q_name="q_val")
        return {"val_mse": mse, "val_cka": cka, "converged": float(bool(converged))}

    # ---------------------------------------------------------- batched path
    def evaluate_batch(self, values: list[dict]) -> list[dict | Exception]:
        """Fit and validate many hyperparameter settings in compiled calls (groups of ``fits_per_call``).

        Each setting is first validated as the model would (:meth:`check_values`);
        returns, per setting, the metrics dict of ``fit`` or the exception that
        marks it failed. The fits run with one BLAS thread up to
        ``SMALL_N`` training rows (``fairkl.tuning.programs.blas_limit``).
        """
        with programs.blas_limit(len(self.X_train)):
            return self.finish_batch(self.start_batch(values))

    def start_batch(self, values: list[dict]):
        """The first half of :meth:`evaluate_batch`: validate the settings and dispatch their fits.

        The exact model's compiled calls are dispatched asynchronously (JAX),
        so the caller may do other work until :meth:`finish_batch` collects
        them; the low-rank model's fits run here, one model at a time. Hold
        ``fairkl.tuning.programs.blas_limit`` over both halves.
        """
        if self.penalty != "cka":
            raise NotImplementedError("evaluate_batch supports penalty='cka' (the seed's model).")
        checked = []
        for d in values:
            try:
                checked.append(self.check_values(d))
            except (ValueError, TypeError) as exc:
                checked.append(kt.errors.FailedTrialError(f"invalid hyperparameters {d}: {exc}"))
        valid = [c for c in checked if isinstance(c, dict)]
        if not valid:
            return checked, None
        if self.options.get("n_components") is not None:  # the low-rank model: one fit per setting
            return checked, self._fit_each(valid)
        if self._batch is None:
            self._batch = programs.prepare_search(
                self.X_train, self.y_train, self.q_train, self.options, self.X_val
            )
        return checked, programs.dispatch(self._batch, valid, len(values), self.fits_per_call)

    def finish_batch(self, started) -> list[dict | Exception]:
        """The second half of :meth:`evaluate_batch`: wait for the fits, score them, one result per setting."""
        checked, running = started
        if running is None:
            return checked
        if isinstance(running, programs.Dispatched):
            preds, converged, _ = programs.collect(running)
        else:
            preds, converged = running
        rows = [k for k in range(len(preds)) if np.all(np.isfinite(preds[k]))]
        ckas = (
            dict(
                zip(
                    rows,
                    self.yardstick.score_rows(preds[rows], self.q_val, q_name="q_val"),
                    strict=False,
                )
            )
            if rows
            else {}
        )
        out, k = [], 0
        for c in checked:
            if isinstance(c, Exception):
                out.append(c)
                continue
            mse = float(np.mean((preds[k] - self.y_val) ** 2))
            if k in ckas and math.isfinite(mse) and math.isfinite(ckas[k]):
                out.append(
                    {
                        "val_mse": mse,
                        "val_cka": float(ckas[k]),
                        "converged": float(bool(converged[k])),
                    }
                )
            else:
                out.append(
                    kt.errors.FailedTrialError(
                        f"non-finite validation metrics (val_mse={mse}, val_cka={ckas.get(k, math.nan)}): "
                        f"the fit diverged."
                    )
                )
            k += 1
        return out

    def _fit_each(self, used: list[dict]):
        """Validation predictions and converged flags of settings fitted one model at a time (as ``fit`` does)."""
        preds, converged = [], []
        for u in used:
            model = self.make_model(u)
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", category=ConvergenceWarning
                )  # reported as `converged`
                model.fit(
                    self.X_train, self.y_train, q=self.q_train, epochs=u["epochs"], lr=u["lr"]
                )
            preds.append(np.asarray(model.predict(self.X_val), dtype=np.float64).ravel())
            converged.append(bool(model.converged_))
        return np.stack(preds), np.array(converged)


@x64_scope
def refit(hypermodel: FairKernelRidgeHyperModel, values: dict) -> FairKernelRidge:
    """Fit a :class:`FairKernelRidge` on the hypermodel's training data with a trial's hyperparameters."""
    if not isinstance(hypermodel, FairKernelRidgeHyperModel):
        raise TypeError(
            f"hypermodel must be a FairKernelRidgeHyperModel; got {type(hypermodel).__name__}."
        )
    used = hypermodel.check_values(values)
    model = hypermodel.make_model(used)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)  # see model.converged_
        return model.fit(
            hypermodel.X_train,
            hypermodel.y_train,
            q=hypermodel.q_train,
            epochs=used["epochs"],
            lr=used["lr"],
        )
