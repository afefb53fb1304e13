"""The convolutional VAE: batched torch engine against the generic engine.

Prints, from one run on scikit-learn's digits as 1x8x8 binarized images, 10
folds: the training and scoring time of ``VAEDensity(architecture="conv")``
through the generic engine with ``n_jobs=1`` (one ``nn.Conv2d`` model after
another) and through the batched engine (the fold models stacked in
``EnsembleConvVAE``, each small layer one batched matmul over the models) with
``n_jobs=1`` and 2, the ratios, and the largest log-likelihood difference
between the engines at equal seeds (the importance-sampling noise is fixed per
seed, so they must agree up to rounding). With ``--vmap``, also the batched
engine running the plain module under ``torch.func.vmap`` (grouped
convolutions), as it did before the module had its stacked form. Runs are
interleaved for ``--rounds`` rounds and the best time of each is kept, since a
shared machine's speed drifts.

    python benchmarks/bench_conv.py [--epochs 10] [--rounds 2] [--filters 16] [--vmap]
"""

import argparse
import contextlib
import time
from unittest import mock

import numpy as np
from sklearn.model_selection import KFold

from skmem import MemorizationScorer, VAEDensity
from skmem.datasets import load_digits
from skmem.torch import _training


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vmap", action="store_true")
    args = parser.parse_args()
    X = load_digits(binarize=True)
    vae = VAEDensity(
        architecture="conv",
        input_shape=(1, 8, 8),
        n_filters=args.filters,
        latent_dim=8,
        max_epochs=args.epochs,
        n_importance_samples=32,
        device=args.device,
    )
    cv = KFold(10, shuffle=True, random_state=0)
    runs = [("generic", 1), ("torch", 1), ("torch", 2)]
    if args.vmap:
        runs.append(("torch vmap", 1))
    times = {run: [] for run in runs}
    matrices = {}
    for _ in range(args.rounds):
        for name, n_jobs in runs:
            engine, *vmap = name.split()
            scorer = MemorizationScorer(
                vae, cv=cv, engine=engine, n_jobs=n_jobs, random_state=0
            )
            # --vmap: the batched engine's generic form for any module.
            stacked = mock.patch.object(
                _training, "batched_group_class", lambda cls: _training.Stacked
            )
            with stacked if vmap else contextlib.nullcontext():
                start = time.perf_counter()
                scorer.fit(X)
                times[name, n_jobs].append(time.perf_counter() - start)
            matrices[name, n_jobs] = scorer.log_likelihoods_
    best = {run: min(t) for run, t in times.items()}
    print(
        f"conv VAE 1x8x8 (n_filters={args.filters}, latent 8, {args.epochs} epochs, "
        f"batch 64, IWAE 32), digits {X.shape[0]} x {X.shape[1]}, 10 folds, "
        f"best of {args.rounds}"
    )
    reference = best["generic", 1]
    for (name, n_jobs), t in best.items():
        print(
            f"  {name:10s} n_jobs={n_jobs}: {t:6.1f} s   "
            f"{reference / t:4.1f}x the generic engine with n_jobs=1"
        )
    diff = np.abs(matrices["torch", 1] - matrices["generic", 1]).max()
    print(f"  largest |log p| difference, batched vs generic: {diff:.2g} nats")


if __name__ == "__main__":
    main()
