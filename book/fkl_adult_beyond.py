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
# # UCI Adult over five splits: fairkl against fairlearn
#
# The [previous chapter](fkl_adult) reproduced Fair Kernel Learning
# {cite:p}`perezsuay2017fair` on UCI Adult {cite:p}`becker1996adult` on
# one split, and read fairkl's μ-path at matched test error. Here we
# compare methods the way a comparison should be made: every method's
# setting chosen on validation data by one rule under one fairness
# budget, then test results over five random splits, with paired
# differences and their intervals. The peers are fairlearn's reductions
# and post-processing.
#
# ```{admonition} Learning objectives
# :class: tip
# After this chapter you can
# 1. set up a fair comparison of fairness methods: repeated splits, one
#    selection rule and one {term}`demographic parity` budget on
#    validation data for every method, the test file used once per chosen
#    setting;
# 2. give fairlearn's `ExponentiatedGradient` the same kernel model as
#    fairkl (weighted ridge regression in the Nyström features) and check
#    that it reproduces fairkl's $\mu = 0$ fit;
# 3. read paired differences with $t$-intervals, and say where fairkl is
#    not better.
# ```
#
# **Prerequisites.** The [previous chapter](fkl_adult): the data, the
# paper's FKRR and FKRR\S variants, the conversion of $\mu_c$ and the
# CKA penalty.
#
# **Outline.** 1 the setup carried over · 2 the protocol · 3 reading the
# table · exercises · key takeaways.

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
import numpy as np
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import (
    DemographicParity,
    ExponentiatedGradient,
)
from myst_nb import glue
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_limits

from fairkl import FairKernelRidge
from fairkl.datasets import load_adult
from fairkl.kernels import median_heuristic
from fairkl.metrics import (
    best_within_budget,
    equalized_odds_difference,
    statistical_parity_difference,
)

# %% [markdown]
# ## 1. The setup carried over
#
# The data are {py:func}`fairkl.datasets.load_adult`'s, with the test
# file as the test set. The kernel's bandwidth $\sigma$ and ridge
# $\lambda$ are the previous chapter's choice, made there by validation
# accuracy on a 3-by-3 grid on its split (seed 0, 7,000 + 7,000 rows):
# $\sigma$ = the {term}`median heuristic` of that split's training rows
# ({glue:text}`beyond_sigma:.3g`) and $\lambda$ =
# {glue:text}`beyond_lam:g`. They are fixed here for every method and
# split rather than chosen again, which would repeat that grid's nine
# fits on 7,000 rows; the previous chapter checks that its grid picks
# this pair.

# %%
data = load_adult()
X_te, y_te, sex_te = data.X_test, data.y_test, data.sex_test
sex_cols = [c.startswith("sex=") for c in data.feature_names]
# The previous chapter's split (seed 0) and its choice of σ and λ
perm0 = np.random.default_rng(0).permutation(len(data.y_train))
sigma = float(median_heuristic(data.X_train[perm0[:7000]]))
lam = 0.1  # fixed: the previous chapter's grid choice
glue("beyond_sigma", sigma, display=False)
glue("beyond_lam", lam, display=False)


def decide(f):
    """Decisions ±1 from predictions (the sign of f)."""
    return np.where(f > 0, 1.0, -1.0)


def one_hot(groups):
    """One-hot columns (n, G) of integer-coded groups."""
    codes = np.unique(groups, return_inverse=True)[1]
    return np.eye(codes.max() + 1)[codes]


def k_rbf(A, B, s):
    """RBF kernel matrix k(A, B) with bandwidth s, in NumPy."""
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1) - 2 * A @ B.T
    return np.exp(-np.maximum(d2, 0) / (2 * s * s))


# %% [markdown]
# ## 2. The protocol
#
# The previous chapter uses one split, and reads fairkl's μ-path at
# matched error on the test set. A comparison between methods needs
# repeated splits and the same tuning budget for every method, chosen
# without the test set. This chapter's protocol:
#
# * **Splits.** Five random draws (seeds 1 to 5) of
#   {glue:text}`beyond_split_rows:,` training and
#   {glue:text}`beyond_split_rows:,` validation rows from the training
#   file; the test file stays the test set. To fit five splits and six
#   methods into the page's time, the splits are smaller than the
#   paper's and the low-rank models use 200 landmarks. $\sigma$ and
#   $\lambda$ are fixed at the previous chapter's choice (section 1) for
#   every method.
# * **Knobs.** Four values of each method's own knob:
#   - FKRR-HSIC (sex in $X$) and FKRR\S-HSIC (sex dropped from $X$):
#     $\mu_c \in \{10^{-4}, 10^{-3}, 10^{-2}, 10^{-1}\}$, converted by
#     the previous chapter's {eq}`eq-adult-mu`;
#   - FKRR-CKA: $\mu \in \{1, 3, 10, 30\}$;
#   - fairlearn's `ExponentiatedGradient` with `DemographicParity`
#     {cite:p}`agarwal2018reductions`: the bound on the parity difference,
#     $\{0.01, 0.02, 0.04, 0.08\}$. Its base learner is this chapter's KRR
#     in the same features: ridge regression on the ±1 labels in the
#     Nyström features $\Phi$ of the split's landmarks, with sample
#     weights (fairkl's low-rank model does not accept them), decided by
#     the sign. Unweighted it reproduces fairkl's $\mu = 0$ predictions
#     (largest difference on validation rows over the splits:
#     {glue:text}`beyond_check:.0e`), and each fit forms and solves one
#     $m \times m$ system, fast enough for the reductions' many fits;
#   - fairlearn's `ThresholdOptimizer` {cite:p}`hardt2016equality` with
#     `constraints="demographic_parity"`, `prefit` on that plain KRR's
#     scores: its tolerance `tol` on the spread of the groups' positive
#     rates, the same four values. It needs sex at prediction time; the
#     other methods do not.
#   - plain KRR has no knob.
#
#   Both fairlearn models decide at random between classifiers or
#   thresholds; their seed is fixed.
# * **One rule.** For every method, the setting with the lowest
#   validation error among those whose validation parity gap is at most
#   $B = 0.06$
#   ({py:func}`~fairkl.metrics.selection.best_within_budget`; if none
#   meets it, the setting with the smallest validation gap). $B$ was fixed
#   before this comparison, below the parity gap at which the HSIC
#   penalty with sex in $X$ stops on the previous chapter's split (its
#   section 7, where this is checked). Each chosen setting is then scored
#   once on the test file; only the chosen one is predicted there.
# * **Report.** Mean ± sd over the splits, and the paired difference to
#   FKRR-CKA on the same split with a 95% $t$-interval over the five
#   differences.

# %%
N_SPLITS, N_ROWS, M_SPLIT = 5, 2000, 200
glue("beyond_split_rows", N_ROWS, display=False)
BUDGET = 0.06  # largest validation parity gap a setting may have
KNOBS = {  # four values of each method's own knob
    "FKRR-HSIC": np.logspace(-4, -1, 4),  # μ_c
    "FKRR\\S-HSIC": np.logspace(-4, -1, 4),  # μ_c
    "FKRR-CKA": np.array([1.0, 3.0, 10.0, 30.0]),  # μ
    "ExponentiatedGradient": np.array([0.01, 0.02, 0.04, 0.08]),
    "ThresholdOptimizer": np.array([0.01, 0.02, 0.04, 0.08]),
}


class NystromRidge(ClassifierMixin, BaseEstimator):
    """Weighted ridge regression on ±1 codes in fixed features Φ,
    decided by sign: the KRR of this page as a fairlearn base."""

    def __init__(self, lam=0.1):
        self.lam = lam

    def fit(self, X, y, sample_weight=None):
        t = 2.0 * np.asarray(y, float) - 1  # {0, 1} -> ±1
        w = np.ones(len(t)) if sample_weight is None else sample_weight
        w = np.asarray(w, float) * len(t) / np.sum(w)  # mean 1
        Xw = X * np.sqrt(w)[:, None]  # Xwᵀ Xw = Xᵀ W X, one product
        A = self.lam * np.eye(X.shape[1]) + Xw.T @ Xw
        self.coef_ = np.linalg.solve(A, X.T @ (w * t))
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        return X @ self.coef_

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(int)


