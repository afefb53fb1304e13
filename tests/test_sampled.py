"""SampledDensity: generators scored from their samples, against known truth."""

import importlib.util

import numpy as np
import pytest
from joblib import parallel_config
from scipy.special import logsumexp
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator
from sklearn.datasets import make_blobs, make_moons
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmem import MemorizationScorer, SampledDensity
from skmem._sampled import resolve_model, robust_scale


class IgnoresData(BaseEstimator):
    """A generator that ignores its training data: standard normal samples."""

    def __init__(self, n_features=2, random_state=None):
        self.n_features = n_features
        self.random_state = random_state

    def fit(self, X):
        return self

    def sample(self, n_samples, random_state=None):
        rng = np.random.RandomState(random_state)
        return rng.normal(size=(n_samples, self.n_features))


@parametrize_with_checks([SampledDensity(GaussianMixture(1), n_samples=50)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_default_density_is_the_exact_gaussian_kde_of_the_samples():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 3)) * [1.0, 3.0, 0.2]
    model = SampledDensity(GaussianMixture(2), n_samples=500, random_state=0).fit(X)
    h, samples = model.bandwidth_, model.samples_
    # Each column standardized by the training rows' median and robust spread.
    center = np.median(X, axis=0)
    q75, q25 = np.percentile(X, [75, 25], axis=0)
    scale = np.minimum(X.std(axis=0), (q75 - q25) / 1.349)
    queries = np.vstack([X[:20], rng.normal(size=(5, 3)) * 10])  # far rows too
    z_q, z_s = (queries - center) / scale, (samples - center) / scale
    d2 = ((z_q[:, None, :] - z_s[None]) ** 2).sum(-1)
    expected = (
        logsumexp(-0.5 * d2 / h**2, axis=1)
        - np.log(len(samples))
        - 1.5 * np.log(2 * np.pi * h**2)
        - np.log(scale).sum()
    )
    np.testing.assert_allclose(model.score_samples(queries), expected, rtol=1e-10)
    # The width maximises the leave-one-out likelihood of the samples over the
    # grid (brute force on 300 samples as queries, all as centres).
    scott = 500 ** (-1 / 7)
    d2_s = ((z_s[:, None, :] - z_s[None]) ** 2).sum(-1)
    np.fill_diagonal(d2_s, np.inf)
    d2_s = d2_s[np.sort(np.random.RandomState(0).permutation(500)[:300])]

    def loo(width):
        return (logsumexp(-0.5 * d2_s / width**2, axis=1) - 3 * np.log(width)).mean()

    grid = scott * 2.0 ** np.arange(-14, 3)
    assert h == pytest.approx(grid[np.argmax([loo(w) for w in grid])])
    assert model.bandwidth == "likelihood"
    # Scott's rule on request.
    scott_model = SampledDensity(
        GaussianMixture(2), n_samples=500, bandwidth="scott", random_state=0
    ).fit(X)
    assert scott_model.bandwidth_ == pytest.approx(scott)
    # The same width through scikit-learn's KernelDensity on the standardized
    # data gives the same density (within the data: its tree loses the far
    # rows' tiny densities).
    kde = KernelDensity(bandwidth=h).fit(z_s)
    np.testing.assert_allclose(
        kde.score_samples(z_q[:20]) - np.log(scale).sum(),
        model.score_samples(X[:20]),
        rtol=1e-8,
    )


def test_robust_scale_ignores_a_few_outliers():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(500, 2))
    with_outliers = np.vstack([X, np.full((5, 2), 100.0)])
    assert robust_scale(with_outliers) == pytest.approx(robust_scale(X), rel=0.03)
    assert robust_scale(np.zeros((10, 2))) == 1.0


@pytest.mark.parametrize(
    "generator",
    [GaussianMixture(2), KernelDensity(bandwidth=0.3), IgnoresData(2)],
    ids=["gmm", "kde", "adapter"],
)
def test_samples_depend_only_on_the_seed(generator):
    X = np.random.RandomState(2).normal(size=(60, 2))
    a = SampledDensity(generator, n_samples=100, random_state=3).fit(X)
    b = SampledDensity(generator, n_samples=100, random_state=3).fit(X)
    c = SampledDensity(generator, n_samples=100, random_state=4).fit(X)
    np.testing.assert_array_equal(a.samples_, b.samples_)
    assert not np.array_equal(a.samples_, c.samples_)
    assert a.sample(7, random_state=0).shape == (7, 2)


