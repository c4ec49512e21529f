"""Every bad input gets a clear error that names the argument."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from fairkl import FairKernelRidge

rng = np.random.default_rng(0)
X = rng.normal(size=(20, 2))
y = rng.normal(size=20)
q = rng.normal(size=20)


def with_value(a, index, value):
    a = np.array(a, dtype=float)
    a.flat[index] = value
    return a


FIT_CASES = [
    ("NaN in X", dict(X=with_value(X, 3, np.nan)), ValueError, r"X contains 1 NaN or infinite"),
    ("inf in X", dict(X=with_value(X, 0, np.inf)), ValueError, r"X contains 1 NaN or infinite"),
    ("NaN in y", dict(y=with_value(y, 5, np.nan)), ValueError, r"y contains 1 NaN"),
    ("inf in q", dict(q=with_value(q, 2, -np.inf)), ValueError, r"q contains 1 NaN"),
    ("y too short", dict(y=y[:-1]), ValueError, r"y has 19 rows but X has 20"),
    ("q too long", dict(q=np.append(q, 1.0)), ValueError, r"q has 21 rows but X has 20"),
    ("X 1-D", dict(X=X[:, 0]), ValueError, r"X must be 2-D"),
    ("X 3-D", dict(X=X[:, :, None]), ValueError, r"X must be 2-D"),
    ("y 2-D with two columns", dict(y=np.column_stack([y, y])), ValueError, r"y must be 1-D"),
    ("q 3-D", dict(q=q[:, None, None]), ValueError, r"q must be 1-D or 2-D"),
    ("3 samples", dict(X=X[:3], y=y[:3], q=q[:3]), ValueError, r"X has 3 samples; at least 4"),
    ("empty X", dict(X=np.empty((0, 2)), y=np.empty(0), q=np.empty(0)), ValueError, r"X is empty"),
    ("X without features", dict(X=np.empty((20, 0))), ValueError, r"X is empty"),
    ("strings in X", dict(X=np.array([["a", "b"]] * 20)), TypeError, r"X must be numeric"),
    ("objects in y", dict(y=np.array([object()] * 20)), TypeError, r"y must be numeric"),
    ("None for X", dict(X=None), ValueError, r"X is None"),
    (
        "missing q with mu > 0",
        dict(q=None),
        ValueError,
        r"q \(the sensitive attribute\) is required when mu > 0",
    ),
]


@pytest.mark.parametrize("penalty", ["cka", "hsic"])
@pytest.mark.parametrize("case,override,exc,match", FIT_CASES, ids=[c[0] for c in FIT_CASES])
def test_bad_fit_inputs(case, override, exc, match, penalty):
    args = dict(X=X, y=y, q=q) | override
    with pytest.raises(exc, match=match):
        FairKernelRidge(1.0, 0.1, 1.0, penalty=penalty).fit(args["X"], args["y"], q=args["q"])


PARAM_CASES = [
    (dict(sigma=0.0), ValueError, r"sigma must be > 0"),
    (dict(sigma=-1.0), ValueError, r"sigma must be > 0"),
    (dict(sigma=np.nan), ValueError, r"sigma must be finite"),
    (dict(sigma="1"), TypeError, r"sigma must be a real number"),
    (dict(lam=-1e-3), ValueError, r"lam must be >= 0"),
    (dict(mu=-1.0), ValueError, r"mu must be >= 0"),
    (dict(mu=np.inf), ValueError, r"mu must be finite"),
    (dict(sigma_q=0.0), ValueError, r"sigma_q must be > 0"),
    (dict(sigma_q=-2.0), ValueError, r"sigma_q must be > 0"),
    (dict(sigma_f=0.0), ValueError, r"sigma_f must be > 0"),
    (dict(penalty="l2"), ValueError, r"penalty must be one of"),
    (dict(kernel_q="poly"), ValueError, r"kernel_q must be one of"),
    (dict(dtype="float16"), ValueError, r"dtype must be one of"),
    (dict(tol=-1.0), ValueError, r"tol must be > 0"),
]


@pytest.mark.parametrize("params,exc,match", PARAM_CASES, ids=[str(p[0]) for p in PARAM_CASES])
def test_bad_hyperparameters(params, exc, match):
    with pytest.raises(exc, match=match):
        FairKernelRidge(**params)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(epochs=0), ValueError, r"epochs must be >= 1"),
        (dict(epochs=10.5), TypeError, r"epochs must be an integer"),
        (dict(lr=0.0), ValueError, r"lr must be > 0"),
        (dict(lr=2.0), ValueError, r"lr must be in \(0, 1\]"),
    ],
)
def test_bad_fit_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        FairKernelRidge(1.0, 0.1, 1.0).fit(X, y, q=q, **kwargs)


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        FairKernelRidge().predict(X)


def test_predict_with_wrong_number_of_features():
    model = FairKernelRidge().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but this model was fitted with 2"):
        model.predict(np.ones((5, 3)))
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        model.predict(with_value(X, 0, np.nan))


def test_one_dimensional_y_column_and_q_are_accepted():
    a = FairKernelRidge(1.0, 0.1, 1.0, dtype="float64").fit(X, y[:, None], q=q).predict(X)
    b = FairKernelRidge(1.0, 0.1, 1.0, dtype="float64").fit(X, y, q=q[:, None]).predict(X)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_mu_path_validates_inputs():
    model = FairKernelRidge()
    with pytest.raises(ValueError, match="q .* is required for mu_path"):
        model.mu_path(X, y, None, [0.0, 1.0])
    with pytest.raises(ValueError, match="mus must all be >= 0"):
        model.mu_path(X, y, q, [-1.0])
    with pytest.raises(ValueError, match="mus contains 1 NaN"):
        model.mu_path(X, y, q, [np.nan])
