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
# # fairkl beside fairlearn: the same splits, the same yardsticks
#
# `fairkl` is not the only way to make a regression model "fairer".
# [fairlearn](https://fairlearn.org) {cite:p}`weerts2023fairlearn` offers
# reductions that constrain the loss of each group
# {cite:p}`agarwal2019fair`, a preprocessing step that removes correlation
# with the {term}`sensitive attribute`, and the building blocks of
# post-processing. Each method constrains something different. In this lesson
# we fit them all on the **same** training/test splits of Communities and
# Crime, with the **same** RBF kernel ridge regression inside, and score
# them all with the **same** {term}`yardstick` on held-out data.
#
# ```{admonition} Learning objectives
# :class: tip
# After this lesson you can
# 1. say in one or two sentences what plain and unaware KRR, fairlearn's
#    `ExponentiatedGradient` and `GridSearch` with `BoundedGroupLoss`,
#    `CorrelationRemover`, a post-processing correction and `fairkl`'s HSIC and
#    CKA penalties each constrain;
# 2. compare fairness methods **at matched accuracy** (interpolating a
#    trade-off curve at a peer's test MSE) rather than at arbitrary settings;
# 3. read five held-out measures side by side: {term}`CKA`, signed correlation,
#    signed group mean gap, per-group MAE gap, and the p-value of an HSIC
#    independence test;
# 4. recognise where these notions conflict, and why a dependence measure
#    cannot see the sign of a gap.
# ```
#
# **Prerequisites.** [Part 1](part1_from_scratch) (kernel ridge regression,
# HSIC and CKA, the fixed yardstick) and the
# [case study](case_study_crime) (the data). Some familiarity with
# scikit-learn estimators. No fairlearn background is needed.
#
# **Outline.** 1 data, splits and yardsticks · 2 the contenders · 3 one split,
# every model · 4 repeated splits: the results table · 5 the picture: accuracy
# against dependence · 6 matched accuracy · 7 where the notions conflict ·
# 8 the sign that CKA cannot see · exercises · key takeaways.

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
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from fairlearn.preprocessing import CorrelationRemover
from fairlearn.reductions import (
    BoundedGroupLoss,
    ExponentiatedGradient,
    GridSearch,
    SquareLoss,
)
from matplotlib_inline.backend_inline import set_matplotlib_formats
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from threadpoolctl import threadpool_limits

from fairkl import FairKernelRidge
from fairkl.datasets import load_communities_crime
from fairkl.kernels import median_heuristic
from fairkl.metrics import (
    Yardstick,
    correlation,
    hsic_test,
    mae_gap,
    mean_prediction_gap,
)

set_matplotlib_formats("svg")  # sharp figures at any zoom
# These fits are small (n = 1,000): one BLAS thread is faster than two fighting over
# the cores, and it makes the CPU time of the page predictable.
threadpool_limits(1)
# fairlearn's reductions wrap predictions in pandas objects and warn about
# future pandas behaviour; the warnings are not about these results.
warnings.filterwarnings("ignore", category=FutureWarning)

# %% [markdown]
# ## 1. Data, splits and yardsticks
#
# The UCI Communities and Crime data {cite:p}`redmond2002data` (CC BY 4.0)
# describe 1,993 US communities by 146 census features, all scaled to
# $[0, 1]$ by the dataset's authors; the target is the violent crime rate
# `ViolentCrimesPerPop` and the sensitive attribute $q$ is `racepctblack`, the
# share of Black residents. **$q$ is not one of the 146 columns of $X$** —
# but columns such as `racePctWhite` carry most of it (see the
# [case study](case_study_crime)).
#
# Methods built on groups need groups: as in the design notes of this
# project, the **top quarter of `racepctblack`** (threshold: the 75th
# percentile of the training $q$) against the rest.
#
# Every split is 1,000 training rows and 993 test rows, seeded. All models
# use the same RBF kernel: bandwidth $\sigma$ from the {term}`median
# heuristic` on the training features, and a ridge $\lambda$ chosen once by
# 3-fold cross-validation of plain KRR on the first split's training rows.
# Held-out dependence is measured with a {py:class}`fairkl.metrics.Yardstick`
# fixed from each split's training data, never from the model or the test set.

# %%
X, y, q, names = load_communities_crime()
N_TRAIN, SEEDS = 1000, (0, 1, 2)


def make_split(seed):
    """One seeded split, its group labels and its yardstick (training data only)."""
    Xtr, Xte, ytr, yte, qtr, qte = train_test_split(
        X, y, q, train_size=N_TRAIN, random_state=seed
    )
    threshold = np.quantile(qtr[:, 0], 0.75)
    return dict(
        Xtr=Xtr,
        Xte=Xte,
        ytr=ytr,
        yte=yte,
        qtr=qtr,
        qte=qte,
        gtr=qtr[:, 0] >= threshold,
        gte=qte[:, 0] >= threshold,
        yard=Yardstick.from_data(ytr, qtr),
        sigma=float(median_heuristic(Xtr)),
    )


