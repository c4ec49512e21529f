"""Does the HyperModel's default space span the accuracy/fairness trade-off? (issue 12.2)

Run: python benchmarks/bench_tuning_space.py

On the book's data (``make_seed_data(n=200, seed=0)``, 150 train / 50
validation; y = sin x + 3q + noise) a 30-trial ``kt.RandomSearch(seed=1)`` is
run with the default space and with the seed tutorial's space (mu on
{0..20}). Printed: the extremes of val_mse and val_cka, the two ends of the
Pareto front, and the baselines: the constant predictor (mean of y_train) and
plain kernel ridge regression (mu = 0, sigma and lam chosen by the same
30-trial search restricted to mu = 0). The front must run from the
accurate-and-dependent end (val_mse near plain KRR, high CKA) to the fair end
(CKA < 0.1).
"""

from __future__ import annotations

import tempfile

import keras_tuner as kt
import numpy as np

import fairkl  # noqa: F401
from fairkl.datasets import make_seed_data
from fairkl.tuning import (
    DEFAULT_SPACE,
    SEED_SPACE,
    FairKernelRidgeHyperModel,
    frozen_gc,
    pareto_trials,
    trials_table,
)


def search(split, space, directory, name, seed=1, n=30):
    hm = FairKernelRidgeHyperModel(*split, space=space)
    tuner = kt.RandomSearch(
        hm,
        objective=kt.Objective("val_mse", "min"),
        max_trials=n,
        seed=seed,
        directory=directory,
        project_name=name,
    )
    tuner.search(verbose=0)
    return trials_table(tuner)


def describe(label, rows):
    P = np.array([[r["val_mse"], r["val_cka"]] for r in rows])
    front = sorted(pareto_trials(rows), key=lambda r: r["val_mse"])
    acc, fair = front[0], front[-1]
    fair_ok = [r for r in rows if r["val_cka"] < 0.1]
    print(
        f"{label:<22} {P[:, 0].min():8.2f} {P[:, 0].max():8.2f} {P[:, 1].min():7.3f} {P[:, 1].max():7.3f} "
        f"  ({acc['val_mse']:.2f}, {acc['val_cka']:.3f}) mu={acc['mu']:.3g}"
        f"  ->  ({fair['val_mse']:.2f}, {fair['val_cka']:.3f}) mu={fair['mu']:.3g}"
        f"   {len(front):>2} on front, {len(fair_ok):>2} with cka<0.1, "
        f"{sum(r['mu'] == 0 for r in rows):>2} with mu=0"
    )


def main():
    X, y, q = make_seed_data(n=200, seed=0)
    split = (X[:150], y[:150], q[:150], X[150:], y[150:], q[150:])
    constant = float(np.mean((y[150:] - y[:150].mean()) ** 2))
    directory = tempfile.mkdtemp()
    with frozen_gc():
        krr = search(split, {"mu": 0.0}, directory, "krr")
        best_krr = min(krr, key=lambda r: r["val_mse"])
        print(
            "30 trials, kt.RandomSearch(seed=1); columns: val_mse min/max, val_cka min/max, "
            "front ends (val_mse, val_cka)"
        )
        print(
            f"baselines: constant predictor val_mse {constant:.2f}; plain KRR (mu=0, best of 30) "
            f"val_mse {best_krr['val_mse']:.2f}, val_cka {best_krr['val_cka']:.3f}"
        )
        print(f"{'space':<22} {'mse min':>8} {'mse max':>8} {'cka min':>7} {'cka max':>7}   front")
        describe("default (new)", search(split, None, directory, "new"))
        describe("seed tutorial's", search(split, SEED_SPACE, directory, "seed"))
    print(f"default space: {DEFAULT_SPACE}")


if __name__ == "__main__":
    main()
