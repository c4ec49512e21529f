"""Issue 19: compile() + evaluate() and get_weights()/set_weights() on FairKernelRidge.

References: scikit-learn's KernelRidge predictions and NumPy losses.
"""

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data


@pytest.fixture(scope="module")
def fitted():
    X, y, _ = make_seed_data(n=60, seed=0)
    model = FairKernelRidge(sigma=1.0, lam=1e-2).fit(X, y)
    ref = KernelRidge(kernel="rbf", gamma=0.5, alpha=1e-2).fit(X, y).predict(X)
    return model, X, y, ref


def test_evaluate_after_compile_matches_numpy_losses(fitted):
    # Raised a raw JAX TracerArrayConversionError (wrapped in a ValueError about X).
    model, X, y, ref = fitted
    model.compile(loss="mse", metrics=["mae"])
    # several batches, y as (n,) or (n, 1): per-row losses (a (n,) output against a (n, 1) y would
    # broadcast to (n, n); a (n,) pair averaged batch means)
    for target in (y, y.reshape(-1, 1)):
        loss, mae = model.evaluate(X, target, batch_size=25, verbose=0)
        np.testing.assert_allclose(loss, np.mean((ref - y) ** 2), rtol=1e-4)
        np.testing.assert_allclose(mae, np.mean(np.abs(ref - y)), rtol=1e-4)


def test_evaluate_sample_weight_and_nan_rows(fitted):
    _, X, y, ref = fitted
    model = FairKernelRidge(sigma=1.0, lam=1e-2).fit(X, y)  # fresh: compile() keeps earlier metrics
    model.compile(loss="mse")
    w = np.r_[np.ones(30), np.zeros(30)]
    # Keras' default reduction: sum of weighted losses over the batch size
    got = model.evaluate(X, y, sample_weight=w, batch_size=len(X), verbose=0)
    np.testing.assert_allclose(got, np.sum(w * (ref - y) ** 2) / len(y), rtol=1e-4)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    assert np.isnan(model.evaluate(Xn, y, verbose=0))  # the RBF kernel alone gave a finite loss


def test_evaluate_refuses_a_wrong_width_by_name(fitted):
    model, X, y, _ = fitted
    model.compile(loss="mse")
    # Keras < 3.11 wraps the model's ValueError in a RuntimeError ("Unable to automatically
    # build the model ... Exception encountered: <our message>"); either way it names X.
    with pytest.raises((ValueError, RuntimeError), match="fitted with 2 features"):
        model.evaluate(X[:, :1], y, verbose=0)


def test_weights_round_trip_restores_the_fit(fitted):
    # get_weights() returned [] although the model was fitted.
    model, X, y, ref = fitted
    weights = model.get_weights()
    assert len(weights) == 6
    fresh = FairKernelRidge(sigma=1.0, lam=1e-2)
    fresh.set_weights(weights)
    np.testing.assert_allclose(fresh.predict(X), ref, rtol=1e-4, atol=1e-4 * np.std(y))


def test_set_weights_refuses_other_configs_and_wrong_lists(fitted):
    model, *_ = fitted
    with pytest.raises(ValueError, match="other hyperparameters"):
        FairKernelRidge(sigma=2.0, lam=1e-2).set_weights(model.get_weights())
    with pytest.raises(ValueError, match="expects the 6 arrays"):
        FairKernelRidge(sigma=1.0, lam=1e-2).set_weights(model.get_weights()[:2])
    assert FairKernelRidge().get_weights() == []
