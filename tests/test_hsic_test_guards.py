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


def test_without_x64_the_test_refuses_rather_than_shift_p_values():
    code = (
        "import os; os.environ['FAIRKL_ENABLE_X64'] = '0'\n"
        "import numpy as np, fairkl\n"
        "from fairkl.metrics import hsic_test\n"
        "try:\n"
        "    hsic_test(np.repeat(np.arange(5.0), 4), np.tile(np.arange(4.0), 5), random_state=0)\n"
        "except RuntimeError as e:\n"
        "    print('refused:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "refused: hsic_test needs 64-bit JAX" in out.stdout, out.stderr[-2000:]


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


def test_batched_tuner_refuses_float32_jax():
    code = (
        "import os; os.environ['FAIRKL_ENABLE_X64'] = '0'\n"
        "import fairkl, keras_tuner as kt\n"
        "from fairkl.datasets import make_seed_data\n"
        "from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel\n"
        "X, y, q = make_seed_data(n=60, seed=0)\n"
        "hm = FairKernelRidgeHyperModel(X[:40], y[:40], q[:40], X[40:], y[40:], q[40:])\n"
        "o = kt.oracles.RandomSearchOracle(objective=kt.Objective('val_mse', 'min'), max_trials=2, seed=1)\n"
        "try:\n"
        "    BatchedTuner(hm, o, directory=os.environ['TMP_DIR'], project_name='x')\n"
        "except RuntimeError as e:\n"
        "    print('refused:', e)\n"
    )
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "TMP_DIR": tmp},
        )
    assert "refused: BatchedTuner fits in float64" in out.stdout, out.stderr[-2000:]
