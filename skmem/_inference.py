"""Per-sample inference from repeated splits: standard errors, intervals, p-values.

Pure numpy/scipy on the log-likelihood matrix, the masks and the scores, like
``_aggregate``. The method, and what it assumes:

1. **Standard error.** Each repeat (one pass of KFold, with its own shuffle and
   seeds) is an independent replicate of the whole experiment. The standard
   error of ``M_i`` is the delete-one-repeat jackknife: ``M_i`` is recomputed
   from every set of ``R - 1`` repeats, and ``se_i^2 = (R - 1) / R * sum_r
   (M_i^(-r) - mean)^2``. For ``aggregate="mean"`` this is exactly the standard
   deviation of the per-repeat scores over ``sqrt(R)``; for the log-mean-exp
   aggregates it also captures their extra variance.
2. **Moderation.** With 3 to 10 repeats a per-sample variance has 2 to 9
   degrees of freedom and is too noisy to divide by. The variances are shrunk
   towards a common prior fitted to all samples (empirical Bayes, Smyth 2004,
   the "moderated t" of limma): ``s~_i^2 = (d0 s0^2 + d s_i^2) / (d0 + d)``,
   with ``d0 + d`` degrees of freedom. It assumes that the true variances
   follow a scaled inverse chi-square distribution; ``d0`` is estimated, and is
   small (little shrinkage) when the variances differ a lot.
3. **The bulk.** Memorization is a per-sample effect; overfitting shifts every
   sample. The default test asks whether ``M_i`` exceeds the bulk of the
   samples: the scores of non-memorized samples are modelled as
   ``mu0 + tau Z + se_i T`` (a common shift ``mu0``, a spread ``tau`` of true
   scores between samples, and each sample's own estimation noise). ``mu0`` is
   the median score and ``tau`` is fitted to the central half of the samples
   (Efron's central matching), so the memorized tail does not inflate it. The
   statistic ``(M_i - mu0) / sqrt(tau^2 + se_i^2)`` is referred to a t
   distribution with Satterthwaite's degrees of freedom. It assumes that most
   samples are not memorized beyond the bulk.
   That t statistic divides by a variance with few degrees of freedom, which
   one extreme out-model inflates: an isolated sample whose out-models score it
   50 to 1,500 nats below its in-models, in every repeat, is not significant
   by it. So the default p-value combines it with an exact *within-repeat rank
   test*: in each repeat, the sample's single out-model log-likelihood, plus a
   shift ``delta``, is ranked among its ``K - 1`` in-model ones. If including
   the sample raises its log-likelihood by ``delta`` and changes nothing else,
   the rank is uniform on ``1..K`` and independent between repeats, so the sum
   of the ranks has a known distribution (mid-p, at least ``K^-R`` / 2). The
   shift is the bulk's: ``delta ~ N(mu0, tau^2)`` is integrated out (Gauss
   Hermite), so overfitting and the bulk's spread do not make a sample
   significant. The two one-sided p-values are combined with the Cauchy
   combination (Liu & Xie 2020), valid under any dependence between them: it is
   near the smaller one when the other is not small, and below both when both
   are.
4. ``threshold=t`` tests "the mean contrast exceeds ``t``" instead:
   ``(C_i - t) / se_i`` against t with ``d0 + d`` degrees of freedom, combined
   in the same way with the rank test at the shift ``t``.
5. Flags control the false-discovery rate with Benjamini-Hochberg.
"""

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from ._reliability import _scores, per_repeat_scores


def jackknife_std(log_likelihoods, train_masks, test_masks, groups, aggregate):
    """Delete-one-repeat jackknife standard error of M, per sample."""
    n_repeats = len(groups)
    replicates = np.vstack(
        [
            _scores(
                log_likelihoods,
                train_masks,
                test_masks,
                np.concatenate(groups[:r] + groups[r + 1 :]),
                aggregate,
            )
            for r in range(n_repeats)
        ]
    )
    with np.errstate(invalid="ignore"):
        spread = replicates - replicates.mean(axis=0)
        variance = (n_repeats - 1) / n_repeats * (spread**2).sum(axis=0)
    return np.sqrt(variance)


