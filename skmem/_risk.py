"""A per-record risk table for audits of a synthetic data release."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn import get_config
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["record_risk"]


def _wilson(share, n_effective, confidence):
    """Wilson's interval for ``share`` observed on ``n_effective`` trials (a
    real number where it is Kish's effective sample size)."""
    if n_effective == 0:
        return np.nan, np.nan
    z = norm.ppf(0.5 + confidence / 2)
    z2n = z * z / n_effective
    center = (share + z2n / 2) / (1 + z2n)
    half = z * np.sqrt(share * (1 - share) / n_effective + z2n / (4 * n_effective))
    half /= 1 + z2n
    return float(max(center - half, 0.0)), float(min(center + half, 1.0))


def synthetic_side(synthetic, train, holdout, working_memory, n_jobs):
    """Per synthetic row (float arrays): its distance to the closest training
    and held-out records, whether it is closer to training, and its nearest
    record, numbered over training then held-out records."""
    from .baselines import _nearest_and_count

    nearest_train, to_train, _ = _nearest_and_count(
        synthetic, train, None, working_memory, n_jobs
    )
    nearest_holdout, to_holdout, _ = _nearest_and_count(
        synthetic, holdout, None, working_memory, n_jobs
    )
    closer = to_train < to_holdout
    return Bunch(
        to_train=to_train,
        to_holdout=to_holdout,
        closer=closer,
        nearest_record=np.where(closer, nearest_train, len(train) + nearest_holdout),
        n_records=len(train) + len(holdout),
        chance=len(train) / (len(train) + len(holdout)),
    )


def closer_share_ci(synth, confidence):
    """Interval for the share of synthetic rows closer to training than to
    held-out records, valid across the split of the records.

    ``synth`` is :func:`synthetic_side`'s. A synthetic row is closer to
    training when its nearest record (among the training and held-out rows)
    was trained on, so the rows that share a nearest record agree. For a
    synthesizer independent of the records, which records were trained on is
    a random split, and the share's variance is ``p (1 - p)`` times
    ``1/n_kish - 1/n_records`` (``n_kish = n^2 / sum w^2``, Kish's effective
    size, ``w`` the synthetic rows per record): the split's part of it, and
    at least the ``1/n`` of independent rows. Wilson's interval on the
    effective number of rows it leaves keeps Wilson's behaviour near 0 and 1.
    Wilson's interval over the rows alone covers the null share 80 % of the
    time at its 95 % level once the synthetic rows outnumber the records
    four times (``tests/test_risk.py``).
    """
    closer, n_records = synth.closer, synth.n_records
    n = len(closer)
    if n == 0:
        return np.nan, np.nan
    weight = np.bincount(synth.nearest_record, minlength=n_records)
    inverse_kish = float(np.sum(weight.astype(float) ** 2)) / n**2
    n_effective = min(n, 1.0 / max(inverse_kish - 1.0 / n_records, 1e-300))
    return _wilson(float(np.mean(closer)), n_effective, confidence)