s0 = make_split(SEEDS[0])
cv = GridSearchCV(
    KernelRidge(kernel="rbf", gamma=1 / (2 * s0["sigma"] ** 2)),
    {"alpha": np.logspace(-3, 1, 5)},
    cv=3,
    scoring="neg_mean_squared_error",
)
LAM = float(cv.fit(s0["Xtr"], s0["ytr"]).best_params_["alpha"])
print(
    f"{X.shape[0]} communities, {X.shape[1]} features; "
    f"sigma = {s0['sigma']:.2f} (split 0), "
    f"lambda = {LAM:g} by 3-fold CV; yardstick (split 0): "
    f"sigma_pred = {s0['yard'].sigma_pred:.3f}, "
    f"sigma_q = {s0['yard'].sigma_q:.3f}"
)

# %% tags=["remove-cell"]
assert 1e-3 < LAM < 10  # an interior choice of the grid

# %% [markdown]
# ## 2. The contenders, and what each one constrains
#
# **Plain KRR** sees $X$ and $q$ as features. It constrains nothing.
#
# **Unaware KRR** sees $X$ only ("fairness through {term}`unawareness`").
# Here that means $q$ is left out, but its proxies (the other racial shares,
# income, family structure) stay in. It constrains nothing either.
#
# **ExponentiatedGradient with `BoundedGroupLoss`** {cite:p}`agarwal2019fair`
# (fairlearn) searches over randomised mixtures of KRR fits with re-weighted
# training rows, subject to *every group's* training loss being at most a bound
# $\varepsilon$. We use the square loss and set $\varepsilon$ to the overall
# training MSE of unaware KRR, so that the bound binds for the worse-served
# group. It constrains **per-group loss**, not dependence. Its `predict` is
# randomised: each row gets the prediction of a mixture member drawn at random
# (seeded here).
#
# **GridSearch with `BoundedGroupLoss`** (fairlearn) fits a grid of
# re-weighted KRRs (10 Lagrange multipliers) and keeps the one with the best
# trade-off between overall loss and constraint violation: a deterministic
# cousin of the above.
#
# **`CorrelationRemover` + KRR** (fairlearn, $\alpha = 1$) projects every
# feature onto the orthogonal complement of $q$: it removes each column's
# *linear* correlation with $q$ (on the training data), drops $q$, and KRR is
# fitted on the result. Non-linear dependence survives. It needs $q$ at test
# time, to transform the test rows.
#
# **Post-processing** takes unaware KRR's predictions $f$ and subtracts half of
# their linear trend in $q$: $f - \tfrac12\big(g(q) - \bar g\big)$, where $g$
# is the least-squares line of the training predictions on $q$ and $\bar g$
# its training mean. It needs **$q$ at test time** — for every person scored,
# which is often not available or not lawful to use.
#
# **fairkl-HSIC** and **fairkl-CKA** fit unaware KRR with a penalty
# $\mu\,D(f, q)$ on the dependence between the training predictions and the
# continuous $q$ (Part 1; Part 3): HSIC with a linear kernel on $f$ (a
# closed form, all $\mu$ at once with
# {py:meth}`~fairkl.models.FairKernelRidge.mu_path`) and CKA with RBF kernels
# (iterative, one fit per $\mu$). They constrain **dependence**, and need $q$
# only for training.


# %%
def krr(sigma):
    return KernelRidge(kernel="rbf", gamma=1 / (2 * sigma**2), alpha=LAM)


def peers(s, seed):
    """Test predictions of every peer on split s (the dict of make_split)."""
    Xtr, Xte, ytr, qtr, qte = s["Xtr"], s["Xte"], s["ytr"], s["qtr"], s["qte"]
    out = {}
    Xq_tr, Xq_te = np.column_stack([Xtr, qtr]), np.column_stack([Xte, qte])
    out["plain KRR"] = (
        krr(float(median_heuristic(Xq_tr))).fit(Xq_tr, ytr).predict(Xq_te)
    )
    unaware = krr(s["sigma"]).fit(Xtr, ytr)
    out["unaware KRR"] = unaware.predict(Xte)
    bound = float(
        np.mean((unaware.predict(Xtr) - ytr) ** 2)
    )  # binds for the worse-off group
    eg = ExponentiatedGradient(
        krr(s["sigma"]), BoundedGroupLoss(SquareLoss(0, 1), upper_bound=bound)
    )
    eg.fit(Xtr, ytr, sensitive_features=s["gtr"])
    out["ExpGrad (BGL)"] = eg.predict(Xte, random_state=seed)
    gs = GridSearch(
        krr(s["sigma"]),
        BoundedGroupLoss(SquareLoss(0, 1), upper_bound=bound),
        grid_size=10,
    )
    out["GridSearch (BGL)"] = gs.fit(Xtr, ytr, sensitive_features=s["gtr"]).predict(Xte)
    cr = CorrelationRemover(sensitive_feature_ids=[Xq_tr.shape[1] - 1], alpha=1.0).fit(
        Xq_tr
    )
    Ztr, Zte = cr.transform(Xq_tr), cr.transform(Xq_te)
    out["CorrRemover + KRR"] = (
        krr(float(median_heuristic(Ztr))).fit(Ztr, ytr).predict(Zte)
    )
    g = LinearRegression().fit(qtr, unaware.predict(Xtr))
    g_mean = float(np.mean(g.predict(qtr)))
    out["post-processing"] = out["unaware KRR"] - 0.5 * (g.predict(qte) - g_mean)
    return out, dict(eg=eg, gs=gs, bound=bound, unaware=unaware)


