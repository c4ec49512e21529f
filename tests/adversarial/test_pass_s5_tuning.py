"""Adversarial pass S5 (issue 19): every name in ``fairkl.tuning.__all__``.

Each case failed before this pass (silently accepted, silently mapped to another
value, or a raw message naming no argument); legal results are checked against an
independent computation (a brute-force double loop, a union of rectangles, a
fit with the plain model).
"""

import gc
import os

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from fairkl import tuning as T

RNG = np.random.default_rng(0)
N, NV = 40, 20
X = RNG.normal(size=(N, 2))
Y = X[:, 0] + 0.1 * RNG.normal(size=N)
Q = X[:, 1] + 0.5 * RNG.normal(size=N)
XV = RNG.normal(size=(NV, 2))
YV = XV[:, 0]
QV = XV[:, 1] + 0.5 * RNG.normal(size=NV)
SPACE = {"epochs": 30}


def hypermodel(**kwargs):
    kwargs.setdefault("space", SPACE)
    return T.FairKernelRidgeHyperModel(X, Y, Q, XV, YV, QV, **kwargs)


@pytest.fixture(scope="module")
def hm():
    return hypermodel()


@pytest.fixture(scope="module")
def default_values(hm):
    hp = kt.HyperParameters()
    hm.declare_hyperparameters(hp)
    return dict(hp.values)


# ------------------------------------------------------------------ the hypermodel
@pytest.mark.parametrize("options", [[1], "x", 3])
def test_model_options_must_be_a_dict(options):
    """Before: dict()'s 'dictionary update sequence element' messages."""
    with pytest.raises(TypeError, match="model_options must be a dict"):
        hypermodel(model_options=options)


def test_categorical_q_is_read_as_labels():
    """Before: a bare pd.Categorical gave "Cannot interpret CategoricalDtype as a data type"."""
    qs, qvs = np.where(Q > 0, "a", "b"), np.where(QV > 0, "a", "b")
    from_cat = T.FairKernelRidgeHyperModel(
        X, Y, pd.Categorical(qs), XV, YV, pd.Categorical(qvs), space=SPACE
    )
    from_str = T.FairKernelRidgeHyperModel(X, Y, qs, XV, YV, qvs, space=SPACE)
    np.testing.assert_array_equal(from_cat.q_train, from_str.q_train)
    np.testing.assert_array_equal(from_cat.q_val, from_str.q_val)


@pytest.mark.parametrize("mu", [-1.0, float("nan"), float("inf")])
def test_negative_or_nonfinite_mu_refused_not_mapped_to_zero(hm, default_values, mu):
    """Before: refit(mu=-1) and fit(hp mu=-1) ran the mu = 0 fit (the log_or_zero rule)."""
    with pytest.raises(ValueError, match="mu must be finite and >= 0"):
        T.refit(hm, {**default_values, "mu": mu})


def test_string_hyperparameter_named(hm, default_values):
    """Before: "'<' not supported between instances of 'str' and 'float'" from fit and refit."""
    with pytest.raises(TypeError, match="mu must be a real number"):
        T.refit(hm, {**default_values, "mu": "x"})
    hp = kt.HyperParameters()
    hm.declare_hyperparameters(hp)
    hp.values["mu"] = "x"
    with pytest.raises(TypeError, match="mu must be a real number"):
        hm.build(hp)


def test_refit_arguments_named(hm, default_values):
    with pytest.raises(TypeError, match="hypermodel must be a FairKernelRidgeHyperModel"):
        T.refit(None, default_values)
    with pytest.raises(TypeError, match="values must be a dict"):
        T.refit(hm, None)


def test_refit_accepts_a_table_row_and_matches_the_plain_model(hm, default_values):
    """A row of trials_table carries extra keys (trial_id, metrics): they are ignored."""
    used = hm.check_values(default_values)
    plain = hm.make_model(used).fit(X, Y, q=Q, epochs=used["epochs"], lr=used["lr"])
    row = {"trial_id": "00", "val_mse": 1.0, **default_values}
    np.testing.assert_allclose(T.refit(hm, row).predict(XV), plain.predict(XV), rtol=0, atol=0)


def test_frozen_gc_collect_must_be_bool():
    count = gc.get_freeze_count()
    with pytest.raises(TypeError, match="collect must be True or False"):
        with T.frozen_gc(collect="no"):
            pass
    assert gc.get_freeze_count() == count


# ------------------------------------------------------------------ tables
def _rows(P):
    return [{"trial_id": str(i), "val_mse": a, "val_cka": b} for i, (a, b) in enumerate(P)]


def _brute_front(P):
    n = len(P)
    return [
        i
        for i in range(n)
        if np.all(np.isfinite(P[i]))
        and not any(
            np.all(np.isfinite(P[j])) and np.all(P[j] <= P[i]) and np.any(P[j] < P[i])
            for j in range(n)
        )
    ]


