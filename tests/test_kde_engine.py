"""The exact KernelDensity engine against brute force and the generic engine."""

from contextlib import nullcontext

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn import config_context
from sklearn.model_selection import KFold, LeaveOneOut, RepeatedKFold, ShuffleSplit
from sklearn.neighbors import KernelDensity
from sklearn.neighbors._kd_tree import kernel_norm

from skmem import MemorizationScorer, memorization_scores
from skmem._aggregate import CLOSED_FORMS
from skmem._splits import make_split_plan
from skmem.engines.kde import KernelDensityEngine

KERNELS = ["gaussian", "tophat", "epanechnikov", "exponential", "linear", "cosine"]
PLANS = {
    "kfold": KFold(5, shuffle=True, random_state=0),
    "repeated": RepeatedKFold(n_splits=4, n_repeats=2, random_state=1),
    "shuffle": ShuffleSplit(6, test_size=0.25, random_state=2),
    "loo": LeaveOneOut(),
}


def _data():
    """Two clusters, isolated points and exact duplicates, in 3-D."""
    rng = np.random.RandomState(0)
    X = np.vstack(
        [
            rng.normal(0, 0.6, (16, 3)),
            rng.normal(3, 0.6, (16, 3)),
            [[12.0, -9.0, 4.0], [-15.0, 6.0, 10.0]],  # isolated
        ]
    )
    return np.vstack([X, X[[0, 5, 33]]])  # duplicates, one of an isolated point


def _brute_force(X, kernel, bandwidth, train_masks):
    """Direct differences, scalar kernel formulas, scikit-learn's own norm."""
    d = X.shape[1]
    log_likelihoods = np.empty(train_masks.shape)
    for k, mask in enumerate(train_masks):
        h = KernelDensity(bandwidth=bandwidth).fit(X[mask]).bandwidth_
        r = np.sqrt(((X[:, None, :] - X[None, mask, :]) ** 2).sum(-1)) / h
        with np.errstate(divide="ignore"):
            log_k = {
                "gaussian": -0.5 * r**2,
                "tophat": np.where(r < 1, 0.0, -np.inf),
                "epanechnikov": np.where(
                    r < 1, np.log(np.clip(1 - r**2, 0, 1)), -np.inf
                ),
                "exponential": -r,
                "linear": np.where(r < 1, np.log(np.clip(1 - r, 0, 1)), -np.inf),
                "cosine": np.where(
                    r < 1, np.log(np.clip(np.cos(np.pi * r / 2), 0, 1)), -np.inf
                ),
            }[kernel]
        log_norm = kernel_norm(h, d, kernel, return_log=True)
        log_likelihoods[k] = logsumexp(log_k, axis=1) + log_norm - np.log(mask.sum())
    return log_likelihoods


def _missing_warning(plan):
    # Random subsets leave some samples never held out: one warning says so.
    return pytest.warns(UserWarning) if plan == "shuffle" else nullcontext()


@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("plan", list(PLANS))
@pytest.mark.parametrize("bandwidth", [0.5, "scott", "silverman"])
@pytest.mark.parametrize("kernel", KERNELS)
def test_matches_brute_force(kernel, bandwidth, plan):
    X = _data()
    scorer = MemorizationScorer(
        KernelDensity(kernel=kernel, bandwidth=bandwidth), cv=PLANS[plan]
    )
    with _missing_warning(plan):
        scorer.fit(X)
    assert scorer.engine_ == "kde"
    expected_ll = _brute_force(X, kernel, bandwidth, scorer.train_masks_)
    np.testing.assert_allclose(scorer.log_likelihoods_, expected_ll, rtol=1e-7)

    with np.errstate(invalid="ignore"), _missing_warning(plan):
        expected = memorization_scores(
            expected_ll, scorer.train_masks_, scorer.test_masks_
        )
    scale = np.abs(expected_ll[np.isfinite(expected_ll)]).max()
    np.testing.assert_allclose(
        scorer.memorization_scores_, expected, rtol=1e-7, atol=1e-7 * scale
    )


def test_isolated_point_is_exact_where_kernel_values_underflow():
    # Sample 32 is ~19 bandwidths from anything: exp(-0.5 r^2) underflows to 0
    # in float64, yet its held-out log-density is finite and exact.
    X = _data()
    h = 0.05
    scorer = MemorizationScorer(KernelDensity(bandwidth=h), cv=LeaveOneOut()).fit(X)
    others = np.delete(X, 32, axis=0)
    sq = ((others - X[32]) ** 2).sum(1) / h**2
    assert np.exp(-0.5 * sq).max() == 0.0
    expected = (
        logsumexp(-0.5 * sq) - 1.5 * np.log(2 * np.pi * h**2) - np.log(len(others))
    )
    np.testing.assert_allclose(scorer.out_log_likelihood_[32], expected, rtol=1e-12)
    assert scorer.memorization_scores_[32] > 1e4


