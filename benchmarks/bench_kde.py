"""The exact KernelDensity engine: speed, exactness and memory.

Prints, in one run:

1. digits (1797 x 64), KernelDensity(bandwidth=2), 10 folds: the exact engine
   against the generic (refitting) engine, the speed ratio, and each engine's
   largest memorization-score difference from a brute-force computation with
   direct differences;
2. n = 100,000, d = 64, 10 folds: wall time and peak memory (a fresh process);
3. LeaveOneOut at n = 20,000: wall time and peak memory (a fresh process).

    python benchmarks/bench_kde.py [--large-n 100000] [--loo-n 20000]
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
from scipy.special import logsumexp
from sklearn.datasets import load_digits
from sklearn.model_selection import KFold, LeaveOneOut
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer, memorization_scores


def brute_force_scores(X, bandwidth, train_masks):
    """log p_k(x_i) from direct differences, one model and row chunk at a time."""
    n, d = X.shape
    log_likelihoods = np.empty(train_masks.shape)
    log_norm = -0.5 * d * np.log(2 * np.pi * bandwidth**2)
    for k, mask in enumerate(train_masks):
        train = X[mask]
        for start in range(0, n, 200):
            rows = X[start : start + 200]
            sq = ((rows[:, None, :] - train[None, :, :]) ** 2).sum(-1)
            log_likelihoods[k, start : start + 200] = (
                logsumexp(-0.5 * sq / bandwidth**2, axis=1)
                + log_norm
                - np.log(len(train))
            )
    return memorization_scores(log_likelihoods, train_masks)


def timed_fit(scorer, X):
    start = time.perf_counter()
    scorer.fit(X)
    return time.perf_counter() - start


def synthetic(n, d=64, seed=0):
    """A mixture of 20 Gaussian clusters."""
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=3.0, size=(20, d))
    return centers[rng.randint(20, size=n)] + rng.normal(size=(n, d))


def child(case, n):
    """Run one large case in this (fresh) process and print JSON."""
    X = synthetic(n)
    cv = LeaveOneOut() if case == "loo" else KFold(10, shuffle=True, random_state=0)
    scorer = MemorizationScorer(
        KernelDensity(bandwidth="scott"), cv=cv, n_jobs=-1, random_state=0
    )
    seconds = timed_fit(scorer, X)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scores = scorer.memorization_scores_
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak_mb,
                "engine": scorer.engine_,
                "finite": bool(np.isfinite(scores).all()),
                "matrix_kept": scorer.log_likelihoods_ is not None,
            }
        )
    )


def run_child(case, n):
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, "--n", str(n)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-n", type=int, default=100_000)
    parser.add_argument("--loo-n", type=int, default=20_000)
    parser.add_argument("--child", choices=["kfold", "loo"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n)
        return

    X = load_digits().data
    cv = KFold(10, shuffle=True, random_state=0)
    kde = KernelDensity(bandwidth=2.0)
    print("1. digits (1797 x 64), KernelDensity(bandwidth=2), 10 folds, n_jobs=1")
    fast = MemorizationScorer(kde, cv=cv)
    slow = MemorizationScorer(kde, cv=cv, engine="generic")
    t_fast = min(timed_fit(fast, X) for _ in range(3))
    t_slow = timed_fit(slow, X)
    reference = brute_force_scores(X, 2.0, fast.train_masks_)
    err_fast = np.max(np.abs(fast.memorization_scores_ - reference))
    err_slow = np.max(np.abs(slow.memorization_scores_ - reference))
    rel_fast = np.max(
        np.abs(fast.memorization_scores_ - reference) / np.maximum(np.abs(reference), 1)
    )
    print(f"   generic engine   {t_slow:8.2f} s   max |M - brute force| {err_slow:.3g}")
    print(
        f"   exact engine     {t_fast:8.3f} s   max |M - brute force| {err_fast:.3g}"
        f" (relative {rel_fast:.2g})"
    )
    print(f"   speed ratio generic / exact: {t_slow / t_fast:.0f}x")

    print(f"\n2. n = {args.large_n:,}, d = 64, 10 folds, bandwidth='scott', n_jobs=-1")
    large = run_child("kfold", args.large_n)
    print(
        f"   {large['seconds']:.1f} s, peak memory {large['peak_mb']:.0f} MB "
        f"(whole process), engine {large['engine']}, all scores finite: "
        f"{large['finite']}"
    )

    print(f"\n3. LeaveOneOut, n = {args.loo_n:,}, d = 64, n_jobs=-1")
    loo = run_child("loo", args.loo_n)
    print(
        f"   {loo['seconds']:.1f} s, peak memory {loo['peak_mb']:.0f} MB, "
        f"n x n matrix kept: {loo['matrix_kept']}, all scores finite: "
        f"{loo['finite']}"
    )


if __name__ == "__main__":
    main()
