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
# protocol with `fairkl`'s public model, put our numbers beside a run of
# that protocol, and look at what the HSIC penalty does — and does not do —
# to the decisions.
#
# ```{admonition} Learning objectives
# :class: tip
# After this chapter you can
# 1. state the paper's protocol (regression on ±1 labels scored by the sign,
#    7,000 + 7,000 rows, test on the official test file) and what we changed;
# 2. convert the paper's fairness weight $\mu_c$ into `fairkl`'s $\mu$ and
#    check the conversion numerically;
# 3. show that dropping the sensitive columns ({term}`unawareness`) barely
#    lowers the dependence of the predictions on sex;
# 4. trace the trade-off between test error and test {term}`HSIC` over
#    decades of $\mu$ from one factorisation;
# 5. tell mean-level independence (the HSIC penalty with a linear kernel on
#    predictions) from decision-level parity, and compare the paper's
#    variants with a {term}`CKA` penalty *at matched error*;
# 6. say with a p-value whether held-out predictions are still dependent on
#    sex;
# 7. look at decisions beyond one threshold: ROC within each group, a
#    threshold sweep, equalised odds, and race × sex intersections with
#    their sizes and intervals.
#
# A fair comparison with other methods (every method's setting chosen on
# validation data under one fairness budget, test results over five
# splits with paired intervals) is the
# [next chapter](fkl_adult_beyond).
# ```
#
# **Prerequisites.** Parts 1–3 of the tutorial: kernel ridge regression, HSIC
# and CKA, the fair objective and its exact μ-path. Every symbol is defined on
# the [notation page](notation).
#
# **Outline.** 1 the protocol and what differs · 2 the data and the split ·
# 3 a low-rank kernel to keep the page fast · 4 the KRR baseline ·
# 5 unawareness · 6 the HSIC penalty over decades of μ · 7 decisions ·
# 8 the paper's FKRR\S and a CKA penalty at matched error · 9 an
# independence test · 10 the reproduction table · 11 beyond the threshold
# sign(f) = 0 · 12 race × sex · exercises · key takeaways.

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
from myst_nb import glue

from fairkl import FairKernelRidge
from fairkl.datasets import load_adult
from fairkl.kernels import median_heuristic
from fairkl.metrics import (
    equal_opportunity_difference,
    hsic_test,
    statistical_parity_difference,
)

set_matplotlib_formats("svg")  # sharp figures at any zoom

# %% [markdown]
# ## 1. The protocol, and what differs
#
# The authors' public reproduction code (MATLAB) does the following, and so
# do we:
#
# * **Task.** Kernel ridge regression on labels $y \in \{-1, +1\}$ (+1:
#   income above \$50K), scored as a classifier by
#   $\operatorname{sign} f(x)$.
# * **Split.** 7,000 training and 7,000 validation rows drawn at random from
#   the training file; every score is on the 16,281 rows of the test file.
# * **Sensitive attribute.** $q$ = sex, one-hot (2 columns), kept in $X$
#   (the paper's "FKRR") or dropped from $X$ ("FKRR\S").
# * **Hyperparameters.** The RBF bandwidth $\sigma$ and the ridge $\lambda$
#   of plain KRR chosen by validation accuracy, then kept for every $\mu$.
# * **Fair model.** With $K_q = QQ^\top$ for the one-hot matrix $Q$ of $q$,
#   over decades of $\mu_c$,
#
#   $$\alpha = (\lambda I + K + \mu_c\, H K_q H K)^{-1} y .$$ (eq-adult-paper)
#
# * **Measure.** Test HSIC with a linear kernel on predictions,
#   $\tfrac1{n^2} f^\top H K_q H f$, against test error on a log axis. We
#   add two decision-level gaps: the statistical-parity difference (largest
#   minus smallest rate of positive decisions over the groups, see
#   {term}`demographic parity`) and the equal-opportunity difference (the
#   same for the true-positive rate).
#
# The paper shows its results as curves; it prints no table we could put
# beside ours. So the reference column of this chapter is **the authors'
# protocol, our run**: `benchmarks/bench_fkl_protocol.py` in the
# repository ports it to NumPy (exact $n\times n$ kernel, the authors'
# grids $\sigma \in$ `logspace(-4, 4, 10)`, $\lambda \in$
# `logspace(-4, 3, 7)`, $\mu_c \in$ `logspace(-7, 3, 25)`). Its default is
# the paper's 7,000 + 7,000 rows; for this page it was run once with
# 3,000 + 3,000 rows (`--n-train 3000 --n-val 3000`, one repetition, seed
# 0), because the exact selection grid at 7,000 rows did not finish in
# reasonable time on the shared machine that built the book. Its
# docstring gives its arguments and running time; this page does not
# re-execute it.
#
# | | authors' protocol, our run | this chapter |
# |---|---|---|
# | encoding | `load_adult()` (the paper used LIBSVM's a9a: 123 binary columns, continuous attributes binned; not shipped) | the same `load_adult()`: 105 columns, categories one-hot, the six continuous attributes standardised |
# | kernel | exact $n\times n$ | Nyström, $m = 500$ landmarks (section 3) |
# | grid | the authors' (above) | 3-by-3 grid around the {term}`median heuristic` |
# | rows | 3,000 + 3,000 (the paper: 7,000 + 7,000) | 7,000 + 7,000 |
# | repetitions | 1 (the paper: 25) | 1 (5 smaller splits in the [next chapter](fkl_adult_beyond)) |

# %%
# Authors' protocol, our run: benchmarks/bench_fkl_protocol.py
# --n-train 3000 --n-val 3000 (exact kernel, the authors' grids,
# 1 repetition, seed 0; its printed table, rounded as printed).
REFERENCE = {
    "KRR": {"err": 0.1467, "hsic": 1.54e-2, "spd": 0.164},
    "KRR \\S": {"err": 0.1475, "hsic": 1.05e-2, "spd": 0.154},
    "FKRR-HSIC, μ_c = 1e-2": {
        "err": 0.1516,
        "hsic": 6.56e-5,
        "spd": 0.082,
    },
    "FKRR-HSIC, μ_c = 1e3": {
        "err": 0.1529,
        "hsic": 5.07e-7,
        "spd": 0.075,
    },
    "FKRR\\S-HSIC, μ_c = 1e-2": {
        "err": 0.1561,
        "hsic": 2.33e-4,
        "spd": 0.050,
    },
}
REF_SIGMA, REF_LAM = 21.5, 1.47e-3  # the protocol run's choice

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
X_tr, y_tr = data.X_train[tr], data.y_train[tr]
sex_tr = data.sex_train[tr]
X_va, y_va = data.X_train[va], data.y_train[va]
X_te, y_te, sex_te = data.X_test, data.y_test, data.sex_test
n = len(y_tr)
men, women = sex_te == 0, sex_te == 1
pos_men = float(np.mean(y_te[men] > 0))
pos_women = float(np.mean(y_te[women] > 0))
print(
    f"X: {X_tr.shape[1]} columns; train {n}, validation "
    f"{len(y_va)}, test {len(y_te)} rows"
)
print(f"positive rate (test): men {pos_men:.3f}, women {pos_women:.3f}")
glue("adult_pos_men", 100 * pos_men, display=False)
glue("adult_pos_women", 100 * pos_women, display=False)
glue("adult_label_gap", pos_men - pos_women, display=False)

# %% tags=["remove-cell"]
assert X_tr.shape == (7000, 105) and X_te.shape == (16281, 105)

# %% [markdown]
# The labels themselves are far from parity: {glue:text}`adult_pos_men:.0f`%
# of men and {glue:text}`adult_pos_women:.0f`% of women in the test file
# earn more than \$50K. A perfect classifier would have a statistical-parity
# gap of {glue:text}`adult_label_gap:.3f`; any fair model must trade
# accuracy for a smaller gap.
#
# ## 3. A low-rank kernel to keep the page fast
#
# An exact fit at $n = 7{,}000$ needs a factorisation of a
# square matrix of order 7,000 per $(\sigma, \lambda)$ (70 of them on
# the authors' grid). We use instead `fairkl`'s low-rank model,
# `FairKernelRidge(n_components=500)`: a Nyström approximation with
# $m = 500$ landmark rows $Z$ drawn at random from the training set
# (`landmarks="uniform"`, seeded by `random_state`),
# $K \approx \Phi\Phi^\top$, $\Phi = K_{nZ}K_{ZZ}^{-1/2}$ ($n \times m$).
# The fair objective is the exact model's restricted to $f = \Phi w$; with
# one-hot groups its HSIC-penalised minimiser solves an $m\times m$ system,
# and one Cholesky factorisation gives it for every $\mu$
# ({py:meth}`~fairkl.models.FairKernelRidge.mu_path`). The price:
# predictions come from a 500-dimensional feature space instead of a
# 7,000-dimensional one. We compute in float64 (`dtype="float64"`).

# %%
M_LANDMARKS = 500


