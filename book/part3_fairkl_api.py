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
# # Part 3 — The fairkl API and Keras
#
# {py:class}`fairkl.models.FairKernelRidge` is a `keras.Model` with the seed tutorial's API:
# `FairKernelRidge(sigma, lam, mu, sigma_q)`, `fit(X, y, q=...)`, `predict(X)`.
# This part compares its two penalties, computes an exact μ-path, looks at
# bandwidths, and saves and reloads a fitted model.

# %% tags=["hide-cell"]
# Setup: this notebook needs the fairkl package (its data ship with it).
try:
    import fairkl  # noqa: F401  (also selects Keras's JAX backend)
except ModuleNotFoundError as error:
    raise ModuleNotFoundError(
        "This notebook needs the fairkl package. From a clone of its repository run\n"
        '    python -m pip install ".[notebooks]"\n'
        "or, in a hosted notebook such as Colab, run in a cell\n"
        '    %pip install "fairkl[notebooks] @ git+https://github.com/OWNER/fairkl"\n'
        "with the repository linked at the top of the book's pages;\n"
        "then restart the kernel. "
        "The book's Installation page has the details."
    ) from error

# %%
import os

os.environ.setdefault("KERAS_BACKEND", "jax")  # before keras is first imported

import tempfile
import time
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import numpy as np

from fairkl import FairKernelRidge
from fairkl.datasets import make_seed_data
from fairkl.dependence import cka_rbf
from fairkl.kernels import median_heuristic
from fairkl.sklearn import mean_parity_gap

X, y, q = make_seed_data(n=300, seed=2)
X_tr, y_tr, q_tr = X[:200], y[:200], q[:200]
X_va, y_va, q_va = X[200:250], y[200:250], q[200:250]
X_te, y_te, q_te = X[250:], y[250:], q[250:]
s_y, s_q = float(median_heuristic(y_tr[:, None])), float(median_heuristic(q_tr))


def report(name, model, X_part, y_part, q_part):
    p = model.predict(X_part)
    groups = (q_part[:, 0] > 0).astype(int)  # above / below the median attribute
    print(f"{name:<28} MSE {np.mean((p - y_part) ** 2):6.3f}   CKA {float(cka_rbf(p, q_part, s_y, s_q)):.3f}"
          f"   mean gap {mean_parity_gap(None, p, sensitive_features=groups):.3f}")
    return p

# %% [markdown]
# ## Two penalties, two notions of independence
#
# * `penalty="hsic"` — HSIC with a *linear* kernel on the predictions, the
#   Fair Kernel Learning penalty {cite}`perezsuay2017fair`: quadratic, solved
#   exactly. It removes dependence of the predictions' **mean** on $q$ (as seen
#   through the kernel on $q$).
# * `penalty="cka"` — CKA {cite}`kornblith2019similarity` between RBF kernels
#   on predictions and on $q$: with a characteristic kernel it is zero only
#   under independence {cite}`gretton2005measuring`, so it also sees spread
#   and shape. Not quadratic: solved by a compiled L-BFGS loop (one XLA
#   program per fit).

# %%
plain = FairKernelRidge(1.0, 1e-2, 0.0).fit(X_tr, y_tr)
hsic_model = FairKernelRidge(1.0, 1e-2, 20.0, penalty="hsic").fit(X_tr, y_tr, q=q_tr)
cka_model = FairKernelRidge(1.0, 1e-2, 5.0, penalty="cka").fit(X_tr, y_tr, q=q_tr, epochs=300)
for name, m in [("plain KRR (mu=0)", plain), ("HSIC penalty, mu=20", hsic_model), ("CKA penalty, mu=5", cka_model)]:
    report(name, m, X_va, y_va, q_va)
print("CKA solver:", cka_model.n_iter_, "steps, converged:", cka_model.converged_)

# %% [markdown]
# ## The exact μ-path
#
# For the HSIC penalty, {py:meth}`~fairkl.models.FairKernelRidge.mu_path` returns the exact solution for many values of
# $\mu$ from one Cholesky factorisation and a low-rank factor of the centred
# kernel on $q$ (Woodbury identity), at roughly the cost of a single fit.

# %%
mus = np.r_[0.0, np.logspace(-1, 2.5, 59)]
t0 = time.perf_counter()
path = FairKernelRidge(1.0, 1e-2, dtype="float64").mu_path(X_tr, y_tr, q_tr, mus)
preds = path.predict(X_va)
t_path = time.perf_counter() - t0
mse_path = np.mean((preds - y_va) ** 2, axis=1)
cka_path = np.array([float(cka_rbf(p, q_va, s_y, s_q)) for p in preds])
print(f"{len(mus)} values of mu in {t_path * 1e3:.0f} ms, compilation included (rank of the factor: {path.rank})")

fig, ax1 = plt.subplots(figsize=(6, 3.8))
ax1.semilogx(mus[1:], mse_path[1:], color="tab:blue")
ax1.set_xlabel("μ")
ax1.set_ylabel("validation MSE", color="tab:blue")
ax2 = ax1.twinx()
ax2.semilogx(mus[1:], cka_path[1:], color="tab:orange")
ax2.set_ylabel("validation CKA(pred, q)", color="tab:orange")
ax1.set_title("Along the μ-path, dependence falls as error rises")
plt.show()

# %% [markdown]
# ## Bandwidths and units
#
# The bandwidth on $q$ (`sigma_q`) is in the units of $q$; left as `None` it is
# the median pairwise distance of the training $q$, so the fit does not depend
# on the units of $q$. The fairness strength $\mu$ is dimensionless: the data
# term is measured on $y$ divided by its standard deviation. Changing units
# changes nothing but the scale of the predictions:

# %%
a = FairKernelRidge(1.0, 1e-2, 5.0, dtype="float64").fit(X_tr, y_tr, q=q_tr).predict(X_va)
b = FairKernelRidge(1.0, 1e-2, 5.0, dtype="float64").fit(X_tr, 1000 * y_tr, q=q_tr / 100).predict(X_va)
print("max |pred(1000 y) / 1000 - pred(y)|:", float(np.max(np.abs(b / 1000 - a))))

# %% [markdown]
# ## Saving and loading
#
# A fitted model saves with `model.save(...)` and loads with
# `keras.models.load_model(...)` — no `custom_objects` needed once `fairkl` is
# imported. The file holds the coefficients, the training inputs and the
# bandwidths.

# %%
with tempfile.TemporaryDirectory() as tmp:
    path_file = Path(tmp) / "fair_krr.keras"
    cka_model.save(path_file)
    reloaded = keras.models.load_model(path_file)
same = np.array_equal(reloaded.predict(X_te), cka_model.predict(X_te))
print(type(reloaded).__name__, "identical predictions:", same)

# %% [markdown]
# Finally, the test set, once, for the model chosen on validation data:

# %%
p_test = report("CKA penalty, mu=5 (test)", cka_model, X_te, y_te, q_te)

# %% tags=["remove-cell"]
# Regression checks for CI (hidden in the book).
assert cka_model.converged_
assert same
assert np.max(np.abs(b / 1000 - a)) < 1e-6 * np.max(np.abs(a))
assert cka_path[-1] < 0.5 * cka_path[0] and mse_path[-1] > mse_path[0]
assert float(cka_rbf(p_test, q_te, s_y, s_q)) < float(cka_rbf(plain.predict(X_te), q_te, s_y, s_q))

# %% [markdown]
# **Next:** [Part 4 — automated search with KerasTuner](part4_kerastuner).
