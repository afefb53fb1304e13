"""Validation figures of DiffusionDensity where the truth is known.

Three parts (``--parts gauss null canaries``, all by default):

``gauss``
    2-D and 8-D correlated Gaussians (the covariance of tests/test_diffusion.py):
    the mean ELBO on held-out rows against the exact mean log p (the gap per
    dimension; goal <= 0.1 nats below), and the probability-flow ODE's
    log-likelihood against the exact one (goal: within 2 Monte Carlo standard
    errors). Rows share their Monte Carlo draws, so the standard error is that
    of the per-draw means over rows, across draws.
``null``
    A model that cannot memorize: a 2-D Gaussian, ``--null-rows`` rows, a
    small MLP. MemorizationScorer cv=5, n_repeats=3 over ``--null-runs``
    seeds: mean M against its standard error, the share of
    ``memorization_pvalues_ < 0.05`` against 0.05 +- 3 binomial standard
    errors, the uniformity of the p-values (Kolmogorov-Smirnov), and how many
    runs flag anything (goal: at most 1 in 10).
``canaries``
    Dequantized digits (levels ``rint(16 X)``, ``n_levels=17``) with 20
    canaries of uniformly random levels, each once, 10 folds x 3 repeats: the
    AUC of M for the canaries (goal >= 0.95), how many of 20 are flagged
    (goal >= 15) and the share of the other rows flagged (goal <= 2 %).

    nice -n 10 python benchmarks/validate_diffusion.py [--parts ...]
        [--epochs-gauss 60] [--null-runs 10] [--null-rows 1000]
        [--canary-epochs 100] [--folds 10] [--repeats 3] [--cache FILE]

On the shared 2-core machine (load 6-15) the parts took about: gauss 10-25
min (the fits of 4000 rows), null 3 min (10 runs), canaries 15 min (30
models of 100 epochs; 8.5 min at 40 epochs). Alone on 2 cores each is a few
times faster. Smaller: ``--gauss-rows 1000 --null-runs 3 --canary-epochs 40``.

``--cache`` keeps the fitted canary scorer (joblib) for
``bench_diffusion_findings.py``, which reads the same file.
"""

import argparse
import time

import numpy as np
from scipy.stats import kstest, multivariate_normal
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture

from skmem import DiffusionDensity, MemorizationScorer
from skmem.datasets import load_digits


def correlated_cov(d, seed=0):
    """The correlated covariance of tests/test_diffusion.py (unit variances)."""
    rng = np.random.RandomState(seed)
    a = rng.normal(size=(d, d))
    cov = a @ a.T / d + 0.1 * np.eye(d)
    return cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))


def mean_and_se(draws):
    """Mean over rows and draws of (rows, draws) estimates, and its Monte Carlo
    standard error: the rows share the draws, so the spread is that of the
    per-draw means over rows, across draws."""
    per_draw = draws.mean(0)
    return per_draw.mean(), per_draw.std(ddof=1) / np.sqrt(len(per_draw))


