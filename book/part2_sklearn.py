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
# # Part 2 — scikit-learn and cross-validation
#
# Part 1 chose $\mu$ on one validation split. One split is noisy, and
# hand-written selection loops are easy to get wrong. This lesson hands the
# job to scikit-learn: the fair model becomes an ordinary estimator, the
# {term}`sensitive attribute` travels with the data through cross-validation,
# and the selection rule of Part 1 becomes a `refit` argument.
#
# ```{admonition} Learning objectives
# :class: tip
# After this lesson you can
# 1. pass the sensitive attribute through scikit-learn's
#    {ref}`metadata routing <sklearn:metadata_routing>` to `fit` and to a
#    scorer;
# 2. explain why folds must be shuffled when data are sorted by group;
# 3. cross-validate accuracy *and* dependence, beside baselines;
# 4. state a selection rule and let
#    {py:class}`~sklearn.model_selection.GridSearchCV` apply it;
# 5. read a {term}`Pareto front` and pick a model from it by a rule;
# 6. use {py:class}`~fairkl.sklearn.FairKernelRidgeCV` to search a large grid
#    for the price of a few fits.
# ```
#
# **Prerequisites.** [Part 1](part1_from_scratch) (the fair objective, CKA,
# the yardstick); scikit-learn's
# {py:func}`~sklearn.model_selection.cross_validate` and pipelines.
# Symbols: [notation](notation).
#
# **Outline.** 1 data and the yardstick · 2 why folds are shuffled · 3 the
# estimator and routed cross-validation, with baselines · 4 a selection rule in
# `GridSearchCV` · 5 the Pareto front · 6 `FairKernelRidgeCV` and the μ-path ·
# 7 testing once · exercises · key takeaways.

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
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sklearn
from matplotlib_inline.backend_inline import set_matplotlib_formats
from myst_nb import glue
from scipy.spatial.distance import pdist
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_validate,
    train_test_split,
)

from fairkl.datasets import make_seed_data
from fairkl.pareto import pareto_front
from fairkl.sklearn import (
    FairKernelRidgeCV,
    FairKernelRidgeRegressor,
    best_within_budget,
    dependence_score,
    make_dependence_scorer,
    yardstick,
)

set_matplotlib_formats("svg")
# Metadata routing on, before any scorer is made.
sklearn.set_config(enable_metadata_routing=True)

# %% [markdown]
# ## 1. Data and the yardstick
#
# The problem of Part 1 (its equation {eq}`eq-p1-data`),
# $y = \sin(x) + 3q + \varepsilon$ with inputs $x$ and a proxy of $q$,
# now with 400 rows. A quarter is set aside as the test set, used
# once at the end; the other 300 rows (the *development* set) are for
# cross-validation.
#
# As in Part 1, dependence is measured with one fixed ruler:
# {py:func}`~fairkl.sklearn.yardstick` returns the median-heuristic bandwidths
# $\sigma_f$ (on the targets, used for predictions) and $\sigma_q$ (on the
# attribute), computed once from the development set.

# %%
X, y, q = make_seed_data(n=400, seed=1)
q = q[:, 0]  # one sensitive column
X_dev, X_te, y_dev, y_te, q_dev, q_te = train_test_split(
    X, y, q, test_size=0.25, random_state=0)
yard = yardstick(y_dev, q_dev)
print(f"development {len(y_dev)} rows, test {len(y_te)} rows")
print(f"yardstick: sigma_f = {yard['sigma_pred']:.2f} (units of y), "
      f"sigma_q = {yard['sigma_q']:.2f} (units of q)")

# %% [markdown]
# The two numbers are lengths: two predictions closer than about
# $\sigma_f$ count as similar, and so do two values of $q$ closer than about
# $\sigma_q$. Their exact digits do not matter; that they stay **fixed** for
# every fold and every candidate does.
#
# ## 2. Why folds are shuffled
#
# {py:class}`~sklearn.model_selection.KFold` cuts the rows into consecutive
# blocks unless told to shuffle. Real tables are often sorted — by region, by
# date, by group. If ours were sorted by $q$, each held-out fold would hold
# only a narrow range of $q$, and two things would go wrong: the model would
# be tested on values of the proxy it never saw (large errors at the ends),
# and within a fold of nearly equal $q$ there is little dependence to see, so
# the model would *look* fair.
#
# **Fixed settings, not chosen ones.** Until §4, the model's settings are
# fixed by hand, to show the machinery, not tuned: the bandwidth
# $\sigma = 2$, a round number near the median heuristic on $X$
# ({glue:text}`p2_sigma_X:.2f` on the development set); the ridge
# $\lambda = 10^{-2}$; and, for the fair model of §3, $\mu = 31.6$
# ($10^{3/2}$, the middle of the grid of §4). Nothing on this page chose
# them before §4. There a rule chooses $\lambda$ and $\mu$ (and picks
# these same two values; the page checks it), and in §6 it chooses
# $\sigma$ as well.

