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
