"""The package's variational autoencoder (PyTorch, imported on first use)."""

from ._estimator import VAEDensity

__all__ = ["VAEDensity"]
