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
# # Reproducing Fair Kernel Learning on UCI Adult
#
# Fair Kernel Learning {cite:p}`perezsuay2017fair` was shown on a
# classification task: UCI Adult {cite:p}`becker1996adult`, where a model
# predicts whether a person earns more than \$50K a year and the
# {term}`sensitive attribute` is sex. In this chapter we rerun the authors'
# protocol with `fairkl`, put our numbers beside theirs, and look at what the
# HSIC penalty does — and does not do — to the decisions.
#
# ```{admonition} Learning objectives
# :class: tip
# After this chapter you can
# 1. state the paper's protocol (regression on ±1 labels scored by the sign,
#    7,000 + 7,000 rows, test on the official test file) and what we changed;
# 2. show that dropping the sensitive columns ({term}`unawareness`) barely
#    lowers the dependence of the predictions on sex;
# 3. trace the trade-off between test error and test {term}`HSIC` over
#    decades of $\mu$ from one factorisation;
# 4. tell mean-level independence (the HSIC penalty with a linear kernel on
#    predictions) from decision-level parity, and see why a {term}`CKA`
#    penalty with an RBF kernel closes the parity gap further;
# 5. say with a p-value whether held-out predictions are still dependent on
#    sex.
# ```
#
# **Prerequisites.** Parts 1–3 of the tutorial: kernel ridge regression, HSIC
# and CKA, the fair objective and its exact μ-path. Every symbol is defined on
# the [notation page](notation).
#
# **Outline.** 1 the protocol and what differs · 2 the data and the split ·
# 3 a low-rank kernel to keep the page fast · 4 the KRR baseline ·
# 5 unawareness · 6 the HSIC penalty over decades of μ · 7 the CKA penalty ·
# 8 an independence test · 9 the reproduction table · exercises · key
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
import matplotlib.pyplot as plt
import numpy as np
from matplotlib_inline.backend_inline import set_matplotlib_formats

from fairkl import dependence, lowrank
from fairkl.datasets import load_adult
from fairkl.metrics import (
    equal_opportunity_difference,
    hsic_test,
    statistical_parity_difference,
)

set_matplotlib_formats("svg")  # sharp figures at any zoom

# %% [markdown]
# ## 1. The protocol, and what differs
#
# The authors' public reproduction code (MATLAB) does the following, and so do we:
#
# * **Task.** Kernel ridge regression on labels $y \in \{-1, +1\}$ (+1: income
#   above \$50K), scored as a classifier by $\operatorname{sign} f(x)$.
# * **Split.** 7,000 training and 7,000 validation rows drawn at random from
#   the training file; every score is on the 16,281 rows of the test file.
# * **Sensitive attribute.** $q$ = sex, one-hot (2 columns), kept in $X$ (the
#   paper's "FKRR") or dropped from it ("FKRR\S").
# * **Hyperparameters.** The RBF bandwidth $\sigma$ and the ridge $\lambda$ of
#   plain KRR chosen by validation accuracy, then kept for every $\mu$.
# * **Fair model.** $\alpha = (\lambda I + K + \mu_c\, H K_q H K)^{-1} y$ with
#   $K_q = QQ^\top$ for the one-hot matrix $Q$ of $q$, over decades of $\mu_c$.
#   `fairkl` writes the same system as
#   $(K + \lambda I + \tfrac{\mu}{n}\tilde L K)\alpha = \tilde y$, so
#   $\mu_{\text{fairkl}} = n\,\mu_c$ (the scale $s_y$ of $\tilde y = y/s_y$
#   does not change the sign of $f$).
# * **Measure.** Test HSIC with a linear kernel on predictions,
#   $\tfrac1{n^2} f^\top H K_q H f$, against test error on a log axis. We add
#   two decision-level gaps: the statistical-parity difference (largest minus
#   smallest rate of positive decisions over the groups, see
#   {term}`demographic parity`) and the equal-opportunity difference (the same
#   for the true-positive rate).
#
# What differs:
#
# | | paper (a9a) | this chapter |
# |---|---|---|
# | encoding | LIBSVM's a9a: 123 binary columns, continuous attributes binned | `load_adult()`: 105 columns, categories one-hot, the six continuous attributes standardised (not binned) |
# | kernel | exact $n\times n$ | Nyström, $m = 500$ landmarks (section 3) |
# | grid | $\sigma$: 10 values in $[10^{-4}, 10^4]$, $\lambda$: 7 values | 3 × 3 values around the {term}`median heuristic` |
# | repetitions | 25 (reference numbers below: 3) | 1 (exercise: more) |
#
# The reference numbers, from the authors' protocol on a9a (3 repetitions,
# $q$ = sex, $n$ = 7,000): KRR 15.12% error at test HSIC $1.50\times10^{-2}$
# and parity gap 0.174; FKRR-HSIC at $\mu_c = 10^{-2}$: 15.88% at
# $2.3\times10^{-5}$ (652× lower), parity gap 0.077; at $\mu_c = 10^3$: 15.94%
# at $9.0\times10^{-7}$; the CKA penalty at $\mu = 10$: 16.31%, parity gap
# 0.040; dropping $q$ alone: HSIC −24%, parity gap 0.162.

