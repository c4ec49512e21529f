r"""Group metrics for regression and for ±1 / {0, 1} decisions, fairlearn-compatible.

Every gap takes ``(y_true, y_pred, *, sensitive_features)``, so it can be
called directly, wrapped as a scikit-learn scorer that reads
``sensitive_features`` at score time (:func:`make_group_scorer`), or compared
with ``fairlearn.metrics.MetricFrame``, which accepts the per-group callables
:func:`mean_prediction` and :func:`error_rate` (and scikit-learn's own
``mean_squared_error``/``mean_absolute_error``).

Groups
------
``sensitive_features`` gives the group of every sample, by the one rule
of fairkl, :func:`fairkl._validation.group_labels` (shared with the
scikit-learn parity scorer, the HSIC test and stratified CV splits):

* one column (1-D array, list, pandas Series, including categoricals): one
  group per distinct value (strings, integers, booleans, integer codes);
* one-hot columns (2-D numeric, every entry 0/1, one 1 per row): one group
  per column, named by the DataFrame's column name (else its index);
* several columns (2-D array or DataFrame): **intersectional** groups, one
  per distinct row, named by the tuple of its values.

Groups are ordered by their sorted labels (per column, then
lexicographically; a pandas categorical keeps its declared order); only
groups present in the data appear. Missing values (``None``/NaN), labels
that cannot be sorted together (numbers mixed with strings), and numeric
labels that look continuous (non-integer values, or more than
``max(10, n // 2)`` distinct values) are refused: bin a continuous
attribute first, or use :func:`correlation` and
:func:`fairkl.metrics.hsic_test`, which take it as it is.

Sign conventions
----------------
Dependence measures such as HSIC and CKA cannot see the sign of a
dependence: a model that favours group A and one that favours group B by the
same amount score the same. :func:`mean_prediction_gap` (mean prediction of
a group minus that of the rest) and :func:`correlation` keep the sign, which
shows when a strong fairness penalty over-corrects and reverses a gap (on
Communities and Crime the held-out correlation with q reaches -0.13 at
mu = 1e4 while CKA keeps falling). Mean-level and decision-level parity are
also different things: an HSIC penalty with a linear kernel on f drives the
mean gap to ~0 yet left a decision parity gap
(:func:`statistical_parity_difference` of sign(f)) near 0.09 on Adult; the CKA
penalty did no better at matched error, but reached a smaller gap at a higher
error (the Adult chapter computes both).
All the other gaps are ``max - min`` over groups (or pairs of groups), >= 0,
lower is better.
"""

from __future__ import annotations

import itertools

import numpy as np

from fairkl import _validation as v

# ---------------------------------------------------------------------------
# Group encoding: the one rule, fairkl._validation.group_labels
# ---------------------------------------------------------------------------


def _is_label_dtype(dtype) -> bool:
    return str(dtype) in ("category", "string", "str") or getattr(dtype, "kind", "O") in "OUST"


def is_label_data(x) -> bool:
    """True for non-numeric data (strings, objects, categoricals): group labels, not numbers.

    Shared with :mod:`fairkl.metrics.independence` (public within the package, not in ``__all__``).
    """
    if hasattr(x, "dtypes") and not hasattr(x, "dtype"):  # pandas DataFrame
        return any(_is_label_dtype(dt) for dt in x.dtypes)
    dtype = getattr(x, "dtype", None)
    return _is_label_dtype(dtype if dtype is not None else np.asarray(x).dtype)


def encode_groups(sf, name: str = "sensitive_features") -> tuple[np.ndarray, list, list]:
    """Integer group codes (n,), group labels and attribute names, by :func:`fairkl._validation.group_labels`.

    Shared with :mod:`fairkl.metrics.independence` (public within the package, not in ``__all__``).
    """
    if sf is None:
        raise ValueError(f"{name} is None; pass the group (sensitive attribute) of every sample.")
    return v.group_labels(sf, name, return_labels=True, return_attributes=True)


