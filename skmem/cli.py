"""The ``skmem`` command (also ``python -m skmem``).

``skmem demo`` scores scikit-learn's digits under KDE, GMM and the VAE on the same
folds and writes a report; ``skmem score DATA`` scores your data.
"""

import argparse
import ast
import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Each model's estimator and its defaults; --help and make_estimator read this.
MODELS = {
    "kde": ("sklearn.neighbors", "KernelDensity", {"bandwidth": "scott"}),
    "gmm": (
        "sklearn.mixture",
        "GaussianMixture",
        {"n_components": 10, "covariance_type": "full", "reg_covar": 1e-3},
    ),
    "vae": (
        "skmem.vae",
        "VAEDensity",
        {
            "latent_dim": 8,
            "hidden_layer_sizes": (256,),
            "max_epochs": 20,
            "n_importance_samples": 128,
        },
    ),
}
VAE_LIKELIHOOD_NOTE = (
    'likelihood="bernoulli" for data in [0, 1], otherwise likelihood="gaussian" '
    "on standardized columns"
)


class UsageError(Exception):
    """A problem with the command line or the input: one line, exit code 2."""


def model_defaults_text():
    """One line per model: its estimator and the defaults the command sets."""
    lines = []
    for name, (_, cls, defaults) in MODELS.items():
        args = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
        line = f"  {name}  {cls}({args})"
        if name == "vae":
            line += f";\n       {VAE_LIKELIHOOD_NOTE}"
        lines.append(line)
    return "\n".join(lines)


def make_estimator(model, params=None, sampled=None):
    """The density estimator for ``--model``, with ``--param`` values applied.

    The parameters are checked as the estimator's ``fit`` would check them,
    before any work. A model given as ``package.module:Class`` is built by
    :func:`skmem._sampled.resolve_model` (wrapped in SampledDensity when it
    samples but has no likelihood, or when ``sampled``).
    """
    import importlib

    if model not in MODELS:
        from ._sampled import resolve_model

        if ":" not in model:
            raise UsageError(
                f"--model {model}: use one of {', '.join(MODELS)}, or an import "
                "path package.module:Class"
            )
        try:
            return resolve_model(model, params or {}, sampled=sampled)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    module, cls, defaults = MODELS[model]
    try:
        estimator = getattr(importlib.import_module(module), cls)(**defaults)
    except ImportError as exc:
        raise UsageError(
            f"--model {model} needs {exc.name} (pip install 'skmem[vae]')"
        ) from exc
    params = params or {}
    valid = estimator.get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise UsageError(
            f"unknown option {unknown[0]!r} for --model {model}; valid: "
            + ", ".join(sorted(valid))
        )
    estimator.set_params(**params)
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        estimator._validate_params()
    except InvalidParameterError as exc:
        raise UsageError(f"--model {model}: {exc}") from exc
    return estimator


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


@dataclass
class Table:
    """Data as read: the array, column names, and which columns are categorical.

    ``X`` is float64 when every column is numeric, else an object array with
    floats in the numeric columns and strings (None where empty) in the others.
    """

    X: np.ndarray
    names: list
    categorical: list = field(default_factory=list)

    @property
    def numeric(self):
        return [j for j in range(self.X.shape[1]) if j not in self.categorical]


def load_data(path, key=None):
    """A :class:`Table` from ``.npy``, ``.npz`` or ``.csv`` (header detected),
    or from a data set's name (:func:`skmem.datasets.load_named`)."""
    path = Path(path)
    if not path.exists():
        from .datasets import load_named  # "mnist", "cifar10": a data set's name

        try:
            X = load_named(path)
        except (OSError, ValueError) as exc:  # offline, corrupt file
            raise UsageError(str(exc)) from exc
        if X is None:
            raise UsageError(f"no such file: {path}")
        return Table(X, [f"pixel {j}" for j in range(X.shape[1])])
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = _read_csv(path)
    elif suffix in (".npy", ".npz"):
        table = _read_numpy(path, key)
    else:
        raise UsageError(f"{path}: expected a .npy, .npz or .csv file")
    if table.X.shape[0] < 2:
        raise UsageError(
            f"{path}: {table.X.shape[0]} rows; memorization scores need at least 2"
        )
    return table


