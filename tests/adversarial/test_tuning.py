"""Adversarial cases of the tuning layer (issue 8.3, 8.7-8.10, its misleading messages, issue 9.5).

Each test failed before the fix it names and passes now.
"""

import gc
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import keras_tuner as kt
import numpy as np
import pytest
import threadpoolctl
from scipy.linalg import LinAlgWarning
from sklearn.exceptions import ConvergenceWarning

from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data
from fairkl.tuning import (
    BatchedTuner,
    FairKernelRidgeHyperModel,
    ProjectLockedError,
    best_within_budget,
    frozen_gc,
    persistence,
    repair_project,
    safe_project,
    trials_table,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import kt_search_script  # noqa: E402

OBJ = kt.Objective("val_mse", direction="min")
FIXED = {"sigma": 1.0, "lam": 1e-2, "sigma_q": 1.0, "epochs": 100, "lr": 0.01}


@pytest.fixture(scope="module")
def split():
    X, y, q = make_seed_data(n=120, seed=0)
    return X[:90], y[:90], q[:90], X[90:], y[90:], q[90:]


@pytest.fixture
def fast_gc():
    """Stock tuners run gc.collect() before every trial: freeze the heap during the test (undone after)."""
    with frozen_gc():
        yield


@pytest.fixture(scope="module")
def hm(split):
    return FairKernelRidgeHyperModel(*split)


def statuses(tuner):
    return sorted(t.status for t in tuner.oracle.trials.values())


# ----------------------------------------------------------------- 8.3 constant q
@pytest.mark.parametrize("which", ["q_train", "q_val"])
def test_constant_q_is_refused_not_scored_as_perfectly_fair(split, which):
    args = list(split)
    i = 2 if which == "q_train" else 5
    args[i] = np.full_like(args[i], 3.0)
    with pytest.raises(ValueError, match=f"{which} is constant.*val_cka = 0"):
        FairKernelRidgeHyperModel(*args)


def test_non_finite_metrics_fail_the_trial(hm):
    with pytest.raises(kt.errors.FailedTrialError, match="non-finite validation metrics"):
        hm._metrics(np.full(len(hm.y_val), np.inf), True)


# --------------------------------------------- 8.7 the batched path validates values
@pytest.mark.parametrize(
    "override, message",
    [
        ({"lr": 2.0}, r"lr must be in \(0, 1\]; got 2.0"),
        ({"epochs": 0}, "epochs must be >= 1; got 0"),
    ],
)
@pytest.mark.usefixtures("fast_gc")
def test_batched_path_applies_the_models_validation(split, tmp_path, override, message):
    hm = FairKernelRidgeHyperModel(*split, space={**FIXED, "mu": ("log", 0.1, 1.0), **override})
    with pytest.raises(ValueError, match=message.split(";")[0]):  # the model's own rule
        hm.check_values({**FIXED, "mu": 0.5, **override})
    oracle = kt.oracles.RandomSearchOracle(
        objective=OBJ, max_trials=3, seed=3, max_consecutive_failed_trials=10
    )
    tuner = BatchedTuner(hm, oracle, batch_size=4, directory=tmp_path, project_name="b")
    tuner.search()
    assert statuses(tuner) == ["FAILED"] * 3
    assert all(re.search(message, t.message) for t in tuner.oracle.trials.values())
    stock = kt.RandomSearch(
        hm,
        objective=OBJ,
        max_trials=3,
        seed=3,
        directory=tmp_path,
        project_name="s",
        max_consecutive_failed_trials=10,
    )
    stock.search(verbose=0)
    assert statuses(stock) == ["FAILED"] * 3  # the same verdict on the stock path


def test_invalid_fixed_value_is_refused_by_both_paths_when_the_tuner_is_built(split, tmp_path):
    hm = FairKernelRidgeHyperModel(*split, space={**FIXED, "mu": 0.5, "lam": -1.0})
    with pytest.raises(ValueError, match="lam must be >= 0; got -1.0"):
        BatchedTuner(
            hm,
            kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=2),
            directory=tmp_path,
            project_name="b",
        )
    with pytest.raises(ValueError, match="lam must be >= 0; got -1.0"):
        kt.RandomSearch(hm, objective=OBJ, max_trials=2, directory=tmp_path, project_name="s")


