"""Every way of asking the fitted model for predictions validates its input.

``model(X)`` used to skip the checks of ``predict`` (a 1-column X on a 2-feature model
returned numbers, a NaN gave a finite value); ``predict`` ignored ``batch_size``,
``steps`` and ``callbacks``.
"""

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from fairkl import FairKernelRidge


@pytest.fixture(scope="module")
def fitted(seed_data):
    X, y, q, Xt, _, _ = seed_data
    model = FairKernelRidge(sigma=1.0, lam=1e-2, mu=0.0, dtype="float64").fit(X, y, q=q)
    reference = KernelRidge(kernel="rbf", gamma=0.5, alpha=1e-2).fit(X, y).predict(Xt)
    return model, Xt, reference


@pytest.mark.parametrize("batch_size", [None, 1, 7, 50, 10_000])
def test_predict_batch_size_bounds_the_chunk_not_the_answer(fitted, batch_size):
    model, Xt, reference = fitted
    np.testing.assert_allclose(
        model.predict(Xt, batch_size=batch_size), reference, rtol=1e-7, atol=1e-9
    )


@pytest.mark.parametrize("bad", [0, -3])
def test_predict_refuses_a_non_positive_batch_size(fitted, bad):
    model, Xt, _ = fitted
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(Xt, batch_size=bad)


@pytest.mark.parametrize("option", [{"steps": 2}, {"callbacks": []}])
def test_predict_refuses_keras_dataset_options(fitted, option):
    model, Xt, _ = fitted
    with pytest.raises(ValueError, match=next(iter(option))):
        model.predict(Xt, **option)


def test_direct_call_equals_predict(fitted):
    model, Xt, reference = fitted
    np.testing.assert_allclose(np.asarray(model(Xt)), reference, rtol=1e-7, atol=1e-9)


def test_direct_call_refuses_the_wrong_number_of_features(fitted):
    model, Xt, _ = fitted
    with pytest.raises(ValueError, match="features"):
        model(Xt[:, :1])


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_direct_call_refuses_non_finite_inputs(fitted, value):
    model, Xt, _ = fitted
    bad = Xt.copy()
    bad[3, 0] = value
    with pytest.raises(ValueError, match="NaN or infinite"):
        model(bad)


def test_direct_call_before_fit_names_fit():
    with pytest.raises(Exception, match="fit"):
        FairKernelRidge()(np.zeros((3, 2)))


@pytest.mark.parametrize(
    "dtype,name",
    [(np.float64, "float64"), (np.dtype("float32"), "float32"), ("float64", "float64")],
)
def test_numpy_dtypes_are_accepted_by_name(seed_data, dtype, name):
    X, y, q = seed_data[:3]
    assert FairKernelRidge(dtype=dtype).fit(X, y, q=q).compute_dtype_name == name


def test_an_unsupported_dtype_is_named():
    with pytest.raises(ValueError, match="dtype must be one of"):
        FairKernelRidge(dtype=np.int32)
