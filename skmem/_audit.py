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

From the attack's error rates, :func:`epsilon_lower_bound` gives the one-sided
lower confidence bound on the differential-privacy epsilon that privacy audits
report (Jagielski et al., 2020; Nasr et al., 2021, 2023), with the threshold
chosen on one half of the samples and the rates counted on the other.
"""

import numpy as np
from scipy.stats import beta
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.utils import Bunch

_FPRS = (0.001, 0.01)
PRIORS = (0.01, 0.1, 0.5)
DELTA = 1e-5
CONFIDENCE = 0.95
# The split of the samples into the half that chooses the threshold and the
# half that counts the errors: fixed, so that an audit is reproducible.
_SPLIT_SEED = 0


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


def _say(verbose, message):
    if verbose:
        print(f"[MemorizationScorer] membership audit: {message}", flush=True)


def _samples(mask):
    """How many samples (columns) ``mask`` touches."""
    return int(mask.any(axis=0).sum())


def attack_scores(log_likelihoods, train_masks, test_masks, groups, verbose=0):
    """The LiRA score of every (model, sample) pair; NaN where not computed.

    With ``verbose``, says how many pairs and samples are left unscored, and why.
    """
    finite = np.isfinite(log_likelihoods)
    train = train_masks & finite
    test = test_masks & finite
    pairs = train_masks | test_masks
    if (pairs & ~finite).any():
        _say(
            verbose,
            f"{int((pairs & ~finite).sum())} (model, sample) pairs of "
            f"{_samples(pairs & ~finite)} samples have a non-finite log-likelihood "
            "(zero density, or NaN from the model): they are not scored and not "
            "used as references.",
        )
    values = np.where(finite, log_likelihoods, 0.0)
    # The out/in variance ratio, pooled over all samples and models.
    _, in_var, n_in = _moments(values, train)
    _, out_var, n_out = _moments(values, test)
    pooled = (n_in > 1) & (n_out > 1)
    ratio = 1.0
    if pooled.any():
        in_spread = in_var[pooled].mean()
        # Zero spread (every model gives each sample the same log-likelihood,
        # as on a table of identical rows): no ratio to pool.
        ratio = out_var[pooled].mean() / in_spread if in_spread > 0 else 1.0
        if not np.isfinite(ratio) or ratio <= 0:
            ratio = 1.0
    if ratio == 1.0:
        _say(
            verbose,
            "the out/in variance ratio could not be pooled (no sample with two "
            "in- and two out-models, or zero spread); it is taken as 1.",
        )

    scores = np.full(log_likelihoods.shape, np.nan)
    few_references = np.zeros(log_likelihoods.shape, dtype=bool)
    zero_spread = np.zeros(log_likelihoods.shape[1], dtype=bool)
    for models in groups:
        others = np.ones(len(values), dtype=bool)
        others[models] = False
        in_mean, in_var, n_in = _moments(values[others], train[others])
        out_mean, _, n_out = _moments(values[others], test[others])
        enough = (n_in > 1) & (n_out > 0)
        zero_spread |= enough & (in_var <= 1e-12)
        in_var = np.maximum(in_var, 1e-12)
        x = values[models]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            score = _gaussian_log_pdf(x, in_mean, in_var) - _gaussian_log_pdf(
                x, out_mean, ratio * in_var
            )
        scorable = (train[models] | test[models]) & enough
        few_references[models] = (train[models] | test[models]) & ~enough
        scores[models] = np.where(scorable & np.isfinite(score), score, np.nan)
    if few_references.any():
        _say(
            verbose,
            f"{int(few_references.sum())} pairs of {_samples(few_references)} "
            "samples are not scored: the other repeats give them fewer than two "
            "in-models or no out-model with a finite log-likelihood.",
        )
    overflow = pairs & finite & ~few_references & ~np.isfinite(scores)
    if overflow.any():
        _say(
            verbose,
            f"{int(overflow.sum())} pairs of {_samples(overflow)} samples are not "
            "scored: their likelihood ratio overflows.",
        )
    if zero_spread.any():
        _say(
            verbose,
            f"{int(zero_spread.sum())} samples have the same log-likelihood under "
            "every in-model of the other repeats (zero spread): their scores use "
            "a spread of 1e-6 nats and are nearly all-or-nothing.",
        )
    return scores


def clopper_pearson_upper(successes, trials, alpha):
    """One-sided upper ``1 - alpha`` Clopper-Pearson bound on a rate.

    ``successes`` may be fractional (a sum of per-sample rates in [0, 1]).
    """
    successes = np.asarray(successes, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = beta.ppf(1 - alpha, successes + 1, trials - successes)
    return np.where(successes >= trials, 1.0, upper)


def _epsilon_from_rates(fpr_upper, fnr_upper, delta):
    """max of log((1 - delta - FPR) / FNR) and log((1 - delta - FNR) / FPR)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        first = np.log(np.maximum(1 - delta - fpr_upper, 0) / fnr_upper)
        second = np.log(np.maximum(1 - delta - fnr_upper, 0) / fpr_upper)
    return np.maximum(first, second)


