"""Input validation shared by every public entry point.

Every check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose
message names the offending argument, the value and the remedy. Arrays come
back as contiguous float64 NumPy arrays; the model casts them to its compute
dtype afterwards.

Sensitive attributes may be categorical: :func:`check_sensitive` one-hot
encodes labels (strings, booleans, pandas categoricals) for the kernels, and
:func:`group_labels` gives the integer group of each row — the single rule
that group metrics and stratified splits should share.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

#: Fewest samples a fit accepts: unbiased HSIC and CKA need n >= 4.
MIN_SAMPLES = 4


def _is_missing(x) -> bool:
    """None, pandas' NA/NaT, or a float NaN (elements of object arrays)."""
    if x is None or type(x).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(x, float) and math.isnan(x)


def _missing_values(name: str, count: int) -> ValueError:
    return ValueError(
        f"{name} contains {count} missing value(s) (pd.NA/None/NaN); fairkl needs complete "
        f"numeric data: drop those rows or impute them (e.g. {name}.fillna(...) or "
        f"sklearn.impute.SimpleImputer)."
    )


def _object_to_float(arr: np.ndarray, name: str) -> np.ndarray:
    """Object array -> float64: numbers are accepted; missing values, complex and labels are not."""
    flat = arr.reshape(-1)
    missing = sum(_is_missing(x) for x in flat)
    if missing:
        raise _missing_values(name, missing)
    if any(isinstance(x, (complex, np.complexfloating)) for x in flat):
        raise TypeError(
            f"{name} contains complex numbers; fairkl needs real numbers "
            f"(pass {name}.real or abs({name}) if that is what you mean)."
        )
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        example = next((x for x in flat if not isinstance(x, numbers.Real)), None)
        raise TypeError(
            f"{name} must be numeric; got an object array holding non-numbers (e.g. {example!r}). "
            f"Encode categorical features first (e.g. sklearn.preprocessing.OneHotEncoder)."
        ) from exc


def _reject_sparse(value, name: str) -> None:
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy comes with scikit-learn
        return
    if sp.issparse(value):
        raise TypeError(
            f"{name} is a sparse matrix; fairkl needs dense data: call {name}.toarray() "
            f"(kernel methods form dense n x n matrices anyway)."
        )


def as_float_array(value, name: str) -> np.ndarray:
    """Convert to a float64 array, refusing non-numeric, empty or non-finite data.

    Accepts NumPy arrays, lists, pandas objects and object arrays of numbers.
    Sparse matrices, missing values (``pd.NA``/``None``), complex numbers,
    strings, NaN and inf are refused with a message naming ``name`` and the
    remedy.
    """
    if value is None:
        raise ValueError(f"{name} is None; expected an array of numbers.")
    _reject_sparse(value, name)
    if _is_pandas(value) and hasattr(value, "isna"):
        # pandas turns pd.NA into NaN or keeps it in an object array: name it.
        missing = int(np.sum(np.asarray(value.isna())))
        if missing:
            raise _missing_values(name, missing)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype.kind == "O":
        arr = _object_to_float(arr, name)
    elif arr.dtype.kind == "c":
        raise TypeError(
            f"{name} has complex dtype {arr.dtype}; fairkl needs real numbers "
            f"(pass {name}.real or abs({name}) if that is what you mean)."
        )
    elif arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be numeric; got dtype {arr.dtype}. Encode categorical "
            f"features first (e.g. sklearn.preprocessing.OneHotEncoder)."
        )
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s) (missing values such as "
            f"pd.NA count as NaN); drop or impute those rows first."
        )
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


def check_target(y, n: int, name: str = "y", rows_of: str = "X") -> np.ndarray:
    """A 1-D target of length ``n``, the row count of ``rows_of`` (a single column (n, 1) is accepted)."""
    arr = as_float_array(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or (n_samples, 1); got shape {arr.shape}."
        )
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but {rows_of} has {n}.")
    return arr


#: In :func:`group_labels`, numeric (not explicitly categorical) attributes
#: with more distinct rows than ``max(GROUPS_MAX_SMALL, n // 2)`` are taken
#: to be continuous and refused.
GROUPS_MAX_SMALL = 10


