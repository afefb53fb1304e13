"""MemorizationDisplay: histogram, gallery and NN scatter of the scores."""

import numpy as np

from ._common import (
    _drop_overlapping_labels,
    _equal_bins,
    _readable_ticks,
    _symlog_threshold,
)


class MemorizationDisplay:
    """Memorization scores, drawn: histogram, most/least memorized, and NN distance.

    In the style of scikit-learn's displays: build it with
    :meth:`from_estimator` or :meth:`from_scores`, which also plot; the artists
    are in ``figure_`` and ``ax_``.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Memorization scores in nats.
    X : ndarray of shape (n_samples, n_features), default=None
        The samples, for the gallery.
    image_shape : tuple of int, default=None
        Shape of one sample as an image (``(8, 8)`` for digits); with ``X``,
        adds a gallery of the most and least memorized samples.
    nn_distance : ndarray of shape (n_samples,), default=None
        A nearest-neighbour statistic per sample (such as
        :func:`skmem.baselines.nearest_neighbor_distance_ratio`); adds a scatter
        plot of the score against it.
    name : str, default=None
        Name of the model, for titles.
    memorized : ndarray of bool, shape (n_samples,), default=None
        The samples memorized beyond chance (such as
        :meth:`MemorizationScorer.memorized <skmem.MemorizationScorer.memorized>`):
        the gallery marks them with a red frame and a star, and says so plainly
        when none of the most memorized samples is significant.
    alpha : float, default=None
        The false-discovery rate of ``memorized``, for the labels.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : matplotlib Axes
        The histogram.
    gallery_axes_ : ndarray of Axes or None
        Two rows: most memorized, least memorized.
    scatter_ax_ : matplotlib Axes or None
    quantile_lines_ : list of matplotlib Line2D
        The vertical markers at the quantiles on the histogram.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skmem.plotting import MemorizationDisplay
    >>> scores = np.random.RandomState(0).gamma(2.0, size=100)
    >>> display = MemorizationDisplay.from_scores(scores, name="demo")
    >>> len(display.quantile_lines_)
    3
    """

    def __init__(
        self,
        scores,
        *,
        X=None,
        image_shape=None,
        nn_distance=None,
        name=None,
        memorized=None,
        alpha=None,
    ):
        self.scores = np.asarray(scores, dtype=np.float64)
        self.X = None if X is None else np.asarray(X)
        self.image_shape = image_shape
        self.nn_distance = None if nn_distance is None else np.asarray(nn_distance)
        self.name = name
        self.memorized = None if memorized is None else np.asarray(memorized, bool)
        self.alpha = alpha

    @classmethod
    def from_estimator(
        cls,
        scorer,
        X=None,
        *,
        image_shape=None,
        nn_distance=None,
        name=None,
        alpha=0.05,
        ax=None,
        **kwargs,
    ):
        """Plot the ``memorization_scores_`` of a fitted MemorizationScorer.

        Parameters
        ----------
        scorer : MemorizationScorer
            Fitted.
        X : ndarray of shape (n_samples, n_features), default=None
            The training data, for the gallery.
        image_shape, nn_distance, name
            See the class parameters; ``name`` defaults to the estimator's class.
        alpha : float, default=0.05
            False-discovery rate of the samples marked as memorized, when the
            scorer has p-values (3 repeats or more); None marks none.
        ax : matplotlib Axes, default=None
            Draw only the histogram, on this axes.
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : MemorizationDisplay
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(scorer, "memorization_scores_")
        if name is None:
            estimator = getattr(scorer, "estimator", None)
            name = type(estimator).__name__ if estimator is not None else None
        memorized = None
        pvalues = getattr(scorer, "memorization_pvalues_", None)
        if alpha is not None and pvalues is not None and np.isfinite(pvalues).any():
            memorized = scorer.memorized(alpha=alpha)
        display = cls(
            scorer.memorization_scores_,
            X=X,
            image_shape=image_shape,
            nn_distance=nn_distance,
            name=name,
            memorized=memorized,
            alpha=alpha,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_scores(
        cls,
        scores,
        *,
        X=None,
        image_shape=None,
        nn_distance=None,
        name=None,
        memorized=None,
        alpha=None,
        ax=None,
        **kwargs,
    ):
        """Plot scores computed elsewhere (see the class parameters)."""
        display = cls(
            scores,
            X=X,
            image_shape=image_shape,
            nn_distance=nn_distance,
            name=name,
            memorized=memorized,
            alpha=alpha,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(
        self,
        ax=None,
        *,
        n_examples=8,
        quantiles=(0.5, 0.95, 0.99),
        bins=50,
        xscale="auto",
        nn_xscale="linear",
    ):
        """Draw the panels.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Draw only the histogram, on this axes. None makes a figure with
            every panel the data allows.
        n_examples : int, default=8
            Samples per gallery row.
        quantiles : tuple of float, default=(0.5, 0.95, 0.99)
            Quantiles marked on the histogram.
        bins : int, default=50
        xscale : {"auto", "linear", "symlog"}, default="auto"
            Score axis of the histogram. ``"symlog"`` is logarithmic beyond the
            spread of the bulk of the scores (linear within it), with bins of
            equal width on that axis, so that a few very large scores do not
            squash all the others into one bar. ``"auto"`` picks it when the
            range of the scores exceeds 20 times their interquartile range.
        nn_xscale : {"linear", "log"}, default="linear"
            Axis of the nearest-neighbour statistic in the scatter plot.

        Returns
        -------
        self : MemorizationDisplay
        """
        import matplotlib.pyplot as plt

        finite = self.scores[np.isfinite(self.scores)]
        gallery = self.X is not None and self.image_shape is not None
        scatter = self.nn_distance is not None
        if ax is None:
            n_cols = 2 if scatter else 1
            heights = [1.0, 0.9] if gallery else [1.0]
            fig = plt.figure(
                figsize=(5 * n_cols + (2 if gallery else 0), 3.4 * sum(heights))
            )
            grid = fig.add_gridspec(len(heights), n_cols, height_ratios=heights)
            ax = fig.add_subplot(grid[0, 0])
            self.scatter_ax_ = fig.add_subplot(grid[0, 1]) if scatter else None
            if gallery:
                sub = grid[1, :].subgridspec(2, n_examples)
                self.gallery_axes_ = np.array(
                    [
                        [fig.add_subplot(sub[r, c]) for c in range(n_examples)]
                        for r in (0, 1)
                    ]
                )
            else:
                self.gallery_axes_ = None
        else:
            fig = ax.figure
            self.scatter_ax_ = self.gallery_axes_ = None

        self._log_axes = []
        linthresh = _symlog_threshold(finite) if xscale != "linear" else None
        if xscale == "auto" and linthresh is not None:
            spread = np.subtract(*np.quantile(finite, [0.75, 0.25]))
            if np.ptp(finite) <= 20 * max(spread, np.finfo(float).tiny):
                linthresh = None
        self.xscale_ = "linear" if linthresh is None else "symlog"
        if linthresh is not None:
            ax.set_xscale("symlog", linthresh=linthresh)
            bins = _equal_bins(ax, finite, bins)
        ax.hist(finite, bins=bins, color="tab:blue", alpha=0.8)
        if linthresh is not None:
            _readable_ticks(ax.xaxis, "symlog", linthresh=linthresh)
            self._log_axes.append(ax.xaxis)
        self.quantile_lines_ = []
        for q, style in zip(quantiles, ("-", "--", ":"), strict=False):
            value = np.quantile(finite, q) if finite.size else np.nan
            self.quantile_lines_.append(
                ax.axvline(
                    value, color="black", ls=style, lw=1, label=f"q{q:g} = {value:.2f}"
                )
            )
        ax.set_xlabel("memorization score M (nats)")
        ax.set_ylabel("samples")
        ax.set_title(f"{self.name}: memorization" if self.name else "memorization")
        ax.legend(fontsize="small")

        if self.scatter_ax_ is not None:
            self.scatter_ax_.scatter(self.nn_distance, self.scores, s=4, alpha=0.5)
            if nn_xscale == "log":
                self.scatter_ax_.set_xscale("log")
                _readable_ticks(self.scatter_ax_.xaxis, "log")
                self._log_axes.append(self.scatter_ax_.xaxis)
            self.scatter_ax_.set_xlabel("nearest-neighbour statistic")
            self.scatter_ax_.set_ylabel("M (nats)")
            self.scatter_ax_.set_title("M against the nearest-neighbour test")

        if self.gallery_axes_ is not None:
            order = np.argsort(np.where(np.isnan(self.scores), -np.inf, self.scores))
            rows = (order[::-1][:n_examples], order[:n_examples])
            for r, (indices, label) in enumerate(
                zip(rows, ("most", "least"), strict=True)
            ):
                for c, axis in enumerate(self.gallery_axes_[r]):
                    axis.set_xticks([])
                    axis.set_yticks([])
                    if c < len(indices):
                        i = indices[c]
                        axis.imshow(self.X[i].reshape(self.image_shape), cmap="gray_r")
                        star = ""
                        if self.memorized is not None and self.memorized[i]:
                            star = " *"
                            for spine in axis.spines.values():
                                spine.set(color="red", linewidth=2)
                        title = f"#{i}{star}\n{self.scores[i]:.1f}"
                        axis.set_title(title, fontsize=7)
                self.gallery_axes_[r][0].set_ylabel(f"{label}\nmemorized", fontsize=8)
            if self.memorized is not None:
                self.gallery_axes_[0][0].figure.text(
                    0.01,
                    0.01,
                    self._significance_note(rows[0]),
                    fontsize=8,
                    color="red" if self.memorized.any() else "black",
                )
        fig.tight_layout(rect=(0, 0.03, 1, 1) if self.memorized is not None else None)
        for axis in self._log_axes:
            _drop_overlapping_labels(axis)
        self.figure_, self.ax_ = fig, ax
        return self

    def _significance_note(self, shown):
        """One line under the gallery: how many samples are memorized beyond chance."""
        rate = (
            f"FDR {100 * self.alpha:g} %"
            if self.alpha is not None
            else "the chosen FDR"
        )
        n_flagged = int(self.memorized.sum())
        if n_flagged == 0:
            return (
                f"No sample is memorized beyond chance at {rate}: the most memorized "
                "samples shown are not significant."
            )
        marked = int(self.memorized[shown].sum())
        samples = "1 sample" if n_flagged == 1 else f"{n_flagged} samples"
        shown_text = (
            "none of them is among those shown"
            if marked == 0
            else f"* and a red frame mark the {marked} shown"
        )
        return f"{samples} memorized beyond chance at {rate}; {shown_text}."
