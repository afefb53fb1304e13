"""MembershipAuditDisplay: the ROC curve of a membership audit."""

import numpy as np


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
