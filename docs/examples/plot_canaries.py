"""
Which samples are memorized? Canaries, intervals, flags and an audit
====================================================================

A score is only useful if it says plainly which samples are memorized beyond
chance. Here 20 random binary images ("canaries") are added once to the
binarized digits. Nothing else looks like them, so a VAE can only fit them by
memorizing them: they are the signal a user needs to find, and the bulk of the
digits should not be flagged.

With repeats, :class:`~skmem.MemorizationScorer` gives every score a 95 %
interval (``memorization_ci_``) and a p-value for "memorized beyond the bulk of
the samples" (``memorization_pvalues_``); :meth:`~skmem.MemorizationScorer.memorized`
turns them into flags at a false-discovery rate.
:meth:`~skmem.MemorizationScorer.membership_audit` asks the privacy question
with the same models: from a model's log-likelihood of a sample, can one tell
whether the sample was in its training set?

To keep the example quick it uses 500 of the digits and three repeats;
``benchmarks/bench_canaries.py`` runs the same check on all 1,797 digits with
the repeats that ``n_repeats="auto"`` picks.
"""

import matplotlib.pyplot as plt
import numpy as np

from skmem import MemorizationScorer, VAEDensity
from skmem.datasets import load_digits
from skmem.plotting import MembershipAuditDisplay

X = load_digits(binarize=True)[:500]  # a subset keeps the example quick
rng = np.random.default_rng(0)
canaries = rng.integers(0, 2, size=(20, X.shape[1])).astype(np.float64)
X = np.vstack([X, canaries])
is_canary = np.arange(len(X)) >= len(X) - 20

vae = VAEDensity(
    latent_dim=8, hidden_layer_sizes=(256,), max_epochs=100, n_importance_samples=64
)
scorer = MemorizationScorer(vae, cv=10, n_repeats=3, n_jobs=-1, random_state=0)
scorer.fit(X)

flagged = scorer.memorized(alpha=0.05)
print(f"reliability of the ranking: {scorer.reliability_:.2f}")
print(f"canaries flagged at FDR 5 %: {flagged[is_canary].sum()} of 20")
print(f"digits flagged: {flagged[~is_canary].sum()} of {(~is_canary).sum()}")

# %%
# Scores with their intervals, most memorized first. The canaries (red) stand
# out; the flagged samples are filled.
M = scorer.memorization_scores_
low, high = scorer.memorization_ci_.T
order = np.argsort(M)[::-1][:60]
fig, ax = plt.subplots(figsize=(9, 3.5))
for rank, i in enumerate(order):
    color = "C3" if is_canary[i] else "C0"
    ax.plot([rank, rank], [low[i], high[i]], color=color, lw=1)
    ax.plot(
        rank,
        M[i],
        "o",
        color=color,
        mfc=color if flagged[i] else "white",
        ms=4,
    )
ax.axhline(np.median(M), color="grey", ls="--", lw=1, label="median M")
ax.set(
    xlabel="rank (most memorized first)",
    ylabel="M (nats), 95 % interval",
    title="red: canaries; filled: memorized at FDR 5 %",
)
ax.legend()
fig.tight_layout()

# %%
# The flagged digits that are not canaries, if any: atypical writing.
digits_flagged = np.flatnonzero(flagged & ~is_canary)[:10]
if len(digits_flagged):
    fig, axes = plt.subplots(
        1, len(digits_flagged), figsize=(1.2 * len(digits_flagged), 1.6)
    )
    for ax, i in zip(np.atleast_1d(axes), digits_flagged, strict=True):
        ax.imshow(X[i].reshape(8, 8), cmap="gray_r")
        ax.set_title(f"{M[i]:.1f}", fontsize=8)
        ax.axis("off")
else:
    print("No digit is flagged.")

# %%
# The membership audit. An AUC near 0.5 means membership cannot be told from
# the models; the true-positive rate at a low false-positive rate is what a
# privacy audit reports.
audit = scorer.membership_audit()
print(f"audit AUC {audit.auc:.3f}; TPR at FPR 1 %: {audit.tpr_at_fpr[0.01]:.3f}")
MembershipAuditDisplay.from_audit(audit, name="VAE")
plt.show()
