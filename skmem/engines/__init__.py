"""Engines: (estimator, X, split plan) -> log-likelihood matrix.

``select_engine`` picks the engine for ``engine="auto"``; ``"generic"`` always
works.
"""

from .generic import GenericEngine
from .kde import KernelDensityEngine, unsupported_reason
from .vae_ensemble import VAEEnsembleEngine

__all__ = ["GenericEngine", "KernelDensityEngine", "VAEEnsembleEngine", "select_engine"]


def select_engine(estimator, engine, *, n_jobs=None, verbose=0, aggregate, cache=None):
    """Return the engine instance for ``estimator`` and the scorer's ``engine``.

    ``cache`` (a ModelCache or None) is used by the engines that fit separate
    models; the exact KDE engine fits none and has nothing worth caching.
    """
    if engine == "auto":
        from sklearn.neighbors import KernelDensity

        from ..vae import VAEDensity

        if type(estimator) is VAEDensity:
            return VAEEnsembleEngine(n_jobs=n_jobs, verbose=verbose, cache=cache)
        if isinstance(estimator, KernelDensity):
            reason = unsupported_reason(estimator)
            if reason is None:
                return KernelDensityEngine(
                    n_jobs=n_jobs, verbose=verbose, aggregate=aggregate
                )
            if verbose:
                print(
                    f"[MemorizationScorer] exact KDE engine not used ({reason}); "
                    "falling back to the generic engine",
                    flush=True,
                )
    return GenericEngine(n_jobs=n_jobs, verbose=verbose, cache=cache)
