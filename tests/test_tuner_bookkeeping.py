"""The batched tuner's cheaper KerasTuner bookkeeping, against KerasTuner's own code.

* ``batched._ConsecutiveFailures`` reads each ended trial once, where
  KerasTuner's ``Oracle._check_consecutive_failures`` rescans them all at each
  trial end: both are run on the same random histories (a resumed prefix, then
  trials ended one at a time) and must raise at the same trial with the same
  message.
* ``persistence.deferred_writes`` holds a KerasTuner object saved in the block
  and serialises it once, at the end: the file then holds the state its last
  save would have written.
"""

import json
import types
from functools import partial

import keras_tuner as kt
import numpy as np
import pytest
import threadpoolctl
from keras_tuner.src.engine.oracle import Oracle
from keras_tuner.src.engine.stateful import Stateful

from fairkl.datasets import make_seed_data
from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel, persistence, programs
from fairkl.tuning.batched import _ConsecutiveFailures

FAILED, COMPLETED = kt.engine.trial.TrialStatus.FAILED, kt.engine.trial.TrialStatus.COMPLETED


def _first_raise(check, oracle, statuses, resumed):
    """(index of the trial whose end raised, message), or (None, None): trials ended one at a time."""
    oracle.end_order, oracle.trials = [], {}
    for i, status in enumerate(statuses):
        tid = f"{i:03d}"
        oracle.trials[tid] = types.SimpleNamespace(status=status, message=f"trial {tid} failed")
        oracle.end_order.append(tid)
        if i < resumed:
            continue  # ended in an earlier search (a resumed project): no check ran then
        try:
            check()
        except RuntimeError as exc:
            return i, str(exc)
    return None, None


def test_consecutive_failures_raise_where_keras_tuners_check_raises():
    rng = np.random.default_rng(0)
    raised = 0
    for case in range(400):
        n = int(rng.integers(1, 40))
        statuses = [FAILED if f else COMPLETED for f in rng.random(n) < rng.uniform(0.2, 0.9)]
        limit = int(rng.integers(0, 6))
        resumed = int(rng.integers(0, n)) if case % 3 == 0 else 0
        ours = types.SimpleNamespace(max_consecutive_failed_trials=limit)
        stock = types.SimpleNamespace(max_consecutive_failed_trials=limit)
        got = _first_raise(_ConsecutiveFailures(ours), ours, statuses, resumed)
        want = _first_raise(
            partial(Oracle._check_consecutive_failures, stock), stock, statuses, resumed
        )
        assert got == want, (statuses, limit, resumed)
        raised += want[0] is not None
    assert 100 < raised < 380  # both outcomes are exercised


def test_batched_search_stops_after_the_oracles_limit_of_failures_and_restores_its_method(tmp_path):
    X, y, q = make_seed_data(n=60, seed=0)
    hm = FairKernelRidgeHyperModel(X[:45], y[:45], q[:45], X[45:], y[45:], q[45:])
    hm.evaluate_batch = lambda values: [kt.errors.FailedTrialError("bad")] * len(values)
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("val_mse", "min"),
        max_trials=20,
        seed=1,
        max_consecutive_failed_trials=3,
    )
    tuner = BatchedTuner(hm, oracle, batch_size=4, directory=tmp_path, project_name="p")
    with pytest.raises(RuntimeError, match="consecutive failures exceeded the limit of 3"):
        tuner.search()
    assert (
        len(oracle.end_order) == 3
    )  # raised at the third failed trial, as KerasTuner's check does
    assert "_check_consecutive_failures" not in vars(oracle)  # the class's method again


def _search(hm, tmp_path, name, oracle_class=kt.oracles.RandomSearchOracle, n=40):
    oracle = oracle_class(objective=kt.Objective("val_mse", "min"), max_trials=n, seed=4)
    tuner = BatchedTuner(hm, oracle, batch_size=8, directory=tmp_path, project_name=name)
    return tuner


def _trials(tuner):
    return {
        tid: (t.status, t.hyperparameters.values, t.metrics.get_last_value("val_mse"))
        for tid, t in tuner.oracle.trials.items()
    }


