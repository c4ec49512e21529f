# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Part 4 — Automated search with KerasTuner
#
# Six hyperparameters ($\sigma$, $\lambda$, $\mu$, $\sigma_q$, epochs,
# learning rate) make a grid explode: ten values each is a million fits.
# Random search {cite:p}`bergstra2012random` samples the space instead. This
# lesson runs the search with [KerasTuner](https://keras.io/keras_tuner/),
# reads the whole {term}`Pareto front` out of its trials, and picks one model
# by a rule. The earlier public series
# [`jejjohnson/keras-fairkl`](https://github.com/jejjohnson/keras-fairkl) ran
# 30 random trials of a fair model with KerasTuner in 5 min 10 s; here every
# trial is one compiled fit.
#
# ```{admonition} Learning objectives
# :class: tip
# After this lesson you can
# 1. choose a search space for $\mu$ from measurements, and see what a bad
#    one does to the front;
# 2. run KerasTuner's stock `RandomSearch` and the batched tuner on
#    {py:class}`~fairkl.tuning.FairKernelRidgeHyperModel`;
# 3. extract the Pareto front and its hypervolume from the trials;
# 4. pick a model with {py:func}`~fairkl.tuning.best_within_budget`, refit it
#    and test it once, beside baselines.
# ```
#
# **Prerequisites.** [Part 1](part1_from_scratch) (the fair objective,
# budgets, baselines) and [Part 3](part3_fairkl_api) (the model). Symbols:
# [notation](notation).
#
# **Outline.** 1 data and baselines · 2 the scale of μ, and the search
# space · 3 a stock random search and its Pareto front · 4 hundreds of trials
# in batches · 5 choosing by a rule, testing once · exercises · key
# takeaways.

# %% tags=["hide-input"]
# Setup: this page needs the fairkl package (its data ship inside it).
try:
    import fairkl  # noqa: F401  (also selects Keras's JAX backend)
except ModuleNotFoundError as error:
    raise ModuleNotFoundError(
        "This notebook needs the fairkl package. Install it as the "
        "book's Installation page shows: the wheel offered there, "
        "`python -m pip install 'fairkl-<version>-py3-none-any.whl"
        "[notebooks]'`, or `python -m pip install '.[notebooks]'` in "
        "a clone of the repository. Then restart the kernel."
    ) from error

# %%
import os
import tempfile
import time

import keras_tuner as kt
import matplotlib.pyplot as plt
import numpy as np
from matplotlib_inline.backend_inline import set_matplotlib_formats

from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data
from fairkl.metrics import Yardstick
from fairkl.tuning import (
    DEFAULT_SPACE,
    SEED_SPACE,
    BatchedTuner,
    FairKernelRidgeHyperModel,
    best_within_budget,
    frozen_gc,
    hypervolume_curve,
    pareto_trials,
    plot_trials,
    refit,
    trials_table,
)

set_matplotlib_formats("svg")  # sharp figures at any zoom

# %% [markdown]
# ## 1. Data and baselines
#
# The synthetic data of Part 1 ($y = \sin x + 3q + \varepsilon$, with a proxy
# of $q$ among the inputs), split into training (150), validation (50, where
# every trial is scored) and test (50, used once). Three reference points on
# validation data: the constant predictor $\bar y$, $\sin(x)$ (the best
# predictor blind to $q$), and plain KRR at the median-heuristic bandwidth.

# %%
X, y, q = make_seed_data(n=250, seed=0)
X_tr, y_tr, q_tr = X[:150], y[:150], q[:150]
X_va, y_va, q_va = X[150:200], y[150:200], q[150:200]
X_te, y_te, q_te = X[200:], y[200:], q[200:]
ruler = Yardstick.from_data(y_tr, q_tr)  # the same ruler the HyperModel uses


def mse(pred, target):
    return float(np.mean((np.asarray(pred) - target) ** 2))


def baselines(X_part, y_part, q_part):
    sine = np.sin(X_part[:, 0])
    return {"constant ȳ": (mse(np.full(len(y_part), y_tr.mean()), y_part), 0.0),
            "sin(x), best fair": (mse(sine, y_part), ruler.score(sine, q_part))}


