"""A KerasTuner tuner that evaluates trials in compiled batches, crash-safely."""

from __future__ import annotations

import os
import time

import jax
import keras_tuner as kt

from fairkl import _validation as v
from fairkl._backend import x64_methods
from fairkl.tuning import persistence
from fairkl.tuning.hypermodel import FairKernelRidgeHyperModel, refit

Status = kt.engine.trial.TrialStatus


@x64_methods("__init__", "search", "load_model")
class BatchedTuner(kt.engine.base_tuner.BaseTuner):
    """Evaluate trials from any KerasTuner oracle in compiled batches, each fit stopping on its own.

    Parameters
    ----------
    hypermodel : FairKernelRidgeHyperModel
    oracle : keras_tuner Oracle
        E.g. ``kt.oracles.RandomSearchOracle(objective=kt.Objective("val_mse", "min"),
        max_trials=1000, seed=1)``; grid search, Bayesian optimisation and
        Hyperband oracles work too. The oracle is used as given (its
        ``max_consecutive_failed_trials`` applies, as in a stock tuner).
    batch_size : int, default 16
        Trials asked from the oracle, evaluated and written to disk at a time
        (a short batch is padded, so shapes never change). The hypermodel's
        ``fits_per_call`` sets how many of them share one compiled call.
    directory, project_name, overwrite
        As for KerasTuner tuners; ``overwrite=False`` resumes.

    Notes
    -----
    The search follows KerasTuner's ``BaseTuner.search``
    with ``batch_size`` virtual workers: each batch slot asks the oracle for a
    trial under its own tuner id (``"<tuner_id>-slot<j>"``), as the workers of
    KerasTuner's distributed mode do, so the oracle can hand out several
    trials at once. An ``IDLE`` answer (the oracle waits for running trials,
    e.g. a grid or a Hyperband round) ends the batch being collected: it is
    evaluated, and the oracle is asked again; only ``STOPPED`` ends the
    search. The tuner hooks ``on_search_begin/end``, ``pre_create_trial`` and
    ``on_trial_begin/end`` are called as the stock loop calls them.

    Crash safety: every state file is written atomically, once per batch
    (:func:`fairkl.tuning.persistence.deferred_writes`: trial files first,
    ``oracle.json`` last; a kill loses at most the batch being evaluated,
    whose trials were not recorded and are drawn again), the project is
    repaired before a resume (see :func:`fairkl.tuning.persistence.repair_project`),
    a project started with another space or other data is refused, and one
    process at a time may write the project (an ``fcntl`` lock beside it,
    released when the process exits; skipped in distributed mode).
    """

    def __init__(
        self,
        hypermodel,
        oracle,
        batch_size: int = 16,
        directory=None,
        project_name=None,
        overwrite=False,
        **kwargs,
    ):
        if not isinstance(hypermodel, FairKernelRidgeHyperModel):
            raise TypeError(
                f"hypermodel must be a FairKernelRidgeHyperModel; got {type(hypermodel).__name__}."
            )
        self.batch_size = v.check_int(batch_size, "batch_size")
        _check_batched_options(hypermodel)  # before any trial is created (else it is left RUNNING)
        project_dir = os.path.join(str(directory or "."), str(project_name or "untitled_project"))
        self._fingerprint = hypermodel.fingerprint()
        self._lock = persistence.acquire_lock(project_dir)
        try:
            if not overwrite:
                persistence.check_fingerprint(project_dir, self._fingerprint)
                persistence.repair_project(project_dir, oracle)
            with persistence.atomic_writes():
                super().__init__(
                    oracle,
                    hypermodel,
                    directory=directory,
                    project_name=project_name,
                    overwrite=overwrite,
                    **kwargs,
                )
                persistence.write_fingerprint(self.project_dir, self._fingerprint)
        except BaseException:
            persistence.release_lock(self._lock)
            raise

    # ------------------------------------------------------------------ the loop
    def search(self, *fit_args, **fit_kwargs):
        """Run until the oracle answers STOPPED.

        ``verbose`` (default 0: thousands of trials) is passed to the oracle's
        display as the stock tuners do; other arguments are ignored (the data
        live in the hypermodel).
        """
        verbose = fit_kwargs.get("verbose", 0)
        if isinstance(verbose, bool) or not isinstance(verbose, int) or verbose < 0:
            raise TypeError(f"verbose must be an integer >= 0 (0: silent); got {verbose!r}.")
        self.oracle.verbose = verbose
        if persistence.distributed_mode() and "chief" in os.environ.get("KERASTUNER_TUNER_ID", ""):
            return super().search(*fit_args, **fit_kwargs)  # the chief only serves the oracle
        if self._lock is None and not persistence.distributed_mode():
            self._lock = persistence.acquire_lock(self.project_dir)
        try:
            with persistence.atomic_writes():
                self.on_search_begin()
                stopped = False
                while not stopped:
                    with (
                        persistence.deferred_writes()
                    ):  # one write per trial file, one oracle.json per batch
                        batch, stopped = self._ask()
                        if batch:
                            self._run_batch(batch)
                    if not batch and not stopped:
                        time.sleep(0.01)  # IDLE with nothing of ours running: others are; ask again
                self.on_search_end()
        finally:
            persistence.release_lock(self._lock)
            self._lock = None

    def _ask(self):
        """Up to ``batch_size`` RUNNING trials; also whether the oracle said STOPPED."""
        batch = []
        for j in range(self.batch_size):
            self.pre_create_trial()
            trial = self.oracle.create_trial(f"{self.tuner_id}-slot{j}")
            if trial.status == Status.STOPPED:
                return batch, True
            if trial.status == Status.IDLE:
                break
            batch.append(trial)
        return batch, False

    def _run_batch(self, batch):
        for trial in batch:
            self.on_trial_begin(trial)
        results = self.hypermodel.evaluate_batch(
            [t.hyperparameters.values for t in batch]
            + [batch[0].hyperparameters.values] * (self.batch_size - len(batch))
        )
        for trial, res in zip(batch, results, strict=False):
            if isinstance(res, Exception):
                trial.status = Status.FAILED
                trial.message = str(res)
            else:
                self.oracle.update_trial(trial.trial_id, res)
                trial.status = Status.COMPLETED
            self.on_trial_end(trial)

    def on_trial_end(self, trial):
        """End the trial in the oracle (which saves it); the tuner file is saved once per search."""
        self.oracle.end_trial(trial)

    def on_search_end(self):
        self.save()

    def load_model(self, trial):
        """Refit the trial's model (models are cheap to refit; none is stored)."""
        return refit(self.hypermodel, trial.hyperparameters.values)