def test_valid_and_invalid_trials_of_one_batch(split, tmp_path):
    hm = FairKernelRidgeHyperModel(*split, space={**FIXED, "mu": 0.5, "lr": ("log", 0.3, 3.0)})
    oracle = kt.oracles.RandomSearchOracle(
        objective=OBJ, max_trials=8, seed=5, max_consecutive_failed_trials=10
    )
    tuner = BatchedTuner(hm, oracle, batch_size=4, directory=tmp_path, project_name="m")
    tuner.search()
    trials = list(tuner.oracle.trials.values())
    assert {t.status for t in trials} == {"FAILED", "COMPLETED"}
    for t in trials:
        assert (t.status == "FAILED") == (t.hyperparameters.values["lr"] > 1)
    for t in [t for t in trials if t.status == "COMPLETED"][
        :2
    ]:  # padding did not disturb the others
        model = FairKernelRidge(1.0, 1e-2, 0.5, 1.0, dtype="float64")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(split[0], split[1], q=split[2], epochs=100, lr=t.hyperparameters.values["lr"])
        mse = np.mean((model.predict(split[3]) - split[4]) ** 2)
        assert t.metrics.get_last_value("val_mse") == pytest.approx(mse, rel=1e-7)


@pytest.mark.usefixtures("fast_gc")
def test_sigma_q_none_means_the_median_heuristic(split, tmp_path):
    hm = FairKernelRidgeHyperModel(
        *split, space={**FIXED, "sigma_q": None, "mu": ("log", 0.1, 3.0)}
    )
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=2, seed=2)
    tuner = BatchedTuner(hm, oracle, batch_size=4, directory=tmp_path, project_name="n")
    tuner.search()
    rows = trials_table(tuner)
    assert len(rows) == 2 and all(r["sigma_q"] is None for r in rows)
    stock = kt.RandomSearch(
        hm, objective=OBJ, max_trials=2, seed=2, directory=tmp_path, project_name="ns"
    )
    stock.search(verbose=0)
    for r, s in zip(rows, trials_table(stock), strict=False):
        model = FairKernelRidge(
            1.0, 1e-2, r["mu"], None, dtype="float64"
        )  # the model's own heuristic
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(split[0], split[1], q=split[2], epochs=100, lr=0.01)
        mse = np.mean((model.predict(split[3]) - split[4]) ** 2)
        assert r["val_mse"] == pytest.approx(mse, rel=1e-7) and s["val_mse"] == pytest.approx(
            mse, rel=1e-7
        )


def test_resume_with_another_space_or_other_data_is_refused(split, tmp_path):
    hm = FairKernelRidgeHyperModel(*split, space={**FIXED, "mu": ("log", 0.1, 1.0)})
    oracle = lambda: kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=4, seed=2)  # noqa: E731
    BatchedTuner(hm, oracle(), batch_size=4, directory=tmp_path, project_name="f").search()
    other_space = FairKernelRidgeHyperModel(*split, space={**FIXED, "mu": ("log", 0.1, 5.0)})
    with pytest.raises(ValueError, match="different search space.*overwrite=True"):
        BatchedTuner(other_space, oracle(), batch_size=4, directory=tmp_path, project_name="f")
    y2 = split[1] + 1.0
    other_data = FairKernelRidgeHyperModel(
        split[0], y2, *split[2:], space={**FIXED, "mu": ("log", 0.1, 1.0)}
    )
    with pytest.raises(ValueError, match="different training/validation data"):
        BatchedTuner(other_data, oracle(), batch_size=4, directory=tmp_path, project_name="f")
    with pytest.raises(ValueError, match="different training/validation data"):
        with safe_project(tmp_path, "f", other_data):
            pass
    # the same space and data resume; overwrite=True starts again
    BatchedTuner(hm, oracle(), batch_size=4, directory=tmp_path, project_name="f").search()
    BatchedTuner(
        other_space, oracle(), batch_size=4, directory=tmp_path, project_name="f", overwrite=True
    ).search()


# ------------------------------------------------ 8.8 every oracle runs to its end
def oracles():
    space_hm = {**FIXED, "mu": ("linear", 0.0, 8.0, 1.0)}
    return [
        ("grid", space_hm, lambda: kt.oracles.GridSearchOracle(objective=OBJ, max_trials=50)),
        (
            "random",
            {**FIXED, "mu": ("log", 0.01, 5.0)},
            lambda: kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=10, seed=4),
        ),
        (
            "bayes",
            {**FIXED, "mu": ("log", 0.01, 5.0)},
            lambda: kt.oracles.BayesianOptimizationOracle(
                objective=OBJ, max_trials=6, num_initial_points=2, seed=4
            ),
        ),
        (
            "hyperband",
            {**FIXED, "mu": ("log", 0.01, 5.0)},
            lambda: kt.oracles.HyperbandOracle(
                objective=OBJ, max_epochs=9, factor=3, hyperband_iterations=1, seed=4
            ),
        ),
    ]


