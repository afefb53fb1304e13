"""skmem: which training samples did a density model memorize?

The memorization score of van den Burg & Williams (NeurIPS 2021) through the
scikit-learn API: :class:`MemorizationScorer` wraps any density estimator with
``fit`` and ``score_samples``, and :func:`memorization_scores` computes the score
from log-likelihoods you already have. PyTorch is imported only when
:class:`TorchDensity` or :class:`VAEDensity` is used.
"""

from ._aggregate import memorization_scores
from ._pixels import DequantizedDensity, bits_per_dim
from ._sampled import SampledDensity
from ._scorer import MemorizationScorer
from ._sweep import memorization_sweep

__version__ = "0.1.0"

__all__ = [
    "DequantizedDensity",
    "MemorizationScorer",
    "SampledDensity",
    "TorchDensity",
    "VAEDensity",
    "__version__",
    "bits_per_dim",
    "memorization_scores",
    "memorization_sweep",
]


def __getattr__(name):
    # These pull in torch (on first use); import them only when asked for.
    if name == "TorchDensity":
        from .torch import TorchDensity

        return TorchDensity
    if name == "VAEDensity":
        from .vae import VAEDensity

        return VAEDensity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
