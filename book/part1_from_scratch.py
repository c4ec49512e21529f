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
# # Part 1 — Fair kernel ridge regression from raw `keras.ops`
#
# A regression model learns whatever predicts the target, including a
# {term}`sensitive attribute` it was never given, when another column acts as
# its {term}`proxy`. In this lesson we build, with nothing but
# [`keras.ops`](https://keras.io/api/ops/) and NumPy, a kernel ridge regression
# whose predictions are made to depend far less on the sensitive attribute
# (the goal of {term}`demographic parity`): the
# Fair Kernel Learning model of {cite:t}`perezsuay2017fair`. At the end the
# package `fairkl` reproduces every number.
#
# ```{admonition} Learning objectives
# :class: tip
# After this lesson you can
# 1. build an RBF {term}`kernel` matrix, see what its {term}`bandwidth` does,
#    and {term}`centre <centring>` it without forming the centring matrix;
# 2. compute {term}`HSIC` and {term}`CKA` by hand, and say why CKA is the
#    better ruler;
# 3. fit kernel ridge regression in closed form and choose its
#    hyperparameters by a stated rule on validation data;
# 4. add the HSIC penalty of Fair Kernel Learning and solve the fair problem
#    exactly;
# 5. choose the fairness strength $\mu$ by a rule (most accurate within a
#    dependence budget), test the choice once, and judge it against baselines.
# ```
#
# **Prerequisites.** Python and NumPy; least squares and ridge regression;
# solving a linear system. No background in fairness is needed. Every symbol
# is defined on the [notation page](notation).
#
# **Outline.** 1 the data · 2 kernels and the bandwidth · 3 centring ·
# 4 HSIC and CKA · 5 a fixed ruler and two baselines · 6 kernel ridge
# regression · 7 the fair objective · 8 choosing μ by a rule, testing once ·
# 9 the same numbers from `fairkl` · exercises · key takeaways.

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
import jax
import matplotlib.pyplot as plt
import numpy as np
from keras import ops
from matplotlib_inline.backend_inline import set_matplotlib_formats
from myst_nb import glue

from fairkl.datasets import make_seed_data

# Our own keras.ops code below is compared with fairkl's to float64
# precision, so it computes in float64 too. JAX's 64-bit mode is off by
# default; fairkl turns it on only inside its own calls.
jax.config.update("jax_enable_x64", True)

set_matplotlib_formats("svg")  # sharp figures at any zoom
plt.rcParams.update({"font.size": 11, "legend.fontsize": 10})

# %% [markdown]
# ## 1. The data: a target that depends on a sensitive attribute
#
# We use a small synthetic problem whose answer we know. A sensitive attribute
# $q \sim \mathcal N(0, 1)$ (think of a protected characteristic) and an input
# $x \sim \mathcal U(-3, 3)$ are independent, and
#
# $$
# y = \sin(x) + 3q + \varepsilon, \qquad
# \varepsilon \sim \mathcal N(0, 0.1^2).
# $$ (eq-p1-data)
#
# The model never sees $q$. Its inputs are $x$ and a noisy **proxy**
# $q + \mathcal N(0, 0.5^2)$ — a postcode that stands in for ethnicity.
#
# This book grew out of the public tutorial series
# [`jejjohnson/keras-fairkl`](https://github.com/jejjohnson/keras-fairkl).
# Its problem looks like {eq}`eq-p1-data` but differs in three ways: there
# $x \sim \mathcal N(0, 1)$, $q$ itself is one of the model's inputs (no
# proxy), and the noise has standard deviation 0.3. Its published scores
# therefore measure a different problem and are not comparable with the
# numbers in this book, so we do not quote them.
#
# We split once into training (fit), validation (choose) and test (report
# once, at the end) parts.

# %%
# X holds the columns [x, proxy]; q has shape (n, 1)
X, y, q = make_seed_data(n=300, seed=0)
X_tr, y_tr, q_tr = X[:180], y[:180], q[:180]
X_va, y_va, q_va = X[180:240], y[180:240], q[180:240]
X_te, y_te, q_te = X[240:], y[240:], q[240:]
print(f"train {len(X_tr)}, validation {len(X_va)}, "
      f"test {len(X_te)} rows; {X.shape[1]} input columns")

# %% mystnb={"figure": {"caption": "The data. Left: $y$ against $x$; the colour is the sensitive attribute $q$. The sine is there, but most of the spread of $y$ comes from $q$ (yellow points high, purple points low). Right: the proxy column tracks $q$ closely, so a model that uses it learns $q$.", "name": "fig-p1-data"}, "image": {"alt": "Two scatter plots. Left: y against x, coloured by q, showing a sine wave smeared vertically by q. Right: the proxy column against q, close to the diagonal."}}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
pts = ax1.scatter(X_tr[:, 0], y_tr, c=q_tr[:, 0], s=14, cmap="viridis")
grid_x = np.linspace(-3, 3, 200)
ax1.plot(grid_x, np.sin(grid_x), "k--", lw=1.5, label="sin(x)")
ax1.set(xlabel="input x", ylabel="target y",
        title="Target: sin(x) + 3q + noise")
ax1.legend(loc="upper left")
fig.colorbar(pts, ax=ax1, label="sensitive attribute q")
ax2.scatter(q_tr[:, 0], X_tr[:, 1], s=14, color="tab:gray")
ax2.set(xlabel="sensitive attribute q", ylabel="proxy column of X",
        title="The proxy carries q into the inputs")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Kernels and the bandwidth
#
# A kernel scores how similar two inputs are. The {term}`RBF` (Gaussian) kernel with
# bandwidth $\sigma$ is
#
# $$
# k(x, x') = \exp\!\Big(-\frac{\lVert x - x'\rVert^2}{2\sigma^2}\Big),
# $$ (eq-p1-rbf)
#
# and the kernel matrix $K_{ij} = k(x_i, x_j)$ holds it for every pair of
# training points. The function `rbf` below computes {eq}`eq-p1-rbf`,
# with the squared distances written as
# $\lVert a\rVert^2 + \lVert b\rVert^2 - 2a^\top b$ in float64.

