"""The ``skmem`` command (also ``python -m skmem``).

``skmem demo`` scores scikit-learn's digits under KDE, GMM and the VAE on the same
folds and writes a report; ``skmem score DATA`` scores your data.
"""

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from ._cli.errors import UsageError
from ._cli.models import MODELS, make_estimator, model_defaults_text, parse_params
from ._cli.preprocess import prepare_model
from ._cli.runs import nn_ratio, run_models
from ._cli.runs import settings as run_settings
from ._cli.tables import (
    MISSING,
    check_not_constant,
    drop_constant_columns,
    drop_identifier_columns,
    handle_missing,
    load_data,
)

__all__ = [
    "MODELS",
    "UsageError",
    "build_parser",
    "load_data",
    "main",
    "make_estimator",
    "nn_ratio",
    "parse_params",
    "prepare_model",
    "run_models",
]


def _check_cv(cv, n_rows):
    if cv > n_rows:
        raise UsageError(
            f"--cv {cv} needs at least {cv} rows; the data have {n_rows}. Use "
            f"--cv {n_rows} or less."
        )


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
    tables=(),
):
    """Table on stdout; figures and HTML under ``out`` when given.

    ``discrete``: the models' log-likelihoods are log-probabilities of
    discrete pixel levels, so the table also gives bits per dimension.
    ``tables``: more tables for the HTML report (see
    :func:`skmem._report.write_report`).
    """
    from ._report import SIGNIFICANCE, format_table, summary_rows, takeaway

    nn = {}
    for name, r in results.items():
        ratio = nn_ratio(r["estimator"], r["scorer"], r["X"], seed)
        if ratio is not None:
            nn[name] = ratio
    rows = summary_rows(results, nn, alpha=alpha, discrete=discrete)
    notes = list(notes)
    if len(results) > 1:
        notes.append(RHO_MODELS_NOTE)
    if nn:
        notes.append(RHO_NN_NOTE)
    notes.append(SIGNIFICANCE.format(alpha=alpha))
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
    from ._cli.figures import ReportRun, build_figures
    from ._report import write_report

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Built in a folder beside ``out`` and moved in at the end: an interrupted
    # run leaves no half report.
    build = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        runs = [
            ReportRun(
                name,
                r["scorer"],
                r["X"],
                estimator=r["estimator"],
                nn_ratio=nn.get(name),
                image_shape=image_shape,
                alpha=alpha,
            )
            for name, r in results.items()
        ]
        n_samples = len(next(iter(results.values()))["scorer"].memorization_scores_)
        page = write_report(
            build,
            rows,
            build_figures(runs, build),
            title=title,
            takeaway=takeaway(rows, n_samples, alpha=alpha, nn=bool(nn)),
            notes=notes,
            settings=settings,
            details=details,
            tables=tables,
        )
        out.mkdir(exist_ok=True)
        for path in sorted(build.iterdir(), key=lambda p: p.name == page.name):
            os.replace(path, out / path.name)  # index.html last
    finally:
        shutil.rmtree(build, ignore_errors=True)
    print(f"\n[skmem] report written to {out / page.name}")
    return rows


