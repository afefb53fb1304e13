"""memorization_sweep: held-out fit against memorization, one setting at a time."""

import time
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples

from ._splits import MAX_SEED

# Parameters that decide the folds and seeds, which a sweep keeps fixed.
_FIXED = ("cv", "n_repeats", "random_state")


def memorization_sweep(
    scorer,
    X,
    param_grid,
    *,
    groups=None,
    quantiles=(0.5, 0.95, 0.99),
    alpha=0.05,
    return_scorers=False,
):
    """Held-out log-likelihood and memorization for each value of a setting.

    The paper's trade-off (van den Burg & Williams, 2021): a setting such as
    model size, weight decay or training time changes both how well a model
    fits data it has not seen and how much it memorizes the data it has. For
    every parameter setting in ``param_grid``, a clone of ``scorer`` is fitted
    on ``X`` with the **same folds and the same model seeds** (drawn once), so
    that the values differ only by the setting, and one row records the mean
    held-out log-likelihood (the mean of ``out_log_likelihood_``, what
    :meth:`~skmem.MemorizationScorer.score` gives on the training data) and the
    quantiles of the memorization scores. With an estimator that keeps
    ``checkpoints``, every checkpoint gets its row, so one run per setting
    also gives the early-stopping curve.

    Why a function and not :class:`~sklearn.model_selection.GridSearchCV`:
    the memorization scores are per-sample results of the scorer's own
    cross-validation over the whole training set; GridSearchCV would refit the
    scorer inside an outer cross-validation (K times the cost, each on a
    subset), and its scoring callables return one number per split, not the
    distribution of M. To choose a model on held-out fit alone,
    ``GridSearchCV(MemorizationScorer(...), {"estimator__...": ...})`` works
    (``score`` never rewards memorization).

    Parameters
    ----------
    scorer : MemorizationScorer
        Not necessarily fitted; its ``cv``, ``n_repeats`` and ``random_state``
        fix the folds. A ``random_state`` of None is drawn once, and a
        splitter object is split once, so that every value sees the same
        plan.
    X : array-like of shape (n_samples, n_features)
        Training data.
    param_grid : dict or list of dicts
        Parameters of the scorer to vary, as for
        :class:`~sklearn.model_selection.ParameterGrid`, e.g.
        ``{"estimator__weight_decay": [0, 1e-4, 1e-3]}``. ``cv``,
        ``n_repeats`` and ``random_state`` cannot be swept.
    groups : array-like of shape (n_samples,), default=None
        Group labels, for group splitters.
    quantiles : tuple of float, default=(0.5, 0.95, 0.99)
        Quantiles of M to record.
    alpha : float, default=0.05
        False-discovery rate of the ``n_memorized`` column.
    return_scorers : bool, default=False
        Also return the fitted scorers, one per parameter setting.

    Returns
    -------
    results : pandas.DataFrame
        One row per parameter setting (per setting and checkpoint with
        checkpoints), in the order of ``ParameterGrid``, with columns:

        - one per swept parameter, named as in ``param_grid``;
        - ``epoch``: the checkpoint (only when the estimator has checkpoints);
        - ``held_out_log_likelihood``: mean held-out log-likelihood per
          sample, in nats (higher is a better fit to unseen data);
        - ``memorization_mean`` and ``memorization_q<q>`` for each quantile
          (e.g. ``memorization_q0.95``), in nats;
        - ``n_memorized``: records flagged at ``alpha`` (needs 3 repeats or
          more; NaN otherwise, and at checkpoints other than the scored one);
        - ``fit_time``: seconds to fit the setting (shared by its checkpoints).
    scorers : list of MemorizationScorer
        Only with ``return_scorers=True``.

    See Also
    --------
    skmem.plotting.MemorizationTradeoffDisplay : Draws the results.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KernelDensity
    >>> from skmem import MemorizationScorer, memorization_sweep
    >>> X = np.random.RandomState(0).normal(size=(200, 2))
    >>> results = memorization_sweep(
    ...     MemorizationScorer(KernelDensity(), cv=5, random_state=0),
    ...     X,
    ...     {"estimator__bandwidth": [0.05, 0.3, 1.0]},
    ... )
    >>> list(results.columns[:3])
    ['estimator__bandwidth', 'held_out_log_likelihood', 'memorization_mean']
    >>> bool(results["memorization_q0.95"].is_monotonic_decreasing)
    True
    """
    import pandas as pd

    grid = ParameterGrid(param_grid)
    swept = list(dict.fromkeys(key for params in grid for key in params))
    fixed = [key for key in swept if key in _FIXED]
    if fixed:
        raise ValueError(
            f"memorization_sweep keeps the folds and seeds fixed, so it cannot "
            f"sweep {', '.join(fixed)}; sweep the estimator's parameters "
            "(e.g. 'estimator__weight_decay') instead."
        )
    base = clone(scorer)
    if base.random_state is None or not isinstance(base.random_state, Integral):
        seed = check_random_state(base.random_state).randint(MAX_SEED)
        base.set_params(random_state=int(seed))
    if not isinstance(base.cv, Integral):
        splits = list(check_cv(base.cv).split(X, None, groups))
        base.set_params(cv=splits)
    n_samples = _num_samples(X)

    rows, scorers, plan = [], [], None
    for params in grid:
        fitted = clone(base).set_params(**params)
        start = time.perf_counter()
        fitted.fit(X, groups=groups)
        elapsed = time.perf_counter() - start
        masks = fitted.test_masks_
        if plan is None:
            plan = masks
        else:
            # n_repeats="auto" may stop at different numbers of repeats; the
            # repeats two settings share must be the same.
            common = min(len(masks), len(plan))
            if not np.array_equal(masks[:common], plan[:common]):
                raise RuntimeError(
                    "The folds changed between parameter settings; please report "
                    "this with the scorer's parameters."
                )
        setting = {key: params.get(key) for key in swept}
        n_memorized = np.nan
        if getattr(fitted, "_inference", None) is not None:
            n_memorized = int(fitted.memorized(alpha=alpha).sum())
        curve = getattr(fitted, "memorization_curve_", None)
        if curve is None:
            rows.append(
                {
                    **setting,
                    **_row(
                        fitted.memorization_scores_,
                        _mean_finite(fitted.out_log_likelihood_),
                        quantiles,
                    ),
                    "n_memorized": n_memorized,
                    "fit_time": elapsed,
                }
            )
        else:
            scored = (
                fitted.best_checkpoint_
                if fitted.early_stopping
                else fitted.checkpoints_[-1]
            )
            for epoch, M, held_out in zip(
                fitted.checkpoints_, curve, fitted.score_curve_, strict=True
            ):
                rows.append(
                    {
                        **setting,
                        "epoch": int(epoch),
                        **_row(M, held_out, quantiles),
                        "n_memorized": n_memorized if epoch == scored else np.nan,
                        "fit_time": elapsed,
                    }
                )
        if return_scorers:
            scorers.append(fitted)
    results = pd.DataFrame(rows)
    results.attrs["n_samples"] = n_samples
    return (results, scorers) if return_scorers else results