# ---------------------------------------------------------------------------
# Validation of targets, predictions and decisions
# ---------------------------------------------------------------------------


def as_vector(x, name: str) -> np.ndarray:
    """A 1-D float vector (an (n, 1) column is flattened), checked by :func:`fairkl._validation.as_float_array`.

    Shared with :mod:`fairkl.metrics.decisions` and :mod:`fairkl.metrics.separation`
    (public within the package, not in ``__all__``).
    """
    arr = v.as_float_array(x, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,); got shape {arr.shape}.")
    return arr


def _prepare(y_true, y_pred, sensitive_features, need_true: bool = True):
    """Validated (y_true or None, y_pred, codes, names, attrs); lengths must agree."""
    f = as_vector(y_pred, "y_pred")
    y = as_vector(y_true, "y_true") if (need_true or y_true is not None) else None
    if y is not None and y.shape[0] != f.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} rows but y_pred has {f.shape[0]}.")
    codes, names, attrs = encode_groups(sensitive_features, "sensitive_features")
    if codes.shape[0] != f.shape[0]:
        raise ValueError(
            f"sensitive_features has {codes.shape[0]} rows but y_pred has {f.shape[0]}."
        )
    return y, f, codes, names, attrs


def need_two_groups(names) -> None:
    if len(names) < 2:
        raise ValueError(
            f"a gap between groups needs at least 2 groups in sensitive_features; got {names}."
        )


def class_counts(y, codes, names, which: str) -> np.ndarray:
    """Rows of class ``which`` ("positive"/"negative") per group; every group needs one.

    Shared with :mod:`fairkl.metrics.decisions` (public within the package, not in ``__all__``).
    """
    mask = y if which == "positive" else ~y
    counts = np.bincount(codes[mask], minlength=len(names))
    if np.any(counts == 0):
        empty = [names[g] for g in np.flatnonzero(counts == 0)]
        rate = "true-positive" if which == "positive" else "false-positive"
        raise ValueError(
            f"the {rate} rate is undefined for group(s) {empty}: no {which} labels in y_true."
        )
    return counts


def class_rates(y, D, codes, names, which: str) -> np.ndarray:
    """Per-group rate of positive decisions among rows of one class.

    ``D`` is (n,) or (n_thresholds, n) boolean; returns (G,) or (n_thresholds, G).
    """
    mask = y if which == "positive" else ~y
    counts = class_counts(y, codes, names, which)
    G = len(names)
    D2 = np.atleast_2d(D)[:, mask].astype(float)
    # One-hot of the group codes of the selected rows: sums per group by a matrix product.
    onehot = np.zeros((mask.sum(), G))
    onehot[np.arange(mask.sum()), codes[mask]] = 1.0
    rates = (D2 @ onehot) / counts
    return rates if D.ndim == 2 else rates[0]


def as_decisions(x, name: str) -> np.ndarray:
    """Boolean 'positive' mask of ±1 or {0, 1} decisions (1 is positive in both codings).

    Shared with :mod:`fairkl.metrics.decisions` (public within the package, not in ``__all__``).
    """
    if x is not None and is_label_data(x):
        labels = sorted({str(a) for a in np.asarray(x, dtype=object).reshape(-1)})[:6]
        raise ValueError(
            f"{name} holds class labels ({labels}), but decision metrics need decisions coded ±1 or "
            f"{{0, 1}} with 1 the positive class: convert them first, e.g. "
            f"({name} == {labels[-1]!r}).astype(int) (the same for y_true)."
        )
    arr = as_vector(x, name)
    values = set(np.unique(arr).tolist())
    if not (values <= {-1.0, 1.0} or values <= {0.0, 1.0}):
        raise ValueError(
            f"{name} must hold decisions coded ±1 or {{0, 1}}; got values {sorted(values)[:6]}. "
            f"Threshold scores first, e.g. np.sign(f) or (f > 0)."
        )
    return arr == 1.0


# ---------------------------------------------------------------------------
# Per-group callables (MetricFrame-compatible: signature (y_true, y_pred))
# ---------------------------------------------------------------------------