def nystrom_features(model, *Xs):
    """Φ = K(X, Z) K_ZZ^{-1/2} on the landmarks Z of a fitted path."""
    Z, off, s = model.X_fit, model.X_offset, sigma
    ev, U = np.linalg.eigh(k_rbf(Z, Z, s))
    keep = ev > 1e-12 * ev.max()
    proj = U[:, keep] / np.sqrt(ev[keep])
    return [k_rbf(X - off, Z, s) @ proj for X in Xs]


def val_test(d_va, test, y_va, s_va):
    """Validation (error, parity gap) and `test`, a function that
    gives the test decisions: called for the chosen setting only."""
    err = float(np.mean(d_va != y_va))
    spd = statistical_parity_difference(
        y_va, d_va, sensitive_features=s_va
    )
    return err, spd, test


def run_split(seed):
    """Every method at every knob value on one random split."""
    perm = np.random.default_rng(seed).permutation(len(data.y_train))
    tr, va = perm[:N_ROWS], perm[N_ROWS : 2 * N_ROWS]
    Xt, yt, st = data.X_train[tr], data.y_train[tr], data.sex_train[tr]
    Xv, yv, sv = data.X_train[va], data.y_train[va], data.sex_train[va]
    Qt, vg = one_hot(st), float(np.var(st))
    blind = [X.copy() for X in (Xt, Xv, X_te)]
    for X in blind:
        X[:, sex_cols] = 0  # sex dropped, as in the previous chapter

    def model(**kw):
        return FairKernelRidge(
            n_components=M_SPLIT, random_state=seed, sigma=sigma,
            lam=lam, kernel_q="linear", dtype="float64", **kw,
        )  # fmt: skip

    runs = {}
    mus = np.r_[0.0, N_ROWS * vg * KNOBS["FKRR-HSIC"]]  # eq-adult-mu
    path_k = model(penalty="hsic").mu_path(Xt, yt, Qt, mus)
    Fv_k, Ft = path_k.predict(Xv), path_k.predict(X_te)  # every μ
    runs["KRR"] = [
        val_test(decide(Fv_k[0]), lambda: decide(Ft[0]), yv, sv)
    ]
    runs["FKRR-HSIC"] = [
        val_test(decide(a), lambda b=b: decide(b), yv, sv)
        for a, b in zip(Fv_k[1:], Ft[1:])
    ]
    path_b = model(penalty="hsic").mu_path(blind[0], yt, Qt, mus)
    Fv, Ft_b = path_b.predict(blind[1]), path_b.predict(blind[2])
    runs["FKRR\\S-HSIC"] = [
        val_test(decide(a), lambda b=b: decide(b), yv, sv)
        for a, b in zip(Fv[1:], Ft_b[1:])
    ]
    runs["FKRR-CKA"] = []
    for mu in KNOBS["FKRR-CKA"]:
        m = model(penalty="cka", mu=mu).fit(Xt, yt, q=Qt)
        runs["FKRR-CKA"].append(
            val_test(
                decide(m.predict(Xv)),
                lambda m=m: decide(m.predict(X_te)), yv, sv,
            )
        )  # fmt: skip
    Pt, Pv, Pte = nystrom_features(path_k, Xt, Xv, X_te)
    pos = yt > 0
    base = NystromRidge(lam).fit(Pt, pos)  # = plain KRR, checked below
    check = np.max(np.abs(base.decision_function(Pv) - Fv_k[0]))
    runs["ExponentiatedGradient"] = []
    for bound in KNOBS["ExponentiatedGradient"]:
        eg = ExponentiatedGradient(
            NystromRidge(lam), DemographicParity(difference_bound=bound)
        ).fit(Pt, pos, sensitive_features=st)

        def eg_test(eg=eg):
            return 2.0 * eg.predict(Pte, random_state=seed) - 1

        dv = 2.0 * eg.predict(Pv, random_state=seed) - 1
        runs["ExponentiatedGradient"].append(
            val_test(dv, eg_test, yv, sv)
        )
    runs["ThresholdOptimizer"] = []
    for tol in KNOBS["ThresholdOptimizer"]:
        to = ThresholdOptimizer(
            estimator=base, constraints="demographic_parity", tol=tol,
            prefit=True, predict_method="decision_function",
        ).fit(Pt, pos, sensitive_features=st)  # fmt: skip

        def to_test(to=to):
            d = to.predict(Pte, sensitive_features=sex_te,
                           random_state=seed)  # fmt: skip
            return 2.0 * d - 1

        dv = to.predict(Pv, sensitive_features=sv, random_state=seed)
        runs["ThresholdOptimizer"].append(
            val_test(2.0 * dv - 1, to_test, yv, sv)
        )
    return runs, check


