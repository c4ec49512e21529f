"""KerasTuner integration: a fast HyperModel, a batched tuner, and multi-objective tools.

* :class:`FairKernelRidgeHyperModel` works with every stock tuner
  (``kt.RandomSearch``, ``kt.GridSearch``, ``kt.BayesianOptimization``,
  ``kt.Hyperband``) with the seed tutorial's call. Each trial is one compiled
  fit (no recompilation between trials) and reports ``val_mse`` and
  ``val_cka``, the latter on one fixed yardstick for every trial.
* :class:`BatchedTuner` asks any KerasTuner oracle for a batch of trials and
  evaluates the batch in one compiled, vectorised call; it persists every
  result, so ``overwrite=False`` resumes a killed search.
* :func:`trials_table`, :func:`pareto_trials`, :func:`best_within_budget`,
  :func:`hypervolume_curve`, :func:`plot_trials` and :func:`plot_hypervolume`
  turn a tuner's trials into a Pareto front (KerasTuner itself only sums
  objectives).
"""

from __future__ import annotations

import gc
import warnings

import jax
import keras_tuner as kt
import numpy as np
from keras import ops

from fairkl import _validation as v
from fairkl import solvers
from fairkl.dependence import cka_centered
from fairkl.kernels import centered_rbf_kernel, median_heuristic
from fairkl.models import DEFAULT_TOL, FairKernelRidge
from fairkl.pareto import hypervolume_2d, pareto_front

__all__ = [
    "DEFAULT_SPACE",
    "FairKernelRidgeHyperModel",
    "BatchedTuner",
    "refit",
    "trials_table",
    "pareto_trials",
    "best_within_budget",
    "hypervolume_curve",
    "plot_trials",
    "plot_hypervolume",
]

#: The seed tutorial's search space. Each entry: ("log", lo, hi) log-uniform
#: float; ("linear", lo, hi, step) float on a grid; ("int", lo, hi, step);
#: or a plain number to fix the value.
DEFAULT_SPACE = {
    "sigma": ("log", 0.1, 5.0),
    "lam": ("log", 1e-4, 1.0),
    "mu": ("linear", 0.0, 20.0, 1.0),
    "sigma_q": ("log", 0.1, 5.0),
    "epochs": ("int", 50, 300, 50),
    "lr": ("log", 1e-3, 0.05),
}


def _declare(hp, name, spec):
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return hp.Fixed(name, spec)
    kind = spec[0]
    if kind == "log":
        return hp.Float(name, spec[1], spec[2], sampling="log")
    if kind == "linear":
        return hp.Float(name, spec[1], spec[2], step=spec[3] if len(spec) > 3 else None)
    if kind == "int":
        return hp.Int(name, spec[1], spec[2], step=spec[3] if len(spec) > 3 else 1)
    raise ValueError(f"space[{name!r}] must be a number or a ('log'|'linear'|'int', ...) tuple; got {spec!r}.")