# %%
SIGMA, LAM, MU = 2.0, 1e-2, 10**1.5  # fixed by hand, see the text
sigma_X = float(np.median(pdist(X_dev)))  # median heuristic on X
print(f"median heuristic on X: {sigma_X:.2f}; fixed sigma = {SIGMA:g}")

# %% tags=["remove-cell"]
glue("p2_sigma_X", sigma_X, display=False)
assert 0.67 < SIGMA / sigma_X < 1.5  # "near the median heuristic"

# %% [markdown]
# Here is plain KRR ($\mu = 0$) on the development set sorted by $q$:

# %%
scoring = {"mse": "neg_mean_squared_error",
           "cka": make_dependence_scorer("cka", **yard)}
plain = FairKernelRidgeRegressor(sigma=SIGMA, lam=LAM, mu=0.0,
                                 penalty="hsic")
plain.set_fit_request(sensitive_features=True)
order = np.argsort(q_dev)
X_s, y_s, q_s = X_dev[order], y_dev[order], q_dev[order]
splitters = {"consecutive folds": KFold(5),
             "shuffled folds": KFold(5, shuffle=True, random_state=0)}
per_fold = {}
for name, splitter in splitters.items():
    res = cross_validate(plain, X_s, y_s, cv=splitter, scoring=scoring,
                         params={"sensitive_features": q_s})
    per_fold[name] = (-res["test_mse"], -res["test_cka"])
    print(f"{name}:\n  MSE per fold {np.round(-res['test_mse'], 1)}\n"
          f"  CKA per fold {np.round(-res['test_cka'], 2)}")
mse_sorted, cka_sorted = per_fold["consecutive folds"]
mse_shuffled, cka_shuffled = per_fold["shuffled folds"]

# %% tags=["remove-cell"]
mse_middle = np.median(mse_sorted[1:-1])
glue("p2_cka_sorted_max", float(cka_sorted.max()), display=False)
glue("p2_cka_shuffled_mean", float(cka_shuffled.mean()), display=False)
glue("p2_mse_sorted_first", float(mse_sorted[0]), display=False)
glue("p2_mse_sorted_last", float(mse_sorted[-1]), display=False)
glue("p2_mse_sorted_middle", float(mse_middle), display=False)
glue("p2_mse_shuffled_max", float(mse_shuffled.max()), display=False)
assert cka_sorted.max() < 0.5 * cka_shuffled.min()  # "seems fair"
assert min(mse_sorted[0], mse_sorted[-1]) > 2 * mse_middle  # "explodes"
assert mse_shuffled.max() < min(mse_sorted[0], mse_sorted[-1])

# %% [markdown]
# With consecutive folds the same model scores a CKA of at most
# {glue:text}`p2_cka_sorted_max:.2f` on every fold — it seems fair — and
# its error explodes on the first and last folds (MSE
# {glue:text}`p2_mse_sorted_first:.1f` and
# {glue:text}`p2_mse_sorted_last:.1f`, against a median of
# {glue:text}`p2_mse_sorted_middle:.1f` on the three middle folds). With
# shuffled folds its real dependence shows (mean CKA
# {glue:text}`p2_cka_shuffled_mean:.2f`), and no fold's MSE exceeds
# {glue:text}`p2_mse_shuffled_max:.1f`. **Always pass a shuffled, seeded
# splitter**, `KFold(5, shuffle=True, random_state=0)`, as every cell below
# does.
#
# ## 3. The estimator and routed cross-validation
#
# {py:class}`~fairkl.sklearn.FairKernelRidgeRegressor` is the model of Part 1
# as a scikit-learn estimator (it passes `check_estimator`). Its `fit`
# accepts `sensitive_features`; `set_fit_request(sensitive_features=True)`
# asks the routing machinery to pass them. The dependence scorer from
# {py:func}`~fairkl.sklearn.make_dependence_scorer` asks for them at score
# time, so each held-out fold is scored against *its own* rows of $q$.
#
# The fair model here has the fixed settings above ($\sigma = 2$,
# $\lambda = 10^{-2}$, $\mu = 31.6$). Beside it we cross-validate plain
# KRR and the two baselines of Part 1. A baseline
# is an estimator too: the constant predictor is scikit-learn's
# {py:class}`~sklearn.dummy.DummyRegressor`, and $\sin(x)$ is a four-line
# class that ignores its training data.

