"""The unbiased score, per-sample intervals and p-values, FDR flags, checked where
the truth is known: a null with no memorization, overfitting that is not
memorization, planted memorized samples, and brute-force references."""

import warnings
from itertools import combinations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, RepeatedKFold, ShuffleSplit
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer, memorization_scores
from skmem._inference import moderate_variances


def _repeated_masks(n_samples, n_repeats, seed):
    cv = RepeatedKFold(n_splits=10, n_repeats=n_repeats, random_state=seed)
    rows = np.arange(n_samples)
    test = np.array([np.isin(rows, te) for _, te in cv.split(rows[:, None])])
    return ~test, test


# -- the matched aggregate ------------------------------------------------------


@pytest.mark.parametrize("n_repeats", [1, 3, 10])
def test_matched_is_unbiased_under_a_heteroscedastic_null(n_repeats):
    # Log-likelihoods that ignore the training set (true M = 0 for every
    # sample), with a per-sample model-to-model spread s_i in [0.2, 1.5] nats.
    rng = np.random.default_rng(n_repeats)
    n = 10_000
    spread = rng.uniform(0.2, 1.5, n)
    train, test = _repeated_masks(n, n_repeats, seed=n_repeats)
    log_likelihoods = -5.0 + rng.normal(size=train.shape) * spread
    matched = memorization_scores(log_likelihoods, train, test)
    paper = memorization_scores(log_likelihoods, train, test, aggregate="logmeanexp")
    assert abs(matched.mean()) < 0.03
    assert abs(spearmanr(matched, spread)[0]) < 0.05
    # The paper's estimator is biased upwards, most for the high-spread samples.
    assert paper.mean() > 0.04
    assert paper[spread > 1.2].mean() > 2 * paper.mean()
    assert spearmanr(paper, spread)[0] > 0.1


def _brute_force_matched(log_likelihoods, train, test):
    """Every subset of min(n_in, n_out) models, one sample at a time."""
    scores = []
    for i in range(log_likelihoods.shape[1]):
        ins = log_likelihoods[train[:, i], i]
        outs = log_likelihoods[test[:, i], i]
        m = min(len(ins), len(outs))

        def mean_lme(values, m=m):
            subsets = np.array(list(combinations(range(len(values)), m)))
            return np.mean(logsumexp(values[subsets], axis=1) - np.log(m))

        scores.append(mean_lme(ins) - mean_lme(outs))
    return np.array(scores)


def test_matched_equals_the_u_statistic_with_unequal_counts():
    # ShuffleSplit: every sample has its own numbers of in- and out-models.
    rng = np.random.default_rng(0)
    n = 25
    rows = np.arange(n)
    cv = ShuffleSplit(9, test_size=0.4, random_state=0)
    test = np.array([np.isin(rows, te) for _, te in cv.split(rows[:, None])])
    log_likelihoods = rng.normal(size=test.shape) * 2
    log_likelihoods[0, 3] = -np.inf  # zero density is legal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # samples never held out get NaN
        got = memorization_scores(log_likelihoods, ~test, test)
    expected = _brute_force_matched(log_likelihoods, ~test, test)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_matched_with_one_repeat_is_mean_in_minus_out():
    rng = np.random.default_rng(1)
    train, test = _repeated_masks(50, 1, seed=0)
    log_likelihoods = rng.normal(size=train.shape)
    got = memorization_scores(log_likelihoods, train, test)
    mean = memorization_scores(log_likelihoods, train, test, aggregate="mean")
    np.testing.assert_allclose(got, mean, rtol=1e-12)