# %% [markdown]
# The fairkl models, on the same split: the HSIC path over 17 values of
# $\mu$ (0 and 16 decades-spaced values up to $10^4$), and the CKA penalty
# at three values of $\mu$ (plus $\mu = 0$, which is unaware KRR). A note on
# the API: `FairKernelRidge` with $\mu = 0$ is exactly scikit-learn's
# `KernelRidge` with the same $\sigma$ and $\lambda$, which is why the peers
# use scikit-learn's estimator as their base (it is faster for the many refits
# of the reductions and supports `sample_weight`).

# %%
MUS_HSIC = np.r_[0.0, np.logspace(-1, 4, 16)]
MUS_CKA = np.array([0.5, 2.0, 8.0])


def fairkl_paths(s):
    """Test predictions of fairkl-HSIC (row per MUS_HSIC), -CKA (row per MUS_CKA)."""
    model = FairKernelRidge(s["sigma"], LAM, 0.0, dtype="float64")
    hsic = model.mu_path(s["Xtr"], s["ytr"], s["qtr"], MUS_HSIC).predict(s["Xte"])
    cka = [
        FairKernelRidge(s["sigma"], LAM, mu, penalty="cka", dtype="float64")
        .fit(s["Xtr"], s["ytr"], q=s["qtr"])
        .predict(s["Xte"])
        for mu in MUS_CKA
    ]
    return hsic, np.array(cka)


# %% [markdown]
# ## 3. One split, every model
#
# Five held-out measures, each with its sign convention:
#
# * **CKA** with $q$ on the fixed yardstick ({py:meth}`Yardstick.score
#   <fairkl.metrics.yardstick.Yardstick.score>`): 0 = no dependence, cannot be negative;
# * **correlation** with $q$ ({py:func}`fairkl.metrics.correlation`), signed:
#   positive means higher predicted crime where the share of Black residents
#   is higher;
# * **mean gap** ({py:func}`fairkl.metrics.mean_prediction_gap`), signed: mean
#   prediction of the top quarter minus that of the rest;
# * **MAE gap** ({py:func}`fairkl.metrics.mae_gap`): largest minus smallest
#   per-group mean absolute error (what bounded group loss aims at);
# * the **p-value of an HSIC independence test** between predictions and $q$
#   ({py:func}`fairkl.metrics.hsic_test`, 300 permutations, yardstick
#   bandwidths). Its smallest possible value is $1/301 \approx 0.0033$.

# %%
N_PERM = 300


def measures(p, s, test=True):
    """Held-out measures of the predictions p on split s."""
    yte, qte, gte, yard = s["yte"], s["qte"], s["gte"], s["yard"]
    row = dict(
        mse=float(np.mean((p - yte) ** 2)),
        cka=yard.score(p, qte),
        corr=correlation(yte, p, sensitive_features=qte),
        gap=mean_prediction_gap(yte, p, sensitive_features=gte),
        mae_gap=mae_gap(yte, p, sensitive_features=gte),
    )
    if test:
        row["p"] = hsic_test(
            p,
            qte,
            n_permutations=N_PERM,
            random_state=0,
            sigma_a=yard.sigma_pred,
            sigma_b=yard.sigma_q,
        ).pvalue
    return row


pred0, extra0 = peers(s0, SEEDS[0])
hsic0, cka0 = fairkl_paths(s0)
one = pd.DataFrame({name: measures(p, s0) for name, p in pred0.items()}).T
one.loc["fairkl-CKA, μ = 2"] = measures(cka0[1], s0)
print(
    f"bounded group loss: every group's training MSE <= {extra0['bound']:.4f}; "
    f"ExponentiatedGradient kept {int(np.sum(extra0['eg'].weights_ > 0))} "
    f"of {len(extra0['eg'].predictors_)} fits in its mixture"
)
one.round(4)

