"""Bring your own PyTorch density model (torch is imported on first use)."""

from ._estimator import TorchDensity

__all__ = ["TorchDensity"]
