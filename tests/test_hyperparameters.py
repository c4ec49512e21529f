"""The one table of hyperparameters (issue 20): every wrapper's signature and defaults against it.

The references are the wrappers' own signatures (``inspect.signature``) and
their behaviour (``get_config``, the save fingerprint written out by hand,
the HyperModel's space), compared with :data:`fairkl.hyperparameters.HYPERPARAMETERS`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math

import numpy as np
import pytest

from fairkl import hyperparameters as hp
from fairkl.models import FairKernelRidge
from fairkl.pipeline import FitConfig
from fairkl.sklearn import FairKernelRidgeClassifier, FairKernelRidgeCV, FairKernelRidgeRegressor
from fairkl.tuning import hypermodel

NAMES = [h.name for h in hp.HYPERPARAMETERS]


def _params(cls) -> dict:
    sig = inspect.signature(cls.__init__)
    return {k: p for k, p in sig.parameters.items() if k != "self" and p.kind != p.VAR_KEYWORD}


def test_table_rows_are_unique_and_complete():
    assert len(NAMES) == len(set(NAMES))
    for h in hp.HYPERPARAMETERS:
        assert h.scope in ("model", "fit", "internal"), h
        assert h.fingerprint in ("always", "low_rank", None), h
        assert h.doc and "\n" not in h.doc, h
        assert h.check(h.default) == h.default  # every default passes its own check


def test_fit_config_fields_and_defaults_are_the_table():
    fields = dataclasses.fields(FitConfig)
    assert [f.name for f in fields] == NAMES
    assert {f.name: f.default for f in fields} == hp.defaults()
    assert dataclasses.asdict(FitConfig()) == hp.defaults()


@pytest.mark.parametrize("cls", [FairKernelRidge])
def test_keras_model_signature_is_the_model_rows(cls):
    params = _params(cls)
    model_rows = [h for h in hp.HYPERPARAMETERS if h.scope == "model"]
    assert list(params) == [h.name for h in model_rows]
    for h in model_rows:
        p = params[h.name]
        assert p.default == h.default, h.name
        assert p.annotation == h.annotation, h.name
        positional = p.kind == p.POSITIONAL_OR_KEYWORD
        assert positional == h.positional, h.name


@pytest.mark.parametrize("cls", [FairKernelRidgeRegressor, FairKernelRidgeClassifier])
def test_sklearn_signatures_are_the_model_and_fit_rows(cls):
    params = _params(cls)
    assert set(params) == set(hp.ESTIMATOR_NAMES)
    assert {k: p.default for k, p in params.items()} == hp.ESTIMATOR_DEFAULTS
    assert {k: p.annotation for k, p in params.items()} == {
        k: hp.BY_NAME[k].annotation for k in params
    }
    positional = [k for k, p in params.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional == [h.name for h in hp.HYPERPARAMETERS if h.positional]
    # scikit-learn's get_params sees exactly the table's names.
    assert set(cls().get_params()) == set(hp.ESTIMATOR_NAMES)


def test_estimator_defaults_differ_from_the_table_only_in_dtype():
    differ = {k for k in hp.ESTIMATOR_NAMES if hp.ESTIMATOR_DEFAULTS[k] != hp.BY_NAME[k].default}
    assert differ == {"dtype"}
    assert hp.ESTIMATOR_DEFAULTS["dtype"] == "float64"


def test_cv_estimator_overlapping_parameters_match_the_table():
    params = _params(FairKernelRidgeCV)
    shared = set(params) & set(hp.ESTIMATOR_NAMES)
    # random_state is the splitter's seed there and penalty defaults to the closed-form "hsic"
    # (its fast path): the two documented differences.
    assert shared == {
        "sigma_q",
        "kernel_q",
        "penalty",
        "sigma_f",
        "tol",
        "epochs",
        "lr",
        "dtype",
        "random_state",
    }
    for k in shared - {"penalty", "random_state"}:
        assert params[k].default == hp.ESTIMATOR_DEFAULTS[k], k
    assert params["penalty"].default == "hsic"


def test_get_config_is_the_model_rows():
    m = FairKernelRidge(sigma=2.0, mu=1.5, n_components=7, dtype="float64")
    cfg = m.get_config()
    assert set(cfg) - {"name", "trainable"} == set(hp.MODEL_NAMES)
    assert cfg["sigma"] == 2.0 and cfg["mu"] == 1.5 and cfg["n_components"] == 7
    assert cfg["dtype"] == "float64"
    assert FairKernelRidge.from_config(cfg).get_config() == cfg


@pytest.mark.parametrize("n_components", [None, 5])
def test_fingerprint_is_the_documented_keys(n_components):
    """The fingerprint written out by hand: the exact model's 8 keys, plus 3 for a low-rank model."""
    m = FairKernelRidge(sigma=0.7, lam=0.1, mu=2.0, sigma_q=0.5, n_components=n_components)
    keys = ["sigma", "lam", "mu", "sigma_q", "penalty", "kernel_q", "sigma_f", "tol"]
    if n_components is not None:
        keys += ["n_components", "landmarks", "random_state"]
    blob = json.dumps({k: getattr(m, k) for k in keys}, sort_keys=True)
    expected = np.frombuffer(hashlib.sha256(blob.encode()).digest()[:8], dtype=np.int64)
    np.testing.assert_array_equal(m._config_fingerprint(), expected)
    assert hp.fingerprint_names(n_components is not None) == tuple(keys)


