"""One rule for numbers written as strings, in the model and the group metrics.

``q = ["1.5", "2.25", ...]`` was read by the model as one group per row (moving its
predictions by about one standard deviation of y) while the group metrics refused it.
"""

import numpy as np
import pandas as pd
import pytest

from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data
from fairkl.metrics import mse_gap


@pytest.fixture(scope="module")
def data():
    return make_seed_data(n=60, seed=0)


def _decimal_strings(q):
    return np.array([f"{v:.3f}" for v in q[:, 0]])


@pytest.mark.parametrize(
    "wrap",
    [np.asarray, lambda a: a.astype(object), pd.Series, lambda a: pd.Series(a, dtype="string")],
)
def test_decimal_strings_are_refused_by_the_model_and_the_metrics_alike(data, wrap):
    X, y, q = data
    qs = wrap(_decimal_strings(q))
    with pytest.raises(TypeError, match="numbers written as strings.*astype\\(float\\)"):
        FairKernelRidge(sigma=1.0, mu=1.0).fit(X, y, q=qs)
    with pytest.raises(TypeError, match="numbers written as strings"):
        mse_gap(y, y, sensitive_features=qs)


def test_a_few_integer_codes_as_strings_are_groups_in_both(data):
    X, y, _ = data
    labels = np.array(["1", "2", "3"] * 20)
    pred = FairKernelRidge(sigma=1.0, mu=1.0, dtype="float64").fit(X, y, q=labels).predict(X)
    ref = FairKernelRidge(sigma=1.0, mu=1.0, dtype="float64").fit(X, y, q=labels.astype(int) - 1)
    # Integer codes 0..2 are numeric (one column); as strings they are one-hot groups: both legal,
    # and the group metric sees the same three groups either way.
    assert np.all(np.isfinite(pred)) and ref.is_fitted
    assert mse_gap(y, pred, sensitive_features=labels) == pytest.approx(
        mse_gap(y, pred, sensitive_features=labels.astype(int))
    )


def test_a_categorical_declares_numeric_strings_as_groups(data):
    X, y, q = data
    qs = pd.Categorical(_decimal_strings(q)[:60])
    assert FairKernelRidge(sigma=1.0, mu=1.0).fit(X, y, q=qs).is_fitted


def test_word_labels_are_unaffected(data):
    X, y, _ = data
    labels = np.array(["a", "b"] * 30)
    assert FairKernelRidge(sigma=1.0, mu=1.0).fit(X, y, q=labels).is_fitted
