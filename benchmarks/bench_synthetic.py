"""SDMetrics' DCR metrics against skmem's per-record risk table, side by side.

On the same training, held-out and synthetic rows (``D`` numeric columns;
half the synthetic rows near-copies of training rows, half fresh), each size
runs in fresh processes:

1. SDMetrics 0.32: ``DCROverfittingProtection.compute_breakdown`` (train,
   synthetic, holdout) and ``DCRBaselineProtection.compute_breakdown`` (train,
   synthetic), no subsampling, at sizes up to ``--sdmetrics-max`` (default
   20,000: SDMetrics' cross-joins in pandas take minutes there and hours at
   100,000);
2. ``skmem.record_risk(train, synthetic, holdout)``: per training record the
   closest synthetic and held-out rows and the count of synthetic rows closer,
   per synthetic row its closest training and held-out rows, and the shares
   with Wilson intervals.

It prints wall time and the peak resident memory each process added over
its state before the call (``resource.getrusage``), and the ratios measured
in this run. Where the two measure the same thing, it checks them: on one
column (SDMetrics normalizes a numeric difference by the reference's range,
and averages over columns, skmem measures euclidean distance), skmem's
distances divided by the range equal SDMetrics' DCRs of every synthetic row
to training and to held-out rows, and its share of synthetic rows closer to
training is SDMetrics' ``closer_to_training`` (at sizes up to
``--check-max``, default 5,000).

    nice -n 10 python benchmarks/bench_synthetic.py [--sizes 5000 20000 100000]
        [--sdmetrics-max 20000] [--columns 8]
"""

import argparse
import json
import subprocess
import sys


def _data(n, d, seed=0):
    import numpy as np
    import pandas as pd

    rng = np.random.RandomState(seed)
    train = rng.normal(size=(n, d))
    holdout = rng.normal(size=(n, d))
    half = n // 2
    synthetic = np.vstack(
        [
            train[rng.randint(n, size=half)] + 0.01 * rng.normal(size=(half, d)),
            rng.normal(size=(n - half, d)),
        ]
    )
    names = [f"x{j}" for j in range(d)]
    return tuple(pd.DataFrame(a, columns=names) for a in (train, synthetic, holdout))


def _metadata(columns):
    return {"columns": {c: {"sdtype": "numerical"} for c in columns}}


def _child(kind, n, d, n_jobs, check_max):
    import resource
    import time
    import warnings

    import numpy as np

    train, synthetic, holdout = _data(n, d)
    if kind == "sdmetrics":
        from sdmetrics.single_table import (
            DCRBaselineProtection,
            DCROverfittingProtection,
        )
        from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr
    else:
        from skmem import record_risk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    out = {}
    if kind == "sdmetrics":
        metadata = _metadata(train.columns)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            overfit = DCROverfittingProtection.compute_breakdown(
                train, synthetic, holdout, metadata, table_name=None
            )
            baseline = DCRBaselineProtection.compute_breakdown(
                train, synthetic, metadata, table_name=None
            )
        out["closer_to_training"] = overfit["synthetic_data_percentages"][
            "closer_to_training"
        ]
        out["baseline_median_dcr"] = baseline["median_DCR_to_real_data"][
            "synthetic_data"
        ]
    else:
        table = record_risk(train, synthetic, holdout, n_jobs=n_jobs)
        out["closer_to_training"] = float(
            table.attrs["shares"].loc["synthetic_closer_to_training", "share"]
        )
        out["records_with_a_closer_row"] = float(
            table.attrs["shares"].loc["records_with_a_closer_synthetic_row", "share"]
        )
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out.update(seconds=seconds, added_rss_bytes=after - before, max_rss_bytes=after)
    # The one-column check, on the first column of the same rows.
    if n <= check_max:
        one = [frame[["x0"]] for frame in (train, synthetic, holdout)]
        if kind == "sdmetrics":
            metadata = _metadata(["x0"])
            to_train = calculate_dcr(one[1], one[0], metadata).to_numpy()
            to_holdout = calculate_dcr(one[1], one[2], metadata).to_numpy()
        else:
            synth = record_risk(*one).attrs["synthetic"]
            range_train = float(np.ptp(one[0].to_numpy()))
            range_holdout = float(np.ptp(one[2].to_numpy()))
            # SDMetrics caps a range-normalized difference at 1.
            to_train = np.minimum(synth["distance_to_training"] / range_train, 1.0)
            to_holdout = np.minimum(synth["distance_to_holdout"] / range_holdout, 1.0)
            to_train, to_holdout = np.asarray(to_train), np.asarray(to_holdout)
        out["one_column"] = {
            "to_train": to_train.tolist(),
            "to_holdout": to_holdout.tolist(),
        }
    print(json.dumps(out))


