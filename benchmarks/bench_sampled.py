"""SampledDensity on cases whose truth is known: the figures of issue 19.

1. A generator that ignores its data (standard-normal samples) on 300 records,
   5 folds x 3 repeats: mean M and the records flagged at FDR 5 % (truth: 0).
2. Five planted outliers on moons (400 points, noise 0.08): their ranks under
   ``SampledDensity(KernelDensity(bandwidth=0.05))`` and under the KDE's own
   likelihood (truth: the top 5 in both).
3. GaussianMixture(3) on three blobs: Spearman correlation between the
   log-density of its samples' KDE and its own log-likelihood, and between the
   memorization scores through 10,000 and 50,000 samples and through its
   likelihood (10 folds).

    python benchmarks/bench_sampled.py
"""

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator
from sklearn.datasets import make_blobs, make_moons
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer, SampledDensity


class IgnoresData(BaseEstimator):
    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X):
        return self

    def sample(self, n_samples, random_state=None):
        return np.random.RandomState(random_state).normal(size=(n_samples, 2))


def main():
    for seed in range(3):
        X = np.random.RandomState(6 + seed).normal(size=(300, 2))
        scorer = MemorizationScorer(
            SampledDensity(IgnoresData(), n_samples=5000),
            cv=5,
            n_repeats=3,
            random_state=seed,
        ).fit(X)
        print(
            f"ignores its data (seed {seed}): mean M "
            f"{scorer.memorization_scores_.mean():+.4f}, flagged "
            f"{int(scorer.memorized().sum())} of 300"
        )

    X, _ = make_moons(400, noise=0.08, random_state=0)
    outliers = np.array([[3, 3], [-3, 2], [2.5, -2.5], [-2.5, -2], [0.5, 3.5]])
    X = np.vstack([X, outliers])
    kde = KernelDensity(bandwidth=0.05)
    for name, est in (("SampledDensity(KDE 0.05)", SampledDensity(kde)), ("KDE", kde)):
        M = MemorizationScorer(est, cv=10, random_state=0).fit(X).memorization_scores_
        top = np.argsort(-M)[:5]
        print(f"{name}: top 5 {sorted(top.tolist())} (planted 400..404)")

    X, _ = make_blobs(300, centers=3, cluster_std=[0.5, 1.0, 2.0], random_state=0)
    gmm = GaussianMixture(3, random_state=0)
    model = SampledDensity(gmm, random_state=0).fit(X)
    rho = spearmanr(model.score_samples(X), model.generator_.score_samples(X))[0]
    print(f"GMM log-density through 10,000 samples vs its likelihood: rho {rho:.3f}")
    own = MemorizationScorer(gmm, cv=10, random_state=0).fit(X)
    for n_samples in (10_000, 50_000):
        sampled = MemorizationScorer(
            SampledDensity(gmm, n_samples=n_samples), cv=10, random_state=0
        ).fit(X)
        rho_m = spearmanr(sampled.memorization_scores_, own.memorization_scores_)[0]
        print(f"GMM M through {n_samples} samples vs its likelihood: rho {rho_m:.3f}")


if __name__ == "__main__":
    main()