RHO_MODELS_NOTE = (
    "rho vs a model: Spearman correlation of M between two models on the same "
    "folds; high when they memorize the same samples."
)
RHO_NN_NOTE = (
    "rho vs NN test: Spearman correlation of M with the nearest-neighbour test (a "
    "sample's distance to the nearest held-out sample over its distance to the "
    "nearest generated sample, from the first fold model trained on it). A weak "
    "rho is the paper's finding: the NN test misses memorization."
)
REPORT_NOTES = (
    "Held-out log-likelihood: mean over samples of the density from the models "
    "that held each sample out; higher is a better model of unseen data.",
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

    check_outputs(folders=[("--out", args.out)])
    X = np.rint(load_digits() * 16)  # the original grey levels, 0..16

    def levels(model, params, n_noise_samples=1):
        return DequantizedDensity(
            make_estimator(model, params),
            n_levels=DEMO_LEVELS,
            n_noise_samples=n_noise_samples,
            random_state=0,
        )

    # The KDE runs on the exact kernel-sum engine. The GMM averages 8
    # dequantization draws per row: one draw's noise in every score lowers the
    # reliability of its ranking (0.42 against 0.58 with 8, 5 folds x 3 repeats;
    # 24 draws gain little more: 0.73 against 0.71 at 3 folds x 10). Its
    # reg_covar of 0.03 (grey levels squared) fits the held-out digits best of
    # 1e-3, 1e-2, 0.03 and 0.1 (-94.2 nats against -97.8 to -95.4), and its EM
    # fits vary less between folds: reliability 0.82 against 0.71 at 1e-3.
    models = {
        "KDE": levels("kde", {"bandwidth": 0.5}),
        "GMM": levels("gmm", {"reg_covar": 0.03}, n_noise_samples=DEMO_GMM_NOISE),
    }
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
        verbose=_verbosity(args),
    )
    notes = [EXPLANATION, DEMO_UNIT, *REPORT_NOTES]
    settings = run_settings(
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


def _verbosity(args):
    """``--verbose``, or a progress bar (1) when stderr is a terminal."""
    if args.verbose is not None:
        return args.verbose
    return int(sys.stderr.isatty())


def check_outputs(files=(), folders=()):
    """Refuse, before any work, an output path that cannot be written.

    ``files`` and ``folders``: ``(option, path)`` pairs, path None when not
    given; a folder is created at the end, or written into if it exists.
    """
    for flag, path, folder in [(*p, False) for p in files] + [
        (*p, True) for p in folders
    ]:
        if path is None:
            continue
        path = Path(path)
        if path.exists() and path.is_dir() != folder:
            what = "a folder" if path.is_dir() else "a file"
            need = "a folder" if folder else "a file name"
            raise UsageError(f"{flag} {path} is {what}; give {need}")
        parent = path if folder and path.exists() else path.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise UsageError(f"{flag} {path}: {parent} is a file, not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {path}: cannot write in {parent}")


@contextlib.contextmanager
def _written(path):
    """A temporary name next to ``path`` that becomes ``path`` when the block
    ends without an error, so that an interrupted run leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.part")
    try:
        yield part
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def _repeats_hint(lines, facts):
    """The summary's lines, where "run with --repeats 3" is wrong: the run had
    repeats, but their scores do not give a reliability."""
    repeats = facts.get("n_repeats")
    if facts["reliability"] is not None or repeats is None or repeats < 2:
        return lines
    hint = "  reliability and significance need repeats"
    return [
        "  the ranking's reliability is undefined from "
        f"{repeats} repeats: the scores do not vary from sample to sample (or "
        "fewer than 3 are finite), so there is no ranking to trust."
        if line.startswith(hint)
        else line
        for line in lines
    ]


#: A flagged row with more than this share of its cells imputed is named.
MOSTLY_IMPUTED = 0.5


def imputed_facts(n_imputed, facts, rows, n_columns):
    """How many cells were imputed, and the flagged rows that were mostly."""
    position = {int(r): p for p, r in enumerate(rows)}
    flagged = facts.get("memorized") or []
    mostly = [r for r in flagged if n_imputed[position[r]] > MOSTLY_IMPUTED * n_columns]
    return {
        "n_imputed_cells": int(n_imputed.sum()),
        "n_imputed_rows": int((n_imputed > 0).sum()),
        "n_columns": n_columns,
        "memorized_mostly_imputed": mostly,
    }


def imputed_lines(facts):
    """The summary's lines about ``--missing impute``."""
    lines = [
        f"  {facts['n_imputed_cells']} cells of {facts['n_imputed_rows']} rows were "
        "imputed (scores.csv's n_imputed column counts them per row)."
    ]
    mostly = facts["memorized_mostly_imputed"]
    if mostly:
        shown = " ".join(str(r) for r in mostly[:20])
        more = f" and {len(mostly) - 20} more" if len(mostly) > 20 else ""
        lines.append(
            f"  {len(mostly)} of the flagged rows had more than half of their "
            f"{facts['n_columns']} cells imputed: {shown}{more}. Their scores "
            "measure the filled-in values (the training rows' medians), not the "
            "record: read them as rows with missing cells, not as memorized."
        )
    return textwrap_lines(lines)


def textwrap_lines(lines, width=100):
    return [
        textwrap.fill(line, width, subsequent_indent="    ", break_on_hyphens=False)
        for line in lines
    ]


def _score(args):
    from ._cli.records import record_columns
    from ._report import (
        EXPLANATION,
        closer_share_table,
        copies_lines,
        format_summary,
        per_sample_columns,
        records_table,
        summary,
        write_scores_csv,
        write_settings,
    )
    from .engines._base import estimator_checkpoints

    check_outputs(files=[("--out", args.out)], folders=[("--report", args.report)])
    table = load_data(args.data, key=args.key, encoding=args.encoding)
    n_read, d_read = table.X.shape
    keep = [c.strip() for c in (args.keep_columns or "").split(",") if c.strip()]
    table, id_note = drop_identifier_columns(table, keep)
    if not args.preprocess:
        check_not_constant(table)
    table, missing_note = handle_missing(table, args.missing)
    constant_note = None
    if args.preprocess:
        table, constant_note = drop_constant_columns(table)
    _check_cv(args.cv, table.X.shape[0])
    n_imputed = None
    if args.missing == "impute":
        from ._rows import _missing_mask

        n_imputed = _missing_mask(table.X).sum(axis=1)
    params = parse_params(args.param)
    if args.checkpoints is not None:
        if args.model != "vae":
            raise UsageError(
                f"--checkpoints applies to torch models (--model vae), not "
                f"--model {args.model}"
            )
        params["checkpoints"] = args.checkpoints
    estimator, notes = prepare_model(
        args.model,
        params,
        table,
        preprocess=args.preprocess,
        impute=args.missing == "impute",
        sampled=args.sampled,
    )
    if args.model == "kde":
        from ._cli.frozen import freeze_preprocessing

        estimator, notes = freeze_preprocessing(estimator, table.X, notes)
    notes = (
        table.notes + [n for n in (id_note, missing_note, constant_note) if n] + notes
    )
    try:
        estimator_checkpoints(estimator)
    except ValueError as exc:
        raise UsageError(f"--checkpoints: {exc}") from exc
    n, d = table.X.shape
    kinds = f", {len(table.categorical)} categorical" if table.categorical else ""
    print(f"[skmem] {args.data}: {n_read} rows x {d_read} columns{kinds}")
    for note in notes:
        # How the file was read concerns the file, the rest the model.
        line = (
            f"[skmem] {note}"
            if note in table.notes
            else f"[skmem] {args.model}: {note}"
        )
        print(textwrap.fill(line, 100, subsequent_indent="    "))
    results = run_models(
        table.X,
        {args.model: estimator},
        cv=args.cv,
        repeats=args.repeats,
        n_jobs=args.n_jobs,
        seed=args.seed,
        verbose=_verbosity(args),
    )
    scorer = results[args.model]["scorer"]
    results[args.model]["index"] = table.rows
    out = Path(args.out)
    columns = per_sample_columns(scorer, alpha=args.alpha, index=table.rows)
    risk_columns, copies = record_columns(scorer)
    columns.update(risk_columns)
    facts = summary(scorer, alpha=args.alpha, index=table.rows)
    if n_imputed is not None:
        columns["n_imputed"] = (n_imputed, "%d")
        facts.update(imputed_facts(n_imputed, facts, table.rows, d))
    settings = run_settings(
        args,
        {args.model: estimator},
        {
            "data": f"{args.data} ({n_read} rows x {d_read} columns; scored: {n} "
            f"rows x {d} columns: {', '.join(table.names)})",
            "preprocessing": "; ".join(notes) or "none",
            "engine": scorer.engine_,
        },
    )
    sidecar = out.with_suffix(".json")
    with _written(out) as part:
        write_scores_csv(part, columns)
    with _written(sidecar) as part:
        write_settings(part, settings, {args.model: facts})
    lines = _repeats_hint(format_summary(args.model, scorer, facts, columns), facts)
    if n_imputed is not None:
        lines += imputed_lines(facts)
    tables = []
    if args.report:
        lines += copies_lines(scorer, index=table.rows)
        tables.append(records_table(columns))
        if copies is not None:
            tables.append(closer_share_table(copies))
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
            tables=tables,
        )
    return 0


