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


# Why a record is flagged: in-model against out-model log-likelihood.


@pytest.fixture(scope="module")
def planted():
    """A KDE on a Gaussian bulk with two isolated points (memorized, flagged)
    and one at the edge (flagged by the test, but not far above the diagonal)."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(200, 2)), [[6.0, 6.0], [-6.0, 6.0], [3.0, -2.5]]])
    scorer = MemorizationScorer(
        KernelDensity(bandwidth=1.0), cv=5, n_repeats=5, random_state=0
    ).fit(X)
    return X, scorer


def _offsets(collection):
    return {tuple(p) for p in np.asarray(collection.get_offsets())}


def test_explanation_display_draws_the_scorers_numbers(planted):
    import matplotlib.pyplot as plt

    from skmem.plotting import MemorizationExplanationDisplay

    _, scorer = planted
    U, V = scorer.in_log_likelihood_, scorer.out_log_likelihood_
    display = MemorizationExplanationDisplay.from_estimator(scorer)
    # Every record is drawn once, at (V, U), in the group of its category.
    drawn = set()
    for category, collection in display.scatters_.items():
        rows = np.flatnonzero(display.categories_ == category)
        assert _offsets(collection) == set(zip(V[rows], U[rows], strict=True))
        drawn |= set(rows)
    assert drawn == set(range(len(U)))
    # The flags are the scorer's, and the planted points are memorized.
    flagged = np.flatnonzero(scorer.memorized(alpha=0.05))
    np.testing.assert_array_equal(np.sort(display.flagged_), flagged)
    assert {200, 201, 202} <= set(flagged)
    assert set(np.flatnonzero(display.categories_ == "memorized")) == {200, 201}
    # The diagonal is U = V; the bulk line sits at the median M above it.
    x, y = display.diagonal_.get_data()
    np.testing.assert_allclose(x, y)
    x, y = display.bulk_line_.get_data()
    np.testing.assert_allclose(y - x, np.median(scorer.memorization_scores_))
    # One interval per flagged record, highest M first, at its V, spanning
    # V + memorization_ci_ (the interval of M as heights above the diagonal).
    M = scorer.memorization_scores_
    np.testing.assert_array_equal(
        display.ci_indices_, flagged[np.argsort(-M[flagged], kind="stable")]
    )
    segments = display.ci_segments_
    i = display.ci_indices_
    np.testing.assert_allclose(segments[:, :, 0], np.column_stack([V[i], V[i]]))
    np.testing.assert_allclose(segments[:, 0, 1], V[i] + scorer.memorization_ci_[i, 0])
    np.testing.assert_allclose(segments[:, 1, 1], V[i] + scorer.memorization_ci_[i, 1])
    assert (segments[:, 0, 1] <= U[i]).all() and (U[i] <= segments[:, 1, 1]).all()
    plt.close("all")


def test_explanation_categories_on_a_constructed_case():
    from skmem.plotting import explanation_categories

    rng = np.random.RandomState(0)
    U = rng.normal(-10.0, 1.0, 300)
    V = U - rng.normal(0.2, 0.1, 300)
    U[0], V[0] = -10.0, -30.0  # typical in, far lower out: memorized
    U[1], V[1] = -25.0, -25.3  # low in both, on the diagonal: an outlier
    U[2], V[2] = -24.0, -40.0  # low in both but far above it: memorized
    U[3], V[3] = -np.inf, -np.inf  # no point to draw
    categories = explanation_categories(U, V)
    assert list(categories[:4]) == ["memorized", "outlier", "memorized", "undefined"]
    assert (categories[4:] == "typical").mean() > 0.9
    assert (categories[4:] == "memorized").sum() == 0
    # Outliers must be low in both; far below the diagonal is not memorized.
    U[1], V[1] = -25.0, -10.0  # low in, typical out: M = -15
    assert explanation_categories(U, V)[1] == "typical"


def test_explanation_display_planted_outlier_is_not_memorized():
    import matplotlib.pyplot as plt
    from sklearn.mixture import GaussianMixture

    from skmem.plotting import MemorizationExplanationDisplay

    # One Gaussian on a bulk plus one point 4.5 sd out: the fit barely moves
    # when the point is seen, so it is low in both and not far above the
    # diagonal; a KDE of small bandwidth memorizes the same point.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(300, 2)), [[4.5, 0.0]]])
    gmm = MemorizationScorer(GaussianMixture(1), cv=5, random_state=0).fit(X)
    display = MemorizationExplanationDisplay.from_estimator(gmm)
    assert display.categories_[-1] == "outlier"
    assert display.memorized is None and display.flagged_.size == 0
    assert display.ci_indices_.size == 0  # no repeats: no interval
    kde = MemorizationScorer(KernelDensity(bandwidth=0.3), cv=5, random_state=0)
    display = MemorizationExplanationDisplay.from_estimator(kde.fit(X))
    assert display.categories_[-1] == "memorized"
    plt.close("all")


def test_explanation_display_heavy_tails_and_plain_savefig(tmp_path):
    import matplotlib.pyplot as plt

    from skmem.plotting import MemorizationExplanationDisplay

    rng = np.random.RandomState(0)
    U = rng.normal(-3.0, 1.0, 300)
    V = U - 0.1
    V[:3] = [-60.0, -300.0, -1500.0]  # the heavy tail of issue 20
    display = MemorizationExplanationDisplay(U, V, name="GMM").plot()
    assert display.scale_ == "symlog" and display.ax_.get_yscale() == "symlog"
    linear = MemorizationExplanationDisplay(U, V).plot(scale="linear")
    assert linear.scale_ == "linear"
    assert MemorizationExplanationDisplay(U[3:], V[3:]).plot().scale_ == "linear"
    # A plain savefig keeps the axis labels, title and legend on the canvas.
    fig = display.figure_
    fig.savefig(tmp_path / "plain.png")
    renderer = fig.canvas.get_renderer()
    inside = fig.bbox.padded(1.0)
    for artist in (
        display.ax_.xaxis.label,
        display.ax_.yaxis.label,
        display.ax_.title,
        display.ax_.get_legend(),
    ):
        box = artist.get_window_extent(renderer)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1
    plt.close("all")


def test_nearest_neighbors_display_matches_brute_force():
    import matplotlib.pyplot as plt

    from skmem.plotting import NearestNeighborsDisplay

    rng = np.random.RandomState(0)
    X = rng.uniform(size=(60, 4))
    X[1] = X[0]  # a duplicate: its nearest other record is at distance 0
    scorer = MemorizationScorer(KernelDensity(bandwidth=0.2), cv=3).fit(X)
    display = NearestNeighborsDisplay.from_estimator(
        scorer, X, image_shape=(2, 2), indices=[0, 1, 5], n_neighbors=3
    )
    for r, i in enumerate([0, 1, 5]):
        d = np.sqrt(((X - X[i]) ** 2).sum(axis=1))
        d[i] = np.inf
        np.testing.assert_allclose(display.distances[r], np.sort(d)[:3])
        assert i not in display.neighbors[r]
        np.testing.assert_allclose(d[display.neighbors[r]], display.distances[r])
    assert display.neighbors[0, 0] == 1 and display.neighbors[1, 0] == 0
    assert display.axes_.shape == (3, 4)
    image = display.axes_[2, 1].images[0].get_array()
    np.testing.assert_array_equal(image, X[display.neighbors[2, 0]].reshape(2, 2))
    # By default: the highest scores, without p-values (no repeats).
    default = NearestNeighborsDisplay.from_estimator(
        scorer, X, image_shape=(2, 2), n_records=2, n_neighbors=2
    )
    top = np.argsort(-scorer.memorization_scores_, kind="stable")[:2]
    np.testing.assert_array_equal(default.indices, top)
    with pytest.raises(ValueError, match="fitted on 60"):
        NearestNeighborsDisplay.from_estimator(scorer, X[:10], image_shape=(2, 2))
    plt.close("all")


def test_explanation_figures_saves_files_and_captions(planted, tmp_path):
    from skmem._figures import explanation_figures

    X, scorer = planted
    saved = explanation_figures(scorer, tmp_path / "report", name="KDE", prefix="k-")
    assert [name for name, _ in saved] == ["k-explanation.png"]
    n_flagged = int(scorer.memorized().sum())
    assert f"{n_flagged} records are flagged at FDR 5 %" in saved[0][1]
    assert "2 records lie far above it" in saved[0][1]
    saved = explanation_figures(scorer, tmp_path, X=X, image_shape=(1, 2))
    assert [name for name, _ in saved] == ["explanation.png", "neighbours.png"]
    assert "flagged records" in saved[1][1]
    for name, _ in saved:
        assert (tmp_path / name).stat().st_size > 1000


def test_each_display_lives_in_its_own_module_of_the_plotting_package():
    import skmem.plotting as plotting

    assert hasattr(plotting, "__path__"), "skmem.plotting must be a package"
    modules = [getattr(plotting, name).__module__ for name in plotting.__all__]
    assert len(set(modules)) == len(plotting.__all__), modules
    assert all(m.startswith("skmem.plotting._") for m in modules), modules
    # Names that were importable from the single module before the move still are.
    for name in (
        "beyond_bulk",
        "explanation_categories",
        "mean_nll_curves",
        "sweep_setting_columns",
        "MEMORIZED",
        "OUTLIER",
        "TYPICAL",
        "UNDEFINED",
    ):
        assert hasattr(plotting, name), name


def _crowded_display(n_close=5, bulk_m=0.1, outlier_quantile=0.05, ci_width=None):
    """200 typical records and ``n_close`` memorized ones at almost one point;
    ``ci_width``: each record's interval of M, that wide around its M."""
    from skmem.plotting import MemorizationExplanationDisplay

    rng = np.random.RandomState(0)
    U = rng.normal(-5.0, 1.0, 200)
    V = U - bulk_m + rng.normal(0, 0.01, 200)
    U = np.append(U, -5.0 + rng.normal(0, 1e-3, n_close))
    V = np.append(V, -12.0 + rng.normal(0, 1e-3, n_close))
    memorized = np.zeros(len(U), bool)
    memorized[200:] = True
    ci = None
    if ci_width is not None:
        ci = (U - V)[:, None] + [-ci_width / 2, ci_width / 2]
    return MemorizationExplanationDisplay(
        U,
        V,
        memorized=memorized,
        memorization_ci=ci,
        alpha=0.05,
        outlier_quantile=outlier_quantile,
    )


