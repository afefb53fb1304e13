"""The figures that explain a scorer's flags, saved for a report."""

from pathlib import Path

from .plotting import (
    MEMORIZED,
    OUTLIER,
    MemorizationExplanationDisplay,
    NearestNeighborsDisplay,
)


def explanation_figures(
    scorer, out, *, X=None, image_shape=None, name=None, prefix="", alpha=0.05, dpi=110
):
    """Save the figures that say why records are flagged; return their captions.

    The in-model against out-model log-likelihood of every record
    (:class:`~skmem.plotting.MemorizationExplanationDisplay`), and for images
    the flagged (or, when none is, the highest-scored) records next to their
    nearest training neighbours
    (:class:`~skmem.plotting.NearestNeighborsDisplay`).

    Parameters
    ----------
    scorer : MemorizationScorer
        Fitted.
    out : str or Path
        Directory to write the PNG files to (created if needed).
    X : array-like of shape (n_samples, n_features), default=None
        The training data, for the neighbours figure.
    image_shape : tuple of int, default=None
        Shape of one image; with ``X``, adds the neighbours figure.
    name : str, default=None
        Name of the model, for titles and captions.
    prefix : str, default=""
        Put in front of the file names (one report, several models).
    alpha : float, default=0.05
        False-discovery rate of the flags.
    dpi : int, default=110

    Returns
    -------
    figures : list of (str, str)
        File name (relative to ``out``) and caption of each saved figure.
    """
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    display = MemorizationExplanationDisplay.from_estimator(
        scorer, alpha=alpha, name=name
    )
    counts = {c: int((display.categories_ == c).sum()) for c in (MEMORIZED, OUTLIER)}
    tested = display.memorized is not None
    flags = (
        f"{display.flagged_.size} records are flagged at FDR {100 * alpha:g} % "
        "(circled, with the 95 % interval of M as a vertical bar)"
        if tested
        else "no record is tested (the test needs 3 repeats or more)"
    )
    caption = (
        f"{name + ': ' if name else ''}each record's log-likelihood under the "
        "models that trained on it (U) against the models that held it out (V); "
        "its memorization score M = U - V is its height above the diagonal. "
        f"{counts[MEMORIZED]} records lie far above it (red: memorized), "
        f"{counts[OUTLIER]} are outliers, low in both (grey: atypical but not "
        f"memorized); {flags}."
    )
    filename = f"{prefix}explanation.png"
    display.figure_.savefig(out / filename, dpi=dpi, bbox_inches="tight")
    plt.close(display.figure_)
    saved.append((filename, caption))

    if X is not None and image_shape is not None:
        neighbours = NearestNeighborsDisplay.from_estimator(
            scorer, X, image_shape=image_shape, alpha=alpha, name=name
        )
        if not tested:
            which = "highest-scored records"
        elif neighbours.memorized.any():
            which = "flagged records (highest M first)"
        else:
            which = "highest-scored records (none is flagged)"
        caption = (
            f"{name + ': ' if name else ''}the {which}, left, next to their "
            f"{neighbours.neighbors.shape[1]} nearest training images by euclidean "
            "distance d. A record unlike all its neighbours can only be fitted by "
            "copying it; a near-duplicate among them protects it."
        )
        filename = f"{prefix}neighbours.png"
        neighbours.figure_.savefig(out / filename, dpi=dpi, bbox_inches="tight")
        plt.close(neighbours.figure_)
        saved.append((filename, caption))
    return saved