def test_matched_has_a_closed_form_when_the_in_models_agree():
    # Equal in-model values a_i make every subset's log-mean-exp a_i, so
    # U_i = a_i; V_i is the log-mean-exp of the R out-model values (as many as
    # the subsets hold). An arithmetic mean would give a_i - mean(b_i) instead.
    rng = np.random.default_rng(3)
    train, test = _repeated_masks(40, 4, seed=3)
    a = rng.normal(size=40)
    log_likelihoods = np.where(train, a, rng.normal(scale=3.0, size=train.shape))
    out = log_likelihoods.T[test.T].reshape(40, 4)
    expected = a - (logsumexp(out, axis=1) - np.log(4))
    got = memorization_scores(log_likelihoods, train, test)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.abs(got - (a - out.mean(axis=1))).min() > 0.05


def test_matched_beyond_512_subsets_approximates_the_u_statistic():
    # 27 in-models, 3 out-models: 2925 subsets of 3, more than are enumerated.
    rng = np.random.default_rng(2)
    train, test = _repeated_masks(20, 3, seed=0)
    log_likelihoods = rng.normal(size=train.shape)
    train, test, log_likelihoods = train[:, :6], test[:, :6], log_likelihoods[:, :6]
    got = memorization_scores(log_likelihoods, train, test)
    expected = _brute_force_matched(log_likelihoods, train, test)
    # The Monte Carlo error of 512 subsets is far below the score's own noise.
    np.testing.assert_allclose(got, expected, atol=0.05)
    np.testing.assert_array_equal(
        got, memorization_scores(log_likelihoods, train, test)
    )


# -- estimators whose truth is known ---------------------------------------------


class NullDensity:
    """Log-likelihoods that ignore the training set: N(0, s_i^2) noise from the
    model's seed, with the sample's own spread s_i in column 0. Rows whose
    column 1 is in ``memorize`` gain ``boost`` nats when trained on, and every
    training row gains ``overfit`` nats."""

    def __init__(self, random_state=None, overfit=0.0, memorize=(), boost=0.0):
        self.random_state = random_state
        self.overfit = overfit
        self.memorize = memorize
        self.boost = boost

    def get_params(self, deep=True):
        return dict(
            random_state=self.random_state,
            overfit=self.overfit,
            memorize=self.memorize,
            boost=self.boost,
        )

    def set_params(self, **params):
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, X, y=None):
        self.seen_ = set(X[:, 1].tolist())
        return self

    def score_samples(self, X):
        noise = np.random.RandomState(self.random_state).normal(size=len(X))
        seen = np.isin(X[:, 1], list(self.seen_))
        planted = np.isin(X[:, 1], list(self.memorize))
        return noise * X[:, 0] + seen * (self.overfit + self.boost * planted)


def _null_data(n, seed):
    spread = np.random.default_rng(seed).uniform(0.2, 1.5, n)
    return np.column_stack([spread, np.arange(n)])


def _fit(estimator, X, n_repeats, seed):
    return MemorizationScorer(
        estimator, cv=10, n_repeats=n_repeats, random_state=seed
    ).fit(X)


@pytest.mark.parametrize("n_repeats", [3, 10])
def test_pvalues_are_uniform_and_flags_rare_under_the_null(n_repeats):
    n, n_runs = 300, 16
    below, runs_with_flags, covered = [], 0, []
    for seed in range(n_runs):
        scorer = _fit(NullDensity(), _null_data(n, seed), n_repeats, seed)
        p = scorer.memorization_pvalues_
        assert np.isfinite(p).all()
        below.append((p < 0.05).mean())
        runs_with_flags += scorer.memorized(alpha=0.05).any()
        low, high = scorer.memorization_ci_.T
        covered.append(((low < 0) & (0 < high)).mean())
    # Binomial error of the fraction below 0.05 over n * n_runs p-values.
    se = np.sqrt(0.05 * 0.95 / (n * n_runs))
    assert abs(np.mean(below) - 0.05) < 3 * se
    # Benjamini-Hochberg under the complete null flags anything in about
    # alpha of the runs.
    assert runs_with_flags <= 2
    # The intervals are for M itself, whose log-mean-exp over R out-models is
    # skewed: their coverage is near, not exactly, 95 % (93-95 % measured).
    assert 0.92 < np.mean(covered) < 0.97


