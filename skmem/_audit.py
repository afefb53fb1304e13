"""Membership inference from the models a memorization run already fitted.

For every (model k, sample i) pair with ``i`` in model k's training or held-out
set, the attack decides "was x_i in model k's training set?" from
``log p_k(x_i)`` alone, in the manner of LiRA (Carlini et al., 2022): a
likelihood ratio between a Gaussian fitted to the sample's log-likelihoods
under the models that trained on it and one fitted to those under the models
that held it out. The reference models are those of the *other* repeats, so
that model k never enters its own reference distributions and both kinds of
pair are judged against references of the same size ((K - 1)(R - 1) in-models,
R - 1 out-models): the audit needs no extra training, and its AUC is 0.5 when
nothing is memorized. Each sample's in-model spread comes from its own
in-models; its out-model spread, which rests on few models, is the in-model
spread times a ratio pooled over all samples (LiRA's "fixed variance").
"""

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.utils import Bunch

_FPRS = (0.001, 0.01)


def _moments(values, mask):
    """Per column: mean, variance (ddof=1) and count of the masked values."""
    count = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(mask, values, 0.0).sum(axis=0) / count
        spread = np.where(mask, values - mean, 0.0)
        variance = (spread**2).sum(axis=0) / (count - 1)
    return mean, variance, count


def _gaussian_log_pdf(x, mean, variance):
    return -0.5 * (np.log(2 * np.pi * variance) + (x - mean) ** 2 / variance)


def membership_audit(log_likelihoods, train_masks, test_masks, groups, fprs=_FPRS):
    """LiRA-style membership inference over all (model, sample) pairs.

    ``groups`` are the repeats (index arrays of models; at least two). Returns
    a :class:`~sklearn.utils.Bunch`; see
    :meth:`skmem.MemorizationScorer.membership_audit`.
    """
    finite = np.isfinite(log_likelihoods)
    train = train_masks & finite
    test = test_masks & finite
    values = np.where(finite, log_likelihoods, 0.0)
    # The out/in variance ratio, pooled over all samples and models.
    _, in_var, n_in = _moments(values, train)
    _, out_var, n_out = _moments(values, test)
    pooled = (n_in > 1) & (n_out > 1)
    ratio = 1.0
    if pooled.any():
        ratio = out_var[pooled].mean() / in_var[pooled].mean()
        if not np.isfinite(ratio) or ratio <= 0:
            ratio = 1.0

    scores = np.full(log_likelihoods.shape, np.nan)
    for models in groups:
        others = np.ones(len(values), dtype=bool)
        others[models] = False
        in_mean, in_var, n_in = _moments(values[others], train[others])
        out_mean, _, n_out = _moments(values[others], test[others])
        in_var = np.maximum(in_var, 1e-12)
        x = values[models]
        with np.errstate(invalid="ignore", divide="ignore"):
            score = _gaussian_log_pdf(x, in_mean, in_var) - _gaussian_log_pdf(
                x, out_mean, ratio * in_var
            )
        valid = (
            (train[models] | test[models])
            & (n_in > 1)
            & (n_out > 0)
            & np.isfinite(score)
        )
        scores[models] = np.where(valid, score, np.nan)

    valid = np.isfinite(scores)
    labels = train_masks[valid]
    attack = scores[valid]
    if labels.all() or not labels.any():
        raise ValueError(
            "The membership audit found no (model, sample) pairs of both kinds to "
            "score; it needs every sample trained on by two models or more and "
            "held out by one or more in another repeat."
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