# %%
class SineOfX(RegressorMixin, BaseEstimator):
    """Best fair predictor on this problem: sin of the first column."""

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.sin(np.asarray(X)[:, 0])


folds = KFold(5, shuffle=True, random_state=0)
fair = FairKernelRidgeRegressor(sigma=SIGMA, lam=LAM, mu=MU,
                                penalty="hsic")
fair.set_fit_request(sensitive_features=True)
candidates = {"constant ȳ": DummyRegressor(),
              "sin(x), best fair": SineOfX(),
              "plain KRR (μ = 0)": plain,
              f"fair KRR (μ = {MU:.3g})": fair}
rows = {}
for name, est in candidates.items():
    res = cross_validate(est, X_dev, y_dev, cv=folds, scoring=scoring,
                         params={"sensitive_features": q_dev})
    rows[name] = {"MSE": -res["test_mse"].mean(),
                  "MSE sd": res["test_mse"].std(),
                  "CKA": 0.0 - res["test_cka"].mean(),  # not "-0.000"
                  "CKA sd": res["test_cka"].std()}
table = pd.DataFrame(rows).T
table.round({"MSE": 2, "MSE sd": 2, "CKA": 3, "CKA sd": 3})

# %% tags=["remove-cell"]
mse_of, cka_of = table["MSE"].to_numpy(), table["CKA"].to_numpy()
# rows: constant, sin(x), plain KRR, fair KRR
assert cka_of[0] == 0.0 and cka_of[1] < 0.1
assert mse_of[2] < mse_of[3] < mse_of[1] < mse_of[0]  # the ordering
assert cka_of[1] < cka_of[3] < 0.5 * cka_of[2]  # fair between the two

# %% [markdown]
# Each number is a mean over the five held-out folds, with its standard
# deviation (sd) over folds. scikit-learn scorers follow a "greater is
# better" rule, so error and dependence scorers return negated values; we
# flip the sign back for the table. The ordering is the one Part 1 found on a
# single split: plain KRR is the most accurate and the most dependent, the
# fair model sits between it and $\sin(x)$ on both columns, and the
# constant has the largest error.
#
# ## 4. A selection rule in `GridSearchCV`
#
# The rule of Part 1 — **the most accurate candidate whose mean held-out CKA
# is at most the budget** — is a function of the search's results, and
# {py:func}`~fairkl.sklearn.best_within_budget` builds it as the `refit`
# argument of {py:class}`~sklearn.model_selection.GridSearchCV`. The search
# scores every candidate on both metrics, applies the rule, and refits the
# chosen candidate on the whole development set.

# %%
budget = 0.2
mus = np.r_[0.0, np.logspace(-1, 3, 17)]  # 0, four values per decade
grid = {"lam": [1e-2, 1e-1],
        "mu": list(mus[[0, 9, 11, 13]])}  # 0, 10, 31.6, 100
est = FairKernelRidgeRegressor(sigma=SIGMA, penalty="hsic")
est.set_fit_request(sensitive_features=True)
rule = best_within_budget(budget, fairness="cka", accuracy="mse")
search = GridSearchCV(est, grid, cv=folds, scoring=scoring, refit=rule)
t0 = time.perf_counter()
search.fit(X_dev, y_dev, sensitive_features=q_dev)
t_grid = time.perf_counter() - t0
res = pd.DataFrame({"λ": search.cv_results_["param_lam"],
                    "μ": search.cv_results_["param_mu"],
                    "CV MSE": -search.cv_results_["mean_test_mse"],
                    "CV CKA": -search.cv_results_["mean_test_cka"]})
res["chosen"] = np.where(res.index == search.best_index_, "←", "")
chosen = search.best_params_
print(f"chosen: lam = {chosen['lam']:g}, mu = {chosen['mu']:.3g}")
res.round(3)

