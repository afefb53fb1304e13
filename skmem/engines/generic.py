"""The generic engine: clone, seed, fit and score one estimator per model."""

import sys
import threading
import time
import warnings
from contextlib import contextmanager
from functools import partial

import numpy as np
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.utils import _safe_indexing, gen_batches
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _num_features, _num_samples
from threadpoolctl import threadpool_limits

from .._memory import rows_per_block
from ._base import (
    Engine,
    EngineResult,
    cache_row,
    check_log_likelihoods,
    check_model_rows,
    dense_matrix_bytes,
    estimator_checkpoints,
    score_samples_at,
)


def mark_failed_fit(exc, model_index, n_train):
    """Name the model in an exception raised by its ``fit``, keeping its type.

    A note is added to the traceback, and ``failed_model(exc)`` returns the
    index; both survive the trip back from a joblib worker.
    """
    exc.add_note(
        f"skmem: model {model_index} of the split plan failed to fit on its "
        f"{n_train} training samples."
    )
    exc.skmem_failed_model = (model_index, n_train)


def failed_model(exc):
    """``(model_index, n_train)`` when ``exc`` came from a model's fit, else None."""
    return getattr(exc, "skmem_failed_model", None)


def set_random_states(estimator, seed):
    """Set every ``random_state`` parameter of ``estimator``, nested ones too.

    An object without ``get_params`` (not a scikit-learn estimator) gets its
    ``random_state`` attribute set, if it has one.
    """
    if not hasattr(estimator, "get_params"):
        if hasattr(estimator, "random_state"):
            estimator.random_state = seed
        return estimator
    params = estimator.get_params(deep=True)
    to_set = {
        key: seed
        for key in params
        if key == "random_state" or key.endswith("__random_state")
    }
    if to_set:
        estimator.set_params(**to_set)
    return estimator


def score_in_blocks(model, X):
    """``model.score_samples(X)`` on row blocks bounded by ``working_memory``.

    A density model's scoring needs some multiple of a row's size per row (a
    mixture: one centred copy per component); 32 rows' worth is budgeted.
    """
    n_rows = _num_samples(X)
    block = rows_per_block(32 * 8 * _num_features(X), n_rows)
    if block >= n_rows:
        return np.asarray(model.score_samples(X), dtype=np.float64).reshape(-1)
    return np.concatenate(
        [
            np.asarray(
                model.score_samples(_safe_indexing(X, rows)), dtype=np.float64
            ).reshape(-1)
            for rows in gen_batches(n_rows, block)
        ]
    )


