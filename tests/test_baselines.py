"""The nearest-neighbour test and score comparison against brute force."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from skmem.baselines import compare_scores, nearest_neighbor_distance_ratio


def test_distance_ratio_against_brute_force():
    rng = np.random.RandomState(0)
    train, gen, val = (
        rng.normal(size=(40, 3)),
        rng.normal(size=(30, 3)),
        rng.normal(size=(25, 3)),
    )

    def nearest(a, b):
        return np.array([min(np.linalg.norm(x - y) for y in b) for x in a])

    expected = nearest(train, val) / nearest(train, gen)
    np.testing.assert_allclose(
        nearest_neighbor_distance_ratio(train, gen, val), expected, rtol=1e-12
    )


def test_copied_samples_have_infinite_ratio():
    rng = np.random.RandomState(1)
    train = rng.normal(size=(20, 2))
    ratio = nearest_neighbor_distance_ratio(train, train[:5], rng.normal(size=(10, 2)))
    assert np.isinf(ratio[:5]).all() and np.isfinite(ratio[5:]).all()


def test_distance_ratio_checks_features():
    with pytest.raises(ValueError, match="X_generated has 3 features"):
        nearest_neighbor_distance_ratio(
            np.zeros((3, 2)), np.zeros((3, 3)), np.zeros((3, 2))
        )


def test_compare_scores():
    rng = np.random.RandomState(2)
    a = rng.normal(size=50)
    b = a + 0.5 * rng.normal(size=50)
    b[3] = np.nan
    result = compare_scores(a, b, top_k=5)
    keep = ~np.isnan(b)
    assert result.spearman == pytest.approx(spearmanr(a[keep], b[keep])[0])
    top_a = set(np.argsort(-a[keep])[:5])
    top_b = set(np.argsort(-b[keep])[:5])
    assert result.top_k_overlap == len(top_a & top_b) / 5
    assert result.n_samples == 49
    assert compare_scores(a, a, top_k=7).top_k_overlap == 1.0
    with pytest.raises(ValueError, match="same samples"):
        compare_scores(a, a[:10])
