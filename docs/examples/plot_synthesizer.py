"""
A generator without a likelihood: a table synthesizer
=====================================================

Synthetic-data generators (GANs, CTGAN/TVAE-style synthesizers, SMOTE-like
interpolation) can sample but give no likelihood, so they have no
``score_samples`` for :class:`~skmem.MemorizationScorer`.
:class:`~skmem.SampledDensity` trains the generator, draws samples from it,
and scores records under a kernel density of those samples, so that models
which trained on a record can be compared with models which held it out.

The adapter is the whole interface: a class with ``fit(X)`` and
``sample(n_samples, random_state=None)`` returning a numeric array. A library's
synthesizer fits behind the same few lines (its training in ``fit``, its
generation in ``sample``; encode categorical columns as numbers)::

    class Adapter(BaseEstimator):
        def __init__(self, epochs=300, random_state=None):
            self.epochs, self.random_state = epochs, random_state

        def fit(self, X):
            self.model_ = SomeSynthesizer(epochs=self.epochs, seed=self.random_state)
            self.model_.fit(X)
            return self

        def sample(self, n_samples, random_state=None):
            return np.asarray(self.model_.sample(n_samples, seed=random_state))

Here two synthesizers learn the iris measurements (standardized), with three
records moved far from the others: an interpolating synthesizer (SMOTE-like:
a point on the segment from a random record to one of its nearest neighbours),
which copies its records by construction, and a Gaussian synthesizer (a mean
and a covariance), which cannot copy anything.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.datasets import load_iris
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from skmem import MemorizationScorer, SampledDensity


class InterpolatingSynthesizer(BaseEstimator):
    """SMOTE-like: x_i + u (x_j - x_i), x_j one of x_i's nearest neighbours."""

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    def fit(self, X):
        self.X_ = np.asarray(X, dtype=float)
        nn = NearestNeighbors(n_neighbors=self.n_neighbors + 1).fit(self.X_)
        self.neighbors_ = nn.kneighbors(self.X_, return_distance=False)[:, 1:]
        return self

    def sample(self, n_samples, random_state=None):
        rng = np.random.RandomState(random_state)
        i = rng.randint(len(self.X_), size=n_samples)
        j = self.neighbors_[i, rng.randint(self.n_neighbors, size=n_samples)]
        u = rng.uniform(size=(n_samples, 1))
        return self.X_[i] + u * (self.X_[j] - self.X_[i])


class GaussianSynthesizer(BaseEstimator):
    """Samples from a Gaussian with the data's mean and covariance."""

    def fit(self, X):
        self.mean_, self.cov_ = np.mean(X, axis=0), np.cov(X, rowvar=False)
        return self

    def sample(self, n_samples, random_state=None):
        rng = np.random.RandomState(random_state)
        return rng.multivariate_normal(self.mean_, self.cov_, size=n_samples)


X = StandardScaler().fit_transform(load_iris().data)
planted = [10, 60, 110]
X[planted] += np.array([[4.0, -4, 4, 0], [-4, 4, 0, 4], [4, 4, -4, -4]])

results = {}
for name, synthesizer in [
    ("interpolating", InterpolatingSynthesizer()),
    ("Gaussian", GaussianSynthesizer()),
]:
    scorer = MemorizationScorer(
        SampledDensity(synthesizer, n_samples=5000), cv=5, n_repeats=3, random_state=0
    ).fit(X)
    M = scorer.memorization_scores_
    copies = scorer.data_copying(n_generated=1000, n_cells=2)
    results[name] = M, copies
    print(f"{name} synthesizer")
    print(f"  most memorized: {np.argsort(-M)[:5].tolist()} (planted: {planted})")
    print(f"  median M {np.median(M):.2f}, M of the planted {np.round(M[planted], 1)}")
    print(f"  memorized at FDR 5 %: {int(scorer.memorized().sum())} records")
    print(f"  C_T per fold model: {np.round(copies.statistics, 1).tolist()}")

# %%
# The interpolating synthesizer copies: its samples sit on its records (C_T
# about -5 for every fold model), and its isolated records get the largest
# scores. The Gaussian one copies nothing (C_T > 0: its samples are farther
# from the records than fresh data is), yet the planted records still score
# high under it: its covariance stretches towards them when it trains on them,
# a real dependence on those records, which its own likelihood would show too.
#
# M against the number of a model's samples that lie closer to the record
# than its nearest held-out record: the copied records stand out in both.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
for ax, (name, (M, copies)) in zip(axes, results.items(), strict=True):
    ax.scatter(copies.n_closer, M, s=12, alpha=0.6, label="records")
    ax.scatter(copies.n_closer[planted], M[planted], s=40, color="C3", label="planted")
    ax.axhline(0, color="k", lw=1)
    ax.set(
        xscale="symlog",
        yscale="symlog",
        xlabel="samples closer than the nearest held-out record",
        title=f"{name} synthesizer",
    )
axes[0].set_ylabel("memorization score M (nats)")
axes[0].legend()
fig.tight_layout()
plt.show()
