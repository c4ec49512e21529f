"""KerasTuner integration: every tuner, the fixed yardstick, batches, resume after a kill, distribution."""

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import keras_tuner as kt
import matplotlib
import numpy as np
import pytest

from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data
from fairkl.pareto import hypervolume_2d
from fairkl.tuning import (
    BatchedTuner,
    FairKernelRidgeHyperModel,
    best_within_budget,
    frozen_gc,
    hypervolume_curve,
    pareto_trials,
    plot_hypervolume,
    plot_trials,
    refit,
    trials_table,
)
from tests.conftest import np_center, np_rbf
from tests.kt_search_script import jax_cache_env

matplotlib.use("Agg")
SCRIPT = Path(__file__).with_name("kt_search_script.py")
OBJ = kt.Objective("val_mse", direction="min")


@pytest.fixture(scope="module")
def split():
    X, y, q = make_seed_data(
        n=120, seed=0
    )  # small: the tests check behaviour (benchmarks time the book's size)
    return X[:90], y[:90], q[:90], X[90:], y[90:], q[90:]


@pytest.fixture(scope="module", autouse=True)
def fast_gc():
    """Stock tuners run gc.collect() before every trial: freeze the heap for this module (undone after)."""
    with frozen_gc():
        yield


@pytest.fixture(scope="module")
def hypermodel(split):
    return FairKernelRidgeHyperModel(*split)


def brute_median(a):
    a = a.reshape(len(a), -1)
    d = np.sqrt(((a[:, None, :] - a[None, :, :]) ** 2).sum(-1))[~np.eye(len(a), dtype=bool)]
    return float(np.median(d[d > 0]))


def independent_metrics(split, values):
    """Refit with FairKernelRidge and measure CKA with NumPy on the training-data yardstick."""
    Xtr, ytr, qtr, Xva, yva, qva = split
    model = FairKernelRidge(
        values["sigma"], values["lam"], values["mu"], values["sigma_q"], dtype="float64"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(
            Xtr,
            ytr,
            q=qtr,
            epochs=int(values.get("tuner/epochs", values["epochs"])),
            lr=values["lr"],
        )
    pred = model.predict(Xva)
    Kc = np_center(np_rbf(pred[:, None], pred[:, None], brute_median(ytr)))
    Lc = np_center(np_rbf(qva, qva, brute_median(qtr)))
    cka = np.sum(Kc * Lc) / np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc))
    return np.mean((pred - yva) ** 2), cka


def test_random_search_metrics_match_independent_refits(hypermodel, split, tmp_path):
    tuner = kt.RandomSearch(
        hypermodel, objective=OBJ, max_trials=12, seed=1, directory=tmp_path, project_name="r"
    )
    tuner.search(verbose=0)
    rows = trials_table(tuner)
    assert len(rows) == 12
    sigma_qs = {round(r["sigma_q"], 6) for r in rows}
    assert len(sigma_qs) == 12  # the trials used different sigma_q ...
    assert hypermodel.yardstick.sigma_q == pytest.approx(brute_median(split[2]))  # ... one ruler
    for r in rows[:4]:
        mse, cka = independent_metrics(split, r)
        assert r["val_mse"] == pytest.approx(mse, rel=1e-9)
        assert r["val_cka"] == pytest.approx(cka, rel=1e-7)
    for name, (lo, hi) in {
        "sigma": (0.3, 5),
        "lam": (1e-4, 1),
        "sigma_q": (0.1, 5),
        "lr": (1e-3, 0.05),
    }.items():
        assert all(lo <= r[name] <= hi for r in rows)
    # mu: log-uniform on [1e-3, 10], the lowest decade meaning 0 (the raw draw kept as mu_drawn)
    assert all(
        (r["mu"] == 0 and 1e-3 <= r["mu_drawn"] < 1e-2) or 1e-2 <= r["mu"] <= 10 for r in rows
    )
    assert any(r["mu"] == 0 for r in rows) and any(r["mu"] > 0 for r in rows)
    assert all(r["epochs"] in range(50, 301, 50) for r in rows)