# %%
REFERENCE = {  # the authors' protocol on a9a, 3 repetitions, q = sex, n = 7,000
    "KRR": dict(err=0.1512, hsic=1.50e-2, spd=0.174),
    "KRR, q dropped": dict(err=np.nan, hsic=1.50e-2 * (1 - 0.24), spd=0.162),
    "FKRR-HSIC, μ_c = 1e-2": dict(err=0.1588, hsic=2.3e-5, spd=0.077),
    "FKRR-HSIC, μ_c = 1e3": dict(err=0.1594, hsic=9.0e-7, spd=np.nan),
    "CKA penalty, μ = 10": dict(err=0.1631, hsic=np.nan, spd=0.040),
}

# %% [markdown]
# ## 2. The data and the split
#
# {py:func}`fairkl.datasets.load_adult` reads the raw UCI files shipped with
# `fairkl` (the same 32,561 training and 16,281 test rows as a9a) and checks
# their checksums. We draw the paper's 7,000 + 7,000 rows with a fixed seed.

# %%
data = load_adult()
rng = np.random.default_rng(0)
perm = rng.permutation(len(data.y_train))
tr, va = perm[:7000], perm[7000:14000]
X_tr, y_tr, sex_tr = data.X_train[tr], data.y_train[tr], data.sex_train[tr]
X_va, y_va = data.X_train[va], data.y_train[va]
X_te, y_te, sex_te = data.X_test, data.y_test, data.sex_test
n = len(y_tr)
print(
    f"X: {X_tr.shape[1]} columns; train {n}, validation {len(y_va)}, "
    f"test {len(y_te)} rows"
)
print(
    f"positive rate (test): men {np.mean(y_te[sex_te == 0] > 0):.3f}, "
    f"women {np.mean(y_te[sex_te == 1] > 0):.3f}"
)

# %% tags=["remove-cell"]
assert X_tr.shape == (7000, 105) and X_te.shape == (16281, 105)
assert (
    0.28 < np.mean(y_te[sex_te == 0] > 0) < 0.33
    and 0.10 < np.mean(y_te[sex_te == 1] > 0) < 0.13
)
assert (
    0.17 < np.mean(y_te[sex_te == 0] > 0) - np.mean(y_te[sex_te == 1] > 0) < 0.21
)  # "near 0.19"
assert (
    5000 < np.sum(sex_te == 1) < 5800 and 10500 < np.sum(sex_te == 0) < 11300
)  # section 6

# %% [markdown]
# The labels themselves are far from parity: about 30% of men and 11% of
# women in the test file earn more than \$50K. A perfect classifier would
# have a statistical-parity gap near 0.19; any fair model must trade accuracy
# for a smaller gap.
#
# ## 3. A low-rank kernel to keep the page fast
#
# An exact fit at $n = 7{,}000$ needs a Cholesky factorisation of a
# $7{,}000\times 7{,}000$ matrix per $(\sigma, \lambda)$, several seconds each;
# the whole grid would not fit in the one minute this page is allowed. We use
# instead `fairkl.lowrank`: a Nyström approximation with $m = 500$
# landmark rows $Z$ drawn at random from the training set,
# $K \approx \Phi\Phi^\top$, $\Phi = K_{nZ}K_{ZZ}^{-1/2}$ ($n \times m$). The fair
# objective is the exact model's restricted to $f = \Phi w$, and its
# minimiser solves an $m\times m$ system,
#
# $$\big(\Phi^\top\Phi + \lambda I + \tfrac{\mu}{n}PP^\top\big)\,w = \Phi^\top\tilde y,
# \qquad P = \Phi^\top B,\quad BB^\top = H K_q H,$$
#
# with $B = HQ$ exact for one-hot groups. One Cholesky factorisation of
# $\Phi^\top\Phi + \lambda I$ then gives $w(\mu)$ for every $\mu$
# (`fairkl.lowrank.hsic_path_solve`, Woodbury in $r = 2$
# dimensions). The price: predictions come from a 500-dimensional feature
# space instead of a 7,000-dimensional one, which costs a little accuracy;
# Exercise 2 measures how much.

