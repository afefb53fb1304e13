"""The score's bias and the tests' calibration where the truth is known.

1. Bias: log-likelihoods that ignore the training set (true M = 0), with a
   per-sample model-to-model spread s_i in [0.2, 1.5] nats and 10 folds; mean
   M, mean M of the high-spread samples, Spearman(M, s), for the paper's
   aggregate and the matched one.
2. Calibration: the same null through MemorizationScorer's inference: the
   fraction of p-values below 0.05, the runs in which any sample is flagged at
   FDR 0.05, and the coverage of the 95 % intervals.
3. Overfitting: every training row 0.5 nats better; samples flagged by default.

    python benchmarks/bench_calibration.py [--samples 1800] [--runs 30]
"""

import argparse
import time

import numpy as np
from scipy.stats import spearmanr
from sklearn.model_selection import RepeatedKFold

from skmem import memorization_scores
from skmem._aggregate import _in_out
from skmem._inference import (
    fdr_mask,
    in_model_log_variance,
    jackknife_std,
    sample_inference,
)
from skmem._reliability import per_repeat_scores, repeat_groups


def null_run(n, n_repeats, seed, overfit=0.0):
    rng = np.random.default_rng(seed)
    spread = rng.uniform(0.2, 1.5, n)
    rows = np.arange(n)
    cv = RepeatedKFold(n_splits=10, n_repeats=n_repeats, random_state=seed)
    test = np.array([np.isin(rows, te) for _, te in cv.split(rows[:, None])])
    ll = -5.0 + rng.normal(size=test.shape) * spread + overfit * ~test
    return ll, ~test, test, spread


def inference(ll, train, test):
    in_ll, out_ll, _ = _in_out(ll, train, test, "matched")
    groups = repeat_groups(test)
    se = jackknife_std(ll, train, test, groups, "matched")
    contrasts = per_repeat_scores(ll, train, test, groups, "mean")
    return sample_inference(
        in_ll - out_ll, se, contrasts, in_model_log_variance(ll, train)
    )


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
    print(f"\n({time.perf_counter() - start:.0f}s)")


if __name__ == "__main__":
    main()
