"""Importing fairkl selects the JAX backend, or explains why it cannot."""

import os
import subprocess
import sys


def run(code, **env):
    e = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120)


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