# %%
M_LANDMARKS = 500
landmarks = lowrank.select_landmarks(X_tr, M_LANDMARKS, seed=0)  # row indices of Z
y_scale = y_tr.std()
y_std = y_tr / y_scale  # fairkl's standardised target


def one_hot(groups):
    """One-hot columns (n, G) of integer-coded groups."""
    codes = np.unique(groups, return_inverse=True)[1]
    return np.eye(codes.max() + 1)[codes]


class NystromFeatures:
    """Φ on the training rows for one σ (and a subset of columns), with ΦᵀΦ and Φᵀỹ."""

    def __init__(self, sigma, columns=slice(None), rows=landmarks):
        self.columns = columns
        Z = lowrank._f64(X_tr[rows][:, columns])
        self.nmap = lowrank.nystrom_map(Z, lowrank._f64(sigma))
        self.Phi = self.transform(X_tr)
        self.A0, self.b = self.Phi.T @ self.Phi, self.Phi.T @ y_std

    def transform(self, X):
        """Φ(X) = k(X, Z) K_ZZ^{-1/2}, in row chunks."""
        return np.asarray(
            lowrank.feature_matrix(lowrank._f64(X[:, self.columns]), self.nmap)
        )

    def path(self, lam, Q, mus):
        """Weights w(μ), one row per μ (fairkl's μ), penalty on the one-hot groups Q."""
        P = self.Phi.T @ (Q - Q.mean(axis=0))  # Φᵀ B with B = HQ
        return np.asarray(
            lowrank.hsic_path_solve(
                self.A0,
                self.b,
                P,
                self.nmap.dropped,
                n,
                float(lam),
                np.asarray(mus, dtype=float),
            )
        )


Q_tr = one_hot(sex_tr)

# %% [markdown]
# ## 4. The KRR baseline
#
# We choose $\sigma$ and $\lambda$ by validation accuracy on a 3 × 3 grid
# around the {term}`median heuristic` (the median distance between training
# rows is about 4). Each $\sigma$ needs one $\Phi$; each $\lambda$ one small
# solve.

# %%
sigmas, lams = [2.0, 4.0, 8.0], [1e-2, 1e-1, 1.0]
val_err = np.empty((len(sigmas), len(lams)))
features = {}
for i, s in enumerate(sigmas):
    features[s] = NystromFeatures(s)
    Phi_va = features[s].transform(X_va)
    for j, lam_j in enumerate(lams):
        w = features[s].path(lam_j, Q_tr, [0.0])[0]
        val_err[i, j] = np.mean(np.sign(Phi_va @ w) != y_va)
i, j = np.unravel_index(np.argmin(val_err), val_err.shape)
sigma, lam = sigmas[i], lams[j]
feats = features[sigma]
print("validation error (%), rows σ, columns λ:\n", np.round(100 * val_err, 2))
print(f"chosen σ = {sigma:g}, λ = {lam:g}")

# %% tags=["remove-cell"]
assert 0 < i < len(sigmas) - 1 and 0 < j < len(lams) - 1  # an interior choice
_d = np.sqrt(((X_tr[:400, None] - X_tr[None, :400]) ** 2).sum(-1))
assert (
    3.5 < np.median(_d[np.triu_indices(400, 1)]) < 4.5
)  # "the median distance is about 4"
assert val_err.min() < 0.15

# %% [markdown]
# Now the test scores. The test HSIC with the linear kernel on predictions and
# $K_q = QQ^\top$ has a simple form: with $\bar f_g$ the mean prediction in
# group $g$ of size $n_g$,
#
# $$\mathrm{HSIC} = \frac1{n^2} f^\top H Q Q^\top H f
# = \sum_g \Big(\frac{n_g}{n}\Big)^2 (\bar f_g - \bar f)^2,$$
#
# a weighted gap between group means — first moments only.

# %%
Q_te = one_hot(sex_te)
Phi_te = feats.transform(X_te)


def test_hsic(f, Q=Q_te):
    """(1/n²) fᵀ H Q Qᵀ H f: biased HSIC, linear kernels on f and on the one-hot Q."""
    fc = f - f.mean()
    return float(np.sum((Q.T @ fc) ** 2)) / len(f) ** 2


