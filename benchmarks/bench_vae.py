"""Batched VAE engine against the generic engine on binarized digits, 10 folds.

A Bernoulli MLP VAE shaped like the paper's, scaled to 64 inputs (one hidden
layer of 256, latent size 8), 20 epochs, batch 64, importance sampling with 128
samples. Prints, from one run:

- training time of each engine (fits with 1 importance sample, whose
  evaluation is negligible) and the speed ratios;
- the whole fit with 128 importance samples (context), and the time to
  evaluate the ten fitted models on every row, one model at a time (as the
  generic engine does) and as one batched ensemble, with the ratio;
- agreement: the largest score difference at equal seeds, and, across seeds,
  mean and 0.95 quantile of M and Spearman correlations against the generic
  engine's own seed-to-seed correlation.

    python benchmarks/bench_vae.py [--epochs 20] [--device cpu|cuda] [--rounds 3]
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


def evaluation(models, X, rounds):
    """Time scoring every row under each fitted VAE: one by one, and batched."""
    import torch
    from threadpoolctl import threadpool_limits

    from skmem.torch._training import Native, log_likelihood

    def one_by_one():
        return np.vstack([m.score_samples(X) for m in models])

    def batched():
        # The fitted models' modules as one hand-batched ensemble.
        group = Native([m.module_ for m in models])
        return log_likelihood(
            group,
            X,
            m._eval_noise(m.module_, [model.noise_seed_ for model in models]),
            device=torch.device("cpu"),
            rows_per_batch=m._rows_per_batch(m.module_, len(models), X.shape[1], "cpu"),
        )

    m = models[0]
    times, results = {"one model at a time": [], "batched": []}, {}
    with threadpool_limits(1):  # VAEDensity gives torch this many threads
        for _ in range(rounds):
            for name, evaluate in zip(times, (one_by_one, batched), strict=True):
                start = time.perf_counter()
                results[name] = evaluate()
                times[name].append(time.perf_counter() - start)
    best = {name: min(t) for name, t in times.items()}
    print(
        f"\nevaluation: {len(models)} fitted VAEs score all {len(X)} rows with "
        f"{m.n_importance_samples} importance samples, 1 thread, best of {rounds}"
    )
    for name, t in best.items():
        print(f"  {name:20s} {t:7.2f}")
    ratio = best["one model at a time"] / best["batched"]
    gap = np.max(np.abs(results["one model at a time"] - results["batched"]))
    print(f"  batched {ratio:.2f}x faster; max |difference| {gap:.1e} nats")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
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
    # This machine's speed drifts: rounds are interleaved, and each figure is
    # the best of its rounds.
    times = {run: [] for run in runs}
    one_sample = vae.set_params(n_importance_samples=1)
    for _ in range(args.rounds):
        for engine, n_jobs in runs:
            t, _ = fit(one_sample, X, cv, engine, n_jobs, 0)
            times[engine, n_jobs].append(t)
    train = {run: min(t) for run, t in times.items()}
    vae.set_params(n_importance_samples=128)
    print(f"\ntraining (fit with 1 importance sample), best of {args.rounds} rounds")
    for engine, n_jobs in runs:
        rounds = " ".join(f"{t:.2f}" for t in times[engine, n_jobs])
        print(
            f"  {engine:8s} n_jobs={n_jobs}  {train[engine, n_jobs]:7.2f}  ({rounds})"
        )
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
        ("generic", 2, 0),
        ("auto", 2, 0),
        ("generic", 2, 1),
        ("auto", 2, 1),
    ]:
        t, scorers[engine, n_jobs, seed] = fit(vae, X, cv, engine, n_jobs, seed)
        full[engine, n_jobs, seed] = t
    print("\nwhole fit, 128 importance samples, n_jobs=2 (context)")
    for (engine, _, seed), t in full.items():
        print(f"  {engine:8s} seed {seed}  {t:7.2f}")
    evaluation(scorers["generic", 2, 0].estimators_, X, args.rounds)

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
