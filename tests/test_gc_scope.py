"""The stock KerasTuner search is fast with no opt-in, and leaves the garbage collector as it found it.

KerasTuner's ``Tuner`` runs two full ``gc.collect()`` per trial. A
``FairKernelRidgeHyperModel`` makes each ``search()`` of the tuner that
uses it run with the heap frozen (``fairkl.tuning.frozen_gc``), undone when
the search returns or raises. The checks are relative to the state at the
start of each test (whatever earlier tests left), never to absolute counts
of the heap.
"""

import gc

import keras_tuner as kt
import pytest

from fairkl.datasets import make_seed_data
from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel
from fairkl.tuning.hypermodel import frozen_gc

OBJ = kt.Objective("val_mse", "min")


class Stop(BaseException):
    """Like KeyboardInterrupt (not an Exception: KerasTuner does not catch it), without pytest's handling."""


class Recording(FairKernelRidgeHyperModel):
    """Records the collector's state in each trial; raises ``raise_at`` at trial number ``at`` (1-based)."""

    raise_at, at = None, 0

    def fit(self, hp, model, *args, **kwargs):
        self.seen.append((gc.get_freeze_count(), gc.get_threshold()))
        if self.raise_at is not None and len(self.seen) == self.at:
            raise self.raise_at
        return super().fit(hp, model, *args, **kwargs)


@pytest.fixture(scope="module")
def split():
    X, y, q = make_seed_data(n=120, seed=0)
    return X[:90], y[:90], q[:90], X[90:], y[90:], q[90:]


def recording(split, raise_at=None, at=0):
    hm = Recording(*split)
    hm.seen, hm.raise_at, hm.at = [], raise_at, at
    return hm


def state():
    return gc.get_freeze_count(), gc.get_threshold(), gc.isenabled()


def test_stock_search_freezes_during_and_restores_after(split, tmp_path):
    hm = recording(split)
    tuner = kt.RandomSearch(
        hm, objective=OBJ, max_trials=3, seed=1, directory=tmp_path, project_name="p"
    )
    before = state()
    tuner.search(verbose=0)
    assert state() == before
    assert len(hm.seen) == 3
    assert all(threshold == before[1] for _, threshold in hm.seen)  # thresholds never touched
    if before[0] == 0:  # nothing frozen at the start: the search owned the freeze
        assert all(count > 0 for count, _ in hm.seen), hm.seen
    # a second search on the same tuner is scoped again
    tuner.oracle.max_trials = 5
    tuner.search(verbose=0)
    assert state() == before
    assert len(hm.seen) == 5


@pytest.mark.parametrize(
    "error", [Stop(), kt.errors.FatalValueError("fatal")], ids=["BaseException", "FatalError"]
)
def test_a_search_that_raises_restores_the_collector(split, tmp_path, error):
    hm = recording(split, raise_at=error, at=2)
    tuner = kt.RandomSearch(
        hm, objective=OBJ, max_trials=4, seed=1, directory=tmp_path, project_name="p"
    )
    before = state()
    with pytest.raises(type(error)):
        tuner.search(verbose=0)
    assert state() == before
    assert len(hm.seen) == 2


def test_failing_trials_abort_the_search_and_restore_the_collector(split, tmp_path):
    # KerasTuner raises RuntimeError after max_consecutive_failed_trials failed trials.
    hm = recording(split, raise_at=kt.errors.FailedTrialError("bad"), at=1)
    hm.fit = lambda hp, model, *a, **k: (_ for _ in ()).throw(kt.errors.FailedTrialError("bad"))
    tuner = kt.RandomSearch(
        hm,
        objective=OBJ,
        max_trials=5,
        seed=1,
        directory=tmp_path,
        project_name="p",
        max_consecutive_failed_trials=2,
    )
    before = state()
    with pytest.raises(RuntimeError, match="consecutive failures"):
        tuner.search(verbose=0)
    assert state() == before


def test_a_freeze_owned_by_the_caller_is_left_to_it(split, tmp_path):
    hm = recording(split)
    tuner = kt.RandomSearch(
        hm, objective=OBJ, max_trials=2, seed=1, directory=tmp_path, project_name="p"
    )
    before = state()
    with frozen_gc():
        inside = state()
        tuner.search(verbose=0)
        # the search did not unfreeze the caller's objects (the hypermodel may have frozen its new programs too)
        assert state()[0] >= inside[0] and state()[1:] == inside[1:]
    assert state() == before


def test_a_reloaded_tuner_is_scoped_from_its_next_search(split, tmp_path):
    hm = recording(split)
    kt.RandomSearch(
        hm, objective=OBJ, max_trials=2, seed=1, directory=tmp_path, project_name="p"
    ).search(verbose=0)
    hm2 = recording(split)
    tuner = kt.RandomSearch(
        hm2, objective=OBJ, max_trials=3, seed=1, directory=tmp_path, project_name="p"
    )
    before = state()
    tuner.search(
        verbose=0
    )  # KerasTuner calls build() inside this search: the scope starts with the next one
    assert "search" in vars(tuner)
    assert state() == before


def test_batched_tuner_is_not_wrapped(split, tmp_path):
    hm = FairKernelRidgeHyperModel(*split)
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=2, seed=1)
    tuner = BatchedTuner(hm, oracle, batch_size=2, directory=tmp_path, project_name="b")
    assert "search" not in vars(tuner)  # it runs no gc.collect(): nothing to freeze


def _blas_threads():
    from threadpoolctl import threadpool_info

    return sorted(
        (lib["filepath"], lib["num_threads"])
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    )


def test_stock_search_runs_with_one_blas_thread_and_restores_them(split, tmp_path):
    """KerasTuner's oracles (the Bayesian one fits a Gaussian process per trial) run between the
    fits; on a small training set the scoped search limits BLAS to one thread, then restores it."""
    from threadpoolctl import threadpool_limits

    seen = []

    class Counting(FairKernelRidgeHyperModel):
        def fit(self, hp, model, *args, **kwargs):
            seen.append(_blas_threads())
            return super().fit(hp, model, *args, **kwargs)

    with threadpool_limits(limits=2, user_api="blas"):  # a known state to come back to
        before = _blas_threads()
        assert before and all(t == 2 for _, t in before), before
        tuner = kt.BayesianOptimization(
            Counting(*split), objective=OBJ, max_trials=3, seed=1, directory=tmp_path,
            project_name="p",
        )  # fmt: skip
        tuner.search(verbose=0)
        assert len(seen) == 3
        assert all(t == 1 for trial in seen for _, t in trial), seen
        assert _blas_threads() == before
