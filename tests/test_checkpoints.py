"""Checkpoints: the memorization curve from one training run."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import KFold
from sklearn.neighbors import KernelDensity

torch = pytest.importorskip("torch")

from skmem import MemorizationScorer, VAEDensity  # noqa: E402
from skmem.datasets import load_digits  # noqa: E402
from skmem.torch import _training  # noqa: E402

SMALL = dict(
    latent_dim=2,
    hidden_layer_sizes=(16,),
    batch_size=16,
    learning_rate=3e-3,
    n_importance_samples=8,
)


@pytest.fixture(scope="module")
def X():
    return load_digits(binarize=True)[:80]


def _scorer(max_epochs, checkpoints=None, **params):
    vae = VAEDensity(**SMALL, max_epochs=max_epochs, checkpoints=checkpoints)
    return MemorizationScorer(
        vae, cv=KFold(4, shuffle=True, random_state=0), random_state=0, **params
    )


@pytest.fixture(scope="module")
def curve(X):
    return _scorer(6, [2, 4, 6]).fit(X)


@pytest.mark.parametrize("engine", ["torch", "generic"])
def test_middle_checkpoint_equals_a_run_that_stops_there(X, engine):
    scorer = _scorer(6, [2, 4], engine=engine).fit(X)
    stopped = _scorer(4, engine=engine).fit(X)
    np.testing.assert_allclose(
        scorer.log_likelihood_curve_[1], stopped.log_likelihoods_, rtol=1e-5
    )
    np.testing.assert_allclose(
        scorer.memorization_curve_[1],
        stopped.memorization_scores_,
        rtol=1e-5,
        atol=1e-6,
    )
    # The final scores are the max_epochs run's, not the last checkpoint's.
    assert not np.allclose(scorer.log_likelihoods_, stopped.log_likelihoods_)


def test_curve_attributes(curve, X):
    np.testing.assert_array_equal(curve.checkpoints_, [2, 4, 6])
    assert curve.memorization_curve_.shape == (3, len(X))
    assert curve.log_likelihood_curve_.shape == (3, 4, len(X))
    # The last checkpoint is the final model: no second scoring pass, same values.
    np.testing.assert_array_equal(
        curve.log_likelihood_curve_[-1], curve.log_likelihoods_
    )
    np.testing.assert_array_equal(
        curve.memorization_curve_[-1], curve.memorization_scores_
    )
    # score_curve_ is score() on the training data, checkpoint by checkpoint.
    assert curve.score_curve_[-1] == pytest.approx(curve.score(X))
    assert curve.best_checkpoint_ == curve.checkpoints_[np.argmax(curve.score_curve_)]


def test_generic_engine_gives_the_same_curve(curve, X):
    generic = _scorer(6, [2, 4, 6], engine="generic").fit(X)
    np.testing.assert_allclose(
        generic.log_likelihood_curve_, curve.log_likelihood_curve_, atol=1e-4
    )


def test_curve_does_not_depend_on_n_jobs(curve, X):
    from joblib import parallel_backend

    with parallel_backend("threading"):
        two = _scorer(6, [2, 4, 6], n_jobs=2).fit(X)
    np.testing.assert_allclose(
        two.log_likelihood_curve_, curve.log_likelihood_curve_, rtol=1e-5
    )


def test_each_checkpoint_adds_only_its_scoring_pass(X, monkeypatch):
    # One training run per group whatever the checkpoints; one scoring pass per
    # checkpoint, and the final pass reused when max_epochs is a checkpoint.
    calls = {"epochs": [], "passes": 0}
    train, log_likelihood = _training.train, _training.log_likelihood

    # The engine's probe of vmap (one epoch on 4 rows) is not counted.
    def counting_train(X_t, *args, max_epochs, **kwargs):
        if len(X_t) == len(X):
            calls["epochs"].append(max_epochs)
        return train(X_t, *args, max_epochs=max_epochs, **kwargs)

    def counting_log_likelihood(group, rows, *args, **kwargs):
        calls["passes"] += len(rows) == len(X)
        return log_likelihood(group, rows, *args, **kwargs)

    monkeypatch.setattr(_training, "train", counting_train)
    monkeypatch.setattr(_training, "log_likelihood", counting_log_likelihood)
    for checkpoints, passes in [(None, 1), ([2, 4], 3), ([2, 4, 6], 3), ([1], 2)]:
        calls.update(epochs=[], passes=0)
        _scorer(6, checkpoints, engine="torch").fit(X)
        assert calls == {"epochs": [6], "passes": passes}, checkpoints


def test_memorization_grows_along_the_curve():
    # Few samples, a wide model, many epochs: it memorizes more and more.
    X = load_digits(binarize=True)[:100]
    vae = VAEDensity(
        latent_dim=4,
        hidden_layer_sizes=(64,),
        batch_size=16,
        learning_rate=3e-3,
        n_importance_samples=16,
        max_epochs=60,
        checkpoints=[5, 20, 60],
    )
    scorer = MemorizationScorer(vae, cv=5, random_state=0).fit(X)
    q95 = np.quantile(scorer.memorization_curve_, 0.95, axis=1)
    assert np.all(np.diff(q95) > 0), q95
    # Training and held-out log-likelihood part ways (overfitting).
    train_ll = [ll[scorer.train_masks_].mean() for ll in scorer.log_likelihood_curve_]
    test_ll = [ll[scorer.test_masks_].mean() for ll in scorer.log_likelihood_curve_]
    gap = np.subtract(train_ll, test_ll)
    assert gap[-1] > gap[0] > 0


def test_early_stopping_scores_the_best_checkpoint(curve, X):
    stopped = _scorer(6, [2, 4, 6], early_stopping=True).fit(X)
    best = list(curve.checkpoints_).index(curve.best_checkpoint_)
    assert stopped.best_checkpoint_ == curve.best_checkpoint_
    np.testing.assert_array_equal(
        stopped.log_likelihoods_, curve.log_likelihood_curve_[best]
    )
    np.testing.assert_array_equal(
        stopped.memorization_scores_, curve.memorization_curve_[best]
    )
    assert stopped.score(X) == pytest.approx(curve.score_curve_[best])
    # New rows are scored by the snapshots at the best epoch.
    new = load_digits(binarize=True)[200:210]
    expected = np.log(
        np.mean(
            [
                np.exp(m.score_samples_at(new, stopped.best_checkpoint_))
                for m in stopped.estimators_
            ],
            axis=0,
        )
    )
    np.testing.assert_allclose(stopped._ensemble(new), expected, rtol=1e-6)


def test_early_stopping_needs_checkpoints(X):
    with pytest.raises(ValueError, match="keeps none. Set checkpoints"):
        _scorer(3, early_stopping=True).fit(X)
    with pytest.raises(ValueError, match="keeps none"):
        MemorizationScorer(GaussianMixture(), early_stopping=True).fit(X)


def test_other_estimators_have_no_curve(X):
    scorer = MemorizationScorer(GaussianMixture(1, covariance_type="diag"), cv=3)
    scorer.fit(X[:, :10])
    assert scorer.checkpoints_ is None and scorer.memorization_curve_ is None


def test_resume_from_cache_keeps_the_curve(curve, X, tmp_path, capsys):
    first = _scorer(6, [2, 4, 6], memory=str(tmp_path)).fit(X)
    np.testing.assert_array_equal(
        first.log_likelihood_curve_, curve.log_likelihood_curve_
    )
    again = _scorer(6, [2, 4, 6], memory=str(tmp_path), verbose=1).fit(X)
    assert "4 of 4 models found in the cache" in capsys.readouterr().out
    np.testing.assert_array_equal(
        again.log_likelihood_curve_, curve.log_likelihood_curve_
    )
    # Other checkpoints are other models in the cache.
    other = _scorer(6, [3, 6], memory=str(tmp_path), verbose=1).fit(X)
    assert "0 of 4 models found" in capsys.readouterr().out
    assert other.log_likelihood_curve_.shape[0] == 2


def test_auto_repeats_with_checkpoints(X):
    scorer = _scorer(2, [1, 2], n_repeats="auto", max_repeats=3).set_params(cv=4)
    with pytest.warns(UserWarning, match="reliability"):
        scorer.fit(X)
    n_models = 4 * scorer.n_repeats_
    assert scorer.log_likelihood_curve_.shape == (2, n_models, len(X))
    np.testing.assert_array_equal(
        scorer.log_likelihood_curve_[-1], scorer.log_likelihoods_
    )


def test_snapshot_scores_like_a_model_stopped_there(X):
    model = VAEDensity(**SMALL, max_epochs=5, checkpoints=[3], random_state=0).fit(X)
    stopped = VAEDensity(**SMALL, max_epochs=3, random_state=0).fit(X)
    np.testing.assert_allclose(
        model.score_samples_at(X, 3), stopped.score_samples(X), rtol=1e-5
    )
    np.testing.assert_array_equal(model.score_samples_at(X, 5), model.score_samples(X))
    assert sorted(model.snapshots_) == [3]
    with pytest.raises(ValueError, match=r"No snapshot at epoch 4.*\[3\]"):
        model.score_samples_at(X, 4)


@pytest.mark.parametrize("checkpoints", [[0, 2], [2, 9], [2, 2], [1.5], []])
def test_invalid_checkpoints(X, checkpoints):
    with pytest.raises(ValueError, match="checkpoints must be distinct integer"):
        VAEDensity(**SMALL, max_epochs=5, checkpoints=checkpoints).fit(X)


def test_pipeline_ending_in_a_checkpointed_model(X):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def pipe(max_epochs, checkpoints=None):
        vae = VAEDensity(
            **{**SMALL, "likelihood": "gaussian"},
            max_epochs=max_epochs,
            checkpoints=checkpoints,
        )
        return MemorizationScorer(
            make_pipeline(StandardScaler(), vae), cv=3, random_state=0
        ).fit(X[:, 20:30])

    scorer, stopped = pipe(3, [1, 3]), pipe(1)
    assert scorer.engine_ == "generic"
    np.testing.assert_allclose(
        scorer.log_likelihood_curve_[0], stopped.log_likelihoods_, rtol=1e-5
    )


def test_curve_display(curve):
    import matplotlib

    matplotlib.use("Agg")
    from skmem.plotting import MemorizationCurveDisplay, mean_nll_curves

    display = MemorizationCurveDisplay.from_estimator(curve, name="VAE")
    q95 = display.quantile_lines_[1].get_ydata()
    np.testing.assert_allclose(q95, np.quantile(curve.memorization_curve_, 0.95, 1))
    # The loss curves, against a loop over models.
    train_nll, test_nll = mean_nll_curves(
        curve.log_likelihood_curve_, curve.train_masks_, curve.test_masks_
    )
    for c, ll in enumerate(curve.log_likelihood_curve_):
        pairs = zip(ll, curve.test_masks_, strict=True)
        by_model = [-row[mask].mean() for row, mask in pairs]
        assert test_nll[c] == pytest.approx(np.mean(by_model))
    np.testing.assert_allclose(display.loss_lines_[0].get_ydata(), train_nll)
    with pytest.raises(ValueError, match="no memorization curve"):
        MemorizationCurveDisplay.from_estimator(
            MemorizationScorer(GaussianMixture(1), cv=2).fit(np.eye(6))
        )


def test_cli_checkpoints(tmp_path, capsys):
    from skmem.cli import main

    data = tmp_path / "digits.npy"
    np.save(data, load_digits(binarize=True)[:60])
    common = [
        "score", str(data), "--cv", "3", "--repeats", "1",
        "--out", str(tmp_path / "s.csv"), "--n-jobs", "1",
    ]  # fmt: skip
    params = ["--model", "vae", "--param", "max_epochs=4"]
    params += [
        "--param",
        "n_importance_samples=4",
        "--param",
        "hidden_layer_sizes=(8,)",
    ]
    code = main([*common, *params, "--checkpoints", "2,4", "--report", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "epoch 2:" in out and "epoch 4:" in out
    assert (tmp_path / "vae over training.png").exists()
    assert main([*common, *params, "--checkpoints", "2,9"]) == 2
    assert "max_epochs=4" in capsys.readouterr().err
    assert main([*common, "--model", "kde", "--checkpoints", "2"]) == 2
    assert "applies to torch models" in capsys.readouterr().err


def test_memory_check_counts_every_checkpoint(X, monkeypatch):
    import skmem._scorer as scorer_module
    from skmem.engines import TorchEnsembleEngine

    # Room for the masks, two log-likelihood matrices and the weights of two
    # epochs per model; not for three of each.
    n_models, n = 4, len(X)
    weights = TorchEnsembleEngine().fitted_bytes(_scorer(2, [2]).estimator, X, 4)
    free = 2 * n_models * n + 2 * 8 * n_models * n + weights
    monkeypatch.setattr(scorer_module, "available_bytes", lambda: free)
    with pytest.raises(MemoryError, match="fewer checkpoints"):
        _scorer(2, [1, 2]).set_params(cv=KFold(4)).fit(X)
    _scorer(2, [2]).set_params(cv=KFold(4)).fit(X)


class NarrowingKDE(BaseEstimator):
    """A kernel density whose bandwidth narrows as it "trains": epoch e has
    bandwidth ``bandwidths[e - 1]``, the last one the final model's. Its
    held-out fit peaks wherever the bandwidths say, not only at the end."""

    def __init__(self, bandwidths=(0.5, 0.1, 0.02), checkpoints=(1, 2, 3)):
        self.bandwidths = bandwidths
        self.checkpoints = checkpoints

    def _checkpoints(self):
        return tuple(self.checkpoints)

    def fit(self, X, y=None):
        self.models_ = [KernelDensity(bandwidth=h).fit(X) for h in self.bandwidths]
        return self

    def score_samples_at(self, X, epoch):
        return self.models_[epoch - 1].score_samples(X)

    def score_samples(self, X):
        return self.models_[-1].score_samples(X)


def test_early_stopping_scores_an_epoch_before_the_last():
    # On standard-normal data a bandwidth of 0.5 fits held-out rows far better
    # than 0.02: the best checkpoint is the first, and early stopping must give
    # exactly the scores of a KDE of bandwidth 0.5 on the same folds.
    X = np.random.RandomState(0).normal(size=(60, 2))
    cv = KFold(3, shuffle=True, random_state=0)
    stopped = MemorizationScorer(
        NarrowingKDE(), cv=cv, early_stopping=True, random_state=0
    ).fit(X)
    assert stopped.best_checkpoint_ == 1
    assert np.argmax(stopped.score_curve_) == 0
    for h, index in ((0.5, 0), (0.02, 2)):
        plain = MemorizationScorer(KernelDensity(bandwidth=h), cv=cv, random_state=0)
        plain.fit(X)
        np.testing.assert_allclose(
            stopped.log_likelihood_curve_[index], plain.log_likelihoods_, rtol=1e-10
        )
        if h == 0.5:
            np.testing.assert_allclose(
                stopped.log_likelihoods_, plain.log_likelihoods_, rtol=1e-10
            )
            np.testing.assert_allclose(
                stopped.memorization_scores_, plain.memorization_scores_, rtol=1e-9
            )
            assert stopped.score(X) == pytest.approx(plain.score(X), rel=1e-10)
            # New rows are scored by the epoch-1 models too.
            new = np.random.RandomState(1).normal(size=(5, 2))
            np.testing.assert_allclose(
                stopped._ensemble(new), plain._ensemble(new), rtol=1e-10
            )
    # Without early stopping the final (narrowest) models are scored.
    final = MemorizationScorer(NarrowingKDE(), cv=cv, random_state=0).fit(X)
    np.testing.assert_array_equal(
        final.log_likelihoods_, final.log_likelihood_curve_[-1]
    )
    assert not np.allclose(final.log_likelihoods_, stopped.log_likelihoods_)