def _legend_texts(display):
    return [t.get_text() for t in display.ax_.get_legend().get_texts()]


def test_explanation_labels_of_records_at_one_point_do_not_overlap():
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    display = _crowded_display().plot(n_labels=5)
    fig = display.figure_
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    # The text of each label (a moved label's leader line may cross others).
    boxes = [Text.get_window_extent(label, renderer) for label in display.labels_]
    assert len(boxes) == 5
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            assert not boxes[a].overlaps(boxes[b]), (a, b)
    # The legend sits outside the axes: it hides no record and no label.
    legend = display.ax_.get_legend().get_window_extent(renderer)
    assert not legend.overlaps(display.ax_.get_window_extent(renderer))
    plt.close("all")


def test_explanation_legend_has_no_entry_without_something_to_see():
    import matplotlib.pyplot as plt

    # No outlier (none is below the 0 quantile), and a bulk M of 0.004 nats:
    # the bulk line lies on the diagonal, closer than the width of the lines.
    display = _crowded_display(bulk_m=0.004, outlier_quantile=0.0).plot()
    texts = _legend_texts(display)
    assert not any(t.startswith("outlier") for t in texts), texts
    assert any("typical" in t for t in texts) and any("memorized" in t for t in texts)
    bulk = [t for t in texts if "bulk" in t]
    assert len(bulk) == 1 and bulk[0].startswith("U = V (M = 0), with the bulk"), texts
    # With outliers, their entry is back.
    with_outliers = _legend_texts(_crowded_display().plot())
    assert any(t.startswith("outlier") for t in with_outliers)
    # The groups' markers are opaque in the legend, however faint the points.
    from matplotlib.collections import PathCollection

    handles = [
        h
        for h in display.ax_.get_legend().legend_handles
        if isinstance(h, PathCollection)
    ]
    assert handles and all(h.get_alpha() == 1.0 for h in handles)
    # A bulk far enough from the diagonal keeps its own entry and line.
    apart = _crowded_display(bulk_m=2.0).plot()
    assert any(t.startswith("bulk: M = median 2") for t in _legend_texts(apart))
    # Intervals shorter than the circles get no entry of their own; the flags'
    # entry says where they are. Long ones keep theirs.
    short = _legend_texts(_crowded_display(ci_width=1e-3).plot())
    assert not any(t.startswith("95 % interval") for t in short), short
    assert any(t.endswith("lie within the circles)") for t in short), short
    long = _legend_texts(_crowded_display(ci_width=4.0).plot())
    assert any(t.startswith("95 % interval") for t in long), long
    assert not any("within the circles" in t for t in long), long
    plt.close("all")
