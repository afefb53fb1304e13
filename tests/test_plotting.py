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


def _bulk_with_outliers():
    rng = np.random.RandomState(0)
    return np.concatenate([rng.normal(0, 0.05, 505), [40.0, 60.0, 90.0]])


def _bins_holding(display, values):
    """Histogram bars that hold at least one of ``values``."""
    return sum(
        1
        for p in display.ax_.patches
        if p.get_height() > 0
        and ((values >= p.get_x()) & (values <= p.get_x() + p.get_width())).any()
    )


def test_outliers_do_not_squash_the_histogram_into_one_bar():
    import matplotlib.pyplot as plt

    scores = _bulk_with_outliers()
    bulk = scores[:505]
    display = MemorizationDisplay.from_scores(scores)
    assert display.xscale_ == "symlog" and display.ax_.get_xscale() == "symlog"
    assert sum(p.get_height() for p in display.ax_.patches) == len(scores)
    assert _bins_holding(display, bulk) >= 10
    linear = MemorizationDisplay.from_scores(scores, xscale="linear")
    assert linear.xscale_ == "linear" and _bins_holding(linear, bulk) <= 2
    # Without outliers the axis stays linear.
    assert MemorizationDisplay.from_scores(bulk).xscale_ == "linear"
    plt.close("all")


def _visible_label_boxes(fig, axis):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    low, high = sorted(axis.get_view_interval())
    ticks = zip(axis.get_major_ticks(), axis.get_majorticklocs(), strict=True)
    boxes = [
        tick.label1.get_window_extent(renderer)
        for tick, loc in ticks
        if low <= loc <= high and tick.label1.get_visible() and tick.label1.get_text()
    ]
    minor = [t for t in axis.get_minorticklabels() if t.get_text()]
    return boxes, minor


@pytest.mark.parametrize(
    "nn_low, nn_high", [(0.4, 3.0), (1e-3, 1e3), (0.9, 1.2)], ids=str
)
def test_log_axis_tick_labels_do_not_overlap(nn_low, nn_high):
    import matplotlib.pyplot as plt

    scores = _bulk_with_outliers()
    nn = np.geomspace(nn_low, nn_high, len(scores))
    display = MemorizationDisplay.from_scores(scores, nn_distance=nn, nn_xscale="log")
    for axis in (display.ax_.xaxis, display.scatter_ax_.xaxis):
        boxes, minor = _visible_label_boxes(display.figure_, axis)
        assert len(boxes) >= 2 and not minor
        boxes.sort(key=lambda b: b.x0)
        for left, right in zip(boxes[:-1], boxes[1:], strict=True):
            assert left.x1 <= right.x0
    plt.close("all")


def test_gallery_marks_significant_samples_and_says_when_none_is():
    import matplotlib.pyplot as plt

    from skmem.plotting import MemorizationDisplay

    rng = np.random.RandomState(0)
    X = rng.uniform(size=(30, 4))
    scores = rng.normal(size=30)
    memorized = np.zeros(30, bool)
    memorized[np.argsort(scores)[-2:]] = True  # the two highest
    display = MemorizationDisplay.from_scores(
        scores, X=X, image_shape=(2, 2), memorized=memorized, alpha=0.05, n_examples=4
    )
    titles = [ax.get_title() for ax in display.gallery_axes_[0]]
    assert [t.split("\n")[0].endswith(" *") for t in titles] == [1, 1, 0, 0]
    texts = [t.get_text() for t in display.figure_.texts]
    assert any("2 samples memorized beyond chance at FDR 5 %" in t for t in texts)
    plt.close(display.figure_)

    display = MemorizationDisplay.from_scores(
        scores, X=X, image_shape=(2, 2), memorized=np.zeros(30, bool), alpha=0.05
    )
    texts = [t.get_text() for t in display.figure_.texts]
    assert any("No sample is memorized beyond chance at FDR 5 %" in t for t in texts)
    assert not any("*" in ax.get_title() for ax in display.gallery_axes_[0])
    plt.close(display.figure_)


def test_membership_audit_display_draws_the_roc_on_log_axes():
    import matplotlib.pyplot as plt
    from sklearn.neighbors import KernelDensity

    from skmem import MemorizationScorer
    from skmem.plotting import MembershipAuditDisplay

    X = np.random.RandomState(0).normal(size=(80, 2))
    scorer = MemorizationScorer(
        KernelDensity(bandwidth=0.1), cv=4, n_repeats=2, random_state=0
    ).fit(X)
    audit = scorer.membership_audit()
    display = MembershipAuditDisplay.from_estimator(scorer, name="KDE")
    assert display.ax_.get_xscale() == display.ax_.get_yscale() == "log"
    np.testing.assert_array_equal(display.fpr, audit.fpr)
    assert f"AUC {audit.auc:.3f}" in display.ax_.get_legend().get_texts()[0].get_text()
    plt.close(display.figure_)