def fkr(**params):
    """fairkl's low-rank model on this page's landmarks."""
    return FairKernelRidge(
        n_components=M_LANDMARKS,
        landmarks="uniform",
        random_state=0,
        dtype="float64",
        **params,
    )


def decide(f):
    """Decisions ±1 from predictions (the sign of f)."""
    return np.where(f > 0, 1.0, -1.0)


def one_hot(groups):
    """One-hot columns (n, G) of integer-coded groups."""
    codes = np.unique(groups, return_inverse=True)[1]
    return np.eye(codes.max() + 1)[codes]


# %% [markdown]
# ## 4. The KRR baseline
#
# We choose $\sigma$ and $\lambda$ by validation accuracy on a 3-by-3 grid:
# $\sigma$ at half, once and twice the {term}`median heuristic` (the median
# distance between training rows, {glue:text}`adult_median:.2f` here) and
# $\lambda \in \{10^{-2}, 10^{-1}, 1\}$.
#
# Each grid point is one call of
# {py:meth}`~fairkl.models.FairKernelRidge.mu_path` with the HSIC penalty:
# its $\mu = 0$ member is plain KRR, the only member this section reads,
# and the same factorisation gives the penalised fits at every $\mu$ of
# section 6 for almost nothing more. So the path of the chosen pair is
# kept and read again in sections 5–10, not refitted. (The grid of $\mu$
# and its conversion {eq}`eq-adult-mu` are explained in section 6.)

# %%
Q_tr = one_hot(sex_tr)  # q: sex, one-hot (2 columns)
mu_c = np.logspace(-7, 3, 11)  # the paper's units, eq. (eq-adult-paper)
var_g = float(np.var(sex_tr))  # variance of the 0/1 sex indicator
mus = np.r_[0.0, n * var_g * mu_c]  # fairkl's μ: eq. (eq-adult-mu)
median = float(median_heuristic(X_tr))
sigmas, lams = [median / 2, median, 2 * median], [1e-2, 1e-1, 1.0]
val_err = np.empty((len(sigmas), len(lams)))
paths = {}
for i, s in enumerate(sigmas):
    for j, lam_j in enumerate(lams):
        hsic_model = fkr(
            sigma=s, lam=lam_j, penalty="hsic", kernel_q="linear"
        )
        paths[i, j] = hsic_model.mu_path(X_tr, y_tr, Q_tr, mus)
        f_va = paths[i, j].predict(X_va)[0]  # row 0: μ = 0, plain KRR
        val_err[i, j] = np.mean(decide(f_va) != y_va)
i, j = np.unravel_index(np.argmin(val_err), val_err.shape)
sigma, lam = sigmas[i], lams[j]
path = paths[i, j]  # the chosen pair's path, read again from section 5
hsic_model = fkr(
    sigma=sigma, lam=lam, penalty="hsic", kernel_q="linear"
)
print("validation error (%), rows σ, columns λ:")
print(np.round(100 * val_err, 2))
print(f"chosen σ = {sigma:.3g}, λ = {lam:g}")
glue("adult_median", median, display=False)
glue("adult_sigma", float(sigma), display=False)
glue("adult_lam", float(lam), display=False)

# %% tags=["remove-cell"]
assert 0 < i < len(sigmas) - 1 and 0 < j < len(lams) - 1  # interior
# fkl_adult_beyond fixes σ = the median heuristic and λ = 0.1: this pair
assert sigma == median and lam == 0.1

# %% [markdown]
# The chosen pair is inside the grid: $\sigma$ =
# {glue:text}`adult_sigma:.3g` (the median heuristic itself) and
# $\lambda$ = {glue:text}`adult_lam:g`.
#
# Now the test scores. The test HSIC with the linear kernel on predictions
# and $K_q = QQ^\top$ has a simple form: with $\bar f_g$ the mean prediction
# in group $g$ of size $n_g$,
#
# $$\mathrm{HSIC} = \frac1{n^2} f^\top H Q Q^\top H f
# = \sum_g \Big(\frac{n_g}{n}\Big)^2 (\bar f_g - \bar f)^2,$$ (eq-adult-hsic)
#
# a weighted gap between group means — first moments only.


# %%
Q_te = one_hot(sex_te)


def test_hsic(f, Q=Q_te):
    """(1/n²) fᵀ H Q Qᵀ H f, equation (eq-adult-hsic)."""
    fc = f - f.mean()
    return float(np.sum((Q.T @ fc) ** 2)) / len(f) ** 2


def scores(f):
    """Test error, test HSIC and decision gaps of predictions f."""
    d = decide(f)
    return {
        "err": float(np.mean(d != y_te)),
        "hsic": test_hsic(f),
        "spd": statistical_parity_difference(
            y_te, d, sensitive_features=sex_te
        ),
        "eod": equal_opportunity_difference(
            y_te, d, sensitive_features=sex_te
        ),
    }


def show(name, s):
    """One line: test error, HSIC, parity and equal-opportunity gaps."""
    print(
        f"{name:23s} err {100 * s['err']:5.2f}%  "
        f"HSIC {s['hsic']:.2e}  parity {s['spd']:.3f}  "
        f"eq.opp. {s['eod']:.3f}"
    )


F_te = path.predict(X_te)  # row 0: μ = 0; row k + 1: mu_c[k]
f_krr = F_te[0]  # plain KRR
ours = {"KRR": scores(f_krr)}
show("KRR", ours["KRR"])
glue("adult_krr_err", 100 * ours["KRR"]["err"], display=False)
glue("adult_krr_hsic", ours["KRR"]["hsic"], display=False)
glue("adult_krr_spd", ours["KRR"]["spd"], display=False)
glue("adult_ref_krr_err", 100 * REFERENCE["KRR"]["err"], display=False)
glue("adult_ref_krr_hsic", REFERENCE["KRR"]["hsic"], display=False)

# %% tags=["remove-cell"]
# Equation (eq-adult-hsic) against the definition tr(HKHL)/n² of the
# biased HSIC, dense in NumPy, on 500 rows.
_f, _Q = f_krr[:500], Q_te[:500]
_H = np.eye(500) - 1 / 500
_K, _L = np.outer(_f, _f), _Q @ _Q.T
_dense = float(np.trace(_H @ _K @ _H @ _L)) / 500**2
assert abs(test_hsic(_f, _Q) - _dense) < 1e-12 * max(_dense, 1e-3)
# "about the size of the label gap"
assert abs(ours["KRR"]["spd"] - (pos_men - pos_women)) < 0.03

# %% [markdown]
# Plain KRR errs on {glue:text}`adult_krr_err:.2f`% of the test rows (the
# protocol run with the exact kernel: {glue:text}`adult_ref_krr_err:.2f`%)
# at a test HSIC of {glue:text}`adult_krr_hsic:.1e` (protocol run:
# {glue:text}`adult_ref_krr_hsic:.1e`), and its decisions give a positive
# answer to men {glue:text}`adult_krr_spd:.3f` more often than to women —
# about the gap in the labels.
#
# ## 5. Unawareness: drop the sensitive columns
#
# The paper's "\S" variants drop $q$ from $X$: here the two `sex=` columns.
# We set them to zero, which for an RBF kernel is the same as dropping
# them (they no longer add to any distance) and keeps the shape of $X$, so
# that no new program is compiled. We keep $\sigma$, $\lambda$ and the
# landmark rows. The same call also gives the HSIC path without $q$ in $X$
# (section 8); its $\mu = 0$ member is plain KRR.

# %%
sex_cols = [c.startswith("sex=") for c in data.feature_names]
X_tr_s, X_te_s = X_tr.copy(), X_te.copy()
X_tr_s[:, sex_cols] = X_te_s[:, sex_cols] = 0  # = dropped, for RBF
path_s = hsic_model.mu_path(X_tr_s, y_tr, Q_tr, mus)
F_te_s = path_s.predict(X_te_s)  # one row per μ
ours["KRR \\S"] = scores(F_te_s[0])
show("KRR \\S", ours["KRR \\S"])
drop = 1 - ours["KRR \\S"]["hsic"] / ours["KRR"]["hsic"]
print(f"HSIC lower by {100 * drop:.0f}%")
glue("adult_unaware_drop", 100 * drop, display=False)
glue("adult_unaware_spd", ours["KRR \\S"]["spd"], display=False)
_ref_drop = 1 - REFERENCE["KRR \\S"]["hsic"] / REFERENCE["KRR"]["hsic"]
glue("adult_ref_unaware_drop", 100 * _ref_drop, display=False)

# %% tags=["remove-cell"]
assert sum(sex_cols) == 2
# zeroed columns = dropped columns, for the RBF kernel
_keep = ~np.array(sex_cols)
_d0 = ((X_tr_s[:50, None] - X_tr_s[None, :50]) ** 2).sum(-1)
_d1 = ((X_tr[:50, None, _keep] - X_tr[None, :50, _keep]) ** 2).sum(-1)
assert np.allclose(_d0, _d1)
assert 0 < drop < 0.5  # "less than half"
assert (
    ours["KRR \\S"]["spd"] > 0.8 * ours["KRR"]["spd"]
)  # "hardly moves"
_husband = X_tr[:, data.feature_names.index("relationship=Husband")]
assert np.corrcoef(_husband, sex_tr)[0, 1] < -0.4  # a proxy of sex