# %%
chosen = {name: [] for name in ["KRR", *KNOBS]}  # test scores
picks = {name: [] for name in KNOBS}
val_gaps = {name: [] for name in KNOBS}  # every setting's, per split
checks = []
with threadpool_limits(1):  # small BLAS calls: one thread is faster
    for seed in range(1, N_SPLITS + 1):
        runs, check = run_split(seed)
        checks.append(check)
        for name, cands in runs.items():
            k = best_within_budget(
                [c[0] for c in cands], [c[1] for c in cands], BUDGET
            )
            if name in picks:
                picks[name].append(k)
                val_gaps[name].append([c[1] for c in cands])
            d = cands[k][2]()  # test decisions of the chosen setting
            chosen[name].append(
                {
                    "err": float(np.mean(d != y_te)),
                    "spd": statistical_parity_difference(
                        y_te, d, sensitive_features=sex_te
                    ),
                    "eqo": equalized_odds_difference(
                        y_te, d, sensitive_features=sex_te
                    ),
                    "val_spd": cands[k][1],
                }
            )

# %%
REF = "FKRR-CKA"  # paired differences against fairkl's CKA model
t975 = float(stats.t.ppf(0.975, N_SPLITS - 1))


def mean_sd(x, spec=".3f", scale=1.0):
    x = scale * np.asarray(x)
    return f"{x.mean():{spec}} ± {x.std(ddof=1):{spec}}".rjust(14)


def paired(name, key):
    """Mean and 95% t-interval of (method - REF) over the splits."""
    pairs = zip(chosen[name], chosen[REF])
    d = np.array([a[key] - b[key] for a, b in pairs])
    half = t975 * d.std(ddof=1) / np.sqrt(len(d))
    return tuple(float(d.mean() + h) for h in (0, -half, half))


table = {}
print(
    f"{'method':22s} {'error (%)':>14s} {'parity gap':>14s} "
    f"{'eq. odds diff.':>14s}"
)
for name, rows in chosen.items():
    col = {k: [r[k] for r in rows] for k in ("err", "spd", "eqo")}
    print(
        f"{name:22s} {mean_sd(col['err'], '.2f', 100)} "
        f"{mean_sd(col['spd'])} {mean_sd(col['eqo'])}"
    )
print(
    f"\npaired differences, method - {REF}: mean [95% interval]\n"
    f"{'':22s} {'error (points)':^22s}  {'parity gap':^25s}"
)
for name in chosen:
    if name == REF:
        continue
    table[name] = {k: paired(name, k) for k in ("err", "spd", "eqo")}
    e, s = table[name]["err"], table[name]["spd"]
    print(
        f"{name:22s} {100 * e[0]:+.2f} [{100 * e[1]:+.2f}, "
        f"{100 * e[2]:+.2f}]  {s[0]:+.3f} [{s[1]:+.3f}, {s[2]:+.3f}]"
    )
print("chosen knob index per split:")
for name, k in picks.items():
    print(f"  {name:22s} {k}")

# %% tags=["remove-cell"]
# The numbers the next paragraph reads (glued into the text).
def avg(name, key):
    return float(np.mean([r[key] for r in chosen[name]]))