def test_compact_kernel_gives_infinite_score_to_isolated_point():
    X = _data()
    scorer = MemorizationScorer(
        KernelDensity(kernel="tophat", bandwidth=1.0), cv=LeaveOneOut()
    ).fit(X)
    # Alone within its bandwidth: zero density once held out, so M = +inf.
    assert scorer.memorization_scores_[32] == np.inf
    assert scorer.out_log_likelihood_[32] == -np.inf
    # The duplicated isolated point is explained by its copy.
    assert np.isfinite(scorer.memorization_scores_[33])


@pytest.mark.parametrize("plan", ["kfold", "repeated", "loo"])
def test_matches_generic_engine_where_sklearn_is_accurate(plan):
    rng = np.random.RandomState(3)
    X = rng.normal(size=(30, 2))
    kde = KernelDensity(bandwidth="scott")
    fast = MemorizationScorer(kde, cv=PLANS[plan]).fit(X)
    slow = MemorizationScorer(kde, cv=PLANS[plan], engine="generic").fit(X)
    assert (fast.engine_, slow.engine_) == ("kde", "generic")
    np.testing.assert_allclose(fast.log_likelihoods_, slow.log_likelihoods_, rtol=1e-9)
    np.testing.assert_allclose(
        fast.memorization_scores_, slow.memorization_scores_, rtol=1e-7, atol=1e-9
    )
    new = rng.normal(size=(9, 2)) * 2
    np.testing.assert_allclose(fast.score(new), slow.score(new), rtol=1e-9)
    np.testing.assert_allclose(fast.score(X), slow.score(X), rtol=1e-9)


def test_leave_one_out_without_the_matrix():
    X = _data()
    kde = KernelDensity(bandwidth=0.8)
    for aggregate in ("logmeanexp", "mean"):
        full = MemorizationScorer(kde, cv=LeaveOneOut(), aggregate=aggregate).fit(X)
        # A budget too small for the n x n matrix: aggregates only.
        with config_context(working_memory=1e-3):
            lean = MemorizationScorer(kde, cv=LeaveOneOut(), aggregate=aggregate)
            lean.fit(X)
        assert full.log_likelihoods_ is not None and lean.log_likelihoods_ is None
        np.testing.assert_allclose(
            lean.memorization_scores_, full.memorization_scores_, rtol=1e-12
        )
        # And the stored matrix aggregates to the closed form.
        np.testing.assert_allclose(
            memorization_scores(
                full.log_likelihoods_, full.train_masks_, aggregate=aggregate
            ),
            full.memorization_scores_,
            rtol=1e-9,
        )


@pytest.mark.parametrize("aggregate", ["logmeanexp", "mean"])
def test_aggregate_without_a_closed_form_gets_the_matrix(monkeypatch, aggregate):
    """An aggregate missing from CLOSED_FORMS (as a new one would be) is not given
    another's closed form: the engine builds the matrix, which the aggregate
    itself reduces, and the scores are still those of the closed form."""
    X = _data()
    kde = KernelDensity(bandwidth=0.8)
    closed = MemorizationScorer(kde, cv=LeaveOneOut(), aggregate=aggregate).fit(X)
    engine = KernelDensityEngine(aggregate=aggregate)
    n = len(X)
    plan = make_split_plan(LeaveOneOut(), n, X=X)
    monkeypatch.delitem(CLOSED_FORMS, aggregate)
    assert engine.matrix_bytes(n, n) == 8 * n * n
    with config_context(working_memory=1e-3):  # not even the budget skips it
        result = engine.compute(kde, X, plan)
    assert result.in_log_likelihood is None and result.out_log_likelihood is None
    np.testing.assert_allclose(result.log_likelihoods, closed.log_likelihoods_)
    matrix = MemorizationScorer(kde, cv=LeaveOneOut(), aggregate=aggregate).fit(X)
    np.testing.assert_allclose(
        matrix.memorization_scores_, closed.memorization_scores_, rtol=1e-9
    )


def test_blocks_and_threads_do_not_change_results():
    X = np.random.RandomState(4).normal(size=(300, 5))
    kde = KernelDensity(bandwidth=0.5)
    ref = MemorizationScorer(kde, cv=5, random_state=0).fit(X)
    with config_context(working_memory=0.05):  # many small blocks
        small = MemorizationScorer(kde, cv=5, random_state=0, n_jobs=2).fit(X)
    np.testing.assert_allclose(small.log_likelihoods_, ref.log_likelihoods_, rtol=1e-12)
    two = MemorizationScorer(kde, cv=5, random_state=0, n_jobs=2).fit(X)
    np.testing.assert_array_equal(two.log_likelihoods_, ref.log_likelihoods_)


