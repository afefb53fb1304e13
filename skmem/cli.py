"""The ``skmem`` command (also ``python -m skmem``)."""

import argparse
import sys
import time

import numpy as np


def _demo(args):
    from sklearn.mixture import GaussianMixture
    from sklearn.model_selection import KFold
    from sklearn.neighbors import KernelDensity

    from ._scorer import MemorizationScorer
    from .datasets import load_digits

    X, y = load_digits(return_y=True)
    cv = KFold(args.cv, shuffle=True, random_state=args.seed)
    models = {
        "KDE (bandwidth 0.125)": KernelDensity(bandwidth=0.125),
        "GMM (10 components, full)": GaussianMixture(
            10, covariance_type="full", reg_covar=1e-3
        ),
    }
    print(
        f"skmem demo: scikit-learn digits, {X.shape[0]} x {X.shape[1]}, "
        f"{args.cv} folds, seed {args.seed}"
    )
    for name, estimator in models.items():
        start = time.perf_counter()
        scorer = MemorizationScorer(
            estimator, cv=cv, n_jobs=args.n_jobs, random_state=args.seed
        ).fit(X)
        scores = scorer.memorization_scores_
        top = np.argsort(scores)[::-1][:10]
        print(f"\n{name}: {time.perf_counter() - start:.1f}s")
        print(f"  held-out log-likelihood {scorer.score(X):.2f} nats")
        print(
            f"  memorization: mean {np.nanmean(scores):.2f}, "
            f"q95 {np.nanquantile(scores, 0.95):.2f}, "
            f"q99 {np.nanquantile(scores, 0.99):.2f} nats"
        )
        print("  ten most memorized digits (index: label, score):")
        print("   " + ", ".join(f"{i}: {y[i]} ({scores[i]:.1f})" for i in top))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skmem",
        description="Which training samples did a density model memorize?",
    )
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser(
        "demo", help="memorization scores on scikit-learn's digits (the default)"
    )
    for p in (parser, demo):
        p.add_argument("--cv", type=int, default=10, help="number of folds")
        p.add_argument("--seed", type=int, default=0, help="random seed")
        p.add_argument(
            "--n-jobs", type=int, default=-1, help="models fitted in parallel"
        )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return _demo(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