glue("beyond_check", float(max(checks)), display=False)
glue("beyond_krr_err", 100 * avg("KRR", "err"), display=False)
glue("beyond_krr_spd", avg("KRR", "spd"), display=False)
glue("beyond_krr_eqo", avg("KRR", "eqo"), display=False)
glue("beyond_cka_err", 100 * avg("FKRR-CKA", "err"), display=False)
glue("beyond_cka_spd", avg("FKRR-CKA", "spd"), display=False)
_val = [r["val_spd"] for r in chosen["FKRR-HSIC"]]
glue("beyond_hsic_valmin", float(min(_val)), display=False)
_h = table["FKRR-HSIC"]
glue("beyond_h_dspd", _h["spd"][0], display=False)
glue("beyond_h_dspd_lo", _h["spd"][1], display=False)
glue("beyond_h_dspd_hi", _h["spd"][2], display=False)
_s, _eg, _to = (
    table[k] for k in ("FKRR\\S-HSIC", "ExponentiatedGradient",
                       "ThresholdOptimizer")
)  # fmt: skip
glue("beyond_s_derr", 100 * _s["err"][0], display=False)
glue("beyond_s_derr_lo", 100 * _s["err"][1], display=False)
glue("beyond_s_derr_hi", 100 * _s["err"][2], display=False)
glue("beyond_s_dspd", _s["spd"][0], display=False)
glue("beyond_s_dspd_lo", _s["spd"][1], display=False)
glue("beyond_s_dspd_hi", _s["spd"][2], display=False)
glue("beyond_eg_derr", 100 * _eg["err"][0], display=False)
glue("beyond_eg_derr_lo", 100 * _eg["err"][1], display=False)
glue("beyond_eg_derr_hi", 100 * _eg["err"][2], display=False)
glue("beyond_eg_dspd", _eg["spd"][0], display=False)
glue("beyond_eg_dspd_lo", _eg["spd"][1], display=False)
glue("beyond_eg_dspd_hi", _eg["spd"][2], display=False)
glue("beyond_to_derr", 100 * _to["err"][0], display=False)
glue("beyond_to_derr_lo", 100 * _to["err"][1], display=False)
glue("beyond_to_derr_hi", 100 * _to["err"][2], display=False)
glue("beyond_to_dspd", -_to["spd"][0], display=False)
glue("beyond_to_dspd_lo", _to["spd"][1], display=False)
glue("beyond_to_dspd_hi", _to["spd"][2], display=False)

# %% tags=["remove-cell"]
_ci = table  # (mean, low, high) of method - FKRR-CKA
assert max(checks) < 1e-8  # the base learner is plain KRR
assert all(k == len(KNOBS["FKRR-HSIC"]) - 1 for k in picks["FKRR-HSIC"])
assert min(_val) > BUDGET  # "never meets the budget"
assert _ci["FKRR-HSIC"]["spd"][1] > 0  # "higher than FKRR-CKA's"
for _k in ("err", "spd"):  # "no measurable difference"
    assert _ci["FKRR\\S-HSIC"][_k][1] < 0 < _ci["FKRR\\S-HSIC"][_k][2]
assert _ci["ExponentiatedGradient"]["spd"][1] < 0
assert _ci["ExponentiatedGradient"]["spd"][2] > 0
assert 0 < _ci["ExponentiatedGradient"]["err"][1] < 0.001  # "just"
assert _ci["ThresholdOptimizer"]["spd"][2] < 0  # "lower"
assert _ci["ThresholdOptimizer"]["err"][1] > 0  # "at more error"
assert _ci["KRR"]["err"][2] < 0 and _ci["KRR"]["spd"][1] > 0
assert all(  # "KRR errs least, with the largest gap"
    avg("KRR", "err") < avg(k, "err")
    and avg("KRR", "spd") > avg(k, "spd")
    for k in KNOBS
)
_met = ["FKRR\\S-HSIC", "FKRR-CKA", "ExponentiatedGradient"]
_met += ["ThresholdOptimizer"]
assert all(avg(k, "spd") <= BUDGET for k in _met)  # "reach the budget"
assert all(avg(k, "eqo") > avg("KRR", "eqo") for k in _met)
for _m in ("ExponentiatedGradient", "ThresholdOptimizer"):
    assert 0 < _ci[_m]["err"][0] < 0.01  # "by less than a point"