# %%
def rbf(A, B, sigma):
    """RBF kernel matrix k(A, B) with bandwidth sigma, in float64."""
    A = ops.reshape(ops.convert_to_tensor(A, "float64"), (len(A), -1))
    B = ops.reshape(ops.convert_to_tensor(B, "float64"), (len(B), -1))
    sq = ops.sum(A**2, 1)[:, None] + ops.sum(B**2, 1)[None, :]
    # clip rounding errors below 0
    d2 = ops.maximum(sq - 2 * A @ ops.transpose(B), 0.0)
    return ops.exp(-d2 / (2 * sigma**2))


# %% [markdown]
# The bandwidth decides what "similar" means. The heatmaps below show $K$ for
# 40 values of $x$ sorted from $-3$ to $3$, at three bandwidths.

# %% mystnb={"figure": {"caption": "The effect of the bandwidth $\\sigma$ on the RBF kernel matrix of 40 sorted inputs. Small $\\sigma$: each point is similar only to itself and its neighbours (a narrow diagonal band), so a model can follow every wiggle. Large $\\sigma$: every point looks like every other (the matrix is nearly constant), so a model can only draw smooth, almost linear functions.", "name": "fig-p1-bandwidth"}, "image": {"alt": "Three heatmaps of a 40 by 40 kernel matrix: a thin bright diagonal for sigma 0.2, a wider band for sigma 1, and an almost uniformly bright square for sigma 5."}}
x_sorted = np.linspace(-3, 3, 40)[:, None]
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
for ax, s in zip(axes, [0.2, 1.0, 5.0]):
    K_s = np.asarray(rbf(x_sorted, x_sorted, s))
    im = ax.imshow(K_s, vmin=0, vmax=1, cmap="magma",
                   extent=[-3, 3, 3, -3])
    ax.set(title=f"σ = {s:g}", xlabel="x′", ylabel="x")
fig.colorbar(im, ax=axes, label="k(x, x′)", shrink=0.9)
plt.show()

# %% [markdown]
# ## 3. Centring
#
# Dependence measures compare kernels *after removing their means in feature
# space*: $\tilde K = HKH$ with the centring matrix
# $H = I - \tfrac1n \mathbf 1\mathbf 1^\top$. Multiplying by $H$ is the same as
# subtracting row and column means and adding back the grand mean, so we never
# form $H$ (an $n\times n$ matrix) and the cost is $O(n^2)$ instead of
# $O(n^3)$. The first exercise,
# {ref}`Centring without the centring matrix <p1-ex-centre>`, checks the two
# against each other.

# %%
def center(K):
    """HKH without forming H.

    Subtract the row and column means, add back the grand mean.
    """
    n = K.shape[0]
    row = ops.sum(K, 1, keepdims=True) / n
    col = ops.sum(K, 0, keepdims=True) / n
    return K - row - col + ops.sum(K) / n**2


# %% [markdown]
# ## 4. HSIC and CKA: measuring dependence
#
# The **Hilbert–Schmidt independence criterion** {cite:p}`gretton2005measuring`
# measures how much two kernel matrices on the same $n$ samples agree after
# centring. For a kernel $K$ on one variable and $L$ on the other, the
# (biased) estimate is
#
# $$
# \begin{aligned}
# \operatorname{HSIC}(K, L) &= \frac{1}{n^2}\operatorname{tr}(\tilde K\tilde L)\\
#   &= \frac{1}{n^2}\sum_{i,j}\tilde K_{ij}\tilde L_{ij}.
# \end{aligned}
# $$ (eq-p1-hsic)
#
# With RBF kernels on both variables it is zero (for large $n$) exactly when
# the variables are independent. Its size, though, depends on the kernels'
# scale. **Centred kernel alignment** {cite:p}`kornblith2019similarity`
# normalises it, like a correlation coefficient:
#
# $$
# \operatorname{CKA}(K, L) = \frac{\operatorname{HSIC}(K, L)}
#   {\sqrt{\operatorname{HSIC}(K, K)\operatorname{HSIC}(L, L)}}.
# $$ (eq-p1-cka)
#
# It lies in $[0, 1]$. The functions `hsic` and `cka` below are
# {eq}`eq-p1-hsic` (in its second form) and {eq}`eq-p1-cka`.

# %%
def hsic(K, L):
    """Biased HSIC: sum of (centred K) * (centred L), divided by n^2."""
    n = K.shape[0]
    return ops.sum(center(K) * center(L)) / n**2


def cka(K, L):
    """Centred kernel alignment, in [0, 1]."""
    return hsic(K, L) / ops.sqrt(hsic(K, K) * hsic(L, L))


# %% [markdown]
# Let us measure how strongly the target itself depends on $q$, and check our
# two functions against {py:func}`fairkl.dependence.hsic` and
# {py:func}`fairkl.dependence.cka`, which implement the same formulas
# independently. Bandwidths: for now one unit on each variable.

# %%
from fairkl import dependence

K_y, L_q = rbf(y_tr, y_tr, 1.0), rbf(q_tr, q_tr, 1.0)
print(f"HSIC(y, q) by hand {float(hsic(K_y, L_q)):.5f}   "
      f"fairkl {float(dependence.hsic(K_y, L_q)):.5f}")
print(f"CKA(y, q)  by hand {float(cka(K_y, L_q)):.5f}   "
      f"fairkl {float(dependence.cka(K_y, L_q)):.5f}")

# %% tags=["remove-cell"]
assert abs(float(hsic(K_y, L_q)) - float(dependence.hsic(K_y, L_q))) < 1e-12
assert abs(float(cka(K_y, L_q)) - float(dependence.cka(K_y, L_q))) < 1e-12

# %% [markdown]
# **Why CKA rather than HSIC?** HSIC carries the units of what it measures.
# Take a *linear* kernel $ff^\top$ on a variable $f$ (the kernel Fair Kernel
# Learning puts on predictions, below): rescaling $f$ by $c$ multiplies HSIC
# by $c^2$, so a value of HSIC means nothing until you know the units of
# $f$, and a penalty on HSIC can be lowered just by shrinking the
# predictions. CKA divides the scale out.

# %% mystnb={"figure": {"caption": "Why CKA: rescaling the target by $c$ (changing its units) multiplies HSIC with a linear kernel by $c^2$ (a straight line of slope 2 on log axes), while CKA does not move. A budget such as CKA ≤ 0.2 therefore means the same on every dataset; an HSIC budget does not.", "name": "fig-p1-why-cka"}, "image": {"alt": "Log-log plot against the scale factor c: the HSIC curve rises as a straight line of slope two, the CKA curve is flat."}}
def lin(f):
    """Linear kernel f f^T on a vector f."""
    return ops.convert_to_tensor(f[:, None] * f[None, :])


scales = np.logspace(-1, 1, 9)
L_q = rbf(q_tr, q_tr, 1.0)
hsic_c = [float(hsic(lin(c * y_tr), L_q)) for c in scales]
cka_c = [float(cka(lin(c * y_tr), L_q)) for c in scales]
fig, ax = plt.subplots(figsize=(5.5, 3.6))
ax.loglog(scales, hsic_c, "o-", label="HSIC(c·y, q)")
ax.loglog(scales, cka_c, "s-", label="CKA(c·y, q)")
ax.set(xlabel="scale factor c applied to y (a change of units)",
       ylabel="dependence on q", title="HSIC has units, CKA does not")
ax.legend()
plt.show()

# %% tags=["remove-cell"]
assert np.allclose(hsic_c, np.array(hsic_c[4]) * scales**2, rtol=1e-9)
assert np.ptp(cka_c) < 1e-9

# %% [markdown]
# ## 5. A fixed ruler, and two baselines
#
# The bandwidths of the dependence measure matter as much as its formula. We
# set them by the {term}`median heuristic` — the median distance between
# pairs of training points ({py:func}`numpy.median` below) — **once**, from
# the training targets ($\sigma_f$,
# the bandwidth on predictions) and the training attribute ($\sigma_q$), and
# measure every model below with this one {term}`yardstick`. A model judged
# with its own bandwidths would be judged with a different ruler.

# %%
def median_distance(A):
    """Median heuristic: median of the non-zero pairwise distances."""
    A = np.asarray(A, dtype=float).reshape(len(A), -1)
    d = np.sqrt(((A[:, None] - A[None]) ** 2).sum(-1))
    return float(np.median(d[d > 0]))


sigma_f, sigma_q = median_distance(y_tr), median_distance(q_tr)


def dependence_on_q(pred, q_part):
    """CKA between predictions and q, on the fixed yardstick."""
    K_f = rbf(pred, pred, sigma_f)
    return float(cka(K_f, rbf(q_part, q_part, sigma_q)))


def mse(pred, target):
    return float(np.mean((np.asarray(pred) - target) ** 2))


print(f"yardstick: sigma_f = {sigma_f:.2f} (units of y), "
      f"sigma_q = {sigma_q:.2f} (units of q)")

# %% [markdown]
# Two baselines tell us what the numbers mean:
#
# * the **constant predictor** $\bar y$ (the training mean), which ignores the
#   inputs: any useful model must beat its MSE;
# * **$\sin(x)$**, the best *fair* predictor. Since $x$ is independent of $q$,
#   so is every function of $x$ alone, and $\sin(x)$ is the best of them: it
#   explains everything in $y$ except $3q$ and the noise. A model with a lower
#   MSE than $\sin(x)$ must be using $q$.
#
# A constant's CKA is $0/0$; `fairkl` defines it as 0 (nothing depends on a
# constant), and so do we.

# %%
def baselines(X_part, y_part, q_part):
    const = np.full(len(y_part), y_tr.mean())
    sine = np.sin(X_part[:, 0])
    return {
        "constant ȳ": (mse(const, y_part), 0.0),
        "sin(x), best fair": (mse(sine, y_part),
                              dependence_on_q(sine, q_part)),
    }


def show(rows, title):
    print(f"{title:<28}{'MSE':>8}{'CKA with q':>12}")
    for name, (m, c) in rows.items():
        print(f"{name:<28}{m:8.2f}{c:12.3f}")


base_va = baselines(X_va, y_va, q_va)
show(base_va, "validation")
cka_y_va = dependence_on_q(y_va, q_va)
print(f"\nCKA between the true target y and q on validation: "
      f"{cka_y_va:.2f}")

# %% tags=["remove-cell"]
mse_const_va = base_va["constant ȳ"][0]
mse_sine_va, cka_sine_va = base_va["sin(x), best fair"]
gain_sine = 100 * (1 - mse_sine_va / mse_const_va)
glue("p1_cka_y_va", float(cka_y_va), display=False)
glue("p1_mse_const_va", float(mse_const_va), display=False)
glue("p1_mse_sine_va", float(mse_sine_va), display=False)
glue("p1_gain_sine", float(gain_sine), display=False)
assert cka_sine_va < 0.1 and cka_y_va > 0.5  # "depends strongly on q"
assert 0 < gain_sine < 10  # "barely better": under a tenth below

# %% [markdown]
# The target depends strongly on $q$: its CKA with $q$ is
# {glue:text}`p1_cka_y_va:.2f`. Since $3q$ is most of the signal, even the
# best fair predictor is barely better than the constant: its validation
# MSE, {glue:text}`p1_mse_sine_va:.2f`, is only
# {glue:text}`p1_gain_sine:.0f`% below the constant's
# {glue:text}`p1_mse_const_va:.2f`. That is the price of fairness on this
# problem, known before we fit anything.
#
# ## 6. Kernel ridge regression in closed form
#
# Kernel ridge regression (KRR) predicts $f(x) = \sum_i \alpha_i k(x, x_i)$;
# on the training points $f = K\alpha$. With $\tilde y = y / s_y$ (the target
# divided by its standard deviation, which `fairkl` uses so that $\mu$ below
# has no units) it minimises
#
# $$
# \frac1n\Big[\lVert \tilde y - K\alpha\rVert^2
#   + \lambda\,\alpha^\top K\alpha\Big],
# $$ (eq-p1-krr)
#
# whose minimiser is $\alpha = (K + \lambda I)^{-1}\tilde y$ — the same as
# scikit-learn's {py:class}`~sklearn.kernel_ridge.KernelRidge` with
# `alpha` $=\lambda$. The matrix is symmetric positive definite, so
# `krr_fit` minimises {eq}`eq-p1-krr` by a Cholesky solve. Predictions are $s_y\,k(x, X)\,\alpha$ in the units of $y$.

# %%
s_y = float(np.std(y_tr))
n = len(X_tr)
eye = ops.eye(n, dtype="float64")