# %% tags=["remove-cell"]
best = search.best_index_
within = res["CV CKA"] <= budget
assert res.loc[best, "CV CKA"] <= budget
assert res.loc[best, "CV MSE"] == res.loc[within, "CV MSE"].min()
assert (res.loc[~within, "μ"] <= 10).all()  # "all with μ ≤ 10"
assert res.loc[res["CV MSE"].idxmin(), "μ"] == 0  # "plain KRR"
assert chosen["lam"] == LAM and np.isclose(chosen["mu"], MU)  # as fixed
glue("p2_gs_lam", float(chosen["lam"]), display=False)
glue("p2_gs_mu", float(chosen["mu"]), display=False)

# %% [markdown]
# Read the table by the rule: drop the rows whose CV CKA exceeds 0.2 (all
# with $\mu \le 10$), then take the lowest CV MSE among the rest. The
# rule picks $\lambda = $ {glue:text}`p2_gs_lam:g` and
# $\mu = $ {glue:text}`p2_gs_mu:.3g`, the values fixed by hand above.
# Without the budget, "best" would mean the most accurate — plain KRR.
#
# ## 5. The Pareto front
#
# With two objectives, error and dependence, there is no single best model.
# A candidate is **Pareto-optimal** when no other candidate is at least as
# good on both and better on one; the Pareto-optimal candidates form the
# {term}`Pareto front`. Every sensible rule — any budget, any weighting —
# picks a point on the front, so the front is the menu and the rule is the
# order. {py:func}`fairkl.pareto.pareto_front` finds it (both objectives
# minimised):

# %%
front = pareto_front(res[["CV MSE", "CV CKA"]].to_numpy())
res.loc[front].round(3)

# %% [markdown]
# ## 6. `FairKernelRidgeCV`: one factorisation per fold and bandwidth
#
# `GridSearchCV` refits every candidate on every fold: here 40 fits for 8
# candidates and 5 folds. Two facts make most of that work unnecessary for
# the HSIC penalty, whose fit is the linear system of Part 1's equation
# {eq}`eq-p1-fair-solve`:
#
# * for fixed $\sigma$, one eigendecomposition $K = V\Lambda V^\top$ gives
#
#   $$
#   (K + \lambda I)^{-1} = V(\Lambda + \lambda I)^{-1}V^\top
#   $$ (eq-p2-eig)
#
#   for **every** $\lambda$, at the cost of a matrix product;
# * the {term}`μ-path`: the centred kernel on $q$ has low rank $r$
#   ($\tilde L \approx BB^\top$, $B$ of shape $n\times r$), so the solutions
#   for **every** $\mu$ follow from one factorisation by the Woodbury
#   identity, each new $\mu$ costing an $r\times r$ solve. Part 3 derives
#   it, step by step, ending in its equation {eq}`eq-p3-mu-path`.
#
# {py:class}`~fairkl.sklearn.FairKernelRidgeCV` does this per fold and per
# $\sigma$: {eq}`eq-p2-eig` for the ridges, the μ-path for $\mu$. That
# makes a much finer grid affordable: three bandwidths, three
# ridges and $\mu = 0$ plus 17 values spread evenly on a log scale from $10^{-1}$
# to 1000 — 162 candidates, which include the 8 of the search above.

# %%
sigmas, lams = [1.0, 2.0, 4.0], [1e-3, 1e-2, 1e-1]
t0 = time.perf_counter()
cv = FairKernelRidgeCV(sigmas=sigmas, lams=lams, mus=mus,
                       cv=KFold(5, shuffle=True, random_state=0),
                       budget=budget)
cv.fit(X_dev, y_dev, sensitive_features=q_dev)
t_big = time.perf_counter() - t0
r = cv.cv_results_
i = cv.best_index_
print(f"{len(r['params'])} candidates; "
      f"{len(cv.pareto_front_)} on the Pareto front")
print(f"chosen by the rule: sigma = {cv.sigma_:g}, lam = {cv.lam_:g}, "
      f"mu = {cv.mu_:.3g}\n  (CV MSE {r['mean_test_mse'][i]:.2f}, "
      f"CV CKA {r['mean_test_cka'][i]:.3f})")

# %% tags=["remove-cell"]
# Best candidate within the budget at each bandwidth, against the chosen
# one's fold-to-fold spread.
ok = r["mean_test_cka"] <= budget
best_per_sigma = np.array(
    [r["mean_test_mse"][ok & (r["param_sigma"] == s)].min()
     for s in sigmas])
