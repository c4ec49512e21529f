"""Runs one KerasTuner search in its own process (for the kill/resume and distributed tests).

Usage: python kt_search_script.py {batched|random} DIRECTORY MAX_TRIALS [SLEEP_PER_BATCH]
Distributed mode is chosen by the KERASTUNER_* environment variables.
"""

import sys
import time

import fairkl  # noqa: F401
import keras_tuner as kt

from fairkl.datasets import make_seed_data
from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel


def main():
    mode, directory, max_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    X, y, q = make_seed_data(n=120, seed=0)
    hm = FairKernelRidgeHyperModel(X[:90], y[:90], q[:90], X[90:], y[90:], q[90:])
    objective = kt.Objective("val_mse", direction="min")
    if mode == "batched":
        if pause:
            evaluate = hm.evaluate_batch

            def slow(values):
                time.sleep(pause)
                return evaluate(values)

            hm.evaluate_batch = slow
        oracle = kt.oracles.RandomSearchOracle(objective=objective, max_trials=max_trials, seed=7)
        tuner = BatchedTuner(hm, oracle, batch_size=4, directory=directory, project_name="p", overwrite=False)
    else:
        tuner = kt.RandomSearch(hm, objective=objective, max_trials=max_trials, seed=7, directory=directory,
                                project_name="p", overwrite=False)
    tuner.search(verbose=0)


if __name__ == "__main__":
    main()