def _check_batched_options(hypermodel: FairKernelRidgeHyperModel) -> None:
    """Refuse, naming the setting, what the batched path cannot evaluate as ``refit`` would build it."""
    options = hypermodel.options
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            "BatchedTuner fits in float64, but jax_enable_x64 is off (FAIRKL_ENABLE_X64=0 was set "
            "before importing fairkl): its trials would silently run in float32. Unset it, or call "
            "jax.config.update('jax_enable_x64', True)."
        )
    if hypermodel.penalty != "cka":
        raise ValueError(
            f"BatchedTuner evaluates the CKA penalty only; the hypermodel has penalty="
            f"{hypermodel.penalty!r}. Use penalty='cka', or run a stock KerasTuner tuner "
            f"(e.g. kt.RandomSearch(hypermodel, ...)), which fits any penalty one trial at a time."
        )
    m = options.get("n_components")
    if m is not None and m > len(hypermodel.X_train):
        raise ValueError(
            f"model_options n_components={m} exceeds the {len(hypermodel.X_train)} training rows: "
            f"the low-rank model takes its landmarks from them. Use n_components <= "
            f"{len(hypermodel.X_train)}, or None for the exact model."
        )
    if m is None and options.get("dtype") != "float64":
        raise ValueError(
            f"BatchedTuner's compiled batches fit in float64, so dtype={options.get('dtype')!r} would "
            f"score each trial with another model than the one `refit` builds. Use dtype='float64' "
            f"(the default), or a stock KerasTuner tuner for float32 fits."
        )