mse_gap = float(best_per_sigma.max() - best_per_sigma.min())
glue("p2_n_candidates", len(r["params"]), display=False)
glue("p2_n_front", len(cv.pareto_front_), display=False)
glue("p2_cv_sigma", float(cv.sigma_), display=False)
glue("p2_cv_lam", float(cv.lam_), display=False)
glue("p2_cv_mu", float(cv.mu_), display=False)
glue("p2_cv_mse", float(r["mean_test_mse"][i]), display=False)
glue("p2_cv_cka", float(r["mean_test_cka"][i]), display=False)
glue("p2_cv_mse_gap", mse_gap, display=False)
glue("p2_cv_mse_sd", float(r["std_test_mse"][i]), display=False)
assert cv.sigma_ == min(sigmas)  # "at the small end of the grid"
assert mse_gap < r["std_test_mse"][i]  # "less than the spread"

# %% [markdown]
# The rule chooses $\sigma = $ {glue:text}`p2_cv_sigma:g`,
# $\lambda = $ {glue:text}`p2_cv_lam:g` and
# $\mu = $ {glue:text}`p2_cv_mu:.3g` (CV MSE {glue:text}`p2_cv_mse:.2f`,
# CV CKA {glue:text}`p2_cv_cka:.3f`), among
# {glue:text}`p2_n_candidates:d` candidates of which
# {glue:text}`p2_n_front:d` are on the Pareto front. The chosen bandwidth
# sits at the small end of the grid, and we did not widen the grid to push
# it inside, because near the budget the bandwidth hardly matters: the
# best candidates within the budget at the three bandwidths differ in CV
# MSE by at most {glue:text}`p2_cv_mse_gap:.2f`, less than the chosen
# candidate's standard deviation over folds
# ({glue:text}`p2_cv_mse_sd:.2f`). Which of them wins depends on the folds
# (see the exercise {ref}`How stable is the choice? <p2-ex-stability>`);
# what is stable is $\mu$ and the error and dependence the rule delivers.
#
# The 8 candidates shared with the search of §4 get the same cross-validated
# numbers as from `GridSearchCV`, up to rounding:

# %%
same_as_search = [
    r["params"].index({"sigma": SIGMA, "lam": p["lam"], "mu": p["mu"]})
    for p in search.cv_results_["params"]
]
gs_mse = -search.cv_results_["mean_test_mse"]
diff = np.max(np.abs(r["mean_test_mse"][same_as_search] - gs_mse))
n_gs, n_big = len(gs_mse), len(r["params"])
print(f"largest difference in CV MSE: {diff:.1e}")
print("time on the machine that built this page "
      "(compilation included):")
print(f"  GridSearchCV,      {n_gs:3d} candidates: {t_grid:5.1f} s")
print(f"  FairKernelRidgeCV, {n_big:3d} candidates: {t_big:5.1f} s")

# %% tags=["remove-cell"]
glue("p2_cv_diff", float(diff), display=False)
glue("p2_t_grid", float(t_grid), display=False)
glue("p2_t_big", float(t_big), display=False)
glue("p2_per_cand_ratio", float((t_grid / n_gs) / (t_big / n_big)),
     display=False)
assert diff < 1e-6
assert r["mean_test_cka"][i] <= budget
assert r["mean_test_mse"][i] == r["mean_test_mse"][ok].min()
assert i in cv.pareto_front_
assert t_big / n_big < t_grid / n_gs  # cheaper per candidate

# %% [markdown]
# The shared candidates' CV MSE agree to {glue:text}`p2_cv_diff:.0e`.
# On the machine that built this page, a 2-core CPU shared with other jobs
# (timings vary with the machine, and include compilation), the 162
# candidates took {glue:text}`p2_t_big:.1f` s and the 8 of
# `GridSearchCV` {glue:text}`p2_t_grid:.1f` s: per candidate,
# `FairKernelRidgeCV` was {glue:text}`p2_per_cand_ratio:.0f` times
# cheaper. The reason is the count: it factorises once per fold and
# bandwidth, not once per candidate.

