"""skmem: which training samples did a density model memorize?

The memorization score of van den Burg & Williams (NeurIPS 2021) through the
scikit-learn API: :class:`MemorizationScorer` wraps any density estimator with
``fit`` and ``score_samples``, and :func:`memorization_scores` computes the score
from log-likelihoods you already have. PyTorch is imported only when
:class:`TorchDensity`, :class:`VAEDensity` or
:class:`DiffusionDensity` is used.
"""

__version__ = "0.1.0"

__all__ = [
    "DequantizedDensity",
    "DiffusionDensity",
    "MemorizationScorer",
    "SampledDensity",
    "TorchDensity",
    "VAEDensity",
    "__version__",
    "bits_per_dim",
    "memorization_scores",
    "memorization_sweep",
    "record_risk",
]


# Every public name is imported on first use: ``skmem --help`` then starts
# without scikit-learn, and torch is loaded only for TorchDensity or VAEDensity.
_LAZY = {
    "DequantizedDensity": "._pixels",
    "DiffusionDensity": ".diffusion",
    "MemorizationScorer": "._scorer",
    "SampledDensity": "._sampled",
    "TorchDensity": ".torch",
    "VAEDensity": ".vae",
    "bits_per_dim": "._pixels",
    "memorization_scores": "._aggregate",
    "memorization_sweep": "._sweep",
    "record_risk": "._risk",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