base_va = baselines(X_va, y_va, q_va)
krr = FairKernelRidge(1.0, 1e-2, dtype="float64").fit(X_tr, y_tr)
base_va["plain KRR (σ = 1, λ = 0.01)"] = (mse(krr.predict(X_va), y_va),
                                        ruler.score(krr.predict(X_va), q_va))
for name, (m, c) in base_va.items():
    print(f"{name:<28} validation MSE {m:5.2f}   CKA {c:.3f}")

# %% [markdown]
# ## 2. The scale of μ, and the search space
#
# The data term of the objective is measured on $y / s_y$ and CKA lies in
# $[0, 1]$, so $\mu$ has no units — and on these data $\mu \approx 1$ already
# removes most of the dependence. Measured on the book's data (a scan of
# $\mu$ at fixed $\sigma$, $\lambda$; the script is
# `benchmarks/bench_tuning_space.py` in the repository), the whole trade-off
# happens for $\mu$ between about 0.03 (still plain KRR) and about 3 (fully
# fair). The HyperModel's default space ({py:data}`fairkl.tuning.DEFAULT_SPACE`)
# therefore draws $\mu$ **log-uniformly** over $[10^{-3}, 10]$, with draws in
# the lowest decade meaning $\mu = 0$ (so about a quarter of the trials are
# plain KRR). The space of the earlier series, $\mu \in \{0, 1, \dots, 20\}$
# (kept as {py:data}`fairkl.tuning.SEED_SPACE`), puts nearly every trial at
# the fair end. We run 30 random trials in each space, with KerasTuner's
# stock `RandomSearch`.

# %%
print("default space:", DEFAULT_SPACE["mu"], "  earlier series:", SEED_SPACE["mu"])
workdir = tempfile.mkdtemp()


def random_search(space, name, trials=30):
    hyper_model = FairKernelRidgeHyperModel(X_tr, y_tr, q_tr, X_va, y_va, q_va,
                                            space=space)
    tuner = kt.RandomSearch(hyper_model, objective=kt.Objective("val_mse", "min"),
                            max_trials=trials, seed=1, directory=workdir,
                            project_name=name)
    t0 = time.process_time()
    with frozen_gc():  # KerasTuner's gc.collect() calls become ~free
        tuner.search(verbose=0)
    return hyper_model, trials_table(tuner), time.process_time() - t0


hyper_model, rows, t_random = random_search(None, "default")
_, rows_old, _ = random_search(SEED_SPACE, "old_space")
print(f"30 trials in {t_random:.1f} s CPU on the machine that built this page "
      f"({os.cpu_count()} cores), compilation included")

# %% mystnb={"figure": {"caption": "Thirty random trials in each search space, on validation data; colour is $\\mu$ and the line joins the Pareto-optimal trials. Left: with $\\mu$ log-uniform (plus $\\mu = 0$) the trials spread along the whole trade-off, from plain KRR (bottom right, accurate and dependent) to the fair end (top left). Right: with $\\mu \\in \\{0, \\dots, 20\\}$ almost every trial sits at the fair end, and the reader never sees the trade-off.", "name": "fig-p4-spaces"}, "image": {"alt": "Two scatter plots of validation MSE against validation CKA. Left: points spread from CKA 0.6 at low error to CKA near 0 at high error. Right: nearly all points bunched at CKA below 0.2 and high error."}}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.9), sharey=True)
for ax, r, title in [(axes[0], rows, "μ log-uniform, plus 0 (default)"),
                     (axes[1], rows_old, "μ in {0, ..., 20} (earlier series)")]:
    plot_trials(r, color_by="mu", objectives=("val_cka", "val_mse"), ax=ax)
    for name, (m, c) in base_va.items():
        ax.plot(c, m, "D" if "const" in name else "s", color="0.35", ms=5)
    ax.set(title=title, xlabel="validation CKA with q", ylabel="validation MSE")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. The Pareto front of a stock random search
#
# KerasTuner optimises one objective (a list of objectives is simply summed),
# so the HyperModel reports `val_mse` as the objective and records `val_cka`
# beside it — always with the one yardstick fixed from the training data,
# never with a trial's own $\sigma_q$, so that trials are comparable.
# {py:func}`~fairkl.tuning.trials_table` collects the trials and
# {py:func}`~fairkl.tuning.pareto_trials` keeps those no other trial beats on
# both.