# %% mystnb={"figure": {"caption": "Cross-validated error against dependence for all 162 candidates (grey). The blue line is the Pareto front — the candidates no other beats on both axes; a few are labelled with their $\\mu$. The star is the model chosen by the rule *lowest CV MSE with CV CKA ≤ 0.2* (dashed line). The baselines mark the ends: the constant predictor and $\\sin(x)$.", "name": "fig-p2-front"}, "image": {"alt": "Scatter of cross-validated MSE against CKA: grey points, a blue staircase front from high CKA and low MSE to low CKA and high MSE, labels for a few mu values, a red star just left of a dashed vertical line at CKA 0.2, and two baseline markers near CKA zero."}}
fr = cv.pareto_front_
cka_all, mse_all = r["mean_test_cka"], r["mean_test_mse"]
fig, ax = plt.subplots(figsize=(7, 4.4))
ax.scatter(cka_all, mse_all, s=8, color="0.7", label="all candidates")
ax.plot(cka_all[fr], mse_all[fr], "o-", ms=3, color="tab:blue",
        label="Pareto front")
for target in [0.03, 0.1, 0.35, 0.5, 0.58]:  # a few front points
    k = fr[np.argmin(np.abs(cka_all[fr] - target))]
    mu_k = np.format_float_positional(r["param_mu"][k], precision=2,
                                      fractional=False, trim="-")
    ax.annotate(f"μ = {mu_k}", (cka_all[k], mse_all[k]), fontsize=9,
                textcoords="offset points", xytext=(8, 4))
ax.plot(cka_all[i], mse_all[i], "*", ms=16, color="tab:red",
        label=f"chosen: σ = {cv.sigma_:g}, λ = {cv.lam_:g}, "
              f"μ = {cv.mu_:.3g}")
ax.axvline(budget, ls="--", lw=1, color="tab:red",
           label=f"budget CKA ≤ {budget}")
for name, marker in [("constant ȳ", "D"), ("sin(x), best fair", "s")]:
    ax.plot(table.loc[name, "CKA"], table.loc[name, "MSE"], marker,
            color="0.3", label=name)
ax.set(xlabel="cross-validated CKA(predictions, q)"
              "   (lower: more independent)",
       ylabel="cross-validated MSE", xlim=(-0.03, 0.72),
       title="Accuracy–independence front, 5-fold CV")
ax.legend(fontsize=9, loc="upper right")
plt.show()

# %% tags=["remove-cell"]
# The caption and alt text: the star just left of the budget line, on the
# front; the baselines near CKA zero, at the high-error end.
assert 0 < budget - cka_all[i] < 0.05 and i in fr
assert table["CKA"].iloc[:2].max() < 0.05

# %% [markdown]
# ## 7. Testing once
#
# The development set chose everything; the test set now scores the choices
# once, beside the baselines and plain KRR (the most accurate $\mu = 0$
# candidate of the large grid, refitted on the development set).

# %%
def test_row(pred):
    cka = dependence_score(None, pred, sensitive_features=q_te, **yard)
    return {"test MSE": np.mean((pred - y_te) ** 2), "test CKA": cka}


at_zero = np.flatnonzero(r["param_mu"] == 0)
# the most accurate plain KRR (mu = 0) of the large grid
j = at_zero[np.argmin(r["mean_test_mse"][at_zero])]
plain_best = FairKernelRidgeRegressor(
    sigma=r["param_sigma"][j], lam=r["param_lam"][j], mu=0.0,
    penalty="hsic")
plain_best.fit(X_dev, y_dev, sensitive_features=q_dev)
final = pd.DataFrame({
    "constant ȳ": test_row(np.full(len(y_te), y_dev.mean())),
    "sin(x), best fair": test_row(np.sin(X_te[:, 0])),
    "plain KRR (μ = 0)": test_row(plain_best.predict(X_te)),
    "GridSearchCV choice": test_row(search.predict(X_te)),
    "FairKernelRidgeCV choice": test_row(cv.predict(X_te)),
}).T
final.round(3)

# %% tags=["remove-cell"]
fk = final.loc["FairKernelRidgeCV choice"]
pk = final.loc["plain KRR (μ = 0)"]
sx = final.loc["sin(x), best fair"]
glue("p2_te_cka_fk", float(fk["test CKA"]), display=False)
glue("p2_te_cka_plain", float(pk["test CKA"]), display=False)
glue("p2_te_cka_sine", float(sx["test CKA"]), display=False)
glue("p2_te_mse_fk", float(fk["test MSE"]), display=False)
glue("p2_te_mse_plain", float(pk["test MSE"]), display=False)
glue("p2_te_mse_sine", float(sx["test MSE"]), display=False)
assert fk["test CKA"] < 0.5 * pk["test CKA"]  # "far less"
assert pk["test MSE"] < fk["test MSE"] < sx["test MSE"]
assert sx["test CKA"] < fk["test CKA"]  # "keeps a little dependence"

