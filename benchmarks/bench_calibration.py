"""The score's bias and the tests' calibration where the truth is known.

1. Bias: log-likelihoods that ignore the training set (true M = 0), with a
   per-sample model-to-model spread s_i in [0.2, 1.5] nats and 10 folds; mean
   M, mean M of the high-spread samples, Spearman(M, s), for the paper's
   aggregate and the matched one.
2. Calibration: the same null through MemorizationScorer's inference: the
   fraction of p-values below 0.05, the runs in which any sample is flagged at
   FDR 0.05, and the coverage of the 95 % intervals.
3. Overfitting: every training row 0.5 nats better; samples flagged by default.
4. A null with real spread of true M between samples (M_i ~ N(1, 1)).
5. Planted memorization of 2 and 3 nats in 30 of 600 samples: power and the
   false discoveries, for the moderated t test of the contrast alone, the
   within-repeat rank test alone, and their Cauchy combination (the default).
6. Heavy tails: five outliers 30 units from a 3-component GaussianMixture with
   300 inliers (10 folds, 4 repeats), five data seeds: outliers and inliers
   flagged, and samples whose 95 % interval lies wholly above the bulk but
   are not flagged.
7. Engines: standardized breast-cancer features, KernelDensity(bandwidth=1),
   10 folds, 3 repeats: flags of the exact KDE engine against the generic one,
   and the p-values of the 5 top-scored rows.

    python benchmarks/bench_calibration.py [--samples 1800] [--runs 30]
"""

import argparse
import time

import numpy as np
from scipy.stats import spearmanr
from sklearn.model_selection import RepeatedKFold

from skmem import MemorizationScorer, memorization_scores
from skmem._aggregate import _in_out
from skmem._inference import fdr_mask, fit_bulk, jackknife_std, repeated_inference
from skmem._reliability import repeat_groups


def null_run(n, n_repeats, seed, overfit=0.0, true_m=0.0):
    """Log-likelihoods that ignore the training set, plus ``overfit`` nats for
    every training row and ``true_m`` (per sample) for the sample's own."""
    rng = np.random.default_rng(seed)
    spread = rng.uniform(0.2, 1.5, n)
    rows = np.arange(n)
    cv = RepeatedKFold(n_splits=10, n_repeats=n_repeats, random_state=seed)
    test = np.array([np.isin(rows, te) for _, te in cv.split(rows[:, None])])
    ll = -5.0 + rng.normal(size=test.shape) * spread + (overfit + true_m) * ~test
    return ll, ~test, test, spread


def inference(ll, train, test):
    in_ll, out_ll, _ = _in_out(ll, train, test, "matched")
    groups = repeat_groups(test)
    se = jackknife_std(ll, train, test, groups, "matched")
    return repeated_inference(in_ll - out_ll, se, ll, train, test, groups)


def beyond_the_interval(result, scores):
    """Samples whose interval lies wholly above the bulk of the scores
    (median + 1.96 tau, tau from central matching on M) but are not flagged."""
    se2 = (result.std**2)[np.isfinite(scores)]
    mu0, tau = fit_bulk(scores[np.isfinite(scores)], se2, np.inf)
    above = result.ci[:, 0] > mu0 + 1.96 * tau
    return int((above & ~fdr_mask(result.pvalues, 0.05)).sum()), int(above.sum())