def _trigamma_inverse(x):
    """``y`` with ``polygamma(1, y) == x`` (Newton's method, as in limma)."""
    if x > 1e7:
        return 1.0 / np.sqrt(x)
    if x < 1e-6:
        return 1.0 / x
    y = 0.5 + 1.0 / x
    for _ in range(100):
        tri = special.polygamma(1, y)
        step = tri * (1.0 - tri / x) / special.polygamma(2, y)
        y += step
        if -step / y < 1e-8:
            break
    return y


def moderate_variances(variances, df, covariate=None, notes=None):
    """Empirical-Bayes posterior variances (Smyth 2004; with a trend, Law et al. 2014).

    The prior variance is ``exp(a + b * covariate)`` when a covariate is given
    (limma-trend: the part of the heteroscedasticity that the covariate explains
    is not shrunk away), a constant otherwise. Returns ``(posterior,
    df_total)``; ``df_total`` is ``inf`` when the variances spread no more than
    their sampling noise (then the posterior is the prior).

    The prior is fitted to the positive, finite variances with a finite
    covariate only (their logarithm is needed), and then applied to every
    sample: ``(d0 s0^2 + d s^2) / (d0 + d)`` is defined for ``s = 0`` (an exact
    engine whose scores repeat exactly), and a sample whose variance is not
    finite gets the prior ``s0^2``. A covariate outside the fitted range
    (``-inf`` for a sample whose in-model log-likelihoods never vary) is
    clipped to it, and a missing one is the median. What was filled in is
    appended to ``notes``, a list of sentences, when one is given.
    """
    variances = np.asarray(variances, dtype=np.float64)
    n = len(variances)
    x = np.zeros(n) if covariate is None else np.asarray(covariate, dtype=np.float64)
    x_given = x
    positive = np.isfinite(variances) & (variances > 0)
    usable = positive & np.isfinite(x)
    if usable.sum() < 3:
        if notes is not None:
            notes.append(
                f"only {usable.sum()} of {n} samples have a positive finite "
                "variance between repeats, too few to fit a variance prior"
            )
        return np.full_like(variances, np.nan), np.nan
    low, high = x[usable].min(), x[usable].max()
    x = np.where(np.isnan(x), np.median(x[usable]), np.clip(x, low, high))
    e = np.full(n, np.nan)
    e[usable] = np.log(variances[usable]) - special.digamma(df / 2) + np.log(df / 2)
    if covariate is None or high == low:
        trend = np.full(n, e[usable].mean())
        n_coef = 1
    else:
        coef = np.polyfit(x[usable], e[usable], 1)
        trend = np.polyval(coef, x)
        n_coef = 2
    residual = e[usable] - trend[usable]
    excess = residual @ residual / (usable.sum() - n_coef) - special.polygamma(
        1, df / 2
    )
    finite = np.isfinite(variances) & (variances >= 0)
    if excess > 0:
        prior_df = 2 * _trigamma_inverse(excess)
        prior = np.exp(trend + special.digamma(prior_df / 2) - np.log(prior_df / 2))
        with np.errstate(invalid="ignore"):
            posterior = (prior_df * prior + df * variances) / (prior_df + df)
        posterior = np.where(finite, posterior, prior)
    else:  # no more spread than sampling noise: the prior is the variance
        prior_df = np.inf
        posterior = np.exp(trend)
    if notes is not None:
        n_zero = int((variances == 0).sum())
        n_undefined = int((~np.isfinite(variances)).sum())
        n_off = int((positive & ~np.isfinite(x_given)).sum())
        if n_zero:
            notes.append(
                f"{n_zero} samples have a variance of exactly 0 between repeats; "
                "they were moderated towards the prior like the others"
            )
        if n_undefined:
            notes.append(
                f"{n_undefined} samples have no finite variance between repeats; "
                "they got the prior variance"
            )
        if n_off:
            notes.append(
                f"{n_off} samples have no finite in-model log-variance (their "
                "in-model log-likelihoods do not vary); the trend was taken at "
                "the nearest fitted value"
            )
    return posterior, prior_df + df


