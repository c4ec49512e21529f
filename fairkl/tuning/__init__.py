"""KerasTuner integration: a fast HyperModel, a batched tuner, crash-safe projects, multi-objective tools.

* :class:`FairKernelRidgeHyperModel` works with every stock tuner
  (``kt.RandomSearch``, ``kt.GridSearch``, ``kt.BayesianOptimization``,
  ``kt.Hyperband``) with the usual call. Each trial is one compiled fit (no
  recompilation between trials) and reports ``val_mse`` and ``val_cka``, the
  latter on one fixed yardstick for every trial. Its default space
  (:data:`DEFAULT_SPACE`) spans the accuracy/fairness trade-off.
* :class:`BatchedTuner` asks any KerasTuner oracle for batches of trials,
  fits them through the fit pipeline (:func:`fairkl.pipeline.prepare` once,
  :func:`fairkl.solvers.fit_cka_batch` and the predictions in one compiled call per
  group of ``fits_per_call`` fits, each fit stopping on its own)
  and scores them on one :class:`fairkl.metrics.Yardstick`; its project
  directory is crash-safe (atomic writes once per batch, repair on resume,
  one writer at a time).
* :func:`safe_project` gives a stock tuner the same crash safety;
  :class:`FairKernelRidgeHyperModel` runs a stock tuner's ``search()`` with the heap
  frozen (KerasTuner calls ``gc.collect()`` twice per trial), undone when it
  returns or raises; :func:`frozen_gc` does the same around any other block.
* :func:`trials_table`, :func:`pareto_trials`, :func:`best_within_budget`,
  :func:`hypervolume_curve`, :func:`plot_trials` and :func:`plot_hypervolume`
  turn a tuner's trials into a Pareto front (KerasTuner itself only sums
  objectives).

KerasTuner APIs outside its documented surface that remain, and why:

* ``keras_tuner.src.utils.save_json`` is replaced during a search
  (:func:`persistence.atomic_writes`, restored when the search returns or raises): it
  is the one function through which KerasTuner writes ``oracle.json``, ``trial.json``
  and the tuner file, and KerasTuner has no hook to make those writes atomic. The
  replacement holds for the whole process while the search runs, not for its thread
  only: a distributed chief's oracle writes from its gRPC server's threads.
* The oracle's state layout (the dict of ``Oracle.get_state``, stored as
  ``oracle.json``) and its hash of trial values (``Oracle._compute_values_hash``,
  re-implemented and tested): :func:`repair_project` edits the file before a
  resume, because a stale state can only be corrected before KerasTuner
  reloads it.
* Not private, but worth knowing: :class:`BatchedTuner` asks for a batch of
  trials under one tuner id per slot (``create_trial(tuner_id)`` hands out
  one trial per id, the contract KerasTuner's distributed workers rely on),
  and under Hyperband the HyperModel calls the checkpoint callbacks'
  ``set_model``/``on_epoch_end`` itself (``FairKernelRidge.fit`` has no
  ``callbacks`` argument). ``oracle.end_order`` is no longer read, and
  ``BaseTuner.search`` is no longer replaced by a loop without its hooks.

KerasTuner's version is checked when this package is imported (:func:`check_keras_tuner_version`,
in ``persistence``): a
release outside :data:`KERAS_TUNER_SUPPORTED` raises an ``ImportError`` naming it.

Layout: ``hypermodel`` (space, HyperModel, refit), ``programs`` (the batched
fits, through the pipeline), ``batched`` (the tuner), ``persistence`` (crash
safety), ``tables`` (results; :func:`best_within_budget` applies
:func:`fairkl.metrics.selection.best_within_budget`).
"""

from fairkl.tuning.batched import BatchedTuner
from fairkl.tuning.hypermodel import (
    DEFAULT_SPACE,
    SEED_SPACE,
    FairKernelRidgeHyperModel,
    frozen_gc,
    refit,
)
from fairkl.tuning.persistence import (
    KERAS_TUNER_SUPPORTED,
    ProjectLockedError,
    check_keras_tuner_version,
    repair_project,
    safe_project,
)
from fairkl.tuning.tables import (
    best_within_budget,
    hypervolume_curve,
    pareto_trials,
    plot_hypervolume,
    plot_trials,
    trials_table,
)

__all__ = [
    "DEFAULT_SPACE",
    "SEED_SPACE",
    "FairKernelRidgeHyperModel",
    "BatchedTuner",
    "refit",
    "frozen_gc",
    "safe_project",
    "repair_project",
    "ProjectLockedError",
    "KERAS_TUNER_SUPPORTED",
    "check_keras_tuner_version",
    "trials_table",
    "pareto_trials",
    "best_within_budget",
    "hypervolume_curve",
    "plot_trials",
    "plot_hypervolume",
]
