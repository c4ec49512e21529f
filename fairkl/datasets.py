"""Datasets: synthetic data in the style of the earlier public series ``jejjohnson/keras-fairkl``, and real data shipped with fairkl.

The real data files (UCI Communities and Crime, UCI Adult) ship gzip-compressed in
the ``fairkl_data`` directory of the fairkl wheel, so ``pip install fairkl`` brings
them with no other package and they load offline. Each loader checks the SHA-256
of the uncompressed bytes before parsing; the provenance and terms of each file
are in ``fairkl_data/LICENSE.md``.
"""

from __future__ import annotations

import gzip
import hashlib
import numbers
import zlib
from typing import NamedTuple

import numpy as np


def make_seed_data(n: int = 200, noise: float = 0.1, proxy_noise: float = 0.5, seed: int = 0):
    r"""The synthetic regression problem of the tutorial, :math:`y = \sin(x) + 3q + \varepsilon`.

    Adapted from the earlier public series ``jejjohnson/keras-fairkl``, whose
    generator differs (``x ~ N(0, 1)``, ``q`` itself among the inputs, noise
    0.3), so its published scores are not comparable with ours.

    ``q ~ N(0, 1)`` is the sensitive attribute and :math:`x \sim U(-3, 3)`.
    ``q`` itself is **not** a feature: the inputs are ``x`` and a noisy proxy
    ``q + N(0, proxy_noise^2)`` (think of a postcode standing in for
    ethnicity), so dropping ``q`` does not make a model fair.

    Parameters
    ----------
    n : int, default 200
    noise : float, default 0.1
        Standard deviation of :math:`\varepsilon`.
    proxy_noise : float, default 0.5
    seed : int, default 0

    Returns
    -------
    X : ndarray of shape (n, 2)
        Columns ``x`` and the proxy of ``q``.
    y : ndarray of shape (n,)
    q : ndarray of shape (n, 1)
    """
    n = _check_count(n, "n")
    noise = _check_scale(noise, "noise")
    proxy_noise = _check_scale(proxy_noise, "proxy_noise")
    seed = _check_count(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, n)
    q = rng.normal(size=n)
    proxy = q + proxy_noise * rng.normal(size=n)
    y = np.sin(x) + 3.0 * q + noise * rng.normal(size=n)
    return np.column_stack([x, proxy]), y, q[:, None]


def _check_count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def _check_scale(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__}).")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} (a standard deviation) must be finite and >= 0; got {value}.")
    return float(value)


#: The package that holds the data files, and the SHA-256 of each file's uncompressed bytes
#: (equal to the digests of the files they were copied from; see ``fairkl_data/LICENSE.md``).
DATA_PACKAGE = "fairkl_data"
CRIME_FILE = "crime.csv.gz"
CRIME_SHA256 = "46fb352dbc64730825fa83ba7bebf2d2e86c571fff23099c22c61d1f8bf0942f"
ADULT_TRAIN_FILE = "adult.data.gz"
ADULT_TRAIN_SHA256 = "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"
ADULT_TEST_FILE = "adult.test.gz"
ADULT_TEST_SHA256 = "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05"


def _data_file(name: str):
    """The installed data file ``name`` (an importlib Traversable), or None if it is missing."""
    from importlib import resources

    try:
        path = resources.files(DATA_PACKAGE) / name
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def _read_verified(name: str, sha256: str) -> bytes:
    """The uncompressed bytes of data file ``name``, refused unless their SHA-256 is ``sha256``."""
    path = _data_file(name)
    if path is None:
        raise FileNotFoundError(
            f"The data file {DATA_PACKAGE}/{name} is not installed. It ships inside the fairkl "
            "wheel: reinstall fairkl from a clone of its repository with `python -m pip install .` "
            "(or from a wheel built by `python -m build`); a bare copy of the fairkl/ folder lacks it."
        )
    try:
        raw = gzip.decompress(path.read_bytes())
    except (EOFError, OSError, zlib.error) as err:  # truncated, garbled, not gzip, trailing garbage
        raise ValueError(
            f"{DATA_PACKAGE}/{name} ({path}) cannot be decompressed ({type(err).__name__}: {err}): "
            "the file is corrupted or was replaced; reinstall fairkl (python -m pip install "
            "--force-reinstall fairkl, or from its wheel)."
        ) from err
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise ValueError(
            f"{DATA_PACKAGE}/{name} has SHA-256 {digest} (uncompressed), expected {sha256}: "
            "the file is corrupted or was replaced; reinstall fairkl."
        )
    return raw


def load_communities_crime():
    """UCI Communities and Crime: violent crime rate of 1,993 US communities.

    The table (1990 US census, 1995 FBI crime statistics; features normalised
    to [0, 1] by its authors, rows with missing values removed; UCI, CC BY 4.0)
    ships with fairkl; its SHA-256 is checked before it is parsed.

    Returns
    -------
    X : ndarray of shape (1993, 146)
        Every numeric column except the target, the sensitive attribute and
        the cross-validation ``fold`` column.
    y : ndarray of shape (1993,)
        ``ViolentCrimesPerPop``.
    q : ndarray of shape (1993, 1)
        ``racepctblack``, the share of Black residents (the sensitive attribute).
    feature_names : list of str

    Raises
    ------
    FileNotFoundError
        If the data file is not installed; the message says how to install it.
    ValueError
        If the file does not have the expected checksum.
    """
    lines = _read_verified(CRIME_FILE, CRIME_SHA256).decode("utf-8").splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    skip = {"communityname", "fold", "ViolentCrimesPerPop", "racepctblack"}
    names = [h for h in header if h not in skip]
    col = {h: i for i, h in enumerate(header)}
    X = np.array([[float(r[col[h]]) for h in names] for r in rows])
    y = np.array([float(r[col["ViolentCrimesPerPop"]]) for r in rows])
    q = np.array([[float(r[col["racepctblack"]])] for r in rows])
    return X, y, q, names


