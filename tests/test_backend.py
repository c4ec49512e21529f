"""Importing fairkl selects the JAX backend, or explains why it cannot."""

import os
import subprocess
import sys

import pytest


def run(code, **env):
    e = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    e.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120
    )


@pytest.fixture(scope="module")
def plain_import():
    """One fresh interpreter, no KERAS_BACKEND, serving the two checks of a plain import (each
    start costs ~3.5 s of CPU importing jax and keras): one printed line per check."""
    return run(
        "import jax, fairkl, keras\n"
        "print('backend', keras.backend.backend())\n"
        "print('x64', jax.config.jax_enable_x64)\n"
    )


def printed(result, check: str) -> str:
    """What the fresh interpreter printed for one check (its line, without the label)."""
    lines = dict(line.split(maxsplit=1) for line in result.stdout.splitlines() if " " in line)
    return lines.get(check, f"<no line {check!r}: {result.stdout!r}>")


def test_import_selects_jax_without_env_var(plain_import):
    assert plain_import.returncode == 0, plain_import.stderr
    assert printed(plain_import, "backend") == "jax"


def test_keras_imported_with_other_backend_gives_clear_error():
    r = run("import keras; import fairkl", KERAS_BACKEND="numpy")
    assert r.returncode != 0
    assert "KERAS_BACKEND=jax" in r.stderr and "'numpy'" in r.stderr


def test_env_var_naming_other_backend_gives_clear_error():
    r = run("import fairkl", KERAS_BACKEND="torch")
    assert r.returncode != 0
    assert "KERAS_BACKEND='torch'" in r.stderr


def test_import_leaves_x64_as_jax_has_it(plain_import):
    # fairkl's float64 work runs in a scoped context (tests/test_x64_scope.py).
    assert plain_import.returncode == 0, plain_import.stderr
    assert printed(plain_import, "x64") == "False"


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