def test_unsupported_metric_falls_back_to_generic(capsys):
    X = _data()
    scorer = MemorizationScorer(
        KernelDensity(metric="manhattan"), cv=3, verbose=1, random_state=0
    ).fit(X)
    assert scorer.engine_ == "generic"
    assert "metric='manhattan'" in capsys.readouterr().out


def test_grid_search_over_bandwidth_matches_generic_engine():
    from sklearn.model_selection import GridSearchCV

    X = np.random.RandomState(5).normal(size=(45, 2))
    results = {}
    for engine in ("auto", "generic"):
        search = GridSearchCV(
            MemorizationScorer(KernelDensity(), cv=4, engine=engine, random_state=0),
            {"estimator__bandwidth": [0.05, 0.5, 2.0]},
            cv=3,
        ).fit(X)
        results[engine] = search
    assert results["auto"].best_estimator_.engine_ == "kde"
    assert results["auto"].best_params_ == {"estimator__bandwidth": 0.5}
    np.testing.assert_allclose(
        results["auto"].cv_results_["mean_test_score"],
        results["generic"].cv_results_["mean_test_score"],
        rtol=1e-9,
    )


# -- DequantizedDensity(KernelDensity): the demo's KDE -----------------------


def _levels(n=240):
    from skmem.datasets import load_digits

    return np.rint(load_digits()[:n] * 16)


@pytest.mark.parametrize(
    "kernel, bandwidth, n_noise",
    [("gaussian", 2.0, 1), ("gaussian", 3.0, 2), ("exponential", 2.5, 1)],
)
def test_dequantized_kde_agrees_with_the_generic_engine(kernel, bandwidth, n_noise):
    # Bandwidths at which scikit-learn's tree sums are exact (no kernel value of
    # a row underflows): there the two engines must agree to rounding.
    from skmem import DequantizedDensity

    X = _levels()
    est = DequantizedDensity(
        KernelDensity(kernel=kernel, bandwidth=bandwidth),
        n_levels=17,
        n_noise_samples=n_noise,
    )
    kw = dict(cv=4, n_repeats=2, random_state=3)
    fast = MemorizationScorer(est, **kw).fit(X)
    slow = MemorizationScorer(est, engine="generic", n_jobs=1, **kw).fit(X)
    assert fast.engine_ == "kde"
    np.testing.assert_allclose(
        fast.log_likelihoods_, slow.log_likelihoods_, rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        fast.memorization_scores_, slow.memorization_scores_, rtol=0, atol=1e-6
    )
    # New rows: the fold-ensemble density, from the same kernel sums.
    new = _levels(250)[240:]
    assert fast.score(new) == pytest.approx(slow.score(new), abs=1e-6)


def test_dequantized_kde_is_exact_where_the_tree_is_not():
    # At the demo's bandwidth (0.5 in 64-D logit space) every kernel value of
    # some held-out rows underflows, and scikit-learn's tree then reports a
    # bound; the engine's sums match a brute-force log-sum-exp.
    from skmem import DequantizedDensity
    from skmem._pixels import logit_dequantize
    from skmem._splits import MAX_SEED, make_split_plan
    from skmem.engines import KernelDensityEngine

    X = _levels(200)
    est = DequantizedDensity(KernelDensity(bandwidth=0.5), n_levels=17)
    plan = make_split_plan(KFold(4), len(X), X=X, random_state=0)
    matrix = KernelDensityEngine().compute(est, X, plan).log_likelihoods
    train, seed = plan.train_masks[0], int(plan.seeds[0])
    # Model 0 as the generic engine fits it, and its noise drawn by hand.
    model = DequantizedDensity(
        KernelDensity(bandwidth=0.5), n_levels=17, random_state=seed
    ).fit(X[train])
    rng = np.random.RandomState(seed)
    noise_seed = rng.randint(MAX_SEED)
    Y_train, _ = logit_dequantize(
        X[train], rng.uniform(size=(train.sum(), 64)), 17, 0.05
    )
    np.testing.assert_array_equal(Y_train, model.estimator_.tree_.data)
    e = np.random.RandomState(noise_seed).uniform(size=64)
    Y, log_jacobian = logit_dequantize(X, e, 17, 0.05)
    sq = ((Y[:, None, :] - Y_train[None]) ** 2).sum(-1)
    brute = (
        logsumexp(-sq / (2 * 0.25), axis=1)
        - 32 * np.log(2 * np.pi * 0.25)
        - np.log(train.sum())
        + log_jacobian
    )
    np.testing.assert_allclose(matrix[0], brute, rtol=0, atol=1e-8)
    # ... where the tree's sums are off by many nats for some rows.
    assert np.abs(model.score_samples(X) - brute).max() > 1.0


