"""The generic engine: clone, seed, fit and score one estimator per model."""

import time

import numpy as np
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.utils.parallel import Parallel, delayed
from threadpoolctl import threadpool_limits

from ._base import EngineResult, check_log_likelihoods


def set_random_states(estimator, seed):
    """Set every ``random_state`` parameter of ``estimator``, nested ones too."""
    params = estimator.get_params(deep=True)
    to_set = {
        key: seed
        for key in params
        if key == "random_state" or key.endswith("__random_state")
    }
    if to_set:
        estimator.set_params(**to_set)
    return estimator


def _fit_and_score(estimator, X, train, seed, index):
    model = set_random_states(clone(estimator), int(seed))
    # One BLAS/OpenMP thread per model, whatever n_jobs and the backend are:
    # multi-threaded reductions round differently, and results must not depend
    # on how the work was spread. Parallelism comes from n_jobs instead.
    with threadpool_limits(limits=1):
        try:
            model.fit(X[train])
        except Exception as exc:
            raise RuntimeError(
                f"Model {index} failed to fit on its {len(train)} training samples: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        log_likelihoods = model.score_samples(X)
    return model, check_log_likelihoods(log_likelihoods, len(X), index)


class GenericEngine:
    """Fit a clone of the estimator per model, in parallel with joblib.

    Works for any estimator with ``fit(X)`` and ``score_samples(X)``. Each clone
    gets the model's seed in every ``random_state`` parameter (nested ones
    included) and runs with one BLAS/OpenMP thread, so results are identical for
    every ``n_jobs`` and joblib backend.
    """

    name = "generic"

    def __init__(self, *, n_jobs=None, verbose=0):
        self.n_jobs = n_jobs
        self.verbose = verbose

    def compute(self, estimator, X, plan):
        n_models = plan.n_models
        # Tasks receive indices, not copies of X[train]; joblib memory-maps a large
        # X once for process-based backends, and ``pre_dispatch`` bounds how many
        # tasks are queued at a time.
        tasks = (
            delayed(_fit_and_score)(estimator, X, plan.train_indices(k), seed, k)
            for k, seed in enumerate(plan.seeds)
        )
        parallel = Parallel(
            n_jobs=self.n_jobs, pre_dispatch="2*n_jobs", return_as="generator"
        )
        estimators = []
        log_likelihoods = np.empty((n_models, plan.n_samples))
        start = time.perf_counter()
        for k, (model, row) in enumerate(parallel(tasks)):
            estimators.append(model)
            log_likelihoods[k] = row
            if self.verbose:
                print(
                    f"[MemorizationScorer] model {k + 1}/{n_models} fitted and "
                    f"scored ({time.perf_counter() - start:.1f}s elapsed)",
                    flush=True,
                )
        self.estimators_ = estimators
        return EngineResult(log_likelihoods=log_likelihoods, estimators=estimators)

    def ensemble_log_likelihood(self, X):
        """``logmeanexp_k log p_k(x)`` for rows ``x`` of ``X``."""
        return ensemble_log_likelihood(self.estimators_, X)


def ensemble_log_likelihood(estimators, X):
    """``logmeanexp_k log p_k(x)`` over fitted models, for rows ``x`` of ``X``."""
    rows = [
        check_log_likelihoods(model.score_samples(X), len(X), k)
        for k, model in enumerate(estimators)
    ]
    return logsumexp(np.vstack(rows), axis=0) - np.log(len(rows))