def scores(f):
    """Test error, test HSIC and decision gaps of predictions f (in the units of y)."""
    d = np.sign(f)
    return dict(
        err=float(np.mean(d != y_te)),
        hsic=test_hsic(f),
        spd=statistical_parity_difference(y_te, d, sensitive_features=sex_te),
        eod=equal_opportunity_difference(y_te, d, sensitive_features=sex_te),
    )


def show(name, s):
    print(
        f"{name:24s} error {100 * s['err']:.2f}%  HSIC {s['hsic']:.2e}  "
        f"parity gap {s['spd']:.3f}  equal-opportunity gap {s['eod']:.3f}"
    )


f_krr = Phi_te @ feats.path(lam, Q_tr, [0.0])[0] * y_scale
ours = {"KRR": scores(f_krr)}
show("KRR", ours["KRR"])

# %% tags=["remove-cell"]
# The closed form of the test HSIC against fairkl's dense HSIC (linear kernels) on 2,000 rows.
_f, _Q = f_krr[:2000], Q_te[:2000]
assert (
    abs(test_hsic(_f, _Q) - float(dependence.hsic(np.outer(_f, _f), _Q @ _Q.T))) < 1e-12
)
_k = ours["KRR"]
assert (
    0.140 < _k["err"] < 0.155 and 0.010 < _k["hsic"] < 0.020 and 0.15 < _k["spd"] < 0.20
)

# %% [markdown]
# Plain KRR lands where the paper's did: an error just under 15% (the paper:
# 15.1%) and a test HSIC of about $1.5\times10^{-2}$, and its decisions give a positive answer to men
# about 0.18 more often than to women — almost the gap in the labels.
#
# ## 5. Unawareness: drop the sensitive columns
#
# The paper's "\S" variants drop $q$ from $X$. We drop all the `sex=` and
# `race=` columns (98 remain) and keep $\sigma$, $\lambda$ and the landmark
# rows.

# %%
aware = np.array(
    [not name.startswith(("sex=", "race=")) for name in data.feature_names]
)
feats_unaware = NystromFeatures(sigma, columns=aware)
f_unaware = (
    feats_unaware.transform(X_te) @ feats_unaware.path(lam, Q_tr, [0.0])[0] * y_scale
)
ours["KRR, q dropped"] = scores(f_unaware)
show("KRR, q dropped", ours["KRR, q dropped"])
drop = 1 - ours["KRR, q dropped"]["hsic"] / ours["KRR"]["hsic"]
print(f"HSIC lower by {100 * drop:.0f}%")

# %% tags=["remove-cell"]
assert aware.sum() == 98
assert 0.10 < drop < 0.30  # "only a fifth or so"
assert ours["KRR, q dropped"]["spd"] > 0.15

# %% [markdown]
# Dropping the columns lowers the test HSIC by only a fifth or so (the paper:
# 24%), and the parity gap hardly moves: marital status
# ("relationship=Husband"/"Wife"), occupation and hours per week are
# {term}`proxies <proxy>` of sex. Unawareness is not independence.
#
# ## 6. The HSIC penalty over decades of μ
#
# One factorisation gives the whole path. We sweep $\mu_c$ over eleven
# decades, $10^{-7}\dots10^3$, and convert with $\mu = n\mu_c$.

# %%
mu_c = np.logspace(-7, 3, 11)
W = feats.path(lam, Q_tr, n * mu_c)
F_te = (Phi_te @ W.T).T * y_scale  # one row of test predictions per μ
path = [scores(f) for f in F_te]
for m_c, s in zip(mu_c, path):
    show(f"FKRR-HSIC, μ_c = {m_c:.0e}", s)
at = {m_c: s for m_c, s in zip(mu_c, path)}
ours["FKRR-HSIC, μ_c = 1e-2"], ours["FKRR-HSIC, μ_c = 1e3"] = at[1e-2], at[1e3]

# %% tags=["remove-cell"]
_a, _b, _k = at[1e-2], at[1e3], ours["KRR"]
assert _k["hsic"] / _a["hsic"] > 500  # "more than 500 times lower"
assert _a["err"] - _k["err"] < 0.01  # "within a point of error"
assert _b["hsic"] < 1e-5 and _a["hsic"] < 1e-5
assert 0.07 < _a["spd"] < 0.12 and _a["spd"] < 0.6 * _k["spd"]
assert abs(path[0]["err"] - _k["err"]) < 1e-3  # μ_c = 1e-7 is plain KRR
assert _k["hsic"] / _a["hsic"] > 1000 and 0.145 < _a["err"] < 0.16
assert 0.45 < F_te[5].std() < 0.75 and 1e-7 < _a["hsic"] and 1e-7 < _b["hsic"] < 1e-5


