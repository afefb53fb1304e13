"""How far bfloat16 (and TF32) products move the memorization scores, in nats.

Binarized digits (1,797 x 64), an MLP VAE, 5 folds: M with precision="float32",
"tf32" and "bfloat16" from the same seed, against M's own noise (the same
float32 run with another seed: other folds, other initial weights).

    python benchmarks/bench_precision.py [--device cpu] [--epochs 20]
"""

import argparse
import time

import numpy as np

from skmem import MemorizationScorer, VAEDensity
from skmem.datasets import load_digits


def scores(X, precision, seed, args):
    vae = VAEDensity(
        latent_dim=8,
        hidden_layer_sizes=(128,),
        max_epochs=args.epochs,
        n_importance_samples=64,
        device=args.device,
        precision=precision,
    )
    start = time.perf_counter()
    scorer = MemorizationScorer(vae, cv=5, random_state=seed).fit(X)
    return scorer.memorization_scores_, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    X = load_digits(binarize=True)
    reference, seconds = scores(X, "float32", 0, args)
    print(
        f"float32: {seconds:.1f} s; M from {reference.min():.2f} to "
        f"{reference.max():.2f} nats, sd {reference.std():.3f}"
    )
    noise, _ = scores(X, "float32", 1, args)
    rows = [("float32, another seed", noise)]
    for precision in ("tf32", "bfloat16"):
        got, seconds = scores(X, precision, 0, args)
        rows.append((f"{precision} ({seconds:.1f} s)", got))
    print(f"{'against float32, seed 0':<26}{'max |dM|':>10}{'RMS dM':>10}{'corr':>8}")
    for label, got in rows:
        d = got - reference
        print(
            f"{label:<26}{np.abs(d).max():10.4f}{np.sqrt(np.mean(d**2)):10.4f}"
            f"{np.corrcoef(got, reference)[0, 1]:8.4f}"
        )


if __name__ == "__main__":
    main()
