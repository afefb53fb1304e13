"""
Data copying and memorization against the bandwidth of a KDE
============================================================

Meehan, Chaudhuri and Dasgupta (AISTATS 2020) test a generator for *data
copying* from its samples alone: in each of a few k-means cells of the
training data, are the generated samples closer to the training data than
fresh test data is? Their statistic C_T is a weighted mean of the cells'
Mann-Whitney Z-scores: well below 0 (say < -3) the generator copies, above 0
it underfits. Their moons figure sweeps the bandwidth ``sigma`` of a
kernel density estimate used as the generator, from copying (tiny ``sigma``:
its samples are the training points plus a little noise) to underfitting.

Here is their setup (2,000 training points, 1,000 test points and 1,000
samples, ``noise=0.2``, 5 cells), with :func:`skmem.baselines.data_copying_test`,
and on the same axes the mean memorization score M of the same KDE, from
10-fold cross-validation. Both fall to their null value as ``sigma`` grows,
but they answer different questions: C_T asks whether the *samples* sit on
the training data, M whether the *model* depends on each training record. C_T
turns positive once the model underfits, while M stays at 0 (an underfitting
model memorizes nothing). :meth:`skmem.MemorizationScorer.data_copying` runs
the same test on each fold model (its training rows, its samples, its held-out
fold), so one run gives M per record and C_T per model.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer
from skmem.baselines import data_copying_test

X_train, _ = make_moons(2000, noise=0.2, random_state=0)
X_test, _ = make_moons(1000, noise=0.2, random_state=1)
sigmas = np.logspace(-3, 0, 10)

c_t, c_t_folds, mean_m = [], [], []
for sigma in sigmas:
    kde = KernelDensity(bandwidth=sigma)
    samples = kde.fit(X_train).sample(1000, random_state=2)
    c_t.append(data_copying_test(X_train, samples, X_test, random_state=0).statistic)
    scorer = MemorizationScorer(kde, cv=10, random_state=0).fit(X_train)
    mean_m.append(np.mean(scorer.memorization_scores_))
    c_t_folds.append(scorer.data_copying(n_generated=1000).statistic)

print(" sigma     C_T   C_T (fold models)   mean M")
for row in zip(sigmas, c_t, c_t_folds, mean_m, strict=True):
    print("{:6.3f} {:7.1f} {:19.1f} {:8.2f}".format(*row))

# %%
# C_T (left axis) and mean M (right axis, log scale) against the bandwidth.
# The dotted line marks C_T = 0, the dashed one the bandwidth with the best
# held-out log-likelihood.
best = sigmas[np.argmax([KernelDensity(bandwidth=s).fit(X_train).score(X_test)
                         for s in sigmas])]  # fmt: skip
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(sigmas, c_t, "o-", color="C0", label="C_T (Meehan's setup)")
ax.plot(sigmas, c_t_folds, "s--", color="C2", label="C_T, mean of the fold models")
ax.axhline(0, color="C0", lw=1, ls=":")
ax.axvline(best, color="k", lw=1, ls="--")
ax.set(xscale="log", xlabel="KDE bandwidth sigma", ylabel="C_T")
ax.yaxis.label.set_color("C0")
right = ax.twinx()
right.plot(sigmas, mean_m, "^-", color="C3", label="mean M (nats)")
right.set(yscale="symlog", ylabel="mean memorization score M (nats)")
right.yaxis.label.set_color("C3")
lines = ax.get_lines()[:2] + right.get_lines()
ax.legend(lines, [line.get_label() for line in lines], loc="upper center")
ax.set_title("Moons: data copying (C_T) and memorization (M) against sigma")
fig.tight_layout()
plt.show()