def test_scorer_results_do_not_depend_on_n_jobs():
    X = np.random.RandomState(5).normal(size=(80, 2))
    est = SampledDensity(GaussianMixture(2), n_samples=300)
    one = MemorizationScorer(est, cv=4, random_state=0, n_jobs=1).fit(X)
    # Threads: the same dispatch as processes, without their start-up time.
    with parallel_config(backend="threading"):
        two = MemorizationScorer(est, cv=4, random_state=0, n_jobs=2).fit(X)
    np.testing.assert_array_equal(one.log_likelihoods_, two.log_likelihoods_)
    # Each fold model's samples differ (its own seed).
    samples = [m.samples_ for m in one.estimators_]
    assert not np.array_equal(samples[0], samples[1])


def _moons_with_outliers():
    X, _ = make_moons(400, noise=0.08, random_state=0)
    outliers = np.array([[3, 3], [-3, 2], [2.5, -2.5], [-2.5, -2], [0.5, 3.5]])
    return np.vstack([X, outliers])


def test_memorizing_kde_generator_finds_the_planted_outliers():
    X = _moons_with_outliers()
    planted = set(range(len(X) - 5, len(X)))
    kde = KernelDensity(bandwidth=0.05)
    sampled = MemorizationScorer(SampledDensity(kde), cv=10, random_state=0).fit(X)
    likelihood = MemorizationScorer(kde, cv=10, random_state=0).fit(X)
    for scorer in (sampled, likelihood):
        assert set(np.argsort(-scorer.memorization_scores_)[:5]) == planted
    # Copies of an isolated record: its in-models put samples on it, its
    # out-models none, so the score is large.
    assert sampled.memorization_scores_[-5:].min() > 20


def test_generator_that_ignores_its_data_scores_zero():
    X = np.random.RandomState(6).normal(size=(300, 2))
    scorer = MemorizationScorer(
        SampledDensity(IgnoresData(2), n_samples=5000),
        cv=5,
        n_repeats=3,
        random_state=0,
    ).fit(X)
    scores = scorer.memorization_scores_
    assert abs(scores.mean()) <= 0.05
    assert scorer.memorized().sum() <= 3


def test_gaussian_mixture_through_its_samples_ranks_like_its_likelihood():
    X, _ = make_blobs(300, centers=3, cluster_std=[0.5, 1.0, 2.0], random_state=0)
    model = SampledDensity(GaussianMixture(3, random_state=0), random_state=0).fit(X)
    own = model.generator_.score_samples(X)
    rho = spearmanr(model.score_samples(X), own)[0]
    assert rho >= 0.8
    # Fewer samples, noisier density: the agreement drops.
    few = SampledDensity(
        GaussianMixture(3, random_state=0), n_samples=30, random_state=0
    ).fit(X)
    assert spearmanr(few.score_samples(X), own)[0] < rho


def test_sample_with_wrong_shape_is_refused():
    class Bad(IgnoresData):
        def sample(self, n_samples, random_state=None):
            return np.zeros((n_samples, 3))

    with pytest.raises(ValueError, match="rows of 3 features; the data has 2"):
        SampledDensity(Bad(), n_samples=10).fit(np.zeros((5, 2)))

    class Short(IgnoresData):
        def sample(self, n_samples, random_state=None):
            return np.zeros((1, 2))

    with pytest.raises(ValueError, match="must return n_samples rows"):
        SampledDensity(Short(), n_samples=10).fit(np.zeros((5, 2)))


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_vae_generator():
    from skmem import VAEDensity

    X = np.random.RandomState(7).normal(size=(64, 3))
    vae = VAEDensity(
        latent_dim=2,
        hidden_layer_sizes=(8,),
        likelihood="gaussian",
        max_epochs=2,
        n_importance_samples=4,
    )
    a = SampledDensity(vae, n_samples=200, random_state=0).fit(X)
    b = SampledDensity(vae, n_samples=200, random_state=0).fit(X)
    np.testing.assert_array_equal(a.samples_, b.samples_)
    assert np.isfinite(a.score_samples(X)).all()


