"""A fit with the feature matrix sharded over 2 (virtual CPU) devices equals the single-device fit.

XLA reads ``--xla_force_host_platform_device_count`` once, at start-up, so the
sharded run happens in a subprocess with ``XLA_FLAGS`` set; the reference runs
in the same subprocess on unsharded arrays (and is checked against a dense
NumPy solve, so the comparison is not of the code with itself only).
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(r"""
    import json
    import numpy as np
    import jax
    # The lower layers (solvers, landmarks) compute in the caller's mode: float64 here, set
    # before anything is traced (on the floor JAX, 0.4.30, turning it on after keras was
    # imported left an int32 index in the sharded factor loop: an XLA verifier error).
    jax.config.update("jax_enable_x64", True)
    import fairkl  # noqa: F401  (selects Keras's JAX backend)
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from fairkl import solvers
    from fairkl.landmarks import select_landmarks
    from fairkl.solvers import lowrank

    assert len(jax.devices()) == 2, jax.devices()
    rng = np.random.default_rng(0)
    n, d, m, sigma, lam, mu = 512, 5, 40, 2.0, 1e-2, 3.0
    X = rng.standard_normal((n, d))
    q = rng.standard_normal(n)
    y = X[:, 0] + np.sin(X[:, 1]) + 0.5 * q + 0.1 * rng.standard_normal(n)
    Z = X[select_landmarks(X, m, seed=0)]
    rows = NamedSharding(Mesh(np.array(jax.devices()), ("rows",)), P("rows", None))
    vec = NamedSharding(Mesh(np.array(jax.devices()), ("rows",)), P("rows"))
    Xs, ys, qs = jax.device_put(X, rows), jax.device_put(y, vec), jax.device_put(q[:, None], rows)
    out = {"shards": [len(a.addressable_shards) for a in (Xs, ys, qs)],
           "shard_rows": [s.data.shape[0] for s in Xs.addressable_shards]}
    # Gram statistics Phi^T Phi, Phi^T y accumulated over row chunks of the sharded X
    one = lowrank.fit_hsic_lowrank(X, y, q[:, None], Z, sigma, lam, mu, sigma_q=1.0, chunk=128)
    two = lowrank.fit_hsic_lowrank(Xs, ys, qs, Z, sigma, lam, mu, sigma_q=1.0, chunk=128)
    out["beta_1"], out["beta_2"] = np.asarray(one.alpha).tolist(), np.asarray(two.alpha).tolist()
    # kernel rows of the exact model: predictions k(X_new, X) alpha with X_new sharded by rows
    alpha = rng.standard_normal(m)
    out["pred_1"] = np.asarray(solvers.predict_program(X, Z, alpha, sigma)).tolist()
    out["pred_2"] = np.asarray(solvers.predict_program(Xs, Z, alpha, sigma)).tolist()
    out["X"], out["y"], out["q"], out["Z"], out["alpha"] = X.tolist(), y.tolist(), q.tolist(), Z.tolist(), alpha.tolist()
    print("JSON" + json.dumps(out))
""")


def test_sharded_fit_equals_single_device_fit():
    import json

    import numpy as np

    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("JSON", 1)[1])
    assert out["shards"] == [2, 2, 2] and out["shard_rows"] == [
        256,
        256,
    ]  # really split over 2 devices
    np.testing.assert_allclose(
        out["beta_2"], out["beta_1"], rtol=1e-10, atol=1e-10 * np.abs(out["beta_1"]).max()
    )
    np.testing.assert_allclose(out["pred_2"], out["pred_1"], rtol=1e-12, atol=1e-12)
    # and the single-device answer is the dense low-rank HSIC solve
    X, y, q, Z = (np.asarray(out[k]) for k in ("X", "y", "q", "Z"))
    rbf = lambda A, B: np.exp(-((A[:, None] - B[None]) ** 2).sum(-1) / (2 * 2.0**2))  # noqa: E731
    s, U = np.linalg.eigh(rbf(Z, Z))
    M = U / np.sqrt(s)
    Phi = rbf(X, Z) @ M
    n = len(y)
    H = np.eye(n) - 1.0 / n
    Lc = H @ np.exp(-((q[:, None] - q[None]) ** 2) / 2) @ H
    w = np.linalg.solve(Phi.T @ Phi + 1e-2 * np.eye(len(Z)) + 3.0 / n * Phi.T @ Lc @ Phi, Phi.T @ y)
    np.testing.assert_allclose(out["beta_1"], M @ w, rtol=1e-6, atol=1e-6 * np.abs(M @ w).max())
    np.testing.assert_allclose(
        out["pred_1"], rbf(X, Z) @ np.asarray(out["alpha"]), rtol=1e-10, atol=1e-10
    )