def test_overfitting_is_not_memorization():
    # Every training row gets the same 2 nats more: M_i = 2 for all.
    X = _null_data(300, 0)
    scorer = _fit(NullDensity(overfit=2.0), X, 5, 0)
    assert abs(np.median(scorer.memorization_scores_) - 2.0) < 0.1
    assert scorer.memorized().sum() <= 1
    # A test of M_i > 0 finds the shift nearly everywhere; of M_i > 3 nowhere.
    assert scorer.memorized(threshold=0).mean() > 0.9
    assert not scorer.memorized(threshold=3.0).any()


def test_planted_memorization_is_found_on_top_of_overfitting():
    planted = (3, 50, 120, 200, 250)
    X = _null_data(300, 1)
    estimator = NullDensity(overfit=0.5, memorize=planted, boost=3.0)
    scorer = _fit(estimator, X, 5, 1)
    flagged = np.flatnonzero(scorer.memorized(alpha=0.05))
    assert set(planted) <= set(flagged)
    assert len(flagged) <= len(planted) + 1
    low, high = scorer.memorization_ci_[list(planted)].T
    assert np.all((low < 3.5) & (3.5 < high))  # 0.5 + 3 nats


def test_isolated_outliers_under_a_memorizing_model_are_flagged():
    rng = np.random.RandomState(0)
    inliers = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(6, 1, (150, 2))])
    outliers = np.array(
        [[20.0, -20.0], [-20.0, 20.0], [30.0, 30.0], [15, 5], [-12, -3]]
    )
    pairs = np.array([[-30.0, -30.0], [40.0, -5.0], [-10.0, 40.0]])
    X = np.vstack([inliers, outliers, pairs, pairs])
    scorer = MemorizationScorer(
        KernelDensity(bandwidth=0.5), cv=5, n_repeats=5, random_state=0
    ).fit(X)
    flagged = scorer.memorized()
    assert flagged[300:305].all()
    # Each copy of a duplicate covers for the other, unless both fall in one
    # fold: far lower scores than the outliers'.
    scores = scorer.memorization_scores_
    assert np.median(scores[305:]) < 0.1 * scores[300:305].min()
    assert flagged[:300].mean() < 0.1


def test_inference_needs_three_repeats():
    X = _null_data(60, 0)
    scorer = _fit(NullDensity(), X, 2, 0)
    assert np.isfinite(scorer.memorization_std_).all()
    assert np.isnan(scorer.memorization_ci_).all()
    assert np.isnan(scorer.memorization_pvalues_).all()
    with pytest.raises(ValueError, match="2 repeats ran; use n_repeats >= 3"):
        scorer.memorized()
    scorer = _fit(NullDensity(), X, 3, 0)
    for alpha in (0, 1, -0.1, "0.05"):
        with pytest.raises(ValueError, match="alpha must be a number in"):
            scorer.memorized(alpha=alpha)
    with pytest.raises(TypeError, match="threshold must be a number"):
        scorer.memorized(threshold="high")


def test_flags_do_not_depend_on_row_order():
    X = _null_data(200, 3)
    estimator = NullDensity(memorize=(7, 70), boost=4.0)
    order = np.random.default_rng(0).permutation(len(X))
    a = _fit(estimator, X, 4, 0)
    b = _fit(estimator, X[order], 4, 0)
    # Different row order means different folds, but the planted samples are
    # found either way.
    assert set(np.flatnonzero(a.memorized())) == {7, 70}
    assert set(X[order][b.memorized(), 1].astype(int)) == {7, 70}