def gauss(args):
    print("== Gaussian goals: held-out mean ELBO and ODE against the exact log p ==")
    for d in (2, 8):
        cov = correlated_cov(d)
        rng = np.random.RandomState(1)
        X = rng.multivariate_normal(np.zeros(d), cov, size=args.gauss_rows)
        X_test = rng.multivariate_normal(np.zeros(d), cov, size=args.gauss_test)
        exact = multivariate_normal(cov=cov).logpdf(X_test)
        start = time.perf_counter()
        model = DiffusionDensity(
            hidden_layer_sizes=(64, 64),
            max_epochs=args.epochs_gauss,
            n_mc_samples=args.gauss_draws,
            random_state=0,
        ).fit(X)
        fitted = time.perf_counter() - start
        draws = model._score_draws(X_test, model.module_)
        elbo, se = mean_and_se(draws)
        gap = (exact.mean() - elbo) / d
        per_draw = draws.mean(0)
        deviation = np.sort((per_draw - per_draw.mean()) ** 2)[::-1]
        tail = deviation[: max(1, len(deviation) // 100)].sum() / deviation.sum()
        print(
            f"d={d}: {args.gauss_rows} training rows, {args.epochs_gauss} epochs "
            f"({fitted:.0f}s); held-out mean exact log p {exact.mean():.4f}, mean "
            f"ELBO {elbo:.4f} +- {se:.4f} ({args.gauss_draws} draws): gap "
            f"{gap:+.4f} nats/dim (goal 0 <= gap <= 0.1) "
            f"{'PASS' if -2 * se / d <= gap <= 0.1 else 'FAIL'}"
        )
        print(
            f"     the draws (means over rows): sd {per_draw.std(ddof=1):.3f} nats, "
            f"median {np.median(per_draw):.3f}; the top 1 % of draws hold "
            f"{100 * tail:.0f} % of the variance (a heavy tail: small n_mc_samples "
            "understate the standard error)"
        )
        model.set_params(likelihood="ode", n_mc_samples=args.ode_draws)
        rows = X_test[: args.ode_rows]
        start = time.perf_counter()
        ode, ode_se = mean_and_se(model._score_draws(rows, model.module_))
        ode_time = time.perf_counter() - start
        diff = ode - exact[: args.ode_rows].mean()
        with np.errstate(divide="ignore"):  # a zero se: the probes agree exactly
            z = np.float64(diff) / ode_se
        elbo_rows = mean_and_se(
            model.set_params(
                likelihood="elbo", n_mc_samples=args.gauss_draws
            )._score_draws(rows, model.module_)
        )[0]
        print(
            f"     ODE on {args.ode_rows} rows, {args.ode_draws} draws "
            f"({ode_time:.0f}s): mean {ode:.4f} +- {ode_se:.4f}, exact "
            f"{exact[: args.ode_rows].mean():.4f}, "
            f"ODE - exact {diff:+.4f} = {z:+.2f} se (goal |.| <= 2) "
            f"{'PASS' if abs(diff) <= 2 * ode_se else 'FAIL'}; ODE - ELBO on these "
            f"rows {ode - elbo_rows:+.4f}"
        )


def null(args):
    print(
        f"\n== Null: 2-D Gaussian, {args.null_rows} rows, MLP {args.null_hidden}, "
        f"{args.null_epochs} epochs, cv=5 x 3 repeats, {args.null_runs} runs =="
    )
    cov = correlated_cov(2)
    flagged_runs, all_p, means, references = 0, [], [], []
    for run in range(args.null_runs):
        X = np.random.RandomState(100 + run).multivariate_normal(
            np.zeros(2), cov, size=args.null_rows
        )
        model = DiffusionDensity(
            hidden_layer_sizes=tuple(args.null_hidden),
            max_epochs=args.null_epochs,
            n_mc_samples=64,
        )
        start = time.perf_counter()
        scorer = MemorizationScorer(
            model, cv=5, n_repeats=3, n_jobs=1, random_state=run
        ).fit(X)
        M = scorer.memorization_scores_
        p = scorer.memorization_pvalues_
        # The same splits under the Gaussian maximum-likelihood fit (5 parameters),
        # whose mean M is the generalization gap, about p / n_train.
        reference = MemorizationScorer(
            GaussianMixture(1), cv=5, n_repeats=3, n_jobs=1, random_state=run
        ).fit(X)
        references.append(reference.memorization_scores_.mean())
        n_flagged = int(scorer.memorized().sum())
        flagged_runs += n_flagged > 0
        se = M.std(ddof=1) / np.sqrt(len(M))
        means.append(M.mean())
        all_p.append(p)
        print(
            f"run {run}: mean M {M.mean():+.4f} +- {se:.4f} ({M.mean() / se:+.2f} se), "
            f"Gaussian MLE's mean M {references[-1]:+.4f}, "
            f"share p<0.05 {np.mean(p < 0.05):.3f}, flagged {n_flagged} "
            f"({time.perf_counter() - start:.0f}s, {scorer.engine_})"
        )
    means = np.array(means)
    diff = means - np.array(references)
    n_train = int(0.8 * args.null_rows)
    print(
        f"the Gaussian MLE on the same splits: mean M {np.mean(references):+.4f} "
        f"(p / n_train = 5 / {n_train} = {5 / n_train:.4f}); diffusion minus it "
        f"{diff.mean():+.4f} +- {diff.std(ddof=1) / np.sqrt(len(diff)):.4f} "
        f"(t = {diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff))):+.2f})"
    )
    p = np.concatenate(all_p)
    share = np.mean(p < 0.05)
    binom = np.sqrt(0.05 * 0.95 / len(p))
    print(
        f"over runs: mean M {means.mean():+.4f}, sd across runs "
        f"{means.std(ddof=1):.4f} "
        f"(t = {means.mean() / (means.std(ddof=1) / np.sqrt(len(means))):+.2f})"
    )
    print(
        f"pooled p-values ({len(p)}): share < 0.05 {share:.4f} (0.05 +- 3 se = "
        f"[{0.05 - 3 * binom:.4f}, {0.05 + 3 * binom:.4f}]) "
        f"{'PASS' if abs(share - 0.05) <= 3 * binom else 'FAIL'}; share < 0.01 "
        f"{np.mean(p < 0.01):.4f}, < 0.1 {np.mean(p < 0.1):.4f}, < 0.5 "
        f"{np.mean(p < 0.5):.4f}; KS against uniform: D = "
        f"{kstest(p, 'uniform').statistic:.4f}"
    )
    print(
        f"runs flagging anything: {flagged_runs} of {args.null_runs} (goal <= 1) "
        f"{'PASS' if flagged_runs <= max(1, args.null_runs // 10) else 'FAIL'}"
    )


def canary_data(n_canaries=20, seed=0):
    """Digit levels 0..16 with ``n_canaries`` rows of uniformly random levels."""
    X = np.rint(load_digits() * 16)
    rng = np.random.default_rng(seed)
    canaries = rng.integers(0, 17, size=(n_canaries, X.shape[1])).astype(float)
    is_canary = np.r_[np.zeros(len(X), bool), np.ones(n_canaries, bool)]
    return np.vstack([X, canaries]), is_canary


def fit_canary_scorer(args):
    """The canary run, fitted or read back from ``args.cache``."""
    import joblib

    if args.cache:
        try:
            cached = joblib.load(args.cache)
            if cached["key"] == _canary_key(args):
                return cached["scorer"], cached["seconds"]
        except FileNotFoundError:
            pass
    X, _ = canary_data()
    model = DiffusionDensity(
        hidden_layer_sizes=(256, 256),
        n_levels=17,
        max_epochs=args.canary_epochs,
        n_mc_samples=args.canary_draws,
    )
    start = time.perf_counter()
    scorer = MemorizationScorer(
        model, cv=args.folds, n_repeats=args.repeats, n_jobs=1, random_state=0
    ).fit(X)
    seconds = time.perf_counter() - start
    if args.cache:
        joblib.dump(
            {"key": _canary_key(args), "scorer": scorer, "seconds": seconds},
            args.cache,
        )
    return scorer, seconds


def _canary_key(args):
    return (args.canary_epochs, args.canary_draws, args.folds, args.repeats)


def canaries(args):
    print(
        f"\n== Canaries: dequantized digits (17 levels) + 20 random canaries, MLP "
        f"256-256, {args.canary_epochs} epochs, {args.canary_draws} draws, "
        f"{args.folds} folds x {args.repeats} repeats =="
    )
    X, is_canary = canary_data()
    scorer, seconds = fit_canary_scorer(args)
    M = scorer.memorization_scores_
    flagged = scorer.memorized()
    auc = roc_auc_score(is_canary, M)
    others = flagged[~is_canary].mean()
    print(f"fit {seconds:.0f}s ({scorer.engine_} engine)")
    print(
        f"canary AUC of M {auc:.3f} (goal >= 0.95) {'PASS' if auc >= 0.95 else 'FAIL'}"
    )
    print(
        f"canaries flagged {flagged[is_canary].sum()} of 20 (goal >= 15) "
        f"{'PASS' if flagged[is_canary].sum() >= 15 else 'FAIL'}"
    )
    print(
        f"other rows flagged {flagged[~is_canary].sum()} of {(~is_canary).sum()} "
        f"({100 * others:.2f} %, goal <= 2 %) {'PASS' if others <= 0.02 else 'FAIL'}"
    )
    print(
        f"median M: canaries {np.median(M[is_canary]):.1f} nats, digits "
        f"{np.median(M[~is_canary]):.2f} nats; mean held-out log p of the digits "
        f"{scorer.out_log_likelihood_[~is_canary].mean():.1f} nats"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["gauss", "null", "canaries"],
        choices=["gauss", "null", "canaries"],
    )
    parser.add_argument("--gauss-rows", type=int, default=4000)
    parser.add_argument("--gauss-test", type=int, default=2000)
    parser.add_argument("--epochs-gauss", type=int, default=60)
    parser.add_argument("--gauss-draws", type=int, default=1024)
    parser.add_argument("--ode-rows", type=int, default=200)
    parser.add_argument("--ode-draws", type=int, default=64)
    parser.add_argument("--null-runs", type=int, default=10)
    parser.add_argument("--null-rows", type=int, default=1000)
    parser.add_argument("--null-hidden", type=int, nargs="+", default=[16])
    parser.add_argument("--null-epochs", type=int, default=20)
    parser.add_argument("--canary-epochs", type=int, default=100)
    parser.add_argument("--canary-draws", type=int, default=32)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", help="joblib file of the fitted canary scorer")
    args = parser.parse_args()
    for part in args.parts:
        globals()[part](args)


if __name__ == "__main__":
    main()
