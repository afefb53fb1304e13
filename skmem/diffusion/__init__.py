"""Diffusion models as density estimators (PyTorch, imported on first use)."""

from ._estimator import DiffusionDensity

__all__ = ["DiffusionDensity"]