# %% [markdown]
# ## 3. Reading the table
#
# Read the table with its intervals:
#
# * **FKRR-HSIC with sex in $X$ never meets the budget.** On every split
#   its validation parity gap stays above $B$ (smallest:
#   {glue:text}`beyond_hsic_valmin:.3f`), so the rule takes its fairest
#   setting; on the test file its gap is higher than FKRR-CKA's by
#   {glue:text}`beyond_h_dspd:.3f` (95% interval
#   {glue:text}`beyond_h_dspd_lo:.3f` to
#   {glue:text}`beyond_h_dspd_hi:.3f`).
# * **The paper's FKRR\S is as good as the CKA penalty here**: no
#   measurable difference in error ({glue:text}`beyond_s_derr:+.2f`
#   points, interval {glue:text}`beyond_s_derr_lo:+.2f` to
#   {glue:text}`beyond_s_derr_hi:+.2f`) or in the parity gap
#   ({glue:text}`beyond_s_dspd:+.3f`, interval
#   {glue:text}`beyond_s_dspd_lo:+.3f` to
#   {glue:text}`beyond_s_dspd_hi:+.3f`).
# * **ExponentiatedGradient**: no measurable difference in the parity gap
#   ({glue:text}`beyond_eg_dspd:+.3f`, interval
#   {glue:text}`beyond_eg_dspd_lo:+.3f` to
#   {glue:text}`beyond_eg_dspd_hi:+.3f`); its error is higher by
#   {glue:text}`beyond_eg_derr:.2f` points, with an interval
#   ({glue:text}`beyond_eg_derr_lo:+.2f` to
#   {glue:text}`beyond_eg_derr_hi:+.2f`) that only just excludes zero.
# * **ThresholdOptimizer goes lower**: a parity gap smaller by
#   {glue:text}`beyond_to_dspd:.3f` (interval
#   {glue:text}`beyond_to_dspd_lo:+.3f` to
#   {glue:text}`beyond_to_dspd_hi:+.3f`) at
#   {glue:text}`beyond_to_derr:.2f` points more error (interval
#   {glue:text}`beyond_to_derr_lo:+.2f` to
#   {glue:text}`beyond_to_derr_hi:+.2f`), and it reads sex at
#   prediction time.
# * **Plain KRR** errs least ({glue:text}`beyond_krr_err:.2f`% on
#   average, against {glue:text}`beyond_cka_err:.2f`% for FKRR-CKA) with
#   the largest parity gap ({glue:text}`beyond_krr_spd:.3f`, against
#   {glue:text}`beyond_cka_spd:.3f`).
# * **Equalised odds pay for parity.** Every method whose mean parity gap
#   is within the budget has a larger mean equalised-odds difference than
#   plain KRR ({glue:text}`beyond_krr_eqo:.3f`), as on the previous
#   chapter's split (its section 11).
#
# **Where fairkl is not better.** At this budget the CKA penalty is not
# better than the paper's FKRR\S (itself fairkl's HSIC penalty with sex
# dropped from $X$), nor than ExponentiatedGradient on the parity gap;
# ThresholdOptimizer reaches a lower gap. The CKA penalty's one measurable
# advantage over the two fairlearn methods is a lower error, by less than
# a point. Five splits of {glue:text}`beyond_split_rows:,` rows with 200
# landmarks are not the paper's setting; these conclusions are about this
# protocol.


# %% [markdown]
# ## Exercises
#
# ```{exercise} Paired against unpaired intervals
# :label: beyond-ex-paired
# :nonumber:
# The table's intervals are for paired differences: method minus
# FKRR-CKA on the same split. Compute, for the test error of every
# method against FKRR-CKA, the half-width of the unpaired 95% interval
# (the two columns of five values treated as independent samples) and
# compare it with the paired one. Which is narrower, and why?
# ```
#
# ```{solution-start} beyond-ex-paired
# :class: dropdown
# ```

