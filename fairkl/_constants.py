"""Constants shared across fairkl's layers (one home for every tuned number)."""

from __future__ import annotations

#: Dependence penalties of the objective (see :mod:`fairkl.solvers`).
PENALTIES = ("cka", "hsic")
#: Kernels on the sensitive attribute ``q``.
KERNELS_Q = ("rbf", "linear")
#: Kernels on the inputs ``X`` (resolved to functions by :data:`fairkl.solvers.X_KERNELS`).
KERNELS_X = ("rbf",)
#: Compute precisions.
DTYPES = ("float32", "float64")
#: Dependence measures a :class:`fairkl.metrics.yardstick.Yardstick` reports.
MEASURES = ("cka", "hsic")

#: Default stopping tolerance on the decrement (see :func:`fairkl.solvers.cka_descent`).
DEFAULT_TOL = 1e-10
#: Relative trace left out by the low-rank factor of the sensitive kernel (μ-path, CV engine).
PATH_TOL = {"float32": 1e-7, "float64": 1e-13}
#: Warn when (condition number of K + lam I) * machine epsilon exceeds this.
ILL_CONDITIONED = 1e-2
#: Rows of a kernel block formed at once: predictions k(X_new, X_fit) and the Nyström features
#: (bounds the memory of the block).
PREDICT_CHUNK = 2048
#: Number of times :func:`fairkl.linalg.cholesky_jitter` multiplies the jitter by 10.
JITTER_TRIES = 12
#: Number of (step, gradient change) pairs kept by the L-BFGS solver.
LBFGS_MEMORY = 8
#: The line search gives up once the step is below this multiple of machine epsilon.
MIN_STEP_EPS = 1e3
#: At most this many distinct rows (with integer values) make ``q`` categorical (group labels).
MAX_GROUPS = 20
#: Largest |X - mean| / sigma (and 1/sigma) accepted: its square must stay far from overflow
#: in the compute dtype (see :func:`fairkl.pipeline.prepare`).
SCALE_LIMIT = {"float32": 1e15, "float64": 1e150}

#: Widest exact factor of the centred kernel on q that the exact CKA fit uses instead of the dense
#: matrix (per step a factor of r columns costs ~4 n^2 r flops, the dense matrix two reads of n^2).
CKA_FACTOR_RANK = 32
#: Up to this many training rows the exact CKA fit always uses the dense centred kernel on q
#: (32 MB in float64 at 2048 rows): per step it is cheaper than any factor, and every fit of a
#: search then shares one compiled program whatever sigma_q does to the factor's rank.
CKA_DENSE_ROWS = 2048

# Low-rank (Nyström) model: see fairkl.landmarks and fairkl.solvers.lowrank.
#: How the landmarks of the low-rank model are chosen (see :func:`fairkl.landmarks.select_landmarks`).
LANDMARK_METHODS = ("uniform", "kmeans++", "pivoted_cholesky")
#: Fourier features of the predictions for the low-rank CKA penalty.
FEATURE_KINDS = ("quadrature", "rff")
#: Eigenvalues of K_mm below RCOND * max eigenvalue are dropped (the Nyström map's pseudo-inverse).
RCOND = 1e-12
#: Candidate rows scanned by the greedy landmark methods, per landmark.
POOL_PER_LANDMARK = 8
#: Relative trace of L that the low-rank model's factor of the q-kernel may leave out, and its
#: largest rank.
Q_TOL = 1e-10
Q_MAX_RANK = 256
#: Fourier features of the predictions (cos and sin pairs) for the low-rank CKA penalty.
N_FEATURES = 64
#: Residual variance (relative to the largest diagonal entry) below which a pivoted-Cholesky pivot
#: counts as already explained (landmarks, the low-rank model's factor of the q-kernel).
PIVOT_FLOOR = 1e-12