def _sample_rates(scores, members, nonmembers, threshold):
    """Per sample: the share of its member pairs scored below ``threshold``
    (false negatives) and of its non-member pairs at or above it (false
    positives)."""
    with np.errstate(invalid="ignore"):
        fn = (members & (scores < threshold)).sum(0) / members.sum(0)
        fp = (nonmembers & (scores >= threshold)).sum(0) / nonmembers.sum(0)
    return fp, fn


def epsilon_lower_bound(
    scores,
    members,
    nonmembers,
    *,
    delta=DELTA,
    confidence=CONFIDENCE,
    split_seed=_SPLIT_SEED,
    verbose=0,
):
    """A one-sided lower confidence bound on epsilon from an attack's scores.

    ``scores`` (n_models, n_samples), higher meaning "member"; ``members`` and
    ``nonmembers`` mark the pairs of each kind (NaN scores are left out).
    A random half of the samples (``split_seed``) chooses the threshold and
    which of the two inequalities of (epsilon, delta)-DP to use; the other half
    counts the false-positive and false-negative rates at it, each a mean over
    samples of the sample's own rate, bounded from above by Clopper-Pearson at
    level ``(1 - confidence) / 2`` with as many trials as samples. Returns a
    Bunch with ``epsilon`` and the parts it came from.
    """
    in_plan = (members | nonmembers).any(0)
    valid = np.isfinite(scores)
    members, nonmembers = members & valid, nonmembers & valid
    usable = np.flatnonzero(members.any(0) & nonmembers.any(0))
    left_out = int(in_plan.sum()) - len(usable)
    if left_out:
        _say(
            verbose,
            f"epsilon leaves out {left_out} samples without both a scored member "
            "pair and a scored non-member pair.",
        )
    order = np.random.RandomState(split_seed).permutation(usable)
    choose, count = order[: len(order) // 2], order[len(order) // 2 :]
    alpha = (1 - confidence) / 2  # the two rates must both hold
    n = len(count)
    parts = dict(n_trials=n, counted=count, delta=delta, confidence=confidence)
    if len(choose) == 0 or n == 0:
        _say(verbose, "too few samples with both kinds of pair; epsilon >= 0.")
        undefined = ("threshold", "fpr", "fnr", "fpr_upper", "fnr_upper")
        return Bunch(**parts, epsilon=0.0, **dict.fromkeys(undefined, np.nan))
    # Choosing half: the sample-weighted ROC (each sample's member pairs and
    # non-member pairs weigh 1 in all), and at each threshold the bound that
    # its rates would give on the counting half.
    s, m, o = scores[:, choose], members[:, choose], nonmembers[:, choose]
    keep = m | o
    weights = np.where(m, 1 / m.sum(0), 1 / o.sum(0))[keep]
    fpr, tpr, thresholds = roc_curve(
        m[keep], s[keep], sample_weight=weights, drop_intermediate=False
    )
    fnr = np.clip(1 - tpr, 0, 1)
    planned = _epsilon_from_rates(
        clopper_pearson_upper(fpr * n, n, alpha),
        clopper_pearson_upper(fnr * n, n, alpha),
        delta,
    )
    best = int(np.nanargmax(np.where(np.isfinite(thresholds), planned, -np.inf)))
    threshold = thresholds[best]
    # Counting half.
    fp, fn = _sample_rates(
        scores[:, count], members[:, count], nonmembers[:, count], threshold
    )
    fpr, fnr = float(fp.mean()), float(fn.mean())
    fpr_upper = float(clopper_pearson_upper(fpr * n, n, alpha))
    fnr_upper = float(clopper_pearson_upper(fnr * n, n, alpha))
    epsilon = _epsilon_from_rates(fpr_upper, fnr_upper, delta)
    epsilon = float(max(epsilon, 0.0)) if np.isfinite(epsilon) else 0.0
    _say(
        verbose,
        f"threshold {threshold:.4g} chosen on {len(choose)} samples; on the other "
        f"{n}: FPR {fpr:.4f} (upper {fpr_upper:.4f}), FNR {fnr:.4f} (upper "
        f"{fnr_upper:.4f}), epsilon >= {epsilon:.3f} at delta {delta:g} "
        f"({100 * confidence:g} % one-sided).",
    )
    return Bunch(
        **parts,
        epsilon=epsilon,
        threshold=float(threshold),
        fpr=fpr,
        fnr=fnr,
        fpr_upper=fpr_upper,
        fnr_upper=fnr_upper,
    )


def precision_at_priors(tpr_at_fpr, priors):
    """``{prior: {f: precision}}``: prior TPR / (prior TPR + (1 - prior) f),
    with TPR the attack's true-positive rate at false-positive rate at most f.

    The false-positive rate is taken as f itself: the empirical one is at most
    f, and on a finite number of pairs an empirical 0 does not mean 0, so the
    precision errs low rather than claiming 1.
    """
    return {
        prior: {
            f: float(prior * tpr / (prior * tpr + (1 - prior) * f))
            for f, tpr in tpr_at_fpr.items()
        }
        for prior in priors
    }


def membership_audit(
    log_likelihoods,
    train_masks,
    test_masks,
    groups,
    fprs=_FPRS,
    *,
    priors=PRIORS,
    delta=DELTA,
    verbose=0,
):
    """LiRA-style membership inference over all (model, sample) pairs.

    ``groups`` are the repeats (index arrays of models; at least two). Returns
    a :class:`~sklearn.utils.Bunch`; see
    :meth:`skmem.MemorizationScorer.membership_audit`.
    """
    scores = attack_scores(log_likelihoods, train_masks, test_masks, groups, verbose)
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
    tpr_at_fpr = {f: float(tpr[fpr <= f].max()) for f in fprs}
    in_pairs, out_pairs = train_masks & valid, test_masks & valid
    with np.errstate(invalid="ignore", divide="ignore"):
        in_score = np.where(in_pairs, scores, 0.0).sum(0) / in_pairs.sum(0)
        out_score = np.where(out_pairs, scores, 0.0).sum(0) / out_pairs.sum(0)
    one_kind = (in_pairs.any(0) != out_pairs.any(0)) | ~(in_pairs | out_pairs).any(0)
    if one_kind.any():
        _say(
            verbose,
            f"sample_scores is NaN for {int(one_kind.sum())} samples with no scored "
            "member pair or no scored non-member pair.",
        )
    epsilon = epsilon_lower_bound(
        scores, train_masks, test_masks, delta=delta, verbose=verbose
    )
    return Bunch(
        auc=float(roc_auc_score(labels, attack)),
        tpr_at_fpr=tpr_at_fpr,
        precision_at_prior=precision_at_priors(tpr_at_fpr, priors),
        epsilon_lower_bound=epsilon.epsilon,
        epsilon_audit=epsilon,
        fpr=fpr,
        tpr=tpr,
        scores=scores,
        sample_scores=in_score - out_score,
        n_pairs=int(valid.sum()),
    )
