"""MemorizationScorer against hand-written loops, closed forms and planted cases."""

import pickle

import numpy as np
import pytest
from joblib import parallel_backend
from scipy import sparse
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    LeaveOneOut,
    RepeatedKFold,
    ShuffleSplit,
)
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmem import MemorizationScorer, memorization_scores
from skmem._result import build_result
from skmem._splits import make_split_plan
from skmem.engines._base import EngineResult
from skmem.engines.generic import failed_model


def _uniform(n_samples):
    return np.random.RandomState(0).uniform(size=(n_samples, 2))


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    return np.vstack([rng.normal(0, 1, (40, 3)), rng.normal(4, 1, (40, 3))])


def _hand_written(estimator, X, cv, seeds=None):
    """The loop a user writes without skmem: KFold / clone / fit / score_samples."""
    n_samples = len(X)
    ins = [[] for _ in range(n_samples)]
    outs = [[] for _ in range(n_samples)]
    for k, (train, test) in enumerate(cv.split(X)):
        model = clone(estimator)
        if seeds is not None:
            model.set_params(random_state=seeds[k])
        log_density = model.fit(X[train]).score_samples(X)
        for i in train:
            ins[i].append(log_density[i])
        for i in test:
            outs[i].append(log_density[i])
    in_ll = np.array([logsumexp(v) - np.log(len(v)) for v in ins])
    out_ll = np.array([logsumexp(v) - np.log(len(v)) for v in outs])
    return in_ll - out_ll


@pytest.mark.parametrize(
    "cv",
    [
        KFold(5, shuffle=True, random_state=0),
        RepeatedKFold(n_splits=4, n_repeats=2, random_state=3),
    ],
    ids=["kfold", "repeated"],
)
@pytest.mark.parametrize(
    "estimator",
    [KernelDensity(bandwidth=0.7), GaussianMixture(2, random_state=None)],
    ids=["kde", "gmm"],
)
def test_matches_hand_written_loop(blobs, estimator, cv):
    # The paper's estimator, as its released code computes it.
    scorer = MemorizationScorer(
        estimator, cv=cv, aggregate="logmeanexp", engine="generic", random_state=0
    )
    scorer.fit(blobs)
    seeds = scorer.seeds_ if isinstance(estimator, GaussianMixture) else None
    expected = _hand_written(estimator, blobs, cv, seeds)
    # Not bit-exact: a GaussianMixture's EM sums in BLAS, whose rounding varies
    # with the threads it gets (1.3e-11 relative seen under load).
    np.testing.assert_allclose(scorer.memorization_scores_, expected, rtol=1e-9)
    assert scorer.log_likelihoods_.shape == (cv.get_n_splits(), len(blobs))
    assert len(scorer.estimators_) == cv.get_n_splits()
    assert scorer.engine_ == "generic"


@pytest.mark.parametrize("engine", ["generic", "auto"])
def test_leave_one_out_matches_closed_form(engine):
    # M_i = log((n - 2) / (n - 1) + phi_h(0) / S_i) for a Gaussian KDE.
    rng = np.random.RandomState(1)
    n, d, h = 12, 2, 0.8
    X = rng.normal(size=(n, d))
    scorer = MemorizationScorer(
        KernelDensity(bandwidth=h), cv=LeaveOneOut(), aggregate="logmeanexp"
    )
    scorer.set_params(engine=engine).fit(X)

    sq_dist = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    kernel = (2 * np.pi * h**2) ** (-d / 2) * np.exp(-sq_dist / (2 * h**2))
    phi0 = (2 * np.pi * h**2) ** (-d / 2)
    S = kernel.sum(1) - phi0
    expected = np.log((n - 2) / (n - 1) + phi0 / S)
    np.testing.assert_allclose(scorer.memorization_scores_, expected, rtol=1e-10)


