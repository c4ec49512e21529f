"""hsic_test says when its answer cannot be trusted, instead of returning it."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from fairkl.metrics import hsic_test
from fairkl.metrics.independence import GAMMA_MIN_CALIBRATED


def test_gamma_method_warns_below_its_calibrated_size():
    rng = np.random.default_rng(0)
    with pytest.warns(UserWarning, match="method='permutation'"):
        hsic_test(rng.normal(size=12), rng.normal(size=12), method="gamma")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hsic_test(
            rng.normal(size=GAMMA_MIN_CALIBRATED),
            rng.normal(size=GAMMA_MIN_CALIBRATED),
            method="gamma",
        )


@pytest.mark.parametrize("seed", [-1, np.int64(-5)])
def test_negative_seed_is_named_as_negative(seed):
    with pytest.raises(ValueError, match="non-negative"):
        hsic_test(np.arange(10.0), np.arange(10.0) ** 2, random_state=seed)


# One fresh interpreter with FAIRKL_ENABLE_X64=0 (JAX in float32) serves both refusals below
# (each start costs ~3.5 s of CPU importing jax, keras and keras_tuner); it prints one line per
# check, the hsic_test one first (before keras_tuner is imported, as that check alone would).
WITHOUT_X64 = """
import os; os.environ['FAIRKL_ENABLE_X64'] = '0'
import numpy as np, fairkl
from fairkl.metrics import hsic_test
try:
    hsic_test(np.repeat(np.arange(5.0), 4), np.tile(np.arange(4.0), 5), random_state=0)
except RuntimeError as e:
    print('hsic_test refused:', str(e).replace(chr(10), ' '), flush=True)
import keras_tuner as kt
from fairkl.datasets import make_seed_data
from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel
X, y, q = make_seed_data(n=60, seed=0)
hm = FairKernelRidgeHyperModel(X[:40], y[:40], q[:40], X[40:], y[40:], q[40:])
o = kt.oracles.RandomSearchOracle(objective=kt.Objective('val_mse', 'min'), max_trials=2, seed=1)
try:
    BatchedTuner(hm, o, directory=os.environ['TMP_DIR'], project_name='x')
except RuntimeError as e:
    print('BatchedTuner refused:', str(e).replace(chr(10), ' '), flush=True)
"""


@pytest.fixture(scope="module")
def without_x64(tmp_path_factory):
    """stdout lines and stderr of the fresh float32 interpreter."""
    import os

    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_X64],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMP_DIR": str(tmp_path_factory.mktemp("float32"))},
    )
    return out.stdout.splitlines(), out.stderr[-2000:]


def _line(lines, prefix):
    return next((line for line in lines if line.startswith(prefix)), "")


def test_without_x64_the_test_refuses_rather_than_shift_p_values(without_x64):
    lines, stderr = without_x64
    line = _line(lines, "hsic_test refused:")
    assert line.startswith("hsic_test refused: hsic_test needs 64-bit JAX"), (lines, stderr)


@pytest.mark.parametrize("which", ["y", "q"])
def test_a_yardstick_needs_a_varying_target_and_attribute(which):
    from fairkl.metrics import UndefinedDependence, Yardstick

    y, q = np.arange(10.0), np.arange(10.0) % 3
    if which == "y":
        y = np.ones(10)
    else:
        q = np.ones(10)
    with pytest.raises(UndefinedDependence, match="constant"):
        Yardstick.from_data(y, q)


def test_batched_tuner_refuses_float32_jax(without_x64):
    lines, stderr = without_x64
    line = _line(lines, "BatchedTuner refused:")
    assert line.startswith("BatchedTuner refused: BatchedTuner fits in float64"), (lines, stderr)