# %% [markdown]
# Dropping the columns lowers the test HSIC by
# {glue:text}`adult_unaware_drop:.0f`% (protocol run:
# {glue:text}`adult_ref_unaware_drop:.0f`%) — less than half — and the
# parity gap hardly moves ({glue:text}`adult_unaware_spd:.3f`): marital
# status ("relationship=Husband"/"Wife"), occupation and hours per week are
# {term}`proxies <proxy>` of sex. Unawareness is not independence.

# %% [markdown]
# ## 6. The HSIC penalty over decades of μ
#
# **Converting $\mu_c$.** `fairkl` solves
# $(K + \lambda I + \tfrac{\mu}{n}\tilde L K)\alpha = \tilde y$ with
# $\tilde y = y/s_y$ and $\tilde L = HLH$, where $L$ is built from $q$ as
# the model prepares it. We use `kernel_q="linear"`, which *standardises*
# each column of $q$ first (so that $\mu$ does not depend on the units of
# $q$). Both columns of the one-hot $Q$ have the variance
# $\mathrm{var}(g) = p(1-p)$ of the sex indicator ($p$: the share of women,
# here $\mathrm{var}(g)$ = {glue:text}`adult_var_g:.4f`), so
# $\tilde L = HQQ^\top H/\mathrm{var}(g)$: the penalty is
# {glue:text}`adult_inv_var_g:.2f` times the paper's. Matching
# $\tfrac{\mu}{n}\tilde L = \mu_c HK_qH$ gives
#
# $$\mu = n\,\mathrm{var}(g)\,\mu_c ,$$ (eq-adult-mu)
#
# not $n\mu_c$ (that holds for the raw one-hot $QQ^\top$; the default RBF
# kernel on $q$ changes the factor again). The scale $s_y$ does not change
# the sign of $f$. We sweep $\mu_c$ over eleven decades,
# $10^{-7}\dots10^3$: the path of section 4's chosen pair, one call of
# {py:meth}`~fairkl.models.FairKernelRidge.mu_path`, holds them all. We check
# {eq}`eq-adult-mu` by solving the paper's system {eq}`eq-adult-paper`
# directly in NumPy on the same landmarks.

# %%
hsic_path = [scores(f) for f in F_te[1:]]  # F_te: section 4's path
for m_c, s in zip(mu_c, hsic_path):
    show(f"FKRR-HSIC, μ_c = {m_c:.0e}", s)
k2, k3 = 5, 10  # mu_c = 1e-2 and 1e3
ours["FKRR-HSIC, μ_c = 1e-2"] = hsic_path[k2]
ours["FKRR-HSIC, μ_c = 1e3"] = hsic_path[k3]
glue("adult_var_g", var_g, display=False)
glue("adult_inv_var_g", 1 / var_g, display=False)

# %%
# Check of eq. (eq-adult-mu): the paper's system (eq-adult-paper) in
# the Nyström features Φ of the same landmarks, solved in NumPy.
Z, off = path.X_fit, path.X_offset  # landmarks (centred), mean of X


def k_rbf(A, B, s=sigma):
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1) - 2 * A @ B.T
    return np.exp(-np.maximum(d2, 0) / (2 * s * s))


ev, U = np.linalg.eigh(k_rbf(Z, Z))
proj = U[:, ev > 1e-12 * ev.max()] / np.sqrt(ev[ev > 1e-12 * ev.max()])
Phi = k_rbf(X_tr - off, Z) @ proj
P = Phi.T @ (Q_tr - Q_tr.mean(0))  # Φᵀ H Q
A = Phi.T @ Phi + lam * np.eye(len(ev[ev > 1e-12 * ev.max()]))
w = np.linalg.solve(A + mu_c[k2] * P @ P.T, Phi.T @ y_tr)
Phi_te = k_rbf(X_te[:2000] - off, Z) @ proj  # 2,000 test rows
f_paper = Phi_te @ w
f_fairkl = F_te[k2 + 1, :2000]
gap = np.max(np.abs(f_paper - f_fairkl)) / np.max(np.abs(f_paper))
print(f"μ_c = 1e-2: largest difference {gap:.1e} (relative)")
glue("adult_conversion_gap", float(gap), display=False)

# %% tags=["remove-cell"]
assert gap < 1e-8, gap
assert abs(mu_c[k2] - 1e-2) < 1e-12 and abs(mu_c[k3] - 1e3) < 1e-6
# the same check fails without the factor var(g) (μ = n μ_c):
_w = np.linalg.solve(A + mu_c[k2] / var_g * P @ P.T, Phi.T @ y_tr)
assert np.max(np.abs(Phi_te @ _w - f_fairkl)) > 1e-3
# μ = 0 is plain KRR: (ΦᵀΦ + λI) w = Φᵀy in NumPy
_w0 = np.linalg.solve(A, Phi.T @ y_tr)
_f0 = Phi_te @ _w0
assert np.max(np.abs(_f0 - F_te[0, :2000])) < 1e-8 * np.max(np.abs(_f0))

# %% [markdown]
# The two agree to {glue:text}`adult_conversion_gap:.0e` (relative), so
# {eq}`eq-adult-mu` is the conversion for this model.
#
# **How small is small?** After the penalty the training group means are
# equal, and what remains on the test set is the difference between the
# training and test samples. With equal population means, the difference
# $\Delta$ of the two test-group means has variance
# $s_f^2(1/n_1 + 1/n_2)$, and by {eq}`eq-adult-hsic` the test HSIC is
# $2(n_1n_2/n^2)^2\Delta^2$: its expectation, the *sampling floor*, is
# {glue:text}`adult_floor:.1e` here ($s_f$ from the fair predictions), and
# ninety per cent of samples fall between the 5th and 95th percentiles of
# $\chi^2_1$ times it (the grey band below).

# %%
n1, n2 = men.sum(), women.sum()
s_f = float(F_te[k2 + 1].std())
floor = 2 * (n1 * n2 / len(y_te) ** 2) ** 2 * s_f**2 * (1 / n1 + 1 / n2)
band = (0.00393 * floor, 3.841 * floor)  # χ²₁ 5th and 95th percentiles
glue("adult_floor", float(floor), display=False)
print(
    f"sampling floor of the test HSIC {floor:.1e}, "
    f"band {band[0]:.1e} to {band[1]:.1e}"
)

# %% tags=["remove-cell"]
from scipy.stats import chi2

assert np.allclose(band, chi2.ppf([0.05, 0.95], 1) * floor, rtol=1e-3)
_k, _a, _b = ours["KRR"], hsic_path[k2], hsic_path[k3]
assert _k["hsic"] / _a["hsic"] > 100  # "more than two orders"
assert _a["err"] - _k["err"] < 0.01  # "less than a point of error"
assert _a["hsic"] < band[1] and _b["hsic"] < band[1]  # "in the band"
# "beyond 1e-2 nothing changes"
assert all(abs(s["err"] - _a["err"]) < 1e-3 for s in hsic_path[k2:])
assert all(abs(s["spd"] - _a["spd"]) < 0.01 for s in hsic_path[k2:])
glue("adult_hsic_ratio", _k["hsic"] / _a["hsic"], display=False)
glue("adult_hsic_2", _a["hsic"], display=False)
glue("adult_hsic_3", _b["hsic"], display=False)
glue("adult_err_2", 100 * _a["err"], display=False)
glue("adult_derr_2", 100 * (_a["err"] - _k["err"]), display=False)
_r = REFERENCE["FKRR-HSIC, μ_c = 1e-2"]
assert _r["hsic"] > band[1]  # "still above the band"
assert REFERENCE["FKRR-HSIC, μ_c = 1e3"]["hsic"] < band[1]  # "reaches"
glue("adult_ref_hsic_2", _r["hsic"], display=False)
glue("adult_ref_err_2", 100 * _r["err"], display=False)
glue(
    "adult_ref_ratio",
    REFERENCE["KRR"]["hsic"] / _r["hsic"],
    display=False,
)


