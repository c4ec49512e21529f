"""Select the JAX backend for Keras before Keras is first imported; scope JAX's 64-bit mode.

fairkl computes with ``keras.ops`` but compiles its loops with ``jax.jit`` and
differentiates with ``jax.grad``; it therefore needs Keras on the JAX backend.
This module is imported first by ``fairkl/__init__.py``. Importing fairkl changes no
process-wide JAX setting: the computations that need float64 run inside
:func:`x64_scope` (a thread-local context, restored on exit).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
from collections.abc import Callable
from typing import TypeVar

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


#: Environment variable: ``FAIRKL_ENABLE_X64=0`` makes :func:`x64_scope` a no-op (read at each call).
X64_ENV = "FAIRKL_ENABLE_X64"


def x64_enabled_by_fairkl() -> bool:
    """False when ``FAIRKL_ENABLE_X64`` is ``0``/``false``/``no``/``off`` (fairkl then never turns 64 bits on)."""
    return os.environ.get(X64_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def x64_context():
    """A context manager that turns on JAX's 64-bit mode in this thread and restores it on exit.

    JAX >= 0.5 exposes the flag itself as a context manager (``jax.enable_x64(True)``, a
    config state); JAX 0.4.30, fairkl's floor, has ``jax.experimental.enable_x64()``
    instead (measured: no ``jax.enable_x64`` there). The choice is made by feature
    detection, not by version number. Both set a thread-local value over the global
    ``jax_enable_x64`` and restore the previous one on exit, so the user's setting,
    whatever it was, is what JAX has outside.
    """
    import jax

    scoped = getattr(jax, "enable_x64", None)
    if scoped is not None:
        return scoped(True)
    from jax.experimental import enable_x64

    return enable_x64(True)


F = TypeVar("F", bound=Callable)


def x64_scope(fn: F) -> F:
    """Decorator: run ``fn`` with JAX's 64-bit mode on, without changing it for the rest of the process.

    fairkl's iterative CKA solver always computes in float64 and ``dtype="float64"``
    models need 64-bit JAX, which JAX silently replaces by float32 unless
    ``jax_enable_x64`` is on. Importing fairkl used to turn that flag on for the whole
    process (``jnp.ones(3)`` became float64 in the user's own code); now each public
    entry point that computes (fits, predictions, metrics, tuners) carries this
    decorator, and the user's setting is untouched outside it. Entering the scope costs a
    few microseconds (4.7 us measured, nested or not), nothing next to a fit. JAX keys its
    compiled programs on the flag, so a jitted function called both inside and outside the
    scope is compiled once for each; fairkl calls its programs only inside (a fit and a
    predict compile as many programs as with a global x64: tests/test_x64_scope.py).

    What stays outside: the lower layers (``fairkl.kernels``, ``linalg``, ``solvers``,
    ``pipeline``, ``lowrank``, ``sensitive``) compute in the caller's mode; call them inside
    :func:`x64_context` for float64. A float64 tensor a scoped call returns (``model(X)``)
    stays float64, but JAX arithmetic on it outside the scope is float32 (JAX's rule).

    ``FAIRKL_ENABLE_X64=0`` turns the scope off (``fn`` then runs with the user's
    setting): float32 models without the CKA penalty still work, and every fit, test or
    tuner that needs 64 bits raises a ``RuntimeError`` naming the variable instead of
    computing silently in float32 (this is how those guards are tested).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not x64_enabled_by_fairkl():
            return fn(*args, **kwargs)
        with x64_context():
            return fn(*args, **kwargs)

    wrapper.__fairkl_x64_scope__ = True
    return wrapper  # type: ignore[return-value]


def x64_methods(*names: str):
    """Class decorator: wrap the named methods (defined on the class or inherited) in :func:`x64_scope`.

    For entry points a class inherits and does not define, e.g. ``keras.Model.evaluate``
    on :class:`fairkl.FairKernelRidge`: the wrapper is set on the decorated class only.
    """

    def decorate(cls):
        for name in names:
            try:
                raw = inspect.getattr_static(cls, name)  # the descriptor itself (classmethod, ...)
            except AttributeError:
                raise AttributeError(
                    f"x64_methods: {cls.__name__} has no method {name!r}"
                ) from None
            if isinstance(raw, (classmethod, staticmethod)):
                if not getattr(raw.__func__, "__fairkl_x64_scope__", False):
                    setattr(cls, name, type(raw)(x64_scope(raw.__func__)))
            elif not callable(raw):
                raise TypeError(f"x64_methods: {cls.__name__}.{name} is not a method")
            elif not getattr(raw, "__fairkl_x64_scope__", False):
                setattr(cls, name, x64_scope(raw))
        return cls

    return decorate


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside fairkl.

    For ``warnings.warn(..., stacklevel=user_stacklevel())`` called from inside the
    package: fixed stacklevels count fairkl's own frames, and the :func:`x64_scope`
    wrappers add one per decorated call (measured: a fit's ConvergenceWarning pointed at
    ``models.py`` instead of the caller's line). Python 3.12's ``skip_file_prefixes``
    does the same, but fairkl supports 3.11.
    """
    frame, level = sys._getframe(1), 1  # the caller of this function: level 1 for warn
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


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
