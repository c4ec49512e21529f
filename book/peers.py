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
# # fairkl beside fairlearn: the same splits, the same yardsticks, the same budget
#
# `fairkl` is not the only way to make a regression model "fairer".
# [fairlearn](https://fairlearn.org) {cite:p}`weerts2023fairlearn` offers
# reductions that constrain the loss of each group
# {cite:p}`agarwal2019fair` and a preprocessing step that removes
# correlation with the {term}`sensitive attribute`; post-processing can
# remove the trend of the predictions in $q$, or make the groups'
# prediction distributions equal {cite:p}`chzhen2020fair`. Each method
# constrains something different, and each has a knob. In this lesson we
# fit them all on the **same** train/validation/test splits of
# Communities and Crime, with the **same** RBF kernel ridge regression
# inside, tune every knob by the **same** rule on validation data, and
# score them all with the **same** {term}`yardstick` on held-out data.
#
# ```{admonition} Learning objectives
# :class: tip
# After this lesson you can
# 1. say in one or two sentences what plain and unaware KRR, fairlearn's
#    `GridSearch` with `BoundedGroupLoss`, `CorrelationRemover`, a
#    kernel-trend and a Wasserstein-barycentre post-processing step and
#    `fairkl`'s HSIC and CKA penalties each constrain, and which knob each
#    has;
# 2. compare fairness methods under **equal tuning budgets** (one
#    selection rule under one dependence budget, on validation data) and
#    tell a difference from noise with paired differences over repeated
#    splits and their intervals;
# 3. read seven held-out measures side by side: test MSE, {term}`CKA`,
#    signed correlation, signed group mean gap, KS gap, per-group MAE gap
#    and a separation measure (CKA with $q$ within bins of $y$);
# 4. recognise where these notions conflict, why a group notion is blind
#    inside the groups, and why a dependence measure cannot see the sign
#    of a gap.
# ```
#
# **Prerequisites.** [Part 1](part1_from_scratch) (kernel ridge regression,
# HSIC and CKA, the fixed yardstick) and the
# [case study](case_study_crime) (the data). Some familiarity with
# scikit-learn estimators. No fairlearn background is needed.
#
# **Outline.** 1 data, splits and yardsticks · 2 the contenders and their
# knobs · 3 one rule for every method · 4 the results over five splits ·
# 5 paired differences · 6 the picture: every knob's trade-off · 7 where
# the notions conflict · 8 the sign that CKA cannot see · exercises · key
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
import warnings
from concurrent.futures import ThreadPoolExecutor

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from fairlearn.preprocessing import CorrelationRemover
from fairlearn.reductions import (
    BoundedGroupLoss,
    GridSearch,
    SquareLoss,
)
from matplotlib_inline.backend_inline import set_matplotlib_formats
from myst_nb import glue
from scipy import stats
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import GridSearchCV, train_test_split
from threadpoolctl import threadpool_limits

from fairkl import FairKernelRidge
from fairkl.datasets import load_communities_crime
from fairkl.kernels import median_heuristic
from fairkl.metrics import (
    Yardstick,
    conditional_dependence,
    correlation,
    hsic_test,
    ks_gap,
    mae_gap,
    mean_prediction_gap,
)

set_matplotlib_formats("svg")  # sharp figures at any zoom
# These fits are small (n = 800): one BLAS thread is faster than
# two fighting over the cores, and the page's CPU time is predictable.
threadpool_limits(1)
# fairlearn's reductions wrap predictions in pandas objects and warn
# about future pandas behaviour; the warnings are not about results.
warnings.filterwarnings("ignore", category=FutureWarning)

# %% [markdown]
# ## 1. Data, splits and yardsticks
#
# The UCI Communities and Crime data {cite:p}`redmond2002data` (CC BY 4.0)
# describe {glue:text}`pe_n` US communities by {glue:text}`pe_d` census
# features, all scaled to $[0, 1]$ by the dataset's authors; the target is
# the violent crime rate `ViolentCrimesPerPop` and the sensitive attribute
# $q$ is `racepctblack`, the share of Black residents. **$q$ is not one of
# the columns of $X$** — but columns such as `racePctWhite` carry most of
# it (see the [case study](case_study_crime)).
#
# Methods built on groups need groups. We use the **top quarter of
# `racepctblack`** (threshold: the 75th percentile of the training $q$)
# against the rest: a simple, fixed choice that makes the groups unequal
# in size, as protected groups usually are.
#
# Each of the {glue:text}`pe_n_splits` seeded splits has
# {glue:text}`pe_n_train` training rows (every model is fitted on them),
# {glue:text}`pe_n_val` validation rows (every method's setting is chosen
# on them, section 3) and {glue:text}`pe_n_test` test rows (used once, for
# the results). All models use an RBF kernel with bandwidth $\sigma$ from
# the {term}`median heuristic` on their own training inputs ($X$; for
# plain KRR $X$ and $q$; for `CorrelationRemover` its transformed
# features), and one ridge $\lambda$, chosen once by 3-fold
# cross-validation of KRR on $X$ (no penalty) on the first split's
# training rows (grid $10^{-3}, \dots, 10$; it chose $\lambda =$
# {glue:text}`pe_lam:g`). The kernel matrices are computed once per split
# and passed to scikit-learn as `kernel="precomputed"`. Dependence is
# measured with a {py:class}`fairkl.metrics.Yardstick` fixed from each
# split's training data, never from the model, the validation or the test
# rows.

# %%
X, y, q, names = load_communities_crime()
N_TRAIN, N_VAL = 800, 400
SEEDS = (0, 1, 2, 3, 4)


def rbf(A, B, sigma):
    """The RBF kernel matrix between the rows of A and B."""
    return rbf_kernel(A, B, gamma=1 / (2 * sigma**2))


def make_split(seed):
    """One seeded train/validation/test split, its groups, its
    training-data yardstick and its kernel matrices."""
    Xtr, Xo, ytr, yo, qtr, qo = train_test_split(
        X, y, q, train_size=N_TRAIN, random_state=seed
    )
    Xva, Xte, yva, yte, qva, qte = train_test_split(
        Xo, yo, qo, train_size=N_VAL, random_state=seed
    )
    threshold = np.quantile(qtr[:, 0], 0.75)
    sigma = float(median_heuristic(Xtr))
    s = dict(Xtr=Xtr, Xva=Xva, Xte=Xte, ytr=ytr, yva=yva, yte=yte)
    s.update(qtr=qtr, qva=qva, qte=qte, sigma=sigma)
    for part in ("tr", "va", "te"):
        s["g" + part] = s["q" + part][:, 0] >= threshold
        s["K" + part] = rbf(s["X" + part], Xtr, sigma)  # rows x train
    s["Kvt"] = np.r_[s["Kva"], s["Kte"]]  # validation, then test
    s["yard"] = Yardstick.from_data(ytr, qtr)
    return s


splits = [make_split(seed) for seed in SEEDS]
s0 = splits[0]
cv = GridSearchCV(
    KernelRidge(kernel="precomputed"),
    {"alpha": np.logspace(-3, 1, 5)},
    cv=3,
    scoring="neg_mean_squared_error",
)
LAM = float(cv.fit(s0["Ktr"], s0["ytr"]).best_params_["alpha"])
N_TEST = len(s0["yte"])
glue("pe_lam", LAM, display=False)
glue("pe_n", X.shape[0], display=False)
glue("pe_d", X.shape[1], display=False)
glue("pe_n_splits", len(SEEDS), display=False)
glue("pe_n_train", N_TRAIN, display=False)
glue("pe_n_val", N_VAL, display=False)
glue("pe_n_test", N_TEST, display=False)
print(
    f"{X.shape[0]} communities, {X.shape[1]} features; "
    f"{N_TRAIN} / {N_VAL} / {N_TEST} rows per split\n"
    f"split 0: sigma = {s0['sigma']:.2f}; "
    f"lambda = {LAM:g} by 3-fold CV"
)

# %% tags=["remove-cell"]
grid = cv.param_grid["alpha"]
assert grid.min() < LAM < grid.max()  # an interior choice of the grid
assert N_TRAIN + N_VAL + N_TEST == X.shape[0]
assert np.allclose(
    s0["Ktr"],
    rbf_kernel(s0["Xtr"], gamma=1 / (2 * s0["sigma"] ** 2)),
)

