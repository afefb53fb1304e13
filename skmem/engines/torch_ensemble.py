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
import sys
import time
from contextlib import nullcontext

import numpy as np
from joblib import effective_n_jobs
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_array

from .._memory import budget_bytes, rows_per_block
from ._base import cache_row, check_model_rows
from ._progress import FileProgress
from .generic import SeparateModelsEngine, progress_bar


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
    cache : ModelCache, MemoryModelCache or None
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

    def _model_bytes(self, estimator, n_train, n_features):
        """(n_params, bytes one model of a group needs where it trains).

        float32 weights, gradients and two Adam moments; the epoch of its
        training rows the loop gathers at once; activations, guessed at 16
        row widths per row of a batch.
        """
        import torch

        module_class, params = estimator._module_spec(n_features)
        with torch.device("meta"):  # shapes only: no memory, no random draws
            module = module_class(**params)
        n_params = sum(p.numel() for p in module.parameters())
        width = n_features + math.prod(getattr(module, "loss_noise_shape", ()) or ())
        need = 4 * (
            4 * n_params + n_train * width + 16 * estimator.batch_size * n_features
        )
        return n_params, need

    def fitted_bytes(self, estimator, X, n_models):
        """Host memory of the fitted models a run keeps: weights at every
        checkpoint and at the end."""
        n_params, _ = self._model_bytes(estimator, 0, X.shape[1])
        return 4 * n_params * (len(estimator._checkpoints()) + 1) * n_models

    def _group_size(self, estimator, n_models, n_train, X, devices):
        """Models trained together, and why: a sentence for verbose.

        On a CPU within ``working_memory``; on a GPU within half the memory
        free on the fullest device, after X (the other half is left to the
        scoring batches, which are sized from what is then free).
        """
        n_params, per_model = self._model_bytes(estimator, n_train, X.shape[1])
        if devices[0].type == "cuda":
            free = min(device_free_bytes(d) for d in devices)
            budget = (free - 4 * X.size) / 2
            where = (
                f"half of the {free / 2**30:.1f} GiB free on {_names(devices)} after X"
            )
        else:
            budget = budget_bytes()
            where = f"working_memory={_bytes(budget)}"
        size = rows_per_block(per_model, n_models, budget=budget)
        reason = (
            f"{n_params:,} parameters, {n_train} training rows: "
            f"{_bytes(per_model)} a model; {where} "
            + ("holds all of them" if size == n_models else f"holds {size}")
        )
        return size, reason

    def check_device_memory(self, estimator, X, n_models, n_train=None):
        """Refuse, before any work, a model that alone exceeds a GPU's free memory."""
        devices = self._devices(estimator)
        if devices[0].type != "cuda":
            return
        n_train = len(X) if n_train is None else n_train
        _, per_model = self._model_bytes(estimator, n_train, X.shape[1])
        need = per_model + 4 * X.size
        free = min(device_free_bytes(d) for d in devices)
        if 2 * need > free:
            raise MemoryError(
                f"One {type(estimator).__name__} model on {X.shape[0]} x "
                f"{X.shape[1]} data needs about {need / 2**30:.2f} GiB on the GPU "
                f"(X, weights, Adam state, an epoch of training rows) plus as much "
                f"for scoring, more than the {free / 2**30:.2f} GiB free on "
                f"{_names(devices)}. Free the GPU, use fewer rows or a smaller "
                "module, or device='cpu'."
            )

    def _devices(self, estimator):
        import torch

        from ..torch._estimator import torch_training

        device = torch_training().resolve_device(estimator.device)
        n_visible = torch.cuda.device_count() if device.type == "cuda" else 0
        return training_devices(device, n_visible)

    def compute(self, estimator, X, plan):
        from ..torch._estimator import torch_training

        training = torch_training()
        # This engine trains in place of fit: check what fit checks.
        estimator._validate_params()
        keys, todo, estimators, log_likelihoods = self._start(estimator, X, plan)
        X = check_array(X, dtype=[np.float64, np.float32])  # DataFrames too
        estimator._prepare(X[:1])
        devices = self._devices(estimator)
        n_train = max((len(plan.train_indices(k)) for k in todo), default=0)
        self.check_device_memory(estimator, X, len(todo), n_train)
        n_jobs = effective_n_jobs(self.n_jobs)
        # One device (a CPU): one group per joblib worker, one torch thread
        # each. Several devices (GPUs): one thread per device, in this process.
        # One GPU: one group after another.
        # A cluster (joblib's dask backend): one group per worker, each on
        # the device its own ``device`` resolves to there (its GPU).
        remote = _cluster_backend()
        per_device = not remote and (devices[0].type == "cuda" or len(devices) > 1)
        n_workers = len(devices) if per_device else n_jobs
        n_workers = max(1, min(n_workers, len(todo)))
        size, reason = self._group_size(
            estimator, max(len(todo), 1), n_train, X, devices
        )
        groups = split_into_groups(todo, size, n_workers)
        group_devices = assign_devices(len(groups), devices)
        if self.verbose and groups:
            print(
                f"[MemorizationScorer] {len(todo)} models in {len(groups)} "
                f"group(s) of at most {max(len(g) for g in groups)} on "
                f"{_names(devices)} ({reason})",
                flush=True,
            )
        in_process = not remote and (per_device or n_workers == 1)
        bar = progress_bar(
            len(todo) * estimator.max_epochs,
            self.verbose,
            unit="model-epoch",
            desc="model-epochs trained",
        )
        # Worker processes on this machine count their epochs in files that a
        # thread here reads, so that the bar moves from the first epoch; a
        # cluster's workers move it as each group ends.
        local_workers = not in_process and not remote
        files = FileProgress(bar) if self.verbose and local_workers else None
        data_cache = {} if in_process else None
        tasks = (
            delayed(_fit_group)(
                estimator,
                X,
                [plan.train_indices(k) for k in group],
                [int(plan.seeds[k]) for k in group],
                # In a worker one thread per group; in this process, n_jobs.
                1 if n_workers > 1 and not per_device else n_jobs,
                f"[MemorizationScorer] group {g + 1}/{len(groups)}: ",
                group,
                None if self.cache is None else self.cache.for_workers,
                [keys[k] for k in group],
                device=None if remote else group_devices[g],
                progress=bar.update
                if in_process
                else None
                if files is None
                else files.counter(g),
                data_cache=data_cache,
            )
            for g, group in enumerate(groups)
        )
        parallel = Parallel(
            n_jobs=n_workers,
            return_as="generator",
            # Several GPUs: threads in this process, one per device.
            **({"backend": "threading"} if per_device and n_workers > 1 else {}),
        )
        start = time.perf_counter()
        # With a thread-based joblib backend the groups share this process's
        # torch: one thread each, restored once all are done.
        threads = 1 if n_workers > 1 and not per_device else n_jobs
        with bar, files or nullcontext(), training.torch_threads(threads):
            for g, (group, (members, rows)) in enumerate(
                zip(groups, parallel(tasks), strict=True)
            ):
                for j, (member, k) in enumerate(zip(members, group, strict=True)):
                    estimators[k] = member
                    if self.cache is not None:
                        self.cache.keep(keys[k], member, cache_row(rows[:, j]))
                log_likelihoods[:, group] = rows
                if files is not None:
                    files.done(g, len(group) * estimator.max_epochs)
                elif not in_process:
                    bar.update(len(group) * estimator.max_epochs)
                if self.verbose:
                    bar.write(
                        f"[MemorizationScorer] group {g + 1}/{len(groups)} of "
                        f"{len(group)} models trained and scored on "
                        f"{group_devices[g]} "
                        f"({time.perf_counter() - start:.1f}s elapsed)",
                        file=sys.stdout,
                    )
        return self._finish(estimator, estimators, log_likelihoods)