def test_moderation_pools_when_variances_are_equal():
    # Equal true variances: the estimated spread is sampling noise, so every
    # posterior variance is the common prior and the degrees of freedom are
    # infinite (or large).
    rng = np.random.default_rng(0)
    variances = rng.chisquare(4, size=5000) / 4
    posterior, df_total = moderate_variances(variances, 4)
    assert df_total > 100
    assert np.ptp(posterior) < 0.15
    assert abs(np.median(posterior) - 1) < 0.05
    # A trend the covariate explains is kept, not shrunk away.
    scale = np.exp(rng.uniform(-2, 2, 5000))
    posterior, _ = moderate_variances(variances * scale, 4, covariate=np.log(scale))
    assert spearmanr(posterior, scale)[0] > 0.95


# -- the membership audit and n_repeats='auto' ---------------------------------


def test_audit_scores_match_a_per_pair_loop():
    X = np.random.RandomState(0).normal(size=(40, 2))
    scorer = MemorizationScorer(
        KernelDensity(bandwidth=0.3), cv=4, n_repeats=3, random_state=0
    ).fit(X)
    audit = scorer.membership_audit()
    ll, train, test = scorer.log_likelihoods_, scorer.train_masks_, scorer.test_masks_
    n_models, n = ll.shape
    # The out-model spread: the in-model spread times a ratio pooled over all.
    in_var = [ll[train[:, i], i].var(ddof=1) for i in range(n)]
    out_var = [ll[test[:, i], i].var(ddof=1) for i in range(n)]
    ratio = np.mean(out_var) / np.mean(in_var)

    def log_pdf(x, mean, var):
        return -0.5 * (np.log(2 * np.pi * var) + (x - mean) ** 2 / var)

    for k in range(n_models):
        # References: the models of the other repeats only (4 folds a repeat).
        others = np.arange(n_models) // 4 != k // 4
        for i in range(n):
            ins, outs = ll[others & train[:, i], i], ll[others & test[:, i], i]
            x, var = ll[k, i], ins.var(ddof=1)
            expected = log_pdf(x, ins.mean(), var) - log_pdf(
                x, outs.mean(), ratio * var
            )
            assert audit.scores[k, i] == pytest.approx(expected, rel=1e-8, abs=1e-8)
    labels = train[train | test]
    assert audit.auc == pytest.approx(roc_auc_score(labels, audit.scores[train | test]))
    assert audit.n_pairs == n_models * n
    assert set(audit.tpr_at_fpr) == {0.001, 0.01}


def test_audit_is_chance_under_the_null_and_near_one_for_a_narrow_kde():
    # Members and non-members are judged against references of the same size,
    # so the AUC is 0.5 also with few repeats (it was 0.45 with references
    # that left out only the model under test).
    for cv, n_repeats in ((10, 2), (5, 4)):
        X = _null_data(400, n_repeats)
        null = MemorizationScorer(
            NullDensity(), cv=cv, n_repeats=n_repeats, random_state=0
        )
        audit = null.fit(X).membership_audit()
        assert abs(audit.auc - 0.5) < 0.015
        assert 0.003 < audit.tpr_at_fpr[0.01] < 0.03
        assert abs(np.nanmean(audit.sample_scores)) < 0.1

    X = np.random.RandomState(0).normal(size=(200, 2))
    kde = MemorizationScorer(
        KernelDensity(bandwidth=0.02), cv=5, n_repeats=3, random_state=0
    ).fit(X)
    audit = kde.membership_audit()
    assert audit.auc > 0.99
    assert audit.tpr_at_fpr[0.01] > 0.9


def test_audit_needs_two_repeats():
    X = _null_data(50, 0)
    scorer = MemorizationScorer(NullDensity(), cv=5, random_state=0).fit(X)
    with pytest.raises(ValueError, match="needs n_repeats >= 2 of KFold"):
        scorer.membership_audit()


class CountingKDE(KernelDensity):
    """A KernelDensity that counts its fits (the generic engine, one process)."""

    fits = 0

    def fit(self, X, y=None, sample_weight=None):
        type(self).fits += 1
        return super().fit(X)