# %% mystnb={"figure": {"caption": "Test error against test HSIC (log axis) along the HSIC path (circles, some labelled by $\\mu_c$), with plain and unaware KRR; open diamonds: the authors' protocol, our run with the exact kernel. The grey band is where sampling noise of the test set alone puts the test HSIC when the population means are equal. What to see: the dependence falls by more than two orders of magnitude for less than a point of error, and the fair end of the path lies in the band.", "name": "fig-adult-tradeoff"}, "image": {"alt": "Scatter of test error in percent against test HSIC on a log axis. The HSIC path runs leftwards from plain KRR at the right into a grey band at the left, rising by less than a point of error; open diamonds of the protocol run sit near the path's ends."}}
def tradeoff_figure():
    _, ax = plt.subplots(figsize=(7.5, 4.4))
    hs = [s["hsic"] for s in hsic_path]
    es = [100 * s["err"] for s in hsic_path]
    ax.semilogx(hs, es, "o-", color="tab:blue", label="FKRR-HSIC path")
    for k, xy, text in [
        (3, (-62, -14), "μ_c=1e-4"),
        (4, (-24, 8), "μ_c=1e-3"),
        (5, (-30, -16), "μ_c ≥ 1e-2"),
    ]:
        ax.annotate(
            text,
            (hs[k], es[k]),
            textcoords="offset points",
            xytext=xy,
            fontsize=8,
        )
    ax.axvspan(*band, color="0.9", zorder=0, label="sampling band")
    for name, style in [("KRR", "ks"), ("KRR \\S", "k^")]:
        s = ours[name]
        ax.plot(s["hsic"], 100 * s["err"], style, ms=9, label=name)
    tags = ["KRR", "KRR \\S", "1e-2", "1e3", "\\S, 1e-2"]
    for k, (tag, ref) in enumerate(zip(tags, REFERENCE.values())):
        ax.plot(
            ref["hsic"],
            100 * ref["err"],
            "D",
            mfc="none",
            mec="tab:orange",
            ms=9,
            label="protocol run (exact)" if k == 0 else None,
        )
        ax.annotate(
            tag,
            (ref["hsic"], 100 * ref["err"]),
            textcoords="offset points",
            xytext=(-8, 8),
            ha="right",
            fontsize=7,
            color="tab:orange",
        )
    x = [s["hsic"] for s in ours.values()]
    x += [r["hsic"] for r in REFERENCE.values()] + list(band)
    y = [100 * s["err"] for s in ours.values()]
    y += [100 * r["err"] for r in REFERENCE.values()]
    ax.set_xlim(min(x) / 3, max(x) * 3)  # every point inside
    ax.set_ylim(min(y) - 0.3, max(y) + 0.3)
    ax.set(
        xlabel="test HSIC (linear kernel on f, one-hot sex)",
        ylabel="test error (%)",
        title="UCI Adult, q = sex: accuracy against dependence",
    )
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    plt.show()


tradeoff_figure()

# %% [markdown]
# The shape is the paper's: the test HSIC falls from
# {glue:text}`adult_krr_hsic:.1e` to {glue:text}`adult_hsic_2:.1e` at
# $\mu_c = 10^{-2}$ — {glue:text}`adult_hsic_ratio:.0f` times lower — while
# the error rises by {glue:text}`adult_derr_2:.2f` points, to
# {glue:text}`adult_err_2:.2f`% (protocol run:
# {glue:text}`adult_ref_err_2:.2f`% at {glue:text}`adult_ref_hsic_2:.1e`).
# Beyond $\mu_c \approx 10^{-2}$ nothing changes: the training group means
# are already equal, and our test HSIC at $\mu_c = 10^{-2}$ and $10^3$
# ({glue:text}`adult_hsic_3:.1e`) lies in the sampling band. Our reduction
# factor of {glue:text}`adult_hsic_ratio:.0f`× is therefore a ratio against
# sampling noise; "more than two orders of magnitude" is what it supports.
# The protocol run with the exact kernel (and fewer rows) lowers the HSIC
# {glue:text}`adult_ref_ratio:.0f`-fold at $\mu_c = 10^{-2}$, still above
# the band, and reaches the band at $\mu_c = 10^3$.

# %% [markdown]
# ## 7. The decisions
#
# HSIC with a linear kernel sees the *means* of the predictions; a decision
# $\operatorname{sign} f$ depends on the whole distribution of $f$ in each
# group. How precisely does the test set measure a parity gap? For a gap
# between the positive rates $r_1, r_2$ of groups of sizes $n_1, n_2$, one
# standard error is $\sqrt{r_1(1-r_1)/n_1 + r_2(1-r_2)/n_2}$, about
# {glue:text}`adult_se:.3f` here: differences of that size are noise of
# the test sample alone (other splits add variation that one split cannot
# measure).


# %%
def gap_se(f):
    """Standard error of the parity gap of decisions sign(f)."""
    d = decide(f) > 0
    r1, r2 = d[men].mean(), d[women].mean()
    return float(np.sqrt(r1 * (1 - r1) / n1 + r2 * (1 - r2) / n2))


se = gap_se(F_te[k2 + 1])
glue("adult_se", se, display=False)
spd_path = np.array([s["spd"] for s in hsic_path])
eod_path = np.array([s["eod"] for s in hsic_path])
glue("adult_spd_2", float(spd_path[k2]), display=False)
glue("adult_spd_min", float(spd_path.min()), display=False)
glue("adult_eod_krr", ours["KRR"]["eod"], display=False)
glue("adult_eod_2", float(eod_path[k2]), display=False)
_ref = REFERENCE["FKRR-HSIC, μ_c = 1e-2"]["spd"]
glue("adult_ref_spd_2", _ref, display=False)

# %% tags=["remove-cell"]
assert spd_path.min() > 5 * se  # "stops well above zero"
# fkl_adult_beyond fixes its budget B = 0.06 below this plateau
assert spd_path.min() > 0.06
assert spd_path[k2] < ours["KRR"]["spd"] - 5 * se  # "falls"
assert abs(gap_se(f_krr) - se) < 0.001  # "about ... here"


# %% mystnb={"figure": {"caption": "Decision-level gaps along the HSIC path: the statistical-parity difference (rate of positive decisions) and the equal-opportunity difference (true-positive rates), largest minus smallest over men and women. Dashed: plain KRR's parity gap; dotted: the protocol run's parity gap at $\\mu_c = 10^{-2}$. What to see: the parity gap falls but stops well above zero, although the mean gap (HSIC) is gone.", "name": "fig-adult-parity"}, "image": {"alt": "Two lines against mu_c on a log axis: the parity gap falls from the plain-KRR level to a plateau well above zero; the equal-opportunity gap dips in the middle of the range, then rises again."}}
fig, ax = plt.subplots(figsize=(7.5, 3.8))
ax.semilogx(mu_c, spd_path, "o-", label="statistical-parity difference")
ax.semilogx(mu_c, eod_path, "s-", label="equal-opportunity difference")
ax.axhline(
    ours["KRR"]["spd"], color="tab:blue", ls="--", lw=1,
    label="KRR parity gap",
)  # fmt: skip
ax.axhline(
    _ref, color="tab:orange", ls=":", label="protocol run, μ_c=1e-2"
)
ax.set(
    xlabel="μ_c (paper's units; fairkl's μ = n·var(g)·μ_c)",
    ylabel="gap between men and women",
    title="The HSIC penalty narrows decision gaps, but not to zero",
    ylim=(0, 1.15 * max(spd_path.max(), eod_path.max(), _ref)),
)
ax.legend(fontsize=8, loc="upper right")
plt.show()

# %% [markdown]
# The parity gap falls from {glue:text}`adult_krr_spd:.3f` to
# {glue:text}`adult_spd_2:.3f` at $\mu_c = 10^{-2}$ (protocol run:
# {glue:text}`adult_ref_spd_2:.3f`) and stops there, many standard errors
# above zero (its lowest value on the path is
# {glue:text}`adult_spd_min:.3f`): the mean gap is gone, the differences
# in the distributions of $f$ are not. The equal-opportunity gap moves
# from {glue:text}`adult_eod_krr:.3f` to {glue:text}`adult_eod_2:.3f`.
#
# ## 8. Further along: the paper's FKRR\S, and a CKA penalty
#
# Two ways to push the parity gap lower:
#
# * **FKRR\S**, the paper's other variant: drop $q$ from $X$ *and* apply
#   the HSIC penalty (the path computed in section 5). Without the `sex=`
#   columns, the model cannot give the two groups different offsets, and
#   equal means have to come from the proxies.
# * **A CKA penalty** (not in the paper). {term}`CKA` with an RBF kernel on
#   $f$ (a characteristic kernel) is zero only under independence, so
#   penalising it acts on the whole distributions of $f$, not only their
#   means. It is not quadratic: `FairKernelRidge(penalty="cka")` minimises
#   it by L-BFGS on the same landmarks. Its bandwidth $\sigma_f$ on the
#   predictions comes from fairkl's median heuristic on the training
#   labels, which leaves out zero distances: with ±1 labels the only
#   non-zero distance is 2, so $\sigma_f$ = {glue:text}`adult_sigma_f:.2f`
#   in label units ({glue:text}`adult_sigma_f_std:.2f` on the standardised
#   labels $\tilde y$). We fit $\mu \in \{1, 3, 10\}$ (fairkl's units; CKA
#   is invariant to the scale of $L$, so no conversion applies).