# %%
t_unp = float(stats.t.ppf(0.975, 2 * N_SPLITS - 2))
widths = {}
for name in table:
    a = np.array([r["err"] for r in chosen[name]])
    b = np.array([r["err"] for r in chosen[REF]])
    pooled = (a.var(ddof=1) + b.var(ddof=1)) / N_SPLITS
    unpaired = t_unp * np.sqrt(pooled)
    lo, hi = table[name]["err"][1:]
    widths[name] = (100 * (hi - lo) / 2, 100 * unpaired)
    print(
        f"{name:22s} half-width (points): paired "
        f"{widths[name][0]:.2f}, unpaired {widths[name][1]:.2f}"
    )
_ratio = [u / p for p, u in widths.values()]
glue("beyond_w_ratio_min", float(min(_ratio)), display=False)
glue("beyond_w_ratio_max", float(max(_ratio)), display=False)

# %% tags=["remove-cell"]
assert min(_ratio) > 1  # "narrower for every method"

# %% [markdown]
# The paired interval is narrower for every method, by a factor of
# {glue:text}`beyond_w_ratio_min:.1f` to
# {glue:text}`beyond_w_ratio_max:.1f`. A split that is hard for one
# method (its training rows, its validation rows) is hard for the others
# too: the errors move together from split to split, and the paired
# difference cancels that shared part, which the unpaired interval counts
# as noise.
#
# ```{solution-end}
# ```
#
# ```{exercise} A tighter budget
# :label: beyond-ex-budget
# :nonumber:
# Before refitting anything: with $B = 0.04$ instead of $0.06$, on how
# many of the five splits does each method have a setting within the
# budget on the validation rows? The validation parity gap of every
# setting is kept in `val_gaps`.
# ```
#
# ```{solution-start} beyond-ex-budget
# :class: dropdown
# ```

# %%
B_TIGHT = 0.04
meets = {
    name: int(sum(min(g) <= B_TIGHT for g in gaps))
    for name, gaps in val_gaps.items()
}
for name, k in meets.items():
    print(f"{name:22s} within B = {B_TIGHT}: {k} of {N_SPLITS} splits")
glue("beyond_meet_s", meets["FKRR\\S-HSIC"], display=False)
glue("beyond_meet_cka", meets["FKRR-CKA"], display=False)
glue("beyond_meet_eg", meets["ExponentiatedGradient"], display=False)
glue("beyond_meet_to", meets["ThresholdOptimizer"], display=False)

# %% tags=["remove-cell"]
assert meets["FKRR-HSIC"] == 0  # "never"
assert len(set(meets.values())) > 1  # the counts differ

# %% [markdown]
# FKRR-HSIC with sex in $X$ never gets there (its smallest validation
# gap is above even $0.06$). FKRR\S does on
# {glue:text}`beyond_meet_s:d` of the five splits, ExponentiatedGradient
# on {glue:text}`beyond_meet_eg:d`, FKRR-CKA on
# {glue:text}`beyond_meet_cka:d` and ThresholdOptimizer on
# {glue:text}`beyond_meet_to:d`. Where no setting meets the budget, the
# rule takes the one with the smallest validation gap: at a tighter
# budget the methods differ first in whether their knob's range reaches
# it at all, so widen the knob grids before comparing at $0.04$.
#
# ```{solution-end}
# ```
#
# ## Key takeaways
#
# ```{admonition} Key takeaways
# :class: important
# * A comparison between fairness methods needs the same selection rule
#   and budget for every method, chosen on validation data, and more than
#   one split; report paired differences with their intervals.
# * Over five splits at a parity budget on validation data, the CKA
#   penalty, the paper's FKRR\S and fairlearn's ExponentiatedGradient
#   reach parity gaps with no measurable difference between them;
#   ThresholdOptimizer goes lower, at more error and with sex at
#   prediction time; the HSIC penalty with sex in $X$ does not reach the
#   budget.
# * Closing the parity gap widens the equalised-odds difference for every
#   method that reaches the budget.
# ```
