"""Every ```python block of README.md runs as written, each alone in a fresh interpreter.

Run alone, a block cannot lean on an import made by an earlier one: the KerasTuner
block must itself import fairkl before keras_tuner (or Keras picks TensorFlow).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.S | re.M)


def test_readme_has_its_python_examples():
    assert len(BLOCKS) >= 4 and any("keras_tuner" in b for b in BLOCKS)


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(block, tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"
    }  # the README must set it itself
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
