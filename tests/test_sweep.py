"""memorization_sweep: same folds for every value, numbers equal to a hand-run."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import KFold
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer, memorization_sweep


@pytest.fixture(scope="module")
def gaussian():
    return np.random.RandomState(0).normal(size=(240, 2))


@pytest.mark.parametrize(
    "cv, random_state",
    [(5, None), (5, 3), (KFold(4, shuffle=True), None)],
    ids=["int-cv-no-seed", "int-cv-seed", "splitter-no-seed"],
)
def test_every_value_gets_the_same_folds_and_seeds(gaussian, cv, random_state):
    scorer = MemorizationScorer(KernelDensity(), cv=cv, random_state=random_state)
    results, scorers = memorization_sweep(
        scorer,
        gaussian,
        {"estimator__bandwidth": [0.1, 0.5]},
        return_scorers=True,
        quantiles=(0.95,),
    )
    first, second = scorers
    np.testing.assert_array_equal(first.train_masks_, second.train_masks_)
    np.testing.assert_array_equal(first.test_masks_, second.test_masks_)
    np.testing.assert_array_equal(first.seeds_, second.seeds_)
    assert [s.estimator.bandwidth for s in scorers] == [0.1, 0.5]
    assert scorer.random_state == random_state  # the user's scorer is untouched
    assert len(results) == 2


def test_rows_equal_scorers_fitted_by_hand(gaussian):
    grid = {"estimator__bandwidth": [0.05, 0.3, 3.0]}
    scorer = MemorizationScorer(KernelDensity(), cv=5, n_repeats=3, random_state=0)
    results = memorization_sweep(scorer, gaussian, grid)
    assert list(results.columns) == [
        "estimator__bandwidth",
        "held_out_log_likelihood",
        "memorization_mean",
        "memorization_q0.5",
        "memorization_q0.95",
        "memorization_q0.99",
        "n_memorized",
        "fit_time",
    ]
    bandwidths = grid["estimator__bandwidth"]
    for row, bandwidth in zip(results.itertuples(index=False), bandwidths, strict=True):
        by_hand = MemorizationScorer(
            KernelDensity(bandwidth=bandwidth), cv=5, n_repeats=3, random_state=0
        ).fit(gaussian)
        M = by_hand.memorization_scores_
        assert row[0] == bandwidth
        np.testing.assert_allclose(row.held_out_log_likelihood, by_hand.score(gaussian))
        np.testing.assert_allclose(row.memorization_mean, M.mean())
        np.testing.assert_allclose(row[4], np.quantile(M, 0.95))
        assert row.n_memorized == by_hand.memorized(alpha=0.05).sum()
    # Where the truth is known: a KDE memorizes less as its bandwidth grows,
    # and on standard-normal data the held-out fit peaks at a moderate
    # bandwidth (Scott's rule gives 0.40 here), not at either extreme.
    assert results["memorization_q0.95"].is_monotonic_decreasing
    held_out = results["held_out_log_likelihood"].to_numpy()
    assert held_out[1] > held_out[0] and held_out[1] > held_out[2]
    truth = -np.log(2 * np.pi) - 0.5 * (gaussian**2).sum(axis=1).mean()
    assert abs(held_out[1] - truth) < 0.15


def test_sweep_refuses_to_vary_the_folds(gaussian):
    scorer = MemorizationScorer(KernelDensity(), cv=5)
    with pytest.raises(ValueError, match="cannot sweep cv"):
        memorization_sweep(scorer, gaussian, {"cv": [3, 5]})
    with pytest.raises(ValueError, match="cannot sweep random_state"):
        memorization_sweep(scorer, gaussian, [{"random_state": [0, 1]}])


def test_checkpoints_give_one_row_per_epoch():
    pytest.importorskip("torch")
    from skmem import VAEDensity
    from skmem.datasets import load_digits

    X = load_digits(binarize=True)[:150]
    vae = VAEDensity(
        latent_dim=2,
        hidden_layer_sizes=(16,),
        n_importance_samples=8,
        max_epochs=4,
        checkpoints=[2, 4],
    )
    scorer = MemorizationScorer(vae, cv=3, n_repeats=3, random_state=0)
    results, scorers = memorization_sweep(
        scorer,
        X,
        {"estimator__weight_decay": [0.0, 1e-2]},
        quantiles=(0.95,),
        return_scorers=True,
    )
    assert list(results["epoch"]) == [2, 4, 2, 4]
    assert list(results["estimator__weight_decay"]) == [0.0, 0.0, 1e-2, 1e-2]
    for k, fitted in enumerate(scorers):
        rows = results.iloc[2 * k : 2 * k + 2]
        np.testing.assert_allclose(rows["held_out_log_likelihood"], fitted.score_curve_)
        np.testing.assert_allclose(
            rows["memorization_q0.95"],
            np.quantile(fitted.memorization_curve_, 0.95, axis=1),
        )
        # Flags belong to the scored (last) checkpoint only.
        assert np.isnan(rows["n_memorized"].iloc[0])
        assert rows["n_memorized"].iloc[1] == fitted.memorized().sum()
        np.testing.assert_allclose(
            fitted.memorization_curve_[-1], fitted.memorization_scores_
        )


def test_tradeoff_display_draws_the_sweep(gaussian):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skmem.plotting import MemorizationTradeoffDisplay

    scorer = MemorizationScorer(KernelDensity(), cv=5, random_state=0)
    results = memorization_sweep(
        scorer, gaussian, {"estimator__bandwidth": [0.05, 0.3, 3.0]}
    )
    display = MemorizationTradeoffDisplay.from_sweep(results, quantile=0.99)
    (line,) = display.lines_
    np.testing.assert_allclose(line.get_xdata(), results["memorization_q0.99"])
    np.testing.assert_allclose(line.get_ydata(), results["held_out_log_likelihood"])
    assert [a.get_text() for a in display.labels_] == [
        "bandwidth=0.05",
        "bandwidth=0.3",
        "bandwidth=3.0",
    ]
    with pytest.raises(ValueError, match="memorization_q0.9'"):
        MemorizationTradeoffDisplay.from_sweep(results, quantile=0.9)
    # With checkpoints: one line per setting, through its epochs in order.
    epochs = results.loc[results.index.repeat(2)].reset_index(drop=True)
    epochs.insert(1, "epoch", [10, 20] * 3)
    epochs = epochs.iloc[::-1]  # the display sorts each line by epoch
    display = MemorizationTradeoffDisplay.from_sweep(epochs)
    assert len(display.lines_) == 3
    for line, (_, group) in zip(
        display.lines_, epochs.groupby("estimator__bandwidth", sort=False), strict=True
    ):
        group = group.sort_values("epoch")
        np.testing.assert_allclose(line.get_xdata(), group["memorization_q0.95"])
    plt.close("all")


def test_quantiles_count_infinite_scores(gaussian):
    # A narrow tophat kernel gives isolated samples no held-out density: their
    # M is +inf, the most memorized, and the upper quantiles must say so. The
    # reference: +inf as the limit of a huge score, np.quantile's linear
    # interpolation on that (numpy's own on +inf gives NaN and warns).
    grid = {"estimator__bandwidth": [0.15, 0.3]}
    scorer = MemorizationScorer(KernelDensity(kernel="tophat"), cv=5, random_state=0)
    quantiles = (0.5, 0.8, 0.9, 0.95, 0.99)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results, scorers = memorization_sweep(
            scorer, gaussian, grid, quantiles=quantiles, return_scorers=True
        )
    for row, fitted in zip(results.to_dict("records"), scorers, strict=True):
        M = fitted.memorization_scores_
        assert 0.02 < np.isposinf(M).mean() < 0.5 and not np.isnan(M).any()
        huge = np.where(np.isposinf(M), 1e300, M)
        for q in quantiles:
            expected = np.quantile(huge, q)
            expected = np.inf if expected > 1e200 else expected
            assert row[f"memorization_q{q:g}"] == pytest.approx(expected, rel=1e-12)
        assert row["memorization_q0.99"] == np.inf
        assert np.isfinite(row["memorization_q0.5"])
    assert np.isinf(results["memorization_q0.9"]).any()  # the NaN case of numpy


def test_sweep_quantile_at_infinite_neighbours():
    from skmem._sweep import _quantile

    rng = np.random.RandomState(0)
    for values in ([1.0, 2.0, 3.0, np.inf, np.inf], rng.normal(size=7)):
        values = rng.permutation(values)
        huge = np.where(np.isinf(values), 1e300, values)
        for q in np.linspace(0, 1, 41):
            expected = np.quantile(huge, q)
            expected = np.inf if expected > 1e200 else expected
            assert _quantile(values, q) == expected, q
    assert np.isnan(_quantile(np.array([-np.inf, np.inf]), 0.5))
    assert _quantile(np.array([-np.inf, 1.0]), 0.5) == -np.inf
