"""MemorizationTradeoffDisplay: held-out fit against memorization."""


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