def _cluster_backend():
    """Whether joblib's active backend sends tasks to other machines (dask)."""
    from joblib.parallel import get_active_backend

    return type(get_active_backend()[0]).__name__.startswith("Dask")


def device_free_bytes(device):
    """Memory free on a CUDA device now."""
    import torch

    return torch.cuda.mem_get_info(device)[0]


def training_devices(device, n_visible):
    """The devices groups train on.

    ``"cuda"`` without an index, with several GPUs visible, means all of them;
    anything else means that one device.
    """
    import torch

    device = torch.device(device)
    if device.type == "cuda" and device.index is None and n_visible > 1:
        return [torch.device("cuda", i) for i in range(n_visible)]
    return [device]


def assign_devices(n_groups, devices):
    """Group ``g`` goes to ``devices[g % len(devices)]``: round robin."""
    return [devices[g % len(devices)] for g in range(n_groups)]


def _bytes(n):
    """``n`` bytes in KiB, MiB or GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 2**10:.1f} KiB"


def _names(devices):
    return ", ".join(str(d) for d in devices)


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
    train_indices,
    seeds,
    n_threads,
    prefix,
    indices,
    cache,
    keys,
    *,
    device=None,
    progress=None,
    data_cache=None,
):
    """Train one group with ``estimator._fit_ensemble_curve``, check and cache it.

    Returns the fitted clones and their log-likelihoods, (n_checkpoints + 1,
    n_models, n_samples). ``indices`` are the models' indices in the plan, for
    error messages; ``keys`` their cache keys.
    """
    from ..torch._estimator import torch_training

    with torch_training().torch_threads(n_threads):
        members, rows = estimator._fit_ensemble_curve(
            X,
            train_indices,
            seeds,
            log_prefix=prefix,
            device=device,
            progress=progress,
            data_cache=data_cache,
        )
    rows = np.stack(
        [check_model_rows(rows[:, j], len(X), k) for j, k in enumerate(indices)],
        axis=1,
    )
    if cache is not None:
        for j, (member, key) in enumerate(zip(members, keys, strict=True)):
            cache.store(key, member, cache_row(rows[:, j]))
    return members, rows