# %% mystnb={"figure": {"caption": "Test error against test HSIC (log axis) along the HSIC path (circles, labelled by $\\mu_c$), with plain and unaware KRR; open diamonds are the paper's reference points; the grey band is where sampling noise of the test set alone puts the test HSIC (section 6). What to see: the dependence falls by more than two orders of magnitude for well under a point of error, the curve is almost flat; dropping $q$ moves HSIC only a little to the left.", "name": "fig-adult-tradeoff"}, "image": {"alt": "Scatter of test error in percent against test HSIC on a log axis. The HSIC path runs from HSIC 1.5e-2 at 14.7 percent error leftwards to about 3e-6 at 15.1 percent; paper reference diamonds sit slightly higher at similar HSIC."}}
def tradeoff_figure():
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    hs, es = [s["hsic"] for s in path], [100 * s["err"] for s in path]
    ax.semilogx(hs, es, "o-", color="tab:blue", label="FKRR-HSIC path (ours)")
    offsets = {1e-4: (-10, -14), 1e-3: (4, -12), 1e-2: (-20, -14), 1e3: (4, 6)}
    for m_c, h, e in zip(mu_c, hs, es):
        if m_c in offsets:
            ax.annotate(
                f"μ_c={m_c:.0e}",
                (h, e),
                textcoords="offset points",
                xytext=offsets[m_c],
                fontsize=8,
            )
    ax.axvspan(
        5e-7, 1e-5, color="0.9", zorder=0, label="test-sample noise floor (order)"
    )
    for name, style in [
        ("KRR", "ks"),
        ("KRR, q dropped", "k^"),
        ("CKA penalty, μ = 10", "r*"),
    ]:
        if name in ours:
            ax.plot(
                ours[name]["hsic"],
                100 * ours[name]["err"],
                style,
                ms=10,
                label=f"{name} (ours)",
            )
    for name, ref in REFERENCE.items():
        if np.isfinite(ref["err"]) and np.isfinite(ref["hsic"]):
            ax.plot(
                ref["hsic"],
                100 * ref["err"],
                "D",
                mfc="none",
                mec="tab:orange",
                ms=9,
                label="paper (a9a)" if name == "KRR" else None,
            )
    ax.set(
        xlabel="test HSIC (linear kernel on predictions, one-hot sex)",
        ylabel="test error (%)",
        title="UCI Adult, q = sex: accuracy against dependence",
        xlim=(5e-7, 3e-2),
    )
    ax.legend(fontsize=8, loc="upper right")
    plt.show()


tradeoff_figure()

# %% [markdown]
# The shape is the paper's: the test HSIC falls from $1.5\times10^{-2}$ to a
# few times $10^{-6}$ — more than 500 times lower at $\mu_c = 10^{-2}$ — while
# the error rises by less than a point. Beyond $\mu_c \approx 10^{-2}$ nothing
# changes: the training HSIC is already nearly zero (the group means of the training
# predictions are equal), and what remains on the test set is the difference
# between the training and test samples. That floor is sampling noise: with
# about 5,400 women and 10,900 men in the test file, the group means of $f$
# (standard deviation about 0.6) are uncertain by about 0.01, which alone gives
# a test HSIC of order $10^{-6}$–$10^{-5}$. Values there — ours
# ($2.6\times10^{-6}$ at $\mu_c = 10^{-2}$, $5\times10^{-6}$ at $10^3$) and
# the paper's ($2.3\times10^{-5}$, $9.0\times10^{-7}$) — all mean "the mean
# gap is gone to within sampling error", and reduction factors such as the
# paper's 652× are ratios against that noise. Our fair error is a little lower
# than the paper's (15.2% against 15.9%): the encodings differ (standardised
# rather than binned continuous columns), and we have one repetition.
#
# Now the decisions. HSIC with a linear kernel sees the *means* of the
# predictions; a decision $\operatorname{sign} f$ depends on the whole
# distribution of $f$ in each group.

