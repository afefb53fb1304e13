"""memorization_scores against a plain per-sample loop."""

import math
import warnings

import numpy as np
import pytest
from sklearn.model_selection import KFold, LeaveOneOut, RepeatedKFold, ShuffleSplit

from skmem import memorization_scores


def _masks(splitter, n_samples):
    train, test = [], []
    for tr, te in splitter.split(np.zeros((n_samples, 1))):
        train.append(np.isin(np.arange(n_samples), tr))
        test.append(np.isin(np.arange(n_samples), te))
    return np.array(train), np.array(test)


def _reference(log_likelihoods, train_masks, test_masks, aggregate):
    """One sample at a time, with math's scalar functions."""
    n_models, n_samples = log_likelihoods.shape
    scores = np.empty(n_samples)
    for i in range(n_samples):
        parts = []
        for mask in (train_masks, test_masks):
            values = [log_likelihoods[k, i] for k in range(n_models) if mask[k, i]]
            if not values:
                parts.append(math.nan)
            elif aggregate == "mean":
                parts.append(sum(values) / len(values))
            else:
                densities = [math.exp(v) for v in values]
                total = sum(densities) / len(densities)
                parts.append(math.log(total) if total > 0 else -math.inf)
        u, v = parts
        if u == -math.inf and v == -math.inf:
            scores[i] = math.nan
        else:
            scores[i] = u - v
    return scores


SPLITTERS = {
    "kfold": KFold(5, shuffle=True, random_state=0),
    "repeated": RepeatedKFold(n_splits=4, n_repeats=3, random_state=1),
    "shuffle": ShuffleSplit(n_splits=30, test_size=0.3, random_state=2),
    "loo": LeaveOneOut(),
}


@pytest.mark.parametrize("aggregate", ["logmeanexp", "mean"])
@pytest.mark.parametrize("split", list(SPLITTERS))
def test_matches_per_sample_loop(split, aggregate):
    rng = np.random.RandomState(0)
    n_samples = 23
    train, test = _masks(SPLITTERS[split], n_samples)
    log_likelihoods = rng.normal(scale=5.0, size=train.shape) - 10.0
    # Zero densities for some entries, and a sample with zero density everywhere.
    log_likelihoods[rng.rand(*train.shape) < 0.1] = -np.inf
    log_likelihoods[:, 3] = -np.inf
    # Sample 5: zero density under every model that held it out.
    log_likelihoods[:, 5] = np.where(test[:, 5], -np.inf, -1.0)
    expected = _reference(log_likelihoods, train, test, aggregate)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ShuffleSplit may miss samples
        got = memorization_scores(log_likelihoods, train, test, aggregate=aggregate)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert np.isnan(got[3])
    assert got[5] == np.inf


def test_logmeanexp_is_stable_for_large_magnitudes():
    # exp(-1000) underflows; the shifted computation does not.
    log_likelihoods = np.array([[-1000.0, -2000.0], [-1000.0 - math.log(3), -2001.0]])
    train = np.array([[True, False], [False, True]])
    got = memorization_scores(log_likelihoods, train)
    np.testing.assert_allclose(got, [math.log(3), -1.0])


def test_plus_inf_when_only_out_models_give_zero_density():
    log_likelihoods = np.array([[-1.0, -np.inf], [-np.inf, -np.inf]])
    train = np.array([[True, False], [False, True]])
    got = memorization_scores(log_likelihoods, train)
    assert got[0] == np.inf
    assert np.isnan(got[1])


def test_default_test_masks_are_the_complement():
    rng = np.random.RandomState(1)
    train, test = _masks(KFold(4, shuffle=True, random_state=3), 12)
    log_likelihoods = rng.normal(size=train.shape)
    np.testing.assert_array_equal(
        memorization_scores(log_likelihoods, train),
        memorization_scores(log_likelihoods, train, test),
    )


def test_samples_without_estimate_are_nan_with_one_warning():
    log_likelihoods = np.zeros((2, 4))
    train = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=bool)
    test = np.array([[0, 0, 1, 0], [1, 0, 0, 0]], dtype=bool)
    with pytest.warns(UserWarning, match="2 of 4 samples") as record:
        got = memorization_scores(log_likelihoods, train, test)
    assert len(record) == 1
    assert np.isnan(got).tolist() == [False, True, False, True]


@pytest.mark.parametrize(
    "log_likelihoods, train, test, error, match",
    [
        (np.zeros(3), np.ones(3, bool), None, ValueError, "2-D"),
        (np.zeros((2, 3)), np.ones((3, 2), bool), None, ValueError, "shape"),
        (np.zeros((2, 3)), np.full((2, 3), 0.5), None, TypeError, "boolean"),
        (np.zeros((2, 3), complex), np.ones((2, 3), bool), None, TypeError, "real"),
        (
            np.zeros((2, 3)),
            np.ones((2, 3), bool),
            np.ones((2, 3), bool),
            ValueError,
            "overlap",
        ),
        (np.full((2, 3), np.nan), np.eye(2, 3, dtype=bool), None, ValueError, "NaN"),
    ],
)
def test_bad_input(log_likelihoods, train, test, error, match):
    with pytest.raises(error, match=match):
        memorization_scores(log_likelihoods, train, test)


def test_nan_outside_the_masks_is_ignored():
    log_likelihoods = np.array([[0.0, np.nan], [-1.0, 0.0]])
    train = np.array([[True, False], [False, True]])
    test = np.array([[False, False], [True, False]])
    with pytest.warns(UserWarning, match="1 of 2"):
        got = memorization_scores(log_likelihoods, train, test)
    assert got[0] == 1.0 and np.isnan(got[1])


def test_unknown_aggregate():
    with pytest.raises(ValueError, match="aggregate"):
        memorization_scores(np.zeros((2, 2)), np.eye(2, dtype=bool), aggregate="max")
