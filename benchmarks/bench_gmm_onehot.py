"""The CLI's GaussianMixture on a mixed table: reg_covar against one-hot columns.

A one-hot column is 0 or 1. A mixture component whose rows all share a
category has zero variance in that column, so its density there is bounded
only by ``reg_covar``: at 1e-3 a component puts a spike of height
1/sqrt(2 pi 1e-3) ~ 12.6 (2.5 nats) on every one-hot coordinate it pins, a
"log-likelihood" that grows without bound as reg_covar shrinks and says
nothing about the record, and a row whose category combination only a few
training rows share gets a spike of its own: a large M.

A synthetic table shaped like ``diamonds`` (carat, cut, color, clarity,
depth, table, price, x, y, z: 3 categorical, 7 numeric columns; 3,000 rows)
is scored by ``skmem score --model gmm`` (the CLI's preprocessing: one-hot
and standard scaling) at several reg_covar, on the same folds, and without
its categorical columns (numeric only, the reference where reg_covar 1e-3 is
the default). Printed per setting: the held-out log-likelihood per row, the
largest and median M, and the split-half reliability of the ranking.

    python benchmarks/bench_gmm_onehot.py [--rows 3000] [--cv 5] [--repeats 2]
"""

import argparse
import time

import numpy as np

from skmem import MemorizationScorer
from skmem._cli.preprocess import prepare_model
from skmem._cli.tables import Table


def diamonds_like(n, seed=0):
    """A table with diamonds' columns and roughly its dependencies."""
    rng = np.random.RandomState(seed)
    carat = np.round(np.exp(rng.normal(-0.4, 0.55, n)).clip(0.2, 5), 2)
    cut = rng.choice(
        ["Fair", "Good", "Very Good", "Premium", "Ideal"],
        n,
        p=[0.03, 0.09, 0.22, 0.26, 0.40],
    )
    color = rng.choice(list("DEFGHIJ"), n, p=[0.13, 0.18, 0.18, 0.21, 0.15, 0.10, 0.05])
    clarity = rng.choice(
        ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
        n,
        p=[0.01, 0.17, 0.24, 0.23, 0.15, 0.09, 0.07, 0.04],
    )
    depth = np.round(rng.normal(61.7, 1.4, n), 1)
    table = np.round(rng.normal(57.5, 2.2, n))
    rank = {"Fair": 0, "Good": 1, "Very Good": 2, "Premium": 3, "Ideal": 4}
    quality = 0.03 * np.array([rank[c] for c in cut])
    noise = rng.normal(0, 0.2, n)
    price = np.round(np.exp(8.4 + 1.7 * np.log(carat) + quality + noise))
    size = 6.5 * carat ** (1 / 3)
    x = np.round(size + rng.normal(0, 0.05, n), 2)
    y = np.round(size + rng.normal(0, 0.05, n), 2)
    z = np.round(0.62 * size + rng.normal(0, 0.04, n), 2)
    columns = {
        "carat": carat,
        "cut": cut,
        "color": color,
        "clarity": clarity,
        "depth": depth,
        "table": table,
        "price": price,
        "x": x,
        "y": y,
        "z": z,
    }
    X = np.empty((n, len(columns)), dtype=object)
    for j, values in enumerate(columns.values()):
        X[:, j] = values
    categorical = [1, 2, 3]
    return Table(X, list(columns), categorical, kind="table")


def run(table, params, args):
    estimator, notes = prepare_model("gmm", params, table)
    start = time.perf_counter()
    scorer = MemorizationScorer(
        estimator, cv=args.cv, n_repeats=args.repeats, n_jobs=-1, random_state=0
    ).fit(table.X)
    seconds = time.perf_counter() - start
    M = scorer.memorization_scores_
    held_out = float(np.mean(scorer.out_log_likelihood_))
    return estimator, notes, held_out, M, scorer.reliability_, seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    table = diamonds_like(args.rows)
    numeric = Table(
        table.X[:, table.numeric].astype(float),
        [table.names[j] for j in table.numeric],
        kind="table",
    )
    print(
        f"diamonds-like table {args.rows} x 10 (3 categorical), GMM 10 components, "
        f"{args.cv} folds x {args.repeats} repeats"
    )
    print(
        f"{'setting':34s} {'held-out ll':>11s} {'max M':>8s} {'median M':>9s} "
        f"{'reliability':>11s} {'seconds':>8s}"
    )
    settings = [
        ("numeric columns only, 1e-3", numeric, {"reg_covar": 1e-3}),
        ("CLI default (no reg_covar given)", table, {}),
    ] + [(f"reg_covar {r:g}", table, {"reg_covar": r}) for r in (1e-3, 1e-2, 0.1, 0.3)]
    for label, data, params in settings:
        estimator, notes, held_out, M, reliability, seconds = run(data, params, args)
        print(
            f"{label:34s} {held_out:11.2f} {np.max(M):8.2f} {np.median(M):9.3f} "
            f"{reliability:11.2f} {seconds:8.1f}"
        )
        if label.startswith("CLI"):
            chosen = estimator[-1].reg_covar
            print(f"  (the CLI chose reg_covar {chosen:g}; notes: {notes[-1][:80]}...)")


if __name__ == "__main__":
    main()
