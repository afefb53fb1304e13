"""Per-model result cache, so that an interrupted run resumes where it stopped.

Each model's fitted estimator and its row of log-likelihoods are stored in one
file, named by a hash of everything the result depends on: the estimator and
its parameters, the data, the model's training rows and its seed. The engine
is not part of the key: every engine computes the same models. Files are
written to a temporary name and renamed into place, so an interrupted write
never leaves a partial entry under a real name; an entry that cannot be read
back, or holds the wrong shape, is recomputed.
"""

import os
import uuid
import warnings
from pathlib import Path

import joblib
import numpy as np


class _Cache:
    """What the engines use of a cache: keys, ``load_all``, and where models
    are stored (``for_workers``: the cache the fitting workers store into, or
    None; ``keep``: called in this process for every model fitted)."""

    def model_keys(self, estimator, X, plan):
        """One key per model of ``plan``."""
        base = joblib.hash((type(estimator).__qualname__, estimator, X))
        return [
            joblib.hash((base, np.packbits(plan.train_masks[k]), int(plan.seeds[k])))
            for k in range(plan.n_models)
        ]

    def load_all(self, keys, n_samples):
        """The cached entries of ``keys``: a dict from model index to entry."""
        found = {}
        for k, key in enumerate(keys):
            entry = self.load(key, n_samples)
            if entry is not None:
                found[k] = entry
        return found


class ModelCache(_Cache):
    """Files ``<location>/skmem/<key>.pkl`` holding ``(estimator, log_likelihoods)``."""

    def __init__(self, location):
        self.directory = Path(location) / "skmem"
        self.where = f"in the cache at {self.directory}"
        # Workers store each model as soon as it is done, so that a run killed
        # later keeps it.
        self.for_workers = self

    def keep(self, key, model, row):
        """Nothing: the worker that fitted the model stored it."""

    @classmethod
    def from_memory(cls, memory):
        """None, a path, or a ``joblib.Memory`` (as ``Pipeline(memory=...)``)."""
        if memory is None:
            return None
        if isinstance(memory, str | os.PathLike):
            return cls(memory)
        location = getattr(memory, "location", None)
        return None if location is None else cls(location)

    def _path(self, key):
        return self.directory / f"{key}.pkl"

    def load(self, key, n_samples):
        """``(estimator, log_likelihoods)``, or None when missing or unreadable.

        ``n_samples`` is the expected length of the log-likelihoods, or their
        expected shape (a model with checkpoints stores one row per epoch).
        """
        shape = (n_samples,) if np.ndim(n_samples) == 0 else tuple(n_samples)
        path = self._path(key)
        if not path.exists():
            return None
        try:
            model, row = joblib.load(path)
            row = np.asarray(row, dtype=np.float64)
            if row.shape != shape:
                raise ValueError(f"holds log-likelihoods of shape {row.shape}")
        except Exception as exc:  # noqa: BLE001 - any unreadable entry is recomputed
            warnings.warn(
                f"Ignoring unreadable cache entry {path.name} ({exc}); the model "
                "is recomputed.",
                UserWarning,
                stacklevel=2,
            )
            return None
        return model, row

    def store(self, key, model, row):
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            joblib.dump((model, row), temporary)
            os.replace(temporary, path)  # atomic: readers see all or nothing
        finally:
            if temporary.exists():
                temporary.unlink()


class MemoryModelCache(_Cache):
    """ModelCache's interface in this process's memory, for ``n_repeats="auto"``:
    each added repeat reuses the models fitted so far, as ``warm_start`` does.

    Worker processes cannot write into it, so the engine keeps each model here
    (``keep``) as its result comes back.
    """

    where = "in memory"
    for_workers = None

    def __init__(self):
        self._entries = {}

    def load(self, key, n_samples):
        """``(estimator, log_likelihoods)``, or None when missing."""
        return self._entries.get(key)

    def store(self, key, model, row):
        self._entries[key] = (model, np.asarray(row, dtype=np.float64))

    keep = store
