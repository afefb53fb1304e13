"""The membership audit where the truth is known: its epsilon lower bound's
coverage under mechanisms of known epsilon, the attack's AUC at a planted
Gaussian leakage (closed form), the precision at priors, and what verbose says
about pairs left unscored. Simulations use synthetic log-likelihood or score
matrices (cheap, exact truth); two end-to-end cases use real models."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import beta, binomtest, norm
from sklearn.base import BaseEstimator
from sklearn.datasets import make_moons
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer
from skmem._audit import (
    clopper_pearson_upper,
    epsilon_lower_bound,
    membership_audit,
)


def _kfold_masks(n, n_folds, n_repeats, rng):
    """Train and test masks of repeated KFold, and the repeats' model indices."""
    test = np.zeros((n_folds * n_repeats, n), dtype=bool)
    for r in range(n_repeats):
        fold = rng.permutation(n) % n_folds
        for k in range(n_folds):
            test[r * n_folds + k] = fold == k
    groups = [np.arange(r * n_folds, (r + 1) * n_folds) for r in range(n_repeats)]
    return ~test, test, groups


def _exceed_limit(runs, level=0.05):
    """At most ``level`` of the runs, plus two binomial standard errors."""
    return level * runs + 2 * np.sqrt(runs * level * (1 - level))


# -- epsilon: coverage where the true epsilon is known --------------------------