class RecordingTuner(BatchedTuner):
    def __init__(self, *args, **kwargs):
        self.calls = []
        super().__init__(*args, **kwargs)

    def on_search_begin(self):
        self.calls.append("search_begin")
        super().on_search_begin()

    def on_trial_begin(self, trial):
        self.calls.append("trial_begin")
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        self.calls.append("trial_end")
        super().on_trial_end(trial)

    def on_search_end(self):
        self.calls.append("search_end")
        super().on_search_end()


@pytest.mark.usefixtures("fast_gc")
@pytest.mark.parametrize("name, space, make", oracles(), ids=[o[0] for o in oracles()])
def test_batched_tuner_runs_as_many_trials_as_the_stock_tuner(split, tmp_path, name, space, make):
    hm = FairKernelRidgeHyperModel(*split, space=space)
    stock_oracle = make()
    stock = (
        kt.Tuner(stock_oracle, hm, directory=tmp_path, project_name="stock")
        if name == "hyperband"
        else None
    )
    if stock is None:
        stock = {
            "grid": kt.GridSearch,
            "random": kt.RandomSearch,
            "bayes": kt.BayesianOptimization,
        }[name]
        kwargs = {
            "grid": dict(max_trials=50),
            "random": dict(max_trials=10, seed=4),
            "bayes": dict(max_trials=6, num_initial_points=2, seed=4),
        }[name]
        stock = stock(hm, objective=OBJ, directory=tmp_path, project_name="stock", **kwargs)
    # One BLAS thread while the oracles pick trials (the Bayesian one makes ~15,000 tiny BLAS
    # calls per search, ~3.7x the CPU with OpenBLAS's two threads; same trials either way).
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        stock.search(verbose=0)
        n_stock = len(stock.oracle.trials)
        oracle = make()
        before = oracle.max_consecutive_failed_trials
        tuner = RecordingTuner(hm, oracle, batch_size=4, directory=tmp_path, project_name="batched")
        tuner.search()
    assert len(tuner.oracle.trials) == n_stock
    assert all(t.status == "COMPLETED" for t in tuner.oracle.trials.values())
    if name == "grid":
        assert n_stock == 9 and sorted(r["mu"] for r in trials_table(tuner)) == list(
            map(float, range(9))
        )
    assert oracle.max_consecutive_failed_trials == before  # the user's oracle is not altered
    assert tuner.calls[0] == "search_begin" and tuner.calls[-1] == "search_end"
    assert tuner.calls.count("trial_begin") == tuner.calls.count("trial_end") == n_stock


# ------------------------------------------------------------- 8.9 crash safety
def _project(tmp_path, hm, n=6, name="p"):
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=n, seed=9)
    BatchedTuner(hm, oracle, batch_size=4, directory=tmp_path, project_name=name).search()
    return tmp_path / name


def _resume(tmp_path, hm, n, name="p"):
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=n, seed=9)
    tuner = BatchedTuner(hm, oracle, batch_size=4, directory=tmp_path, project_name=name)
    tuner.search()
    return tuner


def _audit(tuner, n, kept):
    trials = tuner.oracle.trials
    assert len(trials) == n and all(t.status == "COMPLETED" for t in trials.values())
    values = {json.dumps(t.hyperparameters.values, sort_keys=True) for t in trials.values()}
    assert len(values) == n
    for tid, mse in kept.items():
        assert trials[tid].metrics.get_last_value("val_mse") == mse
    assert len(trials_table(tuner)) == n


def _kept(project):
    return {
        tid: v[2] for tid, v in kt_search_script.read_trials(project).items() if v[0] == "COMPLETED"
    }


def test_atomic_writes_replace_and_restore_keras_tuners_writer(tmp_path):
    from keras_tuner.src import utils as kt_utils

    original = kt_utils.save_json
    with persistence.atomic_writes():
        assert kt_utils.save_json is persistence._write_or_defer
        kt_utils.save_json(str(tmp_path / "a.json"), {"x": 1})
        with persistence.deferred_writes():  # held until the block ends; oracle.json written last
            kt_utils.save_json(str(tmp_path / "oracle.json"), {"o": 1})
            kt_utils.save_json(str(tmp_path / "b.json"), {"b": 1})
            kt_utils.save_json(str(tmp_path / "b.json"), {"b": 2})
            assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
        assert json.loads((tmp_path / "b.json").read_text()) == {"b": 2}
        assert (tmp_path / "oracle.json").stat().st_mtime_ns >= (
            tmp_path / "b.json"
        ).stat().st_mtime_ns
    assert kt_utils.save_json is original
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.json",
        "b.json",
        "oracle.json",
    ]  # no temporary file


