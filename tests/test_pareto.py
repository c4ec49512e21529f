"""Pareto fronts and hypervolume against brute-force definitions."""

import numpy as np
import pytest

from fairkl.pareto import hypervolume_2d, pareto_front


def brute_front(P):
    return sorted(
        i
        for i in range(len(P))
        if not any(np.all(P[j] <= P[i]) and np.any(P[j] < P[i]) for j in range(len(P)))
    )


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_front_equals_brute_force(k, seed):
    rng = np.random.default_rng(seed)
    P = rng.integers(0, 6, size=(40, k)).astype(float)  # many ties
    assert sorted(pareto_front(P).tolist()) == brute_front(P)


def brute_hypervolume(P, ref, grid=400):
    """Monte-Carlo-free brute force: count dominated cells of a fine grid."""
    xs = np.linspace(0, ref[0], grid, endpoint=False) + ref[0] / grid / 2
    ys = np.linspace(0, ref[1], grid, endpoint=False) + ref[1] / grid / 2
    X, Y = np.meshgrid(xs, ys)
    dominated = np.zeros_like(X, dtype=bool)
    for p in P:
        dominated |= (X >= p[0]) & (Y >= p[1])
    return dominated.mean() * ref[0] * ref[1]


def test_hypervolume_matches_grid_count_and_known_value():
    P = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [2.5, 2.5]])
    assert hypervolume_2d(P, [4.0, 4.0]) == pytest.approx(3 + 2 + 1)
    rng = np.random.default_rng(0)
    Q = rng.uniform(0, 1, size=(30, 2))
    assert hypervolume_2d(Q, [1.0, 1.0]) == pytest.approx(
        brute_hypervolume(Q, [1.0, 1.0]), abs=5e-3
    )


def test_points_outside_reference_contribute_nothing():
    assert hypervolume_2d([[5.0, 0.0]], [4.0, 4.0]) == 0.0