def test_dequantized_kde_engine_applies_only_where_the_inner_kde_would():
    from sklearn.mixture import GaussianMixture

    from skmem import DequantizedDensity
    from skmem.engines import KernelDensityEngine

    ok = DequantizedDensity(KernelDensity(), n_levels=17)
    assert KernelDensityEngine.unsupported_reason(ok, None) is None
    manhattan = DequantizedDensity(KernelDensity(metric="manhattan"), n_levels=17)
    assert "euclidean" in KernelDensityEngine.unsupported_reason(manhattan, None)
    gmm = DequantizedDensity(GaussianMixture(), n_levels=17)
    assert KernelDensityEngine.unsupported_reason(gmm, None) is not None


def _mixed_table(n=60, seed=0):
    """Two numeric columns on very different scales and one categorical."""
    rng = np.random.RandomState(seed)
    return np.column_stack(
        [
            rng.normal(size=n),
            rng.normal(size=n) * 1000.0,
            rng.choice(["a", "b", "c"], n).astype(object),
        ]
    ).astype(object)


def _frozen_pipelines(X):
    from sklearn.base import clone
    from sklearn.compose import make_column_transformer
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), [2]),
        (StandardScaler(), [0, 1]),
    ).fit(X)
    frozen = make_pipeline(FrozenEstimator(encode), KernelDensity(bandwidth="scott"))
    refit = make_pipeline(clone(encode), KernelDensity(bandwidth="scott"))
    return frozen, refit, encode


@pytest.mark.parametrize("plan", ["repeated", "loo"])
def test_pipeline_of_frozen_steps_runs_on_the_kde_engine_exactly(plan):
    """A pipeline of frozen steps and a KernelDensity: the exact engine gives what
    the generic engine gives (which refits nothing but the KDE), and what the
    KDE engine gives on the transformed rows; new rows go through the steps."""
    X = _mixed_table()
    frozen, _, encode = _frozen_pipelines(X)
    fast = MemorizationScorer(frozen, cv=PLANS[plan]).fit(X)
    slow = MemorizationScorer(frozen, cv=PLANS[plan], engine="generic").fit(X)
    Z = encode.transform(X).astype(np.float64)
    direct = MemorizationScorer(KernelDensity(bandwidth="scott"), cv=PLANS[plan]).fit(Z)
    assert (fast.engine_, slow.engine_, direct.engine_) == ("kde", "generic", "kde")
    np.testing.assert_allclose(fast.log_likelihoods_, slow.log_likelihoods_, rtol=1e-9)
    np.testing.assert_array_equal(
        fast.memorization_scores_, direct.memorization_scores_
    )
    new = _mixed_table(7, seed=1)
    np.testing.assert_allclose(fast.score(new), slow.score(new), rtol=1e-9)


def test_pipeline_refitting_its_steps_stays_on_the_generic_engine(capsys):
    """Steps refitted per fold are not the same transform in every fold: the exact
    engine refuses them (and says how to freeze them), and a named engine raises."""
    from skmem.engines.kde import frozen_steps, unsupported_reason

    X = _mixed_table()
    frozen, refit, _ = _frozen_pipelines(X)
    assert frozen_steps(refit) is None and frozen_steps(frozen) is not None
    assert "FrozenEstimator" in unsupported_reason(refit)
    scorer = MemorizationScorer(refit, cv=3, random_state=0, verbose=1).fit(X)
    assert scorer.engine_ == "generic"
    with pytest.raises(ValueError, match="FrozenEstimator"):
        MemorizationScorer(refit, cv=3, engine="kde").fit(X)
    # A frozen pipeline whose KDE the engine cannot compute is refused too.
    frozen.set_params(kerneldensity__metric="manhattan")
    assert "metric='manhattan'" in unsupported_reason(frozen)


def test_kde_engine_shows_a_bar_over_rows_from_the_start(capsys):
    X = np.random.RandomState(6).normal(size=(700, 2))
    with config_context(working_memory=0.05):  # several blocks
        MemorizationScorer(KernelDensity(), cv=3, random_state=0, verbose=1).fit(X)
    err = capsys.readouterr().err
    assert "0/700 [" in err and "700/700 [" in err and "row/s" in err
    MemorizationScorer(KernelDensity(), cv=3, random_state=0, verbose=0).fit(X)
    assert "row" not in capsys.readouterr().err
