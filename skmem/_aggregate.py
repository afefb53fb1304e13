"""The memorization score from a matrix of log-likelihoods (DESIGN section 2).

Everything here is pure numpy: no estimator, no engine, no parallelism. The
functions work column by column, so an engine may apply them to blocks of
samples and concatenate the results.
"""

import warnings

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["memorization_scores"]

_AGGREGATES = ("logmeanexp", "mean")


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
            masked = np.where(mask, log_likelihoods, -np.inf)
            peak = masked.max(axis=0, initial=-np.inf)
            # Shift by the largest term; a column that is -inf throughout stays -inf.
            shift = np.where(np.isfinite(peak), peak, 0.0)
            total = np.exp(masked - shift).sum(axis=0)
            result = np.log(total) + shift - np.log(count)
    result = np.where(count > 0, result, np.nan)
    return result, count


def in_out_log_likelihoods(
    log_likelihoods, train_masks, test_masks=None, *, aggregate="logmeanexp"
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

    in_ll, n_in = _masked_aggregate(log_likelihoods, train_masks, aggregate)
    out_ll, n_out = _masked_aggregate(log_likelihoods, test_masks, aggregate)
    n_missing = int(((n_in == 0) | (n_out == 0)).sum())
    return in_ll, out_ll, n_missing


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
    log_likelihoods, train_masks, test_masks=None, *, aggregate="logmeanexp"
):
    """Memorization score of every sample from per-model log-likelihoods.

    For sample ``i``, ``U_i`` aggregates ``log_likelihoods[k, i]`` over the models
    ``k`` that trained on it and ``V_i`` over the models that held it out; the
    score is ``M_i = U_i - V_i`` in nats (van den Burg & Williams, 2021). Higher
    means the models give the sample more density when they have seen it, that
    is, they memorized it.

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
    aggregate : {"logmeanexp", "mean"}, default="logmeanexp"
        How the models' log-likelihoods are combined: the log of the mean density
        (the paper's choice) or the arithmetic mean of the log-likelihoods.

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
    """
    in_ll, out_ll, n_missing = in_out_log_likelihoods(
        log_likelihoods, train_masks, test_masks, aggregate=aggregate
    )
    warn_missing(n_missing, in_ll.shape[0])
    return scores_from_in_out(in_ll, out_ll)