def _satterthwaite_df(tau2, se2, df):
    """Degrees of freedom of ``tau^2 + se^2`` when only ``se^2`` is estimated."""
    if np.isinf(df):
        return np.full_like(se2, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se2 > 0, (tau2 + se2) ** 2 / (se2**2 / df), np.inf)


def _t_cdf(x, df):
    df = np.minimum(df, 1e12)  # beyond, the t distribution is the normal one
    return stats.t.cdf(x, df)


def _t_sf(x, df):
    return stats.t.sf(x, np.minimum(df, 1e12))


def fit_bulk(scores, se2, df):
    """``(mu0, tau)``: centre and between-sample spread of the bulk of the scores.

    ``mu0`` is the median; ``tau`` makes the median of the standardised
    absolute deviations match that of the null (central matching), and is 0
    when the estimation noise alone explains the spread of the central half.
    """
    mu0 = float(np.median(scores))
    deviation = np.abs(scores - mu0)

    def excess(tau):
        tau2 = tau**2
        statistic = deviation / np.sqrt(tau2 + se2)
        return np.median(_t_cdf(statistic, _satterthwaite_df(tau2, se2, df))) - 0.75

    if excess(0.0) <= 0:
        return mu0, 0.0
    upper = 10 * float(np.median(deviation)) + 10 * float(np.sqrt(np.median(se2)))
    while excess(upper) > 0:
        upper *= 2
    return mu0, float(optimize.brentq(excess, 0.0, upper, xtol=1e-10))


def cauchy_combination(*pvalues):
    """Cauchy combination of p-values (Liu & Xie 2020), under any dependence.

    The statistic is ``T = mean_i tan((1/2 - p_i) pi)`` and the combined
    p-value the upper tail of a standard Cauchy beyond it, ``arctan2(1, T) /
    pi``. For ``p_i < 1/2``, ``tan((1/2 - p_i) pi) = 1 / w_i`` with ``w_i =
    tan(p_i pi)``, which overflows for subnormal p-values. So ``T`` is taken
    scaled by ``s = min(1, min_i w_i)``, each term ``s / w_i`` at most 1, and
    the tail is ``arctan2(s, s T) / pi``: p-values far below machine epsilon,
    subnormal ones included, keep their digits and their order, and nothing
    overflows. A p-value of exactly 0 combines to 0; NaN gives NaN.
    """
    P = np.asarray(
        np.broadcast_arrays(*[np.asarray(p, dtype=np.float64) for p in pvalues])
    )
    low = P < 0.5
    with np.errstate(invalid="ignore"):  # NaN p-values stay NaN
        w = np.where(low, np.tan(np.where(low, P, 0.25) * np.pi), np.inf)
        upper = np.tan((np.where(low, 0.5, P) - 0.5) * np.pi)  # 0 for low terms
        scale = np.minimum(w.min(axis=0), 1.0)
        zero = scale == 0  # a p-value of exactly 0
        scale = np.where(zero, 1.0, scale)
        terms = np.where(low, scale / np.where(w > 0, w, 1.0), -scale * upper)
        tail = np.arctan2(scale, terms.mean(axis=0)) / np.pi
    return np.clip(np.where(zero, 0.0, tail), 0.0, 1.0)