class _Column:
    """One column of a sensitive attribute: numeric values, or labels with categories."""

    def __init__(self, values=None, codes=None, categories=None):
        self.values, self.codes, self.categories = values, codes, categories

    @property
    def categorical(self) -> bool:
        return self.codes is not None

    def one_hot(self) -> np.ndarray:
        return np.eye(len(self.categories))[self.codes]


def _is_pandas(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas"


def _missing_labels(name: str, count: int) -> ValueError:
    return ValueError(
        f"{name} contains {count} missing value(s) (pd.NA/None/NaN); every row needs "
        f"a group or value: drop those rows or give them their own label."
    )


def _pandas_column(col, name: str) -> _Column:
    """A pandas Series or Categorical: categories keep their declared order."""
    import pandas as pd

    dtype = col.dtype
    if np.any(np.asarray(pd.isna(col))):
        raise _missing_labels(name, int(np.sum(np.asarray(pd.isna(col)))))
    if isinstance(dtype, pd.CategoricalDtype):
        cat = pd.Categorical(col)
        if np.any(cat.codes < 0):
            raise _missing_labels(name, int(np.sum(cat.codes < 0)))
        return _Column(
            codes=np.asarray(cat.codes, dtype=np.int64),
            categories=np.asarray(cat.categories, dtype=object),
        )
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_string_dtype(dtype) or dtype == object:  # noqa: E721 (numpy dtype equality, not a type check)
        arr = np.asarray(col.to_numpy(dtype=object, na_value=None))
        return _array_column(arr, name)
    return _Column(values=as_float_array(col.to_numpy(dtype=np.float64, na_value=np.nan), name))


def _array_column(arr: np.ndarray, name: str) -> _Column:
    """A 1-D NumPy column: booleans, strings and object labels are categorical."""
    if arr.dtype.kind == "O":
        missing = sum(_is_missing(x) for x in arr)
        if missing:
            raise _missing_labels(name, missing)
        if all(isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)) for x in arr):
            return _Column(values=as_float_array(arr.astype(np.float64), name))
    elif arr.dtype.kind not in "bUS":
        return _Column(values=as_float_array(arr, name))
    _check_numeric_strings(arr, name)
    try:
        categories, codes = np.unique(arr, return_inverse=True)
    except TypeError as exc:
        raise TypeError(
            f"{name} mixes labels of different types (e.g. numbers and strings) "
            f"that cannot be sorted; convert them to one type (e.g. {name}.astype(str))."
        ) from exc
    return _Column(codes=codes.reshape(-1).astype(np.int64), categories=categories.astype(object))


def _as_number(x):
    if not isinstance(x, (str, np.str_, bytes, np.bytes_)):
        return None
    try:
        return float(x)
    except ValueError:
        return None


