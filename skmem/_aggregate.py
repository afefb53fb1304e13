"""The memorization score from a matrix of log-likelihoods (DESIGN section 2).

Everything here is pure numpy: no estimator, no engine, no parallelism. The
functions work column by column, so an engine may apply them to blocks of
samples and concatenate the results.
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from math import comb

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["memorization_scores"]

_AGGREGATES = ("matched", "logmeanexp", "mean")

# "matched" averages over every subset of equal size while there are at most
# this many; beyond, over this many subsets from balanced random partitions.
_MAX_SUBSETS = 512
# Elements of the (samples, subsets, subset size) temporary of one block.
_BLOCK_ELEMENTS = 2**22


def _check_masks(mask, shape, name):
    mask = np.asarray(mask)
    if mask.dtype != bool:
        if mask.dtype.kind in "iu" and np.isin(mask, (0, 1)).all():
            mask = mask.astype(bool)
        else:
            raise TypeError(
                f"{name} must be a boolean array (True where the sample is in the "
                f"model's training/held-out set); got dtype {mask.dtype}."
            )
    if mask.shape != shape:
        raise ValueError(
            f"{name} must have the shape of log_likelihoods, {shape}; got {mask.shape}."
        )
    return mask


def _logmeanexp(values, axis):
    """``log mean exp`` along ``axis``; -inf where every term is -inf."""
    peak = values.max(axis=axis, keepdims=True)
    shift = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        total = np.log(np.exp(values - shift).sum(axis=axis, keepdims=True))
    return np.squeeze(total + shift, axis=axis) - np.log(values.shape[axis])


def _masked_aggregate(log_likelihoods, mask, aggregate):
    """Aggregate ``log_likelihoods[k, i]`` over the models k with ``mask[k, i]``.

    Returns the per-sample aggregate and the per-sample number of models; the
    aggregate is NaN where that number is zero.
    """
    count = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if aggregate == "mean":
            total = np.where(mask, log_likelihoods, 0.0).sum(axis=0)
            result = total / count
        else:
            # The mean over all models, rescaled to the masked ones.
            masked = np.where(mask, log_likelihoods, -np.inf)
            result = _logmeanexp(masked, axis=0) + np.log(mask.shape[0]) - np.log(count)
    result = np.where(count > 0, result, np.nan)
    return result, count


def _subsets(n, m):
    """Index subsets of size ``m`` of ``range(n)`` that ``"matched"`` averages over.

    Every subset when there are at most ``_MAX_SUBSETS``; otherwise the blocks
    of balanced random partitions (each a uniformly random subset, so the mean
    is still unbiased), from a fixed seed so that scores are deterministic.
    """
    if comb(n, m) <= _MAX_SUBSETS:
        return np.array(list(combinations(range(n), m)), dtype=np.intp)
    per_partition = n // m
    n_partitions = -(-_MAX_SUBSETS // per_partition)
    rng = np.random.default_rng(0)
    blocks = [
        rng.permutation(n)[: per_partition * m].reshape(per_partition, m)
        for _ in range(n_partitions)
    ]
    return np.concatenate(blocks)


def _mean_subset_logmeanexp(values, m):
    """Per row of ``values`` (n_rows, n): the mean over size-``m`` subsets of the
    log-mean-exp of the subset (a U-statistic in the row's values)."""
    n = values.shape[1]
    if m == n:
        return _logmeanexp(values, axis=1)
    if m == 1:
        return values.mean(axis=1)
    subsets = _subsets(n, m)
    block = max(1, _BLOCK_ELEMENTS // subsets.size)
    return np.concatenate(
        [
            _logmeanexp(values[start : start + block][:, subsets], axis=2).mean(axis=1)
            for start in range(0, len(values), block)
        ]
    )


def _matched_aggregates(log_likelihoods, train_masks, test_masks):
    """U and V of ``aggregate="matched"``, and the in- and out-model counts.

    For each sample, ``m = min(n_in, n_out)``: U is the mean log-mean-exp over
    subsets of ``m`` in-models, V over subsets of ``m`` out-models. Equal counts
    give U and V the same small-sample bias, which cancels in ``U - V``.
    """
    n_in = train_masks.sum(axis=0)
    n_out = test_masks.sum(axis=0)
    in_ll = np.full(len(n_in), np.nan)
    out_ll = np.full(len(n_in), np.nan)
    pairs, which = np.unique(
        np.column_stack([n_in, n_out]), axis=0, return_inverse=True
    )
    which = which.ravel()
    values_t = log_likelihoods.T
    with np.errstate(invalid="ignore", over="ignore"):
        for p, (a, b) in enumerate(pairs):
            if a == 0 or b == 0:
                continue
            m = min(a, b)
            samples = np.flatnonzero(which == p)
            for mask, count, result in (
                (train_masks, a, in_ll),
                (test_masks, b, out_ll),
            ):
                # Boolean indexing of the transposed arrays walks sample by
                # sample, so each sample's values come out as one row.
                values = values_t[samples][mask.T[samples]].reshape(-1, count)
                result[samples] = _mean_subset_logmeanexp(values, m)
    return in_ll, out_ll, n_in, n_out


def _in_out(log_likelihoods, train_masks, test_masks, aggregate):
    """U, V and the number of samples without an in- or out-model; no checks.

    The private kernel behind :func:`in_out_log_likelihoods`, for callers that
    have validated the matrix and the masks once (the scorer, the error bars).
    """
    if aggregate == "matched":
        in_ll, out_ll, n_in, n_out = _matched_aggregates(
            log_likelihoods, train_masks, test_masks
        )
    else:
        in_ll, n_in = _masked_aggregate(log_likelihoods, train_masks, aggregate)
        out_ll, n_out = _masked_aggregate(log_likelihoods, test_masks, aggregate)
    n_missing = int(((n_in == 0) | (n_out == 0)).sum())
    return in_ll, out_ll, n_missing


def in_out_log_likelihoods(
    log_likelihoods, train_masks, test_masks=None, *, aggregate="matched"
):
    """Aggregated in-model (U) and out-model (V) log-likelihoods per sample.

    Validates its input, then returns ``(U, V, n_missing)`` where ``n_missing`` is
    the number of samples without an in- or an out-model (their U or V is NaN).
    It warns about nothing; :func:`memorization_scores` and the scorer do.
    """
    log_likelihoods = np.asarray(log_likelihoods)
    if log_likelihoods.ndim != 2:
        raise ValueError(
            "log_likelihoods must be a 2-D array of shape (n_models, n_samples); "
            f"got an array with {log_likelihoods.ndim} dimension(s)."
        )
    if log_likelihoods.dtype.kind not in "fiu":
        raise TypeError(
            "log_likelihoods must hold real numbers (log-densities); "
            f"got dtype {log_likelihoods.dtype}."
        )
    log_likelihoods = log_likelihoods.astype(np.float64, copy=False)
    if aggregate not in _AGGREGATES:
        raise ValueError(f"aggregate must be one of {_AGGREGATES}; got {aggregate!r}.")
    shape = log_likelihoods.shape
    train_masks = _check_masks(train_masks, shape, "train_masks")
    if test_masks is None:
        test_masks = ~train_masks
    else:
        test_masks = _check_masks(test_masks, shape, "test_masks")
        if (train_masks & test_masks).any():
            raise ValueError(
                "train_masks and test_masks overlap: a model cannot both train on a "
                "sample and hold it out."
            )

    used = train_masks | test_masks
    bad = used & (np.isnan(log_likelihoods) | (log_likelihoods == np.inf))
    if bad.any():
        model, sample = np.argwhere(bad)[0]
        raise ValueError(
            f"log_likelihoods holds {int(bad.sum())} NaN or +inf value(s) where a "
            f"model is used (first: model {model}, sample {sample}). Log-densities "
            "must be finite or -inf; check the density model that produced them."
        )

    return _in_out(log_likelihoods, train_masks, test_masks, aggregate)


@dataclass(frozen=True)
class ClosedForm:
    """An aggregate's closed form under LeaveOneOut, for engines that know the
    mean in-model density without the matrix (the exact KernelDensity engine).

    Under LeaveOneOut every sample has ``n_in = n - 1`` in-models and one
    out-model, so V is that model's log-likelihood whatever the aggregate.
    ``in_aggregate(log_mean_density, sum_log_likelihoods, n_in)`` gives U from
    ``log mean_k p_k(x_i)`` and ``sum_k log p_k(x_i)`` over the in-models; the
    latter is computed (and passed) only when ``needs_sum`` is True, else None.
    """

    needs_sum: bool
    in_aggregate: Callable


def _mean_of_logs(log_mean_density, sum_log_likelihoods, n_in):
    return sum_log_likelihoods / n_in


def _log_of_mean(log_mean_density, sum_log_likelihoods, n_in):
    return log_mean_density


# Aggregates with a LeaveOneOut closed form. An engine falls back to the
# log-likelihood matrix for an aggregate missing here.
CLOSED_FORMS = {
    "logmeanexp": ClosedForm(needs_sum=False, in_aggregate=_log_of_mean),
    "mean": ClosedForm(needs_sum=True, in_aggregate=_mean_of_logs),
    # One out-model per sample: "matched" averages single in-models.
    "matched": ClosedForm(needs_sum=True, in_aggregate=_mean_of_logs),
}


def scores_from_in_out(in_ll, out_ll):
    """``M = U - V``; ``+inf`` where only V is ``-inf``, NaN where both are."""
    with np.errstate(invalid="ignore"):
        return in_ll - out_ll


def warn_missing(n_missing, n_samples):
    if n_missing:
        warnings.warn(
            f"{n_missing} of {n_samples} samples have no model that trained on them "
            "or none that held them out; their memorization score is NaN. Use a "
            "splitter in which every sample is held out once (KFold, RepeatedKFold) "
            "or more splits.",
            UserWarning,
            stacklevel=3,
        )


@validate_params(
    {
        "log_likelihoods": ["array-like"],
        "train_masks": ["array-like"],
        "test_masks": ["array-like", None],
        "aggregate": [StrOptions(set(_AGGREGATES))],
    },
    prefer_skip_nested_validation=True,
)
def memorization_scores(
    log_likelihoods, train_masks, test_masks=None, *, aggregate="matched"
):
    """Memorization score of every sample from per-model log-likelihoods.

    For sample ``i``, ``U_i`` aggregates ``log_likelihoods[k, i]`` over the models
    ``k`` that trained on it and ``V_i`` over the models that held it out; the
    score is ``M_i = U_i - V_i`` in nats (van den Burg & Williams, 2021). Higher
    means the models give the sample more density when they have seen it, that
    is, they memorized it. The input is validated here once; use
    ``aggregate="logmeanexp"`` to reproduce the paper's numbers.

    Parameters
    ----------
    log_likelihoods : array-like of shape (n_models, n_samples)
        ``log p_k(x_i)``: the log-density model ``k`` gives sample ``i``. Finite or
        ``-inf`` wherever a mask is True; other entries are not read.
    train_masks : array-like of bool, shape (n_models, n_samples)
        True where model ``k`` was trained on sample ``i``.
    test_masks : array-like of bool, shape (n_models, n_samples), default=None
        True where model ``k`` held sample ``i`` out. None means every model that
        was not trained on the sample.
    aggregate : {"matched", "logmeanexp", "mean"}, default="matched"
        How the models' log-likelihoods are combined.

        - ``"logmeanexp"``: ``U_i`` and ``V_i`` are the log of the mean density
          over all in- and all out-models, the paper's estimator. The log-mean-exp
          of ``n`` noisy values is biased downwards by about
          ``(exp(s^2) - 1) / (2 n)`` for a model-to-model spread ``s``, and U
          averages many more models than V (``(K - 1) R`` against ``R`` with K
          folds and R repeats), so M is biased upwards, most for the samples
          whose log-likelihood varies most between models.
        - ``"matched"``: the same log-mean-exps over equal numbers of models:
          with ``m = min(n_in, n_out)``, U is the mean log-mean-exp over all
          subsets of ``m`` in-models and V over all subsets of ``m``
          out-models (a U-statistic; beyond 512 subsets, the blocks of
          balanced random partitions from a fixed seed). The biases cancel, so
          M is unbiased when the models ignore the training set. With one
          out-model per sample (one repeat of KFold) it is the mean in-model
          minus the out-model log-likelihood.
        - ``"mean"``: the arithmetic mean of the log-likelihoods.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        ``M_i`` in nats. ``+inf`` where only the held-out models give zero
        density; NaN where both give zero density, or where the sample has no
        in- or no out-model (with one warning that counts such samples).

    Examples
    --------
    >>> import numpy as np
    >>> from skmem import memorization_scores
    >>> log_likelihoods = np.array([[-1.0, -5.0], [-4.0, -2.0]])
    >>> train_masks = np.array([[True, False], [False, True]])
    >>> memorization_scores(log_likelihoods, train_masks)
    array([3., 3.])

    With more in- than out-models, ``"matched"`` compares equal numbers:

    >>> log_likelihoods = np.array([[-1.0], [-3.0], [-2.0]])
    >>> train_masks = np.array([[True], [True], [False]])
    >>> memorization_scores(log_likelihoods, train_masks)  # (-1 - 3) / 2 + 2
    array([0.])
    >>> memorization_scores(log_likelihoods, train_masks, aggregate="logmeanexp")
    array([0.43378083])
    """
    in_ll, out_ll, n_missing = in_out_log_likelihoods(
        log_likelihoods, train_masks, test_masks, aggregate=aggregate
    )
    warn_missing(n_missing, in_ll.shape[0])
    return scores_from_in_out(in_ll, out_ll)