def krr_fit(sigma, lam):
    K = rbf(X_tr, X_tr, sigma)
    chol = ops.cholesky(K + lam * eye)
    rhs = ops.convert_to_tensor(y_tr / s_y)
    z = ops.solve_triangular(chol, rhs, lower=True)
    return ops.solve_triangular(ops.transpose(chol), z, lower=False)


def krr_predict(alpha, sigma, X_new):
    return s_y * np.asarray(rbf(X_new, X_tr, sigma) @ alpha)


# %% [markdown]
# The bandwidth $\sigma$ and the ridge $\lambda$ are chosen by a stated rule:
# **the lowest validation MSE** on a grid: $\sigma$ from a quarter to eight
# times the median heuristic on $X$, $\lambda$ from $10^{-5}$ to $1$.

# %%
sigma_X = median_distance(X_tr)
sigmas = sigma_X * np.array([0.25, 0.5, 1, 2, 4, 8])
lams = np.logspace(-5, 0, 6)
val_mse = np.array(
    [[mse(krr_predict(krr_fit(s, lm), s, X_va), y_va) for lm in lams]
     for s in sigmas]
)
i, j = np.unravel_index(np.argmin(val_mse), val_mse.shape)
sigma, lam = float(sigmas[i]), float(lams[j])
print(f"median heuristic on X: {sigma_X:.2f}\n"
      f"chosen: sigma = {sigma:.2f}, lambda = {lam:g} "
      f"(validation MSE {val_mse[i, j]:.2f})")

# %% tags=["remove-cell"]
glue("p1_sigma_X", float(sigma_X), display=False)
glue("p1_sigma", float(sigma), display=False)
glue("p1_sigma_ratio", float(sigma / sigma_X), display=False)
glue("p1_lam", float(lam), display=False)
assert 0 < i < len(sigmas) - 1 and 0 < j < len(lams) - 1  # interior

# %% [markdown]
# The rule picks $\sigma = $ {glue:text}`p1_sigma:.2f`
# ({glue:text}`p1_sigma_ratio:g` times the median heuristic,
# {glue:text}`p1_sigma_X:.2f`) and $\lambda = $ {glue:text}`p1_lam:g`,
# both inside the grid, not at an edge.

# %% mystnb={"figure": {"caption": "Validation MSE of kernel ridge regression against the bandwidth $\\sigma$ (both axes logarithmic), one line per ridge strength $\\lambda$; the star is the chosen pair (lowest validation MSE). With the weakest ridge, the smallest bandwidth over-fits: its error is the largest of all. A stronger ridge tames small bandwidths, but with the strongest ridge the largest bandwidth smooths too much and the error rises again on the right.", "name": "fig-p1-sigma"}, "image": {"alt": "Validation MSE against sigma, both axes logarithmic, six curves for lambda from 1e-5 to 1: the weakest ridge starts very high at the smallest sigma and falls; the strongest ridge is U-shaped; a star marks the lowest point, below a dotted line for the constant predictor."}}
fig, ax = plt.subplots(figsize=(7, 3.8))
for jj, lam_j in enumerate(lams):
    ax.loglog(sigmas, val_mse[:, jj], "o-", ms=4,
              label=f"λ = {lam_j:g}")
ax.plot(sigma, val_mse[i, j], "k*", ms=14, label="chosen")
ax.axhline(mse_const_va, color="0.5", ls=":", label="constant ȳ")
ax.set(xlabel="bandwidth σ of the kernel on X (log scale)",
       ylabel="validation MSE (log scale)",
       title="Choosing σ and λ on validation data")
ax.set_xticks(sigmas, [f"{s:.2g}" for s in sigmas])  # the grid
ax.set_yticks([1, 2, 5, 10, 20, 50], ["1", "2", "5", "10", "20", "50"])
ax.minorticks_off()
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
fig.tight_layout()
plt.show()

# %% tags=["remove-cell"]
# The caption's claims, on the computed grid (rows sigma, columns lambda).
assert np.argmax(val_mse[:, 0]) == 0 and val_mse[0, 0] == val_mse.max()
assert val_mse[0, -1] < 0.2 * val_mse[0, 0]  # strong ridge tames small σ
k_low = np.argmin(val_mse[:, -1])  # strongest ridge: U-shaped
assert 0 < k_low < len(sigmas) - 1 and val_mse[-1, -1] > val_mse[k_low, -1]

# %%
alpha_krr = krr_fit(sigma, lam)
pred_krr_va = krr_predict(alpha_krr, sigma, X_va)
mse_krr_va = mse(pred_krr_va, y_va)
cka_krr_va = dependence_on_q(pred_krr_va, q_va)
print(f"plain KRR on validation: MSE {mse_krr_va:.2f}, "
      f"CKA with q {cka_krr_va:.2f}")

# %% tags=["remove-cell"]
glue("p1_mse_krr_va", float(mse_krr_va), display=False)
glue("p1_cka_krr_va", float(cka_krr_va), display=False)
glue("p1_krr_share", float(100 * cka_krr_va / cka_y_va), display=False)
assert mse_krr_va < 0.3 * mse_sine_va  # "far more accurate"
assert 0.5 * cka_y_va < cka_krr_va < cka_y_va  # "most of the target's"

# %% [markdown]
# Plain KRR is far more accurate than $\sin(x)$ (validation MSE
# {glue:text}`p1_mse_krr_va:.2f` against {glue:text}`p1_mse_sine_va:.2f`)
# — and that is the problem: its predictions keep most of the target's
# dependence on $q$ (CKA {glue:text}`p1_cka_krr_va:.2f`, against
# {glue:text}`p1_cka_y_va:.2f` for the target itself:
# {glue:text}`p1_krr_share:.0f`%), although $q$ was never an input.
# Dropping the sensitive column ("fairness through {term}`unawareness`")
# is not enough when a proxy remains.
#
# ## 7. The fair objective
#
# Fair Kernel Learning {cite:p}`perezsuay2017fair` adds a penalty on the
# dependence $D$ between the training predictions $f = K\alpha$ and $q$,
# weighted by the fairness strength $\mu \ge 0$:
#
# $$
# \begin{aligned}
# J(\alpha) = {}&\frac1n\Big[\lVert \tilde y - K\alpha\rVert^2
#   + \lambda\,\alpha^\top K\alpha\Big]\\
#   &+ \mu\, D(K\alpha, q).
# \end{aligned}
# $$ (eq-p1-fair)
#
# With HSIC and a *linear* kernel on $f$, the penalty is a quadratic form,
# $D = \operatorname{HSIC}(ff^\top, L) = f^\top \tilde L f / n^2$ with
# $\tilde L = HLH$ and $L$ the RBF kernel on $q$ (bandwidth $\sigma_q$). So
# $J$ stays quadratic in $\alpha$. Setting the gradient of
# {eq}`eq-p1-fair` to zero,
#
# $$
# \begin{aligned}
# &\tfrac2n K\big[(K + \lambda I)\alpha - \tilde y\big]
#   + \tfrac{2\mu}{n^2} K\tilde L K\alpha = 0\\
# &\Longleftarrow\;
#   \big(K + \lambda I + \tfrac{\mu}{n}\tilde L K\big)\,\alpha = \tilde y .
# \end{aligned}
# $$ (eq-p1-fair-solve)
#
# The matrix of {eq}`eq-p1-fair-solve` is not symmetric, so `fair_fit`
# solves it by LU (`ops.solve`, the Keras counterpart of
# {py:func}`numpy.linalg.solve`). What it gives at $\mu = 0$, and why a
# larger $\mu$ can never raise the penalty term of {eq}`eq-p1-fair`, is
# the exercise {ref}`More μ, less dependence? <p1-ex-monotone>`.

