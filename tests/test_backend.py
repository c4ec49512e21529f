"""Importing fairkl selects the JAX backend, or explains why it cannot."""

import os
import subprocess
import sys


def run(code, **env):
    e = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    e.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120
    )


def test_import_selects_jax_without_env_var():
    r = run("import fairkl, keras; print(keras.backend.backend())")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("jax")


def test_keras_imported_with_other_backend_gives_clear_error():
    r = run("import keras; import fairkl", KERAS_BACKEND="numpy")
    assert r.returncode != 0
    assert "KERAS_BACKEND=jax" in r.stderr and "'numpy'" in r.stderr


def test_env_var_naming_other_backend_gives_clear_error():
    r = run("import fairkl", KERAS_BACKEND="torch")
    assert r.returncode != 0
    assert "KERAS_BACKEND='torch'" in r.stderr


def test_import_leaves_x64_as_jax_has_it():
    # fairkl's float64 work runs in a scoped context (tests/test_x64_scope.py).
    r = run("import jax, fairkl; print(jax.config.jax_enable_x64)")
    assert r.returncode == 0 and r.stdout.strip().endswith("False"), r.stderr


def test_x64_opt_out_keeps_jax_default():
    code = (
        "import jax, fairkl\n"
        "assert not jax.config.jax_enable_x64\n"
        "from fairkl.datasets import make_seed_data\n"
        "X, y, q = make_seed_data(n=40, seed=0)\n"
        "fairkl.FairKernelRidge(1.0, 0.1).fit(X, y)\n"
        "try:\n"
        "    fairkl.FairKernelRidge(1.0, 0.1, 1.0).fit(X, y, q=q)\n"
        "except RuntimeError as e:\n"
        "    assert 'FAIRKL_ENABLE_X64' in str(e); print('ok')\n"
    )
    r = run(code, FAIRKL_ENABLE_X64="0")
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr
