"""The engine contract: stateless engines, the fitted state in the scorer."""

import pickle

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer
from skmem._splits import make_split_plan, resolve_cv
from skmem.engines import ENGINES, Engine
from skmem.engines._base import check_engine


def _estimators():
    yield "generic", GaussianMixture(2, random_state=0)
    yield "kde", KernelDensity(bandwidth=0.5)
    torch = pytest.importorskip("torch")
    del torch
    from skmem import VAEDensity

    yield (
        "torch",
        VAEDensity(
            latent_dim=2, hidden_layer_sizes=(8,), max_epochs=1, n_importance_samples=4
        ),
    )


@pytest.mark.parametrize("name", ["generic", "kde", "torch"])
def test_engines_keep_no_fitted_state(name):
    estimator = dict(_estimators())[name]
    X = np.random.RandomState(0).uniform(size=(30, 3))
    rng = np.random.RandomState(0)
    plan = make_split_plan(resolve_cv(3, 1, 30, rng), 30, X=X, random_state=rng)
    engine = ENGINES[name](n_jobs=1)
    before = dict(vars(engine))
    result = engine.compute(estimator, X, plan)
    assert vars(engine) == before
    assert result.log_likelihoods.shape == (3, 30)
    # The ensemble density of new rows travels with the result, and pickles.
    new = np.random.RandomState(1).uniform(size=(5, 3))
    ensemble = pickle.loads(pickle.dumps(result.ensemble))
    np.testing.assert_allclose(ensemble(new), result.ensemble(new))


def test_a_pickled_scorer_scores_new_rows():
    X = np.random.RandomState(0).normal(size=(40, 2))
    new = np.random.RandomState(1).normal(size=(6, 2))
    for estimator in (KernelDensity(bandwidth=0.5), GaussianMixture(2)):
        scorer = MemorizationScorer(estimator, cv=4, random_state=0).fit(X)
        copy = pickle.loads(pickle.dumps(scorer))
        assert copy.score(new) == scorer.score(new)


def test_the_registry_holds_engines_that_meet_the_contract():
    for name, engine in ENGINES.items():
        assert issubclass(engine, Engine) and engine.name == name
        assert check_engine(engine) is engine

    class Duck:  # the old prose contract, without the base class
        name = "duck"
        unsupported_reason = classmethod(lambda cls, estimator, X: None)

    with pytest.raises(TypeError, match="not a subclass"):
        check_engine(Duck)

    class Partial(Engine):
        name = "partial"

        @classmethod
        def unsupported_reason(cls, estimator, X):
            return None

        def matrix_bytes(self, n_models, n_samples):
            return 0

    with pytest.raises(TypeError, match="Partial does not implement compute"):
        check_engine(Partial)

    class Complete(Partial):
        def compute(self, estimator, X, plan):
            return None

    with pytest.raises(TypeError, match="no string name"):
        check_engine(type("Nameless", (Complete,), {"name": None}))
    assert check_engine(Complete) is Complete
