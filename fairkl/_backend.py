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

    import jax

    # float64 is opt-in per model (dtype="float64"), but JAX drops it silently
    # unless x64 is enabled; enabling it does not change Keras' float32 default.
    jax.config.update("jax_enable_x64", True)
