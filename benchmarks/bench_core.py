"""Benchmark of the core solvers; prints a table. Run: make bench (or python benchmarks/bench_core.py).

Measures, on the seed tutorial's data (y = sin(x) + 3q + noise):
  1. one CKA-penalised fit at n = 150 after compilation, against the earlier
     public implementation's way: a Python loop of 300 un-jitted gradient steps;
  2. exact fits at n = 2,000 (kernel ridge and the HSIC closed form), with
     scikit-learn's KernelRidge for scale;
  3. an exact HSIC mu-path of 100 values at n = 2,000 against one exact fit;
  4. the pipeline's batched CKA entry (``fairkl.pipeline.solve_batch``, what the
     tuner calls) for 16 settings at n = 150, against a loop of 16 model fits.
Targets (issue 2): (1) <= 30 ms and >= 50x faster than the slow way;
(3) <= 2x one exact fit.
"""

from __future__ import annotations

import statistics
import time
import warnings

import jax
import numpy as np
from keras import ops
from sklearn.kernel_ridge import KernelRidge

import fairkl  # noqa: F401  (selects the JAX backend)
from fairkl import FairKernelRidge, solvers
from fairkl.datasets import make_seed_data
from fairkl.kernels import median_heuristic, rbf_kernel

# This script calls fairkl's lower layers (solvers, kernels, landmarks) directly; they compute
# in the caller's JAX mode (only the public entry points enter fairkl's float64 scope).
jax.config.update("jax_enable_x64", True)


def timeit(fn, repeats=7, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def slow_cka_fit(X, y, q, sigma, lam, mu, epochs=300, lr=0.01):
    """The earlier public implementation's loop: eager jax.grad + Adam on alpha, one step at a time."""
    Xt = ops.convert_to_tensor(X, "float32")
    ys = ops.convert_to_tensor(y / y.std(), "float32")
    qt = ops.convert_to_tensor(q, "float32")
    K = rbf_kernel(Xt, sigma=sigma)
    pen = solvers.CKAPenalty.make(
        solvers.centered_sensitive_kernel(qt, median_heuristic(qt), "rbf"),
        median_heuristic(ys[:, None]),
    )
    loss = lambda a: solvers.objective(a, K, ys, lam, mu, lambda f: solvers.cka_penalty(f, pen))  # noqa: E731
    alpha = ops.convert_to_tensor(
        np.linalg.solve(np.asarray(K) + lam * np.eye(len(y)), np.asarray(ys)), "float32"
    )
    m = ops.zeros_like(alpha)
    v = ops.zeros_like(alpha)
    for t in range(1, epochs + 1):
        g = jax.grad(loss)(alpha)  # not compiled: traced and dispatched op by op
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        alpha = alpha - lr * (m / (1 - 0.9**t)) / (ops.sqrt(v / (1 - 0.999**t)) + 1e-7)
    return np.asarray(alpha)


def batch_rows(X, y, q):
    """16 CKA settings: one vectorised pipeline call vs 16 separate model fits."""
    from fairkl.pipeline import FitConfig, prepare, solve_batch

    rng = np.random.default_rng(0)
    B = 16
    cols = dict(
        sigmas=rng.uniform(0.5, 2, B),
        lams=10 ** rng.uniform(-3, -1, B),
        mus=10 ** rng.uniform(-1, 1, B),
        sigma_qs=np.full(B, np.nan),
        lrs=np.full(B, 0.01),
        epochs=np.full(B, 300),
    )
    cfg = FitConfig(mu=1.0, penalty="cka", dtype="float64")
    problem = prepare(X, y, q, cfg)

    def batched():
        jax.block_until_ready(solve_batch(problem, cfg, **cols).alpha)

    def loop():
        for k in range(B):
            FairKernelRidge(
                cols["sigmas"][k], cols["lams"][k], cols["mus"][k], dtype="float64"
            ).fit(X, y, q=q)

    t_batch, t_loop = timeit(batched, repeats=3), timeit(loop, repeats=3)
    return [
        ("pipeline.solve_batch, 16 CKA settings n=150 (one call, fits in sequence)", t_batch, ""),
        (
            "16 FairKernelRidge CKA fits n=150 in a loop",
            t_loop,
            f"batch/loop = {t_batch / t_loop:.2f}",
        ),
    ]


def main():
    rows = []
    X, y, q = make_seed_data(n=200, seed=0)
    X, y, q = X[:150], y[:150], q[:150]

    model = FairKernelRidge(sigma=1.0, lam=1e-2, mu=5.0)
    t0 = time.perf_counter()
    model.fit(X, y, q=q, epochs=300)
    cold = time.perf_counter() - t0
    fast = timeit(lambda: model.fit(X, y, q=q, epochs=300))
    n_iter = model.n_iter_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forced = FairKernelRidge(sigma=1.0, lam=1e-2, mu=5.0, tol=1e-300)
        fast300 = timeit(lambda: forced.fit(X, y, q=q, epochs=300))
    slow = timeit(lambda: slow_cka_fit(X, y, q, 1.0, 1e-2, 5.0), repeats=1, warmup=0)
    rows += [
        ("CKA fit n=150, first call (compilation included)", cold, ""),
        (
            f"CKA fit n=150, compiled, default stop ({n_iter} steps to tol 1e-10)",
            fast,
            "target <= 30 ms",
        ),
        (f"CKA fit n=150, compiled, {forced.n_iter_} trial steps (tol=1e-300)", fast300, ""),
        (
            "CKA fit n=150, slow way (Python loop, 300 un-jitted Adam steps)",
            slow,
            f"speed-up {slow / fast:.0f}x (default stop), {slow / fast300:.0f}x (all steps); target >= 50x",
        ),
    ]

    Xb, yb, qb = make_seed_data(n=2000, seed=1)
    krr = FairKernelRidge(sigma=1.0, lam=1e-2, dtype="float64")
    t_krr = timeit(lambda: krr.fit(Xb, yb), repeats=5)
    hsic = FairKernelRidge(sigma=1.0, lam=1e-2, mu=5.0, penalty="hsic", dtype="float64")
    t_hsic = timeit(lambda: hsic.fit(Xb, yb, q=qb), repeats=5)
    t_sk = timeit(lambda: KernelRidge(kernel="rbf", gamma=0.5, alpha=1e-2).fit(Xb, yb), repeats=5)
    mus = np.linspace(0.0, 50.0, 100)
    path_holder = {}
    t_path = timeit(lambda: path_holder.update(p=hsic.mu_path(Xb, yb, qb, mus)), repeats=5)
    p = path_holder["p"]
    rows += [
        ("exact KRR fit n=2000 (mu=0, Cholesky, float64)", t_krr, ""),
        ("sklearn KernelRidge fit n=2000 (float64), for scale", t_sk, ""),
        ("exact HSIC fit n=2000 (one mu, LU, float64)", t_hsic, ""),
        (
            f"HSIC mu-path n=2000, 100 values (rank {p.rank}, residual {p.residual:.0e})",
            t_path,
            f"{t_path / t_hsic:.2f}x one exact HSIC fit; target <= 2x",
        ),
    ]

    rows += batch_rows(X, y, q)

    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'time':>10}  note")
    print("-" * (width + 40))
    for name, t, note in rows:
        print(f"{name:<{width}}  {t * 1e3:8.1f} ms  {note}")


if __name__ == "__main__":
    main()
