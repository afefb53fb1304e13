"""
Weight decay and data augmentation: do they limit memorization?
===============================================================

Regularisation is the usual answer to memorization. Two kinds are tried
here on 500 binarized digits, with :func:`skmem.memorization_sweep` (same
folds and seeds for every value): weight decay, and data augmentation by
random pixel flips.

Augmentation must happen **inside each fold's model**: a wrapper estimator
whose ``fit`` adds noisy copies of the rows it is given. The scorer passes
each model only its training rows, so the copies of a held-out record never
reach the model that holds it out. Augmenting ``X`` before scoring would put
a near-copy of every record in its own out-model, and hide its memorization.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state

from skmem import MemorizationScorer, VAEDensity, memorization_sweep
from skmem.datasets import load_digits
from skmem.plotting import MemorizationTradeoffDisplay

X = load_digits(binarize=True)[:500]
vae = VAEDensity(
    latent_dim=8,
    hidden_layer_sizes=(256,),
    n_importance_samples=32,
    learning_rate=3e-3,
    max_epochs=40,
)
cv = KFold(10, shuffle=True, random_state=0)
columns = ["held_out_log_likelihood", "memorization_mean", "memorization_q0.95"]

# %%
# Weight decay (Adam's L2 penalty) lowers the memorization scores, and costs
# held-out fit once it is strong.
decay = memorization_sweep(
    MemorizationScorer(vae, cv=cv, random_state=0),
    X,
    {"estimator__weight_decay": [0.0, 1e-2, 3e-2, 1e-1]},
)
print(decay[["estimator__weight_decay", *columns]].round(3).to_string(index=False))


# %%
# Augmentation: each copy of the training rows flips every pixel with
# probability ``flip``. More rows mean more gradient steps per epoch, and
# training longer memorizes more; so the number of epochs is divided by the
# number of copies, to compare at equal numbers of steps.
class FlipAugmented(BaseEstimator):
    """Fit ``estimator`` on the rows and ``n_copies`` noisy copies of them."""

    def __init__(self, estimator, n_copies=1, flip=0.1, random_state=None):
        self.estimator = estimator
        self.n_copies = n_copies
        self.flip = flip
        self.random_state = random_state

    def fit(self, X, y=None):
        rng = check_random_state(self.random_state)
        flips = [rng.uniform(size=X.shape) < self.flip for _ in range(self.n_copies)]
        rows = np.vstack([X] + [np.abs(X - f) for f in flips])
        self.estimator_ = clone(self.estimator).fit(rows)
        return self

    def score_samples(self, X):
        return self.estimator_.score_samples(X)


augmented = memorization_sweep(
    MemorizationScorer(FlipAugmented(vae), cv=cv, random_state=0),
    X,
    [
        {"estimator__n_copies": [1], "estimator__estimator__max_epochs": [20]},
        {"estimator__n_copies": [3], "estimator__estimator__max_epochs": [10]},
    ],
)
# Same folds, seeds and steps: no augmentation is the first weight decay row.
augmented = pd.concat(
    [decay.iloc[:1].assign(estimator__n_copies=0), augmented], ignore_index=True
).astype({"estimator__n_copies": int})
print(augmented[["estimator__n_copies", *columns]].round(3).to_string(index=False))

# %%
# Both on one figure: up is a better held-out fit, left less memorization.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
MemorizationTradeoffDisplay.from_sweep(decay, name="weight decay", ax=axes[0])
MemorizationTradeoffDisplay.from_sweep(
    augmented[["estimator__n_copies", *columns]],
    name="pixel-flip augmentation",
    ax=axes[1],
)
plt.show()
