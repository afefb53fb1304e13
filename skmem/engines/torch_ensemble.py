"""Train all fold models of a TorchDensity at once, with ``torch.func``.

The models of a group share one copy of the module's code: their parameters
are stacked along a leading axis and the module runs over all of them under
``torch.func.vmap``, each model's tensors swapped into it as
``torch.func.functional_call`` would. Each model walks its
own training rows in its own shuffled order, draws its own noise from its own
generator and steps its own Adam state, with the seed a standalone clone would
get: ``TorchDensity.fit`` runs the same training loop with one plain module. So
the models are those the generic engine would fit, up to floating-point
rounding of the batched products. On a CPU the gain comes from paying torch's
per-operation overhead once for a whole group of models; on a GPU from filling
the device.

Supports: :class:`skmem.TorchDensity` and its subclasses (:class:`skmem.VAEDensity`)
whose module runs under ``vmap``. Not: any other estimator, a pipeline ending
in a TorchDensity (the pipeline's steps are refitted per fold), or a module
``vmap`` rejects (an operation without a batching rule, data-dependent control
flow, its own random draws) or with tied weights (one tensor under two names);
those go to the generic engine.

On a CPU with ``n_jobs > 1`` the models are split into one group per worker,
and each worker trains its group with one torch thread. At the sizes of a
memorization run (minibatches of tens of rows) torch's threads split each
operation too finely to keep two cores busy, while two processes do.
"""

import math
import time

import numpy as np
from joblib import effective_n_jobs
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_array

from .._memory import rows_per_block
from ._base import cache_row, check_model_rows
from .generic import SeparateModelsEngine


def _torch_density_class():
    from ..torch import TorchDensity

    return TorchDensity


class TorchEnsembleEngine(SeparateModelsEngine):
    """Batched engine for :class:`skmem.TorchDensity`.

    Parameters
    ----------
    n_jobs : int or None
        On a CPU, the number of groups trained at once in joblib workers, one
        torch thread each (``None`` means 1: one group at a time, in this
        process). On a GPU, the groups run one after another in this process
        and ``n_jobs`` sets torch's CPU threads.
    verbose : int
    aggregate : str
        Unused: the engine returns the full log-likelihood matrix.
    cache : ModelCache or None
        Cached models are loaded instead of trained; the others are trained
        together and stored as soon as their group is done.
    """

    name = "torch"

    @classmethod
    def unsupported_reason(cls, estimator, X):
        """Why ``estimator`` cannot be batched; tries the module under ``vmap``."""
        steps = getattr(estimator, "steps", None)
        if steps and isinstance(steps[-1][1], _torch_density_class()):
            return (
                f"{type(estimator).__name__} ends in a TorchDensity, but its other "
                "steps must be refitted per fold, which the generic engine does"
            )
        if not isinstance(estimator, _torch_density_class()):
            return f"{type(estimator).__name__} is not a TorchDensity"
        return estimator._batching_problem(X)

    def _group_size(self, estimator, n_models, n_features):
        """Models trained and evaluated together, within ``working_memory``."""
        import torch

        module_class, params = estimator._module_spec(n_features)
        with torch.device("meta"):  # shapes only: no memory, no random draws
            module = module_class(**params)
        n_params = sum(p.numel() for p in module.parameters())
        # float32 parameters, gradients and two Adam moments, plus activations
        # (guessed: 16 row widths per row of a batch).
        train_bytes = 4 * (4 * n_params + 16 * estimator.batch_size * n_features)
        return rows_per_block(train_bytes, n_models)

    def compute(self, estimator, X, plan):
        from ..torch._estimator import torch_training

        training = torch_training()
        # This engine trains in place of fit: check what fit checks.
        estimator._validate_params()
        keys, todo, estimators, log_likelihoods = self._start(estimator, X, plan)
        X = check_array(X, dtype=[np.float64, np.float32])  # DataFrames too
        _, device = estimator._prepare(X[:1])
        n_jobs = effective_n_jobs(self.n_jobs)
        n_workers = n_jobs if device.type == "cpu" else 1
        n_workers = max(1, min(n_workers, len(todo)))
        groups = split_into_groups(
            todo,
            self._group_size(estimator, max(len(todo), 1), X.shape[1]),
            n_workers,
        )
        tasks = (
            delayed(_fit_group)(
                estimator,
                X,
                [plan.train_indices(k) for k in group],
                [int(plan.seeds[k]) for k in group],
                # In a worker one thread per group; in this process, n_jobs.
                1 if n_workers > 1 else n_jobs,
                f"[MemorizationScorer] group {g + 1}/{len(groups)}: ",
                group,
                self.cache,
                [keys[k] for k in group],
            )
            for g, group in enumerate(groups)
        )
        parallel = Parallel(n_jobs=n_workers, return_as="generator")
        start = time.perf_counter()
        # With a thread-based joblib backend the groups share this process's
        # torch: one thread each, restored once all are done.
        with training.torch_threads(1 if n_workers > 1 else n_jobs):
            for g, (group, (members, rows)) in enumerate(
                zip(groups, parallel(tasks), strict=True)
            ):
                for member, k in zip(members, group, strict=True):
                    estimators[k] = member
                log_likelihoods[:, group] = rows
                if self.verbose:
                    print(
                        f"[MemorizationScorer] group {g + 1}/{len(groups)} of "
                        f"{len(group)} models trained and scored "
                        f"({time.perf_counter() - start:.1f}s elapsed)",
                        flush=True,
                    )
        return self._finish(estimator, estimators, log_likelihoods)


def split_into_groups(models, max_size, n_workers):
    """Split ``models`` (in order) into groups of at most ``max_size``.

    As few groups as memory allows, rounded up to a multiple of ``n_workers``
    so that every worker gets a share, with sizes as even as possible.
    """
    models = np.asarray(models, dtype=int)
    if len(models) == 0:
        return []
    n_groups = n_workers * math.ceil(math.ceil(len(models) / max_size) / n_workers)
    return np.array_split(models, min(n_groups, len(models)))


def _fit_group(
    estimator, X, train_indices, seeds, n_threads, prefix, indices, cache, keys
):
    """Train one group with ``estimator._fit_ensemble_curve``, check and cache it.

    Returns the fitted clones and their log-likelihoods, (n_checkpoints + 1,
    n_models, n_samples). ``indices`` are the models' indices in the plan, for
    error messages; ``keys`` their cache keys.
    """
    from ..torch._estimator import torch_training

    with torch_training().torch_threads(n_threads):
        members, rows = estimator._fit_ensemble_curve(
            X, train_indices, seeds, log_prefix=prefix
        )
    rows = np.stack(
        [check_model_rows(rows[:, j], len(X), k) for j, k in enumerate(indices)],
        axis=1,
    )
    if cache is not None:
        for j, (member, key) in enumerate(zip(members, keys, strict=True)):
            cache.store(key, member, cache_row(rows[:, j]))
    return members, rows