def _run(kind, n, d, n_jobs, check_max):
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--sizes",
            str(n),
            "--columns",
            str(d),
            "--n-jobs",
            str(n_jobs),
            "--check-max",
            str(check_max),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 100000])
    parser.add_argument("--sdmetrics-max", type=int, default=20000)
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--check-max", type=int, default=5000)
    parser.add_argument("--child", choices=["sdmetrics", "skmem"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.sizes[0], args.columns, args.n_jobs, args.check_max)
        return
    import numpy as np

    mib = 2**20
    print(
        f"train = holdout = synthetic rows, {args.columns} numeric columns; "
        f"skmem with {args.n_jobs} threads"
    )
    for n in args.sizes:
        ours = _run("skmem", n, args.columns, args.n_jobs, args.check_max)
        line = (
            f"{n:>7} rows: skmem record_risk {ours['seconds']:.2f} s, "
            f"+{ours['added_rss_bytes'] / mib:.0f} MiB (peak RSS "
            f"{ours['max_rss_bytes'] / mib:.0f} MiB); closer to training "
            f"{ours['closer_to_training']:.4f}"
        )
        print(line, flush=True)
        if n > args.sdmetrics_max:
            print(f"{n:>7} rows: SDMetrics not run (above --sdmetrics-max)")
            continue
        theirs = _run("sdmetrics", n, args.columns, args.n_jobs, args.check_max)
        print(
            f"{n:>7} rows: SDMetrics DCROverfitting + DCRBaseline "
            f"{theirs['seconds']:.1f} s, +{theirs['added_rss_bytes'] / mib:.0f} MiB "
            f"(peak RSS {theirs['max_rss_bytes'] / mib:.0f} MiB); closer to "
            f"training {theirs['closer_to_training']:.4f} (their distance: mean "
            "range-normalized difference over columns)"
        )
        ratio_time = theirs["seconds"] / ours["seconds"]
        ratio_memory = max(theirs["added_rss_bytes"], 1) / max(
            ours["added_rss_bytes"], 1
        )
        print(
            f"{n:>7} rows: skmem {ratio_time:.0f}x faster, "
            f"{ratio_memory:.1f}x less added memory"
        )
        if "one_column" in ours and "one_column" in theirs:
            a, b = ours["one_column"], theirs["one_column"]
            gaps = [
                float(np.max(np.abs(np.subtract(a[key], b[key]))))
                for key in ("to_train", "to_holdout")
            ]
            share_a = float(np.mean(np.less(a["to_train"], a["to_holdout"])))
            share_b = float(np.mean(np.less(b["to_train"], b["to_holdout"])))
            print(
                f"{n:>7} rows, one column: largest DCR difference to training "
                f"{gaps[0]:.1e}, to holdout {gaps[1]:.1e}; closer-to-training "
                f"share {share_a:.6f} vs {share_b:.6f}; agree to 1e-9: "
                f"{max(gaps) <= 1e-9 and share_a == share_b}"
            )


if __name__ == "__main__":
    main()