def test_auto_repeats_stop_at_the_target_and_equal_a_fixed_run(capsys):
    X = np.random.RandomState(0).normal(size=(80, 2))
    CountingKDE.fits = 0
    auto = MemorizationScorer(
        CountingKDE(bandwidth=0.2),
        cv=4,
        n_repeats="auto",
        target_reliability=0.9,
        engine="generic",
        random_state=0,
        verbose=1,
    ).fit(X)
    out = capsys.readouterr().out
    n = auto.n_repeats_
    assert 2 < n < 10
    # No model fitted twice: each repeat adds its 4 models once.
    assert CountingKDE.fits == 4 * n
    lines = [line for line in out.splitlines() if "reliability" in line]
    assert len(lines) == n - 2  # from 3 repeats on
    assert auto.reliability_ >= 0.9
    fixed = MemorizationScorer(
        CountingKDE(bandwidth=0.2),
        cv=4,
        n_repeats=n,
        engine="generic",
        random_state=0,
    ).fit(X)
    for name in (
        "memorization_scores_",
        "memorization_pvalues_",
        "memorization_ci_",
        "seeds_",
        "train_masks_",
    ):
        np.testing.assert_array_equal(getattr(auto, name), getattr(fixed, name))
    assert auto.reliability_ == fixed.reliability_
    # One repeat fewer did not reach the target.
    fewer = fixed.set_params(n_repeats=n - 1).fit(X)
    assert fewer.reliability_ < 0.9


def test_auto_repeats_warn_at_the_cap_for_noise():
    X = _null_data(100, 0)
    scorer = MemorizationScorer(
        NullDensity(), cv=5, n_repeats="auto", max_repeats=3, random_state=0
    )
    with pytest.warns(UserWarning, match="after max_repeats=3 repeats"):
        scorer.fit(X)
    assert scorer.n_repeats_ == 3


def test_auto_repeats_need_an_integer_cv():
    with pytest.raises(ValueError, match="needs an integer cv"):
        MemorizationScorer(cv=KFold(3), n_repeats="auto").fit(np.eye(6))


@pytest.mark.parametrize(
    "params",
    [
        {"n_repeats": "many"},
        {"target_reliability": 1.0},
        {"target_reliability": 0},
        {"max_repeats": 2},
    ],
)
def test_bad_repeat_parameters_are_rejected(params):
    with pytest.raises(ValueError, match=next(iter(params))):
        MemorizationScorer(**params).fit(np.eye(20))


# -- the within-repeat rank test, the bulk's degrees of freedom, the trend ------


def _kfold_plan(n_samples, n_splits, n_repeats, seed):
    cv = RepeatedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    rows = np.arange(n_samples)
    test = np.array([np.isin(rows, te) for _, te in cv.split(rows[:, None])])
    groups = [np.arange(r * n_splits, (r + 1) * n_splits) for r in range(n_repeats)]
    return ~test, test, groups


def test_rank_pvalues_are_the_mid_p_of_the_rank_sum_by_enumeration():
    from itertools import product

    from skmem._inference import RepeatRanks

    K, R, n = 4, 3, 60
    train, test, groups = _kfold_plan(n, K, R, 0)
    rng = np.random.RandomState(0)
    ll = rng.normal(size=(K * R, n)).round(1)  # ties between models too
    # Sample 0: its out-model below every in-model in every repeat, the
    # smallest rank sum; sample 1: above all of them, the largest.
    ll[:, 0] = np.where(test[:, 0], -10.0, ll[:, 0])
    ll[:, 1] = np.where(test[:, 1], 10.0, ll[:, 1])
    ranks = RepeatRanks.from_plan(ll, train, test, groups)
    # Under the null each repeat's rank is uniform on 0..K-1, independently.
    sums = np.array([sum(c) for c in product(range(K), repeat=R)])
    for shift in (0.0, 0.35, -1.2):
        observed = sum(
            ((ll[m] <= (ll[m] * test[m]).sum(0) + shift) & train[m]).sum(0)
            for m in groups
        )
        expected = [(sums < s).mean() + (sums == s).mean() / 2 for s in observed]
        np.testing.assert_allclose(ranks.pvalues(shift, 0.0), expected, rtol=1e-12)
    p = ranks.pvalues(0.0, 0.0)
    assert p[0] == pytest.approx(K**-R / 2, rel=1e-12)  # the documented floor
    assert p[1] == pytest.approx(1 - K**-R / 2, rel=1e-12)
    # Integrated over a shift N(mu0, tau^2): a probability-weighted mean of
    # the fixed-shift p-values, so between their extremes.
    wide = ranks.pvalues(0.0, 2.0)
    assert (wide > 0).all() and (wide < 1).all()