# %% [markdown]
# On the test set the chosen fair model keeps its cross-validated promise
# in the way that matters: it depends on $q$ far less than plain KRR (test
# CKA {glue:text}`p2_te_cka_fk:.3f` against
# {glue:text}`p2_te_cka_plain:.3f`; plain KRR's lower test MSE,
# {glue:text}`p2_te_mse_plain:.2f`, is the price), and it is still more accurate than
# $\sin(x)$ (test MSE {glue:text}`p2_te_mse_fk:.2f` against
# {glue:text}`p2_te_mse_sine:.2f`), because the budget lets it keep a
# little dependence ($\sin(x)$'s test CKA is
# {glue:text}`p2_te_cka_sine:.3f`). Its test CKA need not sit under the
# budget: the budget bounds the *cross-validated mean*, and 100 test rows
# are a noisy sample.
#
# ## Exercises
#
# ```{exercise} Change the units: predict, then run
# :label: p2-ex-units
# :nonumber:
# Suppose $y$ were recorded in other units, $10y$ instead of $y$. Before
# running anything, predict for the large search of §6: which candidate
# does the rule choose, and what happens to every candidate's CV MSE and
# CV CKA? (Recall two facts: the fit divides $y$ by its standard deviation,
# as in Part 1's equation {eq}`eq-p1-krr`, and the yardstick's $\sigma_f$ is a median distance
# between targets.) Then run the search on `10 * y_dev` and check.
# ```
#
# ```{solution-start} p2-ex-units
# :class: dropdown
# ```
#
# The fit sees $\tilde y = y / s_y$, which does not change when $y$ is
# multiplied by 10, so neither does $\alpha$; the predictions, $s_y$
# times the kernel expansion, are multiplied by 10. Every squared error is
# therefore multiplied by 100. The yardstick's $\sigma_f$ grows by 10 as
# well, so the RBF kernel on the predictions, which sees only differences
# divided by $\sigma_f$, is unchanged, and so is every CKA. The budget rule
# compares CKAs (unchanged) and ranks MSEs (all multiplied by the same
# factor): it chooses the same candidate.

# %%
cv_units = FairKernelRidgeCV(sigmas=sigmas, lams=lams, mus=mus,
                             cv=KFold(5, shuffle=True, random_state=0),
                             budget=budget)
cv_units.fit(X_dev, 10 * y_dev, sensitive_features=q_dev)
ru = cv_units.cv_results_
mse_factor = ru["mean_test_mse"] / r["mean_test_mse"]
cka_change = np.max(np.abs(ru["mean_test_cka"] - r["mean_test_cka"]))
print(f"same candidate chosen: {cv_units.best_index_ == i}")
print(f"CV MSE multiplied by {mse_factor.min():.6f} to "
      f"{mse_factor.max():.6f}\nlargest change in CV CKA "
      f"{cka_change:.1e}")

# %% tags=["remove-cell"]
assert cv_units.best_index_ == i
assert np.allclose(mse_factor, 100, rtol=1e-6)
assert cka_change < 1e-6

# %% [markdown]
# As predicted: the choice does not depend on the units of $y$, and,
# because of the scaling in Part 1's {eq}`eq-p1-krr`, neither do the
# meanings of
# $\lambda$ and $\mu$.
#
# ```{solution-end}
# ```
#
# ```{exercise} A trade-off instead of a budget
# :label: p2-ex-tradeoff
# :nonumber:
# `FairKernelRidgeCV` also accepts `tradeoff=t` (and no budget): it then
# chooses the candidate that minimises
#
# $$
# \frac{\text{CV MSE}}{\operatorname{var}(y)} + t\cdot\text{CV CKA}.
# $$ (eq-p2-tradeoff)
#
# The rule only reads the cross-validated results, so no new fit is
# needed to apply it: evaluate {eq}`eq-p2-tradeoff` on `cv.cv_results_`
# of §6 for $t = 1$ and $t = 10$. Which candidates are chosen, and are
# they on the Pareto front? Check one of them against
# `FairKernelRidgeCV(..., tradeoff=10)`.
# ```
#
# ```{solution-start} p2-ex-tradeoff
# :class: dropdown
# ```