def test_resolve_model():
    gmm = resolve_model(
        "sklearn.mixture:GaussianMixture", ["n_components=3", "covariance_type=diag"]
    )
    assert isinstance(gmm, GaussianMixture)
    assert (gmm.n_components, gmm.covariance_type) == (3, "diag")
    # A generator without score_samples is wrapped; --sampled forces it.
    adapter = resolve_model("tests.test_sampled:IgnoresData", {"n_features": 3})
    assert isinstance(adapter, SampledDensity)
    assert adapter.generator.n_features == 3
    forced = resolve_model("sklearn.mixture:GaussianMixture", sampled=True)
    assert isinstance(forced, SampledDensity)
    with pytest.raises(ValueError, match="package.module:Class"):
        resolve_model("sklearn.mixture.GaussianMixture")
    with pytest.raises(ValueError, match="cannot import"):
        resolve_model("no_such_package_xyz:Model")
    with pytest.raises(ValueError, match="has no 'Nope'"):
        resolve_model("sklearn.mixture:Nope")
    with pytest.raises(ValueError, match="key=value"):
        resolve_model("sklearn.mixture:GaussianMixture", ["n_components"])
    with pytest.raises(ValueError, match="unexpected keyword"):
        resolve_model("sklearn.mixture:GaussianMixture", ["epochs=3"])
    with pytest.raises(ValueError, match="cannot be scored"):
        resolve_model("sklearn.preprocessing:StandardScaler")


def test_data_copying_per_fold_model():
    from skmem._sampled import draw_samples
    from skmem._splits import MAX_SEED
    from skmem.baselines import closest_record_distances

    X = np.random.RandomState(8).normal(size=(400, 2))
    copier = MemorizationScorer(KernelDensity(bandwidth=0.005), cv=2, random_state=0)
    copier.fit(X)  # the exact KDE engine: models refitted from their seeds
    result = copier.data_copying(n_generated=400)
    assert result.statistics.shape == (2,) and (result.statistics < -5).all()
    assert result.statistic == pytest.approx(result.statistics.mean())
    # With two folds each record has one in-model: its figures are that model's.
    k = 1
    model = KernelDensity(bandwidth=0.005).fit(X[copier.train_masks_[k]])
    seed = np.random.RandomState(copier.seeds_[k]).randint(MAX_SEED)
    generated = draw_samples(model, 400, seed)
    train, test = copier.train_masks_[k], copier.test_masks_[k]
    expected = closest_record_distances(X[train], generated, X[test])
    np.testing.assert_array_equal(result.n_closer[train], expected.n_closer)
    np.testing.assert_allclose(
        result.distance_to_generated[train], expected.distance_to_generated
    )
    np.testing.assert_array_equal(
        result.closest_generated[train], generated[expected.nearest_generated]
    )
    np.testing.assert_allclose(
        result.closest_distance[train], expected.distance_to_generated
    )
    # A generator that ignores its data copies nothing.
    ignorer = MemorizationScorer(
        SampledDensity(IgnoresData(2), n_samples=500), cv=2, random_state=0
    ).fit(X)
    fresh = ignorer.data_copying(n_generated=400)
    assert (np.abs(fresh.statistics) < 3).all()
    assert fresh.n_closer.mean() < result.n_closer.mean()
    with pytest.raises(ValueError, match="has no sample method"):
        pipe = make_pipeline(StandardScaler(), GaussianMixture(1))
        MemorizationScorer(pipe, cv=2).fit(X).data_copying()


def test_command_line_scores_a_generator_given_as_an_import_path(
    tmp_path, monkeypatch, capsys
):
    import json

    from skmem import cli

    monkeypatch.chdir(tmp_path)
    np.save("d.npy", np.random.RandomState(9).normal(size=(60, 2)))
    base = ["score", "d.npy", "--cv", "3", "--repeats", "1", "--n-jobs", "1"]
    spec = "tests.test_sampled:IgnoresData"
    assert cli.main([*base, "--model", spec, "--param", "n_features=2"]) == 0
    settings = json.loads((tmp_path / "scores.json").read_text())
    assert "SampledDensity" in json.dumps(settings)
    # --sampled wraps a model that has a likelihood of its own too.
    gmm = "sklearn.mixture:GaussianMixture"
    assert cli.main([*base, "--model", gmm, "--sampled", "--out", "g.csv"]) == 0
    assert "SampledDensity" in (tmp_path / "g.json").read_text()
    capsys.readouterr()
    assert cli.main([*base, "--model", "nope"]) == 2
    assert "import path package.module:Class" in capsys.readouterr().err
    assert cli.main([*base, "--model", gmm, "--param", "epochs=3"]) == 2
    assert "unexpected keyword" in capsys.readouterr().err