# %% [markdown]
# ## 2. The contenders, what each constrains, and its knob
#
# Every method that trades accuracy for fairness has a knob. Each gets a
# grid of {glue:text}`pe_k` values of its own knob — the same number for
# every method. Every grid except GridSearch's (below) starts at the
# setting that changes nothing (unaware KRR) and ends where the method is
# pushed hard. The grids were fixed once; only fairkl-HSIC's was changed
# after a first draft, whose coarser grid (from 1 to 1000) stepped over
# the budget of section 3 in one jump.
#
# **Plain KRR** sees $X$ and $q$ as features. **Unaware KRR** sees $X$
# only ("fairness through {term}`unawareness`"): $q$ is left out, but its
# proxies (the other racial shares, income, family structure) stay in.
# Neither constrains anything, and neither has a knob: they are the
# reference points.
#
# **GridSearch with `BoundedGroupLoss`** {cite:p}`agarwal2019fair`
# (fairlearn) fits KRRs with re-weighted training rows, one per Lagrange
# multiplier of the constraint that *every group's* training loss be at
# most a bound $\varepsilon$ (square loss; $\varepsilon$ = the overall
# training MSE of unaware KRR). It constrains **per-group loss**, not
# dependence. Its knob: with two groups the multipliers — and so the
# re-weighted fits — do not depend on $\varepsilon$; the bound only
# decides which fit GridSearch keeps. So we give it a grid of
# {glue:text}`pe_k` multipliers and let our selection rule choose among
# all {glue:text}`pe_k` fits. Its randomised cousin
# `ExponentiatedGradient` is left out: it refits a re-weighted model at
# each of up to 50 iterations (fairlearn's default `max_iter`) for every
# value of the bound, and with {glue:text}`pe_k` values on five splits
# that is beyond this page's time budget.
#
# **`CorrelationRemover` + KRR** (fairlearn) replaces every feature $x$
# by $x - \alpha\,(\text{its least-squares fit on } q)$, drops $q$, and
# fits KRR on the result. Its knob is $\alpha \in [0, 1]$: at $\alpha = 1$
# each column's *linear* correlation with $q$ (on the training data) is
# gone; non-linear dependence survives. It needs $q$ at test time, to
# transform the test rows.
#
# **Kernel-trend post-processing** takes unaware KRR's predictions $f$ and
# subtracts a share $t \in [0, 1]$ of their trend in $q$:
# $f - t\,\big(g(q) - \bar g\big)$, where $g$ is an RBF kernel ridge fit
# of the training predictions on $q$ and $\bar g$ its training mean.
#
# **Wasserstein-barycentre post-processing**
# {cite:p}`chzhen2020fair` is the optimal way to make the groups'
# prediction *distributions* equal: the prediction $f$ of a member of
# group $s$ is mapped to
#
# $$
# \bar f(f, s) = \sum_{s'} p_{s'}\, Q_{s'}\big(F_s(f)\big),
# \qquad f_t = (1 - t)\, f + t\, \bar f(f, s),
# $$ (eq-pe-bary)
#
# where $F_s$ is the empirical distribution function of group $s$'s
# training predictions, $Q_{s'}$ the quantile function of group $s'$'s and
# $p_{s'}$ its share of the training rows: every group's $k$-th percentile
# goes to the weighted mean of the groups' $k$-th percentiles. Its knob is
# the strength $t \in [0, 1]$ of {eq}`eq-pe-bary`. Both post-processing
# steps need **$q$ (or the group) at test time** — for every person scored,
# which is often not available or not lawful to use.
#
# **fairkl-HSIC** and **fairkl-CKA** fit unaware KRR with a penalty
# $\mu\,D(f, q)$ on the dependence between the training predictions and the
# continuous $q$ (Part 1; Part 3): HSIC with a linear kernel on $f$ (a
# closed form, all $\mu$ at once with
# {py:meth}`~fairkl.models.FairKernelRidge.mu_path`) and CKA with RBF kernels
# (iterative, one fit per $\mu$). They constrain **dependence**, and need $q$
# only for training. Their knob is $\mu$.
#
# `FairKernelRidge` with $\mu = 0$ is exactly scikit-learn's `KernelRidge`
# with the same $\sigma$ and $\lambda$ (a hidden check below confirms it),
# which is why the peers use scikit-learn's estimator as their base: it
# supports `sample_weight`, which the reductions need, and precomputed
# kernels.

# %%
K_GRID = 7  # values of every method's knob
MUS_HSIC = np.r_[0.0, 2.0 ** np.arange(K_GRID - 1)]  # 0, 1, ..., 32
MUS_CKA = np.r_[0.0, 2.0 ** np.arange(-2, K_GRID - 3)]  # 0, 1/4, ..., 8
STRENGTHS = np.linspace(0, 1, K_GRID)  # alpha and t
MUS_LONG = np.r_[0.0, np.logspace(-1, 4, 16)]  # section 8 only
glue("pe_k", K_GRID, display=False)


def krr():
    """Kernel ridge regression on a precomputed kernel matrix."""
    return KernelRidge(kernel="precomputed", alpha=LAM)


def barycentre(f, g, f_train, g_train, t):
    """Wasserstein-barycentre post-processing, eq-pe-bary.

    f, g: predictions and group labels to correct; f_train, g_train:
    the training predictions and groups that define F_s, Q_s and p_s.
    """
    groups = np.unique(g_train)
    share = [np.mean(g_train == s) for s in groups]
    f_bar = np.empty(len(f))
    for s in groups:
        own = np.sort(f_train[g_train == s])
        u = np.searchsorted(own, f[g == s], side="right") / len(own)
        f_bar[g == s] = sum(
            p * np.quantile(f_train[g_train == r], u)
            for p, r in zip(share, groups)
        )
    return (1 - t) * f + t * f_bar


def bgl(bound):
    """fairlearn's bounded group loss (square loss <= bound)."""
    return BoundedGroupLoss(SquareLoss(0, 1), upper_bound=bound)


def peers(s):
    """Validation and test predictions of every peer on split s,
    one row per knob value: {name: (val (k, n_val), test (k, n_te))}."""
    ytr, qtr, gtr = s["ytr"], s["qtr"], s["gtr"]
    parts = ("tr", "va", "te")

    def fit_predict(A):  # KRR with its own median-heuristic sigma
        sigma = float(median_heuristic(A["tr"]))
        model = krr().fit(rbf(A["tr"], A["tr"], sigma), ytr)
        return [model.predict(rbf(A[p], A["tr"], sigma)) for p in parts]

    Xq = {p: np.column_stack([s["X" + p], s["q" + p]]) for p in parts}
    out = {"plain KRR": [[f] for f in fit_predict(Xq)[1:]]}
    unaware = krr().fit(s["Ktr"], ytr)
    f_tr, f_va, f_te = (unaware.predict(s["K" + p]) for p in parts)
    out["unaware KRR"] = [[f_va], [f_te]]
    bound = float(np.mean((f_tr - ytr) ** 2))
    gs = GridSearch(krr(), bgl(bound), grid_size=K_GRID)
    gs.fit(s["Ktr"], ytr, sensitive_features=gtr)
    out["GridSearch (BGL)"] = [
        [h.predict(s["K" + p]) for h in gs.predictors_]
        for p in ("va", "te")
    ]
    cr = [[f_va], [f_te]]  # alpha = 0 is unaware KRR
    for alpha in STRENGTHS[1:]:
        remover = CorrelationRemover(
            sensitive_feature_ids=[Xq["tr"].shape[1] - 1], alpha=alpha
        ).fit(Xq["tr"])
        A = {p: remover.transform(Xq[p]) for p in parts}
        for rows, f in zip(cr, fit_predict(A)[1:]):
            rows.append(f)
    out["CorrRemover + KRR"] = cr
    sigma_q = float(median_heuristic(qtr))
    trend = krr().fit(rbf(qtr, qtr, sigma_q), f_tr)
    g = {p: trend.predict(rbf(s["q" + p], qtr, sigma_q)) for p in parts}
    out["kernel trend"] = [
        [f - t * (g[p] - g["tr"].mean()) for t in STRENGTHS]
        for f, p in ((f_va, "va"), (f_te, "te"))
    ]
    out["barycentre"] = [
        [barycentre(f, s["g" + p], f_tr, gtr, t) for t in STRENGTHS]
        for f, p in ((f_va, "va"), (f_te, "te"))
    ]
    out = {k: [np.array(v) for v in pair] for k, pair in out.items()}
    return out, dict(gs=gs, f_tr=f_tr, unaware=unaware)


