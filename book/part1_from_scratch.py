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
# whose predictions are kept nearly independent of the sensitive attribute
# ({term}`demographic parity`): the
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
import matplotlib.pyplot as plt
import numpy as np
from keras import ops
from matplotlib_inline.backend_inline import set_matplotlib_formats

from fairkl.datasets import make_seed_data

set_matplotlib_formats("svg")  # sharp figures at any zoom

# %% [markdown]
# ## 1. The data: a target that depends on a sensitive attribute
#
# We use a small synthetic problem whose answer we know. A sensitive attribute
# $q \sim \mathcal N(0, 1)$ (think of a protected characteristic) and an input
# $x \sim \mathcal U(-3, 3)$ are independent, and
#
# $$y = \sin(x) + 3q + \varepsilon, \qquad \varepsilon \sim \mathcal N(0, 0.1^2).$$
#
# The model never sees $q$. Its inputs are $x$ and a noisy **proxy**
# $q + \mathcal N(0, 0.5^2)$ — a postcode that stands in for ethnicity.
# The same problem was used by the earlier public tutorial series
# [`jejjohnson/keras-fairkl`](https://github.com/jejjohnson/keras-fairkl),
# whose Part 4 tuned a fair model with 30 KerasTuner trials in 5 min 10 s
# (best validation MSE 0.0908, 12 of the 30 trials Pareto-optimal); this book
# grew out of it.
#
# We split once into training (fit), validation (choose) and test (report
# once, at the end) parts.

# %%
X, y, q = make_seed_data(n=300, seed=0)  # X = [x, proxy], q has shape (n, 1)
X_tr, y_tr, q_tr = X[:180], y[:180], q[:180]
X_va, y_va, q_va = X[180:240], y[180:240], q[180:240]
X_te, y_te, q_te = X[240:], y[240:], q[240:]
print(f"train {len(X_tr)}, validation {len(X_va)}, test {len(X_te)} rows; "
      f"{X.shape[1]} input columns")

# %% mystnb={"figure": {"caption": "The data. Left: $y$ against $x$; the colour is the sensitive attribute $q$. The sine is there, but most of the spread of $y$ comes from $q$ (yellow points high, purple points low). Right: the proxy column tracks $q$ closely, so a model that uses it learns $q$.", "name": "fig-p1-data"}, "image": {"alt": "Two scatter plots. Left: y against x, coloured by q, showing a sine wave smeared vertically by q. Right: the proxy column against q, close to the diagonal."}}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
pts = ax1.scatter(X_tr[:, 0], y_tr, c=q_tr[:, 0], s=14, cmap="viridis")
grid_x = np.linspace(-3, 3, 200)
ax1.plot(grid_x, np.sin(grid_x), "k--", lw=1.5, label="sin(x)")
ax1.set(xlabel="input x", ylabel="target y", title="Target: sin(x) + 3q + noise")
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
# $$k(x, x') = \exp\!\Big(-\frac{\lVert x - x'\rVert^2}{2\sigma^2}\Big),$$
#
# and the kernel matrix $K_{ij} = k(x_i, x_j)$ holds it for every pair of
# training points. We compute the squared distances as
# $\lVert a\rVert^2 + \lVert b\rVert^2 - 2a^\top b$ in float64.

# %%
def rbf(A, B, sigma):
    """RBF kernel matrix k(A, B) with bandwidth sigma, in float64."""
    A = ops.reshape(ops.convert_to_tensor(A, "float64"), (len(A), -1))
    B = ops.reshape(ops.convert_to_tensor(B, "float64"), (len(B), -1))
    sq = ops.sum(A**2, 1)[:, None] + ops.sum(B**2, 1)[None, :]
    d2 = ops.maximum(sq - 2 * A @ ops.transpose(B), 0.0)  # clip rounding below 0
    return ops.exp(-d2 / (2 * sigma**2))


# %% [markdown]
# The bandwidth decides what "similar" means. The heatmaps below show $K$ for
# 40 values of $x$ sorted from $-3$ to $3$, at three bandwidths.

