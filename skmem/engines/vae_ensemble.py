"""Train all fold VAEs at once, as batched ensembles.

Every layer of an ensemble holds the stacked weights of the models in a group
and runs as one batched matrix product (``torch.baddbmm``). Each model walks
its own training rows in its own shuffled order, draws its own noise from its
own generator and steps its own Adam state, with the seed a standalone
``VAEDensity`` clone would get: the standalone estimator runs the same code
with one model. So the models are those the generic engine would fit, up to
floating-point rounding of the batched products. On a CPU the gain comes from
paying torch's per-operation overhead once for a whole group of models; on a
GPU from filling the device.

On a CPU with ``n_jobs > 1`` the models are split into one group per worker,
and each worker trains its group with one torch thread. At the sizes of a
memorization run (minibatches of tens of rows) torch's threads split each
operation too finely to keep two cores busy, while two processes do.
"""

import math
import time

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import clone
from sklearn.utils.parallel import Parallel, delayed

from .._memory import rows_per_block
from ..vae._estimator import torch_model
from ._base import check_log_likelihoods
from .generic import SeparateModelsEngine


class VAEEnsembleEngine(SeparateModelsEngine):
    """Batched engine for :class:`skmem.VAEDensity`.

    Parameters
    ----------
    n_jobs : int or None
        On a CPU, the number of groups trained at once in joblib workers, one
        torch thread each (``None`` means 1: one group at a time, in this
        process). On a GPU, the groups run one after another in this process
        and ``n_jobs`` sets torch's CPU threads.
    verbose : int
    cache : ModelCache or None
        Cached models are loaded instead of trained; the others are trained
        together and stored as soon as their group is done.
    """

    name = "vae_ensemble"

    def _group_size(self, estimator, options, n_models, n_features):
        """Models trained and evaluated together, within ``working_memory``."""
        hidden = options["hidden_layer_sizes"]
        widths = [n_features, *hidden, 2 * options["latent_dim"], 2 * n_features]
        n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
        # float32 parameters, gradients and two Adam moments, plus activations.
        train_bytes = 4 * (4 * n_params + 3 * options["batch_size"] * sum(widths))
        # Evaluation of at least one row with all its importance samples (with
        # room to spare: activations are float32).
        eval_bytes = 8 * 4 * estimator.n_importance_samples * max(widths)
        return rows_per_block(max(train_bytes, eval_bytes), n_models)

    def compute(self, estimator, X, plan):
        # This engine trains in place of VAEDensity.fit: check what fit checks.
        estimator._validate_params()
        X32, options, device = estimator._training_setup(X)
        keys, todo, estimators, log_likelihoods = self._start(estimator, X, plan)
        n_jobs = effective_n_jobs(self.n_jobs)
        n_workers = n_jobs if device.type == "cpu" else 1
        n_workers = max(1, min(n_workers, len(todo)))
        groups = split_into_groups(
            todo,
            self._group_size(estimator, options, max(len(todo), 1), X.shape[1]),
            n_workers,
        )
        tasks = (
            delayed(_fit_group)(
                estimator,
                X32,
                options,
                [plan.train_indices(k) for k in group],
                [int(plan.seeds[k]) for k in group],
                device,
                # In a worker one thread per group; in this process, n_jobs.
                1 if n_workers > 1 else n_jobs,
                self.verbose,
                f"[MemorizationScorer] VAE group {g + 1}/{len(groups)}: ",
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
        with torch_model().torch_threads(1 if n_workers > 1 else n_jobs):
            for g, (group, (members, rows)) in enumerate(
                zip(groups, parallel(tasks), strict=True)
            ):
                for member, k in zip(members, group, strict=True):
                    estimators[k] = member
                log_likelihoods[group] = rows
                if self.verbose:
                    print(
                        f"[MemorizationScorer] group {g + 1}/{len(groups)} of "
                        f"{len(group)} VAEs trained and scored "
                        f"({time.perf_counter() - start:.1f}s elapsed)",
                        flush=True,
                    )
        return self._finish(estimators, log_likelihoods)


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
    estimator,
    X,
    options,
    train_indices,
    seeds,
    device,
    n_threads,
    verbose,
    prefix,
    indices,
    cache=None,
    keys=None,
):
    """Train one ensemble, score every row under each member, store the models.

    ``X`` (float32), ``options`` and ``device`` come from
    ``estimator._training_setup``. Returns a fitted :class:`~skmem.VAEDensity`
    per seed (the clone ``VAEDensity(random_state=seed)`` the generic engine
    would fit) and the rows of log-likelihoods, (n_models, n_samples).
    ``indices`` are the models' indices in the plan, for error messages;
    ``keys`` their cache keys.
    """
    from ..vae._estimator import evaluation_elements, torch_seed

    model = torch_model()
    with model.torch_threads(n_threads):
        module, curves, noise_seeds = model.train_ensemble(
            X,
            train_indices,
            # The torch seed a VAEDensity(random_state=seed) clone would use.
            [torch_seed(seed) for seed in seeds],
            device=device,
            verbose=verbose,
            log_prefix=prefix,
            **options,
        )
        noise = model.importance_noise(
            noise_seeds, estimator.n_importance_samples, estimator.latent_dim
        )
        rows = model.log_likelihood(
            module, X, noise, device=device, max_elements=evaluation_elements()
        )
    rows = np.vstack(
        [
            check_log_likelihoods(row, len(X), k)
            for row, k in zip(rows, indices, strict=True)
        ]
    )
    members = []
    for j, seed in enumerate(seeds):
        member = clone(estimator).set_params(random_state=seed)
        member.set_fitted(module.member(j), curves[j], noise_seeds[j], device)
        member.n_features_in_ = X.shape[1]
        members.append(member)
        if cache is not None:
            cache.store(keys[j], member, rows[j])
    return members, rows
