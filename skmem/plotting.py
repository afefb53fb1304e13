"""Display objects for memorization scores (matplotlib, imported on use)."""

import numpy as np

__all__ = [
    "MembershipAuditDisplay",
    "MemorizationCurveDisplay",
    "MemorizationDisplay",
    "MemorizationExplanationDisplay",
    "MemorizationTradeoffDisplay",
    "NearestNeighborsDisplay",
]


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
    """Keep the tick labels of a horizontal axis that fit side by side.

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

    kept = []  # (left, right)
    chosen = []
    for t in sorted(ticks, key=priority):
        x = to_px((t, 0))[0]
        half = 0.5 * len(labels[t]) * char_px
        span = (x - half - pad_px / 2, x + half + pad_px / 2)
        if all(span[1] <= a or span[0] >= b for a, b in kept):
            kept.append(span)
            chosen.append(t)
    axis.set_major_locator(ticker.FixedLocator(sorted(chosen)))


class MembershipAuditDisplay:
    """ROC curve of a membership audit, on log axes as that literature draws it.

    Build it with :meth:`from_estimator` (a fitted
    :class:`~skmem.MemorizationScorer`) or :meth:`from_audit` (the Bunch of
    :meth:`~skmem.MemorizationScorer.membership_audit`); both plot. Log axes
    show the low false-positive rates at which an attack matters (Carlini et
    al., 2022); the diagonal is chance.

    Parameters
    ----------
    fpr, tpr : ndarray
        The ROC curve.
    auc : float
    tpr_at_fpr : dict, default=None
        True-positive rates at chosen false-positive rates, marked on the curve.
    name : str, default=None
        Name of the model, for the legend.

    Attributes
    ----------
    figure_ : matplotlib Figure
    ax_ : matplotlib Axes
    line_ : matplotlib Line2D
        The ROC curve.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.neighbors import KernelDensity
    >>> from skmem import MemorizationScorer
    >>> from skmem.plotting import MembershipAuditDisplay
    >>> X = np.random.RandomState(0).normal(size=(100, 2))
    >>> scorer = MemorizationScorer(
    ...     KernelDensity(bandwidth=0.1), cv=5, n_repeats=2, random_state=0
    ... ).fit(X)
    >>> display = MembershipAuditDisplay.from_estimator(scorer, name="KDE")
    >>> display.ax_.get_xscale()
    'log'
    """

    def __init__(self, fpr, tpr, auc, *, tpr_at_fpr=None, name=None):
        self.fpr = np.asarray(fpr, dtype=np.float64)
        self.tpr = np.asarray(tpr, dtype=np.float64)
        self.auc = auc
        self.tpr_at_fpr = tpr_at_fpr or {}
        self.name = name

    @classmethod
    def from_estimator(cls, scorer, *, name=None, ax=None):
        """Run ``scorer.membership_audit()`` and plot its ROC curve."""
        return cls.from_audit(scorer.membership_audit(), name=name, ax=ax)

    @classmethod
    def from_audit(cls, audit, *, name=None, ax=None):
        """Plot the ROC curve of an audit Bunch."""
        display = cls(
            audit.fpr,
            audit.tpr,
            audit.auc,
            tpr_at_fpr=audit.tpr_at_fpr,
            name=name,
        )
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the curve on log-log axes, with chance and the marked rates."""
        import matplotlib.pyplot as plt

        if ax is None:
            # Constrained layout: plain savefig keeps the axis labels whole.
            _, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
        low = max(1e-4, 0.5 / max(len(self.fpr), 1))
        label = f"{self.name + ': ' if self.name else ''}AUC {self.auc:.3f}"
        # Zero rates cannot sit on log axes: clip them to the lower edge.
        (self.line_,) = ax.plot(
            np.clip(self.fpr, low, 1), np.clip(self.tpr, low, 1), label=label
        )
        ax.plot([low, 1], [low, 1], ls="--", color="grey", lw=1, label="chance")
        for rate, tpr in self.tpr_at_fpr.items():
            ax.plot(rate, max(tpr, low), "o", color=self.line_.get_color(), ms=4)
            ax.annotate(
                f"TPR {tpr:.3f} at FPR {rate:g}",
                (rate, max(tpr, low)),
                textcoords="offset points",
                xytext=(5, -10),
                fontsize=8,
            )
        ax.set(
            xscale="log",
            yscale="log",
            xlim=(low, 1),
            ylim=(low, 1),
            xlabel="false-positive rate",
            ylabel="true-positive rate",
            title="Membership audit",
        )
        ax.legend(loc="lower right", fontsize=8)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


