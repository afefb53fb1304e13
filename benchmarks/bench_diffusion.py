"""Batched diffusion engine against the generic engine, and the bound's noise in M.

``DiffusionDensity`` (MLP denoiser) on digits as pixel levels (``n_levels=17``,
log-probabilities of the levels), K folds. Prints, from one run:

- the time of the whole memorization run (training and scoring every row
  under every fold model) on the batched ``torch`` engine and on the generic
  engine at ``n_jobs=1``, and their ratio; the largest difference between the
  two engines' log-likelihoods at equal seeds;
- how the bound's own Monte Carlo noise enters M: the fold models are scored
  again with independent draws, and ``RMSE_MC = rms(M_a - M_b) / sqrt(2)`` is
  the RMSE of M due to the draws alone, at ``n_mc_samples`` and at 4 times as
  many, with the draws shared by the fold models (``mc_seed=0``) and with a
  seed of each model's own (the default), beside the spread of M over rows.

    python benchmarks/bench_diffusion.py [--n 1797] [--cv 10] [--epochs 5]
        [--mc 64] [--hidden 256 256] [--device cpu|cuda] [--dataset digits|mnist]

With a GPU, ``--dataset mnist --device cuda`` runs it at MNIST's size (60,000 x
784, downloaded once by ``skmem.datasets.fetch_mnist``).
"""

import argparse
import copy
import time

import numpy as np
from sklearn.model_selection import KFold

from skmem import DiffusionDensity, MemorizationScorer, memorization_scores
from skmem.datasets import load_digits


def data(args):
    if args.dataset == "mnist":
        from skmem.datasets import fetch_mnist

        X = fetch_mnist()  # levels 0..255
        return np.asarray(X[: args.n], dtype=float), 256
    return np.rint(load_digits()[: args.n] * 16), 17


def run(model, X, cv, engine, seed):
    scorer = MemorizationScorer(
        model, cv=cv, engine=engine, n_jobs=1, random_state=seed
    )
    start = time.perf_counter()
    scorer.fit(X)
    return time.perf_counter() - start, scorer


def rescored(scorer, X, n_mc, offset, shared):
    """Every fold model's log-likelihoods on other draws: one seed for every
    model (``shared``: common random numbers, as ``mc_seed=<int>`` gives), or
    each model's own seed moved by ``offset`` (``mc_seed=None``)."""
    rows = []
    for estimator in scorer.estimators_:
        other = copy.copy(estimator)
        other.noise_seed_ = offset if shared else estimator.noise_seed_ + offset
        other.n_mc_samples = n_mc
        rows.append(other.score_samples(X))
    return np.vstack(rows)


def mc_rmse(scorer, X, n_mc, shared=True):
    """RMSE of M due to the bound's Monte Carlo draws alone, at ``n_mc`` draws."""
    masks = scorer.train_masks_, scorer.test_masks_
    a = memorization_scores(rescored(scorer, X, n_mc, 1, shared), *masks)
    b = memorization_scores(rescored(scorer, X, n_mc, 2, shared), *masks)
    return float(np.sqrt(np.mean((a - b) ** 2) / 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1797)
    parser.add_argument("--cv", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--mc", type=int, default=64)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dataset", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, n_levels = data(args)
    model = DiffusionDensity(
        hidden_layer_sizes=tuple(args.hidden),
        n_levels=n_levels,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        n_mc_samples=args.mc,
        device=args.device,
    )
    cv = KFold(args.cv, shuffle=True, random_state=args.seed)
    print(
        f"{args.dataset}: {X.shape[0]} x {X.shape[1]}, {args.cv} folds, MLP "
        f"{tuple(args.hidden)}, {args.epochs} epochs, {args.mc} draws per row, "
        f"device {args.device}"
    )
    # Warm-up: torch's import and first calls are not part of either engine.
    tiny = model.set_params(max_epochs=1, n_mc_samples=2)
    for engine in ("auto", "generic"):
        run(tiny, X[:40], 2, engine, args.seed)
    model.set_params(max_epochs=args.epochs, n_mc_samples=args.mc)
    t_batched, batched = run(model, X, cv, "auto", args.seed)
    t_generic, generic = run(model, X, cv, "generic", args.seed)
    assert batched.engine_ == "torch", batched.engine_
    gap = np.abs(batched.log_likelihoods_ - generic.log_likelihoods_).max()
    print(f"batched engine ({batched.engine_}): {t_batched:7.1f} s")
    print(f"generic engine, n_jobs=1:   {t_generic:7.1f} s")
    print(f"speed ratio (generic / batched): {t_generic / t_batched:.2f}x")
    print(f"largest |log-likelihood difference| between engines: {gap:.3g} nats")

    m = batched.memorization_scores_
    print(
        f"M: mean {m.mean():.2f}, sd over rows {m.std():.2f}, q95 "
        f"{np.quantile(m, 0.95):.2f} nats"
    )
    for n_mc in (args.mc, 4 * args.mc):
        for shared, how in ((True, "shared by the models"), (False, "one seed each")):
            rmse = mc_rmse(batched, X, n_mc, shared)
            print(
                f"RMSE of M due to the bound's Monte Carlo draws, {n_mc:4d} draws "
                f"{how}: {rmse:.3f} nats ({rmse / m.std():.1%} of the sd of M)"
            )


if __name__ == "__main__":
    main()