# %%
L_tilde = center(rbf(q_tr, q_tr, sigma_q))
K = rbf(X_tr, X_tr, sigma)


def fair_fit(mu):
    A = K + lam * eye + (mu / n) * L_tilde @ K
    return ops.solve(A, ops.convert_to_tensor(y_tr / s_y))


mus = np.r_[0.0, np.logspace(-1, 3, 9)]


def fmt(mu):
    """Three significant digits without exponents: 0.316, 31.6, 1000."""
    return np.format_float_positional(mu, precision=3,
                                      fractional=False, trim="-")


path = []  # one row per mu: (mu, validation MSE, validation CKA)
for mu in mus:
    p = krr_predict(fair_fit(mu), sigma, X_va)
    path.append((mu, mse(p, y_va), dependence_on_q(p, q_va)))
mu_arr, mse_arr, cka_arr = map(np.array, zip(*path))
print(f"{'mu':>8}{'val MSE':>10}{'val CKA':>10}")
for mu, m, c in path:
    print(f"{fmt(mu):>8}{m:10.2f}{c:10.3f}")

# %% [markdown]
# ## 8. Choosing μ by a rule, and testing once
#
# Each $\mu$ gives a different compromise, so the choice needs a rule stated
# before looking at the test set. Ours: **the most accurate $\mu$ (lowest
# validation MSE) whose validation CKA with $q$ is at most a
# {term}`budget <dependence budget>` of 0.2.**
# The budget is a policy decision, not a statistical one; CKA's fixed
# $[0, 1]$ scale makes it readable.

# %%
budget = 0.2


def most_accurate_within(budget, rows):
    """Rule: lowest validation MSE among rows with CKA <= budget."""
    ok = [r for r in rows if r[2] <= budget]
    return min(ok, key=lambda r: r[1])


mu_best, mse_best, cka_best = most_accurate_within(budget, path)
print(f"chosen mu = {fmt(mu_best)} (validation MSE {mse_best:.2f}, "
      f"CKA {cka_best:.3f})")

# %% tags=["remove-cell"]
# Where the validation CKA stops falling: the first mu within 0.01 of
# the lowest CKA on the path; from there on it is flat, not falling.
k_min = int(np.argmin(cka_arr))
k_flat = int(np.flatnonzero(cka_arr <= cka_arr.min() + 0.01)[0])
tail = cka_arr[k_flat:]
glue("p1_mu_best", float(fmt(mu_best)), display=False)
glue("p1_mse_best", float(mse_best), display=False)
glue("p1_cka_best", float(cka_best), display=False)
glue("p1_mu_flat", float(fmt(mu_arr[k_flat])), display=False)
glue("p1_mu_min", float(fmt(mu_arr[k_min])), display=False)
glue("p1_mu_last", float(fmt(mu_arr[-1])), display=False)
glue("p1_cka_min", float(cka_arr[k_min]), display=False)
glue("p1_cka_last", float(cka_arr[-1]), display=False)
glue("p1_cka_first", float(cka_arr[0]), display=False)
glue("p1_cka_flat", float(cka_arr[k_flat]), display=False)
glue("p1_mse_flat", float(mse_arr[k_flat]), display=False)
glue("p1_mse_last", float(mse_arr[-1]), display=False)
glue("p1_cka_tail_ptp", float(np.ptp(tail)), display=False)
# The caption and text: error rises at every step; CKA falls at every
# step up to k_flat, then moves by little, and rises at the end.
assert np.all(np.diff(mse_arr) > 0)
assert np.all(np.diff(cka_arr[: k_flat + 1]) < 0)
assert 0 < k_flat < k_min < len(mus) - 1
assert np.ptp(tail) < 0.05 * (cka_arr[0] - cka_arr.min())
assert cka_arr[-1] > cka_arr[k_min]  # the last step moves right

# %% mystnb={"figure": {"caption": "The accuracy–independence trade-off on validation data. Left: validation error against validation CKA, one point per value of $\\mu$ (some labelled). Every increase of $\\mu$ moves the point up (larger error); at first it also moves far to the left (less dependence on $q$), but past a point the CKA stops falling and the last points stack almost vertically. The star is the model chosen by the rule *most accurate with CKA ≤ 0.2* (dashed line); the grey markers are the two baselines, the constant predictor and $\\sin(x)$. Right: the same validation CKA against $\\mu$ (log scale), which shows where it levels off.", "name": "fig-p1-tradeoff"}, "image": {"alt": "Left: validation MSE against validation CKA for ten values of mu, a curve from the bottom right (mu 0) up and to the left, ending in a nearly vertical stack of points; a dashed vertical budget line at 0.2 with a red star just left of it; two grey baseline markers near CKA zero at high MSE. Right: validation CKA against mu on a log axis, flat for small mu, falling steeply, then level for the largest mu."}}
fig, (ax, ax2) = plt.subplots(
    1, 2, figsize=(10, 4.6), gridspec_kw={"width_ratios": [3, 2]}
)
ax.plot(cka_arr, mse_arr, "o-", color="tab:blue",
        label="fair KRR, one point per μ")
