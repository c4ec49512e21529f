"""A KerasTuner tuner that evaluates trials in compiled batches, crash-safely."""

from __future__ import annotations

import os
import time
from typing import NamedTuple

import jax
import keras_tuner as kt

from fairkl import _validation as v
from fairkl._backend import x64_methods
from fairkl.tuning import persistence, programs
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

    With a ``RandomSearchOracle`` (whose proposals do not depend on results)
    KerasTuner's bookkeeping runs while the compiled fits do: a batch's fits
    are dispatched (JAX runs them asynchronously), the next batch is asked
    for, and the previous one is recorded and written meanwhile, using a
    second set of slots. The trials, their ids and values are the same as
    one batch at a time (tested). A 1,000-trial search spends ~1 s in that
    bookkeeping (``benchmarks/bench_tuning.py``). Trials a search left
    RUNNING in this tuner's slots (an interrupted or killed search) are
    queued again at the start of the next search and run first. (Here a
    batch's ``on_trial_begin`` calls come before the previous batch's
    ``on_trial_end`` calls.)

    Crash safety: every state file is written atomically, once per batch
    (:func:`fairkl.tuning.persistence.deferred_writes`: trial files first,
    ``oracle.json`` last; a kill loses at most the batches being evaluated:
    their trials are drawn again, or, if already written as RUNNING, run
    again), the project is
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
        check = _ConsecutiveFailures(self.oracle)
        if isinstance(self.oracle, kt.Oracle):  # not a distributed worker's client of the chief's
            self.oracle._check_consecutive_failures = check  # this oracle only, this search
        try:
            with persistence.atomic_writes(), programs.blas_limit(len(self.hypermodel.X_train)):
                self.on_search_begin()
                if persistence.distributed_mode():
                    self._search_in_turn()
                else:
                    self._requeue_own_running_trials()
                    if type(self.oracle) is kt.oracles.RandomSearchOracle:
                        self._search_pipelined()
                    else:
                        self._search_in_turn()
                self.on_search_end()
        finally:
            if self.oracle.__dict__.get("_check_consecutive_failures") is check:
                del self.oracle._check_consecutive_failures  # the class's method again
            persistence.release_lock(self._lock)
            self._lock = None

    def _search_in_turn(self):
        """Ask a batch, evaluate it, record it; again until STOPPED (any oracle)."""
        stopped = False
        while not stopped:
            with (
                persistence.deferred_writes()
            ):  # one write per trial file, one oracle.json per batch
                batch, stopped = self._ask()
                if batch:
                    self._record(batch, self._finish(self._start(batch)))
            if not batch and not stopped:
                time.sleep(0.01)  # IDLE with nothing of ours running: others are; ask again

    def _search_pipelined(self):
        """The loop of :meth:`_search_in_turn` with KerasTuner's bookkeeping beside the compiled fits.

        For an oracle whose proposals do not depend on results (random
        search), the next batch is asked for while this one's fits run, and
        this one is recorded (and written) while the next one's fits run
        (JAX dispatches them asynchronously). The trials, their ids and their
        values are those of :meth:`_search_in_turn` (tested); the two
        batches in flight use two sets of slots.
        """
        with persistence.deferred_writes():
            batch, stopped = self._ask()
            running = self._start(batch) if batch else None
        slots = 1
        while batch:
            with persistence.deferred_writes():
                following = []
                if not stopped:
                    following, stopped = self._ask(slots * self.batch_size)  # beside the fits
                results = self._finish(running)
                running = self._start(following) if following else None
                self._record(batch, results)  # beside the next fits (and so are the writes)
            batch, slots = following, 1 - slots
        if not stopped:  # an IDLE answer (not random search's): go on one batch at a time
            self._search_in_turn()

    def _requeue_own_running_trials(self):
        """Queue again the trials our slots left RUNNING (a killed or interrupted search).

        The oracle would hand each back only to the slot that drew it, and a
        search that has drawn ``max_trials`` stops before asking every slot;
        queued, they are handed out first.
        """
        oracle, prefix = self.oracle, f"{self.tuner_id}-slot"
        for slot in [t for t in oracle.ongoing_trials if str(t).startswith(prefix)]:
            trial = oracle.ongoing_trials.pop(slot)
            if trial.trial_id not in oracle._retry_queue:
                oracle._retry_queue.append(trial.trial_id)

    def _ask(self, first_slot: int = 0):
        """Up to ``batch_size`` RUNNING trials; also whether the oracle said STOPPED."""
        batch = []
        for j in range(first_slot, first_slot + self.batch_size):
            self.pre_create_trial()
            trial = self.oracle.create_trial(f"{self.tuner_id}-slot{j}")
            if trial.status == Status.STOPPED:
                return batch, True
            if trial.status == Status.IDLE:
                break
            batch.append(trial)
        return batch, False

    def _start(self, batch):
        """Begin the trials and dispatch their fits (:meth:`FairKernelRidgeHyperModel.start_batch`).

        A hypermodel whose ``evaluate_batch`` was overridden (by a subclass
        or on the instance) is evaluated by it instead, here and at once.
        """
        for trial in batch:
            self.on_trial_begin(trial)
        values = [t.hyperparameters.values for t in batch] + [batch[0].hyperparameters.values] * (
            self.batch_size - len(batch)
        )
        hm = self.hypermodel
        if "evaluate_batch" in vars(hm) or (
            type(hm).evaluate_batch is not FairKernelRidgeHyperModel.evaluate_batch
        ):
            return _Evaluated(hm.evaluate_batch(values))
        return hm.start_batch(values)

    def _finish(self, started) -> list:
        """The results of :meth:`_start`'s batch, one per trial (metrics, or the exception that failed it)."""
        if isinstance(started, _Evaluated):
            return started.results
        return self.hypermodel.finish_batch(started)

    def _record(self, batch, results):
        """Report each trial's metrics (or its failure) to the oracle and end it."""
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


class _Evaluated(NamedTuple):
    """Results of a batch evaluated at once (an overridden ``evaluate_batch``)."""

    results: list


class _ConsecutiveFailures:
    """KerasTuner's ``Oracle._check_consecutive_failures``, reading each ended trial once.

    The oracle calls it after appending each ended trial to ``end_order``, and
    KerasTuner's version rescans the whole list every time ("for thread
    safety"): quadratic in the number of trials (0.1 s over 1,000 trials,
    ~10 s over 10,000). This one scans the trials ended since its last call,
    carrying the current run of failures over; its first call scans them all,
    as KerasTuner's does (a resumed project's earlier trials included). It
    raises the same error at the same trial, because ``end_order`` only grows
    at its end and an ended trial keeps its status (tested against
    KerasTuner's method).
    """

    def __init__(self, oracle):
        self.oracle, self.seen, self.run = oracle, 0, 0

    def __call__(self) -> None:
        oracle = self.oracle
        order = oracle.end_order
        if len(order) < self.seen:  # the list was replaced (not by KerasTuner): scan it again
            self.seen, self.run = 0, 0
        for trial_id in order[self.seen :]:
            trial = oracle.trials[trial_id]
            self.seen += 1
            self.run = self.run + 1 if trial.status == Status.FAILED else 0
            if self.run == oracle.max_consecutive_failed_trials:
                raise RuntimeError(
                    "Number of consecutive failures exceeded the limit "
                    f"of {oracle.max_consecutive_failed_trials}.\n" + (trial.message or "")
                )


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