def _read_numpy(path, key):
    try:
        if path.suffix.lower() == ".npy":
            X = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.keys())
                if not names:
                    raise UsageError(f"{path} holds no arrays")
                name = key or names[0]
                if name not in archive:
                    raise UsageError(f"{path} has no array {name!r}; it has {names}")
                X = archive[name]
    except ValueError as exc:  # object arrays, corrupt files
        raise UsageError(f"{path}: cannot read it as numbers ({exc})") from exc
    if X.dtype.kind not in "biuf":
        raise UsageError(f"{path}: expected numbers, got dtype {X.dtype}")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise UsageError(f"{path}: expected a 2-D table, got {X.ndim} dimensions")
    return Table(X.astype(np.float64), [f"column {j}" for j in range(X.shape[1])])


def _number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _read_csv(path):
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    if not rows:
        raise UsageError(f"{path} is empty")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise UsageError(
                f"{path}: line {i + 1} has {len(row)} fields, expected {width}"
            )
    columns = list(zip(*rows, strict=True))

    def numeric(cells):  # empty cells are missing values
        filled = [c for c in cells if c.strip()]
        return bool(filled) and all(_number(c) for c in filled)

    # The first line is a header if it breaks a numeric column, or if no column
    # is numeric (the header then cannot be told from the data; tables have one).
    first_numeric = all(_number(c) for c in rows[0])
    rest_numeric = [numeric(col[1:]) for col in columns]
    header = not first_numeric and (
        any(rest_numeric[j] and not _number(rows[0][j]) for j in range(width))
        or not any(rest_numeric)
    )
    if header:
        names, rows, columns = rows[0], rows[1:], [col[1:] for col in columns]
        if not rows:
            raise UsageError(f"{path} has a header ({', '.join(names)}) but no rows")
    else:
        names = [f"column {j}" for j in range(width)]
    categorical = [j for j, col in enumerate(columns) if not numeric(col)]
    X = np.empty((len(rows), width), dtype=object if categorical else np.float64)
    for j, col in enumerate(columns):
        if j in categorical:
            X[:, j] = [c if c.strip() else None for c in col]
        else:
            X[:, j] = [float(c) if c.strip() else np.nan for c in col]
    return Table(X, list(names), categorical)


def prepare_model(model, params, table, *, preprocess=True, sampled=None):
    """The estimator to score ``table`` with, and what was done, as text.

    Categorical columns get a one-hot encoding and numeric ones standard
    scaling, inside the estimator (refitted per fold), unless ``preprocess`` is
    False. The VAE gets a likelihood that suits the data unless one is given.
    """
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    estimator = make_estimator(model, params, sampled)
    notes, steps = [], []
    cat_names = [table.names[j] for j in table.categorical]
    if table.categorical and not preprocess:
        raise UsageError(
            f"column {cat_names[0]!r} is not numeric, and --no-preprocess leaves it "
            "as text: drop --no-preprocess to one-hot encode it, or encode it "
            "yourself"
        )
    if table.categorical:
        steps.append(
            make_column_transformer(
                (
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    table.categorical,
                ),
                (StandardScaler(), table.numeric),
            )
        )
        notes.append(
            f"one-hot encoding of the {len(cat_names)} categorical column(s) "
            f"({', '.join(cat_names)}) and standard scaling of the "
            f"{len(table.numeric)} numeric one(s), refitted in each fold "
            "(--no-preprocess turns this off)"
        )
    if model == "vae" and "likelihood" not in params:
        in_unit = not table.categorical and (
            np.nanmin(table.X) >= 0 and np.nanmax(table.X) <= 1
        )
        if in_unit:
            notes.append('VAE likelihood="bernoulli": the data lie in [0, 1]')
        else:
            estimator.set_params(likelihood="gaussian")
            if not steps and preprocess:
                steps.append(StandardScaler())
            scaled = "standardized columns" if steps else "the columns as they are"
            notes.append(
                'VAE likelihood="gaussian" on ' + scaled + ": the data are not in "
                '[0, 1], which likelihood="bernoulli" needs'
            )
    if steps:
        estimator = make_pipeline(*steps, estimator)
    return estimator, notes