# %% tags=["remove-cell"]
assert one["p"].max() <= 0.01  # every model rejects independence on split 0
assert int(np.sum(extra0["eg"].weights_ > 0)) == 1
assert one.loc["unaware KRR", "cka"] > 0.7 * one.loc["plain KRR", "cka"]
assert np.allclose(
    FairKernelRidge(s0["sigma"], LAM, 0.0, dtype="float64")
    .fit(s0["Xtr"], s0["ytr"])
    .predict(s0["Xte"]),
    pred0["unaware KRR"],
    atol=1e-8,
)
assert np.allclose(hsic0[0], pred0["unaware KRR"], atol=1e-8)

# %% [markdown]
# (On this split ExponentiatedGradient's mixture holds a single fit, so its
# randomised `predict` is deterministic here.)
#
# Every model, `fairkl`'s included, still has predictions that depend on $q$
# in a way the independence test detects: the p-values sit at (or near) the
# floor of a 300-permutation test. "Fairer" here means *less* dependent, not
# independent. The hidden checks of this page also confirm that fairkl at
# $\mu = 0$ reproduces scikit-learn's `KernelRidge` to $10^{-8}$.
#
# ## 4. Repeated splits: the results table
#
# One split can flatter or penalise any method. We repeat everything on three
# seeded splits and report the mean ± standard deviation over splits.

# %%
rows, curves = [], []
for seed in SEEDS:
    s = s0 if seed == SEEDS[0] else make_split(seed)
    pred, _ = (pred0, extra0) if seed == SEEDS[0] else peers(s, seed)
    hp, cp = (hsic0, cka0) if seed == SEEDS[0] else fairkl_paths(s)
    for name, p in pred.items():
        rows.append(dict(model=name, split=seed, **measures(p, s)))
    for mu, p in zip(MUS_HSIC, hp):
        curves.append(
            dict(model="fairkl-HSIC", mu=mu, split=seed, **measures(p, s, test=False))
        )
    curves.append(
        dict(model="fairkl-CKA", mu=0.0, split=seed, **measures(hp[0], s, test=False))
    )
    for mu, p in zip(MUS_CKA, cp):
        curves.append(
            dict(model="fairkl-CKA", mu=mu, split=seed, **measures(p, s, test=False))
        )
    # the HSIC test for the fairkl models near the middle of their curves
    for label, p in (
        ("fairkl-HSIC, μ = 10", hp[list(MUS_HSIC).index(10.0)]),
        ("fairkl-CKA, μ = 2", cp[1]),
    ):
        rows.append(dict(model=label, split=seed, **measures(p, s)))
runs, curves = pd.DataFrame(rows), pd.DataFrame(curves)

order = list(pred0) + ["fairkl-HSIC, μ = 10", "fairkl-CKA, μ = 2"]
cols = ["mse", "cka", "corr", "gap", "mae_gap"]
mean = runs.groupby("model")[cols + ["p"]].mean().loc[order]
sd = runs.groupby("model")[cols].std().loc[order]
pmax = runs.groupby("model")["p"].max().loc[order]
table = pd.DataFrame(
    {
        c: [
            f"{m:.4f} ± {d:.4f}" if c in ("mse", "mae_gap") else f"{m:+.3f} ± {d:.3f}"
            for m, d in zip(mean[c], sd[c])
        ]
        for c in cols
    },
    index=order,
)
table.columns = [
    "test MSE",
    "CKA with q",
    "corr. with q",
    "mean gap (top − rest)",
    "MAE gap",
]
table["HSIC test p (max)"] = [f"{v:.4f}" for v in pmax]
table

# %% tags=["remove-cell"]
assert pmax.max() <= 0.01  # DESIGN §9: every model still rejects independence
assert mean.loc["plain KRR", "mse"] < mean.loc["unaware KRR", "mse"] * 1.05
assert mean.loc["unaware KRR", "cka"] > 0.7 * mean.loc["plain KRR", "cka"]
assert mean.loc["fairkl-CKA, μ = 2", "cka"] < 0.5 * mean.loc["unaware KRR", "cka"]
assert (
    (mean[["corr", "gap"]].loc[list(pred0)] > 0).all().all()
)  # every peer: positive sign
# numbers quoted in the prose below the table
assert (
    0.30 < mean.loc["unaware KRR", "cka"] < 0.39
    and 0.31 < mean.loc["plain KRR", "cka"] < 0.40
)
assert 0.045 < mean.loc["ExpGrad (BGL)", "mae_gap"] < 0.055
assert 0.053 < mean.loc["GridSearch (BGL)", "mae_gap"] < 0.063
assert 0.066 < mean.loc["unaware KRR", "mae_gap"] < 0.076
for name in ("plain KRR", "unaware KRR", "ExpGrad (BGL)", "GridSearch (BGL)"):
    assert 0.27 < mean.loc[name, "gap"] < 0.31  # "about +0.29 for all three"
