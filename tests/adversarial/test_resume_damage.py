"""Resuming a damaged BatchedTuner project finishes, or stops with an error naming the file.

Before: a trial folder missing from the middle, or a trial file carrying another trial's
id, made the resume re-create an existing trial forever (KerasTuner numbers a new trial
by the count of known trials); an empty oracle.json with no trials "completed" a search
after one FAILED trial with {}; a deleted fingerprint skipped the data check; hand-edited
files gave KeyError/TypeError.
"""

import contextlib
import json
import random
import shutil
import signal
import warnings

import keras_tuner as kt
import pytest

from fairkl.datasets import make_seed_data
from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel

OBJ = kt.Objective("val_mse", direction="min")
SPACE = {"sigma": 1.0, "lam": 1e-2, "sigma_q": 1.0, "epochs": 60, "lr": 0.01}


@pytest.fixture(scope="module")
def hm():
    X, y, q = make_seed_data(n=100, seed=3)
    return FairKernelRidgeHyperModel(X[:70], y[:70], q[:70], X[70:], y[70:], q[70:], space=SPACE)


@contextlib.contextmanager
def deadline(seconds):
    """Fail (instead of hanging the suite) if the block runs longer than ``seconds``."""

    def _raise(*_):
        raise TimeoutError(f"the resume did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def search(hm, directory, n, name="p"):
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=n, seed=5)
    tuner = BatchedTuner(hm, oracle, batch_size=4, directory=directory, project_name=name)
    with deadline(120):
        tuner.search()
    return tuner


def finished_ids(tuner):
    return sorted(
        t for t, tr in tuner.oracle.trials.items() if tr.status in ("COMPLETED", "FAILED")
    )


def check_sound(tuner, n):
    trials = tuner.oracle.trials
    assert len(trials) == n, sorted(trials)
    assert all(t.status in ("COMPLETED", "FAILED") for t in trials.values())
    assert len(tuner.oracle.end_order) == len(set(tuner.oracle.end_order)) == n
    for tid, trial in trials.items():  # never a completed trial with metrics appended twice
        if trial.status == "COMPLETED":
            assert len(trial.metrics.get_history("val_mse")) == 1, tid


def test_a_trial_folder_missing_in_the_middle_is_marked_lost_and_the_search_finishes(hm, tmp_path):
    search(hm, tmp_path, 8)
    shutil.rmtree(tmp_path / "p" / "trial_3")
    with pytest.warns(UserWarning, match="repaired"):
        tuner = search(hm, tmp_path, 12)
    check_sound(tuner, 12)
    assert (
        tuner.oracle.trials["3"].status == "FAILED"
        and "missing" in tuner.oracle.trials["3"].message
    )


def test_a_trial_file_missing_in_the_middle_is_marked_lost(hm, tmp_path):
    search(hm, tmp_path, 8)
    (tmp_path / "p" / "trial_2" / "trial.json").unlink()
    with pytest.warns(UserWarning, match="repaired"):
        tuner = search(hm, tmp_path, 10)
    check_sound(tuner, 10)


def test_a_trial_file_with_another_trials_id_is_named(hm, tmp_path):
    search(hm, tmp_path, 8)
    state = json.loads((tmp_path / "p" / "trial_4" / "trial.json").read_text())
    state["trial_id"] = "2"
    (tmp_path / "p" / "trial_4" / "trial.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match=r"trial_4.trial\.json.*trial_id '2'"):
        search(hm, tmp_path, 10)


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.pop("status"),
        lambda s: s.pop("hyperparameters"),
        lambda s: s.update(status=None),
        lambda s: s.update(hyperparameters={"space": []}),
        lambda s: s.update(status="DONE"),
    ],
)
def test_a_hand_edited_trial_file_is_named(hm, tmp_path, edit):
    search(hm, tmp_path, 6)
    path = tmp_path / "p" / "trial_1" / "trial.json"
    state = json.loads(path.read_text())
    edit(state)
    path.write_text(json.dumps(state))
    with pytest.raises(ValueError, match=r"trial_1.trial\.json"):
        search(hm, tmp_path, 8)


