"""Error bars from repeats: standard errors and split-half reliability."""

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.model_selection import KFold, LeaveOneOut, RepeatedKFold, ShuffleSplit
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer, memorization_scores
from skmem._reliability import repeat_groups


def _masks(splitter, n):
    tests = [np.isin(np.arange(n), te) for _, te in splitter.split(np.zeros((n, 1)))]
    return np.array(tests)


@pytest.mark.parametrize(
    "splitter, expected",
    [
        (KFold(4), [4]),
        (RepeatedKFold(n_splits=3, n_repeats=4, random_state=0), [3, 3, 3, 3]),
        (LeaveOneOut(), [12]),
        (ShuffleSplit(5, test_size=0.3, random_state=0), None),
    ],
)
def test_repeat_groups(splitter, expected):
    groups = repeat_groups(_masks(splitter, 12))
    assert (None if groups is None else [len(g) for g in groups]) == expected


@pytest.fixture(scope="module")
def repeated():
    X = np.random.RandomState(0).normal(size=(120, 2))
    scorer = MemorizationScorer(
        KernelDensity(bandwidth=0.3), cv=5, n_repeats=4, random_state=0
    )
    return X, scorer.fit(X)


def _per_repeat(scorer, aggregate, repeats):
    return np.array(
        [
            memorization_scores(
                scorer.log_likelihoods_[models],
                scorer.train_masks_[models],
                aggregate=aggregate,
            )
            for models in repeats
        ]
    )


def test_standard_error_is_the_jackknife_over_repeats(repeated):
    _, scorer = repeated
    # Delete one repeat at a time, recompute M from the other three.
    keep = [np.r_[0:20][np.r_[0:20] // 5 != r] for r in range(4)]
    replicates = _per_repeat(scorer, "matched", keep)
    expected = np.sqrt(3 / 4 * ((replicates - replicates.mean(0)) ** 2).sum(0))
    np.testing.assert_allclose(scorer.memorization_std_, expected, rtol=1e-10)


def test_standard_error_of_the_mean_aggregate_is_per_repeat_spread(repeated):
    X, scorer = repeated
    scorer = clone(scorer).set_params(aggregate="mean").fit(X)
    per_repeat = _per_repeat(
        scorer, "mean", [slice(5 * r, 5 * r + 5) for r in range(4)]
    )
    expected = per_repeat.std(axis=0, ddof=1) / 2.0
    np.testing.assert_allclose(scorer.memorization_std_, expected, rtol=1e-10)


def test_reliability_is_spearman_brown_of_half_correlation(repeated):
    _, scorer = repeated
    halves = []
    for models in (slice(0, 10), slice(10, 20)):
        halves.append(
            memorization_scores(
                scorer.log_likelihoods_[models], scorer.train_masks_[models]
            )
        )
    r = spearmanr(*halves)[0]
    assert scorer.reliability_ == pytest.approx(2 * r / (1 + r), rel=1e-12)
    # A narrow KDE's scores are a deterministic function of the data: the
    # ranking is signal, and reliable.
    assert scorer.reliability_ > 0.8


def test_reliability_is_low_for_noise():
    # Scores that are pure noise: a "density" that ignores the data. A plain
    # class, not a scikit-learn estimator: fit and score_samples are enough.
    class Noise:
        random_state = None

        def fit(self, X, y=None):
            return self

        def score_samples(self, X):
            return np.random.RandomState(self.random_state).normal(size=len(X))

    X = np.zeros((200, 1)) + np.arange(200)[:, None]
    scorer = MemorizationScorer(Noise(), cv=5, n_repeats=6, random_state=0).fit(X)
    assert abs(scorer.reliability_) < 0.3
    assert np.all(scorer.memorization_std_ > 0)


def test_one_repeat_gives_nan_and_verbose_says_why(capsys):
    X = np.random.RandomState(1).normal(size=(30, 2))
    scorer = MemorizationScorer(KernelDensity(), cv=3, verbose=1).fit(X)
    assert np.isnan(scorer.reliability_)
    assert np.isnan(scorer.memorization_std_).all()
    out = capsys.readouterr().out
    assert "memorization_std_, reliability_, memorization_ci_" in out
    assert "one repeat ran; use n_repeats >= 3" in out
    assert np.isnan(scorer.memorization_ci_).all()
    assert np.isnan(scorer.memorization_pvalues_).all()
    assert scorer.n_repeats_ == 1


@pytest.mark.parametrize("a, b", [(1, 2), (2, 3), (2, 2), (4, 5)])
def test_spearman_brown_for_unequal_halves_recovers_the_reliability(a, b):
    from skmem._reliability import spearman_brown

    # With single-repeat reliability rho, means of n repeats have reliability
    # n rho / (1 + (n - 1) rho), and two disjoint means correlate as the
    # geometric mean of their reliabilities.
    def rel(n, rho):
        return n * rho / (1 + (n - 1) * rho)

    for rho in (0.05, 0.3, 0.7):
        r = np.sqrt(rel(a, rho) * rel(b, rho))
        assert spearman_brown(r, a, b) == pytest.approx(rel(a + b, rho), rel=1e-9)
    assert spearman_brown(-0.2, a, b) == -0.2