# fairkl predicts f(x) = s_y sum_i alpha_i k(x, x_i) (alpha_: the dual
# coefficients, s_y: the target scale): with the split's kernel matrices
# in hand that is one matrix product (what predict() computes, without
# compiling a prediction program for each new shape).
def hsic_path(s):
    """fairkl-HSIC's predictions on the validation and test rows of
    split s, one row per mu (the selection grid, then the long path of
    section 8), and the long path's test CKA with q."""
    model = FairKernelRidge(s["sigma"], LAM, 0.0, dtype="float64")
    path = model.mu_path(
        s["Xtr"], s["ytr"], s["qtr"], np.r_[MUS_HSIC, MUS_LONG]
    )
    P = path.y_scale * path.alphas @ s["Kvt"].T
    long = P[len(MUS_HSIC) :, N_VAL:]
    return P, s["yard"].score_rows(long, s["qte"])


def cka_fits(s):
    """fairkl-CKA's predictions on the validation and test rows of
    split s for every mu > 0 (one fit each), and the last model."""
    rows = []
    for mu in MUS_CKA[1:]:
        m = FairKernelRidge(
            s["sigma"], LAM, mu, penalty="cka", dtype="float64"
        ).fit(s["Xtr"], s["ytr"], q=s["qtr"])
        rows.append(m.y_scale_ * s["Kvt"] @ m.alpha_)
    return np.array(rows), m


def cka_rows(cand, s, part):
    """CKA with q (split s's yardstick) of every row of every method's
    validation (part 0) or test (part 1) predictions, in one call of
    the yardstick: {method: array, one value per row}."""
    F = np.concatenate([pair[part] for pair in cand.values()])
    c = s["yard"].score_rows(F, s["qva" if part == 0 else "qte"])
    ends = np.cumsum([len(pair[part]) for pair in cand.values()])
    return dict(zip(cand, np.split(c, ends[:-1])))


# Every split is fitted here. fairkl computes in JAX, which releases
# Python's global lock: its fits (most of this cell's CPU time) run in
# two worker threads while fairlearn and scikit-learn fit the peers in
# this one, so that both cores work. The first two jobs (split 0's CKA
# fits and HSIC path) compile their two programs side by side; every
# later split reuses them (same shapes). Each split's candidates are
# scored once (CKA with q on the validation and test rows, used from
# section 3 on) while fairkl fits the later splits.
n_hs = len(MUS_HSIC)  # the selection grid's rows of P
cands = []  # per split: {method: (val rows, test rows)}
paths = []  # per split: the long HSIC path on the test rows, its CKA
ckas = []  # per split: [validation CKA, test CKA] of every row


def join(k):
    """Split k: its peers, fairkl's rows and every row's CKA."""
    (P, cka_long), (C, _) = jobs[k][1].result(), jobs[k][0].result()
    out, s = fitted[k][0], splits[k]
    C = np.r_[P[:1], C]  # mu = 0: the path's first row
    out["fairkl-HSIC"] = [P[:n_hs, :N_VAL], P[:n_hs, N_VAL:]]
    out["fairkl-CKA"] = [C[:, :N_VAL], C[:, N_VAL:]]
    cands.append(out)
    paths.append((P[n_hs:, N_VAL:], cka_long))
    ckas.append([cka_rows(out, s, part) for part in (0, 1)])


with ThreadPoolExecutor(max_workers=2) as pool:
    jobs = [
        (pool.submit(cka_fits, s), pool.submit(hsic_path, s))
        for s in splits
    ]
    fitted = []
    for s in splits:
        fitted.append(peers(s))
        # join (and score) the splits whose fairkl jobs are done
        while len(cands) < len(fitted) and all(
            f.done() for f in jobs[len(cands)]
        ):
            join(len(cands))
    while len(cands) < len(splits):
        join(len(cands))
KNOBS = {
    "GridSearch (BGL)": ("multiplier no.", np.arange(K_GRID)),
    "CorrRemover + KRR": ("alpha", STRENGTHS),
    "kernel trend": ("t", STRENGTHS),
    "barycentre": ("t", STRENGTHS),
    "fairkl-HSIC": ("mu", MUS_HSIC),
    "fairkl-CKA": ("mu", MUS_CKA),
}
METHODS = list(cands[0])
print("methods:\n  " + "\n  ".join(METHODS))

# %% tags=["remove-cell"]
extra0 = fitted[0][1]
f_tr0, g_tr0 = extra0["f_tr"], s0["gtr"]
# the barycentre map at t = 0 returns f; at t = 1 the two groups'
# training predictions have the same distribution up to the grids
# k/n_a and k/n_b on which each group's quantiles are read: a KS gap of
# at most 1/n_a + 1/n_b
assert np.array_equal(
    barycentre(f_tr0, g_tr0, f_tr0, g_tr0, 0.0), f_tr0
)
b1 = barycentre(f_tr0, g_tr0, f_tr0, g_tr0, 1.0)
ks_bound = 1 / g_tr0.sum() + 1 / (~g_tr0).sum()
ks_before = ks_gap(None, f_tr0, sensitive_features=g_tr0)
ks_after = ks_gap(None, b1, sensitive_features=g_tr0)
assert ks_after <= ks_bound < 0.05 * ks_before, (ks_after, ks_bound)
# every knob grid has the same size, and starts at unaware KRR
for k, (val, te) in cands[0].items():
    assert val.shape == (K_GRID if k in KNOBS else 1, N_VAL), k
    if k in KNOBS and k != "GridSearch (BGL)":
        assert np.allclose(te[0], cands[0]["unaware KRR"][1][0]), k
# the predictions from the kernel matrices are predict()'s (split 0's
# last CKA model), and fairkl at mu = 0 (the first row of its path) is
# scikit-learn's KRR
m_last = jobs[0][0].result()[1]
assert np.allclose(
    m_last.predict(s0["Xte"]),
    cands[0]["fairkl-CKA"][1][-1],
    rtol=0,
    atol=1e-10,
)
assert np.allclose(
    cands[0]["fairkl-HSIC"][1][0],
    cands[0]["unaware KRR"][1][0],
    atol=1e-8,
)
glue("pe_ks_before", float(ks_before), display=False)
glue("pe_ks_after", float(ks_after), display=False)
glue("pe_ks_bound", float(ks_bound), display=False)

# %% [markdown]
# A hidden check confirms that the barycentre map of {eq}`eq-pe-bary`
# does what it promises on split 0: at $t = 0$ it returns $f$ unchanged,
# and at $t = 1$ the Kolmogorov–Smirnov distance between the two groups'
# training predictions ({py:func}`fairkl.metrics.ks_gap`) falls from
# {glue:text}`pe_ks_before:.3f` to {glue:text}`pe_ks_after:.4f`, within
# the {glue:text}`pe_ks_bound:.4f` that the finite number of training
# rows in each group allows ($1/n_a + 1/n_b$).
#
# ## 3. One rule for every method: a dependence budget on validation
#
# Each method now has {glue:text}`pe_k` candidate models per split. Which
# one is "the" model of that method? A comparison is only fair if every
# method is tuned by the same rule, with the same budget and on data that
# the final score does not see. Our rule, applied in code to every method
# on every split:
#
# ```{admonition} Selection rule
# :class: note
# The **dependence budget** $B$ is half of unaware KRR's validation CKA on
# that split. Among a method's settings whose validation CKA (on the
# split's fixed yardstick) is at most $B$, take the one with the lowest
# validation MSE. If no setting meets the budget, take the one with the
# lowest validation CKA — the closest the method's knob gets — and say so.
# Then score the chosen model **once** on the test rows.
# ```
#
# "Half" is a fixed choice, made before looking at the test rows: a
# {term}`dependence budget` that asks every method to halve the dependence
# of the unfair baseline. An exercise below tightens it.

# %%
BUDGET_SHARE = 0.5
N_BINS = 5  # quantile bins of y for the separation measure
glue("pe_n_bins", N_BINS, display=False)
# every candidate was scored once with the fits (ckas, section 2); the
# rule and the tables reuse those scores


def select(val, s, budget, v_cka):
    """Index of the setting the rule picks among the rows of val (their
    validation CKA: v_cka), and whether it meets the budget."""
    v_mse = np.mean((val - s["yva"]) ** 2, axis=1)
    ok = v_cka <= budget
    if ok.any():
        return int(np.argmin(np.where(ok, v_mse, np.inf))), True
    return int(np.argmin(v_cka)), False