# %%
front = sorted(pareto_trials(rows), key=lambda r: r["val_mse"])
print(f"{len(front)} Pareto-optimal trials of {len(rows)}")
print(f"{'val_mse':>8}{'val_cka':>9}{'mu':>9}{'sigma':>7}{'lam':>9}")
for r in front:
    print(f"{r['val_mse']:8.2f}{r['val_cka']:9.3f}{r['mu']:9.3g}{r['sigma']:7.2f}"
          f"{r['lam']:9.1e}")
accurate_end, fair_end = front[0], front[-1]

# %% tags=["remove-cell"]
krr_mse = base_va["plain KRR (σ = 1, λ = 0.01)"][0]
assert accurate_end["val_mse"] < 1.3 * krr_mse and accurate_end["val_cka"] > 0.4
assert fair_end["val_cka"] < 0.1
assert accurate_end["mu"] == 0 and 1.8 < accurate_end["val_mse"] < 2.4
assert 0.55 < accurate_end["val_cka"] < 0.65
assert fair_end["val_cka"] < 0.03 and 10 < fair_end["val_mse"] < 12
old_front = pareto_trials(rows_old)
assert min(r["val_mse"] for r in rows_old) > 2 * accurate_end["val_mse"]

# %% [markdown]
# The front now runs the whole way. Its accurate end (the first row) is a
# plain-KRR trial ($\mu = 0$) with validation MSE about 2.1 and CKA with $q$
# about 0.6; its fair end (the last row) has CKA about 0.02 and an error
# near the two baselines (about 11). In the old space even the most accurate
# of the 30 trials has more than twice the error of the accurate end.
#
# ## 4. Hundreds of trials in batches
#
# {py:class}`~fairkl.tuning.BatchedTuner` asks any KerasTuner oracle for
# batches of trials and evaluates each batch in one compiled, vectorised
# call. Its project directory is crash-safe: files are written atomically, a
# resumed search (`overwrite=False`) repairs what a crash left behind.

# %%
oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_mse", "min"),
                                       max_trials=200, seed=2)
t0 = time.process_time()
BatchedTuner(hyper_model, oracle, batch_size=16, directory=workdir,
             project_name="batched").search()
t_batched = time.process_time() - t0
rows200 = trials_table(oracle)
front200 = sorted(pareto_trials(rows200), key=lambda r: r["val_mse"])
print(f"{len(rows200)} trials in {t_batched:.1f} s CPU (this build's machine); "
      f"{len(front200)} on the Pareto front")
print(f"front runs from val_mse {front200[0]['val_mse']:.2f} "
      f"(CKA {front200[0]['val_cka']:.2f}) to val_mse {front200[-1]['val_mse']:.2f} "
      f"(CKA {front200[-1]['val_cka']:.3f})")

# %% [markdown]
# With 200 trials the front runs from validation MSE about 2.1 (CKA 0.6)
# to CKA 0.01 (MSE about 11): the same span, more densely filled.
#
# The {term}`hypervolume` — the area of the (error, dependence) plane that
# the trials dominate, up to a reference point — measures a whole front with
# one number; it can only grow as trials are added.

# %% mystnb={"figure": {"caption": "Hypervolume of the batched random search against the number of trials (reference point: the constant predictor's validation MSE and CKA = 1). It rises fast during the first few dozen trials and then flattens: later trials add little to the front.", "name": "fig-p4-hv"}, "image": {"alt": "A rising step curve of hypervolume against trial number, steep at first and nearly flat after about fifty trials."}}
reference = [base_va["constant ȳ"][0], 1.0]
hv = hypervolume_curve(rows200, reference)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(np.arange(1, len(hv) + 1), hv)
ax.set(xlabel="number of trials", ylabel="hypervolume",
       title="How fast random search fills the front")
plt.show()

# %% tags=["remove-cell"]
assert len(rows200) == 200 and np.all(np.diff(hv) >= -1e-12)
assert 1.8 < front200[0]["val_mse"] < 2.4 and 0.55 < front200[0]["val_cka"] < 0.65
assert front200[-1]["val_cka"] < 0.02 and 10 < front200[-1]["val_mse"] < 12

