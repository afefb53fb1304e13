"""The batched torch engine against the generic engine, and its FLOP rate.

Prints, from one run:

- a small RealNVP-style coupling flow (4 affine couplings, hidden width 32) on
  8-D data (the first 8 principal components of scikit-learn's digits,
  standardised), 10 folds: training and scoring time of the generic engine
  with ``n_jobs=1`` and of the batched ``torch.func`` engine (``vmap`` over
  stacked parameters) with ``n_jobs=1`` and 2, the ratios, and the largest
  log-likelihood difference between the engines at equal seeds (the flow is
  deterministic, so they must agree);
- the batched engine's achieved FLOP rate when it trains the MLP VAE of
  ``bench_vae.py`` (64-256-8, 20 epochs, batch 64, binarized digits, 10 folds,
  one importance sample so that evaluation is negligible), next to the
  machine's peak on a CPU: cores x clock x FLOPs per cycle, where FLOPs per cycle are
  the FMA width in float32 lanes (16 with AVX-512, 8 with AVX2) x 2 FMA units
  x 2 FLOPs per FMA. The clock is the one /proc/cpuinfo reports.

    python benchmarks/bench_torch.py [--epochs 30] [--rounds 3] [--device cpu]
"""

import argparse
import math
import os
import time

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from skmem import MemorizationScorer, TorchDensity, VAEDensity
from skmem.datasets import load_digits


class CouplingFlow(torch.nn.Module):
    """Affine couplings on alternating halves of the features; exact log p(x)."""

    def __init__(self, n_features, n_layers=4, hidden=32):
        super().__init__()
        half = torch.arange(n_features) < n_features // 2
        masks = [half if i % 2 == 0 else ~half for i in range(n_layers)]
        self.register_buffer("masks", torch.stack(masks).float())
        self.nets = torch.nn.ModuleList(
            torch.nn.Sequential(
                torch.nn.Linear(n_features, hidden),
                torch.nn.Tanh(),
                torch.nn.Linear(hidden, 2 * n_features),
            )
            for _ in range(n_layers)
        )

    def log_likelihood(self, x):
        log_det = 0.0
        for mask, net in zip(self.masks, self.nets, strict=True):
            scale, shift = net(x * mask).chunk(2, dim=-1)
            scale = torch.tanh(scale) * (1 - mask)
            x = x * mask + (1 - mask) * (x * scale.exp() + shift)
            log_det = log_det + scale.sum(-1)
        return log_det - 0.5 * (x**2 + math.log(2 * math.pi)).sum(-1)

    def loss(self, x):
        return -self.log_likelihood(x)


def fit(estimator, X, cv, engine, n_jobs):
    scorer = MemorizationScorer(
        estimator, cv=cv, engine=engine, n_jobs=n_jobs, random_state=0
    )
    start = time.perf_counter()
    scorer.fit(X)
    return time.perf_counter() - start, scorer


def best_of(runs, rounds, make_args):
    """Interleave the runs for ``rounds`` rounds (this machine's speed drifts)."""
    times, scorers = {run: [] for run in runs}, {}
    for _ in range(rounds):
        for run in runs:
            t, scorers[run] = fit(*make_args(run))
            times[run].append(t)
    return {run: min(t) for run, t in times.items()}, times, scorers


def peak_gflops():
    """cores x clock x (FMA lanes x 2 FMA units x 2), and how it was derived."""
    cores = len(os.sched_getaffinity(0))
    with open("/proc/cpuinfo") as f:
        info = f.read()
    mhz = max(float(line.split(":")[1]) for line in info.splitlines() if "MHz" in line)
    flags = next(line for line in info.splitlines() if line.startswith("flags"))
    lanes = 16 if " avx512f" in flags else 8 if " avx2" in flags else 4
    per_cycle = lanes * 2 * 2
    peak = cores * mhz / 1e3 * per_cycle
    how = (
        f"{cores} cores x {mhz / 1e3:.2f} GHz x {per_cycle} float32 FLOP/cycle "
        f"({lanes} lanes, {'AVX-512' if lanes == 16 else 'AVX2'}, x 2 FMA units "
        "x 2 FLOP per FMA)"
    )
    return peak, how