def measures(p, s, cka):
    """Test measures of the predictions p on split s (cka: their test
    CKA with q, computed above)."""
    yte, qte, gte = s["yte"], s["qte"], s["gte"]
    return dict(
        mse=float(np.mean((p - yte) ** 2)),
        cka=float(cka),
        corr=correlation(yte, p, sensitive_features=qte),
        gap=mean_prediction_gap(yte, p, sensitive_features=gte),
        mae_gap=mae_gap(yte, p, sensitive_features=gte),
        ks=ks_gap(yte, p, sensitive_features=gte),
        sep=conditional_dependence(
            yte,
            p,
            sensitive_features=qte,
            n_bins=N_BINS,
            sigma_pred=s["yard"].sigma_pred,
            sigma_q=s["yard"].sigma_q,
        ),
    )


rows, curves = [], []
for seed, s, cand, (v_ck, t_ck) in zip(SEEDS, splits, cands, ckas):
    budget = BUDGET_SHARE * v_ck["unaware KRR"][0]
    for name, (val, te) in cand.items():
        i, met = select(val, s, budget, v_ck[name])
        knob = f"{KNOBS[name][1][i]:.3g}" if name in KNOBS else ""
        rows.append(
            dict(
                model=name, split=seed, budget=budget, index=i, met=met
            )
            | dict(knob=knob, **measures(te[i], s, t_ck[name][i]))
        )
        t_mse = np.mean((te - s["yte"]) ** 2, axis=1)
        t_cka = t_ck[name]
        for j in range(len(te)):
            curves.append(
                dict(model=name, split=seed, index=j)
                | dict(mse=t_mse[j], cka=t_cka[j])
            )
runs, curves = pd.DataFrame(rows), pd.DataFrame(curves)
chosen = runs[runs.model.isin(KNOBS)].pivot(
    index="model", columns="split", values="knob"
)
chosen.columns = [f"split {c}" for c in chosen.columns]
chosen.insert(0, "knob", [KNOBS[m][0] for m in chosen.index])
chosen["budget met on"] = (
    runs[runs.model.isin(KNOBS)].groupby("model")["met"].sum()
).astype(int).astype(str) + f" of {len(SEEDS)} splits"
chosen.loc[list(KNOBS)]

# %% tags=["remove-cell"]
met = runs[runs.model.isin(KNOBS)].groupby("model")["met"].sum()
n_s = len(SEEDS)
# who meets the budget: the two post-processing steps and both fairkl
# penalties on every split; GridSearch and CorrelationRemover on none
MEET = ["kernel trend", "barycentre", "fairkl-HSIC", "fairkl-CKA"]
MISS = ["GridSearch (BGL)", "CorrRemover + KRR"]
assert (met[MEET] == n_s).all() and (met[MISS] == 0).all(), met
# CorrelationRemover's closest setting is alpha = 1 on every split
cr_rows = runs[runs.model == "CorrRemover + KRR"]
assert (cr_rows["knob"] == "1").all()
glue("pe_budget_share", 100 * BUDGET_SHARE, display=False)

# %% [markdown]
# The table shows each method's chosen setting per split. The two
# post-processing steps and both fairkl penalties meet the budget on
# every split. **GridSearch and `CorrelationRemover` meet it on none**:
# no value of their knob halves the validation CKA, and the rule falls
# back to their least dependent setting ($\alpha = 1$ for
# `CorrelationRemover`, every time). Their results below are therefore
# not at the same dependence as the others; they are the best their knob
# can do.
#
# ## 4. The results, over five splits
#
# Every method's chosen model, scored once on the test rows of each split:
# mean ± standard deviation over the splits. Besides test MSE and CKA with
# $q$, five held-out measures with their sign conventions:
#
# * **correlation** with $q$ ({py:func}`fairkl.metrics.correlation`),
#   signed: positive means higher predicted crime where the share of Black
#   residents is higher;
# * **mean gap** ({py:func}`fairkl.metrics.mean_prediction_gap`), signed:
#   mean prediction of the top quarter minus that of the rest;
# * **KS gap** ({py:func}`fairkl.metrics.ks_gap`): the largest difference
#   between the two groups' distribution functions of the predictions
#   (what the barycentre step aims at);
# * **MAE gap** ({py:func}`fairkl.metrics.mae_gap`): largest minus smallest
#   per-group mean absolute error (what bounded group loss aims at);
# * **CKA with $q$ given $y$**
#   ({py:func}`fairkl.metrics.conditional_dependence`), a *separation*
#   measure: the test rows are cut into {glue:text}`pe_n_bins` quantile
#   bins of the target $y$, CKA with $q$ (yardstick bandwidths) is
#   computed inside each bin, and the bins' values are averaged with
#   weights proportional to their sizes. It asks whether, among
#   communities with about the same crime rate, the predictions still
#   follow $q$.

# %%
COLS = ["mse", "cka", "corr", "gap", "ks", "mae_gap", "sep"]
LABELS = [
    "test MSE",
    "CKA with q",
    "corr. with q",
    "mean gap",
    "KS gap",
    "MAE gap",
    "CKA with q | y",
]
mean = runs.groupby("model")[COLS].mean().loc[METHODS]
sd = runs.groupby("model")[COLS].std().loc[METHODS]
table = pd.DataFrame(
    {
        label: [
            f"{m:.4f} ± {d:.4f}" if c == "mse" else f"{m:.3f} ± {d:.3f}"
            for m, d in zip(mean[c], sd[c])
        ]
        for c, label in zip(COLS, LABELS)
    },
    index=METHODS,
)
table

# %% [markdown]
# Is every model still dependent on $q$? An HSIC independence test
# ({py:func}`fairkl.metrics.hsic_test`, 200 permutations, yardstick
# bandwidths) of each chosen model's test predictions against $q$ on
# split 0; the smallest p-value such a test can give is $1/201 \approx$
# {glue:text}`pe_pmin:.4f`.

# %%
N_PERM = 200
glue("pe_pmin", 1 / (N_PERM + 1), display=False)
pick = runs.set_index(["model", "split"])["index"]
pvals = {}
for name in METHODS:
    i = int(pick[(name, SEEDS[0])])
    pvals[name] = hsic_test(
        cands[0][name][1][i],
        s0["qte"],
        n_permutations=N_PERM,
        random_state=0,
        sigma_a=s0["yard"].sigma_pred,
        sigma_b=s0["yard"].sigma_q,
    ).pvalue
pd.Series(pvals, name="HSIC test p (split 0)").round(4)

# %% tags=["remove-cell"]
assert max(pvals.values()) <= 0.01  # every model rejects independence
glue("pe_pmax", float(max(pvals.values())), display=False)

# %% [markdown]
# Every model, `fairkl`'s included, still has predictions that depend on
# $q$ in a way the test detects: every p-value is at most
# {glue:text}`pe_pmax:.4f`, at or near the floor of the test. "Fairer"
# here means *less* dependent, not independent.
#
# ## 5. Paired differences: what is measurable
#
# The standard deviations are wide enough to hide small differences. The
# honest check compares two models **on the same split** and looks at the
# spread of those *paired* differences: over the five splits we take
# their mean and the 95% $t$-interval of the mean ($t$ with four degrees
# of freedom). When the interval contains zero we say there is **no
# measurable difference**. With five splits whose training sets overlap
# this is a rough check, not a formal test; it does stop us from reading
# a ranking into noise. Each table gives *method minus fairkl*: a
# positive Δ CKA means the method's predictions are more dependent on $q$
# than fairkl's. Each cell is the mean difference ± the half-width of
# its 95% $t$-interval; intervals that exclude zero are marked with a
# star.

# %%
T95 = float(stats.t.ppf(0.975, len(SEEDS) - 1))


def interval(a, b, col):
    """Mean of the paired differences a - b of col over the splits,
    the 95% t-interval of that mean, and whether it excludes zero."""
    wide = runs.pivot(index="split", columns="model", values=col)
    d = (wide[a] - wide[b]).to_numpy()
    m = float(d.mean())
    half = T95 * float(d.std(ddof=1)) / np.sqrt(len(d))
    return m, float(m - half), float(m + half), bool(abs(m) > half)