#: Columns of the raw Adult files, in order (``adult.names``); the last is the label.
ADULT_COLUMNS = (
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
    "income",
)  # fmt: skip
ADULT_CONTINUOUS = (
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
)
ADULT_SENSITIVE = ("race", "sex")


class AdultData(NamedTuple):
    """UCI Adult, encoded, on its official train/test split (see :func:`load_adult`)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    sex_train: np.ndarray
    sex_test: np.ndarray
    race_train: np.ndarray
    race_test: np.ndarray
    feature_names: list


def _adult_rows(raw: bytes) -> np.ndarray:
    """The records of a raw Adult file as a (n, 15) array of str (comment and blank lines dropped)."""
    lines = raw.decode("ascii").splitlines()
    rows = [line.split(", ") for line in lines if line and not line.startswith("|")]
    return np.array(rows, dtype=str)


def _adult_encode(train: np.ndarray, test: np.ndarray, columns: list[str]):
    """One-hot categoricals (categories of the training file) and z-scored continuous columns."""
    blocks_train, blocks_test, names = [], [], []
    for name in columns:
        j = ADULT_COLUMNS.index(name)
        if name in ADULT_CONTINUOUS:
            a, b = train[:, j].astype(float), test[:, j].astype(float)
            mean, std = a.mean(), a.std()  # training statistics only
            blocks_train.append(((a - mean) / std)[:, None])
            blocks_test.append(((b - mean) / std)[:, None])
            names.append(name)
        else:
            categories = sorted(set(train[:, j]) - {"?"})  # "?" (missing) -> no bit set, as in a9a
            blocks_train.append((train[:, j, None] == np.array(categories)).astype(float))
            blocks_test.append((test[:, j, None] == np.array(categories)).astype(float))
            names += [f"{name}={c}" for c in categories]
    return np.hstack(blocks_train), np.hstack(blocks_test), names


def load_adult(*, drop_sensitive: bool = False) -> AdultData:
    r"""UCI Adult (Census Income): does a person earn more than $50K a year?

    The raw UCI files (1994 US census; 48,842 people, 14 attributes) on their
    official split: 32,561 training and 16,281 test rows, every row kept (the
    same rows as LIBSVM's ``a9a``/``a9a.t``). The SHA-256 of both files is
    checked before they are parsed.

    Encoding, in the spirit of ``a9a`` (which one-hot encodes everything and
    bins the continuous attributes into a few quantiles): each categorical
    attribute becomes one 0/1 column per category seen in the training file
    (a missing value ``?`` sets none of them, as in ``a9a``); each of the six
    continuous attributes (age, fnlwgt, education-num, capital-gain,
    capital-loss, hours-per-week) is standardised,
    :math:`(x - \bar x_{\text{train}}) / s_{\text{train}}`, with the training
    file's mean and standard deviation (not binned).

    Parameters
    ----------
    drop_sensitive : bool, default False
        Leave the ``race=...`` and ``sex=...`` columns out of ``X`` ("fairness
        through unawareness"). By default they are features, as in ``a9a``.

    Returns
    -------
    AdultData
        A named tuple: ``X_train`` (32561, d) and ``X_test`` (16281, d) with
        d = 105 (or 98 without the sensitive columns); ``y_train``, ``y_test``
        in {-1, +1}, +1 for income > 50K; ``sex_train``, ``sex_test`` as
        floats, 1 = female, 0 = male; ``race_train``, ``race_test`` as str
        (``"White"``, ``"Black"``, ``"Asian-Pac-Islander"``,
        ``"Amer-Indian-Eskimo"``, ``"Other"``); ``feature_names`` (d names,
        ``"age"`` or ``"workclass=Private"`` style).

    Raises
    ------
    TypeError
        If ``drop_sensitive`` is not a bool.
    FileNotFoundError, ValueError
        If a data file is missing or does not have its checksum.
    """
    if not isinstance(drop_sensitive, (bool, np.bool_)):
        raise TypeError(f"drop_sensitive must be True or False, got {drop_sensitive!r}.")
    train = _adult_rows(_read_verified(ADULT_TRAIN_FILE, ADULT_TRAIN_SHA256))
    test = _adult_rows(_read_verified(ADULT_TEST_FILE, ADULT_TEST_SHA256))
    columns = [c for c in ADULT_COLUMNS[:-1] if not (drop_sensitive and c in ADULT_SENSITIVE)]
    X_train, X_test, names = _adult_encode(train, test, columns)
    # The test file's labels end with a full stop (">50K.").
    y_train, y_test = (
        np.where(np.char.rstrip(a[:, -1], ".") == ">50K", 1.0, -1.0) for a in (train, test)
    )
    sex, race = ADULT_COLUMNS.index("sex"), ADULT_COLUMNS.index("race")
    return AdultData(
        X_train, y_train, X_test, y_test,
        (train[:, sex] == "Female").astype(float), (test[:, sex] == "Female").astype(float),
        train[:, race], test[:, race], names,
    )  # fmt: skip