@dataclass
class RepeatRanks:
    """Each sample's out-model log-likelihood ranked among its in-model ones,
    per repeat. Holds the scorer's arrays (references, not copies)."""

    log_likelihoods: np.ndarray
    train_masks: np.ndarray
    test_masks: np.ndarray
    groups: list
    null: np.ndarray  # pmf of the sum over repeats of the ranks minus one

    @classmethod
    def from_plan(cls, log_likelihoods, train_masks, test_masks, groups):
        """None unless every sample has one out-model and ``K_r - 1`` in-models
        in every repeat (KFold without gaps)."""
        null = np.ones(1)
        for models in groups:
            if (test_masks[models].sum(axis=0) != 1).any() or (
                train_masks[models].sum(axis=0) != len(models) - 1
            ).any():
                return None
            null = np.convolve(null, np.full(len(models), 1.0 / len(models)))
        return cls(log_likelihoods, train_masks, test_masks, groups, null)

    def pvalues(self, mu0, tau, n_nodes=40):
        """One-sided mid-p of the sum of ranks, the shift integrated over the bulk."""
        if tau > 0:
            nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
            shifts, weights = mu0 + tau * nodes, weights / weights.sum()
        else:
            shifts, weights = np.array([mu0]), np.ones(1)
        below = np.cumsum(self.null) - self.null / 2  # mid-p: P(S < s) + P(S = s) / 2
        repeats = [
            (
                np.where(self.train_masks[m], self.log_likelihoods[m], np.inf),
                np.where(self.test_masks[m], self.log_likelihoods[m], 0.0).sum(0),
            )
            for m in self.groups
        ]
        pvalues = np.zeros(self.log_likelihoods.shape[1])
        with np.errstate(invalid="ignore"):
            for shift, weight in zip(shifts, weights, strict=True):
                rank = sum((ins <= out + shift).sum(axis=0) for ins, out in repeats)
                pvalues += weight * below[rank]
        return np.clip(pvalues, 0.0, 1.0)


@dataclass
class SampleInference:
    """The per-sample inference of a fitted scorer (see the module docstring)."""

    std: np.ndarray  # moderated standard error of M
    ci: np.ndarray  # (n_samples, 2) interval for M
    contrast: np.ndarray  # mean per-repeat contrast, the tested statistic
    contrast_std: np.ndarray  # its moderated standard error
    df: float  # degrees of freedom of contrast_std
    pvalues: np.ndarray  # beyond the bulk: the two below combined
    bulk_center: float
    bulk_spread: float
    contrast_pvalues: np.ndarray  # the moderated t test of the contrast
    rank_pvalues: np.ndarray  # the within-repeat rank test (NaN without one)
    notes: list  # why samples were filled in or left untested, for verbose
    ranks: "RepeatRanks | None" = None

    def threshold_pvalues(self, threshold):
        """One-sided p-values of "memorization above ``threshold`` nats": the
        t test of the contrast and, with ranks, the rank test at that shift,
        combined as the default test combines them."""
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic = (self.contrast - threshold) / self.contrast_std
        pvalues = np.where(np.isfinite(statistic), _t_sf(statistic, self.df), np.nan)
        if self.ranks is None:
            return pvalues
        rank_p = self.ranks.pvalues(threshold, 0.0)
        return np.where(np.isnan(pvalues), rank_p, cauchy_combination(pvalues, rank_p))


def in_model_log_variance(log_likelihoods, train_masks):
    """log of each sample's variance of log p_k(x_i) over its in-models.

    The covariate of the variance trend: it is estimated from ``(K - 1) R``
    models, so it is precise, and it tracks how much the sample's
    log-likelihood varies from model to model.
    """
    count = train_masks.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(train_masks, log_likelihoods, 0.0)
        mean = values.sum(axis=0) / count
        spread = np.where(train_masks, log_likelihoods - mean, 0.0)
        variance = (spread**2).sum(axis=0) / (count - 1)
        return np.log(np.where(count > 1, variance, np.nan))