def diff_table(ref):
    """Paired differences (method - ref): mean ± the half-width of the
    95% t-interval, starred when the interval excludes zero."""
    out = pd.DataFrame(index=[k for k in METHODS if k != ref])
    for c, label in zip(COLS, LABELS):
        n = 4 if c == "mse" else 3
        cells = []
        for k in out.index:
            m, lo, hi, star = interval(k, ref, c)
            text = f"{m:+.{n}f} ± {(hi - lo) / 2:.{n}f}"
            cells.append(text + (" *" if star else ""))
        out["Δ " + label] = cells
    return out


diff_table("fairkl-CKA")

# %% [markdown]
# And against fairkl-HSIC:

# %%
diff_table("fairkl-HSIC")

# %% tags=["remove-cell"]
UNA, PLAIN = "unaware KRR", "plain KRR"
GS, CR = "GridSearch (BGL)", "CorrRemover + KRR"
TR, BA = "kernel trend", "barycentre"
HS, CK = "fairkl-HSIC", "fairkl-CKA"


def check(a, b, col, sign):
    """Assert the paired difference a - b of col: +1 / -1 measurably
    positive / negative, 0 no measurable difference."""
    m, lo, hi, star = interval(a, b, col)
    if sign == 0:
        assert lo < 0 < hi, (a, b, col, m, lo, hi)
    else:
        assert star and np.sign(m) == sign, (a, b, col, m, lo, hi)
    return m, lo, hi


# fairkl-CKA: the lowest mean CKA of the table; measurably below every
# method except the two post-processing steps
assert mean["cka"].idxmin() == CK
glue("pe_cka_ck", float(mean.loc[CK, "cka"]), display=False)
for k in (UNA, PLAIN, GS, CR, HS):
    check(k, CK, "cka", +1)
iv = check(BA, CK, "cka", 0)
glue("pe_d_ba_cka", iv[0], display=False)
glue("pe_d_ba_cka_lo", iv[1], display=False)
glue("pe_d_ba_cka_hi", iv[2], display=False)
iv = check(TR, CK, "cka", 0)
glue("pe_d_tr_cka", iv[0], display=False)
glue("pe_d_tr_cka_lo", iv[1], display=False)
glue("pe_d_tr_cka_hi", iv[2], display=False)
iv = check(HS, CK, "cka", +1)
glue("pe_d_hs_cka", iv[0], display=False)
glue("pe_d_hs_cka_lo", iv[1], display=False)
glue("pe_d_hs_cka_hi", iv[2], display=False)
# MSE: measurably below kernel trend and HSIC; no measurable difference
# from the barycentre, CorrelationRemover and GridSearch
iv = check(TR, CK, "mse", +1)
glue("pe_d_tr_mse", iv[0], display=False)
glue("pe_d_tr_mse_lo", iv[1], display=False)
glue("pe_d_tr_mse_hi", iv[2], display=False)
iv = check(HS, CK, "mse", +1)
glue("pe_d_hs_mse", iv[0], display=False)
glue("pe_d_hs_mse_lo", iv[1], display=False)
glue("pe_d_hs_mse_hi", iv[2], display=False)
iv = check(BA, CK, "mse", 0)
glue("pe_d_ba_mse", iv[0], display=False)
glue("pe_d_ba_mse_lo", iv[1], display=False)
glue("pe_d_ba_mse_hi", iv[2], display=False)
for k in (CR, GS):
    check(k, CK, "mse", 0)
check(UNA, CK, "mse", -1)  # fairkl-CKA pays in accuracy
glue("pe_mse_ck", float(mean.loc[CK, "mse"]), display=False)
glue("pe_mse_una", float(mean.loc[UNA, "mse"]), display=False)
# ... but on the signed measures fairkl-CKA is not better: three methods
# have a measurably smaller mean gap, two a measurably lower correlation
for k in (BA, TR, HS):
    check(k, CK, "gap", -1)
for k in (TR, HS):
    check(k, CK, "corr", -1)
check(BA, CK, "corr", 0)
iv = check(BA, CK, "gap", -1)
glue("pe_d_ba_gap", iv[0], display=False)
glue("pe_d_ba_gap_lo", iv[1], display=False)
glue("pe_d_ba_gap_hi", iv[2], display=False)
glue("pe_gap_ck", float(mean.loc[CK, "gap"]), display=False)
glue("pe_gap_ba", float(mean.loc[BA, "gap"]), display=False)
glue("pe_gap_hs", float(mean.loc[HS, "gap"]), display=False)
glue("pe_gap_tr", float(mean.loc[TR, "gap"]), display=False)
# CorrelationRemover: same MSE, corr and mean gap as fairkl-CKA (no
# measurable difference), measurably more dependent on CKA
for c in ("corr", "gap"):
    check(CR, CK, c, 0)
iv = check(CR, CK, "cka", +1)
glue("pe_d_cr_cka", iv[0], display=False)
glue("pe_d_cr_cka_lo", iv[1], display=False)
glue("pe_d_cr_cka_hi", iv[2], display=False)
# KS gap: no measurable difference from the barycentre step
check(BA, CK, "ks", 0)
check(CR, CK, "ks", +1)
check(CR, CK, "sep", -1)
# fairkl-HSIC against the kernel trend: no measurable difference on
# any of the seven measures
for c in COLS:
    check(TR, HS, c, 0)
# ... and against the barycentre: none except the correlation, which
# the barycentre leaves measurably higher
for c in ("mse", "cka", "gap", "ks", "mae_gap"):
    check(BA, HS, c, 0)
check(BA, HS, "sep", -1)
iv = check(BA, HS, "corr", +1)
glue("pe_d_ba_hs_corr", iv[0], display=False)
glue("pe_d_ba_hs_corr_lo", iv[1], display=False)
glue("pe_d_ba_hs_corr_hi", iv[2], display=False)
# CorrelationRemover is measurably more accurate than fairkl-HSIC, and
# measurably more dependent on all three dependence measures
iv = check(CR, HS, "mse", -1)
glue("pe_d_cr_hs_mse", iv[0], display=False)
glue("pe_d_cr_hs_mse_lo", iv[1], display=False)
glue("pe_d_cr_hs_mse_hi", iv[2], display=False)
for c in ("cka", "corr", "gap"):
    check(CR, HS, c, +1)
for k in (CR, GS):
    check(k, HS, "sep", -1)
# GridSearch: no measurable difference in MSE from either fairkl model;
# measurably more dependent than both on CKA, correlation and mean gap
for ref in (HS, CK):
    check(GS, ref, "mse", 0)
    for c in ("cka", "corr", "gap"):
        check(GS, ref, c, +1)
# separation (CKA with q given y): the kernel trend and fairkl-HSIC
# measurably raise it above unaware KRR; fairkl-CKA and the barycentre
# lower it, with no measurable difference between them; GridSearch and
# CorrelationRemover are measurably lower than fairkl-CKA
for k in (TR, HS):
    check(k, UNA, "sep", +1)
for k in (CK, BA):
    check(k, UNA, "sep", -1)
check(BA, CK, "sep", 0)
for k in (GS, CR):
    check(k, CK, "sep", -1)
assert set(mean["sep"].nsmallest(2).index) == {GS, CR}
glue("pe_sep_una", float(mean.loc[UNA, "sep"]), display=False)
glue("pe_sep_tr", float(mean.loc[TR, "sep"]), display=False)
glue("pe_sep_hs", float(mean.loc[HS, "sep"]), display=False)
glue("pe_sep_ck", float(mean.loc[CK, "sep"]), display=False)
glue("pe_sep_ba", float(mean.loc[BA, "sep"]), display=False)
glue("pe_sep_gs", float(mean.loc[GS, "sep"]), display=False)
glue("pe_sep_cr", float(mean.loc[CR, "sep"]), display=False)

