"""
The paper's findings, at small scale on digits
==============================================

van den Burg & Williams (2021) found that memorization in VAEs grows with
training time and learning rate, that early stopping reduces it, that the most
memorized samples are atypical, and that the nearest-neighbour test does not
find them. The same experiments here, on 1000 binarized digits with 10 folds.

The paper records log p(x) every few epochs of one training run. So does
``checkpoints``: one cross-validation run gives the whole curve, instead of one
run per number of epochs.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import KFold
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer, VAEDensity
from skmem.baselines import compare_scores, nearest_neighbor_distance_ratio
from skmem.datasets import load_digits
from skmem.plotting import MemorizationCurveDisplay

X = load_digits(binarize=True)[:1000]
cv = KFold(10, shuffle=True, random_state=0)


def fit(**params):
    vae = VAEDensity(
        latent_dim=8, hidden_layer_sizes=(256,), n_importance_samples=64, **params
    )
    return MemorizationScorer(vae, cv=cv, n_jobs=-1, random_state=0).fit(X)


# %%
# Memorization grows with training time: one run of 80 epochs, scored at five
# checkpoints. The value at epoch 20 is exactly what a run with
# ``max_epochs=20`` gives, with the same folds and seeds. Left: quantiles of M;
# right: the training and held-out loss, which part ways long before the
# memorization stops growing.
scorer = fit(max_epochs=80, checkpoints=[5, 10, 20, 40, 80])
for epoch, M in zip(scorer.checkpoints_, scorer.memorization_curve_, strict=True):
    print(f"{epoch:3d} epochs: 0.95 quantile of M = {np.quantile(M, 0.95):.2f} nats")
display = MemorizationCurveDisplay.from_estimator(scorer, name="VAE")

# %%
# Here the held-out log-likelihood still improves at epoch 80, while the most
# memorized samples keep gaining: memorization is not overfitting. On 200
# digits trained for longer, the held-out loss turns, and early stopping on
# held-out data (the checkpoint with the best mean held-out log-likelihood,
# picked from the same curve at no extra cost) stops before the
# memorization is at its worst. With ``early_stopping=True`` the scores,
# error bars and tests are those of that checkpoint.
small = MemorizationScorer(
    VAEDensity(
        latent_dim=8,
        hidden_layer_sizes=(256,),
        n_importance_samples=64,
        learning_rate=3e-3,
        max_epochs=200,
        checkpoints=[25, 50, 100, 150, 200],
    ),
    cv=cv,
    n_jobs=-1,
    random_state=0,
    early_stopping=True,
).fit(X[:200])
final = small.memorization_curve_[-1]
print(
    f"early stopping at epoch {small.best_checkpoint_}: 0.95 quantile of M = "
    f"{np.quantile(small.memorization_scores_, 0.95):.2f} nats, against "
    f"{np.quantile(final, 0.95):.2f} after 200 epochs"
)
display = MemorizationCurveDisplay.from_estimator(small, name="200 digits")

# %%
# Memorization grows with the learning rate too, at every epoch.
rates = [3e-4, 1e-3, 3e-3]
fig, ax = plt.subplots(figsize=(4.5, 3.5))
for rate in rates:
    by_rate = fit(max_epochs=20, learning_rate=rate, checkpoints=[5, 10, 20])
    q95 = np.quantile(by_rate.memorization_curve_, 0.95, axis=1)
    print(f"learning rate {rate:g}: 0.95 quantile of M = {q95[-1]:.2f} nats")
    ax.plot(by_rate.checkpoints_, q95, "o-", label=f"{rate:g}")
ax.set(xlabel="epoch", ylabel="0.95 quantile of M (nats)")
ax.legend(title="learning rate")
fig.tight_layout()

# %%
# The most memorized samples are atypical: they lie where the data is sparse,
# measured by a leave-one-out kernel density of the training data itself.
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