def test_same_seed_same_search(hypermodel, tmp_path):
    runs = []
    for k in range(2):
        tuner = kt.RandomSearch(
            hypermodel,
            objective=OBJ,
            max_trials=6,
            seed=5,
            directory=tmp_path,
            project_name=f"s{k}",
        )
        tuner.search(verbose=0)
        runs.append(trials_table(tuner))
    for a, b in zip(*runs, strict=False):
        assert {k: v for k, v in a.items() if k != "trial_id"} == {
            k: v for k, v in b.items() if k != "trial_id"
        }


def test_configurable_space_and_grid_search(split, tmp_path):
    hm = FairKernelRidgeHyperModel(
        *split,
        space={
            "sigma": 1.0,
            "lam": 1e-2,
            "sigma_q": 1.0,
            "epochs": 100,
            "lr": 0.01,
            "mu": ("linear", 0.0, 4.0, 2.0),
        },
    )
    tuner = kt.GridSearch(hm, objective=OBJ, max_trials=10, directory=tmp_path, project_name="g")
    tuner.search(verbose=0)
    rows = trials_table(tuner)
    assert sorted(r["mu"] for r in rows) == [0.0, 2.0, 4.0]
    assert all(r["sigma"] == 1.0 and r["lam"] == 1e-2 for r in rows)
    with pytest.raises(ValueError, match="unknown keys"):
        FairKernelRidgeHyperModel(*split, space={"gamma": 1.0})


def one_blas_thread():
    """One BLAS thread while KerasTuner's Bayesian oracle picks its trials.

    Its acquisition search (scikit-learn's Gaussian process, SciPy's L-BFGS-B from many starts)
    makes ~15,000 tiny BLAS calls per search; with OpenBLAS's two threads each one pays a thread
    hand-off: 12.9 s of CPU for a 5-trial search against 3.5 s with one thread, same trials and
    scores (measured at load 4.5). fairkl's fits limit BLAS themselves (programs.blas_limit);
    the oracle runs outside them.
    """
    import threadpoolctl

    return threadpoolctl.threadpool_limits(1, user_api="blas")


def test_bayesian_optimization_and_hyperband(hypermodel, split, tmp_path):
    bo = kt.BayesianOptimization(
        hypermodel,
        objective=OBJ,
        max_trials=5,
        num_initial_points=3,
        seed=2,
        directory=tmp_path,
        project_name="bo",
    )
    with one_blas_thread():
        bo.search(verbose=0)
    assert len(trials_table(bo)) == 5
    hb = kt.Hyperband(
        hypermodel,
        objective=OBJ,
        max_epochs=9,
        factor=3,
        hyperband_iterations=1,
        seed=3,
        directory=tmp_path,
        project_name="hb",
    )
    hb.search(verbose=0)
    rows = trials_table(hb)
    assert len(rows) > 5
    budgets = {r["tuner/epochs"] for r in rows}
    assert len(budgets) > 1 and max(budgets) <= 9
    r = max(rows, key=lambda r: r["tuner/epochs"])
    assert r["val_mse"] == pytest.approx(independent_metrics(split, r)[0], rel=1e-9)


def test_batched_tuner_equals_per_trial_evaluation(hypermodel, split, tmp_path):
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=20, seed=4)
    tuner = BatchedTuner(hypermodel, oracle, batch_size=4, directory=tmp_path, project_name="b")
    tuner.search()
    rows = trials_table(tuner)
    assert len(rows) == 20
    for r in rows[::5]:
        mse, cka = independent_metrics(split, r)
        assert r["val_mse"] == pytest.approx(mse, rel=1e-7)
        assert r["val_cka"] == pytest.approx(cka, rel=1e-6)
    model = tuner.load_model(tuner.oracle.trials[rows[0]["trial_id"]])
    assert isinstance(model, FairKernelRidge) and model.is_fitted


