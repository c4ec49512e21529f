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
        hsic_test(rng.normal(size=GAMMA_MIN_CALIBRATED), rng.normal(size=GAMMA_MIN_CALIBRATED), method="gamma")


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