# %% mystnb={"figure": {"caption": "Decision-level gaps along the HSIC path: the statistical-parity difference (rate of positive decisions, men minus women) and the equal-opportunity difference (true-positive rates). Dashed: plain KRR; dotted: the paper's parity gap at $\\mu_c = 10^{-2}$. What to see: the parity gap falls from about 0.18 but stops near 0.1, well above zero, although the mean gap (HSIC) is gone.", "name": "fig-adult-parity"}, "image": {"alt": "Two lines against mu_c on a log axis: the parity gap falls from 0.18 to a plateau near 0.1 from mu_c 1e-2 on; the equal-opportunity gap dips near mu_c 1e-4 then returns to about 0.09."}}
fig, ax = plt.subplots(figsize=(7.5, 3.8))
ax.semilogx(mu_c, [s["spd"] for s in path], "o-", label="statistical-parity difference")
ax.semilogx(mu_c, [s["eod"] for s in path], "s-", label="equal-opportunity difference")
ax.axhline(ours["KRR"]["spd"], color="tab:blue", ls="--", lw=1, label="KRR parity gap")
ax.axhline(
    REFERENCE["FKRR-HSIC, μ_c = 1e-2"]["spd"],
    color="tab:orange",
    ls=":",
    label="paper, μ_c = 1e-2",
)
ax.set(
    xlabel="μ_c (paper's units; fairkl's μ = n·μ_c)",
    ylabel="gap between men and women",
    title="The HSIC penalty narrows decision gaps, but not to zero",
    ylim=(0, 0.22),
)
ax.legend(fontsize=8)
plt.show()

# %% tags=["remove-cell"]
assert min(s["spd"] for s in path) > 0.05  # "stops well above zero"
assert path[-1]["spd"] < 0.12

# %% [markdown]
# ## 7. The CKA penalty: the whole distribution, not just the mean
#
# With one-hot groups, HSIC with a linear kernel on $f$ is zero as soon as the
# group *means* of $f$ agree. The decision rule thresholds $f$ at zero, so
# what matters is the share of each group above zero — a property of the whole
# distribution of $f$ in each group. Equal means with different spreads or
# shapes still give different positive rates. {term}`CKA` with an RBF kernel
# on $f$ (a characteristic kernel) is zero only under independence, so
# penalising it pushes the whole distributions together. It is not quadratic:
# `fairkl.lowrank.fit_cka_lowrank` minimises it by L-BFGS on the same
# landmarks. We take the reference's $\mu = 10$, with bandwidth
# $\sigma_f = 1$ on the standardised predictions (the median heuristic would
# give 0 here: most pairs of ±1 labels are equal).

# %%
cka_fit = lowrank.fit_cka_lowrank(
    X_tr, y_std, Q_tr, X_tr[landmarks], sigma, lam, 10.0, kernel_q="linear", sigma_f=1.0
)
f_cka = Phi_te @ np.asarray(cka_fit.weights) * y_scale
ours["CKA penalty, μ = 10"] = scores(f_cka)
print(f"L-BFGS: {int(cka_fit.n_iter)} iterations, converged: {bool(cka_fit.converged)}")
show("CKA penalty, μ = 10", ours["CKA penalty, μ = 10"])

# %% tags=["remove-cell"]
_c, _a = ours["CKA penalty, μ = 10"], at[1e-2]
assert bool(cka_fit.converged)
assert _c["spd"] < 0.5 * _a["spd"] and _c["spd"] < 0.04  # parity falls further
assert 0.155 < _c["err"] < 0.175  # about 16-17% error, like the paper's 16.31%
assert 0.008 < _c["err"] - _a["err"] < 0.02  # "about 1.3 more points"
assert _c["eod"] > _a["eod"]  # equal opportunity gets worse

# %% mystnb={"figure": {"caption": "The trade-off figure again, now with the CKA-penalised model (red star). What to see: it pays about 1.3 more points of error than the HSIC path for a parity gap several times smaller (see the table below); on the HSIC axis it looks no better, because HSIC with a linear kernel sees only the means.", "name": "fig-adult-tradeoff-cka"}, "image": {"alt": "The same scatter as before with a red star at about 16.5 percent error and HSIC about 4e-5."}}
tradeoff_figure()

# %% [markdown]
# The CKA model's parity gap is a small fraction of the HSIC model's (the paper:
# 0.040 against 0.077; ours is smaller still), for about 1.3 more points of
# error. Note what it costs elsewhere: the equal-opportunity gap *grows*.
# Equalising the positive rates when the base rates differ (30% against 11%)
# means rejecting qualified men or accepting unqualified women; the two
# notions of fairness conflict here, and no penalty on $f$ and $q$ alone can
# satisfy both.
#
# ## 8. Is any dependence left? An independence test
#
# A small test HSIC is a number without a scale. `fairkl.metrics.hsic_test`
# asks the question with a p-value: under the hypothesis that the test
# predictions are independent of sex, how often would a random re-pairing of
# predictions and sex give an HSIC (RBF kernels) at least as large as the one
# observed? A small p-value rejects independence; a large one does not prove
# it. With two groups every bandwidth on sex gives the same test, so we fix
# $\sigma_b = 1$.

