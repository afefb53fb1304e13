"""Per-record closest-record distances at scale: time and peak memory.

Each measurement runs in a fresh process (peak resident memory from
``resource.getrusage``, peak traced allocations from ``tracemalloc``):

1. the reference, SDMetrics-style: the full ``n x n`` distance matrix
   (``sklearn.metrics.pairwise_distances``), then the minimum and the count
   per row, at a size that fits (``--ref-n``, default 10,000);
2. ``skmem.baselines.closest_record_distances`` at the same size, checked
   against the reference;
3. ``closest_record_distances`` at ``--n`` records x ``--n`` samples
   (default 100,000 x 100,000, 10 columns; held-out set ``--n // 10``).

Prints wall and CPU seconds, and the ratios against the reference measured in
the same run (wall times are noisy on a shared machine; CPU times and the
ratios less so).

    python benchmarks/bench_copies.py [--n 100000] [--ref-n 10000] [--n-jobs 2]
"""

import argparse
import json
import subprocess
import sys

D = 10


def _data(n, seed=0):
    import numpy as np

    rng = np.random.RandomState(seed)
    X_train = rng.normal(size=(n, D))
    # Half the samples are near-copies of training records, half fresh.
    X_generated = np.vstack(
        [
            X_train[: n // 2] + 0.01 * rng.normal(size=(n // 2, D)),
            rng.normal(size=(n - n // 2, D)),
        ]
    )
    X_holdout = rng.normal(size=(max(n // 10, 1), D))
    return X_train, X_generated, X_holdout


def _child(kind, n, n_jobs):
    import resource
    import time
    import tracemalloc

    import numpy as np
    from sklearn.metrics import pairwise_distances

    from skmem.baselines import closest_record_distances

    X_train, X_generated, X_holdout = _data(n)
    tracemalloc.start()
    start, cpu_start = time.perf_counter(), time.process_time()
    if kind == "full":
        to_holdout = pairwise_distances(X_train, X_holdout).min(axis=1)
        full = pairwise_distances(X_train, X_generated, n_jobs=n_jobs)
        distance = full.min(axis=1)
        n_closer = (full < to_holdout[:, None]).sum(axis=1)
    else:
        result = closest_record_distances(
            X_train, X_generated, X_holdout, n_jobs=n_jobs
        )
        distance, n_closer = result.distance_to_generated, result.n_closer
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    traced = tracemalloc.get_traced_memory()[1]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "traced_bytes": traced,
                "max_rss_bytes": rss,
                "distance_sum": float(distance.sum()),
                "n_closer": np.asarray(n_closer).tolist() if n <= 20_000 else None,
            }
        )
    )


def _run(kind, n, n_jobs):
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--n",
            str(n),
            "--n-jobs",
            str(n_jobs),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--ref-n", type=int, default=10_000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--child", choices=["full", "skmem"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.n, args.n_jobs)
        return
    gib = 2**30
    ref = _run("full", args.ref_n, args.n_jobs)
    small = _run("skmem", args.ref_n, args.n_jobs)
    same = ref["n_closer"] == small["n_closer"]
    print(
        f"{args.ref_n} x {args.ref_n} x {D}: full matrix {ref['seconds']:.2f} s "
        f"(CPU {ref['cpu_seconds']:.2f} s), "
        f"peak traced {ref['traced_bytes'] / gib:.2f} GiB, max RSS "
        f"{ref['max_rss_bytes'] / gib:.2f} GiB"
    )
    print(
        f"{args.ref_n} x {args.ref_n} x {D}: skmem {small['seconds']:.2f} s "
        f"(CPU {small['cpu_seconds']:.2f} s), "
        f"peak traced {small['traced_bytes'] / gib:.3f} GiB, max RSS "
        f"{small['max_rss_bytes'] / gib:.2f} GiB; time ratio to the full matrix "
        f"{small['seconds'] / ref['seconds']:.2f}; same counts: {same}; distance "
        f"sums {ref['distance_sum']:.6f} vs {small['distance_sum']:.6f}"
    )
    big = _run("skmem", args.n, args.n_jobs)
    pairs = (args.n / args.ref_n) ** 2
    print(
        f"{args.n} x {args.n} x {D}: skmem {big['seconds']:.1f} s (CPU "
        f"{big['cpu_seconds']:.1f} s over {args.n_jobs} threads), peak traced "
        f"{big['traced_bytes'] / gib:.3f} GiB, max RSS "
        f"{big['max_rss_bytes'] / gib:.2f} GiB; {pairs:.0f}x the pairs of the "
        f"reference size in {big['seconds'] / small['seconds']:.0f}x its time "
        f"(a full float64 matrix would take {8 * args.n**2 / gib:.0f} GiB)"
    )


if __name__ == "__main__":
    main()
