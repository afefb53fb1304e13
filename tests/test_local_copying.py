"""local_data_copying_test (Bhattacharjee et al., 2023) where the truth is known."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.datasets import make_blobs

from skmem.baselines import data_copying_test, local_data_copying_test

CENTERS = np.array([[0, 0], [6, 0], [0, 6], [6, 6], [3, 12]])


def _blobs(n, seed):
    return make_blobs(n, centers=CENTERS, cluster_std=1.0, random_state=seed)


def _one_cluster_copier(X_train, labels, m, spread, seed):
    """Copies the training records of cluster 0 (noise 1e-3) and draws the
    other clusters ``spread`` times too wide: copying in one region,
    underfitting in the others."""
    rng = np.random.RandomState(seed)
    cluster = rng.randint(len(CENTERS), size=m)
    out = CENTERS[cluster] + spread * rng.normal(size=(m, 2))
    copy = cluster == 0
    rows = rng.choice(np.flatnonzero(labels == 0), copy.sum())
    out[copy] = X_train[rows] + 1e-3 * rng.normal(size=(copy.sum(), 2))
    return out


def test_a_one_cluster_copier_is_caught_where_meehans_statistic_is_near_zero():
    X_train, labels = _blobs(1000, 0)
    X_test, _ = _blobs(1000, 1)
    generated = _one_cluster_copier(X_train, labels, 4000, spread=1.4, seed=2)
    c_t = data_copying_test(X_train, generated, X_test, random_state=0).statistic
    assert abs(c_t) < 1  # C_T does not see it (below -3 would mean copying)
    local = local_data_copying_test(X_train, generated, random_state=0)
    assert local.copying_rate > 0.1
    # The copied records are those of cluster 0.
    assert local.copied[labels == 0].mean() > 0.8
    assert local.copied[labels != 0].mean() < 0.1
    # The samples found in copied regions are copies (within 0.01 of a record).
    found = generated[local.copied_samples]
    assert np.median(cdist(found, X_train).min(1)) < 0.01
    # An honest generator: a rate near 0.
    rng = np.random.RandomState(3)
    fresh = CENTERS[rng.randint(5, size=4000)] + rng.normal(size=(4000, 2))
    assert local_data_copying_test(X_train, fresh, random_state=0).copying_rate < 0.01


def _brute_force_radii(X, T, lambda_, gamma, k):
    n, d = X.shape
    r_k = np.sort(cdist(X, X), axis=1)[:, k]  # column 0 is the record itself
    r_gamma = r_k * min(1.0, gamma * n / k) ** (1 / d)
    radii = np.zeros(n)
    for i in range(n):
        near = np.sort(cdist(X[i : i + 1], T)[0])
        near = near[near <= r_gamma[i]]
        for j in range(len(near), 0, -1):
            if lambda_ * (k / n) * (near[j - 1] / r_k[i]) ** d <= j / len(T):
                radii[i] = near[j - 1]
                break
    return radii


def test_radii_and_rate_against_brute_force():
    rng = np.random.RandomState(4)
    X = rng.normal(size=(120, 3))
    generated = np.vstack(
        [X[:30] + 1e-2 * rng.normal(size=(30, 3)), rng.normal(size=(170, 3))]
    )
    result = local_data_copying_test(
        X, generated, lambda_=5, gamma=0.05, n_neighbors=12, random_state=0
    )
    order = np.random.RandomState(0).permutation(200)
    T, U = order[:100], order[100:]
    radii = _brute_force_radii(X, generated[T], 5, 0.05, 12)
    np.testing.assert_allclose(result.radii, radii, rtol=1e-10)
    inside = cdist(X, generated[U]) <= radii[:, None]
    inside[radii == 0] = False
    np.testing.assert_array_equal(result.n_copies, inside.sum(1))
    assert result.copying_rate == pytest.approx(inside.any(0).mean())
    np.testing.assert_array_equal(
        np.sort(result.copied_samples), np.sort(U[inside.any(0)])
    )
    # The records' order does not matter.
    perm = rng.permutation(120)
    again = local_data_copying_test(
        X[perm], generated, lambda_=5, gamma=0.05, n_neighbors=12, random_state=0
    )
    np.testing.assert_allclose(again.radii, result.radii[perm])
    assert again.copying_rate == result.copying_rate


def test_mixed_tables_and_bad_input():
    rng = np.random.RandomState(5)
    table = pd.DataFrame(
        {"x": rng.normal(size=300), "c": rng.choice(["a", "b", "c"], 300)}
    )
    copies = table.iloc[rng.randint(300, size=3000)].reset_index(drop=True)
    copies["x"] += 1e-4 * rng.normal(size=3000)
    fresh = pd.DataFrame(
        {"x": rng.normal(size=3000), "c": rng.choice(["a", "b", "c"], 3000)}
    )
    assert local_data_copying_test(table, copies, random_state=0).copying_rate > 0.8
    assert local_data_copying_test(table, fresh, random_state=0).copying_rate < 0.02
    with pytest.raises(ValueError, match="4 samples or more"):
        local_data_copying_test(table, fresh.iloc[:3])
    with pytest.raises(ValueError, match="lambda_"):
        local_data_copying_test(table, fresh, lambda_=0.5)