def test_batched_tuner_fits_the_low_rank_model_when_asked(split, tmp_path):
    """model_options={"n_components": m}: every trial is the low-rank model (not silently the exact one)."""
    Xtr, ytr, qtr, Xva, yva, _ = split
    hm = FairKernelRidgeHyperModel(*split, model_options={"n_components": 15})
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=4, seed=2)
    tuner = BatchedTuner(hm, oracle, batch_size=4, directory=tmp_path, project_name="lr")
    tuner.search()
    for r in trials_table(tuner):
        kw = dict(sigma=r["sigma"], lam=r["lam"], mu=r["mu"], sigma_q=r["sigma_q"], dtype="float64")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            low = FairKernelRidge(**kw, n_components=15).fit(
                Xtr, ytr, q=qtr, epochs=r["epochs"], lr=r["lr"]
            )
            exact = FairKernelRidge(**kw).fit(Xtr, ytr, q=qtr, epochs=r["epochs"], lr=r["lr"])
        assert r["val_mse"] == pytest.approx(np.mean((low.predict(Xva) - yva) ** 2), rel=1e-9)
        assert abs(r["val_mse"] - np.mean((exact.predict(Xva) - yva) ** 2)) > 1e-6


def test_each_fit_of_a_group_stops_on_its_own(hypermodel, split):
    """A group of fits in one compiled call: each fit's steps, flag and predictions are its single fit's.

    The reference is an independent FairKernelRidge fit per setting (no
    padding to the slowest fit of the group: a vmapped loop would report the
    group's largest step count for every member). The settings mix quick
    (mu = 0, capped at 3 steps) and slow fits, and 6 settings in groups of 4
    exercise the padding of the last group.
    """
    from fairkl.tuning import programs

    base = {"sigma": 1.0, "lam": 1e-3, "sigma_q": None, "lr": 0.01}
    settings = [
        {**base, "mu": mu, "epochs": ep}
        for mu, ep in [(5.0, 300), (0.0, 300), (0.3, 3), (2.0, 100), (0.05, 300), (8.0, 50)]
    ]
    used = [hypermodel.check_values(s) for s in settings]
    data = programs.prepare_search(
        hypermodel.X_train,
        hypermodel.y_train,
        hypermodel.q_train,
        hypermodel.options,
        hypermodel.X_val,
    )
    with programs.blas_limit(data.problem.n):
        pred, converged, steps = programs.collect(programs.dispatch(data, used, fits_per_call=4))
    Xtr, ytr, qtr, Xva = split[:4]
    for k, s in enumerate(settings):
        model = FairKernelRidge(s["sigma"], s["lam"], s["mu"], s["sigma_q"], dtype="float64")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(Xtr, ytr, q=qtr, epochs=s["epochs"], lr=s["lr"])
        assert steps[k] == model.n_iter_ and bool(converged[k]) == model.converged_
        np.testing.assert_allclose(pred[k], model.predict(Xva), rtol=1e-9, atol=1e-12)
    assert steps[1] == 0 and steps[2] == 3 and len(set(steps.tolist())) >= 4


def test_blas_threads_limited_during_small_fits_and_restored():
    """The tuner's BLAS limit (OpenBLAS's spinning threads slow n ~ 150 fits ~30x): on inside, restored after."""
    import threadpoolctl

    from fairkl.tuning import programs

    def blas_threads():
        return [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]

    assert blas_threads(), (
        "no BLAS library loaded (jaxlib's LAPACK calls go through SciPy's OpenBLAS)"
    )
    # a known state, whatever OPENBLAS_NUM_THREADS the run was started with
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        assert all(t == 2 for t in before), before
        with programs.blas_limit(150):
            assert blas_threads() == [1] * len(before)
        assert blas_threads() == before
        with programs.blas_limit(programs.SMALL_N + 1):  # large fits keep every thread
            assert blas_threads() == before


