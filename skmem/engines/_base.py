"""What every engine returns, and helpers engines share."""

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class EngineResult:
    """The output of an engine.

    Attributes
    ----------
    log_likelihoods : ndarray of shape (n_models, n_samples) or None
        ``log p_k(x_i)`` for every model ``k`` and training sample ``i``; None
        when the engine computed the aggregates directly and the matrix would
        not fit in memory.
    in_log_likelihood, out_log_likelihood : ndarray of shape (n_samples,) or None
        The aggregates ``U`` and ``V``, when the engine computed them in closed
        form (KernelDensity with LeaveOneOut); None means "aggregate the matrix".
    estimators : list of fitted estimators or None
        One per model, when the engine fits separate models.
    ensemble : callable or None
        ``ensemble(X)``: the fold-ensemble density of new rows,
        ``log mean_k p_k(x)``, as an array of shape (n_rows,). It carries the
        fitted state the engine computed (the scorer keeps it; engines keep
        none), and must pickle.
    checkpoints : tuple of int
        The epochs of ``log_likelihood_curve``; empty when the estimator keeps
        no checkpoints.
    log_likelihood_curve : ndarray of shape (n_checkpoints, n_models, n_samples) or None
        ``log p_k(x_i)`` under each model as it was at each checkpoint, from
        the same training run as ``log_likelihoods`` (the final models).
    """

    log_likelihoods: np.ndarray | None
    in_log_likelihood: np.ndarray | None = field(default=None)
    out_log_likelihood: np.ndarray | None = field(default=None)
    estimators: list | None = field(default=None)
    ensemble: Callable[[Any], np.ndarray] | None = field(default=None)
    checkpoints: tuple = field(default=())
    log_likelihood_curve: np.ndarray | None = field(default=None)


class Engine(ABC):
    """The engine contract (see :mod:`skmem.engines`), in code.

    A subclass sets ``name`` and implements :meth:`unsupported_reason`,
    :meth:`compute` and :meth:`matrix_bytes`. Engines are stateless strategies:
    the constructor keeps the options, and what a run fitted travels in the
    :class:`EngineResult`.
    """

    #: The string ``MemorizationScorer(engine=...)`` accepts.
    name: str

    def __init__(self, *, n_jobs=None, verbose=0, aggregate="matched", cache=None):
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.aggregate = aggregate
        self.cache = cache

    @classmethod
    @abstractmethod
    def unsupported_reason(cls, estimator, X):
        """None when this engine can compute the models of ``estimator`` on the
        validated ``X``; else a short reason (printed by ``engine="auto"`` when
        verbose, raised by a named engine)."""

    @abstractmethod
    def compute(self, estimator, X, plan):
        """The :class:`EngineResult` of the models of ``plan``."""

    @abstractmethod
    def matrix_bytes(self, n_models, n_samples):
        """Bytes the log-likelihood matrix of a plan of that size will take."""


def check_engine(engine):
    """Refuse, with the reason, a class that does not meet the engine contract."""
    if not (isinstance(engine, type) and issubclass(engine, Engine)):
        raise TypeError(f"{engine!r} is not a subclass of skmem.engines._base.Engine.")
    if inspect.isabstract(engine):
        missing = ", ".join(sorted(engine.__abstractmethods__))
        raise TypeError(f"Engine {engine.__name__} does not implement {missing}.")
    if not isinstance(getattr(engine, "name", None), str):
        raise TypeError(f"Engine {engine.__name__} has no string name.")
    return engine


def estimator_checkpoints(estimator):
    """The epochs at which ``estimator`` keeps snapshots; () when it keeps none.

    Only estimators that can score with a snapshot (``score_samples_at``, as
    :class:`~skmem.TorchDensity` does), or pipelines ending in one, have
    checkpoints; invalid ones raise the estimator's own error.
    """
    steps = getattr(estimator, "steps", None)
    if steps:
        return estimator_checkpoints(steps[-1][1])
    if not callable(getattr(estimator, "score_samples_at", None)):
        return ()
    return estimator._checkpoints()


def score_samples_at(model, X, epoch):
    """``model.score_samples_at(X, epoch)``, through a fitted pipeline too."""
    if getattr(model, "steps", None):
        return model[-1].score_samples_at(model[:-1].transform(X), epoch)
    return model.score_samples_at(X, epoch)


def check_model_rows(rows, n_samples, model_index):
    """Validate a model's (n_points, n_samples) log-likelihoods, row by row."""
    return np.vstack(
        [check_log_likelihoods(row, n_samples, model_index) for row in rows]
    )


def cache_row(rows):
    """What the cache stores for a model: (n_samples,) without checkpoints."""
    return rows[0] if len(rows) == 1 else rows


def check_log_likelihoods(values, n_samples, model_index):
    """Validate one model's ``score_samples`` output; name the model if bad."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (n_samples,):
        raise ValueError(
            f"Model {model_index}: score_samples returned an array of shape "
            f"{values.shape}; expected one log-density per row, ({n_samples},)."
        )
    bad = np.isnan(values) | (values == np.inf)
    if bad.any():
        raise ValueError(
            f"Model {model_index}: score_samples returned {int(bad.sum())} NaN or "
            "+inf log-densities. The density model is degenerate on this data (for "
            "example a mixture with a singular covariance); regularise it or check "
            "its input."
        )
    return values


def dense_matrix_bytes(n_models, n_samples):
    """Bytes of a float64 (n_models, n_samples) log-likelihood matrix."""
    return 8 * n_models * n_samples