def vae_training_flop(n_train_rows, n_features, hidden, latent, epochs):
    """Multiply-adds of the linear layers x 2 FLOP x 3 (forward and backward)."""
    widths = [n_features, hidden, 2 * latent]
    decoder = [latent, hidden, n_features]
    macs = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    macs += sum(a * b for a, b in zip(decoder[:-1], decoder[1:], strict=True))
    return 2 * 3 * macs * sum(n_train_rows) * epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    cv = KFold(10, shuffle=True, random_state=0)

    digits = load_digits()
    X8 = StandardScaler().fit_transform(PCA(8, random_state=0).fit_transform(digits))
    flow = TorchDensity(
        CouplingFlow,
        max_epochs=args.epochs,
        batch_size=64,
        learning_rate=3e-3,
        device=args.device,
    )
    # Import torch and start joblib's workers once, as any later call finds them.
    for engine in ("torch", "generic"):
        fit(flow.set_params(max_epochs=1), X8[:60], 3, engine, 2)
    flow.set_params(max_epochs=args.epochs)
    print(
        f"coupling flow (4 layers, hidden 32) on digits PCA-8 {X8.shape}, 10 folds, "
        f"{args.epochs} epochs, batch 64, device {args.device}; seconds, best of "
        f"{args.rounds}"
    )
    runs = [("generic", 1), ("torch", 1), ("torch", 2)]
    best, times, scorers = best_of(runs, args.rounds, lambda run: (flow, X8, cv, *run))
    for run in runs:
        rounds = " ".join(f"{t:.2f}" for t in times[run])
        print(f"  {run[0]:8s} n_jobs={run[1]}  {best[run]:7.2f}  ({rounds})")
    for run in runs[1:]:
        print(
            f"  torch n_jobs={run[1]} vs generic n_jobs=1: "
            f"{best['generic', 1] / best[run]:.2f}x faster"
        )
    gap = np.abs(
        scorers["torch", 1].log_likelihoods_ - scorers["generic", 1].log_likelihoods_
    )
    print(
        f"  agreement: max |log p_torch - log p_generic| = {gap.max():.1e} nats "
        f"(median {np.median(gap):.1e}) over {gap.size} values"
    )

    X = load_digits(binarize=True)
    vae = VAEDensity(
        latent_dim=8,
        hidden_layer_sizes=(256,),
        max_epochs=20,
        batch_size=64,
        n_importance_samples=1,
        device=args.device,
    )
    vae_runs = [("torch", 1), ("torch", 2)]
    vae_best, _, _ = best_of(vae_runs, args.rounds, lambda run: (vae, X, cv, *run))
    n_train = [len(train) for train, _ in cv.split(X)]
    flop = vae_training_flop(n_train, X.shape[1], 256, 8, 20)
    on_cpu = torch.device(args.device).type == "cpu"
    peak, how = peak_gflops() if on_cpu else (None, None)
    print(
        f"\nMLP VAE of bench_vae.py (64-256-8, 20 epochs, batch 64), batched "
        f"training: {flop / 1e9:.1f} GFLOP in the linear layers"
    )
    for run in vae_runs:
        rate = flop / vae_best[run] / 1e9
        share = f"  ({100 * rate / peak:.0f} % of peak)" if on_cpu else ""
        print(
            f"  torch n_jobs={run[1]}  {vae_best[run]:6.2f} s  {rate:6.1f} GFLOP/s"
            + share
        )
    if on_cpu:
        print(f"  peak {peak:.0f} GFLOP/s = {how}")
    else:
        print(f"  on {torch.cuda.get_device_name()}: its peak is on its datasheet")


if __name__ == "__main__":
    main()