assert (
    mean["cka"].loc[["fairkl-HSIC, μ = 10", "fairkl-CKA, μ = 2"]].min()
    == mean["cka"].min()
)

# %% [markdown]
# Read the table by column. Unawareness removes almost nothing: the
# proxies carry $q$ (CKA about 0.34 against 0.35 for plain KRR). The two
# bounded-group-loss reductions do what they were asked: they narrow the
# per-group **MAE gap** (about 0.050 and 0.058 against 0.071), while the
# **mean gap** between the groups' predictions does not move (about +0.29
# for all three) — they were not asked to reduce dependence, and CKA falls
# only a little. `CorrelationRemover` and the post-processing step lower the
# correlation (that is what they remove) and with it CKA and the mean gap, at
# a cost in MSE. The fairkl rows have the lowest CKA, at a cost in MSE too.
# Comparing rows that sit at different MSEs, though, says little: the next
# two sections put them on one picture and at matched accuracy.
#
# ## 5. The picture: accuracy against dependence

# %% mystnb={"figure": {"caption": "Test MSE against held-out CKA with $q$ (mean over three splits; bars: ± one standard deviation). The lines are fairkl's trade-off curves as $\\mu$ grows (from the right-hand end at $\\mu = 0$, which is unaware KRR); each marker is one peer. A point below and to the left of another is better on both counts.", "name": "fig-peers-front"}, "image": {"alt": "Scatter plot of test MSE against held-out CKA: two descending curves for fairkl-HSIC and fairkl-CKA from the upper left to the lower right, and six labelled peer markers clustered near the low-MSE, high-CKA end and in the middle."}}
curve_mean = curves.groupby(["model", "mu"])[cols].mean().reset_index()
fig, ax = plt.subplots(figsize=(7.5, 4.6))
for model, style in (("fairkl-HSIC", "o-"), ("fairkl-CKA", "s-")):
    c = curve_mean[(curve_mean.model == model) & (curve_mean.mu <= 100)]
    ax.plot(
        c["cka"], c["mse"], style, ms=4, label=f"{model} (μ from 0 to {c.mu.max():g})"
    )
markers = dict(zip(pred0, "^vDPXh"))
for name in pred0:
    ax.errorbar(
        mean.loc[name, "cka"],
        mean.loc[name, "mse"],
        xerr=sd.loc[name, "cka"],
        yerr=sd.loc[name, "mse"],
        fmt=markers[name],
        ms=7,
        capsize=2,
        label=name,
    )
ax.set(
    xlabel="held-out CKA(predictions, racepctblack)   (lower: less dependent)",
    ylabel="test MSE   (lower: more accurate)",
    title="Communities and Crime, three splits",
)
ax.legend(fontsize=8, loc="upper right")
plt.show()

# %% [markdown]
# ## 6. Matched accuracy
#
# A fair comparison asks: *at the same test MSE as a given peer, how
# dependent are fairkl's predictions?* On each split we interpolate fairkl's
# curve (linearly in MSE, between neighbouring values of $\mu$) at the peer's
# test MSE, and read off the other measures there. Peers more accurate than
# unaware KRR (the $\mu = 0$ end of the curve) have no match: fairkl's curves
# start there, and we say so rather than extrapolate.


# %%
def at_mse(curve, target, col):
    """Linear interpolation of curve[col] at MSE = target (NaN outside its range)."""
    c = curve.sort_values("mse")
    if not c["mse"].iloc[0] <= target <= c["mse"].iloc[-1]:
        return np.nan
    return float(np.interp(target, c["mse"], c[col]))


matched = []
for (name, seed), r in runs.set_index(["model", "split"]).iterrows():
    if (
        name not in pred0 or name == "unaware KRR"
    ):  # unaware KRR *is* the curves' mu = 0 end
        continue
    for model in ("fairkl-HSIC", "fairkl-CKA"):
        c = curves[(curves.model == model) & (curves.split == seed)]
        matched.append(
            dict(
                peer=name,
                split=seed,
                model=model,
                peer_mse=r["mse"],
                **{f"peer_{k}": r[k] for k in ("cka", "corr", "gap")},
                **{k: at_mse(c, r["mse"], k) for k in ("cka", "corr", "gap")},
            )
        )
matched = pd.DataFrame(matched)
m = (
    matched.groupby(["peer", "model"])[
        ["peer_mse", "peer_cka", "cka", "peer_corr", "corr", "peer_gap", "gap"]
    ]
    .mean()
    .round(3)
)
m.columns = [
    "peer MSE",
    "peer CKA",
    "fairkl CKA",
    "peer corr",
    "fairkl corr",
    "peer gap",
    "fairkl gap",
]
m.loc[[p for p in pred0 if p in m.index.get_level_values(0)]]

