"""KerasTuner benchmarks on the book's data, against issue 21's targets.

Run: python benchmarks/bench_tuning.py [N_TRIALS] [REPEATS] [--pinned] [--no-stock] [--no-cache-row]

Two tables, each from fresh processes (imports are not counted; JAX's
persistent compilation cache is switched off in them: "cold" means empty
caches):

1. The stock search as the README writes it: ``kt.RandomSearch(
   FairKernelRidgeHyperModel(...), objective=val_mse, max_trials=30)`` and
   ``search(verbose=0)``, with no opt-in. Per process: the first search
   (cold: compiles), then the same search again with another seed (warm),
   each with its wall and CPU time and its number of XLA compilations
   (``/jax/core/compile/backend_compile_duration`` events); then, as the
   reference in the same process, the warm search without the heap frozen
   (``BaseTuner.search`` called directly, bypassing the scope the hypermodel
   gives the tuner: what every trial cost before, KerasTuner's two
   ``gc.collect()`` per trial over the whole heap). One more row: a cold
   process with JAX's persistent compilation cache turned on by the user
   and filled by a previous process (an option, never fairkl's default).
2. The batched search (below).

Each run is a fresh process (cold: it compiles every program; imports are
not counted) doing a ``BatchedTuner`` random search (batch_size=16,
fits_per_call=16: one compiled call per 16 trials, each fit stopping on its
own) on ``make_seed_data(n=200, seed=0)`` split 150/50, with JAX's default
threads (what a notebook gets). ``--pinned`` also runs it pinned to one core
(``os.sched_setaffinity`` before JAX starts) for comparison. The tuner
limits OpenBLAS (which jaxlib's CPU Cholesky and triangular solves call) to
one thread during its compiled calls: at n = 150 its spinning worker threads
made a fit ~30x slower on a shared machine (before the limit, at load 10,
the default process took 171 s wall / 102 s CPU for the 1000 trials, the
pinned one 7.8 s CPU).

Printed per run: wall and CPU time (user+sys) of the search, and its wall
time split: the first compiled call (compilation + one group, waited for),
the waits for the other compiled calls, the val_cka scoring, KerasTuner's
bookkeeping (asking the oracle, recording results, writing trial files) and
the rest (dispatch, this package's Python). With random search the tuner
does the bookkeeping while the fits run (``BatchedTuner`` dispatches a
batch's fits, then asks for the next batch and records the previous one), so
the waits are the part of the fits not hidden behind it. Then the floor of
the fits: the steps the trials needed (each fit's own count, no padding)
times the cost of one solver step, plus 1000 times the setup of one fit
(kernel, factorisation, smoother, prediction: a 0-step fit), both measured in
the same process, against the CPU time of XLA's threads (the fits). Min and
median over the repeats; the load average is printed (quote it with the
numbers).

The vmapped group (``jax.vmap`` of the fit, the previous ``fit_cka_batch``)
is no longer measured here. Its "stall" in the previous benchmark was
OpenBLAS's spinning (above), not vmap: with one BLAS thread, 256 random
settings in groups of 16 took 2.79 s CPU vmapped against 1.10 s in sequence
(``jax.lax.map``, what ``fit_cka_batch`` now does): a vmapped step is
cheaper per trial (~160 vs ~265 us at load 9) but every fit of a group runs
until the slowest stops (15,984 trial-steps executed for 3,313 needed).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Clock:
    """Wall and CPU seconds accumulated over the calls of a wrapped function (first call kept apart).

    ``wait`` (e.g. ``jax.block_until_ready``) is applied to each result, so
    that an asynchronous compiled call is timed to its end.
    """

    def __init__(self, fn, wait=lambda out: out):
        self.fn, self.wait, self.calls, self.first, self.rest = fn, wait, 0, (0.0, 0.0), [0.0, 0.0]

    def __call__(self, *a, **k):
        w, c = time.perf_counter(), cpu()
        out = self.wait(self.fn(*a, **k))
        dw, dc = time.perf_counter() - w, cpu() - c
        if self.calls == 0:
            self.first = (dw, dc)
        else:
            self.rest[0] += dw
            self.rest[1] += dc
        self.calls += 1
        return out


def child(n_trials: int, pinned: bool) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "jax")  # keras_tuner imports Keras before fairkl does
    if pinned:
        os.sched_setaffinity(
            0, {min(os.sched_getaffinity(0))}
        )  # before JAX creates its thread pool
    import jax
    import keras_tuner as kt
    import numpy as np

    import fairkl  # noqa: F401
    from fairkl.datasets import make_seed_data
    from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel, programs, trials_table

    X, y, q = make_seed_data(n=200, seed=0)
    hm = FairKernelRidgeHyperModel(
        X[:150], y[:150], q[:150], X[150:], y[150:], q[150:], fits_per_call=16
    )
    # The first compiled call is waited for (compilation + one group); the others are
    # dispatched asynchronously and the search waits for them in programs.collect.
    program = Clock(programs.fit_predict_program, jax.block_until_ready)
    fit_predict_program = programs.fit_predict_program

    def first_blocks(*a, **k):
        if program.calls == 0:
            return program(*a, **k)
        program.calls += 1
        return fit_predict_program(*a, **k)

    programs.fit_predict_program = first_blocks  # looked up at each dispatch
    steps = []
    collect = programs.collect

    def counting(started):
        pred, conv, it = collect(started)
        steps.extend(int(s) for s in it)
        return pred, conv, it

    waiting = Clock(counting)
    programs.collect = waiting
    score = Clock(hm.yardstick.score_rows)
    object.__setattr__(hm.yardstick, "score_rows", score)  # the yardstick is a frozen dataclass
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("val_mse", "min"), max_trials=n_trials, seed=2
    )
    from fairkl.tuning import persistence

    w, c, main = time.perf_counter(), cpu(), time.thread_time()
    tuner = BatchedTuner(
        hm, oracle, batch_size=16, directory=tempfile.mkdtemp(), project_name="p", overwrite=True
    )
    # KerasTuner's bookkeeping, which the search does while the compiled fits run: asking the
    # oracle for trials, recording their results, writing the trial files.
    books = [Clock(tuner._ask), Clock(tuner._record), Clock(persistence.write_json_atomic)]
    tuner._ask, tuner._record, persistence.write_json_atomic = books
    tuner.search()
    wall, total_cpu = time.perf_counter() - w, cpu() - c
    main_cpu = time.thread_time() - main  # this thread: Python, compilation; not XLA's threads
    persistence.write_json_atomic = books[2].fn
    rows = trials_table(tuner)
    programs.fit_predict_program, programs.collect = fit_predict_program, collect
    per_step, setup = floor_costs(hm, fit_predict_program, np, jax)
    return dict(
        wall=wall,
        cpu=total_cpu,
        first_call=program.first,
        calls=[waiting.first[0] + waiting.rest[0], waiting.first[1] + waiting.rest[1]],
        n_calls=program.calls,
        score=[score.first[0] + score.rest[0], score.first[1] + score.rest[1]],
        books=sum(b.first[0] + b.rest[0] for b in books),
        xla_cpu=total_cpu - main_cpu,
        trials=len(rows),
        steps=sum(steps),
        max_steps=max(steps),
        best=min(r["val_mse"] for r in rows),
        per_step=per_step,
        setup=setup,
        load=os.getloadavg()[0],
        pinned=pinned,
    )


def floor_costs(hm, program, np, jax):
    """CPU seconds per solver step and per fit setup, from groups of 16 identical fits (min of 5)."""
    from fairkl.tuning import programs as tp

    data = hm._batch
    base = {"sigma": 1.0, "lam": 1e-3, "mu": 5.0, "sigma_q": None, "lr": 0.01}

    def run(epochs, mu):
        cols = tp.columns(data.problem, [{**base, "epochs": epochs, "mu": mu}] * 16)
        args = [cols[f] for f in ("sigma", "lam", "mu", "sigma_q", "lr", "epochs")]
        best, it = float("inf"), None
        for _ in range(5):
            c = cpu()
            out = jax.device_get(program(*data.arrays, *args))
            best, it = min(best, cpu() - c), out[2]
        return best / 16, int(it[0])

    from fairkl._backend import x64_context

    # The compiled program is called directly (a lower layer): in float64, as the tuner calls it.
    with tp.one_blas_thread(), x64_context():  # as the tuner runs its groups
        long_fit, n_steps = run(300, 5.0)
        setup, _ = run(300, 0.0)  # mu = 0: the same setup and prediction, no step
    return max(long_fit - setup, 0.0) / max(n_steps, 1), setup


def report(runs: list[dict], label: str) -> None:
    n = runs[0]["trials"]
    med, lo = statistics.median, min

    def col(f):
        vals = [f(r) for r in runs]
        if all(math.isnan(v) for v in vals):
            return f"{'-':>7} {'-':>7}"
        return f"{lo(vals):7.2f} {med(vals):7.2f}"

    print(f"\n{label}: {len(runs)} cold runs of {n} trials (min, median; seconds)")
    print(f"{'part':<58} {'wall':>15} {'CPU':>15}")
    print("-" * 90)
    parts = [
        (
            "search (cold, incl. compilation; target <= 5 s)",
            lambda r: r["wall"],
            lambda r: r["cpu"],
        ),
        (
            "  first compiled call (compilation + 16 fits)",
            lambda r: r["first_call"][0],
            lambda r: r["first_call"][1],
        ),
        (
            "  waiting for the other compiled calls (their fits)",
            lambda r: r["calls"][0],
            lambda r: r["calls"][1],
        ),
        (
            "  val_cka scoring (Yardstick.score_rows)",
            lambda r: r["score"][0],
            lambda r: r["score"][1],
        ),
        (
            "  rest: dispatch, this package's Python",
            lambda r: r["wall"] - r["first_call"][0] - r["calls"][0] - r["score"][0] - r["books"],
            lambda r: math.nan,
        ),
        (
            "  KerasTuner's bookkeeping (ask, record, write)",
            lambda r: r["books"],
            lambda r: math.nan,
        ),
    ]
    for name, fw, fc in parts:
        print(f"{name:<58} {col(fw)} {col(fc)}")
    r = min(runs, key=lambda r: r["cpu"])
    floor = r["steps"] * r["per_step"] + n * r["setup"]
    print(
        f"floor (run with the least CPU): {r['steps']} steps needed (max {r['max_steps']} in one fit) x "
        f"{r['per_step'] * 1e6:.0f} us/step + {n} x {r['setup'] * 1e3:.2f} ms setup = {floor:.2f} s CPU; "
        f"measured: XLA's threads {r['xla_cpu']:.2f} s CPU (the fits; compilation runs in the "
        f"search's thread), of which the search waited for {r['first_call'][0] + r['calls'][0]:.2f} s: "
        f"the rest ran beside KerasTuner's bookkeeping"
    )
    loads = ", ".join(f"{x['load']:.1f}" for x in runs)
    print(f"load average during the runs: {loads}; best val_mse {r['best']:.4f}")


def stock_child() -> dict:
    """The README's stock search: cold, warm, and warm without the gc scope (the reference)."""
    os.environ.setdefault("KERAS_BACKEND", "jax")  # keras_tuner imports Keras before fairkl does
    import gc

    import jax
    import keras_tuner as kt

    import fairkl  # noqa: F401  (first: it selects Keras's JAX backend)
    from fairkl.datasets import make_seed_data
    from fairkl.tuning import FairKernelRidgeHyperModel

    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        assert not jax.config.jax_compilation_cache_dir, "cold runs need JAX's persistent cache off"
    compiles = [0, 0.0]

    def listen(event, duration, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles[0] += 1
            compiles[1] += duration

    jax.monitoring.register_event_duration_secs_listener(listen)
    # The names of the compiled programs (jax_log_compiles' "Finished XLA compilation of ..."),
    # caught here instead of printed.
    programs = []

    class Catch(logging.Handler):
        def emit(self, record):
            m = re.match(
                r"Finished XLA compilation of (.+) in ([\d.e+-]+) sec", record.getMessage()
            )
            if m:
                programs.append((m[1], float(m[2])))

    jax_logger = logging.getLogger("jax")
    jax_logger.addHandler(Catch())
    jax_logger.propagate = False
    jax.config.update("jax_log_compiles", True)
    X, y, q = make_seed_data(n=200, seed=0)
    hyper_model = FairKernelRidgeHyperModel(X[:150], y[:150], q[:150], X[150:], y[150:], q[150:])
    out = {"load": os.getloadavg()[0]}
    before = (gc.get_freeze_count(), gc.get_threshold())
    for name, seed, scoped in (
        ("cold", 1, True),
        ("warm", 2, True),
        ("warm, no gc scope", 3, False),
    ):
        tuner = kt.RandomSearch(
            hyper_model,
            objective=kt.Objective("val_mse", direction="min"),
            max_trials=30,
            seed=seed,
            directory=tempfile.mkdtemp(),
            project_name="fkl",
        )
        n0, t0, p0 = compiles[0], compiles[1], len(programs)
        w, c = time.perf_counter(), cpu()
        if scoped:
            tuner.search(verbose=0)
        else:
            kt.Tuner.search(tuner, verbose=0)
        out[name] = {
            "wall": time.perf_counter() - w,
            "cpu": cpu() - c,
            "compiles": compiles[0] - n0,
            "compile_s": compiles[1] - t0,
            "trials": len(tuner.oracle.trials),
            "programs": programs[p0:],
        }
        if scoped:
            assert (gc.get_freeze_count(), gc.get_threshold()) == before, (
                "the search left the gc changed"
            )
    return out


def report_stock(runs: list[dict], cached: dict | None = None) -> None:
    med = statistics.median
    print(
        f"\nstock kt.RandomSearch, 30 trials as in the README: {len(runs)} fresh processes (min, median; seconds)"
    )
    print(
        f"{'search':<36} {'wall':>15} {'CPU':>15} {'compilations':>13} {'compiling (s)':>14} {'target':>10}"
    )
    print("-" * 108)
    targets = {"cold": "<= 3 s", "warm": "<= 1 s", "warm, no gc scope": "reference"}
    for name in ("cold", "warm", "warm, no gc scope"):
        rows = [r[name] for r in runs]
        w, c = [x["wall"] for x in rows], [x["cpu"] for x in rows]
        k, ks = [x["compiles"] for x in rows], [x["compile_s"] for x in rows]
        print(
            f"{name:<36} {min(w):7.2f} {med(w):7.2f} {min(c):7.2f} {med(c):7.2f} {min(k):6d} {max(k):6d} "
            f"{min(ks):6.2f} {med(ks):7.2f} {targets[name]:>10}"
        )
    if cached is not None:
        r = cached["cold"]
        print(
            f"{'cold, JAX cache filled (opt-in)':<36} {r['wall']:7.2f} {'':7} {r['cpu']:7.2f} {'':7} "
            f"{r['compiles']:6d} {'':6} {r['compile_s']:6.2f} {'':7} {'(option)':>10}"
        )
    loads = ", ".join(f"{r['load']:.1f}" for r in runs)
    print(
        f"load average at the start of the runs: {loads}; "
        f"compilations: min and max; target 'a handful' for the cold search"
    )
    first = min(runs, key=lambda r: r["cold"]["cpu"])["cold"]["programs"]
    print("programs compiled by the cold search (run with the least CPU; seconds):")
    for name, seconds in first:
        print(f"  {seconds:6.2f}  {name}")


def child_env() -> dict:
    """The environment of a cold run: JAX's persistent compilation cache off."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))
    }


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--child" in sys.argv:
        print(json.dumps(child(int(args[0]), "--pinned" in sys.argv)))
        return
    if "--stock-child" in sys.argv:
        print(json.dumps(stock_child()))
        return
    n = int(args[0]) if args else 1000
    repeats = int(args[1]) if len(args) > 1 else 3
    stock_runs, batched_runs = [], []
    if "--no-stock" not in sys.argv:
        runs = stock_runs
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, __file__, "--stock-child"],
                check=True,
                capture_output=True,
                text=True,
                env=child_env(),
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(
                f"  stock run: cold {runs[-1]['cold']['wall']:.2f} s, warm {runs[-1]['warm']['wall']:.2f} s wall, "
                f"load {runs[-1]['load']:.1f}",
                flush=True,
            )
        cached = None
        if (
            "--no-cache-row" not in sys.argv
        ):  # a user's opt-in: JAX's persistent cache, filled by a first process
            with tempfile.TemporaryDirectory() as folder:
                env = {
                    **child_env(),
                    "JAX_COMPILATION_CACHE_DIR": folder,
                    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                }
                for _ in range(2):
                    out = subprocess.run(
                        [sys.executable, __file__, "--stock-child"],
                        check=True,
                        capture_output=True,
                        text=True,
                        env=env,
                    ).stdout
                cached = json.loads(out.strip().splitlines()[-1])
        report_stock(runs, cached)
    modes = [False, True] if "--pinned" in sys.argv else [False]
    for pinned in modes:
        runs = []
        for _ in range(repeats):
            cmd = [sys.executable, __file__, str(n), "--child"] + (["--pinned"] if pinned else [])
            out = subprocess.run(
                cmd, check=True, capture_output=True, text=True, env=child_env()
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(
                f"  run: {runs[-1]['wall']:.2f} s wall, {runs[-1]['cpu']:.2f} s CPU, load {runs[-1]['load']:.1f}",
                flush=True,
            )
        report(runs, "pinned to one core" if pinned else "JAX default threads (one per core)")
        if not pinned:
            batched_runs = runs
    summary(stock_runs, batched_runs, n)


#: "Only a handful of compilations" (issue 21), read as at most this many for the cold search.
HANDFUL = 5


def summary(stock: list[dict], batched: list[dict], n: int) -> None:
    """Issue 21's targets against this run's measurements (min and median over the processes)."""
    med = statistics.median
    rows = []
    if stock:
        for name, target in (("cold", 3.0), ("warm", 1.0)):
            w = [r[name]["wall"] for r in stock]
            c = [r[name]["cpu"] for r in stock]
            rows.append(
                (f"stock 30 trials, {name} (wall s)", min(w), med(w), min(c), f"<= {target:g} s",
                 min(w) <= target)
            )  # fmt: skip
        k = [r["cold"]["compiles"] for r in stock]
        rows.append(
            ("stock 30 trials, cold: compilations", min(k), med(k), None, f"<= {HANDFUL}",
             min(k) <= HANDFUL)
        )  # fmt: skip
    if batched:
        w, c = [r["wall"] for r in batched], [r["cpu"] for r in batched]
        rows.append(
            (f"{n} batched trials, cold (wall s)", min(w), med(w), min(c), "<= 5 s", min(w) <= 5.0)
        )
    print("\nissue 21 targets (idle 2-core machine) against this run")
    print(f"{'measure':<40} {'min':>8} {'median':>8} {'CPU min':>8} {'target':>9} {'met':>4}")
    print("-" * 82)
    for name, lo, mid, cpu_lo, target, met in rows:
        cpu_txt = f"{cpu_lo:8.2f}" if cpu_lo is not None else f"{'':8}"
        num = lambda x: f"{x:8d}" if isinstance(x, int) else f"{x:8.2f}"  # noqa: E731  (counts as counts)
        print(f"{name:<40} {num(lo)} {num(mid)} {cpu_txt} {target:>9} {'yes' if met else 'no':>4}")
    one, five, fifteen = os.getloadavg()
    print(
        f"load average now (1, 5, 15 min): {one:.2f}, {five:.2f}, {fifteen:.2f} on "
        f"{os.cpu_count()} cores; 'met' compares the min with the target (before: stock cold "
        f"12.3 s quiet / 16.1 s loaded, 12-24 compilations; 1000 trials 8.9-14.5 s)"
    )


if __name__ == "__main__":
    main()
