"""GaussianMixture on 200,000 x 64 synthetic data, 10 folds, n_jobs=2.

Prints the wall time and the peak memory of the whole process tree (this
process and joblib's workers, sampled every 0.1 s from /proc), against the
goal of at most 4 GB.

    python benchmarks/bench_scale.py [--n 200000] [--n-jobs 2]
"""

import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np
from sklearn.mixture import GaussianMixture

from skmem import MemorizationScorer

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss_bytes(root):
    """Resident memory of ``root`` and all its descendants, from /proc."""
    parent = {}
    rss = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parent[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(child for child, p in parent.items() if p == pid)
    return total


class PeakMemory:
    def __init__(self, interval=0.1):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes(os.getpid()))
            time.sleep(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=4.0, size=(10, 64))
    X = centers[rng.randint(10, size=args.n)] + rng.normal(size=(args.n, 64))
    print(
        f"GaussianMixture(10, full) on {X.shape[0]:,} x {X.shape[1]} "
        f"({X.nbytes / 2**20:.0f} MB), 10 folds, n_jobs={args.n_jobs}"
    )
    scorer = MemorizationScorer(
        GaussianMixture(10, covariance_type="full"),
        cv=10,
        n_jobs=args.n_jobs,
        random_state=0,
        verbose=1,
    )
    with PeakMemory() as memory:
        start = time.perf_counter()
        scorer.fit(X)
        seconds = time.perf_counter() - start
    print(
        f"time {seconds:.1f} s; peak memory of the process tree "
        f"{memory.peak / 2**30:.2f} GB (goal: at most 4 GB); "
        f"log-likelihood matrix {scorer.log_likelihoods_.nbytes / 2**20:.0f} MB"
    )


if __name__ == "__main__":
    main()