def _mean_finite(values):
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def _row(M, held_out, quantiles):
    finite = M[np.isfinite(M)]
    row = {
        "held_out_log_likelihood": float(held_out),
        "memorization_mean": float(finite.mean()) if finite.size else np.nan,
    }
    for q in quantiles:
        # +inf scores count (they are the most memorized); NaN ones do not.
        known = M[~np.isnan(M)]
        row[f"memorization_q{q:g}"] = _quantile(known, q) if known.size else np.nan
    return row


def _quantile(values, q):
    """``np.quantile(values, q)`` (linear interpolation), infinite values
    included: numpy interpolates to NaN, and warns, once any value is
    infinite; here the quantile between a finite and an infinite neighbour is
    that infinity, and one that falls exactly on a value is that value."""
    values = np.sort(values)
    position = q * (len(values) - 1)
    below = int(np.floor(position))
    fraction = position - below
    lower = values[below]
    if fraction == 0:
        return float(lower)
    upper = values[below + 1]
    if np.isfinite(lower) and np.isfinite(upper):
        return float(np.quantile([lower, upper], fraction))  # numpy's own lerp
    if lower == upper:
        return float(lower)
    if np.isinf(lower) and np.isinf(upper):  # -inf below, +inf above
        return np.nan
    return float(upper if np.isinf(upper) else lower)