# %% tags=["remove-cell"]
assert (
    matched[matched.peer == "plain KRR"]["cka"].isna().all()
)  # more accurate than unaware: no match
cmp = (
    matched.dropna()
    .groupby(["peer", "model"])[["peer_cka", "cka", "peer_corr", "corr"]]
    .mean()
)
for peer in (
    "ExpGrad (BGL)",
    "GridSearch (BGL)",
    "CorrRemover + KRR",
    "post-processing",
):
    for model in (
        "fairkl-HSIC",
        "fairkl-CKA",
    ):  # fairkl less dependent (CKA) at the peer's MSE
        assert cmp.loc[(peer, model), "cka"] < cmp.loc[(peer, model), "peer_cka"]
    # the CKA penalty at least 10% below the peer
    assert (
        cmp.loc[(peer, "fairkl-CKA"), "cka"]
        < 0.9 * cmp.loc[(peer, "fairkl-CKA"), "peer_cka"]
    )
for peer in (
    "CorrRemover + KRR",
    "post-processing",
):  # ...but not on the linear, signed measure
    assert (
        cmp.loc[(peer, "fairkl-CKA"), "peer_corr"]
        < cmp.loc[(peer, "fairkl-CKA"), "corr"]
    )
for peer in ("ExpGrad (BGL)", "GridSearch (BGL)"):  # and better than BGL on correlation
    assert (
        cmp.loc[(peer, "fairkl-CKA"), "corr"]
        < cmp.loc[(peer, "fairkl-CKA"), "peer_corr"]
    )
# numbers quoted in the prose (mean over the splits)
quoted = {
    ("CorrRemover + KRR", "cka"): 0.066,
    ("CorrRemover + KRR", "peer_cka"): 0.150,
    ("ExpGrad (BGL)", "cka"): 0.228,
    ("ExpGrad (BGL)", "peer_cka"): 0.294,
    ("CorrRemover + KRR", "corr"): 0.305,
    ("CorrRemover + KRR", "peer_corr"): 0.266,
    ("post-processing", "corr"): 0.470,
    ("post-processing", "peer_corr"): 0.432,
}
for (peer, col), value in quoted.items():
    assert (
        abs(
            m.loc[
                (peer, "fairkl-CKA"),
                {
                    "cka": "fairkl CKA",
                    "peer_cka": "peer CKA",
                    "corr": "fairkl corr",
                    "peer_corr": "peer corr",
                }[col],
            ]
            - value
        )
        < 0.02
    )
ratio = cmp.xs("fairkl-CKA", level="model").eval("cka / peer_cka")
assert (
    0.8 < ratio["GridSearch (BGL)"] < 0.9 and ratio["CorrRemover + KRR"] < 0.5
)  # "14% ... more than half"

# %% [markdown]
# Plain KRR has no match (NaN): it is slightly more accurate than unaware
# KRR, the $\mu = 0$ end of fairkl's curves. For every other peer, read the
# pair of CKA columns: at the peer's own test MSE, fairkl's predictions are
# less dependent on $q$ — with the CKA penalty by 14% (GridSearch) to more
# than half (`CorrelationRemover`: 0.066 against 0.150; ExponentiatedGradient:
# 0.228 against 0.294). CKA is the measure the CKA penalty optimises,
# so this is the comparison most favourable to `fairkl`; the signed columns
# are a useful check. Against the bounded-group-loss reductions fairkl also
# has the lower correlation. But `CorrelationRemover` and post-processing
# remove the *linear* trend in $q$ directly, and on the correlation (and,
# for `CorrelationRemover`, on the mean gap of the HSIC-matched model) they
# are as good or **better** than fairkl at the same MSE: 0.266 against
# 0.305 and 0.432 against 0.470. What fairkl removes in addition is the
# non-linear dependence that correlation cannot see and CKA can. Every
# signed value is positive: every model still predicts more crime where the
# share of Black residents is higher.
#
# ## 7. Where the notions conflict
#
# Bounded group loss and independence are different goals, and they can pull
# in opposite directions. Bounded group loss wants **each group's error**
# small; independence wants **the predictions** to carry no information about
# $q$. When the target itself differs between groups, as here (the observed
# crime rate is higher in the top quarter), independent predictions must be
# wrong *in opposite directions* for the two groups — too low for one, too
# high for the other — and the per-group errors can grow apart.
#
# The MAE-gap column of the table shows this on Communities and Crime: the
# bounded-group-loss reductions narrow it (0.071 → about 0.05), while the
# methods that lower dependence — `CorrelationRemover`, post-processing,
# fairkl-HSIC — widen it (to 0.08–0.10); fairkl-CKA at $\mu = 2$ leaves it
# about where it was. On the
# Law School admissions data (not shipped with `fairkl`, so not rerun here)
# the same comparison, measured for this project, was sharper: the HSIC
# penalty cut the mean-prediction race gap from 0.506 to 0.054 but **widened
# the race MAE gap from 0.176 to 0.372**, while bounded group loss narrows
# exactly that gap. Neither is "the" fair model: they answer different
# questions, and the choice between them is a decision about values.