# %%
cka, f_cka = {}, {}  # the fits and their test predictions
for mu in (1.0, 3.0, 10.0):
    model = fkr(
        sigma=sigma, lam=lam, mu=mu, penalty="cka", kernel_q="linear"
    ).fit(X_tr, y_tr, q=Q_tr)
    cka[mu], f_cka[mu] = model, model.predict(X_te)
    ours[f"CKA penalty, μ = {mu:g}"] = scores(f_cka[mu])
    print(
        f"μ = {mu:g}: {model.n_iter_} L-BFGS steps, converged "
        f"{model.converged_}, σ_f = {model.sigma_f_:.3f}"
    )
    show(f"CKA penalty, μ = {mu:g}", ours[f"CKA penalty, μ = {mu:g}"])
s_path = [scores(f) for f in F_te_s[1:]]
ours["FKRR\\S-HSIC, μ_c = 1e-2"] = s_path[k2]
show("FKRR\\S-HSIC, μ_c = 1e-2", s_path[k2])
glue("adult_sigma_f", cka[1.0].sigma_f_, display=False)
glue(
    "adult_sigma_f_std",
    float(cka[1.0].sigma_f_ / np.std(y_tr)),
    display=False,
)

# %% tags=["remove-cell"]
assert all(m.converged_ for m in cka.values())
assert abs(cka[1.0].sigma_f_ - 2.0) < 1e-9  # "the only distance is 2"


# %%
def gap_at_error(path_scores, e):
    """Parity gap along a path (in μ order), linear in error, at e."""
    errs = [s["err"] for s in path_scores]
    gaps = [s["spd"] for s in path_scores]
    for a in range(len(errs) - 1):
        lo, hi = errs[a], errs[a + 1]
        if min(lo, hi) <= e <= max(lo, hi) and lo != hi:
            t = (e - lo) / (hi - lo)
            return gaps[a] + t * (gaps[a + 1] - gaps[a])
    return np.nan


cka_path = [ours["KRR"]] + [
    ours[f"CKA penalty, μ = {mu:g}"] for mu in (1, 3, 10)
]
c1, c10 = cka_path[1], cka_path[3]
at_c1 = gap_at_error([ours["KRR"]] + hsic_path, c1["err"])
s2 = s_path[k2]
at_s2 = gap_at_error(cka_path, s2["err"])
print(
    f"at CKA μ = 1's error: HSIC path {at_c1:.3f}, CKA {c1['spd']:.3f}"
)
print(f"at FKRR\\S's error: FKRR\\S {s2['spd']:.3f}, CKA {at_s2:.3f}")
glue("adult_c1_err", 100 * c1["err"], display=False)
glue("adult_c1_spd", c1["spd"], display=False)
glue("adult_h_at_c1", float(at_c1), display=False)
glue("adult_c10_err", 100 * c10["err"], display=False)
glue("adult_c10_spd", c10["spd"], display=False)
glue("adult_c10_eod", c10["eod"], display=False)
glue("adult_s2_err", 100 * s2["err"], display=False)
glue("adult_s2_spd", s2["spd"], display=False)
glue("adult_s2_eod", s2["eod"], display=False)
glue("adult_c_at_s2", float(at_s2), display=False)

# %% tags=["remove-cell"]
assert np.isfinite(at_c1) and np.isfinite(at_s2)
assert abs(at_c1 - c1["spd"]) < se  # "no gain at matched error"
assert c10["spd"] < spd_path.min() - 2 * se  # "reaches further"
assert c10["err"] > max(s["err"] for s in hsic_path)  # "at more error"
assert abs(at_s2 - s2["spd"]) < 2 * se  # "about as low as CKA"
assert s2["spd"] < spd_path.min() - 2 * se  # "below the HSIC path"
# both widen the equal-opportunity gap
assert min(c10["eod"], s2["eod"]) > ours["KRR"]["eod"] + 2 * se


# %% mystnb={"figure": {"caption": "Parity gap against test error: the HSIC path with sex in X (circles), the paper's FKRR\\S path (sex dropped from X and penalised, squares) and the CKA penalty (stars, from plain KRR through three values of mu), each line in the order of increasing penalty; bars: one standard error of the test sample. What to see: at equal error the CKA and HSIC curves coincide; the CKA penalty and FKRR\\S reach smaller gaps than the HSIC path, at more error.", "name": "fig-adult-tradeoff-cka"}, "image": {"alt": "Three curves of parity gap against test error in percent. All start at plain KRR at the upper left; the HSIC path descends and stops at the highest plateau; the FKRR-S path and the CKA stars continue down to smaller gaps at higher error, close to each other."}}
fig, ax = plt.subplots(figsize=(7.5, 4.4))
curves = [
    ("FKRR-HSIC path (sex in X)", [ours["KRR"]] + hsic_path, "o-"),
    (
        "FKRR\\S-HSIC path (sex dropped)",
        [ours["KRR \\S"]] + s_path,
        "s-",
    ),
    ("CKA penalty, μ = 0, 1, 3, 10", cka_path, "*-"),
]
for label, pts, style in curves:
    e = [100 * s["err"] for s in pts]
    g = [s["spd"] for s in pts]
    ax.plot(e, g, style, ms=9, label=label)
for mu, s in zip((1, 3, 10), cka_path[1:]):
    ax.errorbar(100 * s["err"], s["spd"], yerr=se, color="tab:green")
    ax.annotate(
        f"μ={mu}",
        (100 * s["err"], s["spd"]),
        textcoords="offset points",
        xytext=(-6, -14),
        ha="right",
        fontsize=8,
        color="tab:green",
    )
every = [s for _, pts, _ in curves for s in pts]
e_all = [100 * s["err"] for s in every]
g_all = [s["spd"] for s in every]
ax.set_xlim(min(e_all) - 0.2, max(e_all) + 0.2)
ax.set_ylim(0, max(g_all) + 0.02)
ax.set(
    xlabel="test error (%)",
    ylabel="statistical-parity difference",
    title="Decision parity against error: three ways to trade",
)
ax.legend(fontsize=8, loc="upper right")
plt.show()

# %% [markdown]
# Read the figure at equal error, not at equal $\mu$:
#
# * **At matched error the CKA penalty gains nothing.** The CKA model with
#   $\mu = 1$ errs on {glue:text}`adult_c1_err:.2f`% with a parity gap of
#   {glue:text}`adult_c1_spd:.3f`; the HSIC path at the same error has
#   {glue:text}`adult_h_at_c1:.3f` — a difference smaller than one standard
#   error.
# * **The CKA penalty reaches further along the trade-off.** At $\mu = 10$
#   its gap is {glue:text}`adult_c10_spd:.3f`, below anything the HSIC path
#   reaches ({glue:text}`adult_spd_min:.3f`), at
#   {glue:text}`adult_c10_err:.2f`% error — more than the HSIC path ever
#   costs.
# * **The paper's FKRR\S gets there too.** At $\mu_c = 10^{-2}$ it reaches a
#   gap of {glue:text}`adult_s2_spd:.3f` at {glue:text}`adult_s2_err:.2f`%
#   error; the CKA curve at that error gives
#   {glue:text}`adult_c_at_s2:.3f`, within two standard errors. So "you
#   need a CKA penalty for a small parity gap" is not what this split shows:
#   dropping $q$ from $X$ and penalising the mean gap gets as far at the
#   same error. What the CKA penalty adds is a knob that keeps going
#   (larger $\mu$) with $q$ left in $X$. One split cannot say more: a
#   comparison between methods needs repeated splits (the
#   [next chapter](fkl_adult_beyond)).
#
# Both routes cost elsewhere: the equal-opportunity gap *widens*, to
# {glue:text}`adult_c10_eod:.3f` (CKA, $\mu = 10$) and
# {glue:text}`adult_s2_eod:.3f` (FKRR\S), from
# {glue:text}`adult_eod_krr:.3f` for plain KRR. With base rates of
# {glue:text}`adult_pos_men:.0f`% and {glue:text}`adult_pos_women:.0f`%,
# equal positive rates and equal true-positive rates can hold together
# only if the groups get different false-positive rates; a penalty on the
# dependence between $f$ and $q$ does not aim at that, and here, as it
# equalised the positive rates, the true-positive rates moved apart. (The
# well-known impossibility results are about something else: calibration
# together with equal error rates
# {cite:p}`kleinberg2017inherent,chouldechova2017fair`.)
#
# ## 9. Is any dependence left? An independence test
#
# A small test HSIC is a number without a scale.
# `fairkl.metrics.hsic_test` asks the question with a p-value: under the
# hypothesis that the test predictions are independent of sex, how often
# would a random re-pairing of predictions and sex give an HSIC (RBF
# kernels) at least as large as the one observed? A small p-value rejects
# independence; a large one does not prove it. With two groups every
# bandwidth on sex gives the same test, so we fix $\sigma_b = 1$; on the
# predictions we fix one bandwidth for every model (the median heuristic
# of plain KRR's predictions), so that the statistics are comparable.