class FairKernelRidgeHyperModel(kt.HyperModel):
    """HyperModel for :class:`fairkl.models.FairKernelRidge` with a train/validation split.

    Parameters
    ----------
    X_train, y_train, q_train, X_val, y_val, q_val : array-like
        Training and validation data; ``q`` is the sensitive attribute (not a
        column of ``X``).
    space : dict, optional
        Overrides of :data:`DEFAULT_SPACE` (same keys and format).
    penalty : {"cka", "hsic"}, default "cka"
    dtype : {"float32", "float64"}, default "float64"
    freeze_gc : bool, default True
        Call ``gc.freeze()`` here and once more after the first trial (when
        the compiled programs exist). KerasTuner runs two full garbage
        collections per trial; with JAX and Keras loaded each costs ~0.1 s,
        more than the fit itself. Freezing moves the objects alive then into a
        permanent generation, which later collections skip.

    Notes
    -----
    ``fit`` returns ``{"val_mse", "val_cka", "converged"}``. ``val_cka`` is the
    biased CKA between validation predictions and ``q_val`` with RBF
    bandwidths fixed once from the training data (median heuristic of
    ``y_train`` and ``q_train``), never the trial's own ``sigma_q``: every trial
    is measured with the same ruler. Under ``kt.Hyperband`` the epoch budget
    ``tuner/epochs`` replaces ``epochs``. A trial whose metrics are not finite
    raises :class:`keras_tuner.errors.FailedTrialError` (recorded as failed).

    No checkpoint is written per trial (except under Hyperband, which needs
    them), so ``tuner.get_best_models()`` is not available: refit the best
    hyperparameters with :func:`refit` — a fit takes milliseconds.
    """

    def __init__(self, X_train, y_train, q_train, X_val, y_val, q_val, *, space=None, penalty="cka",
                 dtype="float64", freeze_gc=True, name=None, tunable=True):
        super().__init__(name=name, tunable=tunable)
        self.X_train = v.check_X(X_train, "X_train")
        self.y_train = v.check_target(y_train, len(self.X_train), "y_train")
        self.q_train = v.check_sensitive(q_train, len(self.X_train), "q_train")
        self.X_val = v.check_X(X_val, "X_val", min_samples=1)
        if self.X_val.shape[1] != self.X_train.shape[1]:
            raise ValueError(f"X_val has {self.X_val.shape[1]} features but X_train has {self.X_train.shape[1]}.")
        self.y_val = v.check_target(y_val, len(self.X_val), "y_val")
        self.q_val = v.check_sensitive(q_val, len(self.X_val), "q_val")
        unknown = set(space or {}) - set(DEFAULT_SPACE)
        if unknown:
            raise ValueError(f"space has unknown keys {sorted(unknown)}; known: {sorted(DEFAULT_SPACE)}.")
        self.space = {**DEFAULT_SPACE, **(space or {})}
        self.penalty = v.check_choice(penalty, "penalty", ("cka", "hsic"))
        self.dtype = v.check_choice(dtype, "dtype", ("float32", "float64"))
        self.sigma_pred = float(median_heuristic(self.y_train[:, None]))
        self.sigma_q_yardstick = float(median_heuristic(self.q_train))
        self._Lc_val = centered_rbf_kernel(ops.convert_to_tensor(self.q_val), self.sigma_q_yardstick)
        self._refreeze = freeze_gc
        if freeze_gc:
            gc.collect()
            gc.freeze()

    # ------------------------------------------------------------ stock path
    def declare_hyperparameters(self, hp):
        return {name: _declare(hp, name, spec) for name, spec in self.space.items()}

    def build(self, hp):
        values = self.declare_hyperparameters(hp)
        return FairKernelRidge(values["sigma"], values["lam"], values["mu"], values["sigma_q"],
                               penalty=self.penalty, dtype=self.dtype)

    def fit(self, hp, model, *args, **kwargs):
        values = self.declare_hyperparameters(hp)
        epochs = int(hp.values.get("tuner/epochs", values["epochs"]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-convergence is reported as a metric
            model.fit(self.X_train, self.y_train, q=self.q_train, epochs=epochs, lr=float(values["lr"]))
        metrics = self._metrics(model.predict(self.X_val), model.converged_)
        if "tuner/trial_id" in hp.values or "tuner/epochs" in hp.values:
            # Hyperband continues earlier trials from their checkpoints: let its
            # callbacks save this model (other tuners skip the ~16 ms write).
            for callback in kwargs.get("callbacks", []):
                callback.set_model(model)
                callback.on_epoch_end(0, logs=metrics)
        if self._refreeze:  # the first trial compiled the programs: freeze them too
            self._refreeze = False
            gc.freeze()
        return metrics

    def _metrics(self, pred, converged) -> dict:
        pred = np.asarray(pred, dtype=np.float64)
        mse = float(np.mean((pred - self.y_val) ** 2))
        cka = float(_val_cka(ops.convert_to_tensor(pred), self._Lc_val, self.sigma_pred))
        if not (np.isfinite(mse) and np.isfinite(cka)):
            raise kt.errors.FailedTrialError(f"non-finite validation metrics (val_mse={mse}, val_cka={cka})")
        return {"val_mse": mse, "val_cka": cka, "converged": float(bool(converged))}

    # ---------------------------------------------------------- batched path
    def evaluate_batch(self, values: list[dict]) -> list[dict | Exception]:
        """Fit and validate many hyperparameter settings in one compiled, vectorised call.

        Returns, per setting, the metrics dict of ``fit`` or the exception
        that marks it failed.
        """
        if self.penalty != "cka":
            raise NotImplementedError("evaluate_batch supports penalty='cka' (the seed's model).")
        cols = {k: np.array([float(d[k]) for d in values]) for k in ("sigma", "lam", "mu", "sigma_q", "lr")}
        epochs = np.array([int(d.get("tuner/epochs", d["epochs"])) for d in values], dtype=np.int32)
        out = _batch_program(
            *(ops.convert_to_tensor(a, "float64") for a in (self.X_train, self.y_train, self.q_train, self.X_val)),
            *(ops.convert_to_tensor(cols[k], "float64") for k in ("sigma", "lam", "mu", "sigma_q", "lr")),
            ops.convert_to_tensor(epochs), float(np.std(self.y_train)) or 1.0,
        )
        preds, converged = (np.asarray(a) for a in out)
        results = []
        for pred, conv in zip(preds, converged):
            try:
                results.append(self._metrics(pred, conv))
            except kt.errors.FailedTrialError as exc:
                results.append(exc)
        return results


@jax.jit
def _val_cka(pred, Lc_val, sigma_pred):
    return cka_centered(centered_rbf_kernel(pred[:, None], sigma_pred), Lc_val)


@jax.jit
def _batch_program(X, y, q, X_val, sigmas, lams, mus, sigma_qs, lrs, epochs, y_scale):
    """vmap of the model's compiled CKA fit (:func:`fairkl.solvers.fit_cka`) + validation prediction."""
    ys = y / y_scale
    sigma_f = median_heuristic(ys[:, None])  # the same for every trial: computed once

    def one(sigma, lam, mu, sigma_q, lr, ep):
        res = solvers.fit_cka(X, ys, q, sigma, lam, mu, sigma_q, sigma_f, ep, lr, DEFAULT_TOL)
        return solvers.predict_program(X_val, X, res.alpha, sigma) * y_scale, res.converged

    return jax.vmap(one)(sigmas, lams, mus, sigma_qs, lrs, epochs)



class BatchedTuner(kt.engine.base_tuner.BaseTuner):
    """Evaluate trials from any KerasTuner oracle in compiled, vectorised batches.

    Parameters
    ----------
    hypermodel : FairKernelRidgeHyperModel
    oracle : keras_tuner Oracle
        E.g. ``kt.oracles.RandomSearchOracle(objective=kt.Objective("val_mse", "min"),
        max_trials=1000, seed=1)``; BayesianOptimization works too (it suggests
        each trial of a batch from the trials completed so far).
    batch_size : int, default 16
        Trials per compiled call; the last batch is padded, so every call has
        the same shapes and compiles once.
    directory, project_name, overwrite
        As for KerasTuner tuners; ``overwrite=False`` resumes.

    Notes
    -----
    Every result is written to the project directory as soon as its batch
    ends; trials that were running when a search was killed are handed out
    again on resume, so none is lost or duplicated. A failed trial (non-finite
    metrics) is recorded as FAILED and the search goes on: the oracle's
    consecutive-failure limit is lifted.
    """

    def __init__(self, hypermodel, oracle, batch_size: int = 16, directory=None, project_name=None,
                 overwrite=False, **kwargs):
        if not isinstance(hypermodel, FairKernelRidgeHyperModel):
            raise TypeError("hypermodel must be a FairKernelRidgeHyperModel.")
        self.batch_size = v.check_int(batch_size, "batch_size")
        oracle.max_consecutive_failed_trials = np.iinfo(np.int64).max
        super().__init__(oracle, hypermodel, directory=directory, project_name=project_name,
                         overwrite=overwrite, **kwargs)

    def search(self, *args, **kwargs):
        """Run until the oracle stops handing out trials."""
        self.oracle.verbose = kwargs.get("verbose", 0)
        while True:
            batch = []
            for j in range(self.batch_size):
                trial = self.oracle.create_trial(f"{self.tuner_id}-slot{j}")
                if trial.status != kt.engine.trial.TrialStatus.RUNNING:
                    break
                batch.append(trial)
            if not batch:
                break
            values = [t.hyperparameters.values for t in batch]
            padded = values + [values[0]] * (self.batch_size - len(values))
            results = self.hypermodel.evaluate_batch(padded)[: len(batch)]
            for trial, res in zip(batch, results):
                if isinstance(res, Exception):
                    trial.status = kt.engine.trial.TrialStatus.FAILED
                    trial.message = str(res)
                else:
                    self.oracle.update_trial(trial.trial_id, res)
                    trial.status = kt.engine.trial.TrialStatus.COMPLETED
                self.oracle.end_trial(trial)
            self.save()
            if len(batch) < self.batch_size:
                break

    def load_model(self, trial):
        """Refit the trial's model (models are cheap to refit; none is stored)."""
        return refit(self.hypermodel, trial.hyperparameters.values)


def refit(hypermodel: FairKernelRidgeHyperModel, values: dict) -> FairKernelRidge:
    """Fit a :class:`FairKernelRidge` on the hypermodel's training data with these hyperparameters."""
    model = FairKernelRidge(values["sigma"], values["lam"], values["mu"], values["sigma_q"],
                            penalty=hypermodel.penalty, dtype=hypermodel.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(hypermodel.X_train, hypermodel.y_train, q=hypermodel.q_train,
                         epochs=int(values.get("tuner/epochs", values["epochs"])), lr=float(values["lr"]))


# ----------------------------------------------------------------------------
# Multi-objective results
# ----------------------------------------------------------------------------

def trials_table(tuner_or_oracle, metrics=("val_mse", "val_cka")) -> list[dict]:
    """Every completed trial as a dict: ``trial_id``, its hyperparameters and ``metrics``.

    Ordered by the time trials ended (KerasTuner's ``end_order``).
    """
    oracle = getattr(tuner_or_oracle, "oracle", tuner_or_oracle)
    rows = []
    order = list(getattr(oracle, "end_order", [])) or sorted(oracle.trials)
    for tid in order:
        trial = oracle.trials[tid]
        if trial.status != kt.engine.trial.TrialStatus.COMPLETED:
            continue
        row = {"trial_id": trial.trial_id, **trial.hyperparameters.values}
        for m in metrics:
            row[m] = float(trial.metrics.get_last_value(m)) if trial.metrics.exists(m) else float("nan")
        rows.append(row)
    return rows


def _matrix(rows, objectives):
    return np.array([[r[o] for o in objectives] for r in rows], dtype=float).reshape(len(rows), len(objectives))


def pareto_trials(rows: list[dict], objectives=("val_mse", "val_cka")) -> list[dict]:
    """The Pareto-optimal rows of :func:`trials_table` (all objectives minimised)."""
    if not rows:
        return []
    return [rows[i] for i in pareto_front(_matrix(rows, objectives))]


def best_within_budget(rows: list[dict], budget: float, objective="val_mse", constraint="val_cka") -> dict | None:
    """The row with the lowest ``objective`` among those with ``constraint <= budget`` (None if none)."""
    budget = v.check_positive(budget, "budget", allow_zero=True)
    ok = [r for r in rows if r[constraint] <= budget]
    return min(ok, key=lambda r: r[objective]) if ok else None


def hypervolume_curve(rows: list[dict], reference, objectives=("val_mse", "val_cka")) -> np.ndarray:
    """2-D hypervolume of the first k trials, for k = 1..len(rows) (in table order)."""
    P = _matrix(rows, objectives)
    return np.array([hypervolume_2d(P[: k + 1], reference) for k in range(len(P))])


def plot_trials(rows: list[dict], color_by: str = "mu", objectives=("val_mse", "val_cka"), ax=None,
                title="Every trial, and the Pareto front (lower-left is better)"):
    """Scatter of every trial coloured by a hyperparameter, with the Pareto front as a step line."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 4))[1]
    P = _matrix(rows, objectives)
    colours = np.array([r[color_by] for r in rows], dtype=float)
    sc = ax.scatter(P[:, 0], P[:, 1], c=colours, cmap="viridis", s=25, alpha=0.8)
    front = P[pareto_front(P)]
    ax.step(front[:, 0], front[:, 1], where="post", color="tab:red", lw=1.5, label="Pareto front")
    ax.figure.colorbar(sc, ax=ax, label=color_by)
    ax.set_xlabel(objectives[0])
    ax.set_ylabel(objectives[1])
    ax.set_title(title)
    ax.legend()
    return ax


def plot_hypervolume(rows: list[dict], reference, objectives=("val_mse", "val_cka"), ax=None, label=None,
                     title="Hypervolume of the trials so far (higher is better)"):
    """Hypervolume against the number of trials."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(6, 4))[1]
    hv = hypervolume_curve(rows, reference, objectives)
    ax.plot(np.arange(1, len(hv) + 1), hv, label=label)
    ax.set_xlabel("number of trials")
    ax.set_ylabel("hypervolume")
    ax.set_title(title)
    if label:
        ax.legend()
    return ax
