"""NearestNeighborsDisplay: flagged images next to their nearest neighbours."""

import numpy as np

from ._common import _model_name, _scorer_flags


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
