"""The exact (full-kernel) fits at scale: time, peak memory and where the time goes (issue 11.2).

Run: ``PYTHONPATH=. python benchmarks/bench_exact.py [--sizes 2000,5000,10000,20000] [--sklearn-max 20000]``

Each case runs in its own subprocess and reports wall time, CPU time
(user + sys; the machine is shared, so CPU is the steadier figure) and peak
resident memory (``ru_maxrss``, which includes ~0.45 GB for importing
JAX/Keras). A warm-up fit on 500 rows comes first; the timed fit still
compiles the full-size program (e.g. 2.7 s CPU for the CKA fit): "warm CPU"
is the same fit run again (n <= 10,000), without compilation.

Rows: scikit-learn's ``KernelRidge`` (the reference, same kernel and lam),
then ``FairKernelRidge(dtype="float64")`` with mu = 0, HSIC (mu = 10) and CKA
(mu = 1). The CKA fit uses an exact factor of the centred kernel on q when
one of rank <= 32 exists (``cka``: the 1-D continuous q, rank ~25;
``cka-groups``: three groups) and then holds no n x n array for q; with three
continuous columns (``cka-3d``) it keeps the dense kernel on q. "n x n" is XLA's buffer assignment of the compiled program
(temporaries + arguments + outputs) in units of one n x n float64 matrix.
Data: ``bench_scale.make_data`` (d = 100, sigma = sqrt(d), lam = 1e-2).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jax
from bench_scale import make_data  # noqa: E402

# This script calls fairkl's lower layers (solvers, kernels, landmarks) directly; they compute
# in the caller's JAX mode (only the public entry points enter fairkl's float64 scope).
jax.config.update("jax_enable_x64", True)

LAM = 1e-2
WARM_MAX = 10_000  #: up to this n the fit runs twice; the second ("warm") excludes compilation
MU = {"none": 0.0, "hsic": 10.0, "cka": 1.0, "cka-groups": 1.0, "cka-3d": 1.0}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def case(n: int, kind: str) -> dict:
    X, y, q = make_data(n)
    sigma = float(np.sqrt(X.shape[1]))
    if kind == "sklearn":
        from sklearn.kernel_ridge import KernelRidge

        w, c = time.perf_counter(), _cpu()
        KernelRidge(alpha=LAM, kernel="rbf", gamma=1 / (2 * sigma**2)).fit(X, y)
        return dict(wall=time.perf_counter() - w, cpu=_cpu() - c, rss=_rss_gb())
    import fairkl  # noqa: F401
    from fairkl import FairKernelRidge

    if kind == "cka-groups":
        q = np.digitize(q, np.quantile(q, [1 / 3, 2 / 3])).astype(str)  # three groups
    if (
        kind == "cka-3d"
    ):  # three continuous columns: no exact factor of rank <= 32, the dense kernel on q
        q = np.column_stack([q, X[:, 1], X[:, 2]])
    penalty = "hsic" if kind == "hsic" else "cka"

    def model():
        return FairKernelRidge(sigma=sigma, lam=LAM, mu=MU[kind], penalty=penalty, dtype="float64")

    model().fit(X[:500], y[:500], q=q[:500])  # warm-up (compiles the 500-row program)
    w, c = time.perf_counter(), _cpu()
    m = model().fit(X, y, q=q)
    out = dict(wall=time.perf_counter() - w, cpu=_cpu() - c, rss=_rss_gb(), steps=int(m.n_iter_))
    if (
        n <= WARM_MAX
    ):  # the same fit again: the program is compiled (what a second fit, e.g. in CV, costs)
        c = _cpu()
        model().fit(X, y, q=q)
        out["warm_cpu"] = _cpu() - c
    try:
        out["nxn"] = _nxn(n, kind, sigma)
    except (
        AttributeError,
        TypeError,
        ValueError,
    ):  # an older fairkl without the lean programs (run for comparison)
        pass
    return out


def _nxn(n: int, kind: str, sigma: float) -> float:
    """XLA's buffer assignment of the program the fit ran, in n x n float64 matrices (compile only)."""
    import jax.numpy as jnp

    from fairkl import solvers

    X, y, q = (jnp.zeros((n, 100)), jnp.zeros(n), jnp.zeros((n, 1)))
    if kind == "none":
        c = solvers.fit_krr.lower(X, y, sigma, LAM, y, 0.0, weighted=False)
    elif kind == "hsic":
        c = solvers.fit_hsic_woodbury.lower(X, y, jnp.zeros((n, 16)), sigma, LAM, 10.0, 1.0, 0.0)
    else:
        B = None if kind == "cka-3d" else jnp.zeros((n, 25 if kind == "cka" else 2))
        c = solvers.fit_cka_lean.lower(X, y, q, B, sigma, LAM, 1.0, 1.0, 1.0, 300, 0.01, 1e-10, 0.0)
    m = c.compile().memory_analysis()
    return (m.temp_size_in_bytes + m.argument_size_in_bytes + m.output_size_in_bytes) / (
        8.0 * n * n
    )


def run(n: int, kind: str) -> dict:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])
    )
    p = subprocess.run(
        [sys.executable, __file__, "--case", str(n), kind], capture_output=True, text=True, env=env
    )
    if p.returncode != 0:
        return dict(error=(p.stderr.strip().splitlines() or ["killed"])[-1][:60])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,5000,10000,20000")
    ap.add_argument("--sklearn-max", type=int, default=20000)
    ap.add_argument("--kinds", default="sklearn,none,hsic,cka,cka-groups,cka-3d")
    ap.add_argument("--case", nargs=2)
    a = ap.parse_args()
    if a.case:
        print(json.dumps(case(int(a.case[0]), a.case[1])))
        return
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(
        "| n | fit | wall s | CPU s | CPU / sklearn | warm CPU s | steps | peak RSS GB | n x n (XLA) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in (int(s) for s in a.sizes.split(",")):
        ref = None
        for kind in a.kinds.split(","):
            if kind == "sklearn" and n > a.sklearn_max:
                continue
            r = run(n, kind)
            if "error" in r:
                print(f"| {n:,} | {kind} | failed: {r['error']} | | | | | | |", flush=True)
                continue
            if kind == "sklearn":
                ref = r["cpu"]
            ratio = f"{r['cpu'] / ref:.1f}x" if ref else "—"
            steps = r.get("steps", "—")
            nxn = f"{r['nxn']:.2f}" if "nxn" in r else "—"
            warm = f"{r['warm_cpu']:.1f}" if "warm_cpu" in r else "—"
            print(
                f"| {n:,} | {kind} | {r['wall']:.1f} | {r['cpu']:.1f} | {ratio} | {warm} | {steps} | {r['rss']:.2f} "
                f"| {nxn} |",
                flush=True,
            )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