# %%
picked = {}
for t in [1.0, 10.0]:
    score = (r["mean_test_mse"] / np.var(y_dev)
             + t * r["mean_test_cka"])
    k = int(np.argmin(score))
    picked[t] = k
    print(f"tradeoff {t:>4}: mu = {r['param_mu'][k]:.3g}, "
          f"CV MSE {r['mean_test_mse'][k]:.2f}, "
          f"CV CKA {r['mean_test_cka'][k]:.3f}, "
          f"on the front: {k in cv.pareto_front_}")

cv_t = FairKernelRidgeCV(sigmas=sigmas, lams=lams, mus=mus,
                         cv=KFold(5, shuffle=True, random_state=0),
                         tradeoff=10.0)  # same grid: no recompilation
cv_t.fit(X_dev, y_dev, sensitive_features=q_dev)
print(f"FairKernelRidgeCV(tradeoff=10) picks the same candidate: "
      f"{cv_t.best_index_ == picked[10.0]}")

# %% tags=["remove-cell"]
k1, k10 = picked[1.0], picked[10.0]
assert cv_t.best_index_ == k10
assert r["mean_test_cka"][k10] < r["mean_test_cka"][k1]  # fairer
assert r["mean_test_mse"][k10] > r["mean_test_mse"][k1]  # less accurate
assert k1 in cv.pareto_front_ and k10 in cv.pareto_front_

# %% [markdown]
# A larger weight on CKA picks a fairer, less accurate candidate. Both
# choices lie on the front: minimising {eq}`eq-p2-tradeoff`, a sum of the
# two objectives with positive weights, can never pick a dominated point.
#
# ```{solution-end}
# ```
#
# ```{exercise} How stable is the choice?
# :label: p2-ex-stability
# :nonumber:
# The folds are random. Repeat the large search with `random_state` 1 and 2
# in the splitter. Does the chosen $\mu$ change? What does that say
# about reading too much into one selected value?
# ```
#
# ```{solution-start} p2-ex-stability
# :class: dropdown
# ```

# %%
choices = [(cv.sigma_, cv.lam_, cv.mu_)]  # random_state 0, from §6
for seed in [1, 2]:
    folds_s = KFold(5, shuffle=True, random_state=seed)
    cv_s = FairKernelRidgeCV(sigmas=sigmas, lams=lams, mus=mus,
                             cv=folds_s, budget=budget)
    cv_s.fit(X_dev, y_dev, sensitive_features=q_dev)
    choices.append((cv_s.sigma_, cv_s.lam_, cv_s.mu_))
    print(f"random_state {seed}: sigma = {cv_s.sigma_:g}, "
          f"lam = {cv_s.lam_:g}, mu = {cv_s.mu_:.3g}")

# %% tags=["remove-cell"]
mu_steps = [int(np.argmin(np.abs(mus - m))) for _, _, m in choices]
glue("p2_ex_mu_steps", int(np.ptp(mu_steps)), display=False)
assert np.ptp(mu_steps) <= 1  # "at most one step of the grid"
assert len({c[:2] for c in choices}) > 1  # sigma and lambda move

# %% [markdown]
# Over the three splitters (`random_state` 0, 1 and 2) the chosen $\mu$
# moves by at most {glue:text}`p2_ex_mu_steps:d` step of the grid, while
# $\sigma$ and $\lambda$ move: near the budget, neighbouring candidates
# differ by less than the fold-to-fold spread, so which of them wins is
# partly luck. Report the rule and the spread, not just the chosen values.
#
# ```{solution-end}
# ```

# %% [markdown]
# ## Key takeaways
#
# ```{admonition} Key takeaways
# :class: important
# * With metadata routing, the sensitive attribute travels as
#   `sensitive_features` to `fit` and to scorers, sliced per fold.
# * Shuffle the folds (seeded): on data sorted by group, consecutive folds
#   make a dependent model look fair.
# * Cross-validate error *and* dependence, and show the baselines (constant,
#   best fair predictor) beside them.
# * Say which settings are fixed by hand and which a rule chose.
# * A selection rule is code: `refit=best_within_budget(...)` picks the most
#   accurate candidate within a dependence budget — a point on the Pareto
#   front.
# * `FairKernelRidgeCV` gives the same numbers as `GridSearchCV` for the HSIC
#   penalty from one factorisation per fold and bandwidth, which makes fine
#   grids over $\mu$ cheap.
# ```
#
# **Next:** [Part 3 — the fairkl API and Keras](part3_fairkl_api).