def test_failed_trials_are_recorded_and_the_search_goes_on(split, tmp_path):
    hm = FairKernelRidgeHyperModel(*split)
    evaluate = hm.evaluate_batch

    def sometimes_diverge(values):
        # Every trial with mu >= 5 "diverges" (NaN predictions): many in a row.
        out = evaluate(values)
        return [_fail() if v["mu"] >= 5 else o for v, o in zip(values, out, strict=False)]

    def _fail():
        try:
            hm._metrics(np.full(len(hm.y_val), np.nan), False)
        except kt.errors.FailedTrialError as exc:
            return exc
        raise AssertionError("non-finite metrics must fail the trial")

    hm.evaluate_batch = sometimes_diverge
    # Many failures in a row: the user's oracle decides how many are tolerated.
    oracle = kt.oracles.RandomSearchOracle(
        objective=OBJ, max_trials=24, seed=6, max_consecutive_failed_trials=30
    )
    tuner = BatchedTuner(hm, oracle, batch_size=4, directory=tmp_path, project_name="f")
    tuner.search()
    statuses = [t.status for t in tuner.oracle.trials.values()]
    assert len(statuses) == 24
    assert statuses.count("FAILED") >= 3 and statuses.count("COMPLETED") == 24 - statuses.count(
        "FAILED"
    )
    assert all(r["mu"] < 5 for r in trials_table(tuner))


def search_env(directory) -> dict:
    """JAX's compilation cache for the search processes a test starts.

    The suite's own cache (tests/conftest.py sets it in the environment, which the processes
    inherit) when there is one, so that a search process loads the programs that earlier
    processes and tests compiled instead of compiling them again (several CPU seconds each);
    without it (``FAIRKL_TEST_JAX_CACHE=0``) one cache in ``directory`` shared by the test's
    processes, so that at least a resumed process reuses the first one's programs.
    """
    return {} if os.environ.get("JAX_COMPILATION_CACHE_DIR") else jax_cache_env(directory)


def completed(directory, project="p"):
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=1)
    oracle._set_project_dir(str(directory), project)
    oracle.reload()
    return oracle


