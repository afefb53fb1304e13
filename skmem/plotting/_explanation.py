"""MemorizationExplanationDisplay: why records are flagged."""

import numpy as np

from ._common import (
    _drop_overlapping_labels,
    _marker_boxes,
    _model_name,
    _place_labels,
    _readable_ticks,
    _scorer_flags,
)

# Categories of MemorizationExplanationDisplay, in drawing order.
MEMORIZED, OUTLIER, TYPICAL, UNDEFINED = "memorized", "outlier", "typical", "undefined"


def beyond_bulk(scores, n_mad=3.0, min_nats=1.0):
    """Scores far above the bulk: above the median by more than a margin.

    The margin is the larger of ``n_mad`` robust standard deviations (1.4826
    times the median absolute deviation of the finite scores) and ``min_nats``
    (by default the density at the record is at least e times higher, relative
    to the bulk, when the model has seen it). ``+inf`` is beyond, NaN is not.
    A description of where a record lies, not a test.
    """
    scores = np.asarray(scores, dtype=np.float64)
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return scores == np.inf
    median = np.median(finite)
    spread = 1.4826 * np.median(np.abs(finite - median))
    with np.errstate(invalid="ignore"):
        return scores > median + max(n_mad * spread, min_nats)


def explanation_categories(
    in_log_likelihood, out_log_likelihood, *, n_mad=3.0, outlier_quantile=0.05
):
    """Memorized, outlier or typical: where each record lies (see the display).

    Parameters
    ----------
    in_log_likelihood, out_log_likelihood : ndarray of shape (n_samples,)
        U and V of every record.
    n_mad : float, default=3.0
        A record is memorized when ``M = U - V`` is beyond the bulk: above the
        median M by more than ``n_mad`` robust standard deviations, and by
        more than 1 nat (:func:`beyond_bulk`).
    outlier_quantile : float, default=0.05
        A record not memorized is an outlier when both its U and its V are
        below this quantile of all records' U and V.

    Returns
    -------
    categories : ndarray of str, shape (n_samples,)
        ``"memorized"``, ``"outlier"``, ``"typical"``, or ``"undefined"``
        where U or V is not finite (no point to draw).
    """
    U = np.asarray(in_log_likelihood, dtype=np.float64)
    V = np.asarray(out_log_likelihood, dtype=np.float64)
    drawn = np.isfinite(U) & np.isfinite(V)
    categories = np.full(U.shape, UNDEFINED, dtype=object)
    if not drawn.any():
        return categories
    categories[drawn] = TYPICAL
    with np.errstate(invalid="ignore"):
        low_in = U < np.quantile(U[drawn], outlier_quantile)
        low_out = V < np.quantile(V[drawn], outlier_quantile)
        far = beyond_bulk(np.where(drawn, U - V, np.nan), n_mad)
    categories[drawn & low_in & low_out] = OUTLIER
    categories[drawn & far] = MEMORIZED
    return categories


