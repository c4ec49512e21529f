"""Multi-objective results: a tuner's trials as a table, its Pareto front, budgets, hypervolume, plots.

KerasTuner itself only sums objectives; these helpers read the completed
trials and treat (``val_mse``, ``val_cka``) as two objectives to minimise.
"""

from __future__ import annotations

import math
import warnings

import keras_tuner as kt
import numpy as np

from fairkl import _validation as v
from fairkl._backend import user_stacklevel
from fairkl.metrics import selection
from fairkl.pareto import hypervolume_2d, pareto_front

__all__ = [
    "trials_table",
    "pareto_trials",
    "best_within_budget",
    "hypervolume_curve",
    "plot_trials",
    "plot_hypervolume",
]


def _trial_order(tid: str):
    return (len(tid), tid)  # KerasTuner's ids are zero-padded counters: creation order


def trials_table(tuner_or_oracle, metrics=("val_mse", "val_cka")) -> list[dict]:
    """Every completed trial once, as a dict: ``trial_id``, its hyperparameters and ``metrics``.

    Ordered by trial id (the order KerasTuner created the trials in). When
    given a tuner whose hypermodel is a :class:`FairKernelRidgeHyperModel`,
    the hyperparameters are those the model used (e.g. ``mu`` drawn in the
    zero decade of a ``log_or_zero`` range is 0; the raw draw is kept as
    ``"<name>_drawn"``).

    Raises
    ------
    ValueError
        If a metric is recorded by no completed trial (the message lists the
        recorded ones).
    """
    oracle = getattr(tuner_or_oracle, "oracle", tuner_or_oracle)
    if not isinstance(getattr(oracle, "trials", None), dict):
        raise TypeError(
            f"tuner_or_oracle must be a KerasTuner tuner or oracle (with .trials); "
            f"got {type(tuner_or_oracle).__name__}."
        )
    metrics = _names(metrics, "metrics")
    used = getattr(getattr(tuner_or_oracle, "hypermodel", None), "values_used", None)
    done = [
        oracle.trials[t]
        for t in sorted(oracle.trials, key=_trial_order)
        if oracle.trials[t].status == kt.engine.trial.TrialStatus.COMPLETED
    ]
    recorded = sorted({m for t in done for m in t.metrics.metrics})
    missing = [m for m in metrics if done and m not in recorded]
    if missing:
        raise ValueError(
            f"metrics {missing} were recorded by no completed trial; recorded metrics: {recorded}."
        )
    rows = []
    for trial in done:
        values = dict(trial.hyperparameters.values)
        if used is not None:
            model_values = used(values)
            for k, val in model_values.items():
                if k in values and val != values[k]:
                    values[f"{k}_drawn"] = values[k]
            values.update(model_values)
        row = {"trial_id": trial.trial_id, **values}
        for m in metrics:
            row[m] = (
                float(trial.metrics.get_last_value(m)) if trial.metrics.exists(m) else float("nan")
            )
        if trial.metrics.exists("converged") and "converged" not in metrics:
            # A fit stopped by its step cap sits where it stopped, not at its optimum: say so.
            row["converged"] = bool(trial.metrics.get_last_value("converged"))
        rows.append(row)
    return rows


def _names(names, argument: str) -> tuple:
    """A sequence of column names (a bare string would be read letter by letter)."""
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{argument} must be a sequence of column names; got {names!r}.")
    return tuple(names)


def _check_rows(rows) -> list:
    """The rows of :func:`trials_table`: a list of dicts (a DataFrame is refused, not misread)."""
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        hint = " (use df.to_dict('records'))" if hasattr(rows, "to_dict") else ""
        raise TypeError(
            f"rows must be a list of dicts as trials_table returns{hint}; got {type(rows).__name__}."
        )
    return list(rows)


def _finite_rows(rows, objectives) -> list:
    """The rows whose objectives are all finite (a failed or unscored trial cannot be ranked)."""
    P = _matrix(rows, objectives)
    return [r for r, ok in zip(rows, np.all(np.isfinite(P), axis=1), strict=True) if ok]


def _matrix(rows, objectives):
    rows = _check_rows(rows)
    objectives = _names(objectives, "objectives")
    _check_columns(rows, objectives)
    for name in objectives:
        bad = [r.get(name) for r in rows if name in r and not _is_real(r[name])]
        if bad:
            raise TypeError(f"column {name!r} must hold numbers; got {bad[0]!r}.")
    return np.array([[r[o] for o in objectives] for r in rows], dtype=float).reshape(
        len(rows), len(objectives)
    )


