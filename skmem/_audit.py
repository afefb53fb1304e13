"""Membership inference from the models a memorization run already fitted.

For every (model k, sample i) pair with ``i`` in model k's training or held-out
set, the attack decides "was x_i in model k's training set?" from
``log p_k(x_i)`` alone, in the manner of LiRA (Carlini et al., 2022): a
likelihood ratio between a Gaussian fitted to the sample's log-likelihoods
under the *other* models that trained on it and one fitted to those under the
*other* models that held it out. Model k itself never enters its own
reference distributions, so the audit needs no extra training. Each sample's
in-model spread comes from its own ``(K - 1) R - 1`` in-models; its out-model
spread, which rests on only ``R - 1`` models, is the in-model spread times a
ratio pooled over all samples (LiRA's "fixed variance" for the few
out-models).
"""

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.utils import Bunch

_FPRS = (0.001, 0.01)


def _leave_one_out_moments(log_likelihoods, mask):
    """Per pair (k, i): mean and variance of the masked values of column i
    without row k (rows outside the mask leave the column whole)."""
    count = mask.sum(axis=0)
    # Centred on the column's mean first, so that the sums of squares below do
    # not cancel catastrophically.
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(mask, log_likelihoods, 0.0).sum(axis=0) / count
    centre = np.where(count > 0, centre, 0.0)
    values = np.where(mask, log_likelihoods - centre, 0.0)
    total = values.sum(axis=0)
    square = (values**2).sum(axis=0)
    n = count - mask  # models left after taking k out
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (total - values) / n
        variance = (square - values**2 - n * mean**2) / (n - 1)
    return mean + centre, np.maximum(variance, 0.0), n


def _gaussian_log_pdf(x, mean, variance):
    return -0.5 * (np.log(2 * np.pi * variance) + (x - mean) ** 2 / variance)


def membership_audit(log_likelihoods, train_masks, test_masks, fprs=_FPRS):
    """LiRA-style membership inference over all (model, sample) pairs.

    Returns a :class:`~sklearn.utils.Bunch`; see
    :meth:`skmem.MemorizationScorer.membership_audit`.
    """
    finite = np.isfinite(log_likelihoods)
    train = train_masks & finite
    test = test_masks & finite
    values = np.where(finite, log_likelihoods, 0.0)
    in_mean, in_var, n_in = _leave_one_out_moments(values, train)
    out_mean, out_var, n_out = _leave_one_out_moments(values, test)
    # The out-model spread of a sample rests on R - 1 values: scale its
    # well-estimated in-model spread by the ratio pooled over all pairs.
    pooled = (n_in > 1) & (n_out > 1)
    ratio = 1.0
    if pooled.any():
        ratio = out_var[pooled].mean() / in_var[pooled].mean()
        if not np.isfinite(ratio) or ratio <= 0:
            ratio = 1.0
    floor = 1e-12
    in_var = np.maximum(in_var, floor)
    valid = (train | test) & (n_in > 1) & (n_out > 0) & np.isfinite(in_var)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = _gaussian_log_pdf(values, in_mean, in_var) - _gaussian_log_pdf(
            values, out_mean, ratio * in_var
        )
    valid &= np.isfinite(scores)
    scores = np.where(valid, scores, np.nan)
    labels = train_masks[valid]
    attack = scores[valid]
    if labels.all() or not labels.any():
        raise ValueError(
            "The membership audit needs (model, sample) pairs of both kinds: "
            "samples held out by at least two models and trained on by at least "
            "two. Use n_repeats >= 2 with KFold."
        )
    fpr, tpr, _ = roc_curve(labels, attack)
    in_pairs, out_pairs = train_masks & valid, test_masks & valid
    with np.errstate(invalid="ignore", divide="ignore"):
        in_score = np.where(in_pairs, scores, 0.0).sum(0) / in_pairs.sum(0)
        out_score = np.where(out_pairs, scores, 0.0).sum(0) / out_pairs.sum(0)
    return Bunch(
        auc=float(roc_auc_score(labels, attack)),
        tpr_at_fpr={f: float(tpr[fpr <= f].max()) for f in fprs},
        fpr=fpr,
        tpr=tpr,
        scores=scores,
        sample_scores=in_score - out_score,
        n_pairs=int(valid.sum()),
    )