@pytest.mark.parametrize("engine", ["generic", "auto"])
def test_planted_outliers_score_highest_and_duplicates_low(engine):
    rng = np.random.RandomState(0)
    inliers = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(6, 1, (50, 2))])
    outliers = np.array([[20.0, -20.0], [-20.0, 20.0], [30.0, 30.0]])
    pairs = np.array([[-30.0, -30.0], [40.0, -5.0], [-10.0, 40.0]])
    X = np.vstack([inliers, outliers, pairs, pairs])
    scorer = MemorizationScorer(
        KernelDensity(bandwidth=0.3), cv=LeaveOneOut(), engine=engine
    )
    scores = scorer.fit(X).memorization_scores_
    outlier_idx = np.arange(100, 103)
    pair_idx = np.arange(103, 109)
    assert set(np.argsort(scores)[-3:]) == set(outlier_idx)
    # An isolated point gets a huge score; an isolated duplicate is explained by
    # its copy, so its score is at most log(2).
    assert scores[outlier_idx].min() > 100
    assert scores[pair_idx].max() < np.log(2) + 1e-9


def test_n_jobs_and_backend_do_not_change_results(blobs):
    est = GaussianMixture(3, covariance_type="full", n_init=1)
    kwargs = dict(cv=5, random_state=7)
    ref = MemorizationScorer(est, n_jobs=1, **kwargs).fit(blobs)
    two = MemorizationScorer(est, n_jobs=2, **kwargs).fit(blobs)
    with parallel_backend("threading", n_jobs=2):
        threads = MemorizationScorer(est, **kwargs).fit(blobs)
    for other in (two, threads):
        np.testing.assert_array_equal(other.log_likelihoods_, ref.log_likelihoods_)
        np.testing.assert_array_equal(
            other.memorization_scores_, ref.memorization_scores_
        )


def test_random_state_reproducible_and_changes_folds(blobs):
    est = GaussianMixture(2)
    a = MemorizationScorer(est, cv=4, random_state=11).fit(blobs)
    b = MemorizationScorer(est, cv=4, random_state=11).fit(blobs)
    c = MemorizationScorer(est, cv=4, random_state=12).fit(blobs)
    np.testing.assert_array_equal(a.memorization_scores_, b.memorization_scores_)
    np.testing.assert_array_equal(a.train_masks_, b.train_masks_)
    assert not np.array_equal(a.train_masks_, c.train_masks_)
    assert not np.array_equal(a.seeds_, c.seeds_)


def test_masks_and_repeats(blobs):
    scorer = MemorizationScorer(KernelDensity(), cv=4, n_repeats=3, random_state=0)
    scorer.fit(blobs)
    assert scorer.train_masks_.shape == (12, len(blobs))
    np.testing.assert_array_equal(scorer.train_masks_, ~scorer.test_masks_)
    # Every sample is held out exactly once per repeat.
    np.testing.assert_array_equal(scorer.test_masks_.sum(0), 3)
    assert len(set(scorer.seeds_)) == 12


def test_group_splitter_uses_groups(blobs):
    groups = np.arange(len(blobs)) % 4
    scorer = MemorizationScorer(KernelDensity(), cv=GroupKFold(4))
    scorer.fit(blobs, groups=groups)
    for test_mask in scorer.test_masks_:
        assert len(set(groups[test_mask])) == 1


def test_shuffle_split_warns_about_samples_never_held_out(blobs):
    scorer = MemorizationScorer(
        KernelDensity(), cv=ShuffleSplit(2, test_size=0.1, random_state=0)
    )
    with pytest.warns(UserWarning, match=r"\d+ of 80 samples"):
        scorer.fit(blobs)
    never_out = ~scorer.test_masks_.any(0)
    assert never_out.any()
    np.testing.assert_array_equal(np.isnan(scorer.memorization_scores_), never_out)


