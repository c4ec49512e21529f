"""The figure options of plot_trials and plot_hypervolume: shared colour scales, labelled baselines, honest axes.

Rows are built by hand (no tuner needed): the plotting functions only read the
columns of :func:`fairkl.tuning.trials_table`.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import SymLogNorm

from fairkl.pareto import hypervolume_2d
from fairkl.tuning import plot_hypervolume, plot_trials


def _rows(mus, seed=0):
    rng = np.random.default_rng(seed)
    return [
        {
            "trial_id": f"{i:02d}",
            "mu": float(m),
            "val_mse": float(rng.uniform(2, 12)),
            "val_cka": float(rng.uniform(0, 0.7)),
        }
        for i, m in enumerate(mus)
    ]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_one_norm_gives_one_colour_per_value_in_every_panel():
    # Panels with different ranges of mu (0-10 and 0-20), as in the book's Fig. 8.
    left, right = _rows([0.0, 0.05, 1.0, 10.0]), _rows([0.0, 1.0, 10.0, 20.0], seed=1)
    norm = SymLogNorm(1e-2, vmin=0.0, vmax=20.0)
    fig, axes = plt.subplots(1, 2)
    for ax, rows in zip(axes, (left, right), strict=False):
        plot_trials(rows, ax=ax, norm=norm, colorbar=False)
    fig.canvas.draw()  # colours are mapped at draw time
    a, b = (ax.collections[0] for ax in axes)
    assert a.norm is norm and b.norm is norm
    colours_a, colours_b = a.get_facecolors(), b.get_facecolors()
    # mu = 0, 1 and 10 occur in both panels: identical colours.
    for ia, ib in [(0, 0), (2, 1), (3, 2)]:
        np.testing.assert_array_equal(colours_a[ia], colours_b[ib])
    # A distinct value gets a distinct colour, and mu = 0 is at the bottom of the scale.
    assert not np.array_equal(colours_a[1], colours_a[2])
    assert norm(0.0) == 0.0 and norm(20.0) == 1.0
    assert len(fig.axes) == 2  # colorbar=False: no colour-bar axes added


def test_vmin_vmax_fix_a_linear_scale_and_cannot_be_mixed_with_norm():
    ax = plot_trials(_rows([0.0, 1.0, 2.0]), vmin=0.0, vmax=20.0)
    scatter = ax.collections[0]
    assert (scatter.norm.vmin, scatter.norm.vmax) == (0.0, 20.0)
    assert len(ax.figure.axes) == 2  # the default colour bar is still drawn
    assert ax.figure.axes[1].get_ylabel() == "mu"
    with pytest.raises(ValueError, match="norm or vmin/vmax"):
        plot_trials(_rows([0.0, 1.0]), norm=SymLogNorm(1e-2, vmin=0, vmax=1), vmax=1.0)


def test_colour_bar_label():
    ax = plot_trials(_rows([0.0, 1.0]), color_label="μ (fairness strength)")
    assert ax.figure.axes[1].get_ylabel() == "μ (fairness strength)"


def test_baselines_have_distinct_labelled_markers_in_the_legend():
    baselines = {"constant": (11.8, 0.0), "sin(x)": (11.0, 0.01), "plain KRR": (2.5, 0.56)}
    ax = plot_trials(_rows([0.0, 1.0, 3.0]), baselines=baselines)
    lines = {line.get_label(): line for line in ax.lines}
    assert set(baselines) <= set(lines)
    drawn = [lines[name] for name in baselines]
    assert len({line.get_marker() for line in drawn}) == len(baselines)
    assert len({line.get_color() for line in drawn}) == len(baselines)
    for name, (x, y) in baselines.items():
        assert (lines[name].get_xdata()[0], lines[name].get_ydata()[0]) == (x, y)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["trials", "Pareto front", *baselines]


def test_legend_false_leaves_the_legend_to_the_caller():
    ax = plot_trials(_rows([0.0, 1.0]), legend=False, baselines={"constant": (11.8, 0.0)})
    assert ax.get_legend() is None
    handles, labels = ax.get_legend_handles_labels()
    assert labels == ["trials", "Pareto front", "constant"] and len(handles) == 3


def test_bad_baselines_are_refused_with_their_name():
    with pytest.raises(ValueError, match=r"baselines\['sin'\] must be two finite numbers"):
        plot_trials(_rows([0.0, 1.0]), baselines={"sin": (1.0,)})
    with pytest.raises(ValueError, match=r"baselines\['sin'\]"):
        plot_trials(_rows([0.0, 1.0]), baselines={"sin": (1.0, float("nan"))})
    too_many = {f"b{i}": (1.0, 0.1) for i in range(7)}
    with pytest.raises(ValueError, match="7 entries"):
        plot_trials(_rows([0.0, 1.0]), baselines=too_many)


def test_hypervolume_axis_starts_at_zero_unless_asked_not_to():
    rows = _rows([0.0, 1.0, 3.0, 10.0])
    reference = [12.0, 1.0]
    ax = plot_hypervolume(rows, reference)
    hv = ax.lines[0].get_ydata()
    P = np.array([[r["val_mse"], r["val_cka"]] for r in rows])
    assert hv[-1] == pytest.approx(hypervolume_2d(P, reference))
    bottom, top = ax.get_ylim()
    assert bottom == 0.0 and top >= hv.max()
    ax = plot_hypervolume(rows, reference, ymin=None)
    assert ax.get_ylim()[0] > 0.0  # matplotlib's own limits hug the curve