class MemorizationExplanationDisplay:
    """Why a record is flagged: its in-model against its out-model log-likelihood.

    Each record is a point at (V, U): ``out_log_likelihood_`` (the density the
    models that held it out give it) across, ``in_log_likelihood_`` (the models
    that trained on it) up. Its memorization score ``M = U - V`` is its height
    above the diagonal ``U = V``. Where a record lies puts it in one of three
    groups (:func:`explanation_categories`):

    - **memorized** (red): far above the diagonal, its M beyond the bulk of
      the scores. The models give the record a high density only when they
      have seen it.
    - **outliers** (grey squares, lower left): not memorized and low in both.
      The record is atypical, but seeing it does not change what the model
      says about it: "just an outlier".
    - **typical** records (blue): near the diagonal, at high densities.

    The flagged records (the test of
    :meth:`MemorizationScorer.memorized <skmem.MemorizationScorer.memorized>`)
    are circled in black, and a vertical bar through each shows the 95 %
    interval of its M (``memorization_ci_``) as a range of heights above the
    diagonal: a flag is well founded when the bar clears the dashed line of the
    bulk's median M. A red point without a circle is far above the diagonal
    but not significant (its M varies too much between repeats); a circle
    around a blue point is a small effect measured precisely.

    Build it with :meth:`from_estimator` (a fitted
    :class:`~skmem.MemorizationScorer`), which plots.

    Parameters
    ----------
    in_log_likelihood, out_log_likelihood : ndarray of shape (n_samples,)
        U and V of every record, in nats.
    memorized : ndarray of bool, shape (n_samples,), default=None
        The flagged records; None (a run with fewer than 3 repeats has no
        test) circles none.
    memorization_ci : ndarray of shape (n_samples, 2), default=None
        Interval of M per record, drawn for the flagged ones.
    n_mad, outlier_quantile : float, default=3.0, 0.05
        Where the groups part (:func:`explanation_categories`).
    name : str, default=None
        Name of the model, for the title.
    alpha : float, default=None
        The false-discovery rate of ``memorized``, for the legend.

    Attributes
    ----------
    categories_ : ndarray of str, shape (n_samples,)
        ``"memorized"``, ``"outlier"``, ``"typical"`` or ``"undefined"`` (U or
        V not finite: not drawn).
    scatters_ : dict
        Category to its matplotlib PathCollection.
    flagged_ : ndarray of int
        The flagged records that are drawn, circled.
    diagonal_ : matplotlib Line2D
        ``U = V`` (M = 0).
    bulk_line_ : matplotlib Line2D
        ``U = V + median(M)``: the bulk's memorization, against which the
        default test judges each record.
    ci_indices_ : ndarray of int
        The records whose interval is drawn: the flagged ones (at most
        ``max_intervals``, highest M first), or, when none is flagged, the
        ``n_labels`` highest scores, so that one sees why they are not.
    ci_segments_ : ndarray of shape (n_intervals, 2, 2)
        For each of them, the bar's two ends ``[[V, V + low], [V, V + high]]``.
    labels_ : list of matplotlib Annotation
        Record numbers next to the highest-scored memorized or flagged records.
    scale_ : {"linear", "symlog"}
        The scale of both axes.
    figure_ : matplotlib Figure
    ax_ : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.neighbors import KernelDensity
    >>> from skmem import MemorizationScorer
    >>> from skmem.plotting import MemorizationExplanationDisplay
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(200, 2)), [[6.0, 6.0], [-6.0, 6.0]]])
    >>> scorer = MemorizationScorer(
    ...     KernelDensity(bandwidth=1.0), cv=5, n_repeats=5, random_state=0
    ... ).fit(X)
    >>> display = MemorizationExplanationDisplay.from_estimator(scorer)
    >>> np.flatnonzero(display.categories_ == "memorized")
    array([200, 201])
    """

    def __init__(
        self,
        in_log_likelihood,
        out_log_likelihood,
        *,
        memorized=None,
        memorization_ci=None,
        n_mad=3.0,
        outlier_quantile=0.05,
        name=None,
        alpha=None,
    ):
        self.in_log_likelihood = np.asarray(in_log_likelihood, dtype=np.float64)
        self.out_log_likelihood = np.asarray(out_log_likelihood, dtype=np.float64)
        self.memorized = None if memorized is None else np.asarray(memorized, bool)
        self.memorization_ci = (
            None
            if memorization_ci is None
            else np.asarray(memorization_ci, dtype=np.float64)
        )
        self.n_mad = n_mad
        self.outlier_quantile = outlier_quantile
        self.name = name
        self.alpha = alpha

    @classmethod
    def from_estimator(
        cls,
        scorer,
        *,
        alpha=0.05,
        n_mad=3.0,
        outlier_quantile=0.05,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot the records of a fitted :class:`~skmem.MemorizationScorer`.

        Parameters
        ----------
        scorer : MemorizationScorer
            Fitted.
        alpha : float, default=0.05
            False-discovery rate of the flags (``scorer.memorized(alpha)``),
            when the scorer has p-values (3 repeats or more).
        n_mad, outlier_quantile, name
            See the class parameters; ``name`` defaults to the estimator's class.
        ax : matplotlib Axes, default=None
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : MemorizationExplanationDisplay
        """
        memorized, ci = _scorer_flags(scorer, alpha)
        display = cls(
            scorer.in_log_likelihood_,
            scorer.out_log_likelihood_,
            memorized=memorized,
            memorization_ci=ci,
            n_mad=n_mad,
            outlier_quantile=outlier_quantile,
            name=_model_name(scorer) if name is None else name,
            alpha=alpha if memorized is not None else None,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, n_labels=3, max_intervals=50, scale="auto"):
        """Draw the records, the diagonal, the bulk line, flags and intervals.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            None makes a figure with constrained layout, so that a plain
            ``savefig`` keeps every label.
        n_labels : int, default=3
            Write the record number next to this many of the highest-scored
            memorized or flagged records.
        max_intervals : int, default=50
            Draw the intervals of at most this many flagged records.
        scale : {"auto", "linear", "symlog"}, default="auto"
            Scale of both axes. ``"symlog"`` is logarithmic beyond the spread
            of the bulk of V, so that a few records with very low
            log-likelihoods do not squash the others into a corner; the
            diagonal stays straight. ``"auto"`` picks it when the range of U
            and V exceeds 20 times the interquartile range of V.

        Returns
        -------
        self : MemorizationExplanationDisplay
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 5.4), layout="constrained")
        U, V = self.in_log_likelihood, self.out_log_likelihood
        self.categories_ = explanation_categories(
            U, V, n_mad=self.n_mad, outlier_quantile=self.outlier_quantile
        )
        drawn = self.categories_ != UNDEFINED
        M = np.where(drawn, U - np.where(drawn, V, 0.0), np.nan)
        values = np.concatenate([U[drawn], V[drawn]])
        low, high = (values.min(), values.max()) if values.size else (-1.0, 0.0)
        linthresh = None
        if scale != "linear" and drawn.sum() > 1:
            spread = np.subtract(*np.quantile(V[drawn], [0.75, 0.25]))
            linthresh = max(float(spread), 1e-3)
            if scale == "auto" and high - low <= 20 * linthresh:
                linthresh = None
        self.scale_ = "linear" if linthresh is None else "symlog"
        if linthresh is not None:
            ax.set_xscale("symlog", linthresh=linthresh)
            ax.set_yscale("symlog", linthresh=linthresh)

        labels = {
            TYPICAL: "typical",
            OUTLIER: f"outlier: low in both (below q{self.outlier_quantile:g})",
            MEMORIZED: f"memorized: M > median + max({self.n_mad:g} robust sd, 1)",
        }
        styles = {
            TYPICAL: dict(color="tab:blue", s=8, alpha=0.45),
            OUTLIER: dict(color="dimgrey", s=14, alpha=0.8, marker="s"),
            MEMORIZED: dict(color="tab:red", s=16, alpha=0.9),
        }
        self.scatters_ = {}
        for category, style in styles.items():
            rows = self.categories_ == category
            # An empty group would have an entry in the legend and nothing
            # in the plot: it gets none.
            label = f"{labels[category]}: {int(rows.sum())}" if rows.any() else None
            scatter = ax.scatter(V[rows], U[rows], label=label, **style)
            self.scatters_[category] = scatter
        flagged = np.zeros(len(U), bool) if self.memorized is None else self.memorized
        self.flagged_ = np.flatnonzero(flagged & drawn)
        circles = None
        if self.memorized is not None:
            rate = "" if self.alpha is None else f" at FDR {100 * self.alpha:g} %"
            circles = ax.scatter(
                V[self.flagged_],
                U[self.flagged_],
                s=70,
                facecolors="none",
                edgecolors="black",
                linewidths=1,
                zorder=4,
                label=f"flagged by the test{rate}: {self.flagged_.size}"
                if self.flagged_.size
                else None,
            )

        ends = np.linspace(low, high, 200)
        (self.diagonal_,) = ax.plot(
            ends[[0, -1]], ends[[0, -1]], color="black", lw=1, label="U = V (M = 0)"
        )
        bulk = float(np.median(M[drawn])) if drawn.any() else 0.0
        (self.bulk_line_,) = ax.plot(
            ends,
            ends + bulk,
            color="black",
            ls="--",
            lw=1,
            label=f"bulk: M = median {bulk:.2f}",
        )

        order = np.flatnonzero(drawn)
        order = order[np.argsort(-M[order], kind="stable")]
        if self.memorization_ci is None:
            self.ci_indices_ = np.array([], dtype=int)
        elif self.flagged_.size:
            self.ci_indices_ = order[flagged[order]][:max_intervals]
        else:
            self.ci_indices_ = order[:n_labels]
        ci = (
            self.memorization_ci[self.ci_indices_]
            if self.ci_indices_.size
            else np.empty((0, 2))
        )
        keep = np.isfinite(ci).all(axis=1)
        self.ci_indices_ = self.ci_indices_[keep]
        x = V[self.ci_indices_]
        self.ci_segments_ = np.stack(
            [
                np.column_stack([x, x + ci[keep, 0]]),
                np.column_stack([x, x + ci[keep, 1]]),
            ],
            axis=1,
        )
        bars = None
        if len(self.ci_segments_):
            bars = ax.vlines(
                x,
                self.ci_segments_[:, 0, 1],
                self.ci_segments_[:, 1, 1],
                color="dimgrey",
                lw=1.2,
                alpha=0.7,
                label="95 % interval of M, above the diagonal",
            )
        notable = order[(self.categories_[order] == MEMORIZED) | flagged[order]]
        if linthresh is not None:
            _readable_ticks(ax.xaxis, "symlog", linthresh=linthresh)
            _readable_ticks(ax.yaxis, "symlog", linthresh=linthresh)
        ax.set_xlabel("out-model log-likelihood V (nats): models that held it out")
        ax.set_ylabel("in-model log-likelihood U (nats): models that saw it")
        title = "Why records are flagged: memorized, outlier or typical"
        ax.set_title(f"{self.name}: {title}" if self.name else title, fontsize=10)
        n_undefined = int((~drawn).sum())
        if n_undefined:
            ax.text(
                0.01,
                0.99,
                f"{n_undefined} records with infinite U or V not drawn",
                transform=ax.transAxes,
                va="top",
                fontsize=7,
            )
        figure = ax.figure
        # Below the axes, where it hides no record and no label.
        self.legend_ = self._legend(ax)
        figure.canvas.draw()  # lay out, so that pixel positions are final
        # Entries whose lines cannot be seen say where they are instead.
        relabel = False
        if self._bulk_on_diagonal(ax, ends, bulk):
            # Closer than the width of the lines: one entry says both.
            self.bulk_line_.set_label(None)
            self.diagonal_.set_label(
                f"U = V (M = 0), with the bulk: median M {bulk:.2f}"
            )
            relabel = True
        diameter = np.sqrt(70.0) * figure.dpi / 72  # of a flagged record's circle
        if bars is not None and self._longest_bar_px(ax) < diameter:
            # Every interval is shorter than the circle around its record.
            bars.set_label(None)
            if circles is not None and self.flagged_.size:
                circles.set_label(
                    circles.get_label() + " (their 95 % intervals of M lie "
                    "within the circles)"
                )
            relabel = True
        if relabel:
            self.legend_.remove()
            self.legend_ = self._legend(ax)
            figure.canvas.draw()
        if linthresh is not None:
            _drop_overlapping_labels(ax.xaxis)
            _drop_overlapping_labels(ax.yaxis)
        shown = notable[:n_labels]
        # Labels keep clear of each other, and of the marked records where
        # there is room (a circle of s=70 has a radius of 4.2 points).
        marked = np.flatnonzero(drawn & ((self.categories_ == MEMORIZED) | flagged))
        radius = 0.5 * np.sqrt(70.0) * figure.dpi / 72
        self.labels_, _ = _place_labels(
            ax,
            np.column_stack([V[shown], U[shown]]),
            [f"#{i}" for i in shown],
            markers=_marker_boxes(ax, np.column_stack([V[marked], U[marked]]), radius),
        )
        self.ax_, self.figure_ = ax, figure
        return self

    @staticmethod
    def _legend(ax):
        """The legend under the axes, its markers opaque and large enough to see."""
        handles, texts = ax.get_legend_handles_labels()
        legend = ax.legend(
            handles,
            texts,
            fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncols=2,
            frameon=False,
        )
        from matplotlib.collections import PathCollection

        # legend_handles from matplotlib 3.7, legendHandles before.
        handles = getattr(legend, "legend_handles", None) or legend.legendHandles
        for handle in handles:
            if isinstance(handle, PathCollection):  # groups of records: faint, small
                handle.set_alpha(1.0)
                handle.set_sizes([max(24.0, float(np.max(handle.get_sizes())))])
        return legend

    def _longest_bar_px(self, ax):
        """The longest interval bar as drawn, in pixels."""
        segments = self.ci_segments_
        low = ax.transData.transform(segments[:, 0, :])
        high = ax.transData.transform(segments[:, 1, :])
        return float(np.max(np.abs(high[:, 1] - low[:, 1])))

    @staticmethod
    def _bulk_on_diagonal(ax, ends, bulk, min_px=3.0):
        """Whether the bulk line is drawn within ``min_px`` pixels of the diagonal
        everywhere, so that it cannot be told from it."""
        diagonal = ax.transData.transform(np.column_stack([ends, ends]))
        shifted = ax.transData.transform(np.column_stack([ends, ends + bulk]))
        return bool(np.max(np.abs(shifted[:, 1] - diagonal[:, 1])) < min_px)