def test_values_hash_matches_keras_tuner():
    values = {"sigma": 0.5, "mu": 0.0, "epochs": 100}
    assert persistence.values_hash(values) == kt.Oracle()._compute_values_hash(values)


@pytest.mark.parametrize("damage", ["", '{"ongoing_', "garbage"])
def test_empty_or_corrupt_oracle_json_is_rebuilt_from_the_trials(hm, tmp_path, damage):
    project = _project(tmp_path, hm)
    kept = _kept(project)
    (project / "oracle.json").write_text(damage)
    with pytest.warns(UserWarning, match="repaired"):
        tuner = _resume(tmp_path, hm, 10)
    _audit(tuner, 10, kept)


def test_orphaned_running_trial_is_run_again_not_left_running(hm, tmp_path):
    project = _project(tmp_path, hm)
    stale = (project / "oracle.json").read_text()
    kept = _kept(project)
    # A crash after the trial file of a new trial was written and before oracle.json was.
    tid, state = "6", json.loads((project / "trial_0" / "trial.json").read_text())
    state.update(trial_id=tid, status="RUNNING", metrics={"metrics": {}}, score=None)
    state["hyperparameters"]["values"]["mu"] = 0.123
    (project / f"trial_{tid}").mkdir()
    (project / f"trial_{tid}" / "trial.json").write_text(json.dumps(state))
    (project / "oracle.json").write_text(stale)
    assert repair_project(str(project))["requeued"] == ["6"]
    tuner = _resume(tmp_path, hm, 8)
    _audit(tuner, 8, kept)
    assert tuner.oracle.trials["6"].hyperparameters.values["mu"] == 0.123


def test_finished_trial_listed_as_ongoing_is_not_run_twice(hm, tmp_path):
    project = _project(tmp_path, hm)
    kept = _kept(project)
    oracle = json.loads((project / "oracle.json").read_text())
    # end_trial saves oracle.json before it pops the ongoing trial: a kill there leaves this.
    oracle["ongoing_trials"] = {"tuner0-slot0": "5"}
    oracle["end_order"].append("5")  # and a resume of the stock oracle would end it twice
    (project / "oracle.json").write_text(json.dumps(oracle))
    summary = repair_project(str(project))
    assert summary["finished_not_rerun"] == ["5"] and summary["duplicate_end_entries"] == 1
    tuner = _resume(tmp_path, hm, 8)
    _audit(tuner, 8, kept)
    assert tuner.oracle.end_order.count("5") == 1


def test_trials_table_counts_each_trial_once(hm, tmp_path):
    project = _project(tmp_path, hm)
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=6, seed=9)
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.reload()
    oracle.end_order = oracle.end_order + oracle.end_order[:2]  # what a stock resume could leave
    assert len(trials_table(oracle)) == 6 and project.exists()


@pytest.mark.parametrize("mode", ["batched", "safe"])
def test_sigkills_at_random_moments_then_resume(tmp_path, mode, monkeypatch):
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        # The search processes use the suite's compilation cache (tests/conftest.py), inherited
        # from this process, instead of a fresh one per test in which the first process compiles
        # every program again (several CPU seconds); without a suite cache, the driver's own.
        monkeypatch.setattr(kt_search_script, "jax_cache_env", lambda directory: {})
    rng = np.random.default_rng(11 if mode == "batched" else 12)
    result = kt_search_script.kill_and_resume(mode, tmp_path, 30, kills=2, rng=rng, timeout=300)
    assert result["kills"] >= 1
    assert result["completed"] == result["trials"] == 30
    assert result["duplicates"] == 0 and result["lost"] == 0


# -------------------------------------------------------- 8.10 one writer at a time
FLOCK = (
    "import sys, fcntl\nf = open(sys.argv[1], 'a+')\ntry:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
    "except BlockingIOError:\n    sys.exit(3)\n"
)


