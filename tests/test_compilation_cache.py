"""JAX's persistent compilation cache: used by the test suite and the book's build, never turned on by fairkl."""

import os
import subprocess
import sys
from pathlib import Path

import jax

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import fairkl, jax
from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data
X, y, q = make_seed_data(n=40, seed=0)
FairKernelRidge(mu=1.0).fit(X, y, q=q)
print(repr(jax.config.jax_compilation_cache_dir))
"""


def test_importing_and_fitting_with_fairkl_leaves_the_cache_off(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] in ("None", "''"), result.stdout
    assert (
        list(tmp_path.iterdir()) == []
    )  # no cache folder (nor anything else) written where it ran


def test_the_suite_uses_the_ignored_cache_folder_unless_told_otherwise():
    given = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    assert jax.config.jax_compilation_cache_dir == (given or None)
    if os.environ.get("FAIRKL_TEST_JAX_CACHE", "1") != "0" and given == str(ROOT / ".jax_cache"):
        assert ".jax_cache/" in (ROOT / ".gitignore").read_text().splitlines()
