"""fairkl.tuning refuses a KerasTuner outside the range whose internals it patches, naming both."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from fairkl.tuning import persistence

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("version", ["1.4.8", "1.4.9", "1.4.10rc1"])
def test_supported_versions_pass(version):
    persistence.check_keras_tuner_version(version)


@pytest.mark.parametrize("version", ["1.5.0", "1.4.7", "1.3.5", "2.0", "nightly"])
def test_other_versions_raise_naming_the_version_and_the_range(version):
    with pytest.raises(ImportError) as e:
        persistence.check_keras_tuner_version(version)
    assert f"keras-tuner {version} is installed" in str(e.value)
    assert "keras-tuner>=1.4.8,<1.5" in str(e.value)


def test_importing_fairkl_tuning_with_an_unknown_version_fails_clearly():
    code = (
        "import fairkl, keras_tuner\n"
        "keras_tuner.__version__ = '1.5.0'\n"
        "try:\n"
        "    import fairkl.tuning\n"
        "except ImportError as e:\n"
        "    print('refused:', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("refused: fairkl.tuning supports keras-tuner>=1.4.8,<1.5")
    assert "keras-tuner 1.5.0 is installed" in r.stdout


def test_pyproject_declares_the_same_range():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if re.match(r"keras-tuner\b", d)]
    lo, hi = persistence.KERAS_TUNER_SUPPORTED
    assert spec.replace(" ", "") == f"keras-tuner>={lo[0]}.{lo[1]}.{lo[2]},<{hi[0]}.{hi[1]}"
    assert hi[2] == 0  # the upper bound is a whole minor release


# ------------------------------------------- the patched internal, only during a search
def test_save_json_is_replaced_only_inside_the_block_and_restored_after_an_error():
    from keras_tuner.src import utils as kt_utils

    original = kt_utils.save_json
    with pytest.raises(RuntimeError, match="trial failed"):
        with persistence.atomic_writes():
            with persistence.atomic_writes():  # re-entrant: restored by the outer block only
                assert kt_utils.save_json is persistence._write_or_defer
            assert kt_utils.save_json is persistence._write_or_defer
            raise RuntimeError("trial failed")
    assert kt_utils.save_json is original
    assert persistence._patch_depth == 0


def test_a_batched_search_leaves_keras_tuner_as_it_found_it(tmp_path):
    import keras_tuner as kt
    from keras_tuner.src import utils as kt_utils
    from keras_tuner.src.engine.stateful import Stateful

    from fairkl.datasets import make_seed_data
    from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel

    original, original_save = kt_utils.save_json, Stateful.save
    X, y, q = make_seed_data(n=60, seed=2)
    hm = FairKernelRidgeHyperModel(X[:40], y[:40], q[:40], X[40:], y[40:], q[40:])
    seen = []
    hm_start = hm.start_batch

    def spy(values):  # inside the search: KerasTuner's writer is fairkl's atomic one
        seen.append(kt_utils.save_json is persistence._write_or_defer)
        return hm_start(values)

    hm.start_batch = spy
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("val_mse", "min"), max_trials=2, seed=0
    )
    BatchedTuner(hm, oracle, directory=tmp_path, project_name="p").search()
    assert seen and all(seen)
    assert kt_utils.save_json is original and Stateful.save is original_save