def test_second_writer_process_is_refused(tmp_path):
    project = str(tmp_path / "p")
    lock = persistence._lock_path(project)
    with persistence.project_lock(project):  # this process writes the project
        other = subprocess.run([sys.executable, "-c", FLOCK, lock], capture_output=True, text=True)
        assert other.returncode == 3, other.stderr  # another process cannot take it
        with persistence.project_lock(project):  # re-entrant within this process
            pass
        other = subprocess.run([sys.executable, "-c", FLOCK, lock], capture_output=True, text=True)
        assert other.returncode == 3, other.stderr
    again = subprocess.run([sys.executable, "-c", FLOCK, lock], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr  # released


def test_no_lock_in_distributed_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    assert (
        persistence.acquire_lock(str(tmp_path / "p")) is None
    )  # the chief's oracle serialises the writes


def test_batched_tuner_takes_the_lock(hm, tmp_path):
    project = tmp_path / "p"
    code = (
        "import sys, fcntl; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX);"
        "print('locked', flush=True); sys.stdin.read()"
    )
    lock = persistence._lock_path(str(project))
    holder = subprocess.Popen(
        [sys.executable, "-c", code, lock], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(
            ProjectLockedError, match="in use by another process.*KERASTUNER_TUNER_ID=chief"
        ):
            BatchedTuner(
                hm,
                kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=2, seed=1),
                directory=tmp_path,
                project_name="p",
            )
    finally:
        holder.communicate("")
    BatchedTuner(
        hm,
        kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=2, seed=1),
        directory=tmp_path,
        project_name="p",
    ).search()


# --------------------------------------------------------------- misleading messages
def test_best_within_budget_on_all_nan_rows_says_why():
    rows = [{"val_mse": float("nan"), "val_cka": float("nan")}] * 3
    with pytest.raises(
        ValueError, match="no row has finite 'val_mse' and 'val_cka'.*trials' messages"
    ):
        best_within_budget(rows, 0.1)


def test_unknown_column_or_metric_lists_the_valid_names(hm, tmp_path):
    rows = [{"val_mse": 1.0, "val_cka": 0.1}]
    with pytest.raises(
        ValueError, match=r"unknown column\(s\) \['cka'\]; the rows have: \['val_cka', 'val_mse'\]"
    ):
        best_within_budget(rows, 0.1, constraint="cka")
    _project(tmp_path, hm, n=2)
    tuner = _resume(tmp_path, hm, 2)
    with pytest.raises(
        ValueError, match=r"\['val_auc'\] were recorded by no completed trial.*'val_cka'"
    ):
        trials_table(tuner, metrics=("val_mse", "val_auc"))


# ------------------------------------------------------------- 9.5 side effects
def test_gc_freeze_is_undone_after_the_search(hm, tmp_path):
    # Relative to the state at entry (whatever earlier tests left); no count of the heap is assumed.
    before = (gc.get_freeze_count(), gc.get_threshold())
    FairKernelRidgeHyperModel(hm.X_train, hm.y_train, hm.q_train, hm.X_val, hm.y_val, hm.q_val)
    assert (
        gc.get_freeze_count(),
        gc.get_threshold(),
    ) == before  # constructing a hypermodel does not freeze
    with frozen_gc():
        frozen = gc.get_freeze_count()
        if before[0] == 0:
            assert frozen > 0
        with frozen_gc():  # nested: a no-op
            assert gc.get_freeze_count() == frozen
        tuner = kt.RandomSearch(
            hm, objective=OBJ, max_trials=2, seed=1, directory=tmp_path, project_name="g"
        )
        tuner.search(verbose=0)
        assert gc.get_freeze_count() >= frozen  # the enclosing freeze is left to its owner
    assert (gc.get_freeze_count(), gc.get_threshold()) == before
    tuner = kt.RandomSearch(
        hm, objective=OBJ, max_trials=2, seed=2, directory=tmp_path, project_name="h"
    )
    tuner.search(
        verbose=0
    )  # scoped by the hypermodel itself (tests/test_gc_scope.py checks more cases)
    assert (gc.get_freeze_count(), gc.get_threshold()) == before
    with pytest.warns(FutureWarning, match="frozen_gc"):
        FairKernelRidgeHyperModel(
            hm.X_train, hm.y_train, hm.q_train, hm.X_val, hm.y_val, hm.q_val, freeze_gc=True
        )
    assert gc.get_freeze_count() == before[0]


def test_only_convergence_warnings_are_silenced(split):
    hm = FairKernelRidgeHyperModel(
        *split, dtype="float32", space={**FIXED, "lam": 1e-6, "mu": 1.0, "epochs": 1}
    )
    hp = kt.HyperParameters()
    hm.declare_hyperparameters(hp)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = hm.fit(hp, hm.build(hp))
    kinds = {w.category for w in caught}
    assert LinAlgWarning in kinds  # ill-conditioning reaches the user
    assert ConvergenceWarning not in kinds and metrics["converged"] == 0.0  # recorded instead