@validate_params(
    {
        "X_train": ["array-like"],
        "X_synthetic": ["array-like"],
        "X_holdout": ["array-like"],
        "scorer": "no_validation",
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "working_memory": [Interval(Real, 0, None, closed="neither"), None],
        "n_jobs": [Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def record_risk(
    X_train,
    X_synthetic,
    X_holdout,
    *,
    scorer=None,
    alpha=0.05,
    confidence=0.95,
    working_memory=None,
    n_jobs=None,
):
    """One row per training record: how exposed it is by a synthetic release.

    The distances are those of
    :func:`skmem.baselines.closest_record_distances` (euclidean; mixed tables
    with standardized numbers and one-hot categories), computed exactly on
    all rows in cache-sized tiles on both sides: no ``n x m`` matrix is held
    and the reference is never subsampled. With a fitted
    :class:`~skmem.MemorizationScorer` of the same records, the table also
    gives each record's memorization score, its interval and p-value, and
    whether it is memorized at false-discovery rate ``alpha``.

    Parameters
    ----------
    X_train : array-like or DataFrame of shape (n_train, n_features)
        The records the synthesizer trained on.
    X_synthetic : array-like or DataFrame of shape (n_synthetic, n_features)
        The released synthetic rows.
    X_holdout : array-like or DataFrame of shape (n_holdout, n_features)
        Records of the same population that the synthesizer never saw.
    scorer : MemorizationScorer or None, default=None
        Fitted on ``X_train`` (same rows, same order), with 3 repeats or more
        for the intervals and p-values.
    alpha : float, default=0.05
        False-discovery rate of the ``memorized`` flag
        (:meth:`~skmem.MemorizationScorer.memorized`).
    confidence : float, default=0.95
        Level of the Wilson intervals of the data-set-level shares.
    working_memory : float, default=None
        MiB per thread for the distance tiles; None means scikit-learn's.
    n_jobs : int, default=None
        Threads over blocks of rows.

    Returns
    -------
    table : pandas.DataFrame
        One row per training record, in order:

        - ``distance_to_synthetic``: to the closest synthetic row (DCR);
        - ``nearest_synthetic``: that row's index;
        - ``distance_to_holdout``: to the closest held-out record;
        - ``n_synthetic_closer``: synthetic rows strictly closer to the record
          than its closest held-out record;
        - ``closer_than_holdout``: ``n_synthetic_closer > 0``;
        - with ``scorer``: ``memorization``, ``ci_low``, ``ci_high``,
          ``p_value`` and ``memorized`` (the flag).

        ``table.attrs["shares"]`` is a DataFrame of data-set-level shares
        with their counts and Wilson intervals: ``synthetic_closer_to_training``
        (synthetic rows closer to their closest training record than to
        their closest held-out one, as SDMetrics' DCROverfittingProtection
        counts them; for a synthesizer independent of the training records it
        is ``n_train / (n_train + n_holdout)`` in expectation, by
        exchangeability, kept in ``table.attrs["null_share_closer_to_training"]``;
        its interval counts the synthetic rows that share a nearest record
        as one, so that it covers that share at its level however many
        synthetic rows there are),
        ``records_with_a_closer_synthetic_row``
        and, with ``scorer``, ``records_memorized``.
        ``table.attrs["synthetic"]`` has one row per synthetic row: its
        ``distance_to_training`` (the DCR that SDMetrics reports),
        ``distance_to_holdout``, ``closer_to_training`` and
        ``nearest_record`` (numbered over the training records, then the
        held-out ones).

    Examples
    --------
    >>> import numpy as np
    >>> from skmem import record_risk
    >>> rng = np.random.RandomState(0)
    >>> train, holdout = rng.normal(size=(200, 2)), rng.normal(size=(200, 2))
    >>> copies = train[:50] + 1e-3 * rng.normal(size=(50, 2))
    >>> table = record_risk(train, copies, holdout)
    >>> int(table["closer_than_holdout"][:50].sum()), len(table)
    (50, 200)
    >>> shares = table.attrs["shares"]
    >>> float(shares.loc["synthetic_closer_to_training", "share"])
    1.0
    """
    from .baselines import _float_tables, _nearest_and_count

    train, synthetic, holdout = _float_tables(
        X_train, X_synthetic=X_synthetic, X_holdout=X_holdout
    )
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    _, to_holdout, _ = _nearest_and_count(train, holdout, None, working_memory, n_jobs)
    nearest, to_synthetic, n_closer = _nearest_and_count(
        train, synthetic, to_holdout, working_memory, n_jobs
    )
    # The synthetic side: each row's closest training and held-out records.
    synth = synthetic_side(synthetic, train, holdout, working_memory, n_jobs)
    index = X_train.index if isinstance(X_train, pd.DataFrame) else None
    table = pd.DataFrame(
        {
            "distance_to_synthetic": to_synthetic,
            "nearest_synthetic": nearest,
            "distance_to_holdout": to_holdout,
            "n_synthetic_closer": n_closer,
            "closer_than_holdout": n_closer > 0,
        },
        index=index,
    )
    counts = {
        "synthetic_closer_to_training": (
            int(np.count_nonzero(synth.closer)),
            len(synthetic),
        ),
        "records_with_a_closer_synthetic_row": (
            int(np.count_nonzero(n_closer > 0)),
            len(train),
        ),
    }
    if scorer is not None:
        _add_scores(table, scorer, alpha)
        counts["records_memorized"] = (int(table["memorized"].sum()), len(train))
    rows = []
    for name, (k, n) in counts.items():
        if name == "synthetic_closer_to_training":
            low, high = closer_share_ci(synth, confidence)
        else:
            low, high = _wilson(k / n, n, confidence)
        rows.append({"share": k / n, "low": low, "high": high, "count": k, "of": n})
    shares = pd.DataFrame(rows, index=list(counts))
    shares.attrs["confidence"] = confidence
    table.attrs["shares"] = shares
    table.attrs["synthetic"] = pd.DataFrame(
        {
            "distance_to_training": synth.to_train,
            "distance_to_holdout": synth.to_holdout,
            "closer_to_training": synth.closer,
            "nearest_record": synth.nearest_record,
        },
        index=X_synthetic.index if isinstance(X_synthetic, pd.DataFrame) else None,
    )
    table.attrs["null_share_closer_to_training"] = synth.chance
    return table


def _add_scores(table, scorer, alpha):
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(scorer)
    scores = scorer.memorization_scores_
    if len(scores) != len(table):
        raise ValueError(
            f"The scorer was fitted on {len(scores)} records and X_train has "
            f"{len(table)}; fit it on X_train."
        )
    # memorized() says what is missing when the scorer ran too few repeats.
    flags = scorer.memorized(alpha=alpha)
    table["memorization"] = scores
    ci = scorer.memorization_ci_
    table["ci_low"], table["ci_high"] = ci[:, 0], ci[:, 1]
    table["p_value"] = scorer.memorization_pvalues_
    table["memorized"] = flags