def test_aggregate_mean(blobs):
    cv = KFold(4, shuffle=True, random_state=0)
    scorer = MemorizationScorer(KernelDensity(), cv=cv, aggregate="mean").fit(blobs)
    ll, train = scorer.log_likelihoods_, scorer.train_masks_
    expected = (ll * train).sum(0) / train.sum(0) - (ll * ~train).sum(0)
    np.testing.assert_allclose(scorer.memorization_scores_, expected, rtol=1e-12)


def test_score_samples_matches_rows(blobs):
    scorer = MemorizationScorer(KernelDensity(), cv=4, random_state=0).fit(blobs)
    order = np.random.RandomState(0).permutation(len(blobs))
    np.testing.assert_array_equal(
        scorer.score_samples(blobs[order]), scorer.memorization_scores_[order]
    )
    new = blobs[:5] + 100.0
    with pytest.warns(UserWarning, match="5 of 7 rows were not in the training"):
        got = scorer.score_samples(np.vstack([new, blobs[[3, 9]]]))
    np.testing.assert_array_equal(got[:5], 0.0)
    np.testing.assert_array_equal(got[5:], scorer.memorization_scores_[[3, 9]])


def test_score_samples_duplicates_share_the_mean_score(blobs):
    X = np.vstack([blobs, blobs[[0, 0]]])
    scorer = MemorizationScorer(KernelDensity(), cv=5, random_state=1).fit(X)
    M = scorer.memorization_scores_
    expected = M[[0, 80, 81]].mean()
    np.testing.assert_allclose(scorer.score_samples(blobs[[0]]), [expected])


def test_score_is_held_out_log_likelihood(blobs):
    scorer = MemorizationScorer(GaussianMixture(2), cv=4, random_state=0).fit(blobs)
    np.testing.assert_allclose(
        scorer.score(blobs), scorer.out_log_likelihood_.mean(), rtol=1e-12
    )
    new = np.random.RandomState(5).normal(2, 2, size=(7, 3))
    per_model = np.array([m.score_samples(new) for m in scorer.estimators_])
    expected = (logsumexp(per_model, axis=0) - np.log(len(per_model))).mean()
    np.testing.assert_allclose(scorer.score(new), expected, rtol=1e-12)


def test_score_prefers_bandwidth_that_generalises():
    # A tiny bandwidth memorizes; held-out likelihood must not reward it.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 2))
    tiny = MemorizationScorer(KernelDensity(bandwidth=0.01), cv=5, random_state=0)
    good = MemorizationScorer(KernelDensity(bandwidth=0.4), cv=5, random_state=0)
    assert good.fit(X).score(X) > tiny.fit(X).score(X)
    assert tiny.memorization_scores_.mean() > good.memorization_scores_.mean() + 10


def test_inside_pipeline_and_as_pipeline_estimator(blobs):
    X = blobs * [1.0, 100.0, 0.01]
    pipe = make_pipeline(
        StandardScaler(), MemorizationScorer(KernelDensity(), cv=4, random_state=0)
    )
    pipe.fit(X)
    np.testing.assert_allclose(
        pipe.score_samples(X), pipe[-1].memorization_scores_, rtol=1e-12
    )

    inner = make_pipeline(StandardScaler(), PCA(2), GaussianMixture(2))
    scorer = MemorizationScorer(inner, cv=4, random_state=0).fit(X)
    for model, seed in zip(scorer.estimators_, scorer.seeds_, strict=True):
        assert model[-1].random_state == seed
        assert model[1].random_state == seed
    # Preprocessing is refitted per fold: the scalers differ.
    means = [m[0].mean_ for m in scorer.estimators_]
    assert not np.allclose(means[0], means[1])