# %%
sigma_a = float(median_heuristic(f_krr[:, None]))
f_cka10 = f_cka[10.0]  # section 8's test predictions
tests = {
    name: hsic_test(
        f,
        sex_te,
        sigma_a=sigma_a,
        sigma_b=1.0,
        n_permutations=200,
        random_state=0,
    )
    for name, f in [
        ("KRR", f_krr),
        ("KRR \\S", F_te_s[0]),
        ("FKRR-HSIC, μ_c = 1e-2", F_te[k2 + 1]),
        ("CKA penalty, μ = 10", f_cka10),
    ]
}
for name, res in tests.items():
    print(
        f"{name:24s} HSIC (RBF) {res.statistic:.2e}   "
        f"p-value {res.pvalue:.3f}"
    )
rbf_ratio = (
    tests["FKRR-HSIC, μ_c = 1e-2"].statistic
    / tests["CKA penalty, μ = 10"].statistic
)
glue("adult_rbf_ratio", float(rbf_ratio), display=False)
p_max = max(r.pvalue for r in tests.values())
glue("adult_p_max", float(p_max), display=False)

# %% tags=["remove-cell"]
assert p_max <= 1 / 201 + 1e-12  # "every p-value at the floor"
assert rbf_ratio > 1  # "smaller"

# %% [markdown]
# With 16,281 test rows the test has power to spare: every model, the fair
# ones included, is detectably dependent on sex (every p-value is
# {glue:text}`adult_p_max:.3f`, the floor $1/201$ of 200 permutations).
# The CKA model's RBF-HSIC is {glue:text}`adult_rbf_ratio:.1f` times
# smaller than the HSIC model's — the CKA penalty removes more of the
# dependence beyond the mean — but not zero. "Fair" here means *less
# dependent*, not independent.
#
# ## 10. The reproduction table
#
# Ours: this page's low-rank model. Protocol run: the authors' protocol
# with the exact kernel, `benchmarks/bench_fkl_protocol.py` (one
# repetition). The paper has no CKA model, so those rows have no reference.


# %%
def fmt(x, spec, width):
    """x formatted, or a dash for no number; right-aligned."""
    text = "—" if x is None or not np.isfinite(x) else format(x, spec)
    return text.rjust(width)


print(
    f"{'model':24s} {'error':>14s} {'test HSIC':>20s} "
    f"{'parity gap':>14s}\n{'':24s} {'protocol':>7s}{'ours':>7s} "
    f"{'protocol':>10s}{'ours':>10s} {'protocol':>8s}{'ours':>6s}"
)
for name, o in ours.items():
    r = REFERENCE.get(name, {})
    print(
        f"{name:24s} {fmt(r.get('err'), '.2%', 7)}"
        f"{fmt(o['err'], '.2%', 7)} {fmt(r.get('hsic'), '.1e', 10)}"
        f"{fmt(o['hsic'], '.1e', 10)} {fmt(r.get('spd'), '.3f', 8)}"
        f"{fmt(o['spd'], '.3f', 6)}"
    )

# %%
diffs = {
    name: ours[name]["err"] - REFERENCE[name]["err"]
    for name in REFERENCE
}
spd_diffs = {
    name: ours[name]["spd"] - REFERENCE[name]["spd"]
    for name in REFERENCE
}
glue(
    "adult_derr_max", 100 * max(map(abs, diffs.values())), display=False
)
dspd_max = max(map(abs, spd_diffs.values()))
glue("adult_dspd_max", dspd_max, display=False)
glue("adult_dspd_se", dspd_max / se, display=False)
glue("adult_ref_sigma", REF_SIGMA, display=False)
glue("adult_ref_lam", REF_LAM, display=False)

# %% tags=["remove-cell"]
assert max(map(abs, diffs.values())) < 0.01  # "within a point"
assert all(
    REFERENCE["KRR"]["hsic"] / REFERENCE[k]["hsic"] > 100
    for k in ("FKRR-HSIC, μ_c = 1e-2", "FKRR-HSIC, μ_c = 1e3")
)  # the protocol run: more than two orders of magnitude too
assert REFERENCE["KRR \\S"]["hsic"] > 0.5 * REFERENCE["KRR"]["hsic"]
assert all(d > 0 for d in spd_diffs.values())  # "smaller on every row"
assert REF_SIGMA > 2 * sigma and REF_LAM < lam / 10  # "much wider σ"
_rk, _r2 = REFERENCE["KRR"], REFERENCE["FKRR-HSIC, μ_c = 1e-2"]
assert _r2["err"] - _rk["err"] < 0.01  # "less than a point", both
assert _r2["spd"] > 5 * se  # "well above zero", both
assert (
    REFERENCE["FKRR\\S-HSIC, μ_c = 1e-2"]["spd"]
    < REFERENCE["FKRR-HSIC, μ_c = 1e-2"]["spd"]
)  # FKRR\S narrows the parity gap more in the protocol run too

# %% [markdown]
# Where the low-rank chapter and the exact protocol run agree and where
# they do not:
#
# * **Agree:** every error within {glue:text}`adult_derr_max:.2f` points;
#   unawareness lowering the HSIC by less than half; the HSIC falling by
#   more than two orders of magnitude for less than a point of error; the
#   parity gap of the HSIC model stopping well above zero, and FKRR\S
#   narrowing it further.
# * **Differ:** the protocol run's parity gaps are smaller on every row,
#   by up to {glue:text}`adult_dspd_max:.3f` (about
#   {glue:text}`adult_dspd_se:.1f` standard errors of the test sample).
#   The two models differ in the kernel (500 landmarks against the exact
#   kernel), the grid (a 3-by-3 grid around the median heuristic against
#   the authors' wide grid, which chose $\sigma$ =
#   {glue:text}`adult_ref_sigma:.3g` and $\lambda$ =
#   {glue:text}`adult_ref_lam:.2g`) and the number of training rows; one split each cannot say
#   which of these moves the gaps. The small HSIC values at large $\mu_c$
#   are at the sampling floor in both, so their ratios carry no more than
#   "more than two orders of magnitude".

# %% [markdown]
# ## 11. Beyond the threshold sign(f) = 0
#
# A parity gap at $\operatorname{sign} f$ describes one threshold. Three
# more views of the four models of sections 4–8 (plain KRR, FKRR-HSIC and
# FKRR\S at $\mu_c = 10^{-2}$, the CKA penalty at $\mu = 10$), all from
# `fairkl.metrics`:
#
# * **ROC within each sex** and its area (AUC): how well $f$ ranks the
#   people of one group, whatever the threshold;
# * **a threshold sweep**: the decisions $f \ge t$ over a grid of $t$,
#   with the error and the parity gap of each;
# * **equalised odds** at $t = 0$: the differences between the sexes in
#   the true-positive rate (TPR) and in the false-positive rate (FPR), and
#   the larger of the two, the equalised-odds difference
#   {cite:p}`hardt2016equality`.

# %%
from fairkl.metrics import (
    equalized_odds_difference,
    false_positive_rate_difference,
    group_auc,
    group_roc,
    group_table,
    intersect,
    threshold_sweep,
    true_positive_rate_difference,
)

sex_name = np.where(sex_te == 0, "men", "women")
scored = {  # test predictions f of four models of sections 4-8
    "KRR": f_krr,
    "FKRR-HSIC, μ_c = 1e-2": F_te[k2 + 1],
    "FKRR\\S-HSIC, μ_c = 1e-2": F_te_s[k2 + 1],
    "CKA penalty, μ = 10": f_cka10,
}
odds = {}
for name, f in scored.items():
    d, kw = decide(f), {"sensitive_features": sex_name}
    auc = group_auc(y_te, f, **kw)
    odds[name] = {
        "auc_men": float(auc["men"]),
        "auc_women": float(auc["women"]),
        "tpr": true_positive_rate_difference(y_te, d, **kw),
        "fpr": false_positive_rate_difference(y_te, d, **kw),
        "eqo": equalized_odds_difference(y_te, d, **kw),
    }
    o = odds[name]
    print(
        f"{name:23s} AUC men {o['auc_men']:.3f} women "
        f"{o['auc_women']:.3f}\n{'':23s} gaps: TPR {o['tpr']:.3f}, FPR "
        f"{o['fpr']:.3f}, equalised odds {o['eqo']:.3f}"
    )
glue("adult_auc_krr_m", odds["KRR"]["auc_men"], display=False)
glue("adult_auc_krr_w", odds["KRR"]["auc_women"], display=False)