# %% [markdown]
# ## 5. Choosing by a rule, testing once
#
# The rule, stated before the test set is touched: **the most accurate trial
# (lowest `val_mse`) with `val_cka` at most 0.1**
# ({py:func}`fairkl.tuning.best_within_budget`). We refit it
# ({py:func}`fairkl.tuning.refit`: one fit, milliseconds) and test it once,
# beside the baselines and plain KRR.

# %%
budget = 0.1
pick = best_within_budget(rows200, budget)
model = refit(hyper_model, pick)
print(f"chosen: mu = {pick['mu']:.3g}, sigma = {pick['sigma']:.2f}, "
      f"lam = {pick['lam']:.1e} (val_mse {pick['val_mse']:.2f}, "
      f"val_cka {pick['val_cka']:.3f})")
test = baselines(X_te, y_te, q_te)
for name, m in [("plain KRR (σ = 1, λ = 0.01)", krr), ("chosen fair model", model)]:
    p = m.predict(X_te)
    test[name] = (mse(p, y_te), ruler.score(p, q_te))
print(f"\n{'test':<28}{'MSE':>7}{'CKA with q':>12}")
for name, (m, c) in test.items():
    print(f"{name:<28}{m:7.2f}{c:12.3f}")

# %% tags=["remove-cell"]
t = list(test.values())
assert pick["val_cka"] <= budget and pick["mu"] > 0
assert t[3][1] < 0.4 * t[2][1] and t[3][1] < 0.2
assert t[2][0] < t[3][0] < t[0][0] and t[3][0] < t[1][0]

# %% [markdown]
# On the test set the chosen model keeps a small fraction of plain KRR's
# dependence on $q$, with an error between plain KRR and the constant
# predictor (and a little below $\sin(x)$, since the budget lets it keep
# some dependence). That
# is the same lesson as Part 1, now reached by a search over six
# hyperparameters instead of a hand-made grid.
#
# ## Exercises
#
# ```{exercise} Which space fills the front?
# :label: p4-ex-hv
# :nonumber:
# Compute the hypervolume of the 30 trials of each space of §2 (same
# reference point). Which is larger, and why?
# ```
#
# ```{solution-start} p4-ex-hv
# :class: dropdown
# ```

# %%
hv_new = hypervolume_curve(rows, reference)[-1]
hv_old = hypervolume_curve(rows_old, reference)[-1]
print(f"hypervolume: default space {hv_new:.2f}, earlier space {hv_old:.2f}")

# %% [markdown]
# The default space's front is larger: it reaches the accurate end, which the
# old space never samples, because $\mu \ge 1$ is already near the fair end.
#
# ```{solution-end}
# ```
#
# ```{exercise} A looser budget
# :label: p4-ex-budget
# :nonumber:
# Apply the rule of §5 with a budget of 0.3. Which trial is chosen, and what
# are its test MSE and CKA?
# ```
#
# ```{solution-start} p4-ex-budget
# :class: dropdown
# ```

# %%
pick3 = best_within_budget(rows200, 0.3)
p3 = refit(hyper_model, pick3).predict(X_te)
print(f"budget 0.3: mu = {pick3['mu']:.3g}; test MSE {mse(p3, y_te):.2f}, "
      f"CKA {ruler.score(p3, q_te):.3f}")

# %% [markdown]
# A looser budget admits a smaller $\mu$: lower error, more dependence. The
# budget is the one number that encodes the policy; the rest is mechanical.
#
# ```{solution-end}
# ```

# %% tags=["remove-cell"]
assert hv_new > hv_old
assert pick3["val_mse"] <= pick["val_mse"] and pick3["val_cka"] <= 0.3

# %% [markdown]
# ## Key takeaways
#
# ```{admonition} Key takeaways
# :class: important
# * μ has no units and the trade-off happens within a few decades: search it
#   log-uniformly, with μ = 0 included, over a range chosen from measurements.
# * KerasTuner sums objectives; record dependence beside the error and
#   extract the Pareto front from the trials yourself.
# * Measure every trial with one yardstick, fixed from the training data.
# * One compiled fit per trial, or a batch per call, makes hundreds of trials
#   cheap.
# * Choose by a budget rule on validation data, refit, test once, and show
#   the baselines beside the result.
# ```
#
# **Next:** [Case study — Communities and Crime](case_study_crime), on real
# data. The [API reference](api) documents every function used here.