def test_grid_search_default_score_and_custom_scoring(blobs):
    scorer = MemorizationScorer(KernelDensity(), cv=3, random_state=0)
    grid = {"estimator__bandwidth": [0.05, 0.5, 1.0]}
    search = GridSearchCV(scorer, grid, cv=3).fit(blobs)
    assert search.best_params_["estimator__bandwidth"] != 0.05

    def least_memorization(estimator, X, y=None):
        return -np.nanmean(estimator.memorization_scores_)

    search = GridSearchCV(scorer, grid, cv=3, scoring=least_memorization)
    search.fit(blobs)
    assert search.best_params_["estimator__bandwidth"] == 1.0

    gmm = MemorizationScorer(GaussianMixture(), cv=3, random_state=0)
    search = GridSearchCV(gmm, {"estimator__n_components": [1, 2]}, cv=3)
    assert search.fit(blobs).best_params_["estimator__n_components"] == 2


def test_default_estimator_is_scott_kde(blobs):
    scorer = MemorizationScorer(cv=3, engine="generic", random_state=0).fit(blobs)
    assert scorer.estimators_[0].bandwidth == "scott"
    n_train = scorer.train_masks_[0].sum()
    assert scorer.estimators_[0].bandwidth_ == n_train ** (-1 / (3 + 4))


def test_pickle_round_trip(blobs):
    scorer = MemorizationScorer(GaussianMixture(2), cv=3, random_state=0).fit(blobs)
    loaded = pickle.loads(pickle.dumps(scorer))
    np.testing.assert_array_equal(
        loaded.score_samples(blobs), scorer.score_samples(blobs)
    )
    assert loaded.score(blobs + 1) == scorer.score(blobs + 1)


def test_float32_and_integer_input(blobs):
    X32 = blobs.astype(np.float32)
    scorer = MemorizationScorer(KernelDensity(), cv=3, random_state=0).fit(X32)
    assert scorer.memorization_scores_.shape == (80,)
    np.testing.assert_array_equal(
        scorer.score_samples(X32), scorer.memorization_scores_
    )
    Xint = np.round(blobs * 1000).astype(np.int64)
    scorer = MemorizationScorer(KernelDensity(), cv=3, random_state=0).fit(Xint)
    np.testing.assert_array_equal(
        scorer.score_samples(Xint), scorer.memorization_scores_
    )


def test_feature_names_in(blobs):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(blobs, columns=["a", "b", "c"])
    scorer = MemorizationScorer(KernelDensity(), cv=3).fit(df)
    assert list(scorer.feature_names_in_) == ["a", "b", "c"]
    assert scorer.n_features_in_ == 3


