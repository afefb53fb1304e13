"""scikit-learn's estimator checks over every public estimator."""

import importlib.util

from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmem import MemorizationScorer, VAEDensity

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


def _expected_failed_checks(estimator):
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