def mean_prediction(y_true, y_pred) -> float:
    """Mean of the predictions (``y_true`` is ignored); use per group with MetricFrame.

    Parameters
    ----------
    y_true : array-like of shape (n,) or None
        Ignored (present for the metric signature).
    y_pred : array-like of shape (n,)

    Returns
    -------
    float
    """
    f = as_vector(y_pred, "y_pred")
    return float(f.sum() / f.size)


def error_rate(y_true, y_pred) -> float:
    """Fraction of wrong decisions, for ±1 or {0, 1} labels; use per group with MetricFrame.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Labels and decisions, each coded ±1 or {0, 1} (1 is positive).

    Returns
    -------
    float
    """
    y = as_decisions(y_true, "y_true")
    d = as_decisions(y_pred, "y_pred")
    if y.shape != d.shape:
        raise ValueError(f"y_true has {y.shape[0]} rows but y_pred has {d.shape[0]}.")
    return float(np.count_nonzero(y != d) / y.size)


# ---------------------------------------------------------------------------
# Per-group table
# ---------------------------------------------------------------------------


def group_report(y_true, y_pred, sensitive_features, *, as_frame: bool | None = None):
    """Per-group size, mean prediction, mean target, MSE and MAE.

    For several sensitive columns this is the per-intersection report: one
    row per distinct combination present, with one column per attribute.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        See the module notes for the accepted encodings.
    as_frame : bool, optional
        Return a pandas DataFrame (``True``) or a dict of NumPy arrays
        (``False``). ``None``: a DataFrame if pandas is installed.

    Returns
    -------
    pandas.DataFrame or dict
        Columns: one per attribute (the group's label), ``n``,
        ``mean_prediction``, ``mean_target``, ``mse``, ``mae``; rows in group
        order.
    """
    if as_frame is not None and not isinstance(as_frame, (bool, np.bool_)):
        raise TypeError(f"as_frame must be True, False or None; got {as_frame!r}.")
    y, f, codes, names, attrs = _prepare(y_true, y_pred, sensitive_features)
    G = len(names)
    n_g = np.bincount(codes, minlength=G)
    err = f - y
    table = {}
    for j, attr in enumerate(attrs):
        table[attr] = np.array([g[j] if isinstance(g, tuple) else g for g in names], dtype=object)
    table["n"] = n_g
    table["mean_prediction"] = np.bincount(codes, f, G) / n_g
    table["mean_target"] = np.bincount(codes, y, G) / n_g
    table["mse"] = np.bincount(codes, err * err, G) / n_g
    table["mae"] = np.bincount(codes, np.abs(err), G) / n_g
    if as_frame is None:
        try:
            import pandas  # noqa: F401
        except ImportError:
            as_frame = False
        else:
            as_frame = True
    if not as_frame:
        return table
    import pandas as pd

    return pd.DataFrame(table)


# ---------------------------------------------------------------------------
# Gaps between groups for regression
# ---------------------------------------------------------------------------


def _group_means(values, codes, G) -> np.ndarray:
    return np.bincount(codes, values, G) / np.bincount(codes, minlength=G)


def mse_gap(y_true, y_pred, *, sensitive_features) -> float:
    """Accuracy-parity gap in MSE: largest minus smallest per-group mean squared error (>= 0).

    Equals ``MetricFrame(metrics=mean_squared_error, ...).difference()``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels (see the module notes).

    Returns
    -------
    float
    """
    y, f, codes, names, _ = _prepare(y_true, y_pred, sensitive_features)
    need_two_groups(names)
    m = _group_means((f - y) ** 2, codes, len(names))
    return float(m.max() - m.min())


def mae_gap(y_true, y_pred, *, sensitive_features) -> float:
    """Accuracy-parity gap in MAE: largest minus smallest per-group mean absolute error (>= 0).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels (see the module notes).

    Returns
    -------
    float
    """
    y, f, codes, names, _ = _prepare(y_true, y_pred, sensitive_features)
    need_two_groups(names)
    m = _group_means(np.abs(f - y), codes, len(names))
    return float(m.max() - m.min())


