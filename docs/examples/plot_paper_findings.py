"""
The paper's findings, at small scale on digits
==============================================

van den Burg & Williams (2021) found that memorization in VAEs grows with
training time and learning rate, that the most memorized samples are atypical,
and that the nearest-neighbour test does not find them. The same experiments
here, on 1000 binarized digits with 10 folds.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import KFold
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer, VAEDensity
from skmem.baselines import compare_scores, nearest_neighbor_distance_ratio
from skmem.datasets import load_digits

X = load_digits(binarize=True)[:1000]
cv = KFold(10, shuffle=True, random_state=0)


def fit(**params):
    vae = VAEDensity(
        latent_dim=8, hidden_layer_sizes=(256,), n_importance_samples=64, **params
    )
    return MemorizationScorer(vae, cv=cv, n_jobs=-1, random_state=0).fit(X)


# %%
# Memorization grows with training time and with the learning rate.
epochs = [5, 20, 80]
by_epochs = [fit(max_epochs=e) for e in epochs]
rates = [3e-4, 1e-3, 3e-3]
by_rate = [fit(max_epochs=20, learning_rate=r) for r in rates]
q95 = [np.quantile(s.memorization_scores_, 0.95) for s in by_epochs]
q95_rate = [np.quantile(s.memorization_scores_, 0.95) for s in by_rate]
for e, q in zip(epochs, q95, strict=True):
    print(f"{e:3d} epochs: 0.95 quantile of M = {q:.2f} nats")
for r, q in zip(rates, q95_rate, strict=True):
    print(f"learning rate {r:g}: 0.95 quantile of M = {q:.2f} nats")

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
axes[0].plot(epochs, q95, "o-")
axes[0].set_xlabel("epochs")
axes[0].set_ylabel("0.95 quantile of M (nats)")
axes[1].semilogx(rates, q95_rate, "o-")
axes[1].set_xlabel("learning rate (20 epochs)")
fig.tight_layout()

# %%
# The most memorized samples are atypical: they lie where the data is sparse,
# measured by a leave-one-out kernel density of the training data itself.
scorer = by_epochs[-1]
M = scorer.memorization_scores_
kde = KernelDensity(bandwidth=1.0).fit(X)
typicality = kde.score_samples(X)
agreement = compare_scores(M, -typicality, top_k=50)
print(f"Spearman(M, atypicality) = {agreement.spearman:.2f}")

# %%
# The nearest-neighbour test (is a generated sample closer to a training
# sample than held-out data is?) barely agrees with the memorization score.
train, test = (
    np.flatnonzero(scorer.train_masks_[0]),
    np.flatnonzero(scorer.test_masks_[0]),
)
generated = scorer.estimators_[0].sample(len(train), random_state=0)
ratio = nearest_neighbor_distance_ratio(X[train], generated, X[test])
nn = compare_scores(M[train], ratio, top_k=50)
print(
    f"Spearman(M, NN ratio) = {nn.spearman:.2f}, top-50 overlap {nn.top_k_overlap:.2f}"
)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
axes[0].scatter(typicality, M, s=4)
axes[0].set_xlabel("log-density of the data around the sample")
axes[0].set_ylabel("M (nats)")
axes[1].scatter(ratio, M[train], s=4)
axes[1].set_xscale("log")
axes[1].set_xlabel("nearest-neighbour distance ratio")
fig.tight_layout()
plt.show()