# %% mystnb={"figure": {"caption": "The effect of the bandwidth $\\sigma$ on the RBF kernel matrix of 40 sorted inputs. Small $\\sigma$: each point is similar only to itself and its neighbours (a narrow diagonal band), so a model can follow every wiggle. Large $\\sigma$: every point looks like every other (the matrix is nearly constant), so a model can only draw smooth, almost linear functions.", "name": "fig-p1-bandwidth"}, "image": {"alt": "Three heatmaps of a 40 by 40 kernel matrix: a thin bright diagonal for sigma 0.2, a wider band for sigma 1, and an almost uniformly bright square for sigma 5."}}
x_sorted = np.linspace(-3, 3, 40)[:, None]
fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
for ax, s in zip(axes, [0.2, 1.0, 5.0]):
    im = ax.imshow(np.asarray(rbf(x_sorted, x_sorted, s)), vmin=0, vmax=1,
                   cmap="magma", extent=[-3, 3, 3, -3])
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
    """HKH without forming H: subtract row and column means, add the grand mean."""
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
# $$
#
# With RBF kernels on both variables it is zero (for large $n$) exactly when
# the variables are independent. Its size, though, depends on the kernels'
# scale. **Centred kernel alignment** {cite:p}`kornblith2019similarity`
# normalises it, like a correlation coefficient:
#
# $$\operatorname{CKA}(K, L) = \frac{\operatorname{HSIC}(K, L)}
#   {\sqrt{\operatorname{HSIC}(K, K)\operatorname{HSIC}(L, L)}}.$$
#
# It lies in $[0, 1]$.

# %%
def hsic(K, L):
    """Biased HSIC: sum of the elementwise product of the centred kernels / n^2."""
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
# by $c^2$, so "HSIC = 0.3" means nothing until you know the units of $f$, and
# a penalty on HSIC can be lowered just by shrinking the predictions. CKA
# divides the scale out.

# %% mystnb={"figure": {"caption": "Why CKA: rescaling the target by $c$ (changing its units) multiplies HSIC with a linear kernel by $c^2$ (a straight line of slope 2 on log axes), while CKA does not move. A budget such as CKA ≤ 0.2 therefore means the same on every dataset; an HSIC budget does not.", "name": "fig-p1-why-cka"}, "image": {"alt": "Log-log plot against the scale factor c: the HSIC curve rises as a straight line of slope two, the CKA curve is flat."}}
scales = np.logspace(-1, 1, 9)
lin = lambda f: ops.convert_to_tensor(f[:, None] * f[None, :])  # noqa: E731
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
    """Median heuristic: the median of the non-zero pairwise distances."""
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
    return {"constant ȳ": (mse(const, y_part), 0.0),
            "sin(x), best fair": (mse(sine, y_part), dependence_on_q(sine, q_part))}


def show(rows, title):
    print(f"{title:<28}{'MSE':>8}{'CKA with q':>12}")
    for name, (m, c) in rows.items():
        print(f"{name:<28}{m:8.2f}{c:12.3f}")


base_va = baselines(X_va, y_va, q_va)
show(base_va, "validation")
print(f"\nCKA between the true target y and q on validation: "
      f"{dependence_on_q(y_va, q_va):.2f}")

# %% tags=["remove-cell"]
assert base_va["sin(x), best fair"][1] < 0.1
assert base_va["sin(x), best fair"][0] < base_va["constant ȳ"][0]
assert dependence_on_q(y_va, q_va) > 0.85

# %% [markdown]
# The target depends strongly on $q$ (CKA about 0.9), and since $3q$ is most
# of the signal, even the best fair predictor is barely better than the
# constant. That is the price of fairness on this problem, known before we fit
# anything.
#
# ## 6. Kernel ridge regression in closed form
#
# Kernel ridge regression (KRR) predicts $f(x) = \sum_i \alpha_i k(x, x_i)$;
# on the training points $f = K\alpha$. With $\tilde y = y / s_y$ (the target
# divided by its standard deviation, which `fairkl` uses so that $\mu$ below
# has no units) it minimises
#
# $$\frac1n\Big[\lVert \tilde y - K\alpha\rVert^2 + \lambda\,\alpha^\top K\alpha\Big],$$
#
# whose minimiser is $\alpha = (K + \lambda I)^{-1}\tilde y$ — the same as
# scikit-learn's {py:class}`~sklearn.kernel_ridge.KernelRidge` with
# `alpha` $=\lambda$. The matrix is symmetric positive definite, so we solve by
# Cholesky. Predictions are $s_y\,k(x, X)\,\alpha$ in the units of $y$.

