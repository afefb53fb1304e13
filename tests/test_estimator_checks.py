"""scikit-learn's estimator checks over every public estimator."""

from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmem import MemorizationScorer

ESTIMATORS = [
    MemorizationScorer(KernelDensity(bandwidth=0.5), cv=3),
    MemorizationScorer(GaussianMixture(n_components=1, max_iter=20), cv=3),
]


def _expected_failed_checks(estimator):
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