def test_killed_batched_search_resumes_without_loss_or_duplicates(tmp_path):
    env = {**os.environ, **search_env(tmp_path)}  # the resumed process reuses compiled programs
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "batched", str(tmp_path), "40", "0.5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.time() + 120
    project = tmp_path / "p"
    while time.time() < deadline and len(list(project.glob("trial_*"))) < 12:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = completed(tmp_path)
    n_done = sum(t.status == "COMPLETED" for t in before.trials.values())
    assert 0 < n_done < 40, "the kill must land mid-search"
    subprocess.run(
        [sys.executable, str(SCRIPT), "batched", str(tmp_path), "40"],
        check=True,
        timeout=300,
        env=env,
    )
    after = completed(tmp_path)
    assert len(after.trials) == 40
    assert all(t.status == "COMPLETED" for t in after.trials.values())
    values = [tuple(sorted(t.hyperparameters.values.items())) for t in after.trials.values()]
    assert len(set(values)) == 40  # nothing evaluated twice under two ids
    for tid, t in before.trials.items():  # what was done before the kill was kept, not redone
        if t.status == "COMPLETED":
            assert after.trials[tid].metrics.get_last_value("val_mse") == t.metrics.get_last_value(
                "val_mse"
            )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_search_chief_and_two_workers(tmp_path):
    port = str(free_port())
    base = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    base.update(
        KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=port, **search_env(tmp_path)
    )
    cmd = [sys.executable, str(SCRIPT), "random", str(tmp_path), "12"]
    chief = subprocess.Popen(
        cmd,
        env={**base, "KERASTUNER_TUNER_ID": "chief"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # The workers start at once, with the chief: KerasTuner's client calls the chief with
    # wait_for_ready=True (keras_tuner/src/distribute/oracle_client.py), so a worker that is
    # ready first waits for the chief's server instead of failing (no sleep needed). Each
    # worker's first fit waits for the other's (kt_search_script.wait_for_workers): otherwise a
    # worker slow to start may find the budget spent and the chief gone.
    workers = [
        subprocess.Popen(
            cmd,
            env={**base, "KERASTUNER_TUNER_ID": f"tuner{i}", "FAIRKL_TEST_WORKERS": "2"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for i in range(2)
    ]
    for w in workers:
        assert w.wait(timeout=240) == 0, w.stderr.read().decode()[-2000:]
    assert chief.wait(timeout=120) == 0, chief.stderr.read().decode()[-2000:]
    assert sorted(p.name for p in tmp_path.glob("started-*")) == [
        "started-tuner0",
        "started-tuner1",
    ]
    oracle = completed(tmp_path)
    assert len(oracle.trials) == 12
    assert all(t.status == "COMPLETED" for t in oracle.trials.values())
    assert (
        len({tuple(sorted(t.hyperparameters.values.items())) for t in oracle.trials.values()}) == 12
    )


# ------------------------------------------------------------------ Pareto tools


@pytest.fixture(scope="module")
def rows(hypermodel, tmp_path_factory):
    oracle = kt.oracles.RandomSearchOracle(objective=OBJ, max_trials=40, seed=8)
    tuner = BatchedTuner(
        hypermodel, oracle, batch_size=4, directory=tmp_path_factory.mktemp("t"), project_name="p"
    )
    tuner.search()
    return trials_table(tuner)


def test_pareto_budget_and_hypervolume_tools(rows):
    P = np.array([[r["val_mse"], r["val_cka"]] for r in rows])
    front = pareto_trials(rows)
    brute = [
        rows[i]
        for i in range(len(P))
        if not any(np.all(P[j] <= P[i]) and np.any(P[j] < P[i]) for j in range(len(P)))
    ]
    assert sorted(r["trial_id"] for r in front) == sorted(r["trial_id"] for r in brute)
    budget = float(np.median(P[:, 1]))
    pick = best_within_budget(rows, budget)
    assert pick["val_cka"] <= budget
    assert pick["val_mse"] == min(r["val_mse"] for r in rows if r["val_cka"] <= budget)
    # No row meets the budget: fairkl's one fallback, the fairest row (fairkl.metrics.selection).
    fallback = best_within_budget(rows, 0.5 * P[:, 1].min())
    assert fallback["val_cka"] == P[:, 1].min()
    assert best_within_budget([], 0.1) is None
    ref = P.max(axis=0) * 1.1
    hv = hypervolume_curve(rows, ref)
    assert np.all(np.diff(hv) >= -1e-12) and hv[-1] == pytest.approx(hypervolume_2d(P, ref))


def test_plots_label_what_they_show(rows):
    ax = plot_trials(rows, color_by="mu")
    assert (
        ax.get_xlabel() == "val_mse" and ax.get_ylabel() == "val_cka" and "Pareto" in ax.get_title()
    )
    ax = plot_hypervolume(rows, reference=[50.0, 1.0])
    assert ax.get_xlabel() == "number of trials" and len(ax.lines[0].get_xdata()) == len(rows)


def test_refit_helper_reproduces_trial(hypermodel, rows, split):
    r = rows[0]
    model = refit(hypermodel, r)
    assert np.mean((model.predict(split[3]) - split[4]) ** 2) == pytest.approx(
        r["val_mse"], rel=1e-7
    )


def test_hypermodel_validates_its_data(split):
    Xtr, ytr, qtr, Xva, yva, qva = split
    # each length is checked against its own split's X, and the message names that X
    with pytest.raises(ValueError, match="y_train has 89 rows but X_train has 90"):
        FairKernelRidgeHyperModel(Xtr, ytr[:-1], qtr, Xva, yva, qva)
    with pytest.raises(ValueError, match="q_train has 89 rows but X_train has 90"):
        FairKernelRidgeHyperModel(Xtr, ytr, qtr[:-1], Xva, yva, qva)
    n_val = len(Xva)
    with pytest.raises(ValueError, match=f"y_val has {n_val - 1} rows but X_val has {n_val}"):
        FairKernelRidgeHyperModel(Xtr, ytr, qtr, Xva, yva[:-1], qva)
    with pytest.raises(ValueError, match=f"q_val has {n_val - 1} rows but X_val has {n_val}"):
        FairKernelRidgeHyperModel(Xtr, ytr, qtr, Xva, yva, qva[:-1])
    with pytest.raises(ValueError, match="X_val has 3 features but X_train has 2"):
        FairKernelRidgeHyperModel(Xtr, ytr, qtr, np.ones((5, 3)), yva[:5], qva[:5])
    with pytest.raises(ValueError, match="q_val contains 1 NaN"):
        FairKernelRidgeHyperModel(
            Xtr, ytr, qtr, Xva, yva, np.where(np.arange(len(qva))[:, None] == 0, np.nan, qva)
        )


def test_categorical_q_is_one_hot_encoded_alike_on_both_splits(split):
    Xtr, ytr, qtr, Xva, yva, qva = split
    labels = lambda q: np.where(q[:, 0] > 0.5, "high", np.where(q[:, 0] > -0.5, "mid", "low"))  # noqa: E731
    lt, lv = labels(qtr), labels(qva)
    lv[lv == "low"] = "mid"  # a label missing from the validation split keeps its column
    hm = FairKernelRidgeHyperModel(
        Xtr,
        ytr,
        lt,
        Xva,
        yva,
        lv,
        space={"sigma": 1.0, "lam": 1e-2, "mu": 1.0, "sigma_q": 1.0, "epochs": 50, "lr": 0.01},
    )
    cats = np.array(["high", "low", "mid"])  # sorted distinct labels: one column each
    np.testing.assert_array_equal(hm.q_train, (lt[:, None] == cats).astype(float))
    np.testing.assert_array_equal(hm.q_val, (lv[:, None] == cats).astype(float))
    hp = kt.HyperParameters()
    hm.declare_hyperparameters(hp)
    metrics = hm.fit(hp, hm.build(hp))
    (batched,) = hm.evaluate_batch([hp.values])
    model = FairKernelRidge(1.0, 1e-2, 1.0, 1.0, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Xtr, ytr, q=(lt[:, None] == cats).astype(float), epochs=50, lr=0.01)
    pred = model.predict(Xva)
    Qt, Qv = (lt[:, None] == cats).astype(float), (lv[:, None] == cats).astype(float)
    Kc = np_center(np_rbf(pred[:, None], pred[:, None], brute_median(ytr)))
    Lc = np_center(np_rbf(Qv, Qv, brute_median(Qt)))
    cka = np.sum(Kc * Lc) / np.sqrt(np.sum(Kc * Kc) * np.sum(Lc * Lc))
    for m in (metrics, batched):
        assert m["val_mse"] == pytest.approx(np.mean((pred - yva) ** 2), rel=1e-7)
        assert m["val_cka"] == pytest.approx(cka, rel=1e-6)
    with pytest.raises(ValueError, match="q_val is constant"):  # checked on the encoded (numeric) q
        FairKernelRidgeHyperModel(Xtr, ytr, lt, Xva, yva, np.full(len(Xva), "mid"))


def test_model_options_reach_the_model_and_fit_config(split):
    hm = FairKernelRidgeHyperModel(*split, model_options={"kernel_q": "linear"})
    hp = kt.HyperParameters()
    hm.declare_hyperparameters(hp)
    assert (
        hm.build(hp).kernel_q == "linear"
        and hm.config(hm.values_used(hp.values)).kernel_q == "linear"
    )
    with pytest.raises(TypeError, match="bogus"):
        FairKernelRidgeHyperModel(*split, model_options={"bogus": 1})