# %%
tests = {
    name: hsic_test(f, sex_te, sigma_b=1.0, n_permutations=200, random_state=0)
    for name, f in [
        ("KRR", f_krr),
        ("KRR, q dropped", f_unaware),
        ("FKRR-HSIC, μ_c = 1e-2", F_te[list(mu_c).index(1e-2)]),
        ("CKA penalty, μ = 10", f_cka),
    ]
}
for name, res in tests.items():
    print(f"{name:24s} HSIC (RBF) {res.statistic:.2e}   p-value {res.pvalue:.3f}")

# %% tags=["remove-cell"]
assert tests["KRR"].pvalue < 0.01 and tests["KRR, q dropped"].pvalue < 0.01
assert (
    tests["FKRR-HSIC, μ_c = 1e-2"].pvalue < 0.01
)  # dependence beyond the mean remains
assert (
    tests["CKA penalty, μ = 10"].statistic
    < 0.2 * tests["FKRR-HSIC, μ_c = 1e-2"].statistic
)
assert tests["CKA penalty, μ = 10"].pvalue < 0.05

# %% [markdown]
# With 16,281 test rows the test has power to spare: every model, the fair ones
# included, is detectably dependent on sex (p at the floor $1/201$ of 200
# permutations for three of them, about 0.01 for the CKA model). For the HSIC model this is the remaining gap
# in the distributions that the decision gaps showed: its mean gap is gone but
# its RBF-HSIC is not. The CKA model's RBF-HSIC is several times smaller. "Fair"
# here means *much less dependent*, not independent.
#
# ## 9. The reproduction table


# %%
def fmt(x, spec, width):
    """x formatted, or a dash when the reference gives no number; right-aligned."""
    text = "—" if x is None or not np.isfinite(x) else format(x, spec)
    return text.rjust(width)


print(
    f"{'model':24s} {'error (paper)':>14s} {'error (ours)':>13s} {'HSIC (paper)':>13s} "
    f"{'HSIC (ours)':>12s} {'parity (paper)':>15s} {'parity (ours)':>14s}"
)
for name, ref in REFERENCE.items():
    o = ours[name]
    print(
        f"{name:24s} {fmt(ref['err'], '.2%', 14)} {fmt(o['err'], '.2%', 13)} "
        f"{fmt(ref['hsic'], '.1e', 13)} {fmt(o['hsic'], '.1e', 12)} "
        f"{fmt(ref['spd'], '.3f', 15)} "
        f"{fmt(o['spd'], '.3f', 14)}"
    )
print(
    "HSIC reduction at μ_c = 1e-2: paper 652×, "
    f"ours {ours['KRR']['hsic'] / at[1e-2]['hsic']:.0f}×"
)

# %% [markdown]
# Where we match and where we do not:
#
# * **Matched:** the baseline (error about 15%, HSIC about $1.5\times10^{-2}$,
#   parity gap about 0.17), the small effect of unawareness, the vertical shape
#   of the trade-off (orders of magnitude of HSIC for under a point of error),
#   the decision parity gap of the HSIC model stopping well above zero, and the
#   CKA penalty reaching a smaller parity gap at higher error.
# * **Different:** our errors are lower (KRR 14.6% against 15.1%, the HSIC
#   model 15.2% against 15.9%); our HSIC at $\mu_c = 10^{-2}$ is lower and at
#   $10^3$ higher than the paper's, both at the sampling floor of section 6, so
#   our "reduction" (thousands of times) is no more meaningful than the
#   paper's 652× beyond "more than two orders of magnitude"; the HSIC model's
#   parity gap is higher (about 0.09 against 0.077) and the CKA model's lower
#   (about 0.01 against 0.040). The reference HSIC for "KRR, q dropped" is
#   derived from the quoted −24%. Likely causes:
#   the encoding (our continuous columns are standardised, a9a bins them), the
#   Nyström approximation ($m = 500$), our smaller $\sigma$/$\lambda$ grid,
#   the bandwidth $\sigma_f$ of the CKA penalty, and one split instead of three
#   — the decision gaps move by a few hundredths between splits.
#
# ## Exercises
#
# ```{exercise} Race and sex together
# :label: adult-ex-race-sex
# :nonumber:
# The paper also uses $q$ = race + sex (7 one-hot columns, $K_q = QQ^\top$).
# Refit the HSIC path at $\mu_c = 10^{-2}$ with that $q$ and report the test
# HSIC with respect to the 7 columns and the parity gap over the five race
# groups, beside plain KRR. (Hint: only $P = \Phi^\top B$ changes.)
# ```
#
# ```{solution-start} adult-ex-race-sex
# :class: dropdown
# ```

