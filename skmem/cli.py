"""The ``skmem`` command (also ``python -m skmem``).

``skmem demo`` scores scikit-learn's digits under KDE, GMM and the VAE on the same
folds and writes a report; ``skmem score DATA`` scores your data.
"""

import argparse
import ast
import csv
import sys
import time
from pathlib import Path

import numpy as np

MODELS = ("kde", "gmm", "vae")


class UsageError(Exception):
    """A problem with the command line or the input: one line, exit code 2."""


def make_estimator(model, params=None):
    """The density estimator for ``--model``, with ``--param`` values applied."""
    if model == "kde":
        from sklearn.neighbors import KernelDensity

        estimator = KernelDensity(bandwidth="scott")
    elif model == "gmm":
        from sklearn.mixture import GaussianMixture

        estimator = GaussianMixture(10, covariance_type="full", reg_covar=1e-3)
    else:
        from .vae import VAEDensity

        estimator = VAEDensity(
            latent_dim=8,
            hidden_layer_sizes=(256,),
            max_epochs=20,
            n_importance_samples=128,
        )
    params = params or {}
    valid = estimator.get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise UsageError(
            f"unknown option {unknown[0]!r} for --model {model}; valid: "
            + ", ".join(sorted(valid))
        )
    return estimator.set_params(**params)