labelled = {0.0: (-14, -14), mus[4]: (8, -2), 10.0: (8, 0),
            mu_best: (10, -4), 100.0: (10, -6), 1000.0: (10, 0)}
for mu, m, c in path:  # label offsets (points) chosen to avoid overlaps
    if mu in labelled:
        ax.annotate(f"μ = {fmt(mu)}", (c, m), fontsize=10,
                    textcoords="offset points", xytext=labelled[mu])
ax.plot(cka_best, mse_best, "*", color="tab:red", ms=16,
        label="chosen by the rule")
ax.axvline(budget, ls="--", color="tab:red", lw=1,
           label=f"budget CKA ≤ {budget}")
for name, (m, c) in base_va.items():
    ax.plot(c, m, "D" if "const" in name else "s", color="0.35",
            label=name)
ax.set(xlabel="validation CKA(predictions, q)\n"
              "(lower: more independent)",
       ylabel="validation MSE   (lower: more accurate)",
       xlim=(-0.03, 0.8), ylim=(0, 12.5),
       title="Error against dependence")
ax.legend(loc="upper right")
ax2.semilogx(mu_arr[1:], cka_arr[1:], "o-", color="tab:blue",
             label="fair KRR, μ > 0")
ax2.axhline(cka_arr[0], color="0.5", ls=":", label="μ = 0 (plain KRR)")
ax2.axhline(budget, ls="--", color="tab:red", lw=1, label="budget")
ax2.plot(mu_best, cka_best, "*", color="tab:red", ms=16)
ax2.set(xlabel="fairness strength μ (log scale)",
        ylabel="validation CKA(predictions, q)", ylim=(0, 0.8),
        title="Dependence against μ")
ax2.legend(loc="lower left")
fig.tight_layout()
plt.show()

# %% tags=["remove-cell"]
assert cka_best <= budget and 0.0 < mu_best < mus[-1]
assert budget - cka_best < 0.05  # the star sits "just left" of the line
assert all(c < 0.05 and m > mse_arr[k_flat] for m, c in base_va.values())

# %% [markdown]
# The rule chooses $\mu = $ {glue:text}`p1_mu_best:g` (validation MSE
# {glue:text}`p1_mse_best:.2f`, CKA {glue:text}`p1_cka_best:.3f`). The
# path shows that more $\mu$ is not always more independence. Up to
# $\mu = $ {glue:text}`p1_mu_flat:g` every step lowers the validation CKA,
# from {glue:text}`p1_cka_first:.3f` to {glue:text}`p1_cka_flat:.3f`.
# From there to $\mu = $ {glue:text}`p1_mu_last:g` it moves by at most
# {glue:text}`p1_cka_tail_ptp:.3f` — lowest, {glue:text}`p1_cka_min:.3f`,
# at $\mu = $ {glue:text}`p1_mu_min:g`, and slightly higher again,
# {glue:text}`p1_cka_last:.3f`, at the end — while the validation MSE keeps
# rising, from {glue:text}`p1_mse_flat:.2f` to
# {glue:text}`p1_mse_last:.2f`. Beyond that point a larger $\mu$ costs
# accuracy and buys no measured independence.

# %% [markdown]
# Now, and only now, the test set — once, for the chosen model, beside plain
# KRR and the two baselines.

# %%
alpha_fair = fair_fit(mu_best)
pred_fair = krr_predict(alpha_fair, sigma, X_te)
pred_krr = krr_predict(alpha_krr, sigma, X_te)
test_rows = baselines(X_te, y_te, q_te)
test_rows["plain KRR (μ = 0)"] = (
    mse(pred_krr, y_te), dependence_on_q(pred_krr, q_te))
test_rows[f"fair KRR (μ = {fmt(mu_best)})"] = (
    mse(pred_fair, y_te), dependence_on_q(pred_fair, q_te))
show(test_rows, "test")

# %% tags=["remove-cell"]
t = list(test_rows.values())  # constant, sin(x), plain KRR, fair KRR
(mse_c, _), (mse_s, cka_s), (mse_k, cka_k), (mse_f, cka_f) = t
glue("p1_mse_te_const", float(mse_c), display=False)
glue("p1_mse_te_sine", float(mse_s), display=False)
glue("p1_mse_te_krr", float(mse_k), display=False)
glue("p1_mse_te_fair", float(mse_f), display=False)
glue("p1_cka_te_sine", float(cka_s), display=False)
glue("p1_cka_te_krr", float(cka_k), display=False)
glue("p1_cka_te_fair", float(cka_f), display=False)
glue("p1_cka_te_ratio", float(cka_k / cka_f), display=False)
assert cka_f < cka_k / 3  # "cuts the dependence by a factor of ..."
assert mse_k < mse_f < mse_c  # between plain KRR and the constant
assert mse_f < mse_s and cka_s < cka_f  # below sin(x), a little dependence
assert cka_f < budget  # "what the budget allows"

# %% [markdown]
# The fair model cuts the test CKA with $q$ from
# {glue:text}`p1_cka_te_krr:.3f` (plain KRR) to
# {glue:text}`p1_cka_te_fair:.3f`, by a factor of
# {glue:text}`p1_cka_te_ratio:.1f`, and pays for it with a test MSE of
# {glue:text}`p1_mse_te_fair:.2f`, between plain KRR's
# {glue:text}`p1_mse_te_krr:.2f` and the constant predictor's
# {glue:text}`p1_mse_te_const:.2f`: most of $y$ *is* $3q$, so removing $q$
# removes most of what there is to predict. Its MSE is even below that of
# $\sin(x)$, the best fully fair predictor ({glue:text}`p1_mse_te_sine:.2f`);
# that is possible only because it keeps a little dependence (CKA
# {glue:text}`p1_cka_te_fair:.3f` against {glue:text}`p1_cka_te_sine:.3f`
# for $\sin(x)$), within what the budget allows.
#
# ## 9. The same numbers from `fairkl`
#
# The package implements this objective, with a robust Cholesky, float64 on
# request, and the CKA penalty of Part 3.
# {py:class}`fairkl.FairKernelRidge <fairkl.models.FairKernelRidge>` takes
# `(sigma, lam, mu, sigma_q)`, and `penalty="hsic"` selects the closed form we
# just derived.

# %%
model = fairkl.FairKernelRidge(sigma, lam, mu_best, sigma_q=sigma_q,
                               penalty="hsic", dtype="float64")
