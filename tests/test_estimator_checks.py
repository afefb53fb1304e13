"""scikit-learn's estimator checks over every public estimator."""

import importlib.util

from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmem import MemorizationScorer, TorchDensity, VAEDensity

ESTIMATORS = [
    MemorizationScorer(KernelDensity(bandwidth=0.5), cv=3),
    MemorizationScorer(KernelDensity(bandwidth=0.5), cv=3, engine="generic"),
    MemorizationScorer(GaussianMixture(n_components=1, max_iter=20), cv=3),
]
if importlib.util.find_spec("torch") is not None:
    # The checks feed standard-normal data: the Gaussian decoder takes it.
    tiny_vae = VAEDensity(
        latent_dim=2,
        hidden_layer_sizes=(8,),
        likelihood="gaussian",
        max_epochs=2,
        batch_size=16,
        n_importance_samples=8,
    )
    ESTIMATORS += [tiny_vae, MemorizationScorer(tiny_vae, cv=3)]

    import torch

    class DiagonalGaussian(torch.nn.Module):
        """The smallest TorchDensity module: a learned mean and scale."""

        def __init__(self, n_features):
            super().__init__()
            self.mean = torch.nn.Parameter(torch.zeros(n_features))
            self.log_std = torch.nn.Parameter(torch.zeros(n_features))

        def log_likelihood(self, x):
            z = (x - self.mean) / self.log_std.exp()
            return (-0.5 * z**2 - self.log_std - 0.9189385).sum(-1)

        def loss(self, x):
            return -self.log_likelihood(x)

    tiny_torch = TorchDensity(DiagonalGaussian, max_epochs=2, batch_size=16)
    ESTIMATORS += [tiny_torch, MemorizationScorer(tiny_torch, cv=3)]


def _expected_failed_checks(estimator):
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
