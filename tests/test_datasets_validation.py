"""The data helpers name the argument or the file when something is wrong."""

import gzip

import numpy as np
import pytest

from fairkl import datasets
from fairkl.datasets import make_seed_data


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"n": 0}, ValueError, "n must be >= 1"),
        ({"n": -5}, ValueError, "n must be >= 1"),
        ({"n": 2.5}, TypeError, "n must be an integer"),
        ({"n": "10"}, TypeError, "n must be an integer"),
        ({"n": True}, TypeError, "n must be an integer"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"noise": float("nan")}, ValueError, "noise"),
        ({"noise": -1.0}, ValueError, "noise"),
        ({"proxy_noise": -1}, ValueError, "proxy_noise"),
        ({"proxy_noise": float("inf")}, ValueError, "proxy_noise"),
        ({"noise": "0.1"}, TypeError, "noise"),
    ],
)
def test_make_seed_data_names_the_bad_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_seed_data(**kwargs)


def test_make_seed_data_accepts_numpy_integers_and_zero_noise():
    X, y, q = make_seed_data(n=np.int64(5), noise=0, proxy_noise=0.0, seed=np.int32(1))
    assert X.shape == (5, 2) and np.all(np.isfinite(y))
    np.testing.assert_array_equal(X[:, 1], q[:, 0])  # no proxy noise: the proxy is q


def _corruptions(good: bytes):
    return {
        "truncated": good[: len(good) // 2],
        "garbled": good[:20] + bytes(b ^ 0x5A for b in good[20:200]) + good[200:],
        "not gzip": gzip.decompress(good),
        "trailing garbage": good + b"\x00garbage",
        "empty": b"",
    }


@pytest.mark.parametrize("kind", ["truncated", "garbled", "not gzip", "trailing garbage", "empty"])
def test_a_corrupted_data_file_is_named_with_the_remedy(tmp_path, monkeypatch, kind):
    good = datasets._data_file(datasets.CRIME_FILE).read_bytes()
    bad = tmp_path / datasets.CRIME_FILE
    bad.write_bytes(_corruptions(good)[kind])
    monkeypatch.setattr(datasets, "_data_file", lambda name: bad)
    with pytest.raises(ValueError, match=r"crime\.csv\.gz.*reinstall fairkl"):
        datasets.load_communities_crime()
