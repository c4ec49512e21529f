"""KerasTuner benchmark: 1000 random trials on the book's data (issue 11.3: <= 10 s cold), and the seed's 30.

Run: python benchmarks/bench_tuning.py [N_TRIALS] [FITS_PER_CALL,...]   (default 1000 trials, "1,16")

Every search is a BatchedTuner with batch_size=16 (16 trials asked, written
once per batch); FITS_PER_CALL is the HyperModel's ``fits_per_call`` (1:
each fit its own compiled call, no padding; 16: one vmapped call per batch).

Prints, per search: wall time, CPU time (user+sys of this process; the
machine is shared, so wall time is inflated by other processes), per-trial
time, and the load average. For the batched compute it also prints the
solver steps the trials needed (sum of each fit's own steps), the steps the
vmapped batches executed (each batch runs until its slowest trial), the cost
of one step (CPU of a plain single fit / its steps) and the floor
``needed steps x cost per step``. The first row is cold: it includes the
compilation of every program (a fresh process).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time

t_import = time.perf_counter()
import fairkl  # noqa: E402,F401
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402

from fairkl import solvers  # noqa: E402
from fairkl.datasets import make_seed_data  # noqa: E402
from fairkl.pipeline import solve_batch  # noqa: E402
from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel, trials_table  # noqa: E402
from fairkl.tuning import programs  # noqa: E402

t_import = time.perf_counter() - t_import
OBJ = kt.Objective("val_mse", direction="min")


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn):
    w, c = time.perf_counter(), cpu()
    out = fn()
    return out, time.perf_counter() - w, cpu() - c


def search(hm, n, batch, directory):
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=n, seed=2)
    tuner = BatchedTuner(hm, oracle, batch_size=16, directory=directory, project_name=f"b{batch}", overwrite=True)
    tuner.search()
    return tuner


def steps_of(hm, used, batch):
    """Steps needed (each fit alone) and executed (vmapped batches of ``batch``) for validated settings."""
    config, problem = programs.prepare_search(hm.X_train, hm.y_train, hm.q_train, hm.options)
    needed = executed = 0
    for s in range(0, len(used), batch):
        rows = used[s:s + batch]
        rows = rows + [rows[0]] * (batch - len(rows))
        col = lambda k: np.array([u[k] for u in rows], dtype=np.float64)  # noqa: E731
        sq = np.array([np.nan if u["sigma_q"] is None else u["sigma_q"] for u in rows])
        res = solve_batch(problem, config, sigmas=col("sigma"), lams=col("lam"), mus=col("mu"), sigma_qs=sq,
                          lrs=col("lr"), epochs=col("epochs").astype(np.int32))
        it = np.asarray(res.n_iter)[: len(used[s:s + batch])]
        needed += int(it.sum())
        executed += int(np.asarray(res.n_iter).max()) * batch
    return needed, executed


def step_cost(hm):
    """CPU seconds per solver step: one long single fit (300 steps cap), minus a 0-step fit (the setup)."""
    config, p = programs.prepare_search(hm.X_train, hm.y_train, hm.q_train, hm.options)
    import jax.numpy as jnp

    c = lambda a: jnp.asarray(np.asarray(a, dtype=np.float64))  # noqa: E731
    args = lambda mu, ep: (c(p.X), c(p.y), c(p.q), c(1.0), c(1e-3), c(mu), c(1.0), c(p.sigma_f), ep,  # noqa: E731
                           c(0.01), c(1e-14))
    for mu, ep in ((5.0, 300), (0.0, 300)):
        np.asarray(solvers.fit_cka(*args(mu, ep)).alpha)  # compile
    res, _, long_cpu = timed(lambda: [np.asarray(solvers.fit_cka(*args(5.0, 300)).n_iter) for _ in range(5)])
    _, _, setup_cpu = timed(lambda: [np.asarray(solvers.fit_cka(*args(0.0, 300)).alpha) for _ in range(5)])
    return max(long_cpu - setup_cpu, 0.0) / 5 / int(res[-1]), setup_cpu / 5


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    batches = [int(b) for b in sys.argv[2].split(",")] if len(sys.argv) > 2 else [1, 16]
    X, y, q = make_seed_data(n=200, seed=0)
    hm = FairKernelRidgeHyperModel(X[:150], y[:150], q[:150], X[150:], y[150:], q[150:])
    directory = tempfile.mkdtemp()
    rows = []
    for k, batch in enumerate(batches):
        hm.fits_per_call = batch
        tuner, wall, c = timed(lambda: search(hm, n, batch, directory))
        label = f"{n} trials, fits_per_call={batch}" + (", cold" if k == 0 else " (own compile)")
        rows.append((label, wall, c, n, os.getloadavg()[0]))
        print(f"{label}: {wall:.2f} s wall, {c:.2f} s CPU, load {os.getloadavg()[0]:.1f}", flush=True)
    used = [hm.check_values(t.hyperparameters.values) for t in tuner.oracle.trials.values()]
    (needed, executed), wall, c = timed(lambda: steps_of(hm, used, 16))
    rows.append(("  the fits alone (solve_batch of 16, warm)", wall, c, n, os.getloadavg()[0]))
    per_step, setup = step_cost(hm)
    print(f"imports: {t_import:.1f} s wall (not counted below); best val_mse "
          f"{min(r['val_mse'] for r in trials_table(tuner)):.4f}")
    print(f"{'search':<52} {'wall':>8} {'CPU':>8} {'CPU/trial':>10} {'load':>5}")
    print("-" * 88)
    for name, w, cc, m, load in rows:
        print(f"{name:<52} {w:7.2f}s {cc:7.2f}s {cc / m * 1e3:8.2f}ms {load:5.1f}")
    floor = needed * per_step + n * setup
    print(f"steps needed {needed}, executed by vmapped batches {executed} "
          f"({100 * (1 - needed / max(executed, 1)):.0f}% padding)")
    print(f"cost per step {per_step * 1e6:.0f} us CPU, setup per fit {setup * 1e3:.2f} ms CPU -> floor "
          f"(needed x step + n x setup) {floor:.2f} s CPU; padded {executed * per_step + n * setup:.2f} s CPU")
    print("target (issue 11.3): 1000 trials <= 10 s cold on an idle 2-core machine")


if __name__ == "__main__":
    main()
