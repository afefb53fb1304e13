"""Engines: (estimator, X, split plan) -> log-likelihood matrix.

The engine contract
-------------------
An engine is one file in this package holding one subclass of
:class:`~skmem.engines._base.Engine` (which the registry checks) with:

- ``name``: the string ``MemorizationScorer(engine=...)`` accepts;
- ``unsupported_reason(estimator, X)`` (a classmethod): None when the engine
  can compute the models of ``estimator`` on the validated data ``X``, else a
  short reason, which ``engine="auto"`` prints when verbose and a named engine
  raises as an error;
- one constructor shape, ``Engine(*, n_jobs=None, verbose=0,
  aggregate="matched", cache=None)`` (an engine ignores what it does not
  use);
- ``compute(estimator, X, plan)`` returning an
  :class:`~skmem.engines._base.EngineResult`, whose log-likelihoods must agree
  with the generic engine's (exactly where the model is deterministic);
- ``matrix_bytes(n_models, n_samples)``.

Engines are stateless strategies: what a run fitted travels in the
``EngineResult`` (its ``estimators`` and its ``ensemble``, the fold-ensemble
density of new rows), and the scorer keeps it.

Adding an engine is one file and one line in :data:`ENGINES`. ``"auto"`` tries
the fast engines in the registry's order and takes the first that applies;
``"generic"`` always applies.
"""

from ._base import Engine, check_engine
from .generic import GenericEngine
from .kde import KernelDensityEngine
from .sampled import SampledDensityEngine
from .torch_ensemble import TorchEnsembleEngine

__all__ = [
    "ENGINES",
    "Engine",
    "GenericEngine",
    "KernelDensityEngine",
    "SampledDensityEngine",
    "TorchEnsembleEngine",
    "select_engine",
]

#: Every engine by name; the fast ones in the order ``engine="auto"`` tries them.
ENGINES = {
    check_engine(engine).name: engine
    for engine in (
        KernelDensityEngine,
        TorchEnsembleEngine,
        SampledDensityEngine,
        GenericEngine,
    )
}


def select_engine(
    estimator, engine, X, *, n_jobs=None, verbose=0, aggregate, cache=None
):
    """Return the engine instance for ``estimator``, the scorer's ``engine`` and X.

    ``cache`` (a ModelCache, a MemoryModelCache or None) is used by the engines
    that fit separate models; the exact KDE engine fits none and has nothing
    worth caching.
    """
    options = dict(n_jobs=n_jobs, verbose=verbose, aggregate=aggregate, cache=cache)
    if engine != "auto":
        reason = ENGINES[engine].unsupported_reason(estimator, X)
        if reason is not None:
            raise ValueError(
                f"engine={engine!r} does not apply to this estimator: {reason}. "
                "Use engine='auto' to pick the fastest engine that applies, or "
                "engine='generic', which works for any estimator."
            )
        return ENGINES[engine](**options)
    for name, candidate in ENGINES.items():
        reason = candidate.unsupported_reason(estimator, X)
        if reason is None:
            return candidate(**options)
        if verbose and name != "generic":
            print(
                f"[MemorizationScorer] {name} engine not used: {reason}",
                flush=True,
            )
    raise AssertionError("the generic engine always applies")  # pragma: no cover