# %% [markdown]
# Read the tables column by column, and read the intervals.
#
# **Dependence (CKA).** fairkl-CKA has the lowest mean CKA of the table
# ({glue:text}`pe_cka_ck:.3f`), measurably below plain and unaware KRR,
# GridSearch, `CorrelationRemover` (by {glue:text}`pe_d_cr_cka:.3f`,
# interval [{glue:text}`pe_d_cr_cka_lo:.3f`,
# {glue:text}`pe_d_cr_cka_hi:.3f`]) and fairkl-HSIC
# ({glue:text}`pe_d_hs_cka:.3f` [{glue:text}`pe_d_hs_cka_lo:.3f`,
# {glue:text}`pe_d_hs_cka_hi:.3f`]). Against the two post-processing
# steps there is **no measurable difference**: barycentre
# {glue:text}`pe_d_ba_cka:+.3f` [{glue:text}`pe_d_ba_cka_lo:+.3f`,
# {glue:text}`pe_d_ba_cka_hi:+.3f`], kernel trend
# {glue:text}`pe_d_tr_cka:+.3f` [{glue:text}`pe_d_tr_cka_lo:+.3f`,
# {glue:text}`pe_d_tr_cka_hi:+.3f`].
#
# **Accuracy.** Under the same budget fairkl-CKA is measurably more
# accurate than the kernel trend (its MSE is lower by
# {glue:text}`pe_d_tr_mse:.4f` [{glue:text}`pe_d_tr_mse_lo:.4f`,
# {glue:text}`pe_d_tr_mse_hi:.4f`]) and than fairkl-HSIC (by
# {glue:text}`pe_d_hs_mse:.4f`). Against the barycentre step there is no
# measurable difference ({glue:text}`pe_d_ba_mse:+.4f`
# [{glue:text}`pe_d_ba_mse_lo:+.4f`, {glue:text}`pe_d_ba_mse_hi:+.4f`]),
# nor against GridSearch and `CorrelationRemover` — which, remember, did
# not meet the budget. Every method pays for its fairness: unaware KRR's
# test MSE is {glue:text}`pe_mse_una:.4f`, fairkl-CKA's
# {glue:text}`pe_mse_ck:.4f`.
#
# **Where fairkl-CKA is not better: the signed measures.** CKA is the
# measure the CKA penalty optimises, so the CKA column is the comparison
# most favourable to it. On the mean gap between the groups, the
# barycentre step ({glue:text}`pe_gap_ba:.3f`), the kernel trend
# ({glue:text}`pe_gap_tr:.3f`) and fairkl-HSIC
# ({glue:text}`pe_gap_hs:.3f`) are all measurably lower than fairkl-CKA
# ({glue:text}`pe_gap_ck:.3f`); the kernel trend and fairkl-HSIC also
# have a measurably lower correlation with $q$. `CorrelationRemover`
# shows no measurable difference from fairkl-CKA on the correlation or
# the mean gap, at no measurably different MSE; it is measurably higher
# on CKA and on the KS gap, and measurably lower on CKA given $y$ (the
# separation measure, below). On the KS gap there is no measurable
# difference between fairkl-CKA and the barycentre step, the method
# built to close it.
#
# **fairkl-HSIC against the peers.** The kernel-trend post-processing
# step shows no measurable difference from fairkl-HSIC on any of the seven
# measures: removing the kernel trend of the predictions in $q$ after
# the fact does here what the HSIC penalty does during training — but it
# needs $q$ at test time, and fairkl does not. The barycentre step shows
# no measurable difference from fairkl-HSIC either, except a measurably
# higher correlation ({glue:text}`pe_d_ba_hs_corr:+.3f`
# [{glue:text}`pe_d_ba_hs_corr_lo:+.3f`,
# {glue:text}`pe_d_ba_hs_corr_hi:+.3f`]) and a measurably lower CKA
# given $y$. `CorrelationRemover` is
# measurably more accurate than fairkl-HSIC (by
# {glue:text}`pe_d_cr_hs_mse:.4f` in MSE) and measurably more dependent
# on CKA, correlation and mean gap; GridSearch shows no measurable
# difference from either fairkl model in MSE and is measurably more
# dependent than both on the same three measures (both are less
# dependent given $y$, below).
#
# **Separation: where fairkl-CKA is not the best, and fairkl-HSIC is
# worse than unaware KRR.** Among communities with similar crime rates
# (the last column), unaware KRR's predictions have a CKA with $q$ of
# {glue:text}`pe_sep_una:.3f`. The kernel trend
# ({glue:text}`pe_sep_tr:.3f`) and fairkl-HSIC
# ({glue:text}`pe_sep_hs:.3f`) measurably **raise** it. The kernel trend
# shifts every prediction by an amount that depends on $q$ alone, and
# for rows with the same $y$ such a shift is pure dependence on $q$; the
# HSIC penalty, which removes a trend in $q$ during training and showed
# no measurable difference from the kernel trend above, behaves alike.
# fairkl-CKA
# ({glue:text}`pe_sep_ck:.3f`) and the barycentre step
# ({glue:text}`pe_sep_ba:.3f`) measurably lower it, with no measurable
# difference between them. Lowest of all, and measurably below
# fairkl-CKA, are the two methods that missed the dependence budget:
# `CorrelationRemover` ({glue:text}`pe_sep_cr:.3f`) and GridSearch
# ({glue:text}`pe_sep_gs:.3f`). Independence of $q$ and separation given
# $y$ are different goals; a budget on the first says nothing about the
# second.
#
# ## 6. The picture: every knob's trade-off
#
# The selection rule picks one point per method and split. The figure
# shows what each knob offers: test MSE against test CKA along every
# method's grid (mean over the splits), with the chosen models (mean ±
# standard deviation over the splits) drawn large.

# %% mystnb={"figure": {"caption": "Test MSE against held-out CKA with $q$ along each method's knob (small markers and lines: mean over the five splits for each grid value), and the model each method chose on validation (large markers, with bars of ± one standard deviation over the splits). Every knob except GridSearch's starts at unaware KRR in the lower right. GridSearch's fits (its grid of multipliers) are not ordered along a knob and are drawn without a line.", "name": "fig-peers-front"}, "image": {"alt": "Scatter and line plot of test MSE against held-out CKA. Six trade-off curves or point clouds start near unaware KRR in the lower right; the two fairkl curves, the kernel trend and the barycentre curves reach to low CKA at higher MSE, CorrelationRemover and GridSearch stay at high CKA. Large markers show the chosen models."}}
curve_mean = (
    curves.groupby(["model", "index"])[["mse", "cka"]]
    .mean()
    .reset_index()
)
STYLE = {
    PLAIN: "P",
    UNA: "X",
    GS: "v",
    CR: "D",
    TR: "^",
    BA: "h",
    HS: "o",
    CK: "s",
}
fig, ax = plt.subplots(figsize=(8, 5))
for i, name in enumerate(METHODS):
    color = f"C{i}"
    if name in KNOBS:
        c = curve_mean[curve_mean.model == name]
        ls = "none" if name == GS else "-"
        ax.plot(
            c["cka"],
            c["mse"],
            ls=ls,
            marker=STYLE[name],
            ms=3,
            color=color,
            alpha=0.6,
        )
    ax.errorbar(
        mean.loc[name, "cka"],
        mean.loc[name, "mse"],
        xerr=sd.loc[name, "cka"],
        yerr=sd.loc[name, "mse"],
        fmt=STYLE[name],
        ms=8,
        capsize=2,
        color=color,
        label=name,
    )
ax.set(
    xlabel="held-out CKA(predictions, racepctblack)"
    "   (lower: less dependent)",
    ylabel="test MSE   (lower: more accurate)",
    title="Communities and Crime, five splits",
)
ax.legend(fontsize=9, loc="upper right")
plt.show()

# %% tags=["remove-cell"]
# every knob's first grid value is unaware KRR (the lower right end);
# the fairkl curves run monotonically to the upper left
for name in (CR, TR, BA, HS, CK):
    c = curve_mean[curve_mean.model == name]
    assert np.isclose(
        c["cka"].iloc[0], curves[curves.model == UNA]["cka"].mean()
    )
for name in (HS, CK):
    c = curve_mean[curve_mean.model == name]
    assert (np.diff(c["mse"]) > 0).all() and (
        np.diff(c["cka"]) < 0
    ).all()
# CorrelationRemover and GridSearch stay at high CKA: their least
# dependent grid value is above the budget share of unaware's CKA
for name in (CR, GS):
    low = curve_mean[curve_mean.model == name]["cka"].min()
    assert low > BUDGET_SHARE * mean.loc[UNA, "cka"], (name, low)
for name in (TR, BA, HS, CK):
    low = curve_mean[curve_mean.model == name]["cka"].min()
    assert low < BUDGET_SHARE * mean.loc[UNA, "cka"], (name, low)

