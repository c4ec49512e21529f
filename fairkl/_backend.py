"""Select the JAX backend for Keras before Keras is first imported.

fairkl computes with ``keras.ops`` but compiles its loops with ``jax.jit`` and
differentiates with ``jax.grad``; it therefore needs Keras on the JAX backend.
This module is imported first by ``fairkl/__init__.py``.
"""

from __future__ import annotations

import contextlib
import os
import sys

_REQUIRED = "jax"


def ensure_jax_backend() -> None:
    """Make sure Keras runs on JAX, choosing it if the user has not.

    Raises
    ------
    ImportError
        If Keras was already imported with another backend, or if the
        ``KERAS_BACKEND`` environment variable names another backend.
    """
    requested = os.environ.get("KERAS_BACKEND")
    if "keras" in sys.modules:
        import keras

        active = keras.backend.backend()
        if active != _REQUIRED:
            raise ImportError(
                f"fairkl needs the Keras JAX backend, but Keras was already imported "
                f"with the {active!r} backend. Set the environment variable "
                f"KERAS_BACKEND=jax before importing keras (or import fairkl first)."
            )
    elif requested is None:
        os.environ["KERAS_BACKEND"] = _REQUIRED
    elif requested != _REQUIRED:
        raise ImportError(
            f"fairkl needs the Keras JAX backend, but KERAS_BACKEND={requested!r}. "
            f"Set KERAS_BACKEND=jax (or unset it) before importing fairkl."
        )

    enable_x64()


#: Environment variable that turns off the process-wide ``jax_enable_x64`` (set it to "0").
X64_ENV = "FAIRKL_ENABLE_X64"


def enable_x64() -> bool:
    """Turn on JAX's 64-bit mode for the whole process: a deliberate global, with a way out.

    fairkl's iterative CKA solver always runs in float64 and ``dtype="float64"``
    models need it; JAX silently computes in float32 unless ``jax_enable_x64``
    is on, and it cannot be enabled for one computation only (the scoped
    ``jax.experimental.enable_x64`` was removed from JAX). Enabling it does not
    change Keras' float32 default, nor the dtype of arrays created by other code
    with explicit dtypes; it does make ``jnp.array(1.0)`` float64 in the rest
    of the process. Set ``FAIRKL_ENABLE_X64=0`` before importing fairkl to keep
    JAX's default: float32 models without the CKA penalty still work, and any
    fit that needs 64 bits raises a ``RuntimeError`` naming this variable.

    Returns
    -------
    bool
        Whether 64-bit mode was enabled.
    """
    import jax

    if os.environ.get(X64_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    jax.config.update("jax_enable_x64", True)
    return True


# --------------------------------------------------------------------------
# BLAS threads for small problems
# --------------------------------------------------------------------------

_blas = None  # threadpoolctl controller, built at first use (enumerating the loaded libraries costs ~4 ms)


#: Up to this many training rows fits run with one BLAS thread (their LAPACK calls are
#: tiny; beyond, a Cholesky of n x n starts to gain from several threads).
SMALL_N = 1000


#: From this many training rows the exact fits factor with one BLAS thread: the OpenBLAS 0.3.30 of
#: SciPy 1.17's wheels segfaults in multi-threaded dpotrf once the matrix passes 2**31 bytes
#: (measured here: n = 15,000 factors with 2 threads, n = 17,500 and 20,000 crash; 1 thread works).
LARGE_N = 16_000


def blas_limit(n: int):
    """:func:`one_blas_thread` for ``n <= SMALL_N`` or ``n >= LARGE_N`` training rows, else a no-op context."""
    return one_blas_thread() if n <= SMALL_N or n >= LARGE_N else contextlib.nullcontext()


def one_blas_thread():
    """Context manager: the BLAS libraries of the process (OpenBLAS) limited to one thread, restored on exit.

    jaxlib's CPU Cholesky and triangular solves call LAPACK from SciPy's
    OpenBLAS, whose worker threads spin while they wait. For a fit on a few
    hundred rows those calls are tiny and the spinning dominates: measured
    on the book's data (2 cores shared by other work), a fit took ~150 ms of
    wall time with OpenBLAS's default threads and ~5 ms with one. Large fits
    are not affected: fits apply it up to :data:`SMALL_N` training rows (:func:`blas_limit`).
    """
    global _blas
    if _blas is None:
        from threadpoolctl import (
            ThreadpoolController,
        )  # imported late: it enumerates loaded libraries

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")
