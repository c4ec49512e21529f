"""Runs one KerasTuner search in its own process, and drives kill/resume cycles of such searches.

Usage: python kt_search_script.py {batched|random|safe} DIRECTORY MAX_TRIALS [SLEEP_PER_BATCH]
``batched``: BatchedTuner; ``random``: a plain stock kt.RandomSearch; ``safe``: the
stock kt.RandomSearch inside fairkl.tuning.safe_project (crash-safe) and frozen_gc.
Distributed mode is chosen by the KERASTUNER_* environment variables. With
FAIRKL_TEST_WORKERS=N, each worker's first fit waits until N workers have started
one (see :func:`wait_for_workers`).

:func:`kill_and_resume` (used by tests/adversarial/test_tuning.py and
benchmarks/bench_tuning_kill.py) SIGKILLs such a search at random moments and
resumes it, checking after the last run that nothing was lost or duplicated.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def main():
    import keras_tuner as kt

    import fairkl  # noqa: F401
    from fairkl.datasets import make_seed_data
    from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel, frozen_gc, safe_project

    mode, directory, max_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    X, y, q = make_seed_data(n=120, seed=0)
    hm = FairKernelRidgeHyperModel(X[:90], y[:90], q[:90], X[90:], y[90:], q[90:])
    objective = kt.Objective("val_mse", direction="min")
    if os.environ.get("FAIRKL_TEST_WORKERS"):
        wait_for_workers(hm, directory, int(os.environ["FAIRKL_TEST_WORKERS"]))
    if mode == "batched":
        if pause:
            evaluate = hm.evaluate_batch

            def slow(values):
                time.sleep(pause)
                return evaluate(values)

            hm.evaluate_batch = slow
        oracle = kt.oracles.RandomSearchOracle(objective=objective, max_trials=max_trials, seed=7)
        BatchedTuner(
            hm, oracle, batch_size=4, directory=directory, project_name="p", overwrite=False
        ).search()
        return
    make = lambda: kt.RandomSearch(
        hm,
        objective=objective,
        max_trials=max_trials,
        seed=7,  # noqa: E731
        directory=directory,
        project_name="p",
        overwrite=False,
    )
    if mode == "safe":
        with safe_project(directory, "p", hm), frozen_gc():
            make().search(verbose=0)
    else:
        make().search(verbose=0)


def wait_for_workers(hm, directory, workers: int, timeout: float = 180.0) -> None:
    """Make the first fit of this worker wait until ``workers`` workers have started theirs.

    KerasTuner's chief (keras_tuner/src/distribute/oracle_chief.py) stops its server as soon
    as the budget is spent and no tuner it knows of has a trial: a tuner becomes known with its
    first trial. A worker that starts late (a slow process start on a loaded machine) may find
    every trial already taken by the other one, and the server gone under its first call
    (grpc UNAVAILABLE). A worker in its first fit already holds a trial, so once every worker
    has started one the chief waits for all of them. Each worker leaves ``started-<tuner id>``
    in ``directory``, so the test can also check that every worker ran trials.
    """
    fit = hm.fit
    here = Path(directory)
    mine = here / f"started-{os.environ['KERASTUNER_TUNER_ID']}"

    def first_fit(*args, **kwargs):
        mine.touch()
        deadline = time.time() + timeout
        while len(list(here.glob("started-*"))) < workers:
            if time.time() > deadline:
                raise TimeoutError(f"fewer than {workers} workers started a trial in {timeout} s")
            time.sleep(0.01)
        hm.fit = fit
        return fit(*args, **kwargs)

    hm.fit = first_fit


# ------------------------------------------------------------------ kill/resume driver
def read_trials(project: Path) -> dict:
    """trial_id -> (status, values, val_mse) from the trial files (unreadable files are skipped)."""
    out = {}
    for f in project.glob("trial_*/trial.json"):
        try:
            state = json.loads(f.read_text())
        except ValueError:
            continue
        metrics = state["metrics"]["metrics"].get("val_mse", {}).get("observations", [])
        value = metrics[-1]["value"][0] if metrics else None
        out[state["trial_id"]] = (state["status"], state["hyperparameters"]["values"], value)
    return out


def _completed(project: Path) -> int:
    return sum(1 for s, _, _ in read_trials(project).values() if s == "COMPLETED")


def jax_cache_env(directory) -> dict:
    """Environment giving every search process of one test JAX's persistent compilation cache.

    Each resumed process would otherwise compile the same programs again
    (several CPU seconds each); with the cache only the first one does.
    """
    return {
        "JAX_COMPILATION_CACHE_DIR": str(Path(directory) / ".jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }


def kill_and_resume(
    mode: str, directory, max_trials: int, kills: int, rng, timeout: float = 600
) -> dict:
    """Run a search, SIGKILL it ``kills`` times at random moments, resume it to the end, and audit it.

    Each kill lands after a random number of newly completed trials plus a
    random delay of up to 50 ms (so kills fall anywhere: in a fit, in a write,
    between writes). Returns ``kills`` (landed mid-search), ``completed``,
    ``duplicates`` (repeated ids or hyperparameter sets), ``lost`` (results
    finished before a kill and missing or changed afterwards), ``runs``.
    """
    project = Path(directory) / "p"
    cmd = [sys.executable, str(Path(__file__).resolve()), mode, str(directory), str(max_trials)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")]
    )
    env.update(jax_cache_env(directory))
    landed, kept, runs = 0, {}, 0
    for _ in range(kills):
        done = _completed(project) if project.exists() else 0
        if done >= max_trials - 2:
            break
        # Spread the kills over the search: on average one every max_trials / (2 kills + 2) trials,
        # so that every kill lands before the search ends.
        step = max(2, max_trials // (kills + 1))
        target = int(rng.integers(done + 1, max(done + 2, min(max_trials - 1, done + step))))
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        runs += 1
        deadline = time.time() + timeout
        while (
            proc.poll() is None
            and time.time() < deadline
            and (not project.exists() or _completed(project) < target)
        ):
            time.sleep(0.005)
        time.sleep(float(rng.uniform(0, 0.05)))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            landed += 1
        proc.wait()
        proc.stderr.close()
        for tid, (status, values, mse) in read_trials(project).items():
            if status == "COMPLETED":
                kept.setdefault(tid, (values, mse))
    final = subprocess.run(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout
    )
    runs += 1
    if final.returncode != 0:
        raise RuntimeError(f"the resumed search failed:\n{final.stderr.decode()[-3000:]}")
    trials = read_trials(project)
    dirs = [p.name[len("trial_") :] for p in project.glob("trial_*")]
    values = [json.dumps(v, sort_keys=True) for _, v, _ in trials.values()]
    oracle = json.loads((project / "oracle.json").read_text())
    duplicates = (
        (len(dirs) - len(set(dirs)))
        + (len(values) - len(set(values)))
        + (len(oracle["end_order"]) - len(set(oracle["end_order"])))
    )
    lost = sum(
        1
        for tid, (v, mse) in kept.items()
        if tid not in trials or trials[tid][1] != v or trials[tid][2] != mse
    )
    return {
        "kills": landed,
        "completed": sum(s == "COMPLETED" for s, _, _ in trials.values()),
        "trials": len(trials),
        "duplicates": duplicates,
        "lost": lost,
        "runs": runs,
    }


if __name__ == "__main__":
    main()