# %%
mae_cols = runs.groupby("model")["mae_gap"].agg(["mean", "std"]).loc[order].round(4)
mae_cols.columns = ["MAE gap, mean", "sd"]
mae_cols

# %% tags=["remove-cell"]
for bgl in ("ExpGrad (BGL)", "GridSearch (BGL)"):
    assert mean.loc[bgl, "mae_gap"] < 0.9 * mean.loc["unaware KRR", "mae_gap"]
for dep in ("fairkl-HSIC, μ = 10", "CorrRemover + KRR", "post-processing"):
    assert 0.078 < mean.loc[dep, "mae_gap"] < 0.105  # "widen it (to 0.08-0.10)"
    assert mean.loc[dep, "mae_gap"] > mean.loc["unaware KRR", "mae_gap"]
assert (
    abs(mean.loc["fairkl-CKA, μ = 2", "mae_gap"] - mean.loc["unaware KRR", "mae_gap"])
    < 0.01
)

# %% [markdown]
# ## 8. The sign that CKA cannot see
#
# CKA is a squared-norm quantity: it is zero when there is no dependence and
# positive otherwise, whatever the direction. A penalty on it can overshoot:
# at large $\mu$ the held-out correlation crosses zero and turns
# **negative** (the model now predicts *less* crime where the share of Black
# residents is higher), while CKA keeps falling. A {term}`dependence budget`
# on CKA alone would not notice. In this project's earlier measurement (one
# split, the full training set, a smaller $\lambda$) the correlation and the
# mean gap reversed beyond $\mu \approx 50$ and reached a correlation of
# $-0.13$ at $\mu = 10^4$. With this page's settings ($\lambda = 1$, 1,000
# training rows) the crossing comes later and the overshoot is smaller:

# %% mystnb={"figure": {"caption": "Held-out measures along fairkl's HSIC path, mean over three splits, against $\\mu$ (log axis; $\\mu = 0$ drawn at the left edge). The signed correlation crosses zero (dotted line) at a few hundred and ends negative; the mean gap ends near zero; CKA, which cannot be negative, keeps decreasing.", "name": "fig-peers-sign"}, "image": {"alt": "Line plot against mu on a log axis: CKA decreasing from about 0.35 to under 0.1, correlation and mean gap decreasing from positive values, the correlation crossing zero at a few hundred and ending slightly negative."}}
h = curve_mean[curve_mean.model == "fairkl-HSIC"].copy()
h["mu_plot"] = np.where(h["mu"] == 0, 0.03, h["mu"])
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.semilogx(h["mu_plot"], h["cka"], "o-", ms=3, label="CKA with q (unsigned)")
ax.semilogx(h["mu_plot"], h["corr"], "s-", ms=3, label="correlation with q (signed)")
ax.semilogx(h["mu_plot"], h["gap"], "^-", ms=3, label="mean gap, top − rest (signed)")
ax.axhline(0, color="0.4", ls=":")
ax.set(
    xlabel="μ (fairkl-HSIC; μ = 0 at the left edge)",
    ylabel="held-out value",
    title="At large μ the sign reverses; CKA does not show it",
)
ax.legend(fontsize=8)
plt.show()

mu_cross = float(h["mu"][h["corr"] < 0].min())
print(
    f"last mu with positive mean correlation: {float(h['mu'][h['corr'] > 0].max()):g}"
)
print(
    f"first mu with negative mean correlation: {mu_cross:g}; at mu = 1e4: correlation "
    f"{h['corr'].iloc[-1]:+.3f}, mean gap {h['gap'].iloc[-1]:+.4f}, "
    f"CKA {h['cka'].iloc[-1]:.3f}"
)

# %% [markdown]
# The correlation turns negative between $\mu \approx 215$ and $464$; at
# $\mu = 10^4$ it is about $-0.02$, with a mean gap near zero and CKA
# still falling. How far the overshoot goes depends on the data, the split
# and $\lambda$; that it can happen, and that CKA cannot show it, does not.

# %% tags=["remove-cell"]
assert 100 <= mu_cross <= 1000  # "a few hundred"
assert np.isclose(mu_cross, 464.159, rtol=1e-3) and np.isclose(
    h["mu"][h["corr"] > 0].max(), 215.443, rtol=1e-3
)
assert -0.04 < h["corr"].iloc[-1] < 0 and abs(h["gap"].iloc[-1]) < 0.02
assert h["cka"].iloc[-1] < h["cka"][h["mu"] == mu_cross].iloc[0]  # CKA keeps falling