def _is_real(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _check_columns(rows, names):
    known = sorted(rows[0]) if rows else []
    missing = sorted({n for n in names for r in rows if n not in r}, key=list(names).index)
    if missing:
        raise ValueError(f"unknown column(s) {missing}; the rows have: {known}.")


def pareto_trials(rows: list[dict], objectives=("val_mse", "val_cka")) -> list[dict]:
    """The Pareto-optimal rows of :func:`trials_table` (all objectives minimised).

    Rows carry ``converged`` (from :func:`trials_table`); when a front member's fit
    did not converge (it stopped at its ``epochs`` cap), a ``UserWarning`` says how many:
    such a point shows where the solver stopped, not the optimum of its settings.
    Rows with a NaN or infinite objective (a trial that recorded no value) are
    never on the front.
    """
    rows = _finite_rows(rows, objectives)
    if not rows:
        return []
    front = [rows[i] for i in pareto_front(_matrix(rows, objectives))]
    stopped = [
        r["trial_id"] if "trial_id" in r else i
        for i, r in enumerate(front)
        if r.get("converged") is False
    ]
    if stopped:
        warnings.warn(
            f"{len(stopped)} of the {len(front)} Pareto-optimal trials did not converge (their fits "
            f"stopped at the epochs cap): {stopped}. Their points show where the solver stopped, not "
            f"the optimum of their settings; raise epochs (or lr) and re-evaluate them.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return front


def best_within_budget(
    rows: list[dict], budget: float, objective="val_mse", constraint="val_cka"
) -> dict | None:
    """The row chosen by :func:`fairkl.metrics.selection.best_within_budget` (fairkl's one selection rule).

    Among rows with ``constraint <= budget``, the one with the lowest
    ``objective`` (first on ties). **Fallback** when no row meets the budget:
    the row with the lowest ``constraint`` (the fairest; ties broken by
    ``objective``), as everywhere in fairkl. A NaN ``objective`` counts as
    worst; a NaN ``constraint`` never meets the budget. Returns None only
    for an empty table.

    Raises
    ------
    ValueError
        If a column name is unknown (the message lists the columns), or if no
        row has finite values of both columns (nothing could be compared).
    """
    if not (_is_real(budget) and budget == math.inf):  # inf: no constraint, as in metrics
        budget = v.check_positive(budget, "budget", allow_zero=True)
    rows = _check_rows(rows)
    _check_columns(rows, (objective, constraint))
    if not rows:
        return None
    if not any(math.isfinite(r[objective]) and math.isfinite(r[constraint]) for r in rows):
        raise ValueError(
            f"no row has finite {objective!r} and {constraint!r} (all {len(rows)} are NaN or inf): every "
            f"trial failed or diverged; look at the trials' messages (tuner.oracle.trials[id].message)."
        )
    P = _matrix(rows, (objective, constraint))
    return rows[selection.best_within_budget(P[:, 0], P[:, 1], budget)]


def hypervolume_curve(rows: list[dict], reference, objectives=("val_mse", "val_cka")) -> np.ndarray:
    """2-D hypervolume of the first k trials, for k = 1..len(rows) (in table order).

    A row with a NaN or infinite objective adds nothing (the curve stays flat there).
    """
    if isinstance(objectives, str) or len(objectives) != 2:
        raise ValueError(f"objectives must name 2 columns (a 2-D hypervolume); got {objectives!r}.")
    P = _matrix(rows, objectives)
    try:
        ref = None if isinstance(reference, str) else np.asarray(reference, dtype=float)
    except (TypeError, ValueError):
        ref = None
    if ref is None or ref.shape != (2,) or not np.all(np.isfinite(ref)):
        raise ValueError(f"reference must be two finite numbers; got {reference!r}.")
    ok = np.all(np.isfinite(P), axis=1)
    return np.array(
        [
            hypervolume_2d(P[: k + 1][ok[: k + 1]], ref) if ok[: k + 1].any() else 0.0
            for k in range(len(P))
        ]
    )


# Markers and colours of plot_trials' reference points, in order: no circle (the trials'), no viridis colour.
_BASELINE_MARKERS = (
    ("D", "black"),
    ("s", "tab:orange"),
    ("^", "tab:pink"),
    ("v", "tab:brown"),
    ("P", "tab:red"),
    ("X", "tab:gray"),
)


def plot_trials(
    rows: list[dict],
    color_by: str = "mu",
    objectives=("val_mse", "val_cka"),
    ax=None,
    title="Every trial, and the Pareto front (lower-left is better)",
    *,
    norm=None,
    vmin=None,
    vmax=None,
    cmap="viridis",
    colorbar=True,
    color_label=None,
    baselines=None,
    legend=True,
):
    """Scatter of every trial coloured by a hyperparameter, with the Pareto front as a step line.

    Trials whose fit did not converge (``converged`` is False in :func:`trials_table`)
    are ringed in black and counted in the legend.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`trials_table`.
    color_by : str, default "mu"
        The column that colours the points.
    objectives : pair of str, default ("val_mse", "val_cka")
        The columns on the x and y axes.
    ax : matplotlib Axes, optional
    title : str
    norm : matplotlib.colors.Normalize, optional
        The colour scale. Pass the same ``norm`` to several panels so that one
        colour means one value everywhere (e.g. ``SymLogNorm(1e-2, vmin=0,
        vmax=20)`` for ``mu`` with its zeros). Not together with ``vmin``/``vmax``.
    vmin, vmax : float, optional
        Ends of a linear colour scale shared by several panels (default: this
        panel's smallest and largest value).
    cmap : str or Colormap, default "viridis"
    colorbar : bool, default True
        Draw this panel's colour bar. ``False`` to draw one bar for several
        panels yourself (``fig.colorbar(ax.collections[0], ax=axes)``).
    color_label : str, optional
        Label of the colour bar (default ``color_by``).
    baselines : dict, optional
        Reference points ``{label: (x, y)}`` in the order of ``objectives``,
        drawn with distinct markers and named in the legend.
    legend : bool, default True
        Draw the legend (trials, Pareto front, baselines). ``False`` to draw
        one legend for several panels (``fig.legend(*ax.get_legend_handles_labels())``).

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    ValueError
        If a column is unknown, if ``norm`` is given with ``vmin`` or ``vmax``,
        if there are more baselines than distinct markers, or if a baseline is
        not a pair of finite numbers.
    """
    import matplotlib.pyplot as plt

    if norm is not None and (vmin is not None or vmax is not None):
        raise ValueError(
            "pass either norm or vmin/vmax, not both (norm carries its own vmin and vmax)."
        )
    if baselines is not None and not isinstance(baselines, dict):
        raise TypeError(f"baselines must be a dict name -> (x, y); got {type(baselines).__name__}.")
    baselines = dict(baselines or {})
    if len(baselines) > len(_BASELINE_MARKERS):
        raise ValueError(
            f"baselines has {len(baselines)} entries; at most {len(_BASELINE_MARKERS)} "
            f"distinct markers are available."
        )
    points = {}
    for name, xy in baselines.items():
        point = np.asarray(xy, dtype=float).ravel()
        if point.shape != (2,) or not np.all(np.isfinite(point)):
            raise ValueError(
                f"baselines[{name!r}] must be two finite numbers (x, y) in the order of "
                f"objectives {tuple(objectives)}; got {xy!r}."
            )
        points[name] = point
    if ax is not None and not hasattr(ax, "scatter"):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
    rows = _finite_rows(rows, objectives)  # unscored trials have no point to draw
    if not rows:
        raise ValueError("rows has no trial with finite objectives: nothing to plot.")
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    P = _matrix(rows, objectives)
    _check_columns(rows, (color_by,))
    colours = np.array([r[color_by] for r in rows], dtype=float)
    sc = ax.scatter(
        P[:, 0],
        P[:, 1],
        c=colours,
        cmap=cmap,
        norm=norm,
        vmin=vmin,
        vmax=vmax,
        s=25,
        alpha=0.8,
        label="trials",
    )
    front = P[pareto_front(P)]
    ax.step(front[:, 0], front[:, 1], where="post", color="tab:red", lw=1.5, label="Pareto front")
    stopped = np.array([r.get("converged") is False for r in rows])
    if stopped.any():  # a fit stopped by its epochs cap: where the solver stopped, not an optimum
        ax.scatter(
            P[stopped, 0],
            P[stopped, 1],
            s=70,
            facecolors="none",
            edgecolors="black",
            linewidths=1.2,
            label=f"did not converge ({int(stopped.sum())})",
            zorder=3,
        )
    for (name, point), (marker, colour) in zip(points.items(), _BASELINE_MARKERS, strict=False):
        ax.plot(
            point[0],
            point[1],
            marker,
            color=colour,
            markeredgecolor="white",
            ms=8,
            ls="none",
            label=name,
            zorder=3,
        )
    if colorbar:
        ax.figure.colorbar(sc, ax=ax, label=color_by if color_label is None else color_label)
    ax.set_xlabel(objectives[0])
    ax.set_ylabel(objectives[1])
    ax.set_title(title)
    if legend:
        ax.legend()
    return ax


def plot_hypervolume(
    rows: list[dict],
    reference,
    objectives=("val_mse", "val_cka"),
    ax=None,
    label=None,
    title="Hypervolume of the trials so far (higher is better)",
    *,
    ymin=0.0,
):
    """Hypervolume against the number of trials.

    ``ymin`` is the lower end of the y axis: 0 by default, so that the height
    of the curve is the hypervolume itself and a small rise looks small
    (``None``: matplotlib's automatic limits).
    """
    import matplotlib.pyplot as plt

    if ax is not None and not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}.")
    hv = hypervolume_curve(rows, reference, objectives)
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    ax.plot(np.arange(1, len(hv) + 1), hv, label=label)
    ax.set_xlabel("number of trials")
    ax.set_ylabel("hypervolume")
    ax.set_title(title)
    if ymin is not None:
        ax.set_ylim(bottom=ymin)
    if label:
        ax.legend()
    return ax