def test_hypermodel_space_is_the_table():
    searched = [h for h in hp.HYPERPARAMETERS if h.search is not None]
    assert hypermodel.DEFAULT_SPACE == {h.name: h.search for h in searched}
    assert hypermodel.TRIAL_FIELDS == tuple(h.name for h in searched)
    assert hypermodel.MODEL_FIELDS == tuple(h.name for h in searched if h.scope == "model")
    for h in searched:  # each range's ends pass the row's check (mu's 0 included)
        kind, lo, hi = h.search[:3]
        for x in (lo, hi, 0.0 if kind == "log_or_zero" else lo):
            h.check(int(x) if kind == "int" else float(x))


#: One invalid value per row: the message must name the argument.
BAD = {
    "sigma": [0.0, -1.0, math.inf, "1", True],
    "lam": [-1e-3, math.nan],
    "mu": [-1.0, None],
    "sigma_q": [0.0, "a"],
    "penalty": ["l2"],
    "kernel_q": ["poly"],
    "sigma_f": [-2.0],
    "tol": [0.0],
    "epochs": [0, 2.5, True],
    "lr": [0.0, 2.0, 1e-13],
    "dtype": ["float16"],
    "kernel": ["laplace"],
    "n_components": [0, 2.0, True],
    "landmarks": ["random"],
    "random_state": [-1, 1.5, False],
}


def test_every_row_has_bad_values_listed():
    assert set(BAD) == set(NAMES)


@pytest.mark.parametrize("name,value", [(k, x) for k, xs in BAD.items() for x in xs])
def test_each_check_names_its_argument(name, value):
    with pytest.raises((ValueError, TypeError)) as info:
        hp.check(name, value)
    assert name in str(info.value)
    with pytest.raises(type(info.value)) as again:  # FitConfig raises the same error
        FitConfig(**{name: value})
    assert str(again.value) == str(info.value)


@pytest.mark.parametrize(
    "cls", [FairKernelRidgeRegressor, FairKernelRidgeClassifier, FairKernelRidge]
)
def test_wrappers_validate_with_the_table(cls):
    X = np.random.default_rng(0).normal(size=(12, 2))
    y = X[:, 0] > 0 if cls is FairKernelRidgeClassifier else X[:, 0]
    with pytest.raises(ValueError, match="landmarks must be one of"):
        if cls is FairKernelRidge:
            cls(landmarks="random")
        else:
            cls(landmarks="random").fit(X, y)


def test_cross_row_rule_names_both_arguments(monkeypatch):
    from fairkl.solvers import programs

    # Only "rbf" is registered; register another kernel on X to reach the rule across rows.
    monkeypatch.setitem(programs.X_KERNELS, "other", programs.X_KERNELS["rbf"])
    assert FitConfig(kernel="other").kernel == "other"
    with pytest.raises(ValueError, match="n_components.*kernel='other'"):
        FitConfig(n_components=5, kernel="other")
    with pytest.raises(TypeError, match="unknown hyperparameter"):
        hp.check_all({"gamma": 1.0})
