"""Planted canaries under the demo's VAE: are they flagged, and is the bulk not?

Binarized digits with 20 random binary images ("canaries") added once, scored
by the demo's VAE (64-256-8, 100 epochs, IWAE 128) with ``n_repeats="auto"``.
Prints how many canaries are flagged at FDR 0.05, how many of the other
samples are, and whether those are atypical (their held-out log-likelihood),
the membership audit, and the paper's aggregate against the matched one on the
same log-likelihoods.

    python benchmarks/bench_canaries.py [--epochs 100] [--max-repeats 6]
        [--repeats 3] [--figure flagged.png]

``--repeats`` fixes the number of repeats instead of ``"auto"``.

``--figure`` draws the flagged digits next to random unflagged ones, to see
whether they are atypical.
"""

import argparse
import time

import numpy as np
from scipy.stats import rankdata, spearmanr
from sklearn.metrics import roc_auc_score

from skmem import MemorizationScorer, VAEDensity, memorization_scores
from skmem.datasets import load_digits


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--max-repeats", type=int, default=6)
    parser.add_argument("--target", type=float, default=0.8)
    parser.add_argument("--repeats", type=int, help="fixed n_repeats, not auto")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--figure", help="PNG of the flagged digits")
    args = parser.parse_args()

    X = load_digits(binarize=True)
    rng = np.random.default_rng(0)
    canaries = rng.integers(0, 2, size=(20, X.shape[1])).astype(np.float64)
    X = np.vstack([X, canaries])
    is_canary = np.r_[np.zeros(len(X) - 20, bool), np.ones(20, bool)]

    vae = VAEDensity(
        latent_dim=8,
        hidden_layer_sizes=(256,),
        max_epochs=args.epochs,
        n_importance_samples=128,
    )
    scorer = MemorizationScorer(
        vae,
        cv=10,
        n_repeats="auto" if args.repeats is None else args.repeats,
        target_reliability=args.target,
        max_repeats=args.max_repeats,
        n_jobs=args.n_jobs,
        random_state=0,
        verbose=1,
    )
    start = time.perf_counter()
    scorer.fit(X)
    elapsed = time.perf_counter() - start

    M = scorer.memorization_scores_
    flagged = scorer.memorized(alpha=0.05)
    others = flagged & ~is_canary
    print(
        f"\nfit: {elapsed:.0f}s, {scorer.n_repeats_} repeats, reliability "
        f"{scorer.reliability_:.2f}"
    )
    print(f"canaries flagged at FDR 0.05: {flagged[is_canary].sum()} of 20")
    from skmem._inference import fdr_mask

    for name in ("contrast", "rank"):
        alone = fdr_mask(getattr(scorer._inference, f"{name}_pvalues"), 0.05)
        print(
            f"  by the {name} test alone: {alone[is_canary].sum()} of 20 canaries, "
            f"{alone[~is_canary].sum()} digits"
        )
    print(
        f"other samples flagged: {others.sum()} of {(~is_canary).sum()} "
        f"({100 * others.mean():.2f} %)"
    )
    if others.any():
        # Atypical? The percentile of their held-out log-likelihood among digits.
        V = scorer.out_log_likelihood_[~is_canary]
        pct = 100 * (rankdata(V) - 0.5) / len(V)
        print(
            f"  their held-out log-likelihood percentiles: "
            f"{np.sort(pct[others[~is_canary]]).round(1).tolist()}"
        )
        print(f"  indices: {np.flatnonzero(others).tolist()}")
    if args.figure and others.any():
        _draw(X, np.flatnonzero(others), ~flagged & ~is_canary, M, args.figure)
    print(f"canary AUC of M: {roc_auc_score(is_canary, M):.3f}")
    low, high = scorer.memorization_ci_[is_canary].T
    print(
        f"canary M: median {np.median(M[is_canary]):.2f} nats, "
        f"median 95% interval [{np.median(low):.2f}, {np.median(high):.2f}]; "
        f"digits' median M {np.median(M[~is_canary]):.2f}"
    )
    audit = scorer.membership_audit()
    print(
        f"membership audit: AUC {audit.auc:.3f}, TPR at FPR 0.1% "
        f"{audit.tpr_at_fpr[0.001]:.3f}, at 1% {audit.tpr_at_fpr[0.01]:.3f}"
    )

    ll, train, test = scorer.log_likelihoods_, scorer.train_masks_, scorer.test_masks_
    paper = memorization_scores(ll, train, test, aggregate="logmeanexp")
    digits = ~is_canary
    spread = np.where(test, np.nan, ll)[:, digits]
    spread = np.nanstd(spread, axis=0)
    typicality = -scorer.out_log_likelihood_[digits]
    for name, scores in (("logmeanexp", paper), ("matched", M)):
        print(
            f"{name:>10}: mean M over digits {scores[digits].mean():+.3f}, "
            f"Spearman(M, -V) {spearmanr(scores[digits], typicality)[0]:+.2f}, "
            f"Spearman(M, spread) {spearmanr(scores[digits], spread)[0]:+.2f}"
        )


def _draw(X, flagged, unflagged, M, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    rows = {
        "flagged digits": flagged[np.argsort(-M[flagged])][:16],
        "random unflagged": rng.choice(np.flatnonzero(unflagged), 16, replace=False),
    }
    fig, axes = plt.subplots(2, 16, figsize=(16, 2.6))
    for r, (label, indices) in enumerate(rows.items()):
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c < len(indices):
                ax.imshow(X[indices[c]].reshape(8, 8), cmap="gray_r")
                ax.set_title(f"#{indices[c]}\n{M[indices[c]]:.1f}", fontsize=7)
        axes[r][0].text(-12, 4, label, fontsize=8, va="center")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"  figure: {path}")


if __name__ == "__main__":
    main()