def mean_prediction_gap(y_true, y_pred, *, sensitive_features, group=None) -> float:
    r"""Signed gap: mean prediction of ``group`` minus the mean prediction of everyone else.

    .. math:: \Delta_g = \bar f_{\{i: q_i = g\}} - \bar f_{\{i: q_i \ne g\}}

    Positive: the group gets higher predictions than the rest. With two
    groups it is the second group's mean minus the first's (e.g. ``q = 1``
    minus ``q = 0``, ``True`` minus ``False``, ``"b"`` minus ``"a"``). The
    sign is what HSIC and CKA cannot see.

    Parameters
    ----------
    y_true : array-like of shape (n,) or None
        Ignored except for its length.
    y_pred : array-like of shape (n,)
    sensitive_features : array-like
        See the module notes.
    group : label, optional
        The group compared with the rest (a tuple for intersections).
        Required when there are more than two groups; default with two: the
        second in sorted order.

    Returns
    -------
    float
    """
    _, f, codes, names, _ = _prepare(y_true, y_pred, sensitive_features, need_true=False)
    need_two_groups(names)
    if group is None:
        if len(names) != 2:
            raise ValueError(
                f"sensitive_features has {len(names)} groups {names}; pass group=<one of them>."
            )
        g = 1
    elif group in names:
        g = names.index(group)
    else:
        raise ValueError(f"group={group!r} is not among the groups present: {names}.")
    inside = codes == g
    return float(f[inside].mean() - f[~inside].mean())


def mean_prediction_difference(y_true, y_pred, *, sensitive_features) -> float:
    r"""Largest minus smallest per-group mean prediction, :math:`\max_g \bar f_g - \min_g \bar f_g` (>= 0).

    The unsigned group mean gap (first moments only); equals
    ``MetricFrame(metrics=mean_prediction, ...).difference()``. With two
    groups it is ``abs(mean_prediction_gap(...))``.

    Parameters
    ----------
    y_true : array-like of shape (n,) or None
        Ignored except for its length.
    y_pred : array-like of shape (n,)
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels (see the module notes).

    Returns
    -------
    float
    """
    _, f, codes, names, _ = _prepare(y_true, y_pred, sensitive_features, need_true=False)
    need_two_groups(names)
    m = _group_means(f, codes, len(names))
    return float(m.max() - m.min())


