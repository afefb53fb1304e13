"""Engines: (estimator, X, split plan) -> log-likelihood matrix.

``select_engine`` picks the engine for ``engine="auto"``; ``"generic"`` always
works.
"""

from .generic import GenericEngine

__all__ = ["GenericEngine", "select_engine"]


def select_engine(estimator, engine, *, n_jobs=None, verbose=0):
    """Return the engine instance for ``estimator`` and the scorer's ``engine``."""
    if engine in ("auto", "generic"):
        return GenericEngine(n_jobs=n_jobs, verbose=verbose)
    raise ValueError(f"Unknown engine {engine!r}; use 'auto' or 'generic'.")