model.fit(X_tr, y_tr, q=q_tr)
pred_pkg = model.predict(X_te)
gap = np.max(np.abs(pred_pkg - pred_fair))
print(f"largest difference in test predictions: {gap:.1e}")
cka_pkg = float(dependence.cka_rbf(pred_fair, q_te, sigma_f, sigma_q))
cka_hand = dependence_on_q(pred_fair, q_te)
print(f"test CKA by hand {cka_hand:.6f}, by fairkl {cka_pkg:.6f}")

# %% tags=["remove-cell"]
glue("p1_pkg_gap", float(gap), display=False)
glue("p1_pkg_cka_gap", float(abs(cka_hand - cka_pkg)), display=False)
assert gap < 1e-8
assert abs(cka_hand - cka_pkg) < 1e-10

# %% [markdown]
# The package's test predictions differ from ours by at most
# {glue:text}`p1_pkg_gap:.0e` (units of $y$), and its test CKA from ours by
# {glue:text}`p1_pkg_cka_gap:.0e`: rounding, not a different model.

# %% [markdown]
# ## Exercises
#
# ```{exercise} Centring without the centring matrix
# :label: p1-ex-centre
# :nonumber:
# Form $H = I - \tfrac1n\mathbf 1\mathbf 1^\top$ explicitly for the first 8
# training points, compute $HKH$ with matrix products, and check that it
# equals `center(K)` on the same points. Why does `center` cost $O(n^2)$
# while the products cost $O(n^3)$?
# ```
#
# ```{solution-start} p1-ex-centre
# :class: dropdown
# ```

# %%
K8 = rbf(X_tr[:8], X_tr[:8], sigma)
H = np.eye(8) - np.ones((8, 8)) / 8
HKH = H @ np.asarray(K8) @ H
gap_centre = float(np.max(np.abs(HKH - np.asarray(center(K8)))))
print(f"largest difference: {gap_centre:.1e}")

# %% tags=["remove-cell"]
assert gap_centre < 1e-12

# %% [markdown]
# `center` computes $n$ row means, $n$ column means and one grand mean, then
# one subtraction per entry: $O(n^2)$. Each product with $H$ is a dense
# $n\times n$ matrix product: $O(n^3)$.
#
# ```{solution-end}
# ```
#
# ```{exercise} More μ, less dependence? Derive, then predict
# :label: p1-ex-monotone
# :nonumber:
# Write the objective {eq}`eq-p1-fair` as $J_\mu(\alpha) = E(\alpha) +
# \mu D(\alpha)$, with $E$ the bracketed data term and $D$ the penalty,
# and let $\alpha_\mu$ be its minimiser, the solution of
# {eq}`eq-p1-fair-solve`. Before running any code:
#
# 1. What does {eq}`eq-p1-fair-solve` become at $\mu = 0$?
# 2. Show that for $\mu_1 < \mu_2$, $D(\alpha_{\mu_2}) \le
#    D(\alpha_{\mu_1})$ and $E(\alpha_{\mu_2}) \ge E(\alpha_{\mu_1})$: the
#    training penalty can never rise with $\mu$, nor the training error
#    fall. (Hint: $\alpha_{\mu_1}$ minimises $J_{\mu_1}$, so
#    $J_{\mu_1}(\alpha_{\mu_1}) \le J_{\mu_1}(\alpha_{\mu_2})$; write the
#    same with the roles swapped and add the two.)
# 3. Predict: must the *validation CKA* of {numref}`fig-p1-tradeoff` fall
#    with $\mu$ too?
#
# Then check all three on the path of §7.
# ```
#
# ```{solution-start} p1-ex-monotone
# :class: dropdown
# ```
#
# 1. At $\mu = 0$ the penalty drops out and {eq}`eq-p1-fair-solve` is
#    $(K + \lambda I)\alpha = \tilde y$: plain KRR, the minimiser of
#    {eq}`eq-p1-krr`.
# 2. Adding $E_1 + \mu_1 D_1 \le E_2 + \mu_1 D_2$ and
#    $E_2 + \mu_2 D_2 \le E_1 + \mu_2 D_1$ (with $E_i = E(\alpha_{\mu_i})$,
#    $D_i = D(\alpha_{\mu_i})$) leaves
#    $(\mu_2 - \mu_1)(D_2 - D_1) \le 0$, so $D_2 \le D_1$. Putting that
#    back into the first inequality gives $E_1 \le E_2$.
# 3. No. The guarantee is about $D$, the quantity the fit minimises: HSIC
#    with a linear kernel, on the *training* predictions. The validation
#    CKA uses RBF kernels, on rows the fit never saw; nothing forces it to
#    follow $D$ once $D$ is small.
#
# The code computes $E$ and $D$ at each $\mu$ of the path:

# %%
def train_terms(mu):
    """E and D of the fair objective at its minimiser alpha_mu."""
    alpha = fair_fit(mu)
    f = K @ alpha  # training predictions, in units of y / s_y
    r = ops.convert_to_tensor(y_tr / s_y) - f
    E = float(ops.sum(r**2) + lam * ops.sum(alpha * f)) / n
    D = float(ops.sum(f * (L_tilde @ f))) / n**2
    return E, D


E_mu, D_mu = map(np.array, zip(*[train_terms(mu) for mu in mus]))
pred_mu0 = krr_predict(fair_fit(0.0), sigma, X_va)
gap_mu0 = float(np.max(np.abs(pred_mu0 - pred_krr_va)))
print(f"mu = 0: largest difference from plain KRR's validation\n"
      f"predictions {gap_mu0:.1e}")
print(f"{'mu':>8}{'train E':>10}{'train D':>12}{'val CKA':>10}")
for mu, E, D, c in zip(mus, E_mu, D_mu, cka_arr):
    print(f"{fmt(mu):>8}{E:10.4f}{D:12.2e}{c:10.3f}")