# %%
s_y = float(np.std(y_tr))
n = len(X_tr)
eye = ops.eye(n, dtype="float64")


def krr_fit(sigma, lam):
    K = rbf(X_tr, X_tr, sigma)
    chol = ops.cholesky(K + lam * eye)
    z = ops.solve_triangular(chol, ops.convert_to_tensor(y_tr / s_y), lower=True)
    return ops.solve_triangular(ops.transpose(chol), z, lower=False)


def krr_predict(alpha, sigma, X_new):
    return s_y * np.asarray(rbf(X_new, X_tr, sigma) @ alpha)


# %% [markdown]
# The bandwidth $\sigma$ and the ridge $\lambda$ are chosen by a stated rule:
# **the lowest validation MSE** on a grid around the median heuristic on $X$.
# The grid is wide enough that the choice falls inside it, not at an edge.

# %%
sigma_X = median_distance(X_tr)
sigmas = sigma_X * np.array([0.25, 0.5, 1, 2, 4, 8])
lams = np.logspace(-5, 0, 6)
val_mse = np.array([[mse(krr_predict(krr_fit(s, lam), s, X_va), y_va) for lam in lams]
                    for s in sigmas])
i, j = np.unravel_index(np.argmin(val_mse), val_mse.shape)
sigma, lam = float(sigmas[i]), float(lams[j])
print(f"median heuristic on X: {sigma_X:.2f}; chosen sigma = {sigma:.2f}, "
      f"lambda = {lam:g} (validation MSE {val_mse[i, j]:.2f})")

# %% tags=["remove-cell"]
assert 0 < i < len(sigmas) - 1 and 0 < j < len(lams) - 1  # interior choice

# %% mystnb={"figure": {"caption": "Validation MSE of kernel ridge regression against the bandwidth, one line per ridge strength $\\lambda$; the star is the chosen pair (lowest validation MSE). Too small a bandwidth over-fits (error shoots up on the left); too large smooths too much; stronger ridge tames small bandwidths.", "name": "fig-p1-sigma"}, "image": {"alt": "Validation MSE against sigma on a log axis, six curves for lambda from 1e-5 to 1, each U-shaped, with a star at the lowest point."}}
fig, ax = plt.subplots(figsize=(7, 3.8))
for jj, lam_j in enumerate(lams):
    ax.semilogx(sigmas, val_mse[:, jj], "o-", ms=3, label=f"λ = {lam_j:g}")
ax.plot(sigma, val_mse[i, j], "k*", ms=14, label="chosen")
ax.axhline(base_va["constant ȳ"][0], color="0.5", ls=":", label="constant ȳ")
ax.set(xlabel="bandwidth σ of the kernel on X", ylabel="validation MSE",
       title="Choosing σ and λ on validation data", ylim=(0, 12))
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
plt.show()

# %%
alpha_krr = krr_fit(sigma, lam)
pred_krr_va = krr_predict(alpha_krr, sigma, X_va)
print(f"plain KRR on validation: MSE {mse(pred_krr_va, y_va):.2f}, "
      f"CKA with q {dependence_on_q(pred_krr_va, q_va):.2f}")

# %% tags=["remove-cell"]
assert 0.6 < dependence_on_q(pred_krr_va, q_va) < 0.8  # the intro quotes "about 0.7"
assert mse(pred_krr_va, y_va) < 0.3 * base_va["sin(x), best fair"][0]

# %% [markdown]
# Plain KRR is far more accurate than $\sin(x)$ — and that is the problem: its
# predictions depend on $q$ about as much as the target does (CKA above 0.6),
# although $q$ was never an input. Dropping the sensitive column ("fairness
# through {term}`unawareness`") is not enough when a proxy remains.
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
# $$
#
# With HSIC and a *linear* kernel on $f$, the penalty is a quadratic form,
# $D = \operatorname{HSIC}(ff^\top, L) = f^\top \tilde L f / n^2$ with
# $\tilde L = HLH$ and $L$ the RBF kernel on $q$ (bandwidth $\sigma_q$). So
# $J$ stays quadratic in $\alpha$. Setting its gradient to zero,
#
# $$
# \begin{aligned}
# &\tfrac2n K\big[(K + \lambda I)\alpha - \tilde y\big]
#   + \tfrac{2\mu}{n^2} K\tilde L K\alpha = 0\\
# &\Longleftarrow\;
#   \big(K + \lambda I + \tfrac{\mu}{n}\tilde L K\big)\,\alpha = \tilde y .
# \end{aligned}
# $$
#
# The matrix is not symmetric, so we solve by LU (`ops.solve`, the Keras
# counterpart of {py:func}`numpy.linalg.solve`). At $\mu = 0$ it is plain KRR.

