"""Fitting one scorer per model on the same folds, and the nearest-neighbour test."""

import textwrap
import time
import warnings

import numpy as np

from .errors import UsageError


def estimator_name(estimator):
    steps = getattr(estimator, "steps", None)
    return type(steps[-1][1] if steps else estimator).__name__


def run_models(X, models, *, cv, repeats, n_jobs, seed, verbose):
    """Fit one MemorizationScorer per model on the same folds.

    Every model gets the same int ``cv`` and seed, so the same folds (and, with
    ``repeats="auto"``, the same first repeats). A model that fails to fit in a
    fold becomes a one-line UsageError naming the model, the fold and the
    cause; other errors go on as they are.
    """
    from sklearn.exceptions import ConvergenceWarning

    from .._scorer import MemorizationScorer
    from ..engines.generic import failed_model

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
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
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
                f"{name} ({estimator_name(estimator)}) failed to fit in {fold}, on "
                f"its {n_train} training rows: {type(exc).__name__}: {cause}"
            ) from exc
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                # One line for all models (the engine sums them up).
                print(
                    textwrap.fill(
                        f"[skmem] {name}: note: {w.message}",
                        100,
                        subsequent_indent="    ",
                    ),
                    flush=True,
                )
            else:
                warnings.warn_explicit(
                    w.message, w.category, w.filename, w.lineno, source=w.source
                )
        seconds = time.perf_counter() - start
        print(
            f"[skmem] {name}: done in {seconds:.1f}s ({scorer.engine_} engine"
            + (f", {scorer.n_repeats_} repeats)" if repeats == "auto" else ")")
        )
        results[name] = {"scorer": scorer, "X": X, "estimator": estimator}
    return results


def nn_ratio(estimator, scorer, X, seed):
    """The nearest-neighbour test for every sample, or None where it cannot run.

    A sample's ratio comes from the first fold model trained on it: its
    training rows, its held-out rows as validation data, and as many samples
    drawn from it as it trained on. Two models cover every sample of a KFold.
    For a pipeline, the last step samples and distances are taken in its
    input space (scaled, encoded) through the fold's fitted transforms.
    """
    from sklearn.base import clone

    from ..baselines import nearest_neighbor_distance_ratio

    steps = getattr(estimator, "steps", None)
    if not hasattr(steps[-1][1] if steps else estimator, "sample"):
        return None
    if not steps and X.dtype.kind != "f":
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
        Z = X
        if steps:
            # A pipeline (scaling, encoding) samples in its last step's space:
            # distances are taken there, with this fold's fitted transforms.
            Z, model = model[:-1].transform(X), model[-1]
        kwargs = {"random_state": seed} if _samples_with_seed(model) else {}
        try:
            generated = model.sample(len(train), **kwargs)
        except NotImplementedError:  # KernelDensity samples two kernels only
            return None
        if isinstance(generated, tuple):  # GaussianMixture returns (X, labels)
            generated = generated[0]
        values = nearest_neighbor_distance_ratio(Z[train], generated, Z[test])
        ratio[train] = np.where(todo[train], values, ratio[train])
        if not np.isnan(ratio).any():
            break
    return ratio


def _samples_with_seed(model):
    import inspect

    return "random_state" in inspect.signature(model.sample).parameters


def settings(args, models, extra=()):
    """What a run depended on, for the report and ``scores.json``."""
    from .. import __version__

    found = {"skmem version": __version__}
    found.update(extra)
    for option in ("cv", "repeats", "alpha", "seed", "n_jobs"):
        found[option] = getattr(args, option)
    for option in ("missing", "preprocess"):
        if hasattr(args, option):
            found[option] = getattr(args, option)
    for name, estimator in models.items():
        found[f"model {name}"] = " ".join(repr(estimator).split())
    return found
