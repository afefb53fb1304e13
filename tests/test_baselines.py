"""The nearest-neighbour test and score comparison against brute force."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from skmem.baselines import (
    closest_record_distances,
    compare_scores,
    data_copying_test,
    nearest_neighbor_distance_ratio,
)


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


# -- the data-copying test (Meehan et al. 2020) ---------------------------------


def _brute_force_c_t(X_train, X_generated, X_test, labels, tau):
    """C_T from its definition: pair counts for U, brute-force distances."""
    n_cells = labels["train"].max() + 1
    z, weights, kept = np.zeros(n_cells), np.zeros(n_cells), np.zeros(n_cells, bool)
    for cell in range(n_cells):
        train = X_train[labels["train"] == cell]
        gen = X_generated[labels["generated"] == cell]
        test = X_test[labels["test"] == cell]

        def nearest(a, train=train):
            return np.sqrt(((a[:, None] - train[None]) ** 2).sum(-1)).min(1)

        weights[cell] = len(test) / len(X_test)
        kept[cell] = len(gen) / len(X_generated) > tau
        if len(gen):
            lq, lp = nearest(gen), nearest(test)
            u = (lq[:, None] > lp[None]).sum() + 0.5 * (lq[:, None] == lp[None]).sum()
            m, n = len(lq), len(lp)
            z[cell] = (u - (n * m / 2 - 0.5)) / np.sqrt(n * m * (n + m + 1) / 12)
    return (weights[kept] @ z[kept]) / weights[kept].sum(), z, weights, kept


def test_data_copying_test_against_its_definition():
    rng = np.random.RandomState(3)
    X_train, X_test = rng.normal(size=(300, 2)), rng.normal(size=(200, 2))
    # Half copies with a little noise, half fresh samples, a sparse corner.
    X_generated = np.vstack(
        [
            X_train[:100] + 0.01 * rng.normal(size=(100, 2)),
            rng.normal(size=(100, 2)),
        ]
    )
    result = data_copying_test(X_train, X_generated, X_test, n_cells=4, tau=0.05)
    expected, z, weights, kept = _brute_force_c_t(
        X_train, X_generated, X_test, result.cell_labels, 0.05
    )
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(result.cell_statistics, z, rtol=1e-12)
    np.testing.assert_allclose(result.cell_weights, weights)
    np.testing.assert_array_equal(result.kept_cells, kept)
    assert result.statistic < -3  # copies sit closer than fresh data
    counts = result.cell_counts
    assert counts["train"].sum() == 300 and counts["test"].sum() == 200


def test_data_copying_test_drops_thin_cells():
    rng = np.random.RandomState(4)
    # Two far clusters; the generator only covers the first one, plus 3
    # stray samples in the second: with tau = 10 / 100 that cell is dropped.
    X_train = np.vstack([rng.normal(size=(100, 2)), 20 + rng.normal(size=(100, 2))])
    X_test = np.vstack([rng.normal(size=(50, 2)), 20 + rng.normal(size=(50, 2))])
    X_generated = np.vstack([X_train[:97] + 1e-3, 20 + rng.normal(size=(3, 2))])
    result = data_copying_test(
        X_train, X_generated, X_test, n_cells=2, tau=0.1, random_state=0
    )
    copied = result.cell_labels["train"][0]
    assert result.kept_cells.tolist() == [c == copied for c in range(2)]
    assert result.statistic == pytest.approx(result.cell_statistics[copied])
    with pytest.raises(ValueError, match="No cell holds more than tau"):
        data_copying_test(X_train, X_generated, X_test, n_cells=2, tau=0.99)
    with pytest.raises(ValueError, match="has no test samples"):
        data_copying_test(X_train, X_generated, X_test[:50], n_cells=2, random_state=0)
    with pytest.raises(ValueError, match="X_test has 3 features"):
        data_copying_test(X_train, X_generated, np.zeros((5, 3)))


@pytest.mark.parametrize(
    "sigma, theirs", [(0.001, -17.3), (0.03, -3.6), (0.2, 1.6), (1.0, 9.9)]
)
def test_data_copying_test_reproduces_meehan_moons(sigma, theirs):
    # Their moons_experiments.py: 2,000 training, 1,000 test and 1,000
    # generated points, noise 0.2, no scaling, 5 k-means cells, tau = 20 / m,
    # a KDE generator of bandwidth sigma; their C_T averaged over 3 seeds.
    from sklearn.datasets import make_moons
    from sklearn.neighbors import KernelDensity

    stats = []
    for seed in range(3):
        T, _ = make_moons(2000, noise=0.2, random_state=seed)
        Pn, _ = make_moons(1000, noise=0.2, random_state=100 + seed)
        Qm = KernelDensity(bandwidth=sigma).fit(T).sample(1000, random_state=200 + seed)
        stats.append(data_copying_test(T, Qm, Pn, random_state=seed).statistic)
    assert abs(np.mean(stats) - theirs) <= 1.5


# -- per-record closest records ----------------------------------------------


def test_closest_record_distances_against_brute_force():
    rng = np.random.RandomState(5)
    X_train = rng.normal(size=(150, 3))
    X_generated = np.vstack([rng.normal(size=(200, 3)), X_train[:4]])  # 4 copies
    X_holdout = rng.normal(size=(90, 3))
    d_gen = np.sqrt(((X_train[:, None] - X_generated[None]) ** 2).sum(-1))
    d_hold = np.sqrt(((X_train[:, None] - X_holdout[None]) ** 2).sum(-1)).min(1)
    expected_count = (d_gen < d_hold[:, None]).sum(1)
    for options in ({}, {"working_memory": 0.001, "n_jobs": 2}):
        result = closest_record_distances(X_train, X_generated, X_holdout, **options)
        np.testing.assert_allclose(result.distance_to_generated, d_gen.min(1))
        np.testing.assert_array_equal(result.nearest_generated, d_gen.argmin(1))
        np.testing.assert_allclose(result.distance_to_holdout, d_hold, rtol=1e-12)
        np.testing.assert_array_equal(result.n_closer, expected_count)
    assert np.isinf(result.ratio[:4]).all() and (result.n_closer[:4] >= 1).all()
    np.testing.assert_allclose(
        result.ratio[4:],
        nearest_neighbor_distance_ratio(X_train, X_generated, X_holdout)[4:],
    )
    with pytest.raises(ValueError, match="X_holdout has 2 features"):
        closest_record_distances(X_train, X_generated, np.zeros((3, 2)))


def test_a_cell_holding_exactly_tau_of_the_samples_is_left_out():
    # Two far clusters; 10 of the 100 generated samples fall in the second.
    # C_T keeps a cell holding *more* than tau: at tau = 10 / 100 (a share the
    # division gives exactly) it is left out, one more sample keeps it.
    rng = np.random.RandomState(6)
    X_train = np.vstack([rng.normal(size=(60, 2)), 50 + rng.normal(size=(60, 2))])
    X_test = np.vstack([rng.normal(size=(40, 2)), 50 + rng.normal(size=(40, 2))])
    assert 10 / 100 == 0.1  # the share is exactly tau
    for n_far in (10, 11):
        X_generated = np.vstack(
            [rng.normal(size=(100 - n_far, 2)), 50 + rng.normal(size=(n_far, 2))]
        )
        result = data_copying_test(
            X_train, X_generated, X_test, n_cells=2, tau=0.1, random_state=0
        )
        far = result.cell_labels["train"][-1]
        assert result.cell_counts["generated"][far] == n_far
        assert result.kept_cells[far] == (n_far == 11)
        assert result.kept_cells[1 - far]
        if n_far == 10:
            assert result.statistic == result.cell_statistics[1 - far]


def test_a_sample_exactly_as_far_as_the_nearest_holdout_is_not_closer():
    # Small integers, and samples whose mean (the centre of the screening) is
    # (2, 0.5): every squared distance is exact in float32, so ties are ties.
    # The record at the origin has its nearest held-out row at distance 5:
    # one sample lies at 1, three at exactly 5, the others farther. The
    # record at (8, 0) has two samples and its held-out row at exactly 3.
    X_train = np.array([[0.0, 0.0], [8.0, 0.0]])
    X_holdout = np.array([[5.0, 0.0], [0.0, -7.0], [8.0, 3.0]])
    X_generated = np.array(
        [[1, 0], [0, 5], [3, 4], [-4, -3], [0, 6], [8, 3], [8, -3], [0, -8]],
        dtype=float,
    )
    assert X_generated.mean(axis=0).tolist() == [2.0, 0.5]
    for options in ({}, {"working_memory": 1e-4, "n_jobs": 2}):
        result = closest_record_distances(X_train, X_generated, X_holdout, **options)
        assert result.n_closer.tolist() == [1, 0]
        assert result.distance_to_generated.tolist() == [1.0, 3.0]
        assert result.distance_to_holdout.tolist() == [5.0, 3.0]


def test_the_nearest_of_copies_a_hair_apart_is_exact():
    # Records far from the origin, each with two samples 1e-4 and 2e-4 away
    # (shuffled): squared distances of 1e-8 against |x|^2 of 1e4, far below
    # float32's resolution, so float32 alone cannot tell them apart. The
    # nearest must be the 1e-4 copy, at exactly its float64 distance, in
    # every tiling.
    rng = np.random.RandomState(11)
    X_train = 100 + rng.normal(size=(70, 3))
    direction = rng.normal(size=(70, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    near, far = X_train + 1e-4 * direction, X_train + 2e-4 * direction
    X_generated = np.vstack([far, near, 100 + rng.normal(size=(30, 3))])
    order = rng.permutation(len(X_generated))
    X_generated = X_generated[order]
    position = np.argsort(order)
    X_holdout = 100 + rng.normal(size=(40, 3))
    d_gen = np.sqrt(((X_train[:, None] - X_generated[None]) ** 2).sum(-1))
    for options in ({}, {"working_memory": 1e-4, "n_jobs": 2}):
        result = closest_record_distances(X_train, X_generated, X_holdout, **options)
        np.testing.assert_array_equal(result.nearest_generated, position[70:140])
        np.testing.assert_allclose(
            result.distance_to_generated, d_gen.min(1), rtol=1e-9
        )
        assert (result.n_closer >= 2).all()