# %%
L_tilde = center(rbf(q_tr, q_tr, sigma_q))
K = rbf(X_tr, X_tr, sigma)


def fair_fit(mu):
    A = K + lam * eye + (mu / n) * L_tilde @ K
    return ops.solve(A, ops.convert_to_tensor(y_tr / s_y))


mus = np.r_[0.0, np.logspace(-1, 3, 9)]


def fmt(mu):
    """Three significant digits without exponents: 0.316, 31.6, 1000."""
    return np.format_float_positional(mu, precision=3, fractional=False, trim="-")


path = []  # one row per mu: (mu, validation MSE, validation CKA)
for mu in mus:
    p = krr_predict(fair_fit(mu), sigma, X_va)
    path.append((mu, mse(p, y_va), dependence_on_q(p, q_va)))
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
    """Rule: lowest validation MSE among rows with validation CKA <= budget."""
    ok = [r for r in rows if r[2] <= budget]
    return min(ok, key=lambda r: r[1])


mu_best, mse_best, cka_best = most_accurate_within(budget, path)
print(f"chosen mu = {fmt(mu_best)} (validation MSE {mse_best:.2f}, CKA {cka_best:.3f})")

# %% mystnb={"figure": {"caption": "The accuracy–independence trade-off on validation data. Each point is one value of $\\mu$ (labelled); raising $\\mu$ moves left (less dependence on $q$) and up (larger error). The star is the model chosen by the rule *most accurate with CKA ≤ 0.2* (dashed line). The two baselines show the ends: the constant predictor and $\\sin(x)$, the best predictor that ignores $q$.", "name": "fig-p1-tradeoff"}, "image": {"alt": "Validation MSE against validation CKA for ten values of mu: a curve from the top left to the bottom right, a dashed vertical budget line at 0.2, a star on the curve just left of it, and two baseline markers near CKA zero with high MSE."}}
mu_arr, mse_arr, cka_arr = map(np.array, zip(*path))
fig, ax = plt.subplots(figsize=(6.5, 4.2))
ax.plot(cka_arr, mse_arr, "o-", color="tab:blue", label="fair KRR, one point per μ")
labelled = {0.0: (-12, 10), mus[4]: (8, 2), 10.0: (8, 4), mu_best: (10, 2),
            1000.0: (8, -2)}  # mu -> label offset in points, chosen to avoid overlaps
for mu, m, c in path:
    if mu in labelled:
        ax.annotate(f"μ = {fmt(mu)}", (c, m), textcoords="offset points",
                    xytext=labelled[mu], fontsize=9)
ax.plot(cka_best, mse_best, "*", color="tab:red", ms=16, label="chosen by the rule")
ax.axvline(budget, ls="--", color="tab:red", lw=1, label=f"budget CKA ≤ {budget}")
for name, (m, c) in base_va.items():
    ax.plot(c, m, "D" if "const" in name else "s", color="0.35", label=name)
ax.set(xlabel="validation CKA(predictions, q)   (lower: more independent of q)",
       ylabel="validation MSE   (lower: more accurate)",
       title="Raising μ trades accuracy for independence")
ax.legend(fontsize=8, loc="upper right")
plt.show()

# %% tags=["remove-cell"]
assert cka_arr[-1] < 0.25 * cka_arr[0] and mse_arr[-1] > mse_arr[0]
assert cka_best <= budget and 0.0 < mu_best < mus[-1]

# %% [markdown]
# Now, and only now, the test set — once, for the chosen model, beside plain
# KRR and the two baselines.