def _brute_hypervolume(P, ref):
    P = P[np.all(np.isfinite(P), axis=1)]
    P = P[np.all(P < ref, axis=1)]
    xs = np.unique(np.r_[P[:, 0], ref[0]])
    area = 0.0
    for a, b in zip(xs[:-1], xs[1:], strict=True):
        left = P[P[:, 0] <= a]
        if len(left):
            area += (b - a) * (ref[1] - left[:, 1].min())
    return area


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pareto_and_hypervolume_with_nan_rows_match_brute_force(seed):
    """Before: one trial without a metric (NaN in trials_table) made both raise about 'points'."""
    rng = np.random.default_rng(seed)
    P = rng.integers(0, 4, size=(12, 2)).astype(float)  # ties and duplicates
    P[rng.choice(12, 3, replace=False), rng.integers(0, 2, 3)] = np.nan
    rows = _rows(P)
    front = T.pareto_trials(rows)
    assert sorted(int(r["trial_id"]) for r in front) == _brute_front(P)
    ref = np.array([4.5, 4.5])
    curve = T.hypervolume_curve(rows, ref)
    expected = [_brute_hypervolume(P[: k + 1], ref) for k in range(len(P))]
    np.testing.assert_allclose(curve, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "rows, error, words",
    [
        (None, TypeError, "rows must be a list of dicts"),  # was: [] silently
        (pd.DataFrame({"val_mse": [1.0], "val_cka": [1.0]}), TypeError, "to_dict"),
        ([{"val_mse": "a", "val_cka": 1.0}], TypeError, "column 'val_mse' must hold numbers"),
        ([{"val_mse": 1.0, "val_cka": 1.0}, {"val_mse": 1.0}], ValueError, r"\['val_cka'\]"),
    ],
)
def test_pareto_trials_rows_checked(rows, error, words):
    with pytest.raises(error, match=words):
        T.pareto_trials(rows)


def test_objectives_and_metrics_as_a_bare_string_refused(hm):
    """Before: 'val_mse' was read letter by letter ("unknown column(s) ['v', 'a', ...]")."""
    with pytest.raises(TypeError, match="objectives must be a sequence of column names"):
        T.pareto_trials(_rows([[1.0, 2.0]]), objectives="val_mse")
    tuner = kt.RandomSearch(hm, objective="val_mse", max_trials=1, overwrite=True)
    with pytest.raises(TypeError, match="metrics must be a sequence of column names"):
        T.trials_table(tuner, metrics="val_mse")


@pytest.mark.parametrize("obj", [None, "runs/project"])
def test_trials_table_names_its_argument(obj):
    """Before: AttributeError "'NoneType' object has no attribute 'trials'"."""
    with pytest.raises(TypeError, match="tuner_or_oracle must be a KerasTuner tuner or oracle"):
        T.trials_table(obj)


def test_best_within_budget_inf_and_rows():
    """Before: budget=inf refused (fairkl.metrics' rule accepts it); rows=None returned None."""
    P = np.array([[3.0, 0.1], [1.0, 0.5], [2.0, 0.2]])
    rows = _rows(P)
    assert T.best_within_budget(rows, np.inf) is rows[int(np.argmin(P[:, 0]))]
    with pytest.raises(ValueError, match="budget must be finite"):
        T.best_within_budget(rows, -np.inf)
    with pytest.raises(TypeError, match="rows must be a list of dicts"):
        T.best_within_budget(None, 0.1)


@pytest.mark.parametrize("reference", ["ab", (1.0,), (np.nan, 1.0), None])
def test_hypervolume_reference_named(reference):
    with pytest.raises(ValueError, match="reference must be two finite numbers"):
        T.hypervolume_curve(_rows([[1.0, 1.0]]), reference)


def test_hypervolume_needs_two_objectives():
    """Before: the message blamed the reference."""
    rows = [{"a": 1.0, "b": 1.0, "c": 1.0}]
    with pytest.raises(ValueError, match="objectives must name 2 columns"):
        T.hypervolume_curve(rows, (2, 2, 2), objectives=("a", "b", "c"))


def test_plot_arguments_named():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [{**r, "mu": 1.0} for r in _rows([[1.0, 2.0], [2.0, 1.0], [np.nan, 0.5]])]
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        T.plot_trials(rows, ax="x")
    with pytest.raises(TypeError, match="baselines must be a dict"):
        T.plot_trials(rows, baselines="x")
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        T.plot_hypervolume(rows, (3, 3), ax="x")
    ax = T.plot_trials(rows)  # the NaN row is left out (it used to make the plot raise)
    assert len(ax.collections[0].get_offsets()) == 2
    plt.close("all")


# ------------------------------------------------------------------ project folders
def test_project_folder_that_is_a_file(tmp_path):
    """Before: safe_project and repair_project returned as if the file were an empty project."""
    (tmp_path / "proj").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        T.repair_project(str(tmp_path / "proj"))
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        with T.safe_project(str(tmp_path), "proj"):
            pass


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"directory": None}, "directory must be a path"),  # was: a folder named 'None'
        ({"overwrite": "yes"}, "overwrite must be True or False"),
        ({"hypermodel": "x"}, "hypermodel must be a KerasTuner HyperModel"),
    ],
)
def test_safe_project_arguments_named(tmp_path, monkeypatch, kwargs, words):
    monkeypatch.chdir(tmp_path)
    args = {"directory": str(tmp_path), "project_name": "p", **kwargs}
    with pytest.raises(TypeError, match=words):
        with T.safe_project(**args):
            pass
    assert not os.path.exists("None")


def test_repair_project_arguments_named(tmp_path):
    with pytest.raises(TypeError, match="project_dir must be a path"):
        T.repair_project(None)
    with pytest.raises(TypeError, match="oracle must be a KerasTuner Oracle"):
        T.repair_project(str(tmp_path), oracle="x")


@pytest.mark.parametrize("verbose", ["loud", -1, 1.5])
def test_batched_search_verbose_named(hm, tmp_path, verbose):
    """Before: "'<' not supported between instances of 'str' and 'int'" from the oracle."""
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_mse", "min"), max_trials=2)
    tuner = T.BatchedTuner(hm, oracle, batch_size=2, directory=str(tmp_path), project_name="v")
    with pytest.raises(TypeError, match="verbose must be an integer >= 0"):
        tuner.search(verbose=verbose)
    assert tuner.oracle.trials == {}  # refused before any trial was created
