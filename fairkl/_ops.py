"""Small numerical helpers shared by every layer."""

from __future__ import annotations

import math

import jax
import numpy as np
from keras import ops


def mean(x, axis=None, keepdims: bool = False):
    """Mean that keeps float64 precision.

    ``keras.ops.mean`` (Keras 3.15, JAX backend) accumulates float64 input in
    float32 (relative error ~1e-7), which would break float64 accuracy; a sum
    divided by the count does not.
    """
    count = (
        x.size
        if axis is None
        else math.prod(x.shape[a] for a in ((axis,) if isinstance(axis, int) else axis))
    )
    return ops.sum(x, axis=axis, keepdims=keepdims) / count


def eps(dtype) -> float:
    """Machine epsilon of a float dtype given as a string, NumPy or JAX dtype."""
    return float(np.finfo(str(dtype).split(".")[-1]).eps)


def is_concrete(*values) -> bool:
    """True when no value is a JAX tracer (i.e. we run eagerly on known numbers).

    Public entry points validate their inputs only then: inside ``jax.jit``,
    ``vmap`` or ``grad`` the values are abstract and checks that need them
    (NaN, degenerate kernels) cannot run without breaking compilation.
    """
    return not any(isinstance(v, jax.core.Tracer) for v in values)
