"""Helpers shared by the displays: readable log axes and a fitted scorer's flags."""

import numpy as np


def _symlog_threshold(finite):
    """Where a symmetric log axis turns logarithmic: the spread of the bulk."""
    if finite.size < 2:
        return None
    q25, q75 = np.quantile(finite, [0.25, 0.75])
    spread = max(q75 - q25, np.abs(np.median(finite)) * 0.1)
    return float(spread) if spread > 0 else None


def _equal_bins(ax, values, n_bins):
    """Bin edges of equal width on ``ax``'s x scale, covering ``values``."""
    transform = ax.xaxis.get_transform()
    ends = transform.transform(np.array([values.min(), values.max()]))
    edges = np.linspace(ends[0], ends[1], n_bins + 1)
    edges = transform.inverted().transform(edges)
    edges[[0, -1]] = values.min(), values.max()  # exact, despite rounding
    return edges


def _readable_ticks(axis, scale, linthresh=None):
    """Few, plain tick labels on a log or symlog axis, so that none overlap.

    Labels go on 1 to 9 times powers of ten when the axis spans less than a
    decade, on 1, 2 and 5 times them below two decades, on powers of ten
    otherwise; :func:`_drop_overlapping_labels` then removes those that collide.
    """
    from matplotlib import ticker

    low, high = sorted(abs(v) for v in axis.get_view_interval())
    if scale == "symlog":
        low = max(low, linthresh)
    decades = np.log10(max(high, 1e-300) / max(low, 1e-300)) if low > 0 else 0.0
    if decades < 1:
        subs = np.arange(1.0, 10.0)
    else:
        subs = (1.0, 2.0, 5.0) if decades < 2 else (1.0,)
    if scale == "log":
        locator = ticker.LogLocator(base=10, subs=subs, numticks=7)
    else:
        locator = ticker.SymmetricalLogLocator(base=10, linthresh=linthresh, subs=subs)
        locator.numticks = 7
    axis.set_major_locator(locator)
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def _drop_overlapping_labels(axis, pad_px=6.0):
    """Keep the tick labels of an axis that fit side by side (one above the
    other on a y axis).

    Zero first, then powers of ten, then the others, each kept where its label
    (width estimated from its length and the font size) clears those kept.
    """
    from matplotlib import ticker

    low, high = sorted(axis.get_view_interval())
    ticks = [t for t in axis.get_major_locator()() if low <= t <= high]
    formatter = axis.get_major_formatter()
    labels = {t: formatter(t, 0) for t in ticks}
    figure = axis.axes.figure
    size = axis.get_ticklabels()[0].get_fontsize() if axis.get_ticklabels() else 10
    char_px = 0.6 * size * figure.dpi / 72
    to_px = axis.axes.transData.transform

    def priority(t):
        if t == 0:
            return 0
        mantissa = abs(t) / 10 ** np.floor(np.log10(abs(t)))
        return 1 if np.isclose(mantissa, 1) else 2

    vertical = axis.axis_name == "y"
    kept = []  # (low, high) in pixels along the axis
    chosen = []
    for t in sorted(ticks, key=priority):
        # Along a y axis a label takes its height (about the font size).
        x = to_px((0, t))[1] if vertical else to_px((t, 0))[0]
        half = 0.5 * (size * figure.dpi / 72 if vertical else len(labels[t]) * char_px)
        span = (x - half - pad_px / 2, x + half + pad_px / 2)
        if all(span[1] <= a or span[0] >= b for a, b in kept):
            kept.append(span)
            chosen.append(t)
    axis.set_major_locator(ticker.FixedLocator(sorted(chosen)))


def _model_name(scorer):
    estimator = getattr(scorer, "estimator", None)
    return type(estimator).__name__ if estimator is not None else None


def _scorer_flags(scorer, alpha):
    """The flagged records and the intervals of a fitted scorer, or None."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(scorer, "memorization_scores_")
    pvalues = getattr(scorer, "memorization_pvalues_", None)
    memorized = None
    if alpha is not None and pvalues is not None and np.isfinite(pvalues).any():
        memorized = scorer.memorized(alpha=alpha)
    ci = getattr(scorer, "memorization_ci_", None)
    if ci is not None and not np.isfinite(ci).any():
        ci = None
    return memorized, ci


# Where a label may go, in points from its point: beside it first, then in
# growing rings around it (with a leader line once it is away from the point).
_LABEL_OFFSETS = [(5, 3), (5, -10), (-5, 3), (-5, -10)] + [
    (round(r * np.cos(a)), round(r * np.sin(a)))
    for r in (16, 28, 42, 60)
    for a in np.linspace(np.pi / 4, 2 * np.pi + np.pi / 4, 8, endpoint=False)
]


def _place_labels(ax, points, texts, *, fontsize=8, avoid=(), markers=()):
    """Annotate ``points`` with ``texts`` so that no two labels overlap.

    Each label goes to the first offset of :data:`_LABEL_OFFSETS` where its
    box clears the labels already placed, the boxes in ``avoid`` and the
    ``markers`` (display coordinates); where the markers leave no room, to
    the first that clears the labels and ``avoid``; a label that fits
    nowhere is left out. Positions are taken from the figure as drawn now:
    lay the figure out first. Labels are kept out of the layout, so that
    placing them does not move the axes.

    Returns
    -------
    annotations : list of matplotlib Annotation
    missing : int
        How many labels found no free place.
    """
    canvas = ax.figure.canvas
    renderer = (
        canvas.get_renderer()
        if hasattr(canvas, "get_renderer")
        else ax.figure._get_renderer()  # canvases other than Agg's
    )
    placed = [box.padded(2) for box in avoid]
    markers = list(markers)
    annotations, missing = [], 0
    for xy, text in zip(points, texts, strict=True):
        for obstacles in (placed + markers, placed):
            annotation = _free_label(ax, xy, text, fontsize, obstacles, renderer)
            if annotation is not None:
                placed.append(_text_box(annotation, renderer).padded(1))
                annotations.append(annotation)
                break
        else:
            missing += 1
    return annotations, missing


def _free_label(ax, xy, text, fontsize, obstacles, renderer):
    """The first annotation of ``xy`` whose box clears ``obstacles``, or None."""
    for dx, dy in _LABEL_OFFSETS:
        away = abs(dx) > 5 or abs(dy) > 10
        annotation = ax.annotate(
            text,
            xy,
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=fontsize,
            ha="left" if dx >= 0 else "right",
            va="bottom" if dy >= 0 else "top",
            arrowprops=dict(arrowstyle="-", lw=0.5, color="dimgrey") if away else None,
        )
        annotation.set_in_layout(False)
        box = _text_box(annotation, renderer)
        if not any(box.overlaps(other) for other in obstacles):
            return annotation
        annotation.remove()
    return None


def _text_box(annotation, renderer):
    """The box of an annotation's text, without its leader line."""
    from matplotlib.text import Text

    return Text.get_window_extent(annotation, renderer)


def _marker_boxes(ax, points, radius_px):
    """Square boxes of ``radius_px`` around ``points`` (data), in display space."""
    from matplotlib.transforms import Bbox

    centres = ax.transData.transform(np.asarray(points, dtype=np.float64))
    return [
        Bbox([[x - radius_px, y - radius_px], [x + radius_px, y + radius_px]])
        for x, y in centres
    ]