def test_fold_models_share_one_bandwidth_from_all_the_data():
    from skmem._sampled import pilot_seed, with_fixed_bandwidth
    from skmem._splits import make_split_plan, resolve_cv

    X = _moons_with_outliers()
    est = SampledDensity(GaussianMixture(4), n_samples=400)
    auto = MemorizationScorer(est, cv=5, random_state=0).fit(X)
    assert auto.engine_ == "sampled"
    bandwidths = {m.bandwidth_ for m in auto.estimators_}
    assert len(bandwidths) == 1
    # Fold by fold, the likelihood choice would give models their own widths.
    generic = MemorizationScorer(est, cv=5, random_state=0, engine="generic").fit(X)
    assert len({m.bandwidth_ for m in generic.estimators_}) > 1
    # Same seeds, same generators and samples: only the bandwidth differs.
    np.testing.assert_array_equal(
        auto.estimators_[0].samples_, generic.estimators_[0].samples_
    )
    # The engine is the generic one with the widths of a pilot fixed, on the
    # same seeds; the pilot is a model trained on all the rows.
    rng = np.random.RandomState(0)
    splitter = resolve_cv(5, 1, len(X), rng)
    plan = make_split_plan(splitter, len(X), X=X, random_state=rng)
    np.testing.assert_array_equal(plan.seeds, auto.seeds_)
    fixed = with_fixed_bandwidth(est, X, random_state=pilot_seed(plan))
    pilot = SampledDensity(GaussianMixture(4), n_samples=400)
    pilot.set_params(random_state=pilot_seed(plan)).fit(X)
    assert bandwidths == {pilot.bandwidth_} == {fixed.density.bandwidth}
    plain = MemorizationScorer(fixed, cv=5, random_state=0, engine="generic").fit(X)
    np.testing.assert_array_equal(auto.log_likelihoods_, plain.log_likelihoods_)
    # A density of the user's own is left alone.
    own = SampledDensity(GaussianMixture(2), density=KernelDensity(bandwidth=0.3))
    scorer = MemorizationScorer(own, cv=3, random_state=0).fit(X[:60])
    assert scorer.engine_ == "generic"
    assert {m.bandwidth_ for m in scorer.estimators_} == {0.3}


class FixedGrid(BaseEstimator):
    """A generator that always returns the same points, whatever it trained on."""

    def __init__(self, n_features=2):
        self.n_features = n_features

    def fit(self, X):
        return self

    def sample(self, n_samples, random_state=None):
        side = int(np.ceil(n_samples ** (1 / self.n_features)))
        axes = [np.linspace(-3, 3, side)] * self.n_features
        grid = np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, self.n_features)
        return grid[:n_samples]


def test_data_copying_averages_each_record_over_its_in_models():
    # Every fold model draws the same 400 grid points, so a record's distance
    # to its closest sample is that of the grid, in each of its 4 in-models at
    # cv=5, and its closer-sample count is the mean over those 4 models of
    # the grid points closer than the record's nearest held-out row.
    X = np.random.RandomState(3).normal(size=(150, 2))
    scorer = MemorizationScorer(
        SampledDensity(FixedGrid(), n_samples=400), cv=5, random_state=0
    ).fit(X)
    result = scorer.data_copying(n_generated=400)
    grid = FixedGrid().sample(400)
    d_grid = np.sqrt(((X[:, None] - grid[None]) ** 2).sum(-1))
    np.testing.assert_allclose(result.distance_to_generated, d_grid.min(1))
    np.testing.assert_allclose(result.closest_distance, d_grid.min(1))
    np.testing.assert_array_equal(result.closest_generated, grid[d_grid.argmin(1)])
    counts = np.full(scorer.train_masks_.shape, np.nan)  # per model, per record
    for k, (train, test) in enumerate(
        zip(scorer.train_masks_, scorer.test_masks_, strict=True)
    ):
        d_held = np.sqrt(((X[:, None] - X[test][None]) ** 2).sum(-1)).min(1)
        counts[k] = np.where(train, (d_grid < d_held[:, None]).sum(1), np.nan)
    assert (scorer.train_masks_.sum(0) == 4).all()
    np.testing.assert_allclose(result.n_closer, np.nanmean(counts, axis=0))
    assert result.n_closer.max() > 1  # the counts are not all 0 or 1