# %% [markdown]
# ## Exercises
#
# ```{exercise} Inside GridSearch's grid
# :label: peers-ex-eg
# :nonumber:
# `GridSearch` fitted 10 re-weighted KRRs on split 0 and kept one. Its
# fits are in `gs.predictors_`. Score all 10 on the test set. How far do the
# MAE gap and the mean gap move across the grid? Could any multiplier of
# bounded group loss buy a small mean gap?
# ```
#
# ```{solution-start} peers-ex-eg
# :class: dropdown
# ```

# %%
gs = extra0["gs"]
ex1 = pd.DataFrame(
    [measures(h.predict(s0["Xte"]), s0, test=False) for h in gs.predictors_]
)
ex1.index.name = "grid point"
print(
    f"GridSearch kept grid point {gs.best_idx_}; across the grid: MAE gap "
    f"{ex1['mae_gap'].min():.4f} to {ex1['mae_gap'].max():.4f}, mean gap "
    f"{ex1['gap'].min():+.3f} to {ex1['gap'].max():+.3f}"
)
ex1.round(4)

# %% [markdown]
# Re-weighting the groups trades the error of one group against the other:
# the MAE gap runs from about 0.045 to 0.105 across the grid, while the mean
# gap of the predictions stays at +0.30 to +0.31 at nine of the ten points.
# The one point with a clearly smaller mean gap (about +0.21) is the one that
# up-weights the *other* group: it has the **widest** MAE gap of the grid and
# by far the largest MSE. Bounded group loss never asks for smaller
# differences between the groups' predictions; where re-weighting happens to
# give them, it pays in exactly the per-group error that bounded group loss
# protects — the conflict of section 7 again.
#
# ```{solution-end}
# ```
#
# ```{exercise} Post-processing all the way
# :label: peers-ex-post
# :nonumber:
# Replace the factor $\tfrac12$ of the post-processing step by $1$ (remove
# the whole linear trend in $q$). On split 0, what happen to the correlation,
# to CKA and to the MSE? Why does CKA not drop to zero with the correlation?
# ```
#
# ```{solution-start} peers-ex-post
# :class: dropdown
# ```

# %%
f_tr = extra0["unaware"].predict(s0["Xtr"])
line = LinearRegression().fit(s0["qtr"], f_tr)
full = pred0["unaware KRR"] - (line.predict(s0["qte"]) - line.predict(s0["qtr"]).mean())
ex2 = pd.DataFrame(
    {
        "½ of the trend": measures(pred0["post-processing"], s0, test=False),
        "the whole trend": measures(full, s0, test=False),
    }
).T
ex2.round(4)

# %% [markdown]
# The correlation with $q$ falls close to zero (not exactly: the line was
# fitted to the *training* predictions), the MSE rises, and CKA stays clearly
# above zero: removing a linear trend leaves the non-linear dependence — for
# example a different *spread* of predictions in the two groups — which the
# RBF kernels of CKA still see. That is the difference between decorrelation
# and independence.
#
# ```{solution-end}
# ```

# %% tags=["remove-cell"]
assert (
    ex1["gap"].min() > 0.15 and (ex1["gap"] > 0.28).sum() >= 8
)  # the mean gap stays large
assert (
    ex1["mae_gap"].idxmax() == ex1["gap"].idxmin()
)  # smallest mean gap: widest MAE gap
assert ex1["mse"].idxmax() == ex1["gap"].idxmin()
assert ex1["mae_gap"].min() < 0.06 and ex1["mae_gap"].max() > 0.09
assert abs(ex2.loc["the whole trend", "corr"]) < 0.1 < ex2.loc["½ of the trend", "corr"]
assert ex2.loc["the whole trend", "cka"] > 0.02
assert ex2.loc["the whole trend", "mse"] > ex2.loc["½ of the trend", "mse"]

# %% [markdown]
# ## Key takeaways
#
# ```{admonition} Key takeaways
# :class: important
# * Compare fairness methods on the same splits, with the same base model and
#   one fixed yardstick, and **at matched accuracy**: a method that is less
#   dependent only because it is less accurate has shown nothing.
# * Each method constrains something different: bounded group loss the
#   per-group error, `CorrelationRemover` the linear correlation of the
#   inputs, post-processing the linear trend of the outputs (and it needs $q$
#   at test time), fairkl's penalties the kernel dependence of the outputs.
# * No model here — fairkl's included — makes predictions independent of $q$:
#   an HSIC test rejects independence for all of them (p ≤ 0.01).
# * Independence and equal per-group error can conflict (Law School: MAE gap
#   0.176 → 0.372 under the HSIC penalty).
# * CKA cannot see the sign of a dependence: report a signed measure
#   (correlation, mean gap) beside it, and watch for overshoot at large $\mu$.
# ```
#
# **Back to:** [the case study](case_study_crime) · [the introduction](intro).
