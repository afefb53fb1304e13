"""Batched VAE engine against the generic engine on binarized digits, 10 folds.

A Bernoulli MLP VAE shaped like the paper's, scaled to 64 inputs (one hidden
layer of 256, latent size 8), 20 epochs, batch 64, importance sampling with 128
samples. Prints, from one run:

- training time of each engine (fits with 1 importance sample, whose
  evaluation is negligible) and the speed ratios;
- the whole fit with 128 importance samples, and the evaluation ratio;
- agreement: the largest score difference at equal seeds, and, across seeds,
  mean and 0.95 quantile of M and Spearman correlations against the generic
  engine's own seed-to-seed correlation.

    python benchmarks/bench_vae.py [--epochs 20] [--device cpu|cuda]
"""

import argparse
import time

import numpy as np
from scipy.stats import spearmanr
from sklearn.model_selection import KFold

from skmem import MemorizationScorer, VAEDensity
from skmem.datasets import load_digits


def fit(vae, X, cv, engine, n_jobs, seed):
    scorer = MemorizationScorer(
        vae, cv=cv, engine=engine, n_jobs=n_jobs, random_state=seed
    )
    start = time.perf_counter()
    scorer.fit(X)
    return time.perf_counter() - start, scorer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    X = load_digits(binarize=True)
    cv = KFold(10, shuffle=True, random_state=0)
    vae = VAEDensity(
        latent_dim=8,
        hidden_layer_sizes=(256,),
        max_epochs=args.epochs,
        batch_size=64,
        n_importance_samples=128,
        device=args.device,
    )
    # Start joblib's workers and import torch in them once, as any later call
    # in a session finds them.
    tiny = VAEDensity(latent_dim=2, hidden_layer_sizes=(8,), max_epochs=1)
    for engine in ("auto", "generic"):
        fit(tiny.set_params(device=args.device), X[:60], 3, engine, 2, 0)

    print(
        f"binarized digits {X.shape}, 10 folds, VAE 64-256-8, {args.epochs} "
        f"epochs, batch 64, device {args.device}; seconds"
    )
    runs = [("generic", 1), ("generic", 2), ("auto", 1), ("auto", 2)]
    train = {}
    one_sample = vae.set_params(n_importance_samples=1)
    for engine, n_jobs in runs:
        train[engine, n_jobs], _ = fit(one_sample, X, cv, engine, n_jobs, 0)
    vae.set_params(n_importance_samples=128)
    print("\ntraining (fit with 1 importance sample)")
    for engine, n_jobs in runs:
        print(f"  {engine:8s} n_jobs={n_jobs}  {train[engine, n_jobs]:7.2f}")
    for n_jobs in (1, 2):
        print(
            f"  batched (n_jobs=2) vs generic n_jobs={n_jobs}: "
            f"{train['generic', n_jobs] / train['auto', 2]:.2f}x faster"
        )
    print(
        f"  batched n_jobs=1 vs generic n_jobs=1: "
        f"{train['generic', 1] / train['auto', 1]:.2f}x faster"
    )

    full, scorers = {}, {}
    for engine, n_jobs, seed in [
        ("generic", 1, 0),
        ("generic", 2, 0),
        ("auto", 2, 0),
        ("generic", 2, 1),
        ("auto", 2, 1),
    ]:
        t, scorers[engine, n_jobs, seed] = fit(vae, X, cv, engine, n_jobs, seed)
        full[engine, n_jobs, seed] = t
    print("\nwhole fit, 128 importance samples (evaluation = whole - training)")
    for (engine, n_jobs, seed), t in full.items():
        if seed == 0:
            print(
                f"  {engine:8s} n_jobs={n_jobs}  {t:7.2f}  "
                f"(evaluation {t - train[engine, n_jobs]:.2f})"
            )
    eval_generic = full["generic", 2, 0] - train["generic", 2]
    eval_batched = full["auto", 2, 0] - train["auto", 2]
    print(
        f"  evaluation, batched vs generic at n_jobs=2: "
        f"{eval_generic / eval_batched:.2f}x faster"
    )

    M = {key: s.memorization_scores_ for key, s in scorers.items()}
    g0, g1 = M["generic", 2, 0], M["generic", 2, 1]
    b0, b1 = M["auto", 2, 0], M["auto", 2, 1]
    print("\nagreement")
    print(
        f"  equal seeds: max |M_batched - M_generic| = {np.max(np.abs(b0 - g0)):.2e}"
        f" (M spans {g0.min():.1f} to {g0.max():.1f} nats)"
    )
    for name, m in [("generic s0", g0), ("generic s1", g1), ("batched s1", b1)]:
        print(f"  {name}: mean M {m.mean():6.3f}, q95 {np.quantile(m, 0.95):6.3f}")
    print(
        f"  Spearman: generic s0 vs generic s1 {spearmanr(g0, g1)[0]:.3f}; "
        f"batched s1 vs generic s0 {spearmanr(b1, g0)[0]:.3f}"
    )


if __name__ == "__main__":
    main()
