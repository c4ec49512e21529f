"""Input validation shared by every public entry point.

Every check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose
message names the offending argument. Arrays come back as contiguous float64
NumPy arrays; the model casts them to its compute dtype afterwards.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

#: Fewest samples a fit accepts: unbiased HSIC and CKA need n >= 4.
MIN_SAMPLES = 4


def as_float_array(value, name: str) -> np.ndarray:
    """Convert to a float64 array, refusing non-numeric, empty or non-finite data."""
    if value is None:
        raise ValueError(f"{name} is None; expected an array of numbers.")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "O":
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{name} must be numeric; got an object array with non-numbers.") from exc
        else:
            raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}.")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s).")
    return arr


def check_X(X, name: str = "X", min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """A 2-D float array with at least ``min_samples`` rows."""
    arr = as_float_array(X, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}. "
            f"Reshape a single feature with {name}.reshape(-1, 1)."
        )
    if arr.shape[0] < min_samples:
        raise ValueError(f"{name} has {arr.shape[0]} samples; at least {min_samples} are needed.")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {arr.shape}).")
    return arr


def check_target(y, n: int, name: str = "y") -> np.ndarray:
    """A 1-D target of length ``n`` (a single column (n, 1) is accepted)."""
    arr = as_float_array(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,) or (n_samples, 1); got shape {arr.shape}.")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n}.")
    return arr


def check_sensitive(q, n: int, name: str = "q") -> np.ndarray:
    """A 2-D sensitive attribute with ``n`` rows (1-D input becomes one column)."""
    arr = as_float_array(q, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (n_samples, n_attributes); got shape {arr.shape}.")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n}.")
    return arr


def check_sample_weight(sample_weight, n: int, name: str = "sample_weight") -> np.ndarray:
    """Square roots of validated non-negative weights (ones when ``None``)."""
    if sample_weight is None:
        return np.ones(n)
    w = as_float_array(sample_weight, name)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},); got {w.shape}.")
    if np.any(w < 0):
        raise ValueError(f"{name} must be non-negative; got min {w.min()}.")
    if not np.any(w > 0):
        raise ValueError(f"{name} must have a positive sum.")
    return np.sqrt(w)


def check_positive(value, name: str, allow_zero: bool = False, allow_none: bool = False):
    """A finite real number > 0 (or >= 0)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}.")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}; got {value}.")
    return value


def check_int(value, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def check_choice(value, name: str, choices) -> str:
    """One of a fixed set of strings."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}; got {value!r}.")
    return value
