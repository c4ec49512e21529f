"""Scale benchmark of the low-rank (Nyström) fair model: time, peak memory, accuracy vs exact.

Run: ``PYTHONPATH=. python benchmarks/bench_scale.py [--sizes 5000,10000] [--skip-accuracy]``.

Every case runs in its own subprocess, which reports its wall-clock fit time
(after a warm-up fit on 2,000 rows, so compilation is excluded as far as the
shapes allow; the compile of the full-size program is included and stated) and
its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``,
which includes the ~0.4 GB of importing JAX/Keras).

Data: ``make_data`` — d = 100 Gaussian features, a continuous sensitive
attribute q, feature 0 a noisy proxy of q, and y depending on q only through
that proxy (plus non-linear terms of other features). RBF kernel with
sigma = sqrt(d), lam = 1e-2, mu = 10 (HSIC) and mu = 1 (CKA), RBF kernel on q
(median heuristic).

``--memory`` prints only what XLA allocates in each compiled low-rank program at
n = --sizes, m = --m (arguments, outputs, temporaries; from
``jit(...).lower(...).compile().memory_analysis()``, nothing is run). It found the
4.3 GB peak of the n = 200,000 CKA fit: ``Phi^T v`` compiled (CPU) to a transposed
copy of the n x m feature matrix Phi (1.6 GB) in ``_whiten`` and in every L-BFGS
step; the programs now compute ``v^T Phi`` (peak 2.9 GB, of which Phi is 1.6 GB).

``--closing`` prints only the closing table of issue 11: for each n, sklearn
KernelRidge (n <= --sklearn-max), the exact FairKernelRidge (n <= --exact-max)
and the low-rank one (``n_components=--m``) through the public model, with time,
peak RSS and the held-out MSE / CKA of low rank relative to exact.

Tables printed otherwise:
1. fit time and peak RSS for n in --sizes, m = --m, for mu = 0, HSIC and CKA
   (targets: n = 50,000 <= 60 s and <= 4 GB; n = 200,000 fits);
   scikit-learn KernelRidge at n = 5,000 and 10,000 as the reference;
2. at n = 5,000 (2,000 held out): test MSE and held-out CKA of the low-rank
   fit vs the exact FairKernelRidge (float64), for m in --ms and each
   landmark method, with landmark seed 0 only. No fixed tolerance is met at
   a given m in general: the difference from the exact model depends on m,
   the penalty, the data and the landmark draw.
   ``benchmarks/bench_lowrank_accuracy.py`` reports its range over landmark
   seeds (Communities and Crime, seeds 0-2, uniform landmarks, m = 500:
   test MSE -0.7% .. +1.1% and held-out CKA -0.0% .. +1.7% with the CKA
   penalty; -0.1% .. +0.7% and -1.3% .. +2.2% with HSIC; on its synthetic
   data, d_eff = 1,742, seed 0, the MSE with uniform landmarks is still
   +4.1% off at m = 3000, with pivoted Cholesky +0.0%).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import jax
import numpy as np

# This script calls fairkl's lower layers (solvers, kernels, landmarks) directly; they compute
# in the caller's JAX mode (only the public entry points enter fairkl's float64 scope).
jax.config.update("jax_enable_x64", True)

D = 100
LAM = 1e-2
MU = {"none": 0.0, "hsic": 10.0, "cka": 1.0}


def make_data(n: int, seed: int = 0, d: int = D):
    """X (n, d), y (n,), q (n,): y depends on q only through the proxy feature X[:, 0]."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal(n)
    X = rng.standard_normal((n, d))
    X[:, 0] = q + 0.5 * rng.standard_normal(n)
    y = X[:, 0] + np.sin(X[:, 1] + X[:, 2]) + 0.5 * X[:, 3] * X[:, 4] + 0.3 * rng.standard_normal(n)
    return X, y, q


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _cpu() -> float:
    """CPU seconds (user + system, all threads) of this process: less sensitive to other jobs than wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _lowrank_fit(X, y, q, penalty: str, m: int, method: str, seed: int = 0):
    from fairkl.landmarks import select_landmarks
    from fairkl.solvers import lowrank

    sigma = float(np.sqrt(X.shape[1]))
    s = float(np.std(y))
    ys = y / s
    idx = select_landmarks(X, m, method=method, seed=seed, sigma=sigma)
    Z = X[idx]
    if penalty == "none":
        res = lowrank.fit_krr_lowrank(X, ys, Z, sigma, LAM)
    elif penalty == "hsic":
        res = lowrank.fit_hsic_lowrank(X, ys, q[:, None], Z, sigma, LAM, MU["hsic"])
    else:
        res = lowrank.fit_cka_lowrank(X, ys, q[:, None], Z, sigma, LAM, MU["cka"])
    np.asarray(res.alpha)
    return res, s, sigma


def case_time(n: int, penalty: str, m: int, method: str) -> dict:
    """One low-rank fit at size n (after a small warm-up fit of the same kind)."""
    Xw, yw, qw = make_data(2000, seed=1)
    _lowrank_fit(Xw, yw, qw, penalty, min(m, 1000), method)
    X, y, q = make_data(n)
    c0, t0 = _cpu(), time.perf_counter()
    res, _, _ = _lowrank_fit(X, y, q, penalty, m, method)
    t = time.perf_counter() - t0
    return {
        "time": t,
        "cpu": _cpu() - c0,
        "rss": _rss_gb(),
        "n_iter": int(res.n_iter),
        "converged": bool(res.converged),
    }


def case_sklearn(n: int) -> dict:
    from sklearn.kernel_ridge import KernelRidge

    X, y, _ = make_data(n)
    t0 = time.perf_counter()
    KernelRidge(alpha=LAM, kernel="rbf", gamma=1.0 / (2 * D)).fit(X, y / np.std(y))
    return {"time": time.perf_counter() - t0, "rss": _rss_gb()}


def _heldout(pred, yte, qte, sigma_f_y, sigma_q):
    from fairkl.dependence import cka_rbf

    mse = float(np.mean((pred - yte) ** 2))
    cka = float(cka_rbf(pred, qte, sigma_a=sigma_f_y, sigma_b=sigma_q))
    return mse, cka


def _yardstick(y, q):
    """Bandwidths fixed once from the training data (one ruler for every model)."""
    from fairkl.kernels import median_heuristic

    return float(median_heuristic(np.asarray(y, float)[:, None])), float(
        median_heuristic(q[:, None])
    )


def case_exact(n: int, penalty: str) -> dict:
    from fairkl import FairKernelRidge

    X, y, q = make_data(n + 2000)
    Xtr, ytr, qtr, Xte, yte, qte = X[:n], y[:n], q[:n], X[n:], y[n:], q[n:]
    sf, sq = _yardstick(ytr, qtr)
    t0 = time.perf_counter()
    model = FairKernelRidge(
        float(np.sqrt(D)),
        LAM,
        MU[penalty],
        penalty="cka" if penalty == "none" else penalty,
        dtype="float64",
    ).fit(Xtr, ytr, q=qtr)
    t = time.perf_counter() - t0
    mse, cka = _heldout(model.predict(Xte), yte, qte, sf, sq)
    return {"time": t, "rss": _rss_gb(), "mse": mse, "cka": cka}


def case_accuracy(n: int, penalty: str, m: int, method: str) -> dict:
    from fairkl.solvers import lowrank

    X, y, q = make_data(n + 2000)
    Xtr, ytr, qtr, Xte, yte, qte = X[:n], y[:n], q[:n], X[n:], y[n:], q[n:]
    sf, sq = _yardstick(ytr, qtr)
    t0 = time.perf_counter()
    res, s, sigma = _lowrank_fit(Xtr, ytr, qtr, penalty, m, method)
    t = time.perf_counter() - t0
    pred = lowrank.predict(Xte, res.landmarks, res.alpha, sigma) * s
    mse, cka = _heldout(pred, yte, qte, sf, sq)
    return {"time": t, "rss": _rss_gb(), "mse": mse, "cka": cka}


def case_model(n: int, penalty: str, m: int) -> dict:
    """One fit through the public model (``m = 0``: exact, else ``n_components=m``), held-out MSE and CKA."""
    from fairkl import FairKernelRidge

    def fit(Xa, ya, qa, mm):
        model = FairKernelRidge(
            float(np.sqrt(D)),
            LAM,
            MU[penalty],
            penalty="cka" if penalty == "none" else penalty,
            dtype="float64",
            n_components=mm or None,
        )
        return model.fit(Xa, ya, q=qa)

    if m:  # warm-up: compiles the landmark-size programs (the n-dependent ones compile in the timed fit)
        Xw, yw, qw = make_data(2000, seed=1)
        fit(Xw, yw, qw, min(m, 1000))
    X, y, q = make_data(n + 2000)
    Xtr, ytr, qtr, Xte, yte, qte = X[:n], y[:n], q[:n], X[n:], y[n:], q[n:]
    del X
    sf, sq = _yardstick(ytr[:5000], qtr[:5000])
    c0, t0 = _cpu(), time.perf_counter()
    model = fit(Xtr, ytr, qtr, m)
    t, c = time.perf_counter() - t0, _cpu() - c0
    mse, cka = _heldout(model.predict(Xte), yte, qte, sf, sq)
    return {
        "time": t,
        "cpu": c,
        "rss": _rss_gb(),
        "mse": mse,
        "cka": cka,
        "n_iter": int(model.n_iter_),
    }


def memory_table(sizes, m: int, r: int = 16) -> None:
    """Bytes XLA allocates in each compiled low-rank program (shapes only; nothing is run)."""
    import jax
    import jax.numpy as jnp

    from fairkl.solvers import lowrank

    print(
        f"\n## Compiled memory of the low-rank programs, d = {D}, m = {m}, r = {r} (GB)\n",
        flush=True,
    )
    print("| n | program | arguments | outputs | temporaries | one n x m copy |", flush=True)
    print("|---|---|---|---|---|---|", flush=True)
    for n in sizes:
        f = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float64)  # noqa: E731
        nmap = lowrank.NystromMap(f(m, D), f(m, m), f(m), f())
        h = lowrank.N_FEATURES // 2
        # omega, weight, two scalars, epochs, lr, tol: the tail both CKA programs share
        tail = (f(h), f(h), f(), f(), jax.ShapeDtypeStruct((), jnp.int64), f(), f())
        static = {"chunk": lowrank.CHUNK}
        programs = {  # name: (program, arguments, static arguments)
            "gram_statistics (mu = 0, HSIC)": (
                lowrank.gram_statistics,
                (f(n, D), f(n), f(n, r), nmap),
                {},
            ),
            "feature_matrix (CKA)": (lowrank.feature_matrix, (f(n, D), nmap), {}),
            "_whiten (CKA)": (lowrank._whiten, (f(n, m), f(n), f(m), f()), {}),
            "cka_lbfgs (CKA)": (
                lowrank.cka_lbfgs,
                (f(n, m), f(m, m), f(m), f(), f(n, r), *tail),
                {},
            ),
            # the whole CKA fit, one program (fit_cka_lowrank runs this): Phi is its temporary
            "_cka_fit (CKA, the whole fit)": (
                lowrank._cka_fit,
                (f(n, D), f(n), f(n, r), nmap, f(), f(), *tail),
                static,
            ),
        }
        for name, (program, args, kw) in programs.items():
            mem = program.lower(*args, **kw).compile().memory_analysis()
            print(
                f"| {n:,} | {name} | {mem.argument_size_in_bytes / 1e9:.2f} | {mem.output_size_in_bytes / 1e9:.2f} | "
                f"{mem.temp_size_in_bytes / 1e9:.2f} | {8 * n * m / 1e9:.2f} |",
                flush=True,
            )


def closing_table(sizes, m: int, exact_max: int, sklearn_max: int, pens) -> None:
    """The closing table: exact vs low-rank (m landmarks) vs sklearn, each case in its own subprocess."""
    print(
        f"\n## Closing table: d = {D}, m = {m} uniform landmarks, 2,000 held out; float64\n",
        flush=True,
    )
    print(
        "| n | penalty | sklearn KRR s | exact s | exact RSS GB | low-rank s (CPU s) | low-rank RSS GB | "
        "test MSE exact / low-rank (rel.) | held-out CKA exact / low-rank (rel.) |",
        flush=True,
    )
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for n in sizes:
        sk = run("sklearn", n) if n <= sklearn_max else None
        for p in pens:
            ex = run("model", n, p, 0) if n <= exact_max else None
            lr = run("model", n, p, m)
            skt = _fmt(sk, "time", ".1f") if sk and p == pens[0] else "-"
            ext = (_fmt(ex, "time", ".1f"), _fmt(ex, "rss", ".2f")) if ex else ("-", "-")
            lrt = (
                "failed: " + lr["error"] if "error" in lr else f"{lr['time']:.1f} ({lr['cpu']:.0f})"
            )
            if ex and "error" not in ex and "error" not in lr:
                dm, dc = (lr["mse"] - ex["mse"]) / ex["mse"], (lr["cka"] - ex["cka"]) / ex["cka"]
                acc = (
                    f"{ex['mse']:.4f} / {lr['mse']:.4f} ({dm:+.1%})",
                    f"{ex['cka']:.4f} / {lr['cka']:.4f} ({dc:+.1%})",
                )
            elif "error" not in lr:
                acc = (f"- / {lr['mse']:.4f}", f"- / {lr['cka']:.4f}")
            else:
                acc = ("-", "-")
            print(
                f"| {n:,} | {p} | {skt} | {ext[0]} | {ext[1]} | {lrt} | {_fmt(lr, 'rss', '.2f')} | {acc[0]} | {acc[1]} |",
                flush=True,
            )


def run(kind: str, *args) -> dict:
    """Run one case in a fresh subprocess; its JSON result (or the error)."""
    cmd = [sys.executable, __file__, "--case", kind, *map(str, args)]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [
                os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                os.environ.get("PYTHONPATH", ""),
            ]
        ),
    )
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {
            "error": (out.stderr.strip().splitlines() or ["killed"])[-1][:120],
            "rc": out.returncode,
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(r: dict, key: str, spec: str) -> str:
    return "failed: " + r["error"] if "error" in r else format(r[key], spec)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", nargs="+")
    ap.add_argument("--sizes", default="5000,10000,20000,50000,200000")
    ap.add_argument("--m", type=int, default=1000)
    ap.add_argument("--ms", default="250,500,1000,2000")
    ap.add_argument("--methods", default="uniform,kmeans++,pivoted_cholesky")
    ap.add_argument(
        "--ms-other", default="500,1000", help="m values for the landmark methods after the first"
    )
    ap.add_argument("--penalties", default="none,hsic,cka")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument(
        "--memory",
        action="store_true",
        help="print only the compiled memory of the low-rank programs",
    )
    ap.add_argument(
        "--closing",
        action="store_true",
        help="print only the closing table (exact vs low-rank vs sklearn)",
    )
    ap.add_argument(
        "--exact-max", type=int, default=10000, help="largest n fitted exactly in the closing table"
    )
    ap.add_argument("--sklearn-max", type=int, default=20000)
    a = ap.parse_args()
    if a.case:
        kind, *rest = a.case
        fn = {
            "time": case_time,
            "sklearn": case_sklearn,
            "exact": case_exact,
            "accuracy": case_accuracy,
            "model": case_model,
        }[kind]
        conv = [int(x) if x.isdigit() else x for x in rest]
        print(json.dumps(fn(*conv)))
        return
    print(f"load average at start: {os.getloadavg()}  (2 cores shared with other jobs)", flush=True)
    if a.memory:
        memory_table(list(map(int, a.sizes.split(","))), a.m)
        return
    if a.closing:
        closing_table(
            list(map(int, a.sizes.split(","))),
            a.m,
            a.exact_max,
            a.sklearn_max,
            a.penalties.split(","),
        )
        print(f"\nload average at end: {os.getloadavg()}", flush=True)
        return
    if not a.skip_scale:
        print(
            f"\n## Fit time (s) and peak RSS (GB), d = {D}, m = {a.m}, uniform landmarks\n",
            flush=True,
        )
        pens = a.penalties.split(",")
        print(
            "| n | sklearn KRR wall s | penalty | wall s | CPU s | peak RSS GB | CKA n_iter |",
            flush=True,
        )
        print("|---|---|---|---|---|---|---|", flush=True)
        for n in map(int, a.sizes.split(",")):
            sk = run("sklearn", n) if n <= 10000 else None
            for p in pens:
                r = run("time", n, p, a.m, "uniform")
                it = (
                    "-"
                    if p != "cka" or "error" in r
                    else f"{r['n_iter']}{'' if r['converged'] else ' (not conv.)'}"
                )
                print(
                    f"| {n:,} | {_fmt(sk, 'time', '.1f') if sk else '-'} | {p} | {_fmt(r, 'time', '.1f')} | "
                    f"{_fmt(r, 'cpu', '.1f')} | {_fmt(r, 'rss', '.2f')} | {it} |",
                    flush=True,
                )
    if not a.skip_accuracy:
        n = 5000
        print(
            f"\n## Accuracy at n = {n} (2,000 held out): low-rank vs exact FairKernelRidge (float64)\n",
            flush=True,
        )
        print(
            "| penalty | landmarks | m | fit s | test MSE | rel. diff | held-out CKA | rel. diff |",
            flush=True,
        )
        print("|---|---|---|---|---|---|---|---|", flush=True)
        for p in ("none", "hsic", "cka"):
            ex = run("exact", n, p)
            print(
                f"| {p} | exact | {n} | {_fmt(ex, 'time', '.1f')} | {_fmt(ex, 'mse', '.4f')} | - | "
                f"{_fmt(ex, 'cka', '.4f')} | - |",
                flush=True,
            )
            for k, method in enumerate(a.methods.split(",")):
                for m in map(int, (a.ms if k == 0 else a.ms_other).split(",")):
                    r = run("accuracy", n, p, m, method)
                    if "error" in r or "error" in ex:
                        print(
                            f"| {p} | {method} | {m} | {_fmt(r, 'time', '.1f')} | | | | |",
                            flush=True,
                        )
                        continue
                    dm = (r["mse"] - ex["mse"]) / ex["mse"]
                    dc = (r["cka"] - ex["cka"]) / ex["cka"]
                    print(
                        f"| {p} | {method} | {m} | {r['time']:.1f} | {r['mse']:.4f} | {dm:+.1%} | "
                        f"{r['cka']:.4f} | {dc:+.1%} |",
                        flush=True,
                    )
    print(f"\nload average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