# %% [markdown]
# ## 7. Where the notions conflict
#
# Bounded group loss and independence are different goals, and they can
# pull in opposite directions. Bounded group loss wants **each group's
# error** small; independence wants **the predictions** to carry no
# information about $q$. When the target itself differs between groups,
# as here (the observed crime rate is higher in the top quarter),
# independent predictions must be wrong *in opposite directions* for the
# two groups — too low for one, too high for the other — and the
# per-group errors can grow apart.
#
# The MAE-gap column shows this on Communities and Crime. Against unaware
# KRR ({glue:text}`pe_mae_una:.3f`), GridSearch narrows the MAE gap
# measurably (to {glue:text}`pe_mae_gs:.3f`), while the methods that
# lower the mean gap most — the two post-processing steps and
# fairkl-HSIC — measurably widen it (to between
# {glue:text}`pe_mae_lo:.3f` and {glue:text}`pe_mae_hi:.3f`).
# fairkl-CKA shows no measurable change
# ({glue:text}`pe_d_ck_mae:+.4f` [{glue:text}`pe_d_ck_mae_lo:+.4f`,
# {glue:text}`pe_d_ck_mae_hi:+.4f`]) — and it is also the one of these
# four that leaves the largest mean gap. Neither kind is "the" fair model:
# they answer different questions, and the choice between them is a
# decision about values.

# %% tags=["remove-cell"]
check(GS, UNA, "mae_gap", -1)
WIDEN = (TR, BA, HS)
# ... the three with the smallest mean gap
assert set(mean["gap"].nsmallest(3).index) == set(WIDEN)
for name in WIDEN:
    check(name, UNA, "mae_gap", +1)
iv = check(CK, UNA, "mae_gap", 0)
glue("pe_d_ck_mae", iv[0], display=False)
glue("pe_d_ck_mae_lo", iv[1], display=False)
glue("pe_d_ck_mae_hi", iv[2], display=False)
assert mean.loc[[TR, BA, HS, CK], "gap"].idxmax() == CK
glue("pe_mae_una", float(mean.loc[UNA, "mae_gap"]), display=False)
glue("pe_mae_gs", float(mean.loc[GS, "mae_gap"]), display=False)
glue(
    "pe_mae_lo",
    float(mean.loc[list(WIDEN), "mae_gap"].min()),
    display=False,
)
glue(
    "pe_mae_hi",
    float(mean.loc[list(WIDEN), "mae_gap"].max()),
    display=False,
)

# %% [markdown]
# ## 8. The sign that CKA cannot see
#
# CKA is a squared-norm quantity: it is zero when there is no dependence and
# positive otherwise, whatever the direction. A penalty on it can overshoot:
# at large $\mu$ the held-out correlation can cross zero and turn
# **negative** (the model then predicts *less* crime where the share of
# Black residents is higher), while CKA keeps falling. A {term}`dependence
# budget` on CKA alone would not notice. Along a longer HSIC path than the
# selection grid (17 values of $\mu$ up to $10^4$), on the test rows:

# %% mystnb={"figure": {"caption": "Held-out measures along fairkl's HSIC path, mean over five splits, against $\\mu$ (log axis; $\\mu = 0$ drawn at the left edge); the right panel zooms on $\\mu \\ge 100$. The signed correlation crosses zero (dotted line) above $\\mu = 1000$ and ends negative; the mean gap ends near zero; CKA, which cannot be negative, keeps decreasing.", "name": "fig-peers-sign"}, "image": {"alt": "Two line plots against mu on log axes, the second a zoom on mu of 100 and above: CKA decreasing throughout; the correlation and the mean gap decreasing from positive values, the correlation crossing zero above mu = 1000 and ending slightly negative, the mean gap ending just above zero."}}
long_rows = []
for s, (long, cka_long) in zip(splits, paths):
    # cka_long: the path's test CKA, computed with the fits (section 2)
    for mu, p, c in zip(MUS_LONG, long, cka_long):
        gap = mean_prediction_gap(
            s["yte"], p, sensitive_features=s["gte"]
        )
        corr = correlation(s["yte"], p, sensitive_features=s["qte"])
        long_rows.append(dict(mu=mu, cka=c, corr=corr, gap=gap))
h = pd.DataFrame(long_rows).groupby("mu").mean().reset_index()
h["mu_plot"] = np.where(h["mu"] == 0, 0.03, h["mu"])
LINES = (
    ("cka", "o-", "CKA with q (unsigned)"),
    ("corr", "s-", "correlation with q (signed)"),
    ("gap", "^-", "mean gap, top − rest (signed)"),
)
fig, axes = plt.subplots(
    1, 2, figsize=(8, 3.8), width_ratios=[3, 2], layout="constrained"
)
for ax, part in zip(axes, (h, h[h["mu"] >= 100])):
    for col, style, label in LINES:
        ax.semilogx(
            part["mu_plot"], part[col], style, ms=3, label=label
        )
    ax.axhline(0, color="0.4", ls=":")
axes[0].set(
    xlabel="μ (fairkl-HSIC; μ = 0 at the left edge)",
    ylabel="held-out value",
    title="all μ",
)
axes[1].set(xlabel="μ (fairkl-HSIC)", title="zoom: μ ≥ 100")
axes[0].legend(fontsize=9)
fig.suptitle("At large μ the sign reverses; CKA does not show it")
plt.show()

mu_pos = float(h["mu"][h["corr"] > 0].max())
mu_cross = float(h["mu"][h["corr"] < 0].min())
end = h.iloc[-1]
print(
    f"mean correlation: last positive at mu = {mu_pos:g}, "
    f"first negative at mu = {mu_cross:g}\n"
    f"at mu = {end['mu']:g}: correlation {end['corr']:+.3f}, "
    f"mean gap {end['gap']:+.4f}, CKA {end['cka']:.3f}"
)

# %% tags=["remove-cell"]
assert 1000 <= mu_pos < mu_cross < 10_000  # "above 1000"
assert (h["corr"][h["mu"] >= mu_cross] < 0).all()  # stays negative
assert end["corr"] < 0 and 0 < end["gap"] < 0.1 * h["gap"].iloc[0]
assert (np.diff(h["cka"]) < 0).all()  # CKA keeps decreasing
glue("pe_mu_pos", mu_pos, display=False)
glue("pe_mu_neg", mu_cross, display=False)
glue("pe_corr_end", float(end["corr"]), display=False)
glue("pe_gap_end", float(end["gap"]), display=False)
glue("pe_cka_end", float(end["cka"]), display=False)

# %% [markdown]
# The mean correlation turns negative between $\mu \approx$
# {glue:text}`pe_mu_pos:.0f` and {glue:text}`pe_mu_neg:.0f`; at
# $\mu = 10^4$ it is {glue:text}`pe_corr_end:+.3f`, with a mean gap of
# {glue:text}`pe_gap_end:+.4f` and CKA {glue:text}`pe_cka_end:.3f`, still
# falling. The overshoot is small here; how far it goes depends on the
# data and the settings. That it can happen, and that CKA cannot show it,
# does not.
#
# ## Exercises
#
# ```{exercise} A tighter budget
# :label: peers-ex-budget
# :nonumber:
# Re-run the selection rule of section 3 with a budget of a quarter of
# unaware KRR's validation CKA instead of half. Which methods still meet
# it, on how many splits, and what do they pay in test MSE?
# ```
#
# ```{solution-start} peers-ex-budget
# :class: dropdown
# ```

# %%
tight = []
for seed, s, cand, (v_ck, t_ck) in zip(SEEDS, splits, cands, ckas):
    budget = 0.25 * v_ck[UNA][0]
    for name in KNOBS:
        val, te = cand[name]
        i, ok = select(val, s, budget, v_ck[name])
        row = dict(model=name, split=seed, index=i, met=ok)
        tight.append(row | measures(te[i], s, t_ck[name][i]))
tight = pd.DataFrame(tight)
by = tight.groupby("model")
ex1 = pd.DataFrame(
    {
        "budget met (splits)": by["met"].sum().astype(int),
        "test MSE": by["mse"].mean(),
        "test CKA": by["cka"].mean(),
    }
).loc[list(KNOBS)]
ex1.round(4)

# %% tags=["remove-cell"]
tw = {
    c: tight.pivot(index="split", columns="model", values=c)
    for c in ("mse", "cka")
}
both = ex1.index[ex1["budget met (splits)"] == n_s]
assert set(both) == {BA, CK}, both


def t_interval(d):
    """Mean and 95% t-interval of paired differences d."""
    m = float(np.mean(d))
    half = T95 * float(np.std(d, ddof=1)) / np.sqrt(len(d))
    return m, float(m - half), float(m + half)