def parse_params(items):
    """``["bandwidth=0.5", "kernel=tophat"]`` -> dict, values as Python literals."""
    params = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE, got {item!r}")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def load_data(path, key=None):
    """A 2-D float array from ``.npy``, ``.npz`` or ``.csv`` (header detected)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        X = np.load(path, allow_pickle=False)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.keys())
            if not names:
                raise UsageError(f"{path} holds no arrays")
            name = key or names[0]
            if name not in archive:
                raise UsageError(f"{path} has no array {name!r}; it has {names}")
            X = archive[name]
    elif suffix == ".csv":
        X = _read_csv(path)
    else:
        raise UsageError(f"{path}: expected a .npy, .npz or .csv file")
    if X.dtype.kind not in "biuf":
        raise UsageError(f"{path}: expected numbers, got dtype {X.dtype}")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise UsageError(f"{path}: expected a 2-D table, got {X.ndim} dimensions")
    return X.astype(np.float64)


def _read_csv(path):
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    if not rows:
        raise UsageError(f"{path} is empty")

    def numeric(cell):
        try:
            float(cell)
            return True
        except ValueError:
            return False

    header = None
    if not all(numeric(c) for c in rows[0]):
        header, rows = rows[0], rows[1:]
    names = header or [f"column {j}" for j in range(len(rows[0]))]
    for i, row in enumerate(rows):
        if len(row) != len(names):
            raise UsageError(
                f"{path}: row {i + 1} has {len(row)} fields, expected {len(names)}"
            )
        for j, cell in enumerate(row):
            if not numeric(cell):
                raise UsageError(
                    f"{path}: column {names[j]!r} is not numeric (row {i + 1}: "
                    f"{cell!r})"
                )
    return np.array(rows, dtype=np.float64)


def _nn_ratio(estimator, scorer, X, seed):
    """The nearest-neighbour test on fold model 0: its training rows, its held-out
    fold as validation data, and as many samples drawn from it as it trained on."""
    from sklearn.base import clone

    from .baselines import nearest_neighbor_distance_ratio

    train = np.flatnonzero(scorer.train_masks_[0])
    test = np.flatnonzero(scorer.test_masks_[0])
    models = getattr(scorer, "estimators_", None)
    model = models[0] if models else clone(estimator).fit(X[train])
    kwargs = {"random_state": seed} if "random_state" in _sample_params(model) else {}
    generated = model.sample(len(train), **kwargs)
    if isinstance(generated, tuple):  # GaussianMixture returns (X, labels)
        generated = generated[0]
    return train, nearest_neighbor_distance_ratio(X[train], generated, X[test])


def _sample_params(model):
    import inspect

    return inspect.signature(model.sample).parameters


def run_models(X, models, *, cv, repeats, n_jobs, seed, verbose):
    """Fit one MemorizationScorer per model on the same folds."""
    from sklearn.model_selection import KFold, RepeatedKFold

    from ._scorer import MemorizationScorer

    if repeats > 1:
        splitter = RepeatedKFold(n_splits=cv, n_repeats=repeats, random_state=seed)
    else:
        splitter = KFold(cv, shuffle=True, random_state=seed)
    results = {}
    for name, estimator in models.items():
        start = time.perf_counter()
        print(f"[skmem] {name}: fitting {splitter.get_n_splits()} models", flush=True)
        scorer = MemorizationScorer(
            estimator, cv=splitter, n_jobs=n_jobs, random_state=seed, verbose=verbose
        ).fit(X)
        seconds = time.perf_counter() - start
        print(f"[skmem] {name}: done in {seconds:.1f}s ({scorer.engine_} engine)")
        results[name] = {"scorer": scorer, "X": X, "estimator": estimator}
    return results


def report(results, out, *, title, image_shape=None, notes=(), seed=0):
    """Table on stdout; figures and HTML under ``out`` when given."""
    from ._report import format_table, summary_rows

    nn = {}
    for name, r in results.items():
        if hasattr(r["estimator"], "sample"):
            nn[name] = _nn_ratio(r["estimator"], r["scorer"], r["X"], seed)
    rows = summary_rows(results, nn)
    print()
    print(format_table(rows))
    if out is None:
        return rows
    try:
        import matplotlib
    except ImportError:
        print(
            "\n[skmem] matplotlib is not installed: no report (pip install "
            "'skmem[plot]')."
        )
        return rows

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._report import write_report
    from .plotting import MemorizationDisplay

    figures = {}
    for name, r in results.items():
        scores = r["scorer"].memorization_scores_
        ratio = None
        if name in nn:
            indices, values = nn[name]
            ratio = np.full(len(scores), np.nan)
            ratio[indices] = values
        display = MemorizationDisplay.from_estimator(
            r["scorer"], r["X"], image_shape=image_shape, nn_distance=ratio, name=name
        )
        if display.scatter_ax_ is not None:
            display.scatter_ax_.set_xscale("log")
            display.scatter_ax_.set_xlabel("NN distance ratio (validation / generated)")
        figures[name.split()[0].lower()] = display.figure_
    page = write_report(out, rows, figures, title=title, notes=notes)
    for fig in figures.values():
        plt.close(fig)
    print(f"\n[skmem] report written to {page}")
    return rows


def _demo(args):
    from .datasets import load_digits

    X = load_digits()
    models = {"KDE": make_estimator("kde", {"bandwidth": 0.125})}
    models["GMM"] = make_estimator("gmm")
    try:
        import torch  # noqa: F401

        models["VAE"] = make_estimator("vae", {"max_epochs": args.epochs})
    except ImportError:
        print(
            "[skmem] torch is not installed: the VAE is left out (pip install "
            "'skmem[vae]')."
        )
    print(
        f"skmem demo: scikit-learn digits {X.shape[0]} x {X.shape[1]} (pixels / 16), "
        f"{args.cv} folds x {args.repeats} repeat(s), seed {args.seed}"
    )
    start = time.perf_counter()
    results = run_models(
        X,
        models,
        cv=args.cv,
        repeats=args.repeats,
        n_jobs=args.n_jobs,
        seed=args.seed,
        verbose=args.verbose,
    )
    notes = [
        "Memorization score M (nats): log-likelihood of a sample under the models "
        "trained on it minus under the models that held it out. Higher = more "
        "memorized.",
        "Held-out log-likelihood: mean over samples of the density from the models "
        "that held each sample out (a Bernoulli VAE's unit is not a density on "
        "grey levels, so compare it only with itself).",
        "rho: Spearman correlation of M between models, and with the nearest-"
        "neighbour test (distance to the nearest validation sample over distance "
        "to the nearest generated sample, fold model 0's training samples).",
    ]
    report(
        results,
        args.out,
        title="skmem demo: memorization on digits",
        image_shape=(8, 8),
        notes=notes,
        seed=args.seed,
    )
    print(f"[skmem] demo finished in {time.perf_counter() - start:.0f}s")
    return 0


def _score(args):
    X = load_data(args.data, key=args.key)
    estimator = make_estimator(args.model, parse_params(args.param))
    results = run_models(
        X,
        {args.model: estimator},
        cv=args.cv,
        repeats=args.repeats,
        n_jobs=args.n_jobs,
        seed=args.seed,
        verbose=args.verbose,
    )
    scorer = results[args.model]["scorer"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = [
        np.arange(len(X)),
        scorer.memorization_scores_,
        scorer.in_log_likelihood_,
        scorer.out_log_likelihood_,
    ]
    header = "index,score,in_log_likelihood,out_log_likelihood"
    if args.repeats > 1:
        columns.append(scorer.memorization_std_)
        header += ",score_std"
    np.savetxt(
        out,
        np.column_stack(columns),
        delimiter=",",
        header=header,
        comments="",
        fmt=["%d"] + ["%.10g"] * (len(columns) - 1),
    )
    print(f"[skmem] scores written to {out}")
    if args.report:
        report(
            results, args.report, title=f"skmem: {Path(args.data).name}", seed=args.seed
        )
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skmem",
        description="Which training samples did a density model memorize? "
        "Memorization scores (van den Burg & Williams, 2021) by cross-validation.",
    )
    sub = parser.add_subparsers(dest="command")

    def common(p):
        p.add_argument("--cv", type=int, default=10, help="folds (default 10)")
        p.add_argument(
            "--repeats",
            type=int,
            default=1,
            help="repeats of the folds, for error bars (default 1)",
        )
        p.add_argument(
            "--n-jobs",
            type=int,
            default=-1,
            help="models fitted in parallel (default -1: all cores)",
        )
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p.add_argument("--verbose", type=int, default=0, help="progress detail")

    demo = sub.add_parser(
        "demo", help="KDE, GMM and the VAE on scikit-learn's digits, with a report"
    )
    common(demo)
    demo.add_argument(
        "--out", default="skmem-report", help="report folder (default skmem-report)"
    )
    demo.add_argument(
        "--epochs", type=int, default=100, help="VAE epochs (default 100)"
    )

    score = sub.add_parser("score", help="memorization scores of your data")
    score.add_argument("data", help="a .npy, .npz or .csv file (numeric columns)")
    score.add_argument("--model", choices=MODELS, default="kde")
    score.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a model option, e.g. --param bandwidth=0.5 --param kernel=tophat "
        "(kde), --param n_components=5 (gmm), --param max_epochs=50 (vae)",
    )
    score.add_argument("--key", help="array name inside a .npz file")
    common(score)
    score.add_argument("--out", default="scores.csv", help="output CSV (scores.csv)")
    score.add_argument("--report", metavar="DIR", help="also write a report here")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # plain `skmem` / `python -m skmem`: the demo
        args = parser.parse_args(["demo", *(argv or [])])
    try:
        if args.cv < 2:
            raise UsageError(f"--cv must be at least 2, got {args.cv}")
        if args.repeats < 1:
            raise UsageError(f"--repeats must be at least 1, got {args.repeats}")
        return _demo(args) if args.command == "demo" else _score(args)
    except (
        UsageError,
        ValueError,
        TypeError,
        OSError,
        ImportError,
        MemoryError,
    ) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        print(f"skmem: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
