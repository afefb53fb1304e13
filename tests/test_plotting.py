"""MemorizationDisplay draws with the Agg backend and holds the expected artists."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from sklearn.neighbors import KernelDensity  # noqa: E402

from skmem import MemorizationScorer  # noqa: E402
from skmem.plotting import MemorizationDisplay  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    X = np.random.RandomState(0).uniform(size=(60, 4))
    return X, MemorizationScorer(KernelDensity(bandwidth=0.2), cv=3).fit(X)


def test_histogram_with_quantile_markers(fitted):
    X, scorer = fitted
    display = MemorizationDisplay.from_estimator(scorer)
    M = scorer.memorization_scores_
    assert display.name == "KernelDensity"
    assert sum(p.get_height() for p in display.ax_.patches) == len(M)
    positions = [line.get_xdata()[0] for line in display.quantile_lines_]
    np.testing.assert_allclose(positions, np.quantile(M, [0.5, 0.95, 0.99]))
    assert display.gallery_axes_ is None and display.scatter_ax_ is None


def test_gallery_and_scatter(fitted):
    X, scorer = fitted
    nn = np.random.RandomState(1).uniform(size=len(X))
    display = MemorizationDisplay.from_estimator(
        scorer, X, image_shape=(2, 2), nn_distance=nn, n_examples=4
    )
    assert display.gallery_axes_.shape == (2, 4)
    most = np.argsort(scorer.memorization_scores_)[::-1][0]
    image = display.gallery_axes_[0, 0].images[0].get_array()
    np.testing.assert_array_equal(image, X[most].reshape(2, 2))
    offsets = display.scatter_ax_.collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 1], scorer.memorization_scores_)


def test_given_axes_and_unfitted(fitted):
    import matplotlib.pyplot as plt

    _, scorer = fitted
    fig, ax = plt.subplots()
    display = MemorizationDisplay.from_estimator(scorer, ax=ax)
    assert display.ax_ is ax and display.figure_ is fig
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MemorizationDisplay.from_estimator(MemorizationScorer())
    plt.close("all")