def test_verbose_reports_progress(blobs, capsys):
    MemorizationScorer(KernelDensity(), cv=3, engine="generic", verbose=1).fit(blobs)
    out, err = capsys.readouterr()
    assert "fitting 3 models" in out
    # A bar of the models fitted (on stderr); a line per model from verbose=2.
    assert "models fitted" in err and "3/3" in err
    assert "fitted and scored" not in out
    MemorizationScorer(KernelDensity(), cv=3, engine="generic", verbose=2).fit(blobs)
    assert "model 3 of the plan's 3 fitted and scored" in capsys.readouterr().out


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), "infinity"),
        (np.arange(5.0), "2D array"),
        (np.empty((0, 3)), "0 sample"),
        (np.ones((4, 2)) * (1 + 1j), "Complex"),
        (sparse.csr_matrix(np.eye(5)), "dense data is required"),
    ],
    ids=["nan", "inf", "1d", "empty", "complex", "sparse"],
)
def test_bad_X(X, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MemorizationScorer(cv=2).fit(X)


def test_cv_larger_than_n_samples():
    with pytest.raises(ValueError, match="n_samples=4.*cv <= 4"):
        MemorizationScorer(cv=5).fit(_uniform(4))


@pytest.mark.parametrize("params", [{"cv": 1}, {"n_repeats": 0}, {"aggregate": "x"}])
def test_impossible_parameters(params):
    with pytest.raises(ValueError):
        MemorizationScorer(**params).fit(_uniform(10))


def test_n_repeats_with_splitter_object():
    with pytest.raises(ValueError, match="RepeatedKFold"):
        MemorizationScorer(cv=KFold(3), n_repeats=2).fit(_uniform(10))


class _NoScore(BaseEstimator):
    def fit(self, X, y=None):
        return self


class _NaNDensity(BaseEstimator):
    def fit(self, X, y=None):
        return self

    def score_samples(self, X):
        return np.full(len(X), np.nan)


class _Fails(BaseEstimator):
    def fit(self, X, y=None):
        if len(X) < 8:
            raise ArithmeticError("too few samples")
        return self

    def score_samples(self, X):
        return np.zeros(len(X))


def test_estimator_without_score_samples_names_the_method():
    with pytest.raises(TypeError, match="no score_samples method"):
        MemorizationScorer(_NoScore(), cv=2).fit(_uniform(10))
    with pytest.raises(TypeError, match="no fit or score_samples"):
        MemorizationScorer(object(), cv=2).fit(_uniform(10))


def test_failing_fit_names_model_and_training_size():
    X = _uniform(10)
    cv = ShuffleSplit(3, train_size=7, random_state=0)
    with pytest.raises(ArithmeticError) as info:
        MemorizationScorer(_Fails(), cv=cv).fit(X)
    assert failed_model(info.value) == (0, 7)
    assert "model 0 of the split plan failed to fit on its 7" in str(
        info.value.__notes__
    )


def test_nan_log_likelihoods_name_the_model():
    with pytest.raises(ValueError, match="Model 0: score_samples returned 10 NaN"):
        MemorizationScorer(_NaNDensity(), cv=2).fit(_uniform(10))


def test_score_samples_checks_features(blobs):
    scorer = MemorizationScorer(KernelDensity(), cv=3).fit(blobs)
    with pytest.raises(ValueError, match="features"):
        scorer.score_samples(blobs[:, :2])


def test_result_stage_is_pure_and_the_scorer_copies_it(blobs):
    """build_result reads its inputs only, gives the same result twice, and the
    scorer's fitted attributes are its fields."""

    scorer = MemorizationScorer(
        KernelDensity(bandwidth=0.7), cv=4, n_repeats=3, random_state=0
    ).fit(blobs)
    result = scorer._result
    for name in result.fitted_attributes():
        if name != "estimators":
            assert getattr(scorer, f"{name}_") is getattr(result, name)
    assert scorer._inference is result.inference

    cv = RepeatedKFold(n_splits=4, n_repeats=3, random_state=1)
    plan = make_split_plan(cv, len(blobs), X=blobs, random_state=0)
    log_likelihoods = np.random.RandomState(0).normal(size=plan.train_masks.shape)
    engine_result = EngineResult(log_likelihoods.copy())
    train_masks = plan.train_masks.copy()
    kwargs = dict(aggregate="matched", early_stopping=False, verbose=False)
    first = build_result(engine_result, plan, **kwargs)
    second = build_result(engine_result, plan, **kwargs)
    np.testing.assert_array_equal(engine_result.log_likelihoods, log_likelihoods)
    np.testing.assert_array_equal(plan.train_masks, train_masks)
    for name in ("memorization_scores", "memorization_std", "memorization_pvalues"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert first.n_repeats == 3 and first.notes == ()
    # Planted: the scores are the matched aggregate of the matrix given.
    np.testing.assert_allclose(
        first.memorization_scores,
        memorization_scores(log_likelihoods, plan.train_masks, plan.test_masks),
    )


def test_verbose_says_why_error_bars_are_missing(blobs, capsys):
    MemorizationScorer(
        KernelDensity(bandwidth=0.7), cv=4, n_repeats=1, verbose=1, random_state=0
    ).fit(blobs)
    out = capsys.readouterr().out
    assert (
        "[MemorizationScorer] memorization_std_, reliability_, memorization_ci_ "
        "and memorization_pvalues_ are NaN: one repeat ran;" in out
    )
