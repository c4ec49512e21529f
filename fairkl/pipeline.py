r"""One fit pipeline: ``FitConfig`` → :func:`prepare` → :class:`Problem` → :func:`solve` → ``FitResult``.

Every integration (the Keras model, the scikit-learn estimators, the CV engine,
the tuner) fits through these functions, so each setup step lives in one place:

1. :class:`FitConfig` validates the hyperparameters once (frozen, with the
   messages of :mod:`fairkl._validation`);
2. :func:`prepare` validates the data once, centres ``X`` by its training mean
   in float64 (kernels are shift-invariant, and centring before the cast to
   the compute dtype removes float32 cancellation for features with a large
   offset, e.g. a calendar year), checks the scales the compute dtype can
   represent, scales ``y`` by :func:`target_scale`, prepares ``q`` through a
   :class:`~fairkl.sensitive.SensitiveKernel` and resolves both bandwidths;
3. :func:`solve` dispatches to the compiled programs of :mod:`fairkl.solvers`,
   or, when ``config.n_components`` is set, to the low-rank (Nyström)
   programs of :mod:`fairkl.solvers.lowrank` on the landmarks :func:`prepare` chose;
   :func:`solve_batch` runs the exact CKA fit for many settings in one compiled call (fits in
   sequence) and :func:`predict_batch` predicts with them; ``benchmarks/bench_core.py`` times
   them. The tuner does not call them: its batches fuse the same fits
   (:func:`fairkl.solvers.fit_cka_batch`) with the validation predictions in one compiled
   program, :func:`fairkl.solvers.grouped.fit_predict_program`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, make_dataclass

import jax
import numpy as np
from keras import ops

from fairkl import _validation as v
from fairkl import hyperparameters as hp
from fairkl import solvers
from fairkl._backend import blas_limit, user_stacklevel
from fairkl._constants import (
    CKA_DENSE_ROWS,
    CKA_FACTOR_RANK,
    DEFAULT_TOL,
    PATH_TOL,
    SCALE_LIMIT,
)
from fairkl.kernels import median_heuristic
from fairkl.landmarks import select_landmarks
from fairkl.linalg import jitter_tries
from fairkl.sensitive import SensitiveKernel, is_constant
from fairkl.solvers import lowrank


def _fit_config_class():
    """:class:`FitConfig`, its fields and defaults made from :data:`fairkl.hyperparameters.HYPERPARAMETERS`."""
    fields = [(h.name, h.annotation, field(default=h.default)) for h in hp.HYPERPARAMETERS]
    return make_dataclass("FitConfig", fields, bases=(_FitConfigBase,), frozen=True)


class _FitConfigBase:
    """Validated, immutable hyperparameters of one fit (see :class:`fairkl.models.FairKernelRidge`).

    One field per row of :data:`fairkl.hyperparameters.HYPERPARAMETERS`, in
    its order, with its default; validation happens here (each row's check,
    then :func:`fairkl.hyperparameters.check_all`'s rules across rows) and
    nowhere else. ``kernel`` names the kernel on ``X`` (a key of
    :data:`fairkl.solvers.X_KERNELS`).
    """

    def __post_init__(self):
        checked = hp.check_all({h.name: getattr(self, h.name) for h in hp.HYPERPARAMETERS})
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: set once, here

    @property
    def low_rank(self) -> bool:
        """True when the fit is the low-rank (Nyström) model of :mod:`fairkl.solvers.lowrank`."""
        return self.n_components is not None

    @property
    def stopping_tol(self) -> float:
        """``tol``, or :data:`fairkl._constants.DEFAULT_TOL` when it is None."""
        return DEFAULT_TOL if self.tol is None else self.tol


FitConfig = _fit_config_class()
FitConfig.__module__ = __name__
FitConfig.__qualname__ = "FitConfig"
FitConfig.__doc__ = _FitConfigBase.__doc__


@dataclass(frozen=True)
class Problem:
    """Validated, scaled training data with every bandwidth resolved (build with :func:`prepare`)."""

    X: np.ndarray  #: inputs centred by their training mean (float64)
    X_offset: np.ndarray  #: the training mean subtracted from X (float64)
    y: np.ndarray  #: y / y_scale
    y_scale: float  #: s_y (see :func:`target_scale`)
    q: np.ndarray | None  #: q as the kernel on q sees it (None if not given)
    sensitive: SensitiveKernel | None  #: kernel on q, bandwidth resolved when penalised
    sigma_f: float  #: bandwidth on the standardised predictions (nan unless a CKA fit)
    sqrt_w: np.ndarray  #: square roots of the sample weights
    penalised: bool  #: mu > 0 and q not constant
    feature_names: np.ndarray | None = field(default=None)
    landmarks: np.ndarray | None = field(
        default=None
    )  #: rows of X used as landmarks (low-rank fits), else None

    @property
    def n(self) -> int:
        return self.X.shape[0]


def target_scale(y: np.ndarray) -> float:
    """:math:`s_y`: the standard deviation of ``y``; for a constant ``y``, ``max|y|``; for ``y = 0``, 1.

    The one rule used by every fit, CV fold and tuning batch; computed on
    ``y / max|y|`` so that huge targets (1e300) do not overflow.
    """
    top = float(np.max(np.abs(y)))
    if top == 0.0:
        return 1.0
    s = top * float(np.std(y / top))
    return s if s > 0 else top


def feature_names(X) -> np.ndarray | None:
    """Column names of a DataFrame-like ``X`` when they are all strings (scikit-learn's rule)."""
    cols = getattr(X, "columns", None)
    if cols is None:
        return None
    names = np.asarray([c for c in cols], dtype=object)
    return names if len(names) and all(isinstance(c, str) for c in names) else None


def check_scale(X: np.ndarray, sigma: float, dtype: str) -> None:
    """Refuse inputs whose squared distances, or bandwidth, the compute dtype cannot represent.

    Kernel values are :math:`\\exp(-\\lVert x - x'\\rVert^2 / 2\\sigma^2)`: the
    squares of the centred features and of ``sigma`` must neither overflow
    nor vanish in ``dtype``, else every prediction is NaN.
    """
    limit = SCALE_LIMIT[dtype]
    span = float(np.max(np.abs(X)))
    if span * math.sqrt(X.shape[1]) > limit or not (1.0 / limit < sigma < limit):
        raise ValueError(
            f"X (max |X - mean| = {span:.3g}) or sigma ({sigma:.3g}) is outside the range whose squares "
            f"{dtype} can represent (about 1e{-round(math.log10(limit))} to 1e{round(math.log10(limit))}); "
            f"the kernel would be NaN. Standardise X (e.g. sklearn's StandardScaler) and choose sigma "
            f"on the standardised scale"
            + (", or use dtype='float64'." if dtype == "float32" else ".")
        )
    tiny = float(np.finfo(dtype).tiny)
    if span > 0 and np.all(np.abs(X).astype(dtype) <= tiny):
        raise ValueError(
            f"X's spread (max |X - mean| = {span:.3g}) underflows in {dtype}: every distance would be 0. "
            f"Standardise X (e.g. sklearn's StandardScaler)."
        )


def _prepare_q(q, n: int, config: FitConfig, name: str, penalised: bool | None):
    """Validated, prepared q and whether the penalty is active (warns once for a constant q).

    ``penalised=None`` reads ``config.mu > 0`` (one fit); True or False says
    it explicitly (a μ-path, a CV grid or a tuner batch, whose values of
    ``mu`` the caller passes to its own program).
    """
    active = config.mu > 0 if penalised is None else bool(penalised)
    if q is None:
        if active:
            label = name if name == "sensitive_features" else f"{name} (the sensitive attribute)"
            why = f"when mu > 0 (mu={config.mu})" if penalised is None else "for a penalised fit"
            raise ValueError(
                f"{label} is required {why}: the penalty keeps predictions "
                f"independent of it. Pass it, or set mu=0"
                + (
                    "; in cross-validation enable metadata routing and call "
                    "set_fit_request(sensitive_features=True)."
                    if name == "sensitive_features"
                    else "."
                )
            )
        return None, None, False
    q = v.check_sensitive(q, n, name=name)
    constant = is_constant(q)
    if active and constant:
        warnings.warn(
            f"{name} is constant: every dependence measure is 0, so the fit equals the unpenalised "
            f"(mu=0) fit.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    kernel = SensitiveKernel(config.kernel_q, config.sigma_q)
    q = kernel.prepare(q)
    active = active and not constant
    return q, (kernel.resolve(q) if active else kernel), active


def _sample_weight(sample_weight, n: int) -> np.ndarray:
    """Square roots of the validated weights; an all-zero weight vector is named as such."""
    try:
        return v.check_sample_weight(sample_weight, n)
    except ValueError as exc:
        if "positive sum" not in str(exc):
            raise
        raise ValueError(
            "sample_weight is zero everywhere: at least one weight must be positive."
        ) from exc


def prepare(
    X,
    y,
    q,
    config: FitConfig,
    sample_weight=None,
    *,
    q_name: str = "q",
    penalised: bool | None = None,
) -> Problem:
    """Validate and scale the training data once; resolve every bandwidth.

    Parameters
    ----------
    X, y, q, sample_weight : as in :meth:`fairkl.models.FairKernelRidge.fit`
    config : FitConfig
    q_name : str
        Name of ``q`` in error messages (``"sensitive_features"`` in scikit-learn).
    penalised : bool or None, default None
        Whether ``q`` is prepared for a penalised fit (its kernel's bandwidth
        resolved and, for ``config.penalty="cka"``, the bandwidth on the
        predictions). ``None``: when ``config.mu > 0`` (one fit). Callers
        that run their own values of ``mu`` (the μ-path, the CV grid, the
        tuner's batches) say it explicitly and leave ``config.mu`` alone.

    Returns
    -------
    Problem
    """
    names = feature_names(X)
    X = v.check_X(X)
    n = X.shape[0]
    y = v.check_target(y, n)
    offset = X.mean(axis=0)
    Xc = X - offset
    check_scale(Xc, config.sigma, config.dtype)
    s = target_scale(y)
    qp, kernel, penalised = _prepare_q(q, n, config, q_name, penalised)
    sqrt_w = _sample_weight(sample_weight, n)
    if config.low_rank and sample_weight is not None:
        raise ValueError(
            f"sample_weight is not supported by the low-rank model (n_components={config.n_components}): "
            f"pass sample_weight=None, or use the exact model (n_components=None)."
        )
    if penalised and np.ptp(sqrt_w) > 0:
        raise ValueError(
            "sample_weight is supported only for the unpenalised fit (mu=0); weighted "
            "HSIC/CKA penalties are not implemented. Pass sample_weight=None or mu=0."
        )
    sigma_f = math.nan
    if penalised and config.penalty == "cka":
        ys = ops.convert_to_tensor((y / s)[:, None], dtype="float64")
        sigma_f = config.sigma_f / s if config.sigma_f is not None else float(median_heuristic(ys))
    Z = _landmarks(Xc, config) if config.low_rank else None
    return Problem(Xc, offset, y / s, s, qp, kernel, sigma_f, sqrt_w, penalised, names, Z)


def _landmarks(Xc: np.ndarray, config: FitConfig) -> np.ndarray:
    """The ``n_components`` landmark rows of the centred ``X`` (seeded by ``random_state``)."""
    n, m = Xc.shape[0], config.n_components
    if m > n:
        raise ValueError(
            f"n_components={m} is larger than the number of training samples n={n}: use n_components <= {n} "
            f"(n_components=None fits the exact model)."
        )
    idx = select_landmarks(Xc, m, config.landmarks, config.random_state, sigma=config.sigma)
    return Xc[idx]


def _require_x64(dtype: str) -> None:
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            f"this fit needs 64-bit JAX ({dtype}), but jax_enable_x64 is off (FAIRKL_ENABLE_X64=0 was "
            f"set before importing fairkl). Unset it, or call jax.config.update('jax_enable_x64', True)."
        )


def solve(problem: Problem, config: FitConfig) -> solvers.FitResult:
    """Fit ``problem`` with ``config``: one compiled program, a :class:`~fairkl.solvers.FitResult`.

    The unpenalised and HSIC fits run in ``config.dtype``; the iterative CKA
    solver always runs in float64 (see :class:`fairkl.models.FairKernelRidge`).
    Every exact fit holds the Cholesky factor of :math:`K + \\lambda I` and
    never :math:`K` itself; when the factorisation fails (a singular kernel
    with ``lam`` ~ 0) the same program runs again with a jitter
    (``fairkl.linalg.jitter_tries``).
    """
    with blas_limit(problem.n):  # small fits: OpenBLAS's spinning threads cost more than they give
        return _solve(problem, config)


def _solve(p: Problem, config: FitConfig) -> solvers.FitResult:
    if p.landmarks is not None:
        return _solve_lowrank(p, config)
    dtype = config.dtype if (not p.penalised or config.penalty == "hsic") else "float64"
    c = _caster(dtype)
    X, y, sigma, lam = c(p.X), c(p.y), c(config.sigma), c(config.lam)
    if not p.penalised:
        weighted = bool(np.any(p.sqrt_w != 1.0))
        run = lambda j: solvers.fit_krr(
            X,
            y,
            sigma,
            lam,
            c(p.sqrt_w),
            c(j),
            kernel=config.kernel,  # noqa: E731
            weighted=weighted,
        )
    elif config.penalty == "hsic":
        B = _hsic_factor(p, config.dtype)
        if B is not None:  # Woodbury: one Cholesky, no L K product, no LU (same alpha to rounding)
            run = lambda j: solvers.fit_hsic_woodbury(
                X,
                y,
                c(B),
                sigma,
                lam,
                c(config.mu),  # noqa: E731
                c(p.sensitive.traced_sigma),
                c(j),
                kernel=config.kernel,
            )
        else:
            run = lambda j: solvers.fit_hsic(
                X,
                y,
                c(p.q),
                sigma,
                lam,
                c(config.mu),  # noqa: E731
                c(p.sensitive.traced_sigma),
                c(j),
                kernel_q=config.kernel_q,
                kernel=config.kernel,
            )
    else:
        B = _cka_factor(p)
        run = lambda j: solvers.fit_cka_lean(  # noqa: E731
            X,
            y,
            c(p.q),
            None if B is None else c(B),
            sigma,
            lam,
            c(config.mu),
            c(p.sensitive.traced_sigma),
            c(p.sigma_f),
            config.epochs,
            c(config.lr),
            c(config.stopping_tol),
            c(j),
            kernel_q=config.kernel_q,
            kernel=config.kernel,
        )
    return _with_jitter(run, _jitter_base(p, config, dtype))


def _jitter_base(p: Problem, config: FitConfig, dtype: str) -> float:
    """:math:`\\varepsilon\\,\\overline{\\operatorname{diag}(K + \\lambda I)}` of the (weighted) kernel matrix."""
    X = ops.convert_to_tensor(p.X, dtype="float64")
    diag = np.asarray(solvers.programs.kernel_diagonal(X, config.sigma, kernel=config.kernel))
    return float(np.finfo(dtype).eps) * max(
        float(np.mean(np.abs(diag * p.sqrt_w**2))) + config.lam, 1e-30
    )


def _with_jitter(run, base: float):
    """``run(jitter)`` for 0 and then each jitter of ``fairkl.linalg.jitter_tries`` until finite."""
    for j in jitter_tries(base):
        res = run(j)
        if np.all(np.isfinite(np.asarray(res.alpha))) and np.isfinite(float(res.condition)):
            return res
    return res


def _hsic_factor(p: Problem, dtype: str):
    """A centred factor B of HLH exact to rounding (rank <= 256, from columns of L on the fly), else None."""
    B, residual = lowrank.sensitive_factor(
        p.q, p.sensitive.traced_sigma, p.sensitive.kind, PATH_TOL[dtype]
    )
    return np.asarray(B) if residual <= PATH_TOL[dtype] and B.shape[1] < p.n // 4 else None


def _cka_factor(p: Problem):
    """An exact centred factor of HLH with at most ``CKA_FACTOR_RANK`` non-zero columns (e.g. groups), else None.

    The blocked CKA penalty then needs no n × n matrix for ``q``; a wider
    factor would cost more per step than reading the dense matrix. Up to
    ``CKA_DENSE_ROWS`` rows the dense matrix is small and always used (None).
    """
    if p.n <= CKA_DENSE_ROWS:
        return None
    B, residual = lowrank.sensitive_factor(
        p.q,
        p.sensitive.traced_sigma,
        p.sensitive.kind,
        PATH_TOL["float64"],
        max_rank=CKA_FACTOR_RANK,
    )  # a wider factor is not used: stop there
    B = np.asarray(B)
    B = B[:, np.linalg.norm(B, axis=0) > 0]
    if residual > PATH_TOL["float64"] or B.shape[1] > CKA_FACTOR_RANK:
        return None
    # Zero columns up to a fixed width: one compiled program whatever the rank (e.g. across a search's sigma_q).
    return np.pad(B, ((0, 0), (0, CKA_FACTOR_RANK - B.shape[1])))


def _solve_lowrank(p: Problem, config: FitConfig) -> lowrank.LowRankResult:
    """The low-rank programs of :mod:`fairkl.solvers.lowrank` (float64; ``alpha`` = landmark coefficients)."""
    _require_x64("float64")
    if not p.penalised:
        return lowrank.fit_krr_lowrank(p.X, p.y, p.landmarks, config.sigma, config.lam)
    # Both penalties take the same data and hyperparameters; the CKA fit adds its loop's settings.
    args = (p.X, p.y, p.q, p.landmarks, config.sigma, config.lam, config.mu)
    common = dict(sigma_q=p.sensitive.traced_sigma, kernel_q=config.kernel_q)
    if config.penalty == "hsic":
        return lowrank.fit_hsic_lowrank(*args, **common)
    return lowrank.fit_cka_lowrank(
        *args,
        **common,
        sigma_f=p.sigma_f,
        epochs=config.epochs,
        lr=config.lr,
        tol=config.stopping_tol,
        seed=config.random_state,
    )


def _caster(dtype: str):
    if dtype == "float64":
        _require_x64(dtype)
    return lambda a: ops.convert_to_tensor(np.asarray(a, dtype=np.float64), dtype=dtype)


def solve_batch(problem: Problem, config: FitConfig, *, sigmas, lams, mus, sigma_qs, lrs, epochs):
    """The CKA fit for many settings in one compiled call, each fit stopping on its own (``fit_cka_batch``).

    ``problem`` comes from :func:`prepare` with ``penalised=True`` (or a
    config whose ``mu > 0``) and ``penalty="cka"``, so that ``q`` and
    ``sigma_f`` are resolved; the shared
    settings (``kernel``, ``kernel_q``, ``tol``, ``sigma_f``) are those of
    ``config``. Each of ``sigmas, lams, mus, sigma_qs, lrs, epochs`` is 1-D of
    one length B; a NaN in ``sigma_qs`` means the median heuristic of
    ``problem`` (the value a single fit with ``sigma_q=None`` uses). Values
    are validated by :class:`FitConfig`, one setting at a time.

    Returns
    -------
    FitResult
        Fields with a leading axis B; ``alpha`` of shape (B, n) on the
        standardised scale (predict with :func:`predict_batch`).
    """
    if not (problem.penalised and config.penalty == "cka"):
        raise ValueError(
            "solve_batch needs a problem prepared with penalty='cka' for a penalised fit "
            "(prepare(..., penalised=True) or mu > 0) and a non-constant q."
        )
    if problem.landmarks is not None:
        raise ValueError(
            "solve_batch runs the exact model only: prepare the problem with n_components=None."
        )
    sigma_qs = np.asarray(sigma_qs, dtype=np.float64)
    cols = dict(sigma=sigmas, lam=lams, mu=mus, lr=lrs, epochs=epochs)
    for values in zip(*(np.asarray(a).tolist() for a in cols.values()), strict=False):
        FitConfig(**{**dict(zip(cols, values, strict=False)), "epochs": int(values[-1])})
    sigma_qs = np.where(np.isnan(sigma_qs), problem.sensitive.traced_sigma, sigma_qs)
    c = _caster("float64")
    return solvers.fit_cka_batch(
        c(problem.X),
        c(problem.y),
        c(problem.q),
        c(problem.sigma_f),
        c(config.stopping_tol),
        c(sigmas),
        c(lams),
        c(mus),
        c(sigma_qs),
        c(lrs),
        ops.convert_to_tensor(np.asarray(epochs, dtype=np.int32)),
        kernel_q=config.kernel_q,
        kernel=config.kernel,
    )


def center(problem_or_offset, X: np.ndarray) -> np.ndarray:
    """``X`` minus the training mean, in float64 (as :func:`prepare` did for the training inputs)."""
    offset = getattr(problem_or_offset, "X_offset", problem_or_offset)
    return np.asarray(X, dtype=np.float64) - offset


def predict_batch(problem: Problem, X_new, alphas, sigmas, config: FitConfig) -> np.ndarray:
    """Predictions (in the units of ``y``) of B fits from :func:`solve_batch`: array (B, m)."""
    c = _caster("float64")
    Xn = c(center(problem, v.check_X(X_new, "X_new", min_samples=1)))
    Xf = c(problem.X)
    one = lambda a, s: solvers.predict_program(Xn, Xf, a, s, kernel=config.kernel)  # noqa: E731
    return np.asarray(jax.vmap(one)(ops.convert_to_tensor(alphas), c(sigmas))) * problem.y_scale