def progress_bar(total, verbose, *, unit="model", desc="models fitted"):
    """A tqdm bar on stderr, with the elapsed time and an estimate of the time
    left, shown when ``verbose >= 1``; a silent one otherwise."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        disable=not verbose,
        file=sys.stderr,
        unit=unit,
        desc=f"[MemorizationScorer] {desc}",
        dynamic_ncols=True,
        mininterval=0.5,
    )


@contextmanager
def recorded_warnings():
    """Record the warnings of a block as ``[(category, message)]``.

    Only in a process's main thread (this process, or a joblib worker
    process): ``warnings.catch_warnings`` swaps process-wide state, which
    threads entering and leaving it in turn would leave swapped. In another
    thread the warnings go on as they are and the list stays empty.
    """
    found = []
    if threading.current_thread() is not threading.main_thread():
        yield found
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield found
        finally:
            found.extend((w.category, str(w.message)) for w in caught)


def warn_once_per_kind(recorded, n_models):
    """One warning per distinct (category, message) the models raised, saying
    how many of the ``n_models`` models raised it, instead of one per model.

    ``recorded``: one list of ``(category, message)`` per model.
    """
    counts = {}
    for found in recorded:
        for kind in dict.fromkeys(found):  # once per model
            counts[kind] = counts.get(kind, 0) + 1
    for (category, message), count in counts.items():
        text = f"{count} of {n_models} models: {message}"
        try:
            warning = category(text)
        except Exception:  # a category that takes other arguments
            warning = UserWarning(f"{category.__name__}: {text}")
        warnings.warn(warning, stacklevel=3)


def _fit_and_score(
    estimator, X, train, seed, index, cache=None, key=None, checkpoints=()
):
    # safe=False: objects that are not scikit-learn estimators are deep-copied.
    model = set_random_states(clone(estimator, safe=False), int(seed))
    # One BLAS/OpenMP thread per model, whatever n_jobs and the backend are:
    # multi-threaded reductions round differently, and results must not depend
    # on how the work was spread. Parallelism comes from n_jobs instead.
    # The model's warnings (a mixture's ConvergenceWarning) go back with it,
    # for one warning per kind over all models instead of one per model.
    with threadpool_limits(limits=1), recorded_warnings() as found:
        # Rows are taken as cross_validate takes them: DataFrames, sparse
        # matrices and lists keep their type.
        # The estimator's own exception goes on, with the model named in it.
        try:
            model.fit(_safe_indexing(X, train))
        except Exception as exc:
            mark_failed_fit(exc, index, len(train))
            raise
        # A row per checkpoint, from the model's snapshots, then the final one.
        rows = [score_samples_at(model, X, epoch) for epoch in checkpoints]
        rows.append(score_in_blocks(model, X))
    rows = check_model_rows(rows, _num_samples(X), index)
    if cache is not None:
        # Stored by the worker as soon as the model is done, so that a run killed
        # later keeps it.
        cache.store(key, model, cache_row(rows))
    return model, rows, found


class SeparateModelsEngine(Engine):
    """Base of the engines that fit one estimator per model.

    They can use a ModelCache (``cache``), and return the fitted models with
    the fold-ensemble density of new rows computed from them.
    """

    def matrix_bytes(self, n_models, n_samples):
        return dense_matrix_bytes(n_models, n_samples)

    def _start(self, estimator, X, plan):
        """Cache keys, the models still to fit, and the results so far.

        Returns ``(keys, todo, estimators, log_likelihoods)``: the estimators
        list and the (n_checkpoints + 1, n_models, n_samples) log-likelihoods
        (each checkpoint's, then the final models') hold the cached models'
        entries.
        """
        n_models = plan.n_models
        n_points = len(estimator_checkpoints(estimator)) + 1
        estimators = [None] * n_models
        log_likelihoods = np.empty((n_points, n_models, plan.n_samples))
        keys, cached = [None] * n_models, {}
        if self.cache is not None:
            keys = self.cache.model_keys(estimator, X, plan)
            shape = (plan.n_samples,) if n_points == 1 else (n_points, plan.n_samples)
            cached = self.cache.load_all(keys, shape)
            if self.verbose:
                print(
                    f"[MemorizationScorer] {len(cached)} of {n_models} models found "
                    f"{self.cache.where}",
                    flush=True,
                )
        for k, (model, row) in cached.items():
            estimators[k], log_likelihoods[:, k] = model, row
        todo = [k for k in range(n_models) if k not in cached]
        return keys, todo, estimators, log_likelihoods

    def _finish(self, estimator, estimators, log_likelihoods):
        checkpoints = estimator_checkpoints(estimator)
        return EngineResult(
            log_likelihoods=log_likelihoods[-1],
            estimators=estimators,
            ensemble=partial(ensemble_log_likelihood, estimators),
            checkpoints=checkpoints,
            log_likelihood_curve=log_likelihoods[:-1] if checkpoints else None,
        )


class GenericEngine(SeparateModelsEngine):
    """Fit a clone of the estimator per model, in parallel with joblib.

    Works for any estimator with ``fit(X)`` and ``score_samples(X)``. Each clone
    gets the model's seed in every ``random_state`` parameter (nested ones
    included) and runs with one BLAS/OpenMP thread, so results are identical for
    every ``n_jobs`` and joblib backend.
    """

    name = "generic"

    @classmethod
    def unsupported_reason(cls, estimator, X):
        """None: any estimator with ``fit`` and ``score_samples`` works."""
        return None

    def compute(self, estimator, X, plan):
        keys, todo, estimators, log_likelihoods = self._start(estimator, X, plan)
        checkpoints = estimator_checkpoints(estimator)
        # Tasks receive indices, not copies of X[train]; joblib memory-maps a large
        # X once for process-based backends (the dask backend scatters it once),
        # and ``pre_dispatch`` bounds how many tasks are queued at a time.
        tasks = (
            delayed(_fit_and_score)(
                estimator,
                X,
                plan.train_indices(k),
                plan.seeds[k],
                k,
                None if self.cache is None else self.cache.for_workers,
                keys[k],
                checkpoints,
            )
            for k in todo
        )
        parallel = Parallel(
            n_jobs=self.n_jobs, pre_dispatch="2*n_jobs", return_as="generator"
        )
        start = time.perf_counter()
        recorded = []
        with progress_bar(len(todo), self.verbose) as bar:
            for done, (k, (model, row, found)) in enumerate(
                zip(todo, parallel(tasks), strict=True)
            ):
                estimators[k], log_likelihoods[:, k] = model, row
                recorded.append(found)
                if self.cache is not None:
                    self.cache.keep(keys[k], model, cache_row(row))
                bar.update(1)
                if self.verbose >= 2:
                    bar.write(
                        f"[MemorizationScorer] model {k + 1} of the plan's "
                        f"{plan.n_models} fitted and scored ({done + 1} of the "
                        f"{len(todo)} to fit done, "
                        f"{time.perf_counter() - start:.1f}s elapsed)",
                        file=sys.stdout,
                    )
        warn_once_per_kind(recorded, len(todo))
        return self._finish(estimator, estimators, log_likelihoods)


def ensemble_log_likelihood(estimators, X, epoch=None):
    """``logmeanexp_k log p_k(x)`` over fitted models, for rows ``x`` of ``X``.

    With ``epoch``, each model scores with its snapshot at that epoch.
    """
    rows = [
        check_log_likelihoods(
            model.score_samples(X)
            if epoch is None
            else score_samples_at(model, X, epoch),
            _num_samples(X),
            k,
        )
        for k, model in enumerate(estimators)
    ]
    return logsumexp(np.vstack(rows), axis=0) - np.log(len(rows))