def _bulk_null(n, n_repeats, tau, prior_df, seed):
    """Per-repeat contrasts of a bulk with no memorization: true means
    N(0, tau^2), per-sample variances scaled inverse chi-square (prior_df)."""
    rng = np.random.default_rng(seed)
    variance = 3.0 * prior_df / rng.chisquare(prior_df, n)
    means = tau * rng.normal(size=n)
    return means + np.sqrt(variance) * rng.normal(size=(n_repeats, n))


@pytest.mark.parametrize("seed", [0, 1])
def test_bulk_pvalues_are_uniform_when_the_bulk_spread_dominates(seed):
    # The bulk's spread tau = 4 against a per-sample standard error of about 1:
    # the statistic is close to normal, and its degrees of freedom are far
    # more than the 6 or so of the moderated variance (Satterthwaite). Treated
    # as t with 6 degrees of freedom, 0.2% of them fall below 0.01 (measured).
    from skmem._inference import sample_inference

    n, R = 6000, 3
    contrasts = _bulk_null(n, R, 4.0, 4, seed)
    scores = contrasts.mean(axis=0)
    result = sample_inference(
        scores, contrasts.std(axis=0, ddof=1), contrasts, np.zeros(n)
    )
    p = result.contrast_pvalues
    assert np.isfinite(p).all() and 4 < result.df < 20
    assert result.bulk_spread == pytest.approx(4.0, rel=0.1)
    for level in (0.002, 0.01, 0.05, 0.2):
        se = np.sqrt(level * (1 - level) / n)
        assert abs((p < level).mean() - level) < 4 * se, level


def test_a_covariate_off_the_fitted_range_gets_the_trend_at_its_end():
    # limma-trend's prior beyond the fitted covariates is the prior at the
    # nearest fitted one: a sample at -inf (in-model log-likelihoods that never
    # vary) or +inf, left out of the fit, gets exactly the posterior of the
    # sample at the smallest (largest) covariate when their variances are equal;
    # and nothing overflows.
    rng = np.random.default_rng(1)
    n = 500
    covariate = rng.uniform(-3, 3, n)
    variances = np.exp(2 * covariate) * rng.chisquare(3, n) / 3
    for index, value, end in ((0, -np.inf, np.argmin), (1, np.inf, np.argmax)):
        off, same = covariate.copy(), variances.copy()
        off[index] = value
        at = end(np.where(np.isfinite(off), off, -value))
        same[index] = same[at]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            posterior, _ = moderate_variances(same, 3, off)
        assert np.isfinite(posterior).all()
        assert posterior[index] == posterior[at]
    reference, _ = moderate_variances(variances, 3, covariate)
    assert spearmanr(reference, covariate)[0] > 0.8  # a trend, to be clipped


def test_raw_breast_cancer_inference_raises_no_warning():
    # Unscaled features that differ in units by 1e4: some samples' in-model
    # log-likelihoods never vary (log-variance -inf). Without clipping, the
    # trend there overflowed to inf and numpy warned.
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer().data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scorer = MemorizationScorer(
            KernelDensity(bandwidth="scott"), cv=10, n_repeats=3, random_state=0
        ).fit(X)
    assert np.isfinite(scorer.memorization_pvalues_).all()
    assert np.isfinite(scorer.memorization_std_).all()
