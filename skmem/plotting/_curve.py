"""MemorizationCurveDisplay: memorization over training."""

import numpy as np


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