# %% tags=["remove-cell"]
_krr, _hs = odds["KRR"], odds["FKRR-HSIC, μ_c = 1e-2"]
_bl, _ck = odds["FKRR\\S-HSIC, μ_c = 1e-2"], odds["CKA penalty, μ = 10"]
_g = ("auc_men", "auc_women")
_d_hs = max(abs(_hs[g] - _krr[g]) for g in _g)
_d_ck = max(abs(_ck[g] - _krr[g]) for g in _g)
_d_bl = min(_krr[g] - _bl[g] for g in _g)
assert _d_hs < 0.002  # "unchanged to the third decimal"
assert _d_ck < 0.01  # "within 0.01"
assert _d_bl > 0  # "ranks less well within each sex"
assert all(o["fpr"] < _krr["fpr"] / 3 for o in (_hs, _bl, _ck))
assert _hs["tpr"] < _krr["tpr"]  # HSIC: TPR gap smaller
assert min(_bl["eqo"], _ck["eqo"]) > _krr["eqo"]  # "widen it"
assert all(o["eqo"] == o["tpr"] for o in odds.values())  # "decides"
glue("adult_auc_d_hs", float(_d_hs), display=False)
glue("adult_auc_d_ck", float(_d_ck), display=False)
glue("adult_auc_d_bl", float(_d_bl), display=False)
glue("adult_fpr_krr", _krr["fpr"], display=False)
_fpr_fair = max(o["fpr"] for o in (_hs, _bl, _ck))
glue("adult_fpr_fair", float(_fpr_fair), display=False)
glue("adult_tpr_krr", _krr["tpr"], display=False)
glue("adult_eqo_hs", _hs["eqo"], display=False)
glue("adult_eqo_bl", _bl["eqo"], display=False)
glue("adult_eqo_ck", _ck["eqo"], display=False)

# %% [markdown]
# Within each sex the penalties with sex in $X$ hardly change the
# ranking. The HSIC penalty changes no group's AUC by more than
# {glue:text}`adult_auc_d_hs:.4f`, the CKA penalty by at most
# {glue:text}`adult_auc_d_ck:.3f` (plain KRR:
# {glue:text}`adult_auc_krr_m:.3f` among men,
# {glue:text}`adult_auc_krr_w:.3f` among women); FKRR\S, which loses the
# `sex=` columns, ranks less well within each sex (AUC lower by at least
# {glue:text}`adult_auc_d_bl:.3f`).
#
# At $t = 0$ every fair model narrows the false-positive-rate gap, from
# {glue:text}`adult_fpr_krr:.3f` to at most
# {glue:text}`adult_fpr_fair:.3f`. The true-positive-rate gap (plain KRR:
# {glue:text}`adult_tpr_krr:.3f`) decides the equalised-odds difference:
# the HSIC model lowers it to {glue:text}`adult_eqo_hs:.3f`, while the
# two models with the smaller parity gaps widen it, to
# {glue:text}`adult_eqo_bl:.3f` (FKRR\S) and
# {glue:text}`adult_eqo_ck:.3f` (CKA) — the price of equal positive
# rates when the base rates differ (section 8).


# %% mystnb={"figure": {"caption": "Left: ROC curves of plain KRR and of the CKA model within each sex. Right: one threshold t moved over the scores of each model (decisions f >= t); each line is a model's parity gap against its test error, the marker its threshold t = 0. What to see: within each sex the CKA model's ROC curve lies close to plain KRR's; moving one threshold on plain KRR lowers its parity gap only at more error than the fair models pay at t = 0.", "name": "fig-adult-sweep"}, "image": {"alt": "Two panels. Left: four ROC curves, men and women for plain KRR and for the CKA model, nearly overlapping pairs per sex. Right: four curves of statistical-parity difference against test error in percent, one per model, each with a marker at threshold zero."}}
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4.2))
for name, ls in (("KRR", "-"), ("CKA penalty, μ = 10", "--")):
    roc = group_roc(y_te, scored[name], sensitive_features=sex_name)
    for g, c in (("men", "tab:blue"), ("women", "tab:red")):
        ax0.plot(
            roc[g].fpr, roc[g].tpr, ls, color=c, label=f"{name}, {g}"
        )
ax0.set(
    xlabel="false-positive rate",
    ylabel="true-positive rate",
    title="ROC within each sex",
)
ax0.legend(fontsize=8, loc="lower right")
sweeps = {}
for name, f in scored.items():
    sw = threshold_sweep(
        y_te, f, sensitive_features=sex_name,
        thresholds=np.linspace(-0.6, 0.6, 49),
    )  # fmt: skip
    sweeps[name] = sw
    (line,) = ax1.plot(
        100 * sw["error_rate"], sw["statistical_parity_difference"],
        label=name,
    )  # fmt: skip
    s0 = scores(f)
    ax1.plot(
        100 * s0["err"], s0["spd"], "o", color=line.get_color()
    )
_top = max(
    sw["statistical_parity_difference"].max() for sw in sweeps.values()
)
ax1.set(
    ylim=(0, 1.45 * _top),  # room for the legend above the lines
    xlabel="test error (%)",
    ylabel="statistical-parity difference",
    title="One threshold t moved over the scores",
)
ax1.legend(fontsize=8, loc="upper right")
fig.tight_layout()
plt.show()

# %%
# Plain KRR's sweep against the fair models at t = 0
krr_sw = sweeps["KRR"]
for name in scored:
    s0 = scores(scored[name])
    ok = krr_sw["statistical_parity_difference"] <= s0["spd"]
    best = krr_sw["error_rate"][ok].min() if ok.any() else None
    best = "not reached" if best is None else f"{100 * best:.2f}%"
    print(
        f"{name:23s} at t = 0: error {100 * s0['err']:.2f}%, gap "
        f"{s0['spd']:.3f}\n{'':23s} KRR's sweep at that gap: error "
        f"{best}"
    )
sw_hsic = scores(scored["FKRR-HSIC, μ_c = 1e-2"])
ok = krr_sw["statistical_parity_difference"] <= sw_hsic["spd"]
krr_at_hsic = float(krr_sw["error_rate"][ok].min())
glue("adult_sw_krr_err", 100 * krr_at_hsic, display=False)
glue("adult_sw_hsic_err", 100 * sw_hsic["err"], display=False)
glue("adult_sw_t_lo", float(krr_sw["threshold"].min()), display=False)
glue("adult_sw_t_hi", float(krr_sw["threshold"].max()), display=False)

# %% tags=["remove-cell"]
assert krr_at_hsic > sw_hsic["err"]  # "costs more"
for _name in ("FKRR\\S-HSIC, μ_c = 1e-2", "CKA penalty, μ = 10"):
    _gap = scores(scored[_name])["spd"]  # "no threshold reaches it"
    assert (krr_sw["statistical_parity_difference"] > _gap).all()

# %% [markdown]
# Moving one threshold on plain KRR is a poorer trade. To bring its parity
# gap down to the HSIC model's, it errs on
# {glue:text}`adult_sw_krr_err:.2f`% against the HSIC model's
# {glue:text}`adult_sw_hsic_err:.2f`%, and no threshold of the sweep
# ($t$ from {glue:text}`adult_sw_t_lo:.1f` to
# {glue:text}`adult_sw_t_hi:.1f`) brings it down to the gaps of FKRR\S or
# the CKA model. (Different thresholds per group could; that is what
# `ThresholdOptimizer` in the [next chapter](fkl_adult_beyond) does.)


# %% [markdown]
# ## 12. Race × sex
#
# The penalties above see sex only. How do the decisions fall on the ten
# intersections of race and sex? Some are small, so every rate comes with
# its size and a 95% percentile-bootstrap interval (200 resamples of the
# group's own rows, `fairkl.metrics.group_table`; labels from
# `fairkl.metrics.intersect`), for plain KRR and the CKA model
# ($\mu = 10$).

# %%
race_sex = intersect(data.race_test, sex_name)


def positive_rate(y, d):
    return float(np.mean(np.asarray(d) > 0))


inter = {
    name: group_table(
        y_te, decide(scored[name]), sensitive_features=race_sex,
        metrics={"positive rate": positive_rate},
        n_boot=200, random_state=0,
    )  # fmt: skip
    for name in ("KRR", "CKA penalty, μ = 10")
}
print(
    f"{'race × sex':28s} {'n':>5s}  positive rate [95% interval]\n"
    f"{'':36s}{'KRR':^20s}  {'CKA penalty, μ = 10':^20s}"
)
_cols = ["positive rate", "positive rate_low", "positive rate_high"]
for (_, a), (_, b) in zip(*(t.iterrows() for t in inter.values())):
    cells = [
        "{:.3f} [{:.3f}, {:.3f}]".format(*r[_cols]) for r in (a, b)
    ]
    print(f"{a['group']:28s} {a['n']:5d}  {cells[0]}  {cells[1]}")

# %% tags=["remove-cell"]
_k, _c = inter["KRR"], inter["CKA penalty, μ = 10"]
_width = _k["positive rate_high"] - _k["positive rate_low"]
_small, _big = _k["n"].idxmin(), _k["n"].idxmax()
glue("adult_x_n_min", int(_k["n"].min()), display=False)
glue("adult_x_n_max", int(_k["n"].max()), display=False)
glue("adult_x_w_small", float(_width[_small]), display=False)
glue("adult_x_w_big", float(_width[_big]), display=False)
_spread_k = float(_k["positive rate"].max() - _k["positive rate"].min())
_spread_c = float(_c["positive rate"].max() - _c["positive rate"].min())
glue("adult_x_spread_k", _spread_k, display=False)
glue("adult_x_spread_c", _spread_c, display=False)
_men = _k["group"].str.endswith("men") & ~_k["group"].str.endswith(
    "women"
)
_up = _c["positive rate"] > _k["positive rate"]
_overlap = (_c["positive rate_low"] <= _k["positive rate_high"]) & (
    _k["positive rate_low"] <= _c["positive rate_high"]
)

