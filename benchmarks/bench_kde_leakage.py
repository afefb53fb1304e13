"""What fitting the CLI's KDE preprocessing once on all rows costs in leakage.

``skmem score --model kde`` standardizes (and one-hot encodes) once, on all
rows, so that every fold model sees the same transform and the exact ``kde``
engine runs. A held-out row then has a say in the scaling of the model that
holds it out: a leak. This prints, for each n, the median over records of
``|M_frozen - M_refit|`` (the same folds; refit: the scaler refitted on each
fold's training rows, the generic engine) next to the median over records of
the standard deviation of ``M_frozen`` across 5 seeds of the folds (the noise
any one run has anyway). A leak well below that noise changes no conclusion.

Data: 4 heavy-tailed columns (Student t, 4 degrees of freedom; ``--data
normal``: Gaussian) on scales 1 to 1000; heavy tails are where an outlying
row moves a column's mean and spread the most.
The CLI's defaults: bandwidth "scott", 10 folds x 3 repeats.

    PYTHONPATH=. python benchmarks/bench_kde_leakage.py [--sizes 100 400 1600]
        [--seeds 5] [--data t4|normal]
"""

import argparse

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmem import MemorizationScorer


def data(n, kind, seed=0):
    rng = np.random.RandomState(seed)
    if kind == "t4":
        columns = rng.standard_t(4, size=(n, 4))
    else:
        columns = rng.normal(size=(n, 4))
    return columns * [1.0, 10.0, 100.0, 1000.0]


def scores(estimator, X, seed, engine="auto"):
    scorer = MemorizationScorer(
        estimator, cv=10, n_repeats=3, random_state=seed, engine=engine
    ).fit(X)
    return scorer.memorization_scores_, scorer.engine_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1600])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data", choices=["t4", "normal"], default="t4")
    args = parser.parse_args()
    header = ("n", "median |M_frozen - M_refit|", "median std across seeds")
    print(f"{header[0]:>6} {header[1]:>28} {header[2]:>24}")
    for n in args.sizes:
        X = data(n, args.data)
        frozen = make_pipeline(
            FrozenEstimator(StandardScaler().fit(X)), KernelDensity(bandwidth="scott")
        )
        refit = make_pipeline(StandardScaler(), KernelDensity(bandwidth="scott"))
        by_seed = []
        for seed in range(args.seeds):
            m, engine = scores(frozen, X, seed)
            assert engine == "kde", engine
            by_seed.append(m)
        m_refit, engine = scores(refit, X, 0)
        assert engine == "generic", engine
        leak = np.median(np.abs(by_seed[0] - m_refit))
        noise = np.median(np.std(by_seed, axis=0, ddof=1))
        print(f"{n:>6} {leak:>28.4f} {noise:>24.4f}")


if __name__ == "__main__":
    main()
