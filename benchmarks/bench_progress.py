"""When the torch engine's progress bar first moves, with groups in worker processes.

A VAE on scikit-learn's digits (1797 x 64), ``--cv`` folds, ``n_jobs=2``: the
models train in two groups, one per loky worker process. The bar counts
model-epochs. Measured in the same run: the seconds from the start of ``fit``
to the bar's first move and the whole fit, with the worker processes'
per-epoch counts (skmem.engines._progress) and without them (the bar moves
only when a group ends, as before issue 27).

    python benchmarks/bench_progress.py [--cv 10] [--epochs 10]
"""

import argparse
import time

from skmem import MemorizationScorer, VAEDensity
from skmem.datasets import load_digits
from skmem.engines import torch_ensemble


class Recorder:
    def __init__(self, start):
        self.start = start
        self.times = []

    def update(self, n):
        self.times.append(time.perf_counter() - self.start)

    def write(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def fit(args, per_epoch):
    start = time.perf_counter()
    bars = []

    def progress_bar(total, verbose, **kwargs):
        bars.append(Recorder(start))
        return bars[-1]

    saved = torch_ensemble.progress_bar, torch_ensemble.FileProgress
    torch_ensemble.progress_bar = progress_bar
    if not per_epoch:
        torch_ensemble.FileProgress = lambda bar: None
    try:
        vae = VAEDensity(max_epochs=args.epochs, n_importance_samples=32)
        scorer = MemorizationScorer(vae, cv=args.cv, n_jobs=2, random_state=0)
        scorer.verbose = 1
        scorer.fit(load_digits())
    finally:
        torch_ensemble.progress_bar, torch_ensemble.FileProgress = saved
    assert scorer.engine_ == "torch"
    return bars[0].times[0], time.perf_counter() - start, len(bars[0].times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cv", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    print(
        f"VAE on digits 1797 x 64, {args.cv} models x {args.epochs} epochs, "
        "2 worker processes"
    )
    for label, per_epoch in (("group ends only", False), ("per epoch", True)):
        first, total, moves = fit(args, per_epoch)
        print(
            f"{label:16s} first move after {first:6.1f}s of {total:6.1f}s "
            f"({first / total:.0%} of the run), {moves} moves"
        )


if __name__ == "__main__":
    main()
