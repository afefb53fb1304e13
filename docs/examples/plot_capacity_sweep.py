"""
Model capacity and early stopping: fit against memorization
===========================================================

A larger model fits unseen data better, up to a point, and memorizes more.
:func:`skmem.memorization_sweep` measures both for each value of one setting,
on the same folds and seeds: the mean held-out log-likelihood (up is better)
and the quantiles of the memorization score M (left is less memorized).

Here, VAEs with 16, 64 and 256 hidden units on 200 binarized digits, trained
for 150 epochs and scored at five checkpoints, so that each capacity is a line
through its epochs. Early stopping (``early_stopping=True``: the checkpoint
with the best held-out log-likelihood) is the top of each line. The setup is
that of :ref:`sphx_glr_auto_examples_plot_paper_findings.py`, which shows the
effect of training time and learning rate.
"""

import numpy as np
from sklearn.model_selection import KFold

from skmem import MemorizationScorer, VAEDensity, memorization_sweep
from skmem.datasets import load_digits
from skmem.plotting import (
    MemorizationExplanationDisplay,
    MemorizationTradeoffDisplay,
    NearestNeighborsDisplay,
)

X = load_digits(binarize=True)[:200]
vae = VAEDensity(
    latent_dim=8,
    n_importance_samples=32,
    learning_rate=3e-3,
    max_epochs=150,
    checkpoints=[10, 25, 50, 100, 150],
)
scorer = MemorizationScorer(
    vae, cv=KFold(10, shuffle=True, random_state=0), random_state=0, early_stopping=True
)
capacities = [(16,), (64,), (256,)]
results, scorers = memorization_sweep(
    scorer, X, {"estimator__hidden_layer_sizes": capacities}, return_scorers=True
)
columns = [
    "estimator__hidden_layer_sizes",
    "epoch",
    "held_out_log_likelihood",
    "memorization_mean",
    "memorization_q0.95",
]
print(results[columns].round(2).to_string(index=False))

# %%
# Each line is one capacity, from its first checkpoint (open circle) to its
# last. Memorization grows with training at every capacity, and with capacity
# at every epoch; the held-out fit improves with both until the largest
# model starts to overfit.
display = MemorizationTradeoffDisplay.from_sweep(results, name="VAE, 200 digits")

# %%
# Early stopping picks, per capacity, the checkpoint with the best held-out
# log-likelihood; it stops before the end only where the held-out fit turns,
# and there it cuts the memorization.
for size, fitted in zip(capacities, scorers, strict=True):
    final = np.quantile(fitted.memorization_curve_[-1], 0.95)
    stopped = np.quantile(fitted.memorization_scores_, 0.95)
    print(
        f"{size[0]:4d} hidden units: early stopping at epoch "
        f"{fitted.best_checkpoint_:3d}, 0.95 quantile of M {stopped:.2f} nats "
        f"(after 150 epochs: {final:.2f})"
    )

# %%
# Why is a record memorized? With three repeats the largest model's records
# get p-values and flags. Each record is a point at its out-model (V) and
# in-model (U) log-likelihood: its M is its height above the diagonal.
# Memorized records (red) lie far above it; outliers (grey) are low in both,
# atypical digits that the model does not need to have seen; the flagged
# records are circled, with the interval of M as a bar.
large = MemorizationScorer(
    VAEDensity(
        latent_dim=8,
        hidden_layer_sizes=(256,),
        n_importance_samples=32,
        learning_rate=3e-3,
        max_epochs=100,
    ),
    cv=10,
    n_repeats=3,
    random_state=0,
).fit(X)
print(f"flagged at FDR 5 %: {large.memorized().sum()} of {len(X)} digits")
explanation = MemorizationExplanationDisplay.from_estimator(large, name="256 units")

# %%
# The flagged digits next to their nearest training digits: each is unlike
# its neighbours, so the model can only fit it well by having seen it.
neighbours = NearestNeighborsDisplay.from_estimator(
    large, X, image_shape=(8, 8), n_records=4, n_neighbors=5
)