class MemorizationCurveDisplay:
    """Memorization over training, the paper's figure: quantiles of M per epoch.

    Left, the 0.5, 0.95 and 0.99 quantiles of the memorization score against
    the epoch; right, the mean training and held-out negative log-likelihood
    of the fold models. Memorization that keeps growing while the held-out
    loss has flattened is what van den Burg & Williams (2021) found; early
    stopping on held-out data (``best_checkpoint``, marked) cuts it.

    Build it with :meth:`from_estimator`, from a
    :class:`~skmem.MemorizationScorer` fitted with an estimator that has
    ``checkpoints``; it plots.

    Parameters
    ----------
    checkpoints : ndarray of shape (n_checkpoints,)
        The epochs.
    memorization_curve : ndarray of shape (n_checkpoints, n_samples)
        M of every sample at each epoch.
    train_nll, test_nll : ndarray of shape (n_checkpoints,)
        Mean training and held-out negative log-likelihood per sample, in nats.
    quantiles : tuple of float, default=(0.5, 0.95, 0.99)
    best_checkpoint : int, default=None
        An epoch to mark (where early stopping stops).
    name : str, default=None
        Name of the model, for the title.

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of two Axes
        The quantiles of M; the loss curves.
    quantile_lines_ : list of matplotlib Line2D
        One per quantile.
    loss_lines_ : list of matplotlib Line2D
        Training, then held-out.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skmem.plotting import MemorizationCurveDisplay
    >>> epochs = np.array([5, 10, 20])
    >>> rng = np.random.RandomState(0)
    >>> curve = rng.gamma(2.0, size=(3, 200)) * epochs[:, None] / 20
    >>> display = MemorizationCurveDisplay(
    ...     epochs, curve, train_nll=[40.0, 35.0, 30.0], test_nll=[41.0, 38.0, 39.0]
    ... ).plot()
    >>> [line.get_label() for line in display.quantile_lines_]
    ['0.5', '0.95', '0.99']
    """

    def __init__(
        self,
        checkpoints,
        memorization_curve,
        train_nll,
        test_nll,
        *,
        quantiles=(0.5, 0.95, 0.99),
        best_checkpoint=None,
        name=None,
    ):
        self.checkpoints = np.asarray(checkpoints)
        self.memorization_curve = np.asarray(memorization_curve, dtype=np.float64)
        self.train_nll = np.asarray(train_nll, dtype=np.float64)
        self.test_nll = np.asarray(test_nll, dtype=np.float64)
        self.quantiles = tuple(quantiles)
        self.best_checkpoint = best_checkpoint
        self.name = name

    @classmethod
    def from_estimator(
        cls, scorer, *, quantiles=(0.5, 0.95, 0.99), name=None, axes=None
    ):
        """Plot the curves of a fitted :class:`~skmem.MemorizationScorer`.

        The training loss at a checkpoint is the mean over models of
        ``-log p_k(x_i)`` over the model's training rows; the held-out loss the
        same over the rows it held out.
        """
        if getattr(scorer, "memorization_curve_", None) is None:
            raise ValueError(
                "This scorer has no memorization curve: fit it with an estimator "
                "that keeps checkpoints, e.g. VAEDensity(max_epochs=50, "
                "checkpoints=[10, 20, 30, 40, 50])."
            )
        train_nll, test_nll = mean_nll_curves(
            scorer.log_likelihood_curve_, scorer.train_masks_, scorer.test_masks_
        )
        display = cls(
            scorer.checkpoints_,
            scorer.memorization_curve_,
            train_nll,
            test_nll,
            quantiles=quantiles,
            best_checkpoint=scorer.best_checkpoint_,
            name=name,
        )
        return display.plot(axes=axes)

    def plot(self, axes=None):
        """Draw both panels; ``axes`` is a pair of Axes, or None for a new figure."""
        import matplotlib.pyplot as plt

        if axes is None:
            # Constrained layout: plain savefig keeps the axis labels whole.
            _, axes = plt.subplots(1, 2, figsize=(9, 3.5), layout="constrained")
        ax_m, ax_loss = axes
        self.quantile_lines_ = []
        for q in self.quantiles:
            values = np.nanquantile(self.memorization_curve, q, axis=1)
            (line,) = ax_m.plot(self.checkpoints, values, "o-", ms=3, label=f"{q:g}")
            self.quantile_lines_.append(line)
        ax_m.axhline(0.0, color="grey", lw=0.8)
        ax_m.set(xlabel="epoch", ylabel="quantile of M (nats)")
        ax_m.legend(title="quantile", fontsize=8)
        self.loss_lines_ = [
            ax_loss.plot(self.checkpoints, nll, "o-", ms=3, label=label)[0]
            for nll, label in (
                (self.train_nll, "training"),
                (self.test_nll, "held out"),
            )
        ]
        ax_loss.set(xlabel="epoch", ylabel="mean negative log-likelihood (nats)")
        ax_loss.legend(fontsize=8)
        if self.best_checkpoint is not None:
            for ax in axes:
                ax.axvline(self.best_checkpoint, color="grey", ls=":", lw=1)
            ax_loss.annotate(
                "best held-out",
                (self.best_checkpoint, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                fontsize=8,
            )
        title = "Memorization over training"
        ax_m.set_title(f"{self.name}: {title}" if self.name else title, fontsize=10)
        self.axes_ = np.asarray(axes)
        self.figure_ = ax_m.figure
        return self


def mean_nll_curves(log_likelihood_curve, train_masks, test_masks):
    """Mean training and held-out negative log-likelihood per checkpoint.

    For each checkpoint, each model's mean ``-log p_k(x_i)`` over its training
    (held-out) rows, averaged over the models.
    """

    def mean_over(masks):
        counts = masks.sum(axis=1)
        sums = np.where(masks, -log_likelihood_curve, 0.0).sum(axis=2)
        return (sums / np.maximum(counts, 1)).mean(axis=1)

    return mean_over(train_masks), mean_over(test_masks)


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
            label = f"{labels[category]}: {int(rows.sum())}"
            scatter = ax.scatter(V[rows], U[rows], label=label, **style)
            self.scatters_[category] = scatter
        flagged = np.zeros(len(U), bool) if self.memorized is None else self.memorized
        self.flagged_ = np.flatnonzero(flagged & drawn)
        if self.memorized is not None:
            rate = "" if self.alpha is None else f" at FDR {100 * self.alpha:g} %"
            ax.scatter(
                V[self.flagged_],
                U[self.flagged_],
                s=70,
                facecolors="none",
                edgecolors="black",
                linewidths=1,
                zorder=4,
                label=f"flagged by the test{rate}: {self.flagged_.size}",
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
        if len(self.ci_segments_):
            ax.vlines(
                x,
                self.ci_segments_[:, 0, 1],
                self.ci_segments_[:, 1, 1],
                color="black",
                lw=1.2,
                alpha=0.6,
                label="95 % interval of M, above the diagonal",
            )
        notable = order[(self.categories_[order] == MEMORIZED) | flagged[order]]
        self.labels_ = [
            ax.annotate(
                f"#{i}",
                (V[i], U[i]),
                xytext=(5, 3),
                textcoords="offset points",
                fontsize=8,
            )
            for i in notable[:n_labels]
        ]
        if linthresh is not None:
            _readable_ticks(ax.xaxis, "symlog", linthresh=linthresh)
            _readable_ticks(ax.yaxis, "symlog", linthresh=linthresh)
        ax.set_xlabel("out-model log-likelihood V (nats): models that held it out")
        ax.set_ylabel("in-model log-likelihood U (nats): models that saw it")
        title = "Why records are flagged: memorized, outlier or typical"
        ax.set_title(f"{self.name}: {title}" if self.name else title, fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
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
        if linthresh is not None:
            _drop_overlapping_labels(ax.xaxis)
        self.ax_, self.figure_ = ax, ax.figure
        return self


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


class NearestNeighborsDisplay:
    """Flagged images next to their nearest training neighbours.

    A memorized image whose nearest neighbours look nothing like it is one the
    model could only fit by copying it; one with a near-duplicate among its
    neighbours is protected by that duplicate (while one copy is held out, the
    other is still trained on) and usually scores low. Rows are records (by
    default the flagged ones, highest M first), columns the record then its
    ``n_neighbors`` nearest other records of the training set, by euclidean
    distance, written above each.

    Build it with :meth:`from_estimator`, which plots.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training data, one flattened image per row.
    indices : ndarray of int, shape (n_records,)
        The records shown.
    neighbors : ndarray of int, shape (n_records, n_neighbors)
        Their nearest neighbours, nearest first.
    distances : ndarray of shape (n_records, n_neighbors)
    image_shape : tuple of int
        Shape of one image (``(8, 8)`` for digits).
    scores : ndarray of shape (n_samples,), default=None
        Memorization scores, written under the records.
    memorized : ndarray of bool, shape (n_samples,), default=None
        Flagged records, framed in red.
    name : str, default=None

    Attributes
    ----------
    axes_ : ndarray of Axes, shape (n_records, 1 + n_neighbors)
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.neighbors import KernelDensity
    >>> from skmem import MemorizationScorer
    >>> from skmem.datasets import load_digits
    >>> from skmem.plotting import NearestNeighborsDisplay
    >>> X = load_digits()[:300]
    >>> scorer = MemorizationScorer(
    ...     KernelDensity(bandwidth=0.3), cv=5, random_state=0
    ... ).fit(X)
    >>> display = NearestNeighborsDisplay.from_estimator(
    ...     scorer, X, image_shape=(8, 8), n_records=3, n_neighbors=4
    ... )
    >>> display.axes_.shape
    (3, 5)
    """

    def __init__(
        self,
        X,
        indices,
        neighbors,
        distances,
        *,
        image_shape,
        scores=None,
        memorized=None,
        name=None,
    ):
        self.X = np.asarray(X)
        self.indices = np.asarray(indices, dtype=int)
        self.neighbors = np.asarray(neighbors, dtype=int)
        self.distances = np.asarray(distances, dtype=np.float64)
        self.image_shape = tuple(image_shape)
        self.scores = None if scores is None else np.asarray(scores, np.float64)
        self.memorized = None if memorized is None else np.asarray(memorized, bool)
        self.name = name

    @classmethod
    def from_estimator(
        cls,
        scorer,
        X,
        *,
        image_shape,
        indices=None,
        n_records=6,
        n_neighbors=5,
        alpha=0.05,
        name=None,
        axes=None,
    ):
        """Show records of a fitted scorer next to their nearest neighbours.

        Parameters
        ----------
        scorer : MemorizationScorer
            Fitted on ``X``.
        X : array-like of shape (n_samples, n_features)
            The training data, one flattened image per row.
        image_shape : tuple of int
        indices : array-like of int, default=None
            The records to show. None shows the flagged records (at false
            discovery rate ``alpha``, when the scorer has p-values), highest M
            first, or the highest-scored records when none is flagged.
        n_records : int, default=6
            At most this many records (rows) when ``indices`` is None.
        n_neighbors : int, default=5
        alpha : float, default=0.05
        name : str, default=None
        axes : ndarray of Axes, shape (n_records, 1 + n_neighbors), default=None

        Returns
        -------
        display : NearestNeighborsDisplay
        """
        from sklearn.neighbors import NearestNeighbors

        memorized, _ = _scorer_flags(scorer, alpha)
        X = np.asarray(X)
        M = scorer.memorization_scores_
        if len(X) != len(M):
            raise ValueError(
                f"X has {len(X)} rows but the scorer was fitted on {len(M)}: pass "
                "the training data the scorer was fitted on."
            )
        if not 0 < n_neighbors < len(X):
            raise ValueError(
                f"n_neighbors must be in [1, {len(X) - 1}]; got {n_neighbors}."
            )
        if indices is None:
            order = np.argsort(-np.where(np.isnan(M), -np.inf, M), kind="stable")
            if memorized is not None and memorized.any():
                order = order[memorized[order]]
            indices = order[:n_records]
        indices = np.asarray(indices, dtype=int)
        rows = X.reshape(len(X), -1)
        search = NearestNeighbors(n_neighbors=n_neighbors + 1).fit(rows)
        distances, found = search.kneighbors(X[indices].reshape(len(indices), -1))
        neighbors = np.empty((len(indices), n_neighbors), dtype=int)
        kept = np.empty((len(indices), n_neighbors))
        for r, i in enumerate(indices):
            # The record itself is among its own nearest points (first, unless
            # a duplicate ties with it): drop it, keep the others in order.
            others = found[r] != i
            if others.all():
                others[-1] = False
            neighbors[r] = found[r][others]
            kept[r] = distances[r][others]
        display = cls(
            X,
            indices,
            neighbors,
            kept,
            image_shape=image_shape,
            scores=M,
            memorized=memorized,
            name=_model_name(scorer) if name is None else name,
        )
        return display.plot(axes=axes)

    def plot(self, axes=None):
        """Draw one row per record: the record, then its neighbours."""
        import matplotlib.pyplot as plt

        n_rows, n_cols = len(self.indices), self.neighbors.shape[1] + 1
        if axes is None:
            fig, axes = plt.subplots(
                max(n_rows, 1),
                n_cols,
                figsize=(1.2 * n_cols + 0.6, 1.35 * max(n_rows, 1) + 0.6),
                layout="constrained",
                squeeze=False,
            )
        axes = np.asarray(axes).reshape(max(n_rows, 1), n_cols)
        fig = axes.flat[0].figure
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
        for r, i in enumerate(self.indices):
            record = axes[r, 0]
            record.imshow(self.X[i].reshape(self.image_shape), cmap="gray_r")
            score = "" if self.scores is None else f"\nM {self.scores[i]:.1f}"
            flagged = self.memorized is not None and self.memorized[i]
            record.set_title(f"#{i}{' *' if flagged else ''}{score}", fontsize=7)
            if flagged:
                for spine in record.spines.values():
                    spine.set(color="red", linewidth=2)
            for c, (j, d) in enumerate(
                zip(self.neighbors[r], self.distances[r], strict=True), start=1
            ):
                axes[r, c].imshow(self.X[j].reshape(self.image_shape), cmap="gray_r")
                axes[r, c].set_title(f"#{j}\nd {d:.2f}", fontsize=7)
        title = "Records and their nearest training neighbours"
        fig.suptitle(f"{self.name}: {title}" if self.name else title, fontsize=9)
        self.axes_, self.figure_ = axes, fig
        return self


class MemorizationTradeoffDisplay:
    """Held-out fit against memorization, per setting: the paper's trade-off.

    Each point is one setting of a :func:`~skmem.memorization_sweep`: across,
    a high quantile of the memorization scores (0.95 by default); up, the
    mean held-out log-likelihood. Up is a better fit to unseen data, left is
    less memorization: a setting up and to the left of another is better on
    both counts. Without checkpoints the points are joined in the order of
    the sweep and labelled with their values; with checkpoints, each setting
    is a line through its epochs, from the first (open circle) to the last.

    Build it with :meth:`from_sweep`, which plots.

    Parameters
    ----------
    results : pandas.DataFrame
        The result of :func:`~skmem.memorization_sweep`.
    quantile : float, default=0.95
        The quantile of M drawn across; its column must be in ``results``.
    name : str, default=None
        For the title.

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        One per setting with checkpoints, else one through all the settings.
    labels_ : list of matplotlib Annotation
    figure_ : matplotlib Figure
    ax_ : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.neighbors import KernelDensity
    >>> from skmem import MemorizationScorer, memorization_sweep
    >>> from skmem.plotting import MemorizationTradeoffDisplay
    >>> X = np.random.RandomState(0).normal(size=(200, 2))
    >>> results = memorization_sweep(
    ...     MemorizationScorer(KernelDensity(), cv=5, random_state=0),
    ...     X,
    ...     {"estimator__bandwidth": [0.05, 0.3, 1.0]},
    ... )
    >>> display = MemorizationTradeoffDisplay.from_sweep(results)
    >>> len(display.lines_[0].get_xdata())
    3
    """

    def __init__(self, results, *, quantile=0.95, name=None):
        self.results = results
        self.quantile = quantile
        self.name = name

    @classmethod
    def from_sweep(cls, results, *, quantile=0.95, name=None, ax=None):
        """Plot the results of :func:`~skmem.memorization_sweep`."""
        return cls(results, quantile=quantile, name=name).plot(ax=ax)

    def plot(self, ax=None):
        """Draw the trade-off on ``ax`` (None: a new constrained-layout figure)."""
        import matplotlib.pyplot as plt

        results = self.results
        column = f"memorization_q{self.quantile:g}"
        if column not in results:
            raise ValueError(
                f"The results have no column {column!r}: run memorization_sweep "
                f"with quantiles=(..., {self.quantile:g})."
            )
        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 4.2), layout="constrained")
        settings = sweep_setting_columns(results)
        self.lines_, self.labels_ = [], []

        def describe(row):
            return ", ".join(f"{_short(k)}={row[k]}" for k in settings)

        if "epoch" in results:
            keys = settings or None
            groups = (
                results.groupby(keys, sort=False, dropna=False)
                if keys
                else [(None, results)]
            )
            for _, group in groups:
                group = group.sort_values("epoch")
                x, y = group[column].to_numpy(), group["held_out_log_likelihood"]
                label = describe(group.iloc[0]) or None
                (line,) = ax.plot(x, y.to_numpy(), "o-", ms=3, label=label)
                color = line.get_color()
                ax.plot(x[0], y.iloc[0], "o", ms=7, mfc="white", color=color)
                self.lines_.append(line)
                for end in (0, len(group) - 1):
                    self.labels_.append(
                        ax.annotate(
                            f"epoch {group['epoch'].iloc[end]}",
                            (x[end], y.iloc[end]),
                            xytext=(4, 3),
                            textcoords="offset points",
                            fontsize=7,
                        )
                    )
            if settings:
                ax.legend(fontsize=7)
        else:
            x = results[column].to_numpy()
            y = results["held_out_log_likelihood"].to_numpy()
            (line,) = ax.plot(x, y, "o-", ms=4)
            self.lines_.append(line)
            for (_, row), xi, yi in zip(results.iterrows(), x, y, strict=True):
                self.labels_.append(
                    ax.annotate(
                        describe(row),
                        (xi, yi),
                        xytext=(4, 3),
                        textcoords="offset points",
                        fontsize=7,
                    )
                )
        ax.set_xlabel(f"{self.quantile:g} quantile of M (nats): more memorization →")
        ax.set_ylabel("held-out log-likelihood (nats): better fit ↑")
        title = "Held-out fit against memorization"
        ax.set_title(f"{self.name}: {title}" if self.name else title, fontsize=10)
        ax.margins(0.15)
        self.ax_, self.figure_ = ax, ax.figure
        return self


# Columns of memorization_sweep's results that are measurements, not settings.
_SWEEP_MEASURES = ("held_out_log_likelihood", "memorization_mean", "n_memorized")


def sweep_setting_columns(results):
    """The columns of a sweep's results that name the swept parameters."""
    return [
        c
        for c in results.columns
        if c not in _SWEEP_MEASURES + ("epoch", "fit_time")
        and not c.startswith("memorization_q")
    ]


def _short(parameter):
    """``estimator__weight_decay`` -> ``weight_decay``."""
    return parameter.rsplit("__", 1)[-1]
