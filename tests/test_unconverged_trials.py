"""Trials whose fit stopped at its step cap are flagged, not silently put on the Pareto front."""

import keras_tuner as kt
import pytest

from fairkl.datasets import make_seed_data
from fairkl.tuning import BatchedTuner, FairKernelRidgeHyperModel, pareto_trials, trials_table
from fairkl.tuning.tables import pareto_trials as pareto_rows


@pytest.fixture(scope="module")
def tuner(tmp_path_factory):
    X, y, q = make_seed_data(n=120, seed=1)
    # epochs=3: most CKA fits cannot converge; mu spans decades so the front has many members.
    hm = FairKernelRidgeHyperModel(
        X[:80],
        y[:80],
        q[:80],
        X[80:],
        y[80:],
        q[80:],
        space={"sigma": 1.0, "lam": 1e-2, "sigma_q": 1.0, "epochs": 3, "lr": 0.01},
    )
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("val_mse", "min"), max_trials=12, seed=4
    )
    t = BatchedTuner(
        hm, oracle, batch_size=4, directory=tmp_path_factory.mktemp("u"), project_name="u"
    )
    t.search()
    return t


def test_trials_table_carries_each_trials_converged_flag(tuner):
    rows = trials_table(tuner)
    recorded = {
        t.trial_id: bool(t.metrics.get_last_value("converged"))
        for t in tuner.oracle.trials.values()
    }
    assert {r["trial_id"]: r["converged"] for r in rows} == recorded
    assert not all(recorded.values())  # the setting really produces unconverged fits


def test_pareto_trials_warns_about_unconverged_members(tuner):
    rows = trials_table(tuner)
    with pytest.warns(UserWarning, match="did not converge"):
        front = pareto_trials(rows)
    assert any(r["converged"] is False for r in front)


def test_no_warning_when_every_front_member_converged():
    rows = [
        {"trial_id": str(i), "val_mse": float(i), "val_cka": 1.0 / (i + 1), "converged": True}
        for i in range(4)
    ]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(pareto_rows(rows)) == 4


def test_plot_trials_rings_and_counts_unconverged_trials(tuner):
    import matplotlib

    matplotlib.use("Agg")
    from fairkl.tuning import plot_trials

    rows = trials_table(tuner)
    n_stopped = sum(r["converged"] is False for r in rows)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ax = plot_trials(rows)
    labels = ax.get_legend_handles_labels()[1]
    assert f"did not converge ({n_stopped})" in labels