@pytest.mark.parametrize(
    "oracle_text", ['{"end_order": []}', '{"end_order": null}', "[]", "", '{"ongo']
)
def test_a_malformed_oracle_json_is_rebuilt_from_the_trials(hm, tmp_path, oracle_text):
    first = search(hm, tmp_path, 6)
    kept = {t: tr.metrics.get_last_value("val_mse") for t, tr in first.oracle.trials.items()}
    (tmp_path / "p" / "oracle.json").write_text(oracle_text)
    with pytest.warns(UserWarning, match="repaired"):
        tuner = search(hm, tmp_path, 9)
    check_sound(tuner, 9)
    for tid, mse in kept.items():
        assert tuner.oracle.trials[tid].metrics.get_last_value("val_mse") == mse


@pytest.mark.parametrize("oracle_text", ["", '{"ongo', '{"end_order": []}'])
def test_a_torn_oracle_json_without_trials_starts_afresh_and_runs_every_trial(
    hm, tmp_path, oracle_text
):
    project = tmp_path / "p"
    search(hm, tmp_path, 3)
    for folder in project.glob("trial_*"):
        shutil.rmtree(folder)
    (project / "oracle.json").write_text(oracle_text)
    with pytest.warns(UserWarning, match="afresh"):
        tuner = search(hm, tmp_path, 8)
    check_sound(tuner, 8)
    assert all(
        t.status == "COMPLETED" and t.hyperparameters.values for t in tuner.oracle.trials.values()
    )


@pytest.mark.parametrize("damage", ["delete", "garbage", "empty-dict"])
def test_a_lost_fingerprint_does_not_skip_the_data_check(hm, tmp_path, damage):
    search(hm, tmp_path, 4)
    path = tmp_path / "p" / "fairkl_fingerprint.json"
    if damage == "delete":
        path.unlink()
    else:
        path.write_text("{]" if damage == "garbage" else "{}")
    with pytest.raises(ValueError, match=r"fingerprint .*fairkl_fingerprint\.json. is"):
        search(hm, tmp_path, 6)


@pytest.mark.parametrize("seed", range(6))
def test_random_damage_always_finishes_or_names_a_file(hm, tmp_path, seed):
    rng = random.Random(seed)
    search(hm, tmp_path, 10)
    project = tmp_path / "p"
    folders = sorted(project.glob("trial_*"))
    assert len(folders) == 10
    damaged = []
    for _ in range(3):
        folder = folders[rng.randrange(1, 9)]  # the middle of the numbering
        action = rng.choice(["delete", "truncate", "duplicate", "delete-file"])
        if not folder.exists():
            continue
        damaged.append((folder.name, action))
        path = folder / "trial.json"
        if action == "delete":
            shutil.rmtree(folder)
        elif action == "delete-file" and path.exists():
            path.unlink()
        elif action == "truncate" and path.exists():
            path.write_text(path.read_text()[: rng.randrange(1, 40)])
        elif action == "duplicate" and path.exists():
            other = folders[rng.randrange(10)] / "trial.json"
            if other.exists() and other != path:
                shutil.copyfile(other, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "repaired ...": expected here
            tuner = search(hm, tmp_path, 14)
    except ValueError as err:
        assert "trial.json" in str(err), (damaged, err)
        return
    check_sound(tuner, 14)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"penalty": "hsic"}, "penalty='hsic'"),
        ({"model_options": {"penalty": "hsic"}}, "penalty='hsic'"),
        ({"model_options": {"n_components": 500}}, "n_components=500 exceeds the 70"),
        ({"dtype": "float32"}, "dtype='float32'"),
        ({"model_options": {"dtype": "float32"}}, "dtype='float32'"),
    ],
)
def test_batched_tuner_refuses_what_it_cannot_evaluate_before_any_trial(tmp_path, kwargs, message):
    X, y, q = make_seed_data(n=100, seed=3)
    hm = FairKernelRidgeHyperModel(
        X[:70], y[:70], q[:70], X[70:], y[70:], q[70:], space=SPACE, **kwargs
    )
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=4, seed=5)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        BatchedTuner(hm, oracle, batch_size=2, directory=tmp_path, project_name="p")
    assert not list(tmp_path.glob("p/trial_*"))  # nothing left RUNNING on disk