# %% tags=["remove-cell"]
assert (_k["group"] == _c["group"]).all()
assert _width[_small] > 5 * _width[_big]  # widths (glued) differ a lot
assert (~_up[_men]).all() and _up[~_men].all()  # "in every race"
assert _overlap[_k["n"] < 100].all()  # small groups: overlap
assert not _overlap[_k["n"] > 4000].any()  # white men, white women
assert 0.5 * _spread_k < _spread_c < _spread_k  # "only from ... to"

# %% [markdown]
# The groups range from {glue:text}`adult_x_n_min:d` to
# {glue:text}`adult_x_n_max:d` test rows, and the intervals with them:
# the positive rate of the smallest group is known to within an interval
# {glue:text}`adult_x_w_small:.3f` wide, that of the largest to within
# {glue:text}`adult_x_w_big:.3f`. In every race the CKA penalty, trained on
# sex alone, lowers the positive rate of men and raises that of women;
# for the white groups the two models' intervals are disjoint, for every
# group of fewer than 100 test rows they overlap — there the test file
# cannot tell the two models apart. Over all ten intersections the spread
# of positive rates (largest minus smallest) falls only from
# {glue:text}`adult_x_spread_k:.3f` to {glue:text}`adult_x_spread_c:.3f`:
# a penalty on sex does not equalise the intersections; to aim at them,
# give the penalty their one-hot columns as $q$.


# %% [markdown]
# ## Exercises
#
# ```{exercise} The limit of large μ
# :label: adult-ex-limit
# :nonumber:
# Before running anything: as $\mu_c \to \infty$, what happens to the
# difference between the mean *training* predictions of men and women?
# And to the same difference on the test set? Use {eq}`eq-adult-hsic`.
# Then check with `path.predict(X_tr)`.
# ```
#
# ```{solution-start} adult-ex-limit
# :class: dropdown
# ```
#
# The penalty is {eq}`eq-adult-hsic` on the *training* predictions, a
# weighted square of the gap between the training group means; as
# $\mu \to \infty$ the minimiser must make it zero, so the training gap
# goes to 0 (at rate $1/\mu$). The test gap does not: it converges to
# whatever the training-equalised model gives on other people, a value of
# the order of the sampling noise of section 6.

# %%
F_tr = path.predict(X_tr)


def mean_gap(F, sex):
    """Mean prediction of men minus women, one value per μ."""
    return F[:, sex == 0].mean(1) - F[:, sex == 1].mean(1)


gap_tr, gap_te = mean_gap(F_tr, sex_tr), mean_gap(F_te, sex_te)
for m_c, a, b in zip(mu_c, gap_tr[1:], gap_te[1:]):
    print(f"μ_c = {m_c:.0e}: train gap {a:+.2e}, test gap {b:+.2e}")
glue("adult_gap_tr_end", float(abs(gap_tr[-1])), display=False)
glue("adult_gap_te_end", float(abs(gap_te[-1])), display=False)

# %% tags=["remove-cell"]
assert abs(gap_tr[-1]) < 1e-4 * abs(gap_tr[0])  # "goes to 0"
assert abs(gap_te[-1]) > 100 * abs(
    gap_tr[-1]
)  # "the test gap does not"
assert abs(gap_te[-1]) < 3 * s_f * np.sqrt(
    1 / n1 + 1 / n2
)  # noise order

# %% [markdown]
# At $\mu_c = 10^3$ the training gap is {glue:text}`adult_gap_tr_end:.1e`,
# the test gap {glue:text}`adult_gap_te_end:.1e`.
#
# ```{solution-end}
# ```
#
# ```{exercise} Race and sex together
# :label: adult-ex-race-sex
# :nonumber:
# The paper also uses $q$ = race + sex, as 7 one-hot columns. Take a
# two-column version: the sex indicator and a "white" indicator (race
# coarsened to white or not, {glue:text}`adult_white_share:.0f`% of the
# test rows white); with two columns, like the one-hot sex, the fit runs
# on the programs the other paths of this chapter compiled. Refit the
# HSIC path with that $q$, at the same fairkl $\mu$ as $\mu_c = 10^{-2}$
# above, and report, beside plain KRR, the test HSIC with respect to the
# two columns, the parity gap between white and other people, and the
# parity gap over the five race groups of the data. (With
# `kernel_q="linear"` each column is standardised, so the conversion
# {eq}`eq-adult-mu` no longer holds as it stands: the two columns have
# different variances.)
# ```
#
# ```{solution-start} adult-ex-race-sex
# :class: dropdown
# ```

# %%
race_tr, race_te = data.race_train[tr], data.race_test
white_tr = (race_tr == "White").astype(float)
white_te = (race_te == "White").astype(float)
Q2_tr = np.c_[sex_tr, white_tr]  # two binary columns: sex, white
Q2_te = np.c_[sex_te, white_te]
path2 = hsic_model.mu_path(X_tr, y_tr, Q2_tr, mus)  # rows 0, k2 + 1
race = {}
for label, f in zip(
    ["KRR", "FKRR-HSIC sex+white"], path2.predict(X_te)[[0, k2 + 1]]
):
    race[label] = (
        test_hsic(f, Q2_te),
        statistical_parity_difference(
            y_te, decide(f), sensitive_features=white_te
        ),
        statistical_parity_difference(
            y_te, decide(f), sensitive_features=race_te
        ),
    )
    print(
        f"{label:20s} HSIC(sex, white) {race[label][0]:.2e}\n{'':20s} "
        f"parity gap white/other {race[label][1]:.3f}, "
        f"five races {race[label][2]:.3f}"
    )
(h0, w0, g0), (h1, w1, g1) = race["KRR"], race["FKRR-HSIC sex+white"]
glue("adult_white_share", 100 * float(white_te.mean()), display=False)
glue("adult_race_w0", w0, display=False)
glue("adult_race_w1", w1, display=False)
glue("adult_race_g0", g0, display=False)
glue("adult_race_g1", g1, display=False)
glue("adult_race_ratio", h0 / h1, display=False)

# %% tags=["remove-cell"]
assert h1 < h0 and w1 < w0  # "falls", "shrinks"
assert abs(g1 - g0) < 0.01  # "stays where it was"

# %% [markdown]
# The two standardised columns add a sex kernel and a white-or-not
# kernel, so the penalty equalises the mean prediction of men and women
# and that of white and other people at once. The HSIC with respect to
# the two columns falls {glue:text}`adult_race_ratio:.0f`-fold, and the
# parity gap between white and other people shrinks from
# {glue:text}`adult_race_w0:.3f` to {glue:text}`adult_race_w1:.3f`; the
# parity gap over the five race groups stays where it was
# ({glue:text}`adult_race_g0:.3f` for plain KRR,
# {glue:text}`adult_race_g1:.3f` here). The coarse column pools groups
# whose rates differ, and a penalty sees only the groups it is given, as
# with the race × sex intersections of section 12.
#
# ```{solution-end}
# ```
#
# ## Key takeaways
#
# ```{admonition} Key takeaways
# :class: important
# * On UCI Adult, plain KRR decides "more than \$50K"
#   {glue:text}`adult_krr_spd:.3f` more often for men than for women (the
#   labels themselves differ by {glue:text}`adult_label_gap:.3f`); dropping
#   sex from the inputs barely changes that.
# * The Fair Kernel Learning penalty (HSIC, linear kernel on predictions)
#   cuts the test HSIC by more than two orders of magnitude for less than a
#   point of error, from one factorisation for every $\mu$ — the paper's
#   result, reproduced by the authors' protocol with the exact kernel too.
#   Convert the paper's $\mu_c$ with {eq}`eq-adult-mu`: the factor depends
#   on the kernel on $q$.
# * That penalty equalises the *mean* prediction of the groups; decisions
#   depend on the whole distribution, so the parity gap stops at
#   {glue:text}`adult_spd_2:.3f`. At matched error a CKA penalty does no
#   better; it reaches smaller gaps at more error, and so does the paper's
#   FKRR\S. Both widen the equal-opportunity gap.
# * On held-out data every model is still measurably dependent on sex (HSIC
#   test): report a test, not only a small number.
# * Beyond one threshold: the penalties with sex in $X$ hardly change how
#   well $f$ ranks people within each sex; the models that close the
#   parity gap furthest widen the equalised-odds difference; a penalty on
#   sex leaves large gaps between race × sex intersections, and the
#   smallest intersections are too small to compare models on.
# ```
