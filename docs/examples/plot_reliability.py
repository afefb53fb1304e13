"""
How many repeats does a reliable ranking need?
==============================================

A memorization score from one pass of K-fold cross-validation is noisy: each
sample is held out by one model, and a VAE's training is random. Repeating the
folds with new shuffles (``n_repeats``) averages the noise away. The fitted
``reliability_`` says how far: the rank correlation between the scores from two
halves of the repeats, corrected to the full number (Spearman-Brown).

Here a VAE on binarized digits is scored with 10 repeats of 10 folds, and the
reliability of the ranking is computed for every number of repeats from the
same models: for R repeats, the scores from the first R are compared with those
of the next R (while there are enough) and corrected.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import spearmanr

from skmem import MemorizationScorer, VAEDensity, memorization_scores
from skmem.datasets import load_digits

X = load_digits(binarize=True)
n_folds, n_repeats = 10, 10
vae = VAEDensity(
    latent_dim=8,
    hidden_layer_sizes=(256,),
    max_epochs=20,
    n_importance_samples=64,
)
scorer = MemorizationScorer(
    vae, cv=n_folds, n_repeats=n_repeats, n_jobs=-1, random_state=0
).fit(X)
print(f"reliability_ with {n_repeats} repeats: {scorer.reliability_:.2f}")


def scores_of(repeats):
    models = np.concatenate(
        [np.arange(r * n_folds, (r + 1) * n_folds) for r in repeats]
    )
    return memorization_scores(
        scorer.log_likelihoods_[models], scorer.train_masks_[models]
    )


# Correlation between two disjoint sets of R repeats, and its Spearman-Brown
# prediction for more repeats.
measured = {}
for R in range(1, n_repeats // 2 + 1):
    rho = spearmanr(scores_of(range(R)), scores_of(range(R, 2 * R)))[0]
    measured[R] = rho
one = measured[1]
predicted = {R: R * one / (1 + (R - 1) * one) for R in range(1, 31)}
for R in (1, 3, 5):
    print(f"{R} repeat(s): rank correlation between two runs {measured[R]:.2f}")
print(f"10 repeats (split-half, corrected): {scorer.reliability_:.2f}")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(list(predicted), list(predicted.values()), label="Spearman-Brown from 1 repeat")
ax.plot(list(measured), list(measured.values()), "o", label="two disjoint runs")
ax.plot([n_repeats], [scorer.reliability_], "s", label="reliability_ (10 repeats)")
ax.axhline(0.8, color="grey", lw=0.8, ls="--")
ax.set_xlabel("repeats of 10-fold cross-validation")
ax.set_ylabel("reliability of the ranking")
ax.set_ylim(0, 1)
ax.legend()
fig.tight_layout()