def test_epsilon_bound_covers_a_laplace_mechanism():
    # Each sample is one trial of the Laplace mechanism, which is exactly
    # eps-DP: a member's score is eps + Laplace(1), a non-member's Laplace(1).
    # Every threshold t >= eps is tight (TPR = e^eps FPR), so a threshold
    # chosen on the same samples that are counted picks the luckiest one:
    # that wrong version exceeds eps in about 15 % of the runs.
    eps, n, runs = 3.0, 3000, 150
    rng = np.random.default_rng(0)
    bounds = []
    for _ in range(runs):
        member = np.zeros((2, n), dtype=bool)
        member[0, : n // 2] = member[1, n // 2 :] = True
        noise = rng.laplace(size=(2, n))
        scores = np.where(member, eps + noise, noise)
        bounds.append(epsilon_lower_bound(scores, member, ~member).epsilon)
    bounds = np.array(bounds)
    assert (bounds > eps).sum() <= _exceed_limit(runs)
    # ...and it is not vacuous: it finds most of the epsilon.
    assert np.median(bounds) > 0.75 * eps


def test_epsilon_bound_counts_samples_not_pairs():
    # Randomized response with eps = 1, drawn once per sample and shared by
    # all its pairs (45 member and 5 non-member pairs at 10 folds x 5
    # repeats): the pairs of a sample are one trial. Counting the pairs as
    # independent trials exceeds eps in about 35 % of the runs.
    eps, n, runs = 1.0, 1000, 100
    rng = np.random.default_rng(1)
    keep = np.exp(eps) / (1 + np.exp(eps))
    bounds = []
    for _ in range(runs):
        train, test, _ = _kfold_masks(n, 10, 5, rng)
        as_member = rng.random(n) < keep
        as_non_member = rng.random(n) >= keep
        scores = np.where(train, as_member, as_non_member).astype(float)
        bounds.append(epsilon_lower_bound(scores, train, test).epsilon)
    bounds = np.array(bounds)
    assert (bounds > eps).sum() <= _exceed_limit(runs)
    assert np.median(bounds) > 0.6 * eps


def test_epsilon_bound_is_zero_under_the_null_through_the_attack():
    # Log-likelihoods that ignore membership (true epsilon 0), samples whose
    # typical log-likelihoods differ a lot: the whole audit, LiRA included.
    runs = 40
    rng = np.random.default_rng(2)
    bounds = []
    for _ in range(runs):
        train, test, groups = _kfold_masks(300, 5, 3, rng)
        ll = rng.normal(0, 20, 300) + rng.uniform(0.5, 2, 300) * rng.normal(
            size=train.shape
        )
        bounds.append(membership_audit(ll, train, test, groups).epsilon_lower_bound)
    assert (np.array(bounds) > 0).sum() <= _exceed_limit(runs)


def test_epsilon_bound_by_hand():
    rng = np.random.default_rng(3)
    train, test, groups = _kfold_masks(200, 5, 3, rng)
    ll = rng.normal(size=train.shape) + 1.5 * train
    audit = membership_audit(ll, train, test, groups)
    found = audit.epsilon_audit
    # The rates on the counting half at the chosen threshold, sample by
    # sample, and Clopper-Pearson from scipy's binomtest (integer counts;
    # a two-sided 95 % interval's upper end is the one-sided 97.5 % bound).
    fp, fn = [], []
    for i in found.counted:
        s = audit.scores[:, i]
        fp.append(np.mean(s[test[:, i]] >= found.threshold))
        fn.append(np.mean(s[train[:, i]] < found.threshold))
    n = len(found.counted)
    assert n == 100
    assert found.fpr == pytest.approx(np.mean(fp))
    assert found.fnr == pytest.approx(np.mean(fn))
    for k in (0, 3, 50, 99):
        expected = binomtest(k, n).proportion_ci(0.95, method="exact").high
        assert clopper_pearson_upper(k, n, 0.025) == pytest.approx(expected)
    assert clopper_pearson_upper(n, n, 0.025) == 1.0
    delta = found.delta
    expected = max(
        np.log((1 - delta - found.fpr_upper) / found.fnr_upper),
        np.log((1 - delta - found.fnr_upper) / found.fpr_upper),
        0.0,
    )
    assert audit.epsilon_lower_bound == pytest.approx(expected)
    # Each rate at one-sided 97.5 %, so that both hold together at 95 %
    # (fractional counts: a mean of per-sample rates).
    for rate, upper in ((found.fpr, found.fpr_upper), (found.fnr, found.fnr_upper)):
        assert upper == pytest.approx(beta.ppf(0.975, rate * n + 1, n - rate * n))


def test_epsilon_bound_uses_both_inequalities():
    # Half of the members are exposed outright (score 10), the rest look like
    # non-members: the attack is sure at a high threshold (FPR near 0, FNR
    # 0.5), where only log((1 - delta - FNR) / FPR) is large; the other
    # form, log((1 - delta - FPR) / FNR), stays below log 2.
    rng = np.random.default_rng(7)
    member = np.zeros((2, 2000), dtype=bool)
    member[0, :1000] = member[1, 1000:] = True
    scores = rng.normal(size=member.shape)
    scores[member & (rng.random(member.shape) < 0.5)] = 10.0
    found = epsilon_lower_bound(scores, member, ~member)
    assert found.fpr == 0 and found.fnr == pytest.approx(0.5, abs=0.05)
    assert found.epsilon > 3


# -- the attack at moderate, known leakage (issue 20) ----------------------------


def test_audit_auc_at_a_planted_gaussian_shift():
    # Half of the samples gain delta standard deviations when trained on.
    # With exact references, LiRA's ratio is monotone in x - mu_i, so over
    # those samples' pairs the AUC is P(N(delta, 1) > N(0, 1)) =
    # Phi(delta / sqrt(2)); over the others it is 0.5. The samples' typical
    # log-likelihoods differ by tens of nats: an attack on the raw
    # log-likelihood, without the per-sample references, sees almost nothing.
    delta, n = 0.75, 600
    rng = np.random.default_rng(4)
    train, test, groups = _kfold_masks(n, 5, 20, rng)
    typical = rng.normal(0, 30, n)
    spread = rng.uniform(0.5, 3, n)
    leaks = np.arange(n) < n // 2
    ll = typical + spread * (rng.normal(size=train.shape) + delta * train * leaks)
    audit = membership_audit(ll, train, test, groups)
    pairs = train | test

    def auc(columns):
        return roc_auc_score(
            train[:, columns][pairs[:, columns]],
            audit.scores[:, columns][pairs[:, columns]],
        )

    assert auc(leaks) == pytest.approx(norm.cdf(delta / np.sqrt(2)), abs=0.02)
    assert auc(~leaks) == pytest.approx(0.5, abs=0.02)
    assert 0.55 < audit.auc < auc(leaks)
    # The exposed samples are the leaking ones.
    assert roc_auc_score(leaks, audit.sample_scores) > 0.95
    # The mechanism is Gaussian (mu-GDP with mu = delta): its epsilon at delta
    # 1e-5 solves Phi(-e/mu + mu/2) - exp(e) Phi(-e/mu - mu/2) = 1e-5.
    grid = np.linspace(0.01, 10, 5000)
    gdp = norm.cdf(-grid / delta + delta / 2) - np.exp(grid) * norm.cdf(
        -grid / delta - delta / 2
    )
    true_eps = grid[np.argmax(gdp <= 1e-5)]
    assert 0 < audit.epsilon_lower_bound < true_eps


# -- precision at priors, the goals on real models, verbose ----------------------


def test_precision_at_priors_is_bayes_rule_at_the_nominal_rate():
    rng = np.random.default_rng(5)
    train, test, groups = _kfold_masks(300, 5, 3, rng)
    ll = rng.normal(size=train.shape) + 1.0 * train
    audit = membership_audit(ll, train, test, groups, priors=(0.01, 0.5))
    assert set(audit.precision_at_prior) == {0.01, 0.5}
    for prior, by_rate in audit.precision_at_prior.items():
        for f, precision in by_rate.items():
            tpr = audit.tpr_at_fpr[f]
            assert precision == pytest.approx(
                prior * tpr / (prior * tpr + (1 - prior) * f)
            )
        # Rarer members, lower precision at the same operating point.
    assert audit.precision_at_prior[0.01][0.01] < audit.precision_at_prior[0.5][0.01]


class IgnoresData(BaseEstimator):
    """A density that does not look at its training set: a standard normal
    log-density plus noise from its seed (no memorization)."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y=None):
        return self

    def score_samples(self, X):
        noise = np.random.RandomState(self.random_state).normal(size=len(X))
        return -0.5 * (X**2).sum(1) + 0.3 * noise


def test_epsilon_goals_on_real_models():
    X, _ = make_moons(300, noise=0.05, random_state=0)
    for estimator in (IgnoresData(), KernelDensity(bandwidth=2.0)):
        scorer = MemorizationScorer(estimator, cv=5, n_repeats=3, random_state=0)
        audit = scorer.fit(X).membership_audit()
        assert audit.epsilon_lower_bound <= 0.5
        assert max(audit.precision_at_prior[0.5].values()) < 0.75
    scorer = MemorizationScorer(
        KernelDensity(bandwidth=0.01), cv=5, n_repeats=3, random_state=0
    )
    audit = scorer.fit(X).membership_audit(priors=(0.1,), delta=0.0)
    assert audit.epsilon_lower_bound >= 1
    assert audit.epsilon_audit.delta == 0.0
    assert audit.precision_at_prior[0.1][0.01] > 0.8


def test_audit_refuses_bad_priors_and_delta():
    X, _ = make_moons(60, noise=0.05, random_state=0)
    scorer = MemorizationScorer(
        KernelDensity(bandwidth=0.3), cv=3, n_repeats=2, random_state=0
    ).fit(X)
    with pytest.raises(ValueError, match="priors must be shares"):
        scorer.membership_audit(priors=(0.0, 0.5))
    with pytest.raises(ValueError, match="delta must be a number"):
        scorer.membership_audit(delta=1.0)


def test_verbose_says_which_pairs_are_left_unscored(capsys):
    rng = np.random.default_rng(6)
    train, test, groups = _kfold_masks(50, 5, 3, rng)
    ll = rng.normal(size=train.shape)
    ll[0, 3] = -np.inf  # one pair of sample 3 has zero density
    ll[:, 7] = np.nan  # sample 7 has no finite log-likelihood at all
    ll[5:, 9] = np.nan  # sample 9 has finite ones in the first repeat only
    audit = membership_audit(ll, train, test, groups, verbose=1)
    out = capsys.readouterr().out
    assert "26 (model, sample) pairs of 3 samples have a non-finite" in out
    # Sample 9's 5 finite pairs have no references in the other repeats.
    assert "5 pairs of 1 samples are not scored: the other repeats" in out
    assert "sample_scores is NaN for 2 samples" in out
    assert "epsilon leaves out 2 samples without both" in out
    assert np.isnan(audit.sample_scores[[7, 9]]).all()
    assert np.isfinite(np.delete(audit.sample_scores, [7, 9])).all()
    assert np.isnan(audit.scores[0, 3]) and np.isnan(audit.scores[:, [7, 9]]).all()
    assert np.isfinite(audit.scores[1:, 3]).all()
    assert "epsilon >=" in out
    membership_audit(ll, train, test, groups)
    assert capsys.readouterr().out == ""


def test_the_command_line_and_its_summary_show_the_audit(tmp_path, monkeypatch, capsys):
    from skmem import cli

    X, _ = make_moons(120, noise=0.05, random_state=0)
    np.save(tmp_path / "d.npy", X)
    monkeypatch.chdir(tmp_path)
    args = ["score", "d.npy", "--param", "bandwidth=0.02", "--cv", "4"]
    args += ["--no-preprocess"]  # the same KDE as below, on the raw columns
    assert cli.main([*args, "--n-jobs", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # lines wrap at 100 columns
    expected = (
        MemorizationScorer(
            KernelDensity(bandwidth=0.02), cv=4, n_repeats=3, random_state=0
        )
        .fit(X)
        .membership_audit()
    )
    summary = json.loads(Path("scores.json").read_text())["summary"]["kde"]
    audit = summary["audit"]
    assert audit["epsilon_lower_bound"] == pytest.approx(expected.epsilon_lower_bound)
    assert audit["epsilon_lower_bound"] >= 1
    assert audit["precision_at_fpr_1%"]["prior 0.1"] == pytest.approx(
        expected.precision_at_prior[0.1][0.01]
    )
    assert (
        f"membership audit: AUC {expected.auc:.3f}, TPR "
        f"{expected.tpr_at_fpr[0.01]:.3f} at FPR 1 %; epsilon >= "
        f"{expected.epsilon_lower_bound:.2f} (95 % lower bound, delta 1e-05); "
        "precision at FPR 1 %: prior 0.01 " in out
    )