def _check_input(table, cv):
    """The checks the scorer would make, as one-line usage errors before any work."""
    from ._rows import check_no_missing

    n_rows = table.X.shape[0]
    if cv > n_rows:
        raise UsageError(
            f"--cv {cv} needs at least {cv} rows; the data have {n_rows}. Use "
            f"--cv {n_rows} or less."
        )
    try:
        check_no_missing(
            table.X,
            columns=table.names,
            hint=" Fill in or drop the missing cells.",
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def nn_ratio(estimator, scorer, X, seed):
    """The nearest-neighbour test for every sample, or None where it cannot run.

    A sample's ratio comes from the first fold model trained on it: its
    training rows, its held-out rows as validation data, and as many samples
    drawn from it as it trained on. Two models cover every sample of a KFold.
    """
    from sklearn.base import clone

    from .baselines import nearest_neighbor_distance_ratio

    if not hasattr(estimator, "sample") or X.dtype.kind != "f":
        return None
    ratio = np.full(len(X), np.nan)
    models = getattr(scorer, "estimators_", None)
    for k, (train_mask, test_mask) in enumerate(
        zip(scorer.train_masks_, scorer.test_masks_, strict=True)
    ):
        todo = train_mask & np.isnan(ratio)
        if not todo.any() or not test_mask.any():
            continue
        train, test = np.flatnonzero(train_mask), np.flatnonzero(test_mask)
        model = models[k] if models else clone(estimator).fit(X[train])
        kwargs = {"random_state": seed} if _samples_with_seed(model) else {}
        try:
            generated = model.sample(len(train), **kwargs)
        except NotImplementedError:  # KernelDensity samples two kernels only
            return None
        if isinstance(generated, tuple):  # GaussianMixture returns (X, labels)
            generated = generated[0]
        values = nearest_neighbor_distance_ratio(X[train], generated, X[test])
        ratio[train] = np.where(todo[train], values, ratio[train])
        if not np.isnan(ratio).any():
            break
    return ratio


def _samples_with_seed(model):
    import inspect

    return "random_state" in inspect.signature(model.sample).parameters


def run_models(X, models, *, cv, repeats, n_jobs, seed, verbose):
    """Fit one MemorizationScorer per model on the same folds.

    Every model gets the same int ``cv`` and seed, so the same folds (and, with
    ``repeats="auto"``, the same first repeats). A model that fails to fit in a
    fold becomes a one-line UsageError naming the model, the fold and the
    cause; other errors go on as they are.
    """
    from ._scorer import MemorizationScorer
    from .engines.generic import failed_model

    results = {}
    for name, estimator in models.items():
        start = time.perf_counter()
        planned = (
            f"{cv} models per repeat, until the ranking is reliable"
            if repeats == "auto"
            else f"{cv * repeats} models"
        )
        print(f"[skmem] {name}: fitting {planned}", flush=True)
        scorer = MemorizationScorer(
            estimator,
            cv=cv,
            n_repeats=repeats,
            n_jobs=n_jobs,
            random_state=seed,
            verbose=verbose,
        )
        try:
            scorer.fit(X)
        except Exception as exc:
            failure = failed_model(exc)
            if failure is None:
                raise
            k, n_train = failure
            cause = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            fold = f"fold {k % cv + 1} of {cv}"
            if repeats != 1:
                fold += f", repeat {k // cv + 1}"
            raise UsageError(
                f"{name} ({_estimator_name(estimator)}) failed to fit in {fold}, on "
                f"its {n_train} training rows: {type(exc).__name__}: {cause}"
            ) from exc
        seconds = time.perf_counter() - start
        print(
            f"[skmem] {name}: done in {seconds:.1f}s ({scorer.engine_} engine"
            + (f", {scorer.n_repeats_} repeats)" if repeats == "auto" else ")")
        )
        results[name] = {"scorer": scorer, "X": X, "estimator": estimator}
    return results


def _estimator_name(estimator):
    steps = getattr(estimator, "steps", None)
    return type(steps[-1][1] if steps else estimator).__name__


def _settings(args, models, extra=()):
    """What a run depended on, for the report and ``scores.json``."""
    from . import __version__

    settings = {"skmem version": __version__}
    settings.update(extra)
    for option in ("cv", "repeats", "alpha", "seed", "n_jobs"):
        settings[option] = getattr(args, option)
    for name, estimator in models.items():
        settings[f"model {name}"] = " ".join(repr(estimator).split())
    return settings


def report(
    results,
    out,
    *,
    title,
    image_shape=None,
    notes=(),
    seed=0,
    settings=None,
    details=(),
    alpha=0.05,
    discrete=False,
):
    """Table on stdout; figures and HTML under ``out`` when given.

    ``discrete``: the models' log-likelihoods are log-probabilities of
    discrete pixel levels, so the table also gives bits per dimension.
    """
    from ._report import SIGNIFICANCE, format_table, summary_rows

    nn = {}
    for name, r in results.items():
        ratio = nn_ratio(r["estimator"], r["scorer"], r["X"], seed)
        if ratio is not None:
            nn[name] = ratio
    rows = summary_rows(results, nn, alpha=alpha, discrete=discrete)
    if nn or len(results) > 1:
        notes = [*notes, RHO_NOTE]
    notes = [*notes, SIGNIFICANCE.format(alpha=alpha)]
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
    from .plotting import MemorizationCurveDisplay, MemorizationDisplay

    figures = {}
    for name, r in results.items():
        X = r["X"] if image_shape is not None else None
        display = MemorizationDisplay.from_estimator(
            r["scorer"],
            X,
            image_shape=image_shape,
            nn_distance=nn.get(name),
            name=name,
            alpha=alpha,
            nn_xscale="log",
        )
        if display.scatter_ax_ is not None:
            display.scatter_ax_.set_xlabel(
                "NN distance ratio (validation / generated), every sample"
            )
        figures[name.split()[0].lower()] = display.figure_
        if getattr(r["scorer"], "memorization_curve_", None) is not None:
            curve = MemorizationCurveDisplay.from_estimator(r["scorer"], name=name)
            curve.figure_.tight_layout()
            figures[f"{name.split()[0].lower()} over training"] = curve.figure_
    page = write_report(
        out, rows, figures, title=title, notes=notes, settings=settings,
        details=details,
    )  # fmt: skip
    for fig in figures.values():
        plt.close(fig)
    print(f"\n[skmem] report written to {page}")
    return rows


RHO_NOTE = (
    "rho: Spearman correlation of M between models, and with the nearest-"
    "neighbour test (a sample's distance to the nearest held-out sample over its "
    "distance to the nearest generated sample, from the first fold model trained "
    "on it). A weak rho with the NN test is the paper's finding: it misses "
    "memorization."
)
REPORT_NOTES = (
    "Held-out log-likelihood: mean over samples of the density from the models "
    "that held each sample out; higher is a better model of unseen data.",
    "Figures: the distribution of M (a symmetric log axis when a few large scores "
    "would squash the others into one bar), M against the NN ratio for every "
    "sample, and for images the most and least memorized samples.",
)


DEMO_LEVELS = 17  # scikit-learn's digits: grey levels 0..16
DEMO_UNIT = (
    "All three models score the same thing, the log-probability of the discrete "
    "grey levels 0..16 of an image (nats per image; bits per pixel: lower is "
    "better): KDE and GMM through DequantizedDensity, the VAE with n_levels=17 "
    "(uniform dequantization and the paper's logit transform, lambda 0.05, with "
    "the change of variables accounted for), so their held-out columns compare."
)


def _demo(args):
    from ._pixels import DequantizedDensity
    from ._report import EXPLANATION, significance_lines, summary
    from .datasets import load_digits

    X = np.rint(load_digits() * 16)  # the original grey levels, 0..16

    def levels(model, params):
        return DequantizedDensity(
            make_estimator(model, params), n_levels=DEMO_LEVELS, random_state=0
        )

    models = {"KDE": levels("kde", {"bandwidth": 0.5}), "GMM": levels("gmm", {})}
    try:
        import torch  # noqa: F401

        models["VAE"] = make_estimator(
            "vae",
            {
                "max_epochs": args.epochs,
                "likelihood": "gaussian",
                "n_levels": DEMO_LEVELS,
                # Each importance sample also draws its own dequantization
                # (the encoder runs per sample): 64 keep the demo in a minute.
                "n_importance_samples": 64,
            },
        )
    except ImportError:
        print(
            "[skmem] torch is not installed: the VAE is left out (pip install "
            "'skmem[vae]')."
        )
    print(
        f"skmem demo: scikit-learn digits {X.shape[0]} x {X.shape[1]} (grey levels "
        f"0..{DEMO_LEVELS - 1}), "
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
    notes = [EXPLANATION, DEMO_UNIT, *REPORT_NOTES]
    settings = _settings(
        args, models, {"data": "scikit-learn digits, 1797 x 64, grey levels 0..16"}
    )
    details = []
    for name, r in results.items():
        facts = summary(r["scorer"], alpha=args.alpha)
        details += [f"{name}:", *significance_lines(facts)]
    report(
        results,
        args.out,
        title="skmem demo: memorization on digits",
        image_shape=(8, 8),
        notes=notes,
        seed=args.seed,
        settings=settings,
        details=details,
        alpha=args.alpha,
        discrete=True,
    )
    print()
    print("\n".join(details))
    print(f"[skmem] demo finished in {time.perf_counter() - start:.0f}s")
    return 0


def _score(args):
    from ._report import (
        EXPLANATION,
        copies_lines,
        format_summary,
        per_sample_columns,
        summary,
        write_scores_csv,
        write_settings,
    )
    from .engines._base import estimator_checkpoints

    table = load_data(args.data, key=args.key)
    _check_input(table, args.cv)
    params = parse_params(args.param)
    if args.checkpoints is not None:
        if args.model != "vae":
            raise UsageError(
                f"--checkpoints applies to torch models (--model vae), not "
                f"--model {args.model}"
            )
        params["checkpoints"] = args.checkpoints
    estimator, notes = prepare_model(
        args.model, params, table, preprocess=args.preprocess, sampled=args.sampled
    )
    try:
        estimator_checkpoints(estimator)
    except ValueError as exc:
        raise UsageError(f"--checkpoints: {exc}") from exc
    n, d = table.X.shape
    kinds = f", {len(table.categorical)} categorical" if table.categorical else ""
    print(f"[skmem] {args.data}: {n} rows x {d} columns{kinds}")
    for note in notes:
        print(f"[skmem] {args.model}: {note}")
    results = run_models(
        table.X,
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
    columns = per_sample_columns(scorer, alpha=args.alpha)
    write_scores_csv(out, columns)
    facts = summary(scorer, alpha=args.alpha)
    settings = _settings(
        args,
        {args.model: estimator},
        {
            "data": f"{args.data} ({n} rows x {d} columns: {', '.join(table.names)})",
            "preprocessing": "; ".join(notes) or "none",
            "engine": scorer.engine_,
        },
    )
    sidecar = out.with_suffix(".json")
    write_settings(sidecar, settings, {args.model: facts})
    lines = format_summary(args.model, scorer, facts, columns)
    if args.report:
        lines += copies_lines(scorer)
    print()
    print("\n".join(lines))
    print(f"\n[skmem] scores written to {out}, settings and summary to {sidecar}")
    if args.report:
        report(
            results,
            args.report,
            title=f"skmem: {Path(args.data).name}",
            notes=[EXPLANATION, *REPORT_NOTES],
            seed=args.seed,
            settings=settings,
            details=lines,
            alpha=args.alpha,
        )
    return 0


# The demo's repeats: enough for significance (3), within about a minute.
DEMO_REPEATS = 3
DEMO_EPOCHS = 30  # the VAE on grey levels; within the demo's minute on 2 cores


def _epochs(text):
    """``--checkpoints``: comma-separated positive epochs, e.g. ``5,10,20``."""
    try:
        epochs = [int(part) for part in text.split(",")]
    except ValueError:
        epochs = []
    if not epochs or min(epochs) < 1:
        raise argparse.ArgumentTypeError(
            f"expects positive epochs separated by commas, e.g. 5,10,20; got {text!r}"
        )
    return epochs


def _repeats(text):
    """``--repeats``: a positive int, or "auto"."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer or 'auto', got {text!r}"
        )
    return value


DESCRIPTION = (
    "Which training samples did a density model memorize? Memorization scores "
    "(van den Burg & Williams, 2021) by cross-validation."
)


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="skmem",
        description=DESCRIPTION,
        epilog="Start with `skmem demo` (about 40 s): digits under three models, "
        "with a report. Then `skmem score YOUR_DATA.csv`.",
    )
    parser.add_argument("--version", action="version", version=f"skmem {__version__}")
    sub = parser.add_subparsers(dest="command")

    def common(p, default_repeats):
        p.add_argument("--cv", type=int, default=10, help="folds (default 10)")
        p.add_argument(
            "--repeats",
            type=_repeats,
            default=default_repeats,
            help="repeats of the folds: 3 or more give error bars, the reliability "
            "of the ranking and which samples are memorized beyond chance; 'auto' "
            "adds repeats until the ranking is reliable (at most 10) "
            f"(default {default_repeats})",
        )
        p.add_argument(
            "--alpha",
            type=float,
            default=0.05,
            help="false-discovery rate of the samples flagged as memorized "
            "(default 0.05)",
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
    common(demo, DEMO_REPEATS)
    demo.add_argument(
        "--out", default="skmem-report", help="report folder (default skmem-report)"
    )
    demo.add_argument(
        "--epochs",
        type=int,
        default=DEMO_EPOCHS,
        help=f"VAE epochs (default {DEMO_EPOCHS})",
    )

    score = sub.add_parser(
        "score",
        help="memorization scores of your data",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="models and their defaults (--param overrides any of them):\n"
        + model_defaults_text()
        + "\n\nA CSV may mix numeric and categorical (text) columns: categorical "
        "ones are\none-hot encoded and numeric ones standardized, inside each "
        "fold's model.",
    )
    score.add_argument(
        "data", help="a .npy, .npz or .csv file (CSV: numeric and text columns)"
    )
    score.add_argument(
        "--model",
        default="kde",
        help=f"{', '.join(MODELS)} (default kde), or your generator or density "
        "as an import path package.module:Class",
    )
    score.add_argument(
        "--sampled",
        action="store_true",
        default=None,
        help="score --model through its samples (SampledDensity); automatic "
        "for a model with sample but no score_samples",
    )
    score.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a model option, e.g. --param bandwidth=0.5 --param kernel=tophat "
        "(kde), --param n_components=5 (gmm), --param max_epochs=50 (vae)",
    )
    score.add_argument("--key", help="array name inside a .npz file")
    score.add_argument(
        "--no-preprocess",
        dest="preprocess",
        action="store_false",
        help="no one-hot encoding of categorical columns, no scaling for the VAE",
    )
    common(score, 3)
    score.add_argument(
        "--out",
        default="scores.csv",
        help="output CSV (default scores.csv); settings and summary go to the "
        "same name with .json",
    )
    score.add_argument("--report", metavar="DIR", help="also write a report here")
    score.add_argument(
        "--checkpoints",
        type=_epochs,
        metavar="EPOCHS",
        help="torch models: also score at these epochs of the same training run, "
        "e.g. 5,10,20 (at most max_epochs), and show memorization over training",
    )
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # plain `skmem`: help, not a 40-second job
        parser.print_help()
        return 0
    try:
        if args.cv < 2:
            raise UsageError(f"--cv must be at least 2, got {args.cv}")
        if not 0 < args.alpha < 1:
            raise UsageError(f"--alpha must be between 0 and 1, got {args.alpha}")
        return _demo(args) if args.command == "demo" else _score(args)
    except (UsageError, OSError, MemoryError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        print(f"skmem: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