@pytest.fixture(scope="module")
def hm():
    X, y, q = make_seed_data(n=80, seed=1)
    return FairKernelRidgeHyperModel(
        X[:60], y[:60], q[:60], X[60:], y[60:], q[60:], fits_per_call=8
    )


def test_pipelined_random_search_draws_and_scores_the_trials_of_the_search_in_turn(hm, tmp_path):
    class InTurn(kt.oracles.RandomSearchOracle):  # not random search itself: one batch at a time
        pass

    pipelined = _search(hm, tmp_path, "a")
    pipelined.search()
    in_turn = _search(hm, tmp_path, "b", InTurn)
    in_turn.search()
    got, want = _trials(pipelined), _trials(in_turn)
    assert len(want) == 40 and all(s == "COMPLETED" for s, _, _ in want.values())
    assert got == want  # same ids, values and validation MSE (bit for bit)
    assert pipelined.oracle.end_order == in_turn.oracle.end_order


def test_an_interrupted_pipelined_search_runs_its_running_trials_when_searched_again(hm, tmp_path):
    reference = _search(hm, tmp_path, "ref")
    reference.search()
    tuner = _search(hm, tmp_path, "cut")
    finish, calls = tuner.hypermodel.finish_batch, []

    def interrupted(started):  # the fourth batch is lost while the fifth (the last) is drawn
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return finish(started)

    tuner.hypermodel.finish_batch = interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            tuner.search()
    finally:
        del tuner.hypermodel.finish_batch  # the shared hypermodel's own method again
    running = [t for t in tuner.oracle.trials.values() if t.status == "RUNNING"]
    assert len(running) == 16 and len(tuner.oracle.trials) == 40  # every trial drawn
    # Searched again with other slots (a smaller batch): the oracle would hand a RUNNING trial
    # only to the slot that drew it, and stops at max_trials before asking the others.
    tuner.batch_size = 4
    tuner.search()
    assert _trials(tuner) == _trials(reference)  # each trial run once, none left RUNNING
    assert sorted(tuner.oracle.end_order) == sorted(reference.oracle.end_order)


def _blas_threads():
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


def test_batched_fits_run_with_one_blas_thread_and_the_caller_keeps_its_own(
    hm, tmp_path, monkeypatch
):
    # OpenBLAS's spinning threads make fits of ~100 rows ~30x slower (see fairkl.tuning.programs):
    # the fits run with one thread from dispatch to collection, in evaluate_batch and in a search.
    seen, collect = [], programs.collect

    def spy(started):
        seen.append(_blas_threads())
        return collect(started)

    monkeypatch.setattr(programs, "collect", spy)
    setting = {"sigma": 1.0, "lam": 1e-2, "mu": 1.0, "sigma_q": 1.0, "epochs": 50, "lr": 0.01}
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        assert before and all(t == 2 for t in before)
        assert isinstance(hm.evaluate_batch([setting] * 3)[0], dict)
        _search(hm, tmp_path, "blas", n=16).search()
        assert _blas_threads() == before
    assert len(seen) == 3 and all(threads == [1] * len(before) for threads in seen)


class _Counter(Stateful):
    def __init__(self):
        self.value, self.serialised = 0, 0

    def get_state(self):
        self.serialised += 1
        return {"value": self.value}


def test_deferred_saves_serialise_once_and_write_the_last_state(tmp_path):
    original = Stateful.save
    obj, path = _Counter(), str(tmp_path / "obj.json")
    with persistence.atomic_writes():
        obj.save(path)  # outside deferred_writes: written now
        assert json.loads((tmp_path / "obj.json").read_text()) == {"value": 0}
        assert obj.serialised == 1
        with persistence.deferred_writes():
            for v in (1, 2, 3):
                obj.value = v
                obj.save(path)
            assert json.loads((tmp_path / "obj.json").read_text()) == {"value": 0}  # held
            assert obj.serialised == 1
        assert json.loads((tmp_path / "obj.json").read_text()) == {"value": 3}
        assert obj.serialised == 2  # once for the three saves of the block
    assert Stateful.save is original
    obj.value = 4
    obj.save(path)  # KerasTuner's own save again
    assert json.loads((tmp_path / "obj.json").read_text()) == {"value": 4}
