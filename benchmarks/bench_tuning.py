"""KerasTuner benchmark: the seed's 30-trial search (cold and warm) and 1000 batched trials.

Run: make bench (or python benchmarks/bench_tuning.py). Issue 4's targets on 2 cores:
30 trials <= 5 s cold and <= 1 s warm; 1000 batched trials <= 10 s.
The seed tutorial reported 310 s for its 30 trials (a faithful re-run: 234 s).
"""

from __future__ import annotations

import tempfile
import time

t_import = time.perf_counter()
import fairkl  # noqa: E402,F401
import keras_tuner as kt  # noqa: E402

from fairkl.datasets import make_seed_data  # noqa: E402
from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel, pareto_trials, trials_table  # noqa: E402

t_import = time.perf_counter() - t_import


def main():
    X, y, q = make_seed_data(n=200, seed=0)
    directory = tempfile.mkdtemp()
    objective = kt.Objective("val_mse", direction="min")
    hm = FairKernelRidgeHyperModel(X[:150], y[:150], q[:150], X[150:], y[150:], q[150:])
    rows = []
    for label in ("cold (compilation included)", "warm (same process)"):
        t = time.perf_counter()
        tuner = kt.RandomSearch(hm, objective=objective, max_trials=30, seed=1, directory=directory,
                                project_name=label[:4], overwrite=True)
        tuner.search(verbose=0)
        rows.append((f"30 trials, kt.RandomSearch, {label}", time.perf_counter() - t, 30))
    table = trials_table(tuner)
    for batch in (8, 16):
        oracle = kt.oracles.RandomSearchOracle(objective=objective, max_trials=1000, seed=2)
        t = time.perf_counter()
        BatchedTuner(hm, oracle, batch_size=batch, directory=directory, project_name=f"b{batch}", overwrite=True).search()
        rows.append((f"1000 trials, BatchedTuner(batch_size={batch}), cold", time.perf_counter() - t, 1000))
    print(f"imports: {t_import:.1f} s (not counted below)")
    print(f"{'search':<52} {'total':>9} {'per trial':>11}")
    print("-" * 76)
    for name, total, n in rows:
        print(f"{name:<52} {total:8.2f}s {total / n * 1e3:9.1f}ms")
    print(f"{'seed tutorial, 30 trials (reported)':<52} {310.0:8.2f}s {310 / 30 * 1e3:9.1f}ms")
    best = min(table, key=lambda r: r["val_mse"])
    print(f"warm search: best val_mse {best['val_mse']:.4f}, {len(pareto_trials(table))} Pareto-optimal trials of 30")


if __name__ == "__main__":
    main()