def _ks(x: np.ndarray, z: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup |F_x - F_z| (evaluated at every sample point)."""
    x, z = np.sort(x), np.sort(z)
    t = np.concatenate([x, z])
    Fx = np.searchsorted(x, t, side="right") / x.size
    Fz = np.searchsorted(z, t, side="right") / z.size
    return float(np.max(np.abs(Fx - Fz)))


def _w1(x: np.ndarray, z: np.ndarray) -> float:
    """Wasserstein-1 distance: integral of |F_x - F_z| between consecutive pooled points."""
    x, z = np.sort(x), np.sort(z)
    t = np.sort(np.concatenate([x, z]))
    Fx = np.searchsorted(x, t[:-1], side="right") / x.size
    Fz = np.searchsorted(z, t[:-1], side="right") / z.size
    return float(np.sum(np.abs(Fx - Fz) * np.diff(t)))


def _pairwise_max(distance, y_pred, sensitive_features, y_true) -> float:
    _, f, codes, names, _ = _prepare(y_true, y_pred, sensitive_features, need_true=False)
    need_two_groups(names)
    samples = [f[codes == g] for g in range(len(names))]
    return max(distance(a, b) for a, b in itertools.combinations(samples, 2))


def ks_gap(y_true, y_pred, *, sensitive_features) -> float:
    """Largest two-sample Kolmogorov-Smirnov statistic of the predictions over all pairs of groups.

    In [0, 1]; 0 when every group's predictions have the same empirical
    distribution. With two groups it is ``scipy.stats.ks_2samp(f_a, f_b).statistic``.

    Parameters
    ----------
    y_true : array-like of shape (n,) or None
        Ignored except for its length.
    y_pred : array-like of shape (n,)
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels (see the module notes).

    Returns
    -------
    float

    """
    return _pairwise_max(_ks, y_pred, sensitive_features, y_true)


def wasserstein_gap(y_true, y_pred, *, sensitive_features) -> float:
    """Largest Wasserstein-1 distance between the groups' prediction distributions, over all pairs.

    In the units of the predictions; with two groups it is
    ``scipy.stats.wasserstein_distance(f_a, f_b)``.

    Parameters
    ----------
    y_true : array-like of shape (n,) or None
        Ignored except for its length.
    y_pred : array-like of shape (n,)
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels (see the module notes).

    Returns
    -------
    float
    """
    return _pairwise_max(_w1, y_pred, sensitive_features, y_true)


def correlation(y_true, y_pred, *, sensitive_features) -> float:
    r"""Signed Pearson correlation between the predictions and a numeric sensitive attribute.

    For a binary 0/1 attribute this is the point-biserial correlation (its
    sign is that of :func:`mean_prediction_gap`). Defined as 0 when the
    predictions or the attribute are constant (nothing correlates with a
    constant).

    Parameters
    ----------
    y_true : array-like of shape (n,) or None
        Ignored except for its length.
    y_pred : array-like of shape (n,)
    sensitive_features : array-like of shape (n,) or (n, 1), numeric

    Returns
    -------
    float in [-1, 1]
    """
    f = as_vector(y_pred, "y_pred")
    if sensitive_features is None:
        raise ValueError(
            "sensitive_features is None; pass the sensitive attribute of every sample."
        )
    if is_label_data(sensitive_features):
        raise TypeError(
            "correlation needs a numeric sensitive attribute, but sensitive_features holds labels "
            "(strings, objects or categories); for group labels use mean_prediction_gap (signed) or "
            "encode the groups as 0/1."
        )
    q = as_vector(sensitive_features, "sensitive_features")
    for other, name in (
        (q, "sensitive_features"),
        (None if y_true is None else as_vector(y_true, "y_true"), "y_true"),
    ):
        if other is not None and other.shape[0] != f.shape[0]:
            raise ValueError(f"{name} has {other.shape[0]} rows but y_pred has {f.shape[0]}.")
    fc, qc = f - f.mean(), q - q.mean()
    denom = np.sqrt(np.sum(fc * fc) * np.sum(qc * qc))
    return float(np.sum(fc * qc) / denom) if denom > 0 else 0.0


# ---------------------------------------------------------------------------
# Decision-level metrics (classification by sign(f))
# ---------------------------------------------------------------------------


def _decision_groups(y_true, y_pred, sensitive_features, labels: bool = True):
    """(positive labels or None, positive decisions, codes, names); labels=False only checks y_true's length."""
    d = as_decisions(y_pred, "y_pred")
    if labels:
        y = as_decisions(y_true, "y_true")
    else:
        y = None if y_true is None else np.empty(as_vector(y_true, "y_true").shape)
    if y is not None and y.shape != d.shape:
        raise ValueError(f"y_true has {y.shape[0]} rows but y_pred has {d.shape[0]}.")
    codes, names, _ = encode_groups(sensitive_features, "sensitive_features")
    if codes.shape[0] != d.shape[0]:
        raise ValueError(
            f"sensitive_features has {codes.shape[0]} rows but y_pred has {d.shape[0]}."
        )
    need_two_groups(names)
    return y, d, codes, names


def statistical_parity_difference(y_true, y_pred, *, sensitive_features) -> float:
    r"""Largest minus smallest per-group rate of positive decisions, :math:`\max_g P(\hat y = 1 \mid g) - \min_g`.

    Decisions coded ±1 or {0, 1}; equals fairlearn's
    ``demographic_parity_difference``.

    Parameters
    ----------
    y_true : array-like of shape (n,) or None
        Any numbers; only its length is checked.
    y_pred : array-like of shape (n,)
        Decisions coded ±1 or {0, 1} (1 is positive).
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels (see the module notes).

    Returns
    -------
    float
    """
    _, d, codes, names = _decision_groups(y_true, y_pred, sensitive_features, labels=False)
    rates = _group_means(d.astype(float), codes, len(names))
    return float(rates.max() - rates.min())


def equal_opportunity_difference(y_true, y_pred, *, sensitive_features) -> float:
    r"""Largest minus smallest per-group true-positive rate, :math:`P(\hat y = 1 \mid y = 1, g)`.

    Labels and decisions coded ±1 or {0, 1}; equals fairlearn's
    ``equal_opportunity_difference``. Every group needs at least one positive label.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Labels and decisions, each coded ±1 or {0, 1} (1 is positive).
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels (see the module notes).

    Returns
    -------
    float
    """
    y, d, codes, names = _decision_groups(y_true, y_pred, sensitive_features)
    tpr = class_rates(y, d, codes, names, "positive")
    return float(tpr.max() - tpr.min())


def error_rate_gap(y_true, y_pred, *, sensitive_features) -> float:
    """Largest minus smallest per-group error rate of ±1 or {0, 1} decisions.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Labels and decisions, each coded ±1 or {0, 1} (1 is positive).
    sensitive_features : array-like of shape (n,) or (n, n_attributes)
        Group labels (see the module notes).

    Returns
    -------
    float
    """
    y, d, codes, names = _decision_groups(y_true, y_pred, sensitive_features)
    rates = _group_means((y != d).astype(float), codes, len(names))
    return float(rates.max() - rates.min())


# ---------------------------------------------------------------------------
# scikit-learn scorers
# ---------------------------------------------------------------------------


def _absolute(metric):
    def score(y_true, y_pred, *, sensitive_features, **kwargs):
        return abs(metric(y_true, y_pred, sensitive_features=sensitive_features, **kwargs))

    score.__name__ = f"abs_{metric.__name__}"
    return score


#: Scorer names -> metric; every one is "lower is better" (signed metrics by absolute value).
GROUP_SCORERS = {
    "mse_gap": mse_gap,
    "mae_gap": mae_gap,
    "mean_prediction_gap": _absolute(mean_prediction_gap),
    "ks_gap": ks_gap,
    "wasserstein_gap": wasserstein_gap,
    "correlation": _absolute(correlation),
    "statistical_parity_difference": statistical_parity_difference,
    "equal_opportunity_difference": equal_opportunity_difference,
    "error_rate_gap": error_rate_gap,
}


def make_group_scorer(name: str, **kwargs):
    """A scikit-learn scorer for a group metric that reads ``sensitive_features`` at score time.

    All these metrics are "lower is better", so the scorer returns the
    **negated** value (scikit-learn maximises scores); signed metrics
    (``mean_prediction_gap``, ``correlation``) are scored by their absolute
    value. Needs scikit-learn's metadata routing, which carries
    ``sensitive_features`` to the scorer::

        sklearn.set_config(enable_metadata_routing=True)
        cross_validate(est, X, y, scoring={"ks": make_group_scorer("ks_gap")},
                       params={"sensitive_features": q})

    Parameters
    ----------
    name : str
        One of :data:`GROUP_SCORERS`.
    **kwargs
        Passed to the metric (e.g. ``group=`` for ``mean_prediction_gap``).

    Returns
    -------
    sklearn scorer
    """
    import sklearn
    from sklearn.metrics import make_scorer

    if name not in GROUP_SCORERS:
        raise ValueError(f"unknown group scorer {name!r}; valid names: {sorted(GROUP_SCORERS)}.")
    if not sklearn.get_config().get("enable_metadata_routing", False):
        raise RuntimeError(
            "make_group_scorer needs scikit-learn's metadata routing to pass sensitive_features at "
            "score time: call sklearn.set_config(enable_metadata_routing=True) first."
        )
    scorer = make_scorer(GROUP_SCORERS[name], greater_is_better=False, **kwargs)
    return scorer.set_score_request(sensitive_features=True)
