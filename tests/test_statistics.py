"""The statistics checked where the truth is known, each test aimed at a wrong
version that the easy cases let through: a bulk without spread, two-sided
p-values, Benjamini-Hochberg at the wrong level, a variance of zero dropped,
heavy-tailed contrasts."""

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator
from sklearn.datasets import load_breast_cancer
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from skmem import MemorizationScorer
from skmem._inference import moderate_variances


class PlantedDensity(BaseEstimator):
    """Log-likelihoods ``s_i * noise + M_i * [i in the training set]``: the
    sample's noise scale ``s_i`` is column 0, its true memorization ``M_i``
    (nats) column 2; the noise comes from the model's seed. Nothing else
    depends on the training set, so M_i is the truth."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y=None):
        self.seen_ = set(X[:, 1].tolist())
        return self

    def score_samples(self, X):
        noise = np.random.RandomState(self.random_state).normal(size=len(X))
        return noise * X[:, 0] + np.isin(X[:, 1], list(self.seen_)) * X[:, 2]


def _planted(true_m, seed, n_repeats=5):
    rng = np.random.default_rng(seed)
    n = len(true_m)
    X = np.column_stack([rng.uniform(0.2, 1.5, n), np.arange(n), true_m])
    scorer = MemorizationScorer(
        PlantedDensity(), cv=10, n_repeats=n_repeats, random_state=seed
    )
    return scorer.fit(X)


def test_real_spread_between_samples_is_the_bulk_not_memorization():
    # True M_i ~ N(1, 1): every sample is memorized a little, none beyond the
    # bulk. A bulk without spread (tau = 0) flags 50-70 of 300 here.
    flagged, below, spreads = [], [], []
    for seed in range(3):
        true_m = np.random.default_rng(100 + seed).normal(1.0, 1.0, 300)
        scorer = _planted(true_m, seed)
        flagged.append(scorer.memorized().sum())
        below.append((scorer.memorization_pvalues_ < 0.05).mean())
        spreads.append(scorer._inference.bulk_spread)
    assert sum(flagged) <= 2
    assert 0.7 < np.mean(spreads) < 1.3  # the true spread is 1 nat
    assert abs(np.mean(below) - 0.05) < 0.03


def test_pvalues_are_one_sided():
    # The same null, with 10 samples that the model fits 4 nats *worse* when
    # trained on them: far from the bulk, but not memorized. A two-sided test
    # flags them.
    true_m = np.random.default_rng(7).normal(1.0, 1.0, 300)
    true_m[:10] = -4.0
    scorer = _planted(true_m, 7)
    p = scorer.memorization_pvalues_
    assert not scorer.memorized()[:10].any()
    assert (p[:10] > 0.9).all()
    # One-sided: the p-value falls as the sample's contrast rises, over all.
    assert spearmanr(p, scorer._inference.contrast)[0] < -0.9


def _benjamini_hochberg(p, alpha):
    """The step-up rule written out: the largest k with p_(k) <= k alpha / m."""
    order = np.argsort(p)
    m = len(p)
    passed = np.flatnonzero(p[order] <= alpha * np.arange(1, m + 1) / m)
    mask = np.zeros(m, dtype=bool)
    if len(passed):
        mask[order[: passed[-1] + 1]] = True
    return mask


@pytest.mark.parametrize("effect, min_power", [(2.0, 0.6), (3.0, 0.9)])
def test_moderate_planted_effects_power_and_false_discoveries(effect, min_power):
    # 30 of 300 samples memorized by a moderate 2 or 3 nats, over a bulk with
    # no spread; measured power 0.85 and 0.99 (5 repeats, 4 runs).
    power, false_share = [], []
    for seed in range(4):
        true_m = np.where(np.arange(300) < 30, effect, 0.0)
        scorer = _planted(true_m, seed)
        flags = scorer.memorized(alpha=0.1)
        np.testing.assert_array_equal(
            flags, _benjamini_hochberg(scorer.memorization_pvalues_, 0.1)
        )
        flags = scorer.memorized(alpha=0.05)
        np.testing.assert_array_equal(
            flags, _benjamini_hochberg(scorer.memorization_pvalues_, 0.05)
        )
        power.append(flags[:30].mean())
        false_share.append(flags[30:].sum() / max(flags.sum(), 1))
    assert np.mean(power) > min_power
    # The false-discovery rate is controlled at 0.05 * 270 / 300.
    assert np.mean(false_share) < 0.1


def test_zero_variance_gets_the_prior_and_does_not_move_it():
    rng = np.random.default_rng(0)
    variances = rng.chisquare(3, 500) / 3 * np.exp(rng.normal(0, 1, 500))
    posterior, df = moderate_variances(variances, 3)
    with_zeros = np.concatenate([variances, [0.0, 0.0, np.nan]])
    notes = []
    got, got_df = moderate_variances(with_zeros, 3, notes=notes)
    # The prior is fitted to the positive variances only: nothing else moves.
    np.testing.assert_allclose(got[:500], posterior, rtol=1e-12)
    assert got_df == df
    # limma's posterior at s = 0: d0 s0^2 / (d0 + d); a NaN gets s0^2.
    d0 = df - 3
    s0_squared = (posterior[0] * df - 3 * variances[0]) / d0
    np.testing.assert_allclose(got[500:502], d0 * s0_squared / df, rtol=1e-10)
    np.testing.assert_allclose(got[502], s0_squared, rtol=1e-10)
    assert any("2 samples have a variance of exactly 0" in n for n in notes)
    assert any("1 samples have no finite variance" in n for n in notes)


def test_exact_and_generic_engines_flag_the_same_rows(capsys):
    # The exact KDE engine repeats some isolated rows' scores exactly (a
    # variance of 0); the generic engine's rounding does not. Their flags
    # must not depend on it.
    X = StandardScaler().fit_transform(load_breast_cancer().data)
    fitted = {
        engine: MemorizationScorer(
            KernelDensity(bandwidth=1.0),
            cv=10,
            n_repeats=3,
            engine=engine,
            random_state=0,
            verbose=engine == "auto",
        ).fit(X)
        for engine in ("auto", "generic")
    }
    assert "variance of exactly 0" in capsys.readouterr().out
    exact, generic = (fitted[e].memorized() for e in ("auto", "generic"))
    assert exact.sum() > 50
    assert (exact != generic).sum() <= 0.02 * (exact | generic).sum()
    for scorer in fitted.values():
        top = np.argsort(-scorer.memorization_scores_)[:5]
        assert np.isfinite(scorer.memorization_pvalues_[top]).all()
        assert scorer.memorized()[top].all()


def test_heavy_tailed_outliers_are_flagged():
    # Five outliers 30 units from three Gaussian clusters: their out-models
    # score them 20 to 1,500 nats below their in-models, in every repeat, so
    # the contrast's variance is huge; the within-repeat ranks are not.
    rng = np.random.RandomState(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 8.0]])
    X = np.vstack([c + rng.normal(size=(100, 2)) for c in centres])
    angles = np.linspace(0, 2 * np.pi, 6)[:5] + 0.3
    outliers = X.mean(axis=0) + 30 * np.column_stack([np.cos(angles), np.sin(angles)])
    X = np.vstack([X, outliers])
    scorer = MemorizationScorer(
        GaussianMixture(3, random_state=0), cv=10, n_repeats=4, random_state=0
    ).fit(X)
    flags = scorer.memorized()
    assert flags[300:].all()
    assert flags[:300].mean() <= 0.05
    # The t test of the contrast alone finds only some of them.
    inference = scorer._inference
    assert (inference.contrast_pvalues[300:] > 0.001).any()
    assert (inference.rank_pvalues[300:] < 0.001).all()


def test_threshold_test_is_calibrated_at_the_threshold():
    # Every sample memorized by exactly 2 nats: the test of "more than 2 nats"
    # is at its null (p-values near uniform), that of "more than 0" is not.
    scorer = _planted(np.full(300, 2.0), 11)
    p = scorer._inference.threshold_pvalues(2.0)
    assert abs((p < 0.05).mean() - 0.05) < 0.035
    assert abs((p < 0.5).mean() - 0.5) < 0.1
    assert scorer.memorized(threshold=2.0).sum() <= 1
    assert scorer.memorized(threshold=0.0).mean() > 0.9


def test_cauchy_combination_keeps_tiny_pvalues_and_their_order():
    from skmem._inference import cauchy_combination

    rng = np.random.RandomState(0)
    a, b = rng.uniform(size=500), rng.uniform(size=500)
    # The textbook form, where it is accurate.
    t = (np.tan((0.5 - a) * np.pi) + np.tan((0.5 - b) * np.pi)) / 2
    np.testing.assert_allclose(
        cauchy_combination(a, b), 0.5 - np.arctan(t) / np.pi, atol=1e-12
    )
    # Far below machine epsilon the textbook form rounds to 0; the combination
    # of two p-values p and q (both tiny) is about 2 / (1/p + 1/q).
    tiny = np.array([1e-17, 1e-30, 1e-100])
    combined = cauchy_combination(tiny, np.full(3, 0.5))
    np.testing.assert_allclose(combined, 2 * tiny, rtol=1e-6)
    assert (np.diff(combined) < 0).all()


@pytest.mark.filterwarnings("error")
def test_cauchy_combination_of_subnormal_pvalues_neither_overflows_nor_rounds():
    """At 50k rows some p-values are subnormal: 1 / tan(p pi) overflows there.
    The combination must warn of nothing, and keep about 2 / (1/p + 1/q)."""
    from skmem._inference import cauchy_combination

    tiny = np.array([1e-310, 1e-315, 5e-320])
    combined = cauchy_combination(tiny, np.full(3, 0.5))
    np.testing.assert_allclose(combined, 2 * tiny, rtol=1e-3)
    assert (np.diff(combined) < 0).all()
    # Exactly 0 combines to 0, NaN to NaN, and large p-values as before.
    out = cauchy_combination(np.array([0.0, np.nan, 1.0]), np.array([0.5, 0.5, 0.9]))
    assert out[0] == 0.0 and np.isnan(out[1]) and 0.99 < out[2] <= 1.0