def sample_inference(
    scores, jackknife_se, contrasts, covariate, level=0.95, ranks=None
):
    """Intervals for the scores and beyond-the-bulk p-values.

    Parameters
    ----------
    scores, jackknife_se : ndarray of shape (n_samples,)
        M and its delete-one-repeat jackknife standard error.
    contrasts : ndarray of shape (n_repeats, n_samples)
        Per repeat, the mean in-model minus the mean out-model log-likelihood.
    covariate : ndarray of shape (n_samples,)
        :func:`in_model_log_variance`, the trend of the variance priors.
    ranks : RepeatRanks, default=None
        The within-repeat ranks; None tests the contrast alone.
    """
    n_repeats, n_samples = contrasts.shape
    df = n_repeats - 1
    ci = np.full((n_samples, 2), np.nan)
    contrast_p = np.full(n_samples, np.nan)
    rank_p = np.full(n_samples, np.nan)
    score_notes, contrast_notes = [], []
    with np.errstate(invalid="ignore"):
        score_var, score_df = moderate_variances(
            jackknife_se**2, df, covariate, score_notes
        )
        contrast = contrasts.mean(axis=0)
        contrast_var, contrast_df = moderate_variances(
            contrasts.var(axis=0, ddof=1) / n_repeats, df, covariate, contrast_notes
        )
    notes = [f"standard error of M: {note}" for note in score_notes]
    notes += [f"tested contrast: {note}" for note in contrast_notes]
    std, contrast_std = np.sqrt(score_var), np.sqrt(contrast_var)
    with_ci = np.isfinite(scores) & np.isfinite(std)
    if not with_ci.all():
        notes.append(
            f"{(~with_ci).sum()} samples have no interval: their score or its "
            "standard error is not finite"
        )
    if with_ci.any():
        half = stats.t.ppf(0.5 + level / 2, min(score_df, 1e12)) * std[with_ci]
        ci[with_ci] = scores[with_ci, None] + np.column_stack([-half, half])
    tested = np.isfinite(contrast) & np.isfinite(contrast_std)
    mu0 = tau = np.nan
    if tested.sum() >= 3:
        se2 = contrast_var[tested]
        mu0, tau = fit_bulk(contrast[tested], se2, contrast_df)
        statistic = (contrast[tested] - mu0) / np.sqrt(tau**2 + se2)
        contrast_p[tested] = _t_sf(
            statistic, _satterthwaite_df(tau**2, se2, contrast_df)
        )
        if ranks is not None:
            rank_p = ranks.pvalues(mu0, tau)
    if ranks is None or np.isnan(mu0):
        pvalues = contrast_p
    else:
        # A contrast that is not finite (a zero density) leaves the rank test.
        pvalues = np.where(
            np.isnan(contrast_p), rank_p, cauchy_combination(contrast_p, rank_p)
        )
    n_untested = int(np.isnan(pvalues).sum())
    if n_untested:
        notes.append(
            f"{n_untested} samples have no p-value: their contrast or its "
            "standard error is not finite and no rank test was possible"
        )
    return SampleInference(
        std=std,
        ci=ci,
        contrast=contrast,
        contrast_std=contrast_std,
        df=contrast_df,
        pvalues=pvalues,
        bulk_center=mu0,
        bulk_spread=tau,
        contrast_pvalues=contrast_p,
        rank_pvalues=rank_p,
        notes=notes,
        ranks=ranks,
    )


def repeated_inference(scores, std, log_likelihoods, train_masks, test_masks, groups):
    """:func:`sample_inference` from a log-likelihood matrix and its repeats."""
    masks = (train_masks, test_masks)
    return sample_inference(
        scores,
        std,
        per_repeat_scores(log_likelihoods, *masks, groups, "mean"),
        in_model_log_variance(log_likelihoods, train_masks),
        ranks=RepeatRanks.from_plan(log_likelihoods, *masks, groups),
    )


def fdr_mask(pvalues, alpha):
    """Benjamini-Hochberg at level ``alpha`` over the finite p-values."""
    mask = np.zeros(len(pvalues), dtype=bool)
    finite = np.isfinite(pvalues)
    if finite.any():
        adjusted = stats.false_discovery_control(pvalues[finite], method="bh")
        mask[finite] = adjusted <= alpha
    return mask
