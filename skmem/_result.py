"""The result stage: from an engine's log-likelihoods and the split plan to scores,
error bars, tests and curves.

:func:`build_result` is a pure function (it reads its arguments and returns a
frozen :class:`MemorizationResult`); :class:`~skmem.MemorizationScorer` calls it
once per fit and copies the result's fields to its fitted attributes.
"""

from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any

import numpy as np

from ._aggregate import _in_out, scores_from_in_out, warn_missing
from ._inference import SampleInference, jackknife_std, repeated_inference
from ._reliability import repeat_groups, split_half_reliability
from .engines.generic import ensemble_log_likelihood

# Repeats needed for intervals and p-values (2 give standard errors with one
# degree of freedom, whose tail probabilities cannot be trusted).
MIN_REPEATS_FOR_TESTS = 3


@dataclass(frozen=True)
class MemorizationResult:
    """Everything a fit computes from an engine's result and the split plan.

    The fields without a leading underscore are the scorer's fitted attributes
    of the same name followed by ``_`` (see :class:`~skmem.MemorizationScorer`);
    ``inference``, ``ensemble`` and ``notes`` are kept privately.
    """

    log_likelihoods: np.ndarray | None
    in_log_likelihood: np.ndarray
    out_log_likelihood: np.ndarray
    memorization_scores: np.ndarray
    memorization_std: np.ndarray
    reliability: float
    n_repeats: int | None
    memorization_ci: np.ndarray
    memorization_pvalues: np.ndarray
    train_masks: np.ndarray
    test_masks: np.ndarray
    seeds: np.ndarray
    checkpoints: np.ndarray | None
    memorization_curve: np.ndarray | None
    log_likelihood_curve: np.ndarray | None
    score_curve: np.ndarray | None
    best_checkpoint: int | None
    estimators: list | None
    # Not fitted attributes:
    inference: SampleInference | None
    ensemble: Any
    notes: tuple  # sentences the scorer prints when verbose, in order

    # The fields the scorer copies to ``<name>_``; estimators_ only when not None.
    @classmethod
    def fitted_attributes(cls):
        private = {"inference", "ensemble", "notes"}
        return tuple(f.name for f in fields(cls) if f.name not in private)


def build_result(engine_result, plan, *, aggregate, early_stopping, verbose):
    """Scores, error bars, tests and curves from an engine's result.

    Parameters
    ----------
    engine_result : EngineResult
        What the engine computed on ``plan``.
    plan : SplitPlan
        The splits the engine ran.
    aggregate : str
        How log-likelihoods are aggregated over models.
    early_stopping : bool
        Score the best checkpoint (by mean held-out log-likelihood) instead of
        the final models.
    verbose : bool
        Collect the sentences that explain missing error bars and tests.

    Returns
    -------
    MemorizationResult
    """
    notes = []
    curve_fields, engine_result = _curve(
        engine_result, plan, aggregate, early_stopping, verbose, notes
    )
    n_samples = plan.n_samples
    log_likelihoods = engine_result.log_likelihoods
    masks = (plan.train_masks, plan.test_masks)
    if engine_result.in_log_likelihood is None:
        # Engines check every model's log-likelihoods as they come in; the
        # private kernels below do not check them again.
        in_ll, out_ll, n_missing = _in_out(log_likelihoods, *masks, aggregate)
        # Called here, not in a helper: its stacklevel points at the scorer's fit.
        warn_missing(n_missing, n_samples)
    else:
        in_ll = engine_result.in_log_likelihood
        out_ll = engine_result.out_log_likelihood
    scores = scores_from_in_out(in_ll, out_ll)

    groups = None if log_likelihoods is None else repeat_groups(plan.test_masks)
    n_repeats = None if groups is None else len(groups)
    nan = np.full(n_samples, np.nan)
    std, reliability, inference = nan, np.nan, None
    if n_repeats is not None and n_repeats >= 2:
        std = jackknife_std(log_likelihoods, *masks, groups, aggregate)
        reliability = split_half_reliability(log_likelihoods, *masks, groups, aggregate)
    if n_repeats is not None and n_repeats >= MIN_REPEATS_FOR_TESTS:
        inference = repeated_inference(scores, std, log_likelihoods, *masks, groups)
        if verbose:
            notes.extend(f"{note}." for note in inference.notes)
    elif verbose:
        missing = "memorization_ci_ and memorization_pvalues_"
        if n_repeats is None or n_repeats < 2:
            missing = f"memorization_std_, reliability_, {missing}"
        notes.append(f"{missing} are NaN: {_why_no_tests(log_likelihoods, n_repeats)}.")

    return MemorizationResult(
        log_likelihoods=log_likelihoods,
        in_log_likelihood=in_ll,
        out_log_likelihood=out_ll,
        memorization_scores=scores,
        memorization_std=std,
        reliability=reliability,
        n_repeats=n_repeats,
        memorization_ci=(
            np.full((n_samples, 2), np.nan) if inference is None else inference.ci
        ),
        memorization_pvalues=nan if inference is None else inference.pvalues,
        train_masks=plan.train_masks,
        test_masks=plan.test_masks,
        seeds=plan.seeds,
        **curve_fields,
        estimators=engine_result.estimators,
        inference=inference,
        ensemble=engine_result.ensemble,
        notes=tuple(notes),
    )


def _curve(result, plan, aggregate, early_stopping, verbose, notes):
    """The curve fields, and the engine result to score (the best checkpoint's
    when ``early_stopping``)."""
    curve = result.log_likelihood_curve
    if curve is None:
        empty = dict.fromkeys(
            (
                "checkpoints",
                "memorization_curve",
                "log_likelihood_curve",
                "score_curve",
                "best_checkpoint",
            )
        )
        return empty, result
    masks = (plan.train_masks, plan.test_masks)
    scores, held_out = [], []
    for log_likelihoods in curve:
        # Samples without an in- or out-model are NaN here as in the final
        # scores, which warn about them once.
        in_ll, out_ll, _ = _in_out(log_likelihoods, *masks, aggregate)
        scores.append(scores_from_in_out(in_ll, out_ll))
        finite = out_ll[~np.isnan(out_ll)]
        held_out.append(finite.mean() if finite.size else np.nan)
    checkpoints = np.asarray(result.checkpoints)
    score_curve = np.array(held_out)
    best = int(np.nanargmax(score_curve))
    best_checkpoint = int(checkpoints[best])
    curve_fields = {
        "checkpoints": checkpoints,
        "memorization_curve": np.array(scores),
        "log_likelihood_curve": curve,
        "score_curve": score_curve,
        "best_checkpoint": best_checkpoint,
    }
    if not early_stopping:
        return curve_fields, result
    if verbose:
        notes.append(
            f"early stopping at epoch {best_checkpoint} (mean held-out "
            f"log-likelihood {score_curve[best]:.3f})"
        )
    return curve_fields, replace(
        result,
        log_likelihoods=curve[best],
        ensemble=partial(
            ensemble_log_likelihood, result.estimators, epoch=best_checkpoint
        ),
    )


def _why_no_tests(log_likelihoods, n_repeats):
    if log_likelihoods is None:
        return "the log-likelihood matrix was not kept"
    if n_repeats is None:
        return "the splits are not repeated partitions of the data"
    return (
        f"{'one repeat ran' if n_repeats == 1 else f'{n_repeats} repeats ran'}; "
        f"use n_repeats >= {MIN_REPEATS_FOR_TESTS} (standard errors and the "
        "reliability need 2, intervals and p-values 3), or n_repeats='auto'"
    )
