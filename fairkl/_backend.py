"""Select the JAX backend for Keras before Keras is first imported.

fairkl computes with ``keras.ops`` but compiles its loops with ``jax.jit`` and
differentiates with ``jax.grad``; it therefore needs Keras on the JAX backend.
This module is imported first by ``fairkl/__init__.py``.
"""

from __future__ import annotations

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