# %%
alpha_fair = fair_fit(mu_best)
pred_fair = krr_predict(alpha_fair, sigma, X_te)
pred_krr = krr_predict(alpha_krr, sigma, X_te)
test_rows = baselines(X_te, y_te, q_te)
test_rows["plain KRR (μ = 0)"] = (mse(pred_krr, y_te), dependence_on_q(pred_krr, q_te))
test_rows[f"fair KRR (μ = {fmt(mu_best)})"] = (mse(pred_fair, y_te),
                                            dependence_on_q(pred_fair, q_te))
show(test_rows, "test")

# %% tags=["remove-cell"]
t = list(test_rows.values())
assert t[3][1] < 0.5 * t[2][1]  # fair model far less dependent than plain KRR
assert t[2][0] < t[3][0] < t[0][0]  # its MSE lies between plain KRR and constant
assert t[3][1] < 0.2
assert t[3][0] < t[1][0] and 0.05 < t[3][1] < 0.15 and t[1][1] < 0.03

# %% [markdown]
# The fair model cuts the dependence on $q$ several-fold and pays for it with
# a test MSE between plain KRR and the constant predictor: most of $y$ *is*
# $3q$, so removing $q$ removes most of what there is to predict. Its MSE is
# even a little below that of $\sin(x)$, the best fully fair predictor; that
# is possible only because it keeps a little dependence (CKA about 0.1 against
# about 0.02 for $\sin(x)$) — exactly what the budget allows.
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
assert np.max(np.abs(pred_pkg - pred_fair)) < 1e-8
assert abs(dependence_on_q(pred_fair, q_te) - cka_pkg) < 1e-10

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
print("largest difference:", float(np.max(np.abs(HKH - np.asarray(center(K8))))))

# %% [markdown]
# `center` computes $n$ row means, $n$ column means and one grand mean, then
# one subtraction per entry: $O(n^2)$. Each product with $H$ is a dense
# $n\times n$ matrix product: $O(n^3)$.
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
alpha_x = ops.solve(Kx + lam * eye, ops.convert_to_tensor(y_tr / s_y))
pred_x = s_y * np.asarray(rbf(X_te[:, :1], X_tr[:, :1], sigma) @ alpha_x)
print(f"KRR on x only: test MSE {mse(pred_x, y_te):.2f}, "
      f"CKA {dependence_on_q(pred_x, q_te):.3f}")

# %% [markdown]
# Here it works, because we *know* which column is the proxy and no other
# column carries $q$; the model is then close to $\sin(x)$. On real data
# every column may carry a little of $q$ and dropping them all leaves nothing
# to predict with (see the case study). The penalty removes the dependence
# without our having to find the proxies.
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
print(f"budget 0.12: mu = {fmt(mu_tight)}, test MSE {mse(pred_tight, y_te):.2f}, "
      f"CKA {dependence_on_q(pred_tight, q_te):.3f}")

# %% [markdown]
# A larger $\mu$ is chosen; its test MSE is higher and its dependence lower.
# Where to stand on this curve is a decision about values; the rule makes it
# explicit and repeatable.
#
# ```{solution-end}
# ```

# %% tags=["remove-cell"]
assert np.max(np.abs(HKH - np.asarray(center(K8)))) < 1e-12
assert dependence_on_q(pred_x, q_te) < 0.1
assert mu_tight > mu_best and mse(pred_tight, y_te) > t[3][0]

# %% [markdown]
# ## Key takeaways
#
# ```{admonition} Key takeaways
# :class: important
# * Dropping the sensitive column is not enough: through a proxy, plain KRR's
#   predictions depend on $q$ almost as much as the target does.
# * HSIC measures dependence between kernels; CKA is HSIC normalised to
#   $[0, 1]$, free of units, so one budget reads the same everywhere.
# * Measure every model with one fixed yardstick (median-heuristic bandwidths
#   from the training data).
# * With a linear kernel on predictions the HSIC-penalised objective is
#   quadratic: one linear solve,
#   $(K + \lambda I + \tfrac{\mu}{n}\tilde LK)\alpha = \tilde y$.
# * Choose by a stated rule on validation data (here: most accurate within a
#   CKA budget), test once, and compare with baselines — the constant
#   predictor and the best fair predictor.
# ```
#
# **Next:** [Part 2 — scikit-learn and cross-validation](part2_sklearn) puts
# this model inside scikit-learn's model-selection tools.