d_mse = t_interval(tw["mse"][BA] - tw["mse"][CK])
d_cka = t_interval(tw["cka"][BA] - tw["cka"][CK])
assert d_mse[1] > 0, d_mse  # fairkl-CKA measurably more accurate
assert d_cka[1] < 0 < d_cka[2], d_cka  # no measurable CKA difference
met_t = ex1["budget met (splits)"]
assert MUS_HSIC[-1] == 32 and STRENGTHS[-1] == 1  # the grids' ends
assert (met_t[[GS, CR]] == 0).all() and (met_t[[TR, HS]] < n_s).all()
glue("pe_ex1_met_tr", int(met_t[TR]), display=False)
glue("pe_ex1_met_hs", int(met_t[HS]), display=False)
glue("pe_ex1_mse_ck", float(ex1.loc[CK, "test MSE"]), display=False)
glue("pe_ex1_mse_ba", float(ex1.loc[BA, "test MSE"]), display=False)
glue("pe_ex1_dmse", d_mse[0], display=False)
glue("pe_ex1_dmse_lo", d_mse[1], display=False)
glue("pe_ex1_dmse_hi", d_mse[2], display=False)
glue("pe_ex1_dcka", d_cka[0], display=False)
glue("pe_ex1_dcka_lo", d_cka[1], display=False)
glue("pe_ex1_dcka_hi", d_cka[2], display=False)

# %% [markdown]
# Only the barycentre step and fairkl-CKA meet a quarter of unaware
# KRR's validation CKA on every split; the kernel trend meets it on
# {glue:text}`pe_ex1_met_tr` and fairkl-HSIC on
# {glue:text}`pe_ex1_met_hs` of the five (where they miss it, no value
# of their grid — up to the whole trend removed, or $\mu = 32$ — gets
# below it), GridSearch and `CorrelationRemover` on none. Between the two that meet it there is no
# measurable difference in test CKA (barycentre minus fairkl-CKA:
# {glue:text}`pe_ex1_dcka:+.3f` [{glue:text}`pe_ex1_dcka_lo:+.3f`,
# {glue:text}`pe_ex1_dcka_hi:+.3f`]), but fairkl-CKA is measurably more
# accurate: test MSE {glue:text}`pe_ex1_mse_ck:.4f` against
# {glue:text}`pe_ex1_mse_ba:.4f`, a paired difference of
# {glue:text}`pe_ex1_dmse:+.4f` [{glue:text}`pe_ex1_dmse_lo:+.4f`,
# {glue:text}`pe_ex1_dmse_hi:+.4f`]. The tighter the budget, the more it
# matters that the CKA penalty changes the model rather than its output.
#
# ```{solution-end}
# ```
#
# ```{exercise} Post-processing all the way
# :label: peers-ex-post
# :nonumber:
# Set the strength $t$ of both post-processing steps to 1. On split 0,
# what happens to the correlation, the mean gap, the KS gap, CKA and the
# MSE? Why does the barycentre step leave a clearly positive correlation
# with $q$, although it makes the groups' training distributions equal?
# ```
#
# ```{solution-start} peers-ex-post
# :class: dropdown
# ```

# %%
t_ck0 = ckas[0][1]  # split 0's test CKA of every candidate
full = pd.DataFrame(
    {
        "unaware KRR": measures(cands[0][UNA][1][0], s0, t_ck0[UNA][0]),
        "kernel trend, t = 1": measures(
            cands[0][TR][1][-1], s0, t_ck0[TR][-1]
        ),
        "barycentre, t = 1": measures(
            cands[0][BA][1][-1], s0, t_ck0[BA][-1]
        ),
    }
).T
full.round(4)

# %% tags=["remove-cell"]
una_, tr_, ba_ = (full.iloc[i] for i in range(3))
# both close the mean gap almost entirely
assert abs(tr_["gap"]) < 0.05 * una_["gap"]
assert abs(ba_["gap"]) < 0.05 * una_["gap"]
assert tr_["corr"] < 0 < ba_["corr"]  # the trend overshoots
# on the test rows the barycentre's KS gap does not vanish
assert 0.05 < ba_["ks"] < 0.5 * una_["ks"]
assert (
    min(tr_["mse"], ba_["mse"]) > 2 * una_["mse"]
)  # "more than twice"
# within each group, higher q still means higher barycentre predictions
gte0, qte0 = s0["gte"], s0["qte"][:, 0]
within = [
    np.corrcoef(cands[0][BA][1][-1][g], qte0[g])[0, 1]
    for g in (gte0, ~gte0)
]
assert min(within) > 0.3, within
glue("pe_ex2_gap_una", float(una_["gap"]), display=False)
glue("pe_ex2_gap_tr", float(tr_["gap"]), display=False)
glue("pe_ex2_gap_ba", float(ba_["gap"]), display=False)
glue("pe_ex2_corr_tr", float(tr_["corr"]), display=False)
glue("pe_ex2_corr_ba", float(ba_["corr"]), display=False)
glue("pe_ex2_ks_una", float(una_["ks"]), display=False)
glue("pe_ex2_ks_ba", float(ba_["ks"]), display=False)
glue("pe_ex2_within_lo", float(min(within)), display=False)

# %% [markdown]
# Both steps close the mean gap almost entirely (from
# {glue:text}`pe_ex2_gap_una:+.3f` to {glue:text}`pe_ex2_gap_tr:+.4f` for
# the kernel trend and {glue:text}`pe_ex2_gap_ba:+.4f` for the
# barycentre), and both cost more than twice unaware KRR's MSE. The
# kernel trend overshoots on the correlation
# ({glue:text}`pe_ex2_corr_tr:+.3f`): it subtracts the trend estimated on
# the training predictions, which is not exactly the trend of the test
# rows. On the test rows the barycentre's KS gap does not vanish either
# ({glue:text}`pe_ex2_ks_una:.3f` → {glue:text}`pe_ex2_ks_ba:.3f`): its
# quantile maps were read off the training predictions. And it leaves a
# correlation of {glue:text}`pe_ex2_corr_ba:+.3f` because it equalises
# the two **groups**, not the continuous $q$: it maps each group's
# predictions monotonically, so within each group a higher share of Black
# residents still goes with a higher prediction (within-group
# correlations of at least {glue:text}`pe_ex2_within_lo:.2f`). A fairness
# notion defined on groups is blind to dependence inside them.
#
# ```{solution-end}
# ```
#
# ## Key takeaways
#
# ```{admonition} Key takeaways
# :class: important
# * Compare fairness methods on the same splits, with the same base model
#   and one fixed yardstick, and give every method **the same tuning
#   budget**: a grid of the same size on its own knob, one selection rule
#   on validation data, one look at the test rows.
# * Compare them **split by split** and read the intervals of the paired
#   differences: here fairkl-CKA is measurably less dependent (CKA) than
#   GridSearch, `CorrelationRemover` and fairkl-HSIC, but shows **no
#   measurable difference** from the two post-processing steps; at a
#   tighter budget it is measurably more accurate than the barycentre
#   step.
# * fairkl is **not** better everywhere: on the mean gap the two
#   post-processing steps and fairkl-HSIC are measurably lower than
#   fairkl-CKA (the kernel trend and fairkl-HSIC on the correlation too),
#   and the kernel-trend step shows no measurable difference from
#   fairkl-HSIC on any measure. What fairkl offers over post-processing is that it needs $q$
#   only for training, not for every person scored.
# * Each method constrains something different: bounded group loss the
#   per-group error, `CorrelationRemover` the linear correlation of the
#   inputs, post-processing the trend or the group distributions of the
#   outputs, fairkl's penalties the kernel dependence of the outputs. A
#   knob that constrains the wrong thing cannot meet a dependence budget:
#   GridSearch and `CorrelationRemover` never did.
# * No model here — fairkl's included — makes predictions independent of
#   $q$: an HSIC test rejects independence for all of them at the 1%
#   level.
# * Independence and equal per-group error can conflict: the methods that
#   close the mean gap most widen the MAE gap, while GridSearch narrows it.
#   Independence and separation differ too: within bins of $y$,
#   fairkl-HSIC and the kernel trend make the predictions *more*
#   dependent on $q$ than unaware KRR, and GridSearch and
#   `CorrelationRemover` are the least dependent there.
# * CKA cannot see the sign of a dependence: report a signed measure
#   (correlation, mean gap) beside it, and watch for overshoot at large
#   $\mu$.
# ```
#
# **Back to:** [the case study](case_study_crime) · [the introduction](intro).
