"""The audit's epsilon lower bound where the true epsilon is known, and on models.

Coverage: the share of runs in which the 95 % lower bound exceeds the true
epsilon (should be at most 5 %), for skmem's bound and for two wrong versions
computed from the same scores:

- a Laplace mechanism (exactly eps-DP, eps = 3), one trial per sample; wrong
  version: the threshold chosen on the samples that are counted;
- randomized response (eps = 1) drawn once per sample and shared by its 45
  member and 5 non-member pairs (10 folds x 5 repeats); wrong version: the
  pairs counted as independent trials;
- a null (true epsilon 0) through the whole audit, LiRA included, without
  and with a shift shared by all samples of a model (sd 5 against a
  per-sample noise of 0.5-2).

Models: epsilon_lower_bound on 300 points of moons, 5 folds x 3 repeats, for a
model that ignores its data and kernel density estimates from broad to
memorizing, and on scikit-learn's digits (standardized, 1797 x 64).

    python benchmarks/bench_audit.py [--runs 200]
"""

import argparse

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits, make_moons
from sklearn.metrics import roc_curve
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from skmem import MemorizationScorer
from skmem._audit import (
    _epsilon_from_rates,
    clopper_pearson_upper,
    epsilon_lower_bound,
    membership_audit,
)


def kfold_masks(n, n_folds, n_repeats, rng):
    test = np.zeros((n_folds * n_repeats, n), dtype=bool)
    for r in range(n_repeats):
        fold = rng.permutation(n) % n_folds
        for k in range(n_folds):
            test[r * n_folds + k] = fold == k
    groups = [np.arange(r * n_folds, (r + 1) * n_folds) for r in range(n_repeats)]
    return ~test, test, groups


def chosen_on_the_counted(scores, members, nonmembers, delta=1e-5):
    """Wrong: the best threshold over all samples, counted on the same ones."""
    keep = members | nonmembers
    n = keep.shape[1]
    weights = np.where(members, 1 / members.sum(0), 1 / nonmembers.sum(0))[keep]
    fpr, tpr, thresholds = roc_curve(
        members[keep], scores[keep], sample_weight=weights, drop_intermediate=False
    )
    bound = _epsilon_from_rates(
        clopper_pearson_upper(fpr * n, n, 0.025),
        clopper_pearson_upper((1 - tpr) * n, n, 0.025),
        delta,
    )
    return max(0.0, float(np.max(bound[np.isfinite(thresholds)])))


def pairs_as_trials(found, members, nonmembers, delta=1e-5):
    """Wrong: skmem's threshold and rates, with each pair counted as a trial."""
    n_out = nonmembers[:, found.counted].sum()
    n_in = members[:, found.counted].sum()
    bound = _epsilon_from_rates(
        clopper_pearson_upper(found.fpr * n_out, n_out, 0.025),
        clopper_pearson_upper(found.fnr * n_in, n_in, 0.025),
        delta,
    )
    return max(0.0, float(bound))


def coverage(runs):
    rng = np.random.default_rng(0)
    eps, n = 3.0, 3000
    right, wrong = [], []
    for _ in range(runs):
        member = np.zeros((2, n), dtype=bool)
        member[0, : n // 2] = member[1, n // 2 :] = True
        noise = rng.laplace(size=(2, n))
        scores = np.where(member, eps + noise, noise)
        right.append(epsilon_lower_bound(scores, member, ~member).epsilon)
        wrong.append(chosen_on_the_counted(scores, member, ~member))
    report("Laplace, eps 3, 3000 samples", eps, right, wrong, "chosen on counted")

    eps, n = 1.0, 1000
    keep = np.exp(eps) / (1 + np.exp(eps))
    right, wrong = [], []
    for _ in range(runs):
        train, test, _ = kfold_masks(n, 10, 5, rng)
        as_member, as_non_member = rng.random(n) < keep, rng.random(n) >= keep
        scores = np.where(train, as_member, as_non_member).astype(float)
        found = epsilon_lower_bound(scores, train, test)
        right.append(found.epsilon)
        wrong.append(pairs_as_trials(found, train, test))
    report("randomized response, eps 1, shared", eps, right, wrong, "pairs as trials")

    for model_sd in (0.0, 5.0):
        right = []
        for _ in range(runs):
            train, test, groups = kfold_masks(300, 5, 3, rng)
            ll = rng.normal(0, 20, 300) + rng.uniform(0.5, 2, 300) * rng.normal(
                size=train.shape
            )
            # A shift shared by all samples of a model (its seed's luck).
            ll += rng.normal(0, model_sd, (len(ll), 1))
            found = membership_audit(ll, train, test, groups)
            right.append(found.epsilon_lower_bound)
        report(f"null through LiRA, model sd {model_sd:g}", 0.0, right)


def report(name, eps, right, wrong=None, wrong_name=""):
    right = np.asarray(right)
    line = (
        f"{name:38s} exceed {np.mean(right > eps):6.1%}  "
        f"median bound {np.median(right):.2f} (true {eps:g})"
    )
    if wrong is not None:
        line += f"  | {wrong_name}: exceed {np.mean(np.asarray(wrong) > eps):.1%}"
    print(line, flush=True)


class IgnoresData(BaseEstimator):
    """log N(x; 0, I) plus seed noise: no memorization."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y=None):
        return self

    def score_samples(self, X):
        noise = np.random.RandomState(self.random_state).normal(size=len(X))
        return -0.5 * (X**2).sum(1) + 0.3 * noise


def models():
    moons, _ = make_moons(300, noise=0.05, random_state=0)
    digits = StandardScaler().fit_transform(load_digits().data)
    cases = [("moons", "ignores its data", IgnoresData(), moons)]
    cases += [
        ("moons", f"KDE bandwidth {bw:g}", KernelDensity(bandwidth=bw), moons)
        for bw in (2.0, 0.2, 0.05, 0.01)
    ]
    cases += [
        ("digits", f"KDE bandwidth {bw:g}", KernelDensity(bandwidth=bw), digits)
        for bw in (3.0, 1.0)
    ]
    for data, name, estimator, X in cases:
        scorer = MemorizationScorer(estimator, cv=5, n_repeats=3, random_state=0)
        audit = scorer.fit(X).membership_audit()
        precision = audit.precision_at_prior
        print(
            f"{data:6s} {name:22s} AUC {audit.auc:.3f}  TPR@1% "
            f"{audit.tpr_at_fpr[0.01]:.3f}  epsilon >= "
            f"{audit.epsilon_lower_bound:.2f}  precision@1% prior 0.01/0.1/0.5: "
            + "/".join(f"{precision[p][0.01]:.2f}" for p in (0.01, 0.1, 0.5)),
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    coverage(args.runs)
    models()


if __name__ == "__main__":
    main()