# %%
Q7_tr = np.hstack([Q_tr, one_hot(data.race_train[tr])])
Q7_te = np.hstack([Q_te, one_hot(data.race_test)])
w_rs = feats.path(lam, Q7_tr, [0.0, n * 1e-2])
for label, w in zip(["KRR", "FKRR-HSIC race+sex, μ_c = 1e-2"], w_rs):
    f = Phi_te @ w * y_scale
    gap = statistical_parity_difference(
        y_te, np.sign(f), sensitive_features=data.race_test
    )
    print(
        f"{label:32s} HSIC(race+sex) {test_hsic(f, Q7_te):.2e}  "
        f"race parity gap {gap:.3f}"
    )

# %% tags=["remove-cell"]
_h0, _h1 = (test_hsic(Phi_te @ w * y_scale, Q7_te) for w in w_rs)
_g0, _g1 = (
    statistical_parity_difference(
        y_te, np.sign(Phi_te @ w), sensitive_features=data.race_test
    )
    for w in w_rs
)
assert _h1 < 0.01 * _h0 and 0.5 * _g0 < _g1 < _g0 and 0.15 < _g0 < 0.23

# %% [markdown]
# $K_q = QQ^\top$ with race and sex columns adds the two one-hot kernels, so
# the penalty equalises the mean prediction across races and across sexes at
# once (not across their intersections). The HSIC falls by orders of magnitude
# again, but the race parity gap shrinks only a little (about 0.19 to 0.17):
# the mean gaps are gone, the differences in the distributions are not, as in
# section 7.
#
# ```{solution-end}
# ```
#
# ```{exercise} How much does the low-rank kernel cost?
# :label: adult-ex-landmarks
# :nonumber:
# Repeat the KRR baseline and the $\mu_c = 10^{-2}$ fit with $m = 250$
# landmarks (half of ours) instead of 500. How much do the error and
# the test HSIC move? What would you expect from the exact kernel ($m = n$)?
# ```
#
# ```{solution-start} adult-ex-landmarks
# :class: dropdown
# ```

# %%
feats_250 = NystromFeatures(sigma, rows=landmarks[:250])
W_250 = feats_250.path(lam, Q_tr, [0.0, n * 1e-2])
Phi_te_250 = feats_250.transform(X_te)
for label, w in zip(["KRR, m = 250", "FKRR-HSIC μ_c = 1e-2, m = 250"], W_250):
    show(label, scores(Phi_te_250 @ w * y_scale))

# %% tags=["remove-cell"]
_s0 = scores(Phi_te_250 @ W_250[0] * y_scale)
assert abs(_s0["err"] - ours["KRR"]["err"]) < 0.01

# %% [markdown]
# Halving the landmarks moves the error by a few tenths of a point — here
# even downwards — which is the size of the differences between neighbouring
# cells of the validation grid: the accuracy of KRR on Adult saturates early,
# because the labels are noisy and the decision function is smooth. The test
# HSIC of the fair model moves within its sampling floor. The trade-off's
# shape does not depend on $m$; with the exact kernel ($m = n$) we would
# expect differences of the same size, at several seconds per
# factorisation.
# To see the spread between splits, rerun the whole page with other seeds in
# `np.random.default_rng(...)`; the paper averages 25.
#
# ```{solution-end}
# ```
#
# ## Key takeaways
#
# ```{admonition} Key takeaways
# :class: important
# * On UCI Adult, plain KRR decides "more than \$50K" about 0.18 more often for
#   men than for women (the labels themselves differ by 0.19); dropping sex and race from the inputs barely changes that.
# * The Fair Kernel Learning penalty (HSIC, linear kernel on predictions) cuts
#   the test HSIC by more than two orders of magnitude for under a point of
#   error, from one factorisation for every $\mu$ — the paper's result.
# * That penalty equalises the *mean* prediction of the groups; decisions
#   depend on the whole distribution, so the parity gap stops near 0.1. A CKA
#   penalty with an RBF kernel on predictions narrows it much further, at about
#   1.3 more points of error, and widens the equal-opportunity gap.
# * On held-out data every model is still measurably dependent on sex (HSIC
#   test, p < 0.01): report a test, not only a small number.
# ```