def _check_numeric_strings(arr: np.ndarray, name: str) -> None:
    """Numbers written as strings are group labels only if they are few integer codes.

    ``["1.5", "2.25", ...]`` read as labels would make one group per row and
    silently change the fit: refused, in the model and the group metrics alike.
    """
    values = [_as_number(x) for x in arr]
    if not values or any(x is None for x in values):
        return
    numbers_ = np.array(values, dtype=np.float64)
    integer = np.all(np.isfinite(numbers_) & (numbers_ == np.round(numbers_)))
    few = len(np.unique(numbers_)) <= max(GROUPS_MAX_SMALL, len(numbers_) // 2)
    if not (integer and few):
        raise TypeError(
            f"{name} holds numbers written as strings (e.g. {str(arr[0])!r}) that are not a few integer "
            f"group codes, so they are neither clearly groups nor clearly numbers. Convert them: "
            f"{name}.astype(float) for a continuous attribute, or a pandas Categorical to declare "
            f"each distinct value a group."
        )


def _sensitive_columns(q, name: str) -> list:
    """Split a sensitive attribute into columns, recognising categorical ones."""
    if q is None:
        raise ValueError(f"{name} is None; expected an array of numbers or group labels.")
    _reject_sparse(q, name)
    if _is_pandas(q) and hasattr(q, "columns"):  # DataFrame
        return [_pandas_column(q[c], f"{name}[{c!r}]") for c in q.columns]
    if _is_pandas(q):  # Series, Categorical, Index
        return [_pandas_column(q, name)]
    try:
        arr = np.asarray(q)
    except Exception as exc:
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(
            f"{name} must be 1-D or 2-D (n_samples, n_attributes); got shape {arr.shape}."
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    if arr.dtype.kind in "biuf" and arr.dtype.kind != "b":
        return [_Column(values=v) for v in as_float_array(arr, name).reshape(arr.shape[0], -1).T]
    cols = arr.reshape(arr.shape[0], -1).T
    return [
        _array_column(c, name if len(cols) == 1 else f"{name}[:, {j}]") for j, c in enumerate(cols)
    ]


def check_sensitive(q, n: int, name: str = "q", rows_of: str = "X") -> np.ndarray:
    """A 2-D float sensitive attribute with ``n`` rows (those of ``rows_of``, named in the error).

    Numeric input is returned as float64 (1-D becomes one column).
    Categorical columns — strings, object arrays of labels, booleans, pandas
    ``Categorical`` or ``category``/``object``/``string``/``bool`` columns —
    become **full one-hot** float columns (no column dropped: the centred
    kernel makes the redundancy harmless). Column order: the sorted distinct
    labels, or a pandas categorical's declared categories (unused ones give
    all-zero columns, so that splits of one data set encode alike).
    DataFrame columns are encoded one by one and concatenated in order.

    Raises
    ------
    ValueError, TypeError
        Naming ``name``: missing values, NaN/inf, sparse input, wrong
        dimension or length, labels of mixed types.
    """
    cols = _sensitive_columns(q, name)
    arr = np.column_stack([c.one_hot() if c.categorical else c.values for c in cols])
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} rows but {rows_of} has {n}.")
    return np.ascontiguousarray(arr, dtype=np.float64)


def group_labels(
    q,
    name: str = "q",
    n: int | None = None,
    return_labels: bool = False,
    return_attributes: bool = False,
):
    """Integer group codes ``0..G-1`` per row: THE rule for groups in fairkl.

    Shared by the group metrics, the scikit-learn parity scorer, the HSIC
    test and stratified CV splits (:func:`fairkl.sensitive.group_codes`).

    * Categorical columns (see :func:`check_sensitive`) are groups, in the
      order of their categories (sorted labels, or a pandas categorical's
      declared order); labels that cannot be sorted together are refused.
    * Numeric arrays of >= 2 columns whose rows are one-hot (0/1, one 1 per
      row) give the index of the 1.
    * Numeric columns must hold integers; when all columns are numeric, at
      most ``max(GROUPS_MAX_SMALL, n // 2)`` distinct rows. Otherwise
      ``ValueError`` (continuous: bin it first, e.g. ``pandas.cut``).
    * Several columns: each distinct row is one (intersectional) group, in
      lexicographic order of the per-column codes.

    Parameters
    ----------
    q : array-like or pandas object of shape (n,) or (n, k)
    name : str
        Used in error messages.
    n : int, optional
        Expected number of rows.
    return_labels : bool, default False
        Also return each group's label: category, integer value, tuple over
        columns; for one-hot input the column (DataFrame name, else index).
    return_attributes : bool, default False
        Also return the attribute names: DataFrame columns, a Series' name
        (else ``"group"``), ``f"{name}_{j}"`` for 2-D arrays; ``["group"]``
        for one-hot input.

    Returns
    -------
    codes : ndarray of int64, shape (n,)
    labels : list, if ``return_labels``
    attributes : list of str, if ``return_attributes``
    """
    cols = _sensitive_columns(q, name)
    rows = len(cols[0].codes if cols[0].categorical else cols[0].values)
    if n is not None and rows != n:
        raise ValueError(f"{name} has {rows} rows but X has {n}.")
    attributes = _attribute_names(q, name, len(cols))
    numeric = [c.values for c in cols if not c.categorical]
    if len(numeric) == len(cols):
        values = np.column_stack(numeric)
        if (
            values.shape[1] > 1
            and np.all((values == 0) | (values == 1))
            and np.all(values.sum(1) == 1)
        ):
            codes = np.argmax(values, axis=1).astype(np.int64)
            columns = (
                list(q.columns)
                if _is_pandas(q) and hasattr(q, "columns")
                else list(range(values.shape[1]))
            )
            return _group_result(codes, columns, ["group"], return_labels, return_attributes)
    for col, label in zip(cols, _column_names(q, name, len(cols)), strict=False):
        if not col.categorical:
            _check_integer(col.values, label)
    if len(numeric) == len(cols):
        _check_few(np.column_stack(numeric), name)
    keys = np.column_stack([c.codes if c.categorical else c.values for c in cols])
    uniq, codes = np.unique(keys, axis=0, return_inverse=True)
    labels = [_row_label(cols, row) for row in uniq]
    return _group_result(
        codes.reshape(-1).astype(np.int64), labels, attributes, return_labels, return_attributes
    )


def _row_label(cols: list, row) -> object:
    """A group's label: the category or integer value, a tuple over several columns."""
    one = [
        c.categories[int(k)] if c.categorical else int(k) for c, k in zip(cols, row, strict=False)
    ]
    return one[0] if len(cols) == 1 else tuple(one)


def _group_result(codes, labels, attributes, return_labels: bool, return_attributes: bool):
    out = (
        (codes,)
        + ((labels,) if return_labels else ())
        + ((attributes,) if return_attributes else ())
    )
    return out[0] if len(out) == 1 else out


def _attribute_names(q, name: str, k: int) -> list:
    """Names of the attributes (columns) of ``q`` (see :func:`group_labels`)."""
    if _is_pandas(q) and hasattr(q, "columns"):
        return list(q.columns)
    if _is_pandas(q):
        return [q.name if getattr(q, "name", None) is not None else "group"]
    return ["group"] if k == 1 else [f"{name}_{j}" for j in range(k)]


def _column_names(q, name: str, k: int) -> list:
    """Names of the columns of ``q`` in error messages (as :func:`_sensitive_columns` gives them)."""
    if _is_pandas(q) and hasattr(q, "columns"):
        return [f"{name}[{c!r}]" for c in q.columns]
    return [name] if k == 1 else [f"{name}[:, {j}]" for j in range(k)]


def _check_integer(values: np.ndarray, name: str) -> None:
    """Numeric group codes must be integers (see :func:`group_labels`)."""
    frac = values[values != np.round(values)]
    if frac.size:
        raise ValueError(
            f"{name} has non-integer values (e.g. {frac[0]:g}), so it is not a group label; group "
            f"metrics and stratified splits need groups: pass integer codes, strings or a pandas "
            f"Categorical, or bin a continuous attribute first (e.g. pandas.cut)."
        )


def _check_few(values: np.ndarray, name: str) -> None:
    """Numeric group codes must not be too many (see :func:`group_labels`)."""
    n = values.shape[0]
    groups = len(np.unique(values, axis=0))
    limit = max(GROUPS_MAX_SMALL, n // 2)
    if groups > limit:
        raise ValueError(
            f"{name} has {groups} distinct values among {n} rows (more than {limit}), so it looks "
            f"continuous, not like group labels; bin it first (e.g. pandas.cut) or pass a "
            f"pandas Categorical to declare the groups."
        )


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


def check_mus(mus, name: str = "mus", limit: float | None = None) -> np.ndarray:
    """A 1-D float array of fairness strengths, each >= 0 (and <= ``limit`` if given).

    A row or column vector is flattened; booleans, matrices, negative values
    and values above ``limit`` (where the fit is numerically the
    mu -> infinity limit) are refused by name.
    """
    if mus is None:
        raise ValueError(f"{name} is None; expected a 1-D array of values >= 0.")
    raw = np.asarray(mus, dtype=object) if not _is_pandas(mus) else np.asarray(mus)
    if np.asarray(mus).dtype.kind == "b" or any(
        isinstance(x, (bool, np.bool_)) for x in raw.reshape(-1)
    ):
        raise TypeError(f"{name} must hold numbers >= 0, not booleans; got {mus!r}.")
    arr = as_float_array(mus, name)
    if arr.ndim > 1 and not (arr.ndim == 2 and 1 in arr.shape):
        raise ValueError(f"{name} must be 1-D (one value per fit); got shape {arr.shape}.")
    arr = arr.reshape(-1)
    if np.any(arr < 0):
        raise ValueError(f"{name} must all be >= 0; got min {arr.min()}.")
    if limit is not None and np.any(arr > limit):
        raise ValueError(
            f"{name} has values above {limit:g} (max {arr.max():g}): there the data term is below "
            f"the float64 rounding of mu * penalty, so the fit cannot see y; use {name} <= {limit:g}."
        )
    return arr
