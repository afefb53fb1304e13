"""Repeated splits: their structure, per-repeat scores, split-half reliability.

Pure numpy on the log-likelihood matrix and the masks, like ``_aggregate``.
A *repeat* is a run of consecutive models whose held-out sets partition the
samples (one pass of KFold); RepeatedKFold, or an int ``cv`` with
``n_repeats > 1``, gives several.
"""

import numpy as np
from scipy import optimize
from scipy.stats import spearmanr

from ._aggregate import _in_out, scores_from_in_out


def repeat_groups(test_masks):
    """Split consecutive models into repeats; None if the plan has no such structure.

    Returns a list of index arrays, one per repeat, when the models' held-out
    sets form consecutive partitions of the samples (KFold, RepeatedKFold,
    LeaveOneOut); None otherwise (ShuffleSplit, for example).
    """
    n_models, n_samples = test_masks.shape
    groups, start = [], 0
    covered = np.zeros(n_samples, dtype=bool)
    for k in range(n_models):
        if (covered & test_masks[k]).any():
            return None
        covered |= test_masks[k]
        if covered.all():
            groups.append(np.arange(start, k + 1))
            start = k + 1
            covered[:] = False
    if start != n_models:
        return None
    return groups


def _scores(log_likelihoods, train_masks, test_masks, models, aggregate):
    # The scorer validated the matrix and the masks once; no re-checking here.
    in_ll, out_ll, _ = _in_out(
        log_likelihoods[models], train_masks[models], test_masks[models], aggregate
    )
    return scores_from_in_out(in_ll, out_ll)


def per_repeat_scores(log_likelihoods, train_masks, test_masks, groups, aggregate):
    """M computed from each repeat's models alone: shape (n_repeats, n_samples)."""
    return np.vstack(
        [
            _scores(log_likelihoods, train_masks, test_masks, g, aggregate)
            for g in groups
        ]
    )


def split_half_reliability(log_likelihoods, train_masks, test_masks, groups, aggregate):
    """Spearman-Brown corrected split-half reliability of the ranking, or NaN.

    NaN when fewer than 3 samples have finite scores in both halves, or when
    either half's scores are all equal (there is no ranking to correlate).
    """
    half = len(groups) // 2
    first, second = (
        _scores(
            log_likelihoods, train_masks, test_masks, np.concatenate(part), aggregate
        )
        for part in (groups[:half], groups[half:])
    )
    finite = np.isfinite(first) & np.isfinite(second)
    if finite.sum() < 3:
        return np.nan
    first, second = first[finite], second[finite]
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        # Constant scores rank nothing: no correlation (and no warning from
        # scipy, which returns NaN with a ConstantInputWarning).
        return np.nan
    r = spearmanr(first, second)[0]
    return spearman_brown(r, half, len(groups) - half)


def _reliability_of(n, rho):
    """Reliability of the mean of ``n`` repeats whose single-repeat one is ``rho``."""
    return n * rho / (1 + (n - 1) * rho)


def spearman_brown(r, a, b):
    """Reliability of all ``a + b`` repeats from the correlation ``r`` of the
    scores of ``a`` repeats with those of the other ``b``.

    ``r = sqrt(rel(a) rel(b))``, with ``rel(n) = n rho / (1 + (n - 1) rho)``, is
    solved for the single-repeat reliability ``rho``; equal halves give the
    familiar ``2 r / (1 + r)``. A correlation of zero or below is returned as
    it is (the ranking is noise).
    """
    if not np.isfinite(r) or r <= 0:
        return float(r)
    if a == b:
        return 2 * r / (1 + r)
    if r >= 1:
        return 1.0
    rho = optimize.brentq(
        lambda p: np.sqrt(_reliability_of(a, p) * _reliability_of(b, p)) - r,
        0.0,
        1.0,
        xtol=1e-12,
    )
    return float(_reliability_of(a + b, rho))