# %% tags=["remove-cell"]
# Predictions 1 and 2, with a tolerance for rounding in the solves.
assert gap_mu0 < 1e-6  # units of y
assert np.all(np.diff(D_mu) <= 1e-9 * D_mu[0]), D_mu
assert np.all(np.diff(E_mu) >= -1e-9 * E_mu[-1]), E_mu
# Prediction 3: the validation CKA does rise somewhere on the path.
k_up = int(np.flatnonzero(np.diff(cka_arr) > 0)[0])
glue("p1_ex_mu_up_from", float(fmt(mus[k_up])), display=False)
glue("p1_ex_mu_up_to", float(fmt(mus[k_up + 1])), display=False)
glue("p1_ex_cka_up_from", float(cka_arr[k_up]), display=False)
glue("p1_ex_cka_up_to", float(cka_arr[k_up + 1]), display=False)
glue("p1_ex_D_ratio", float(D_mu[0] / D_mu[-1]), display=False)

# %% [markdown]
# As derived, the training penalty $D$ falls at every step (by a factor of
# {glue:text}`p1_ex_D_ratio:.0f` from $\mu = 0$ to the end of the path) and
# the training error $E$ rises. The validation CKA does not have to follow:
# from $\mu = $ {glue:text}`p1_ex_mu_up_from:g` to
# {glue:text}`p1_ex_mu_up_to:g` it rises, from
# {glue:text}`p1_ex_cka_up_from:.3f` to {glue:text}`p1_ex_cka_up_to:.3f`.
# A rule that chooses $\mu$ must therefore look at held-out dependence, not
# assume that more $\mu$ is always fairer.
#
# ```{solution-end}
# ```
#
# ```{exercise} Unawareness, done thoroughly
# :label: p1-ex-unaware
# :nonumber:
# Drop the proxy column too, so the model sees only $x$. Fit plain KRR (same
# $\sigma$ and $\lambda$) and compare its test MSE and CKA with $\sin(x)$ and
# with the fair model. What does this say about removing columns as a
# fairness method?
# ```
#
# ```{solution-start} p1-ex-unaware
# :class: dropdown
# ```

# %%
Kx = rbf(X_tr[:, :1], X_tr[:, :1], sigma)
y_std = ops.convert_to_tensor(y_tr / s_y)
alpha_x = ops.solve(Kx + lam * eye, y_std)
K_te_x = rbf(X_te[:, :1], X_tr[:, :1], sigma)
pred_x = s_y * np.asarray(K_te_x @ alpha_x)
mse_x, cka_x = mse(pred_x, y_te), dependence_on_q(pred_x, q_te)
print(f"KRR on x only: test MSE {mse_x:.2f}, CKA {cka_x:.3f}")

# %% tags=["remove-cell"]
glue("p1_ex_mse_x", float(mse_x), display=False)
glue("p1_ex_cka_x", float(cka_x), display=False)
assert abs(mse_x - mse_s) < 0.05 * mse_s  # "close to sin(x)"
assert abs(cka_x - cka_s) < 0.01 and cka_x < cka_f
assert mse_x > mse_f  # the fair model, keeping a little q, is better

# %% [markdown]
# Here it works, because we *know* which column is the proxy and no other
# column carries $q$: the model on $x$ alone is close to $\sin(x)$ (test
# MSE {glue:text}`p1_ex_mse_x:.2f` against {glue:text}`p1_mse_te_sine:.2f`,
# CKA {glue:text}`p1_ex_cka_x:.3f` against
# {glue:text}`p1_cka_te_sine:.3f`), and the fair model, which keeps a
# little of $q$ within its budget, is more accurate
# ({glue:text}`p1_mse_te_fair:.2f`). On real data every column may carry a
# little of $q$ and dropping them all leaves nothing to predict with (see
# the case study). The penalty removes the dependence without our having
# to find the proxies.
#
# ```{solution-end}
# ```
#
# ```{exercise} A tighter budget
# :label: p1-ex-budget
# :nonumber:
# Apply the same rule with a budget of 0.12 instead of 0.2. Which $\mu$ is
# chosen, and what does the tighter budget cost in test MSE?
# ```
#
# ```{solution-start} p1-ex-budget
# :class: dropdown
# ```

# %%
mu_tight = most_accurate_within(0.12, path)[0]
pred_tight = krr_predict(fair_fit(mu_tight), sigma, X_te)
mse_tight = mse(pred_tight, y_te)
cka_tight = dependence_on_q(pred_tight, q_te)
print(f"budget 0.12: mu = {fmt(mu_tight)}, test MSE {mse_tight:.2f}, "
      f"CKA {cka_tight:.3f}")

# %% tags=["remove-cell"]
glue("p1_ex_mu_tight", float(fmt(mu_tight)), display=False)
glue("p1_ex_mse_tight", float(mse_tight), display=False)
glue("p1_ex_cka_tight", float(cka_tight), display=False)
assert mu_tight > mu_best and mse_tight > mse_f and cka_tight < cka_f

# %% [markdown]
# A larger $\mu$ is chosen, {glue:text}`p1_ex_mu_tight:g` instead of
# {glue:text}`p1_mu_best:g`; its test MSE is higher
# ({glue:text}`p1_ex_mse_tight:.2f` against {glue:text}`p1_mse_te_fair:.2f`)
# and its test CKA lower ({glue:text}`p1_ex_cka_tight:.3f` against
# {glue:text}`p1_cka_te_fair:.3f`). Where to stand on this curve is a
# decision about values; the rule makes it explicit and repeatable.
#
# ```{solution-end}
# ```

# %% [markdown]
# ## Key takeaways
#
# ```{admonition} Key takeaways
# :class: important
# * Dropping the sensitive column is not enough: through a proxy, plain
#   KRR's predictions keep most of the target's own dependence on $q$.
# * HSIC {eq}`eq-p1-hsic` measures dependence between kernels; CKA
#   {eq}`eq-p1-cka` is HSIC normalised to $[0, 1]$, free of units, so one
#   budget reads the same everywhere.
# * Measure every model with one fixed yardstick (median-heuristic
#   bandwidths from the training data).
# * With a linear kernel on predictions the HSIC-penalised objective
#   {eq}`eq-p1-fair` is quadratic: one linear solve,
#   {eq}`eq-p1-fair-solve`.
# * A larger $\mu$ always lowers the *training* penalty, not necessarily
#   the held-out dependence: past a point it only costs accuracy.
# * Choose by a stated rule on validation data (here: most accurate within
#   a CKA budget), test once, and compare with baselines — the constant
#   predictor and the best fair predictor.
# ```
#
# **Next:** [Part 2 — scikit-learn and cross-validation](part2_sklearn) puts
# this model inside scikit-learn's model-selection tools.