def gmm_case(seed):
    from sklearn.mixture import GaussianMixture

    rng = np.random.RandomState(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 8.0]])
    X = np.vstack([c + rng.normal(size=(100, 2)) for c in centres])
    angles = np.linspace(0, 2 * np.pi, 6)[:5] + 0.3
    outliers = X.mean(axis=0) + 30 * np.column_stack([np.cos(angles), np.sin(angles)])
    X = np.vstack([X, outliers])
    scorer = MemorizationScorer(
        GaussianMixture(3, random_state=0), cv=10, n_repeats=4, random_state=seed
    )
    return scorer.fit(X)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1800)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    start = time.perf_counter()

    print("1. bias under the null (10,000 samples, 10 folds)")
    print("repeats  aggregate    mean M   mean M (s > 1.2)   Spearman(M, s)")
    for n_repeats in (1, 3, 10):
        ll, train, test, spread = null_run(10_000, n_repeats, seed=n_repeats)
        for aggregate in ("logmeanexp", "matched"):
            M = memorization_scores(ll, train, test, aggregate=aggregate)
            print(
                f"{n_repeats:>7}  {aggregate:<10} {M.mean():+8.3f} "
                f"{M[spread > 1.2].mean():+18.3f} {spearmanr(M, spread)[0]:+16.3f}"
            )

    n, runs = args.samples, args.runs
    print(f"\n2. calibration under the null ({n} samples, {runs} runs each)")
    print("repeats  frac p<0.05 (binomial se)  runs with a flag  CI coverage")
    for n_repeats in (3, 5, 10):
        below, flagged, covered = [], 0, []
        for seed in range(runs):
            result = inference(*null_run(n, n_repeats, seed)[:3])
            below.append((result.pvalues < 0.05).mean())
            flagged += fdr_mask(result.pvalues, 0.05).any()
            low, high = result.ci.T
            covered.append(((low < 0) & (0 < high)).mean())
        se = np.sqrt(0.05 * 0.95 / (n * runs))
        print(
            f"{n_repeats:>7}  {np.mean(below):.4f} ({se:.4f})"
            f"{flagged:>19}/{runs}  {np.mean(covered):11.3f}"
        )

    print("\n3. overfitting by 0.5 nats, 5 repeats: samples flagged by default")
    counts = [
        int(fdr_mask(inference(*null_run(n, 5, s, 0.5)[:3]).pvalues, 0.05).sum())
        for s in range(10)
    ]
    print(f"   {counts} (of {n} samples, 10 runs)")

    print(f"\n4. true M ~ N(1, 1) between samples, 5 repeats ({n} samples, 10 runs)")
    below, counts = [], []
    for seed in range(10):
        true_m = np.random.default_rng(100 + seed).normal(1.0, 1.0, n)
        result = inference(*null_run(n, 5, seed, true_m=true_m)[:3])
        below.append((result.pvalues < 0.05).mean())
        counts.append(int(fdr_mask(result.pvalues, 0.05).sum()))
    print(f"   frac p<0.05 {np.mean(below):.4f}; flagged per run {counts}")

    print("\n5. planted memorization in 30 of 600 samples (10 runs each)")
    print("effect  repeats  test        power  false flags per run")
    for effect in (2.0, 3.0):
        for n_repeats in (3, 5):
            found = {"contrast": [], "rank": [], "combined": []}
            false = {key: [] for key in found}
            for seed in range(10):
                true_m = np.where(np.arange(600) < 30, effect, 0.0)
                result = inference(*null_run(600, n_repeats, seed, true_m=true_m)[:3])
                for key, p in (
                    ("contrast", result.contrast_pvalues),
                    ("rank", result.rank_pvalues),
                    ("combined", result.pvalues),
                ):
                    flags = fdr_mask(p, 0.05)
                    found[key].append(flags[:30].mean())
                    false[key].append(flags[30:].sum())
            for key in found:
                print(
                    f"{effect:6.0f}  {n_repeats:7}  {key:<10} "
                    f"{np.mean(found[key]):6.3f}  {np.mean(false[key]):6.2f}"
                )

    print("\n6. five GaussianMixture outliers, 10 folds x 4 repeats, 5 data seeds")
    print(
        "seed  outliers flagged (contrast alone)  inliers flagged  "
        "interval above the bulk, not flagged"
    )
    for seed in range(5):
        scorer = gmm_case(seed)
        flags = scorer.memorized()
        alone = fdr_mask(scorer._inference.contrast_pvalues, 0.05)
        missed, above = beyond_the_interval(
            scorer._inference, scorer.memorization_scores_
        )
        print(
            f"{seed:4}  {flags[300:].sum()}/5 ({alone[300:].sum()}/5)"
            f"{flags[:300].sum():>28}/300  {missed} of {above}"
        )

    print("\n7. breast cancer, KernelDensity(bandwidth=1), 10 folds x 3 repeats")
    from sklearn.datasets import load_breast_cancer
    from sklearn.neighbors import KernelDensity
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_breast_cancer().data)
    fitted = {
        engine: MemorizationScorer(
            KernelDensity(bandwidth=1.0),
            cv=10,
            n_repeats=3,
            engine=engine,
            random_state=0,
        ).fit(X)
        for engine in ("auto", "generic")
    }
    exact, generic = (fitted[e].memorized() for e in ("auto", "generic"))
    top = np.argsort(-fitted["auto"].memorization_scores_)[:5]
    print(
        f"   flagged: exact {exact.sum()}, generic {generic.sum()}, differ on "
        f"{(exact != generic).sum()} of {(exact | generic).sum()}; top-5 p-values "
        f"{np.array2string(fitted['auto'].memorization_pvalues_[top], precision=5)}"
    )
    print(f"\n({time.perf_counter() - start:.0f}s)")


if __name__ == "__main__":
    main()
