"""``skmem score --model kde`` on its exact engine, against the Python engine.

Prints, in one run:

1. a 50,000 x 8 numeric CSV: the wall time of ``skmem score`` (a fresh
   process: reading the CSV, standardizing, the scores, the audit, writing
   ``scores.csv``) against ``MemorizationScorer(KernelDensity())`` fitted on the
   same standardized array in this process, with the same 10 folds x 3
   repeats, and the ratio (goal: at most 2); and that both give the same
   scores;
2. a 54,000 x 10 mixed table shaped like diamonds (3 categorical columns of
   5, 7 and 8 levels, 7 numeric ones), ``skmem score --model kde --verbose 1``:
   the engine it ran on, its wall time (goal: under 5 minutes) and when the
   progress bar first showed an estimate of the time left.

    PYTHONPATH=. python benchmarks/bench_cli_kde.py [--n 50000] [--n-mixed 54000]
        [--rounds 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from skmem import MemorizationScorer

ROOT = Path(__file__).resolve().parents[1]


def numeric_table(n, seed=0):
    """Eight correlated columns on scales from 0.01 to 1000."""
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n, 3))
    mixing = rng.normal(size=(3, 8))
    noise = rng.normal(scale=0.5, size=(n, 8))
    return (latent @ mixing + noise) * np.logspace(-2, 3, 8)


def diamonds_like(n, seed=0):
    """carat, cut, color, clarity, depth, table, price, x, y, z."""
    rng = np.random.RandomState(seed)
    carat = np.round(np.exp(rng.normal(-0.4, 0.55, n)).clip(0.2, 5.0), 2)
    size = np.cbrt(carat)
    frame = pd.DataFrame(
        {
            "carat": carat,
            "cut": rng.choice(
                ["Fair", "Good", "Very Good", "Premium", "Ideal"],
                n,
                p=[0.03, 0.09, 0.22, 0.26, 0.4],
            ),
            "color": rng.choice(list("DEFGHIJ"), n),
            "clarity": rng.choice(
                ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"], n
            ),
            "depth": np.round(rng.normal(61.7, 1.4, n), 1),
            "table": np.round(rng.normal(57.5, 2.2, n)),
            "price": np.round(3900 * carat**1.7 * np.exp(rng.normal(0, 0.2, n))),
        }
    )
    for axis, scale in (("x", 6.5), ("y", 6.5), ("z", 4.0)):
        frame[axis] = np.round(scale * size * np.exp(rng.normal(0, 0.01, n)), 2)
    return frame


def run_cli(args, cwd):
    """Run ``python -m skmem``; return (wall seconds, (seconds to the bar's first
    line, seconds to its first estimate of the time left), stderr)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "skmem", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first_bar, first_eta = [None], [None]
    chunks = []

    def read_stderr():
        while chunk := os.read(process.stderr.fileno(), 4096):
            chunks.append(chunk)
            text = chunk.decode(errors="replace")
            if first_bar[0] is None and "row" in text:
                first_bar[0] = time.perf_counter() - start
            # tqdm writes "[elapsed<remaining" once it can estimate the rest.
            if first_eta[0] is None and "row/s]" in text and "<?" not in text:
                first_eta[0] = time.perf_counter() - start

    reader = threading.Thread(target=read_stderr)
    reader.start()
    stdout = process.stdout.read()
    process.wait()
    reader.join()
    seconds = time.perf_counter() - start
    stderr = b"".join(chunks).decode(errors="replace")
    if process.returncode:
        raise SystemExit(f"skmem failed:\n{stdout.decode()}\n{stderr}")
    return seconds, (first_bar[0], first_eta[0]), stderr


def _seconds_list(times):
    return ", ".join(f"{t:.1f}" for t in times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--n-mixed", type=int, default=54_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        X = numeric_table(args.n)
        columns = [f"c{j}" for j in range(X.shape[1])]
        pd.DataFrame(X, columns=columns).to_csv(tmp / "numeric.csv", index=False)
        X = pd.read_csv(tmp / "numeric.csv").to_numpy()  # the values the CLI reads
        Z = StandardScaler().fit_transform(X)
        # Alternated, and the fastest of each kept: the cores are shared, and a
        # neighbour's load would otherwise land on one side only.
        cli_times, python_times = [], []
        for _ in range(args.rounds):
            seconds, _, _ = run_cli(
                ["score", str(tmp / "numeric.csv"), "--model", "kde", "--cv", "10",
                 "--repeats", "3", "--seed", "0", "--out",
                 str(tmp / "numeric.out.csv")],
                tmp,
            )  # fmt: skip
            cli_times.append(seconds)
            start = time.perf_counter()
            scorer = MemorizationScorer(
                KernelDensity(bandwidth="scott"),
                cv=10,
                n_repeats=3,
                random_state=0,
                n_jobs=-1,
            ).fit(Z)
            python_times.append(time.perf_counter() - start)
        cli_seconds, python_seconds = min(cli_times), min(python_times)
        engine = json.loads((tmp / "numeric.out.json").read_text())["settings"]
        cli_scores = pd.read_csv(tmp / "numeric.out.csv")["score"].to_numpy()
        gap = np.nanmax(np.abs(cli_scores - scorer.memorization_scores_))
        print(
            f"{args.n} x {X.shape[1]} numeric CSV, 10 folds x 3 repeats:\n"
            f"  skmem score --model kde  {cli_seconds:7.1f} s  "
            f"({engine['engine']} engine; fastest of {_seconds_list(cli_times)})\n"
            f"  Python kde engine        {python_seconds:7.1f} s  "
            f"(standardized array, fit only; fastest of "
            f"{_seconds_list(python_times)})\n"
            f"  ratio CLI / Python       {cli_seconds / python_seconds:7.2f}  "
            "(goal <= 2)\n"
            f"  largest |M_cli - M_python|: {gap:.2e}"
        )

        frame = diamonds_like(args.n_mixed)
        frame.to_csv(tmp / "diamonds.csv", index=False)
        seconds, (first_bar, first_eta), stderr = run_cli(
            ["score", str(tmp / "diamonds.csv"), "--model", "kde", "--verbose", "1",
             "--out", str(tmp / "diamonds.out.csv")],
            tmp,
        )  # fmt: skip
        settings = json.loads((tmp / "diamonds.out.json").read_text())["settings"]
        bar = "never" if first_bar is None else f"after {first_bar:.1f} s"
        eta = "never" if first_eta is None else f"after {first_eta:.1f} s"
        print(
            f"{args.n_mixed} x 10 diamonds-like mixed CSV, the CLI's defaults:\n"
            f"  skmem score --model kde  {seconds:7.1f} s  ({settings['engine']} "
            "engine; goal < 300 s)\n"
            f"  progress bar shown {bar} (the engine's start), with an estimate of "
            f"the time left {eta}"
        )
        warnings = [line for line in stderr.splitlines() if "Warning" in line]
        if warnings:
            print("  warnings on stderr:", *warnings, sep="\n    ")


if __name__ == "__main__":
    main()