# The demo's repeats: enough for significance (3), within about a minute.
# The demo's folds and repeats: 3 folds x 10 repeats is 30 models per model
# type, as 10 x 3 was, but 10 repeats make the GMM's ranking reliable where 3
# left it mostly noise (reliability ~0.5); each model trains on two thirds.
DEMO_CV = 3
DEMO_REPEATS = 10
DEMO_GMM_NOISE = 8
DEMO_EPOCHS = 30  # the VAE on grey levels


def _seed(text):
    """``--seed``: what numpy's RandomState takes, 0 to 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32 - 1], got {value}")
    return value


def _n_jobs(text):
    """``--n-jobs``: a positive number of workers, or -1 (all cores), -2..."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("0 workers cannot run; use 1, or -1 for all")
    return value


def _verbose(text):
    """``--verbose``: 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


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
        epilog="Start with `skmem demo`: digits under three models, with a report. "
        "Then `skmem score YOUR_DATA.csv`.",
    )
    parser.add_argument("--version", action="version", version=f"skmem {__version__}")
    sub = parser.add_subparsers(dest="command")

    def common(p, default_repeats, default_cv=10):
        p.add_argument(
            "--cv", type=int, default=default_cv, help=f"folds (default {default_cv})"
        )
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
            type=_n_jobs,
            default=-1,
            help="models fitted in parallel (default -1: all cores)",
        )
        p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
        p.add_argument(
            "--verbose",
            type=_verbose,
            default=None,
            help="progress detail: 0 none, 1 a progress bar (the default on a "
            "terminal), 2 and more each model",
        )

    demo = sub.add_parser(
        "demo", help="KDE, GMM and the VAE on scikit-learn's digits, with a report"
    )
    common(demo, DEMO_REPEATS, DEMO_CV)
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
        + "\n\nA CSV or Parquet table may mix numeric and categorical (text) "
        "columns:\ncategorical ones are one-hot encoded, numeric ones standardized "
        "(kde, gmm,\nand the VAE's gaussian likelihood) and constant ones left out, "
        "inside each\nfold's model; --no-preprocess turns this off. Columns that "
        "identify rows\n(dates, text or integers different in every row) are left "
        "out unless\n--keep-columns names them. Missing cells stop the run unless "
        "--missing drop\nor --missing impute says what to do. A CSV may be "
        "separated by , ; tab or |.",
    )
    score.add_argument(
        "data",
        help="a .csv or .parquet table (numeric and text columns, a header line), "
        "or a .npy or .npz array",
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
    score.add_argument(
        "--key", help="array name inside a .npz file (needed when it holds several)"
    )
    score.add_argument(
        "--encoding",
        help="text encoding of a CSV file, e.g. latin-1 or cp1252 (default: UTF-8, "
        "else Latin-1 with a note)",
    )
    score.add_argument(
        "--keep-columns",
        metavar="A,B",
        help="columns to score even though they look like identifiers (dates, "
        "text or integers different in every row), which are left out otherwise",
    )
    score.add_argument(
        "--no-preprocess",
        dest="preprocess",
        action="store_false",
        help="score the columns as they are: no scaling, no one-hot encoding, "
        "constant and identifier columns kept",
    )
    score.add_argument(
        "--missing",
        choices=MISSING,
        default="error",
        help="rows with missing cells: error (stop, the default), drop (leave the "
        "rows out; scores.csv keeps each row's number in your file) or impute "
        "(fill in from each fold's training rows: median, or most frequent "
        "category)",
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


def _n_workers(n_jobs):
    from joblib import effective_n_jobs

    return effective_n_jobs(n_jobs)


@contextlib.contextmanager
def interrupts_in_this_process(workers=True):
    """Ctrl-C interrupts this process only, not the worker processes it starts.

    A terminal sends SIGINT to every process of the command, and a joblib
    worker that is starting or working would print its own traceback. Here
    SIGINT is blocked (worker processes inherit the block) and a thread waits
    for it and interrupts the main thread, which stops the workers. POSIX
    only; elsewhere, and outside the main thread, nothing changes.
    ``workers``: worker processes may start (not with ``--n-jobs 1``).
    """
    import signal
    import threading

    if (
        not hasattr(signal, "pthread_sigmask")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    import _thread

    if workers:
        # Started now, before the block: multiprocessing's resource tracker
        # unblocks SIGINT in the thread that starts it (the first worker's).
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    stopping = threading.Event()

    def wait():
        signal.sigwait({signal.SIGINT})
        if not stopping.is_set():
            _thread.interrupt_main()

    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    watcher = threading.Thread(target=wait, daemon=True, name="skmem-sigint")
    watcher.start()
    try:
        yield
    finally:
        stopping.set()
        if watcher.is_alive():
            signal.pthread_kill(watcher.ident, signal.SIGINT)
            watcher.join()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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
        with interrupts_in_this_process(workers=_n_workers(args.n_jobs) > 1):
            return _demo(args) if args.command == "demo" else _score(args)
    except (UsageError, OSError, MemoryError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        print(f"skmem: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Outputs are written under temporary names and renamed when complete:
        # nothing is left half-written.
        print("\nskmem: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
