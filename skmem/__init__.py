"""skmem: which training samples did a density model memorize?

The memorization score of van den Burg & Williams (NeurIPS 2021) through the
scikit-learn API: :class:`MemorizationScorer` wraps any density estimator with
``fit`` and ``score_samples``, and :func:`memorization_scores` computes the score
from log-likelihoods you already have. PyTorch is imported only when
:class:`TorchDensity` or :class:`VAEDensity` is used.
"""

__version__ = "0.1.0"

__all__ = [
    "DequantizedDensity",
    "MemorizationScorer",
    "TorchDensity",
    "VAEDensity",
    "__version__",
    "bits_per_dim",
    "memorization_scores",
]


# Every public name is imported on first use: ``skmem --help`` then starts
# without scikit-learn, and torch is loaded only for TorchDensity or VAEDensity.
_LAZY = {
    "DequantizedDensity": "._pixels",
    "MemorizationScorer": "._scorer",
    "bits_per_dim": "._pixels",
    "memorization_scores": "._aggregate",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    if name == "TorchDensity":
        from .torch import TorchDensity

        return TorchDensity
    if name == "VAEDensity":
        from .vae import VAEDensity

        return VAEDensity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
