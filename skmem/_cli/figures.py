"""The report's figures: one registry of builders, each saving one PNG.

A builder takes a :class:`ReportRun` (one model's fitted scorer and what the
report knows about it) and the report folder, saves its figure there and
returns ``(filename, caption)`` (or a list of them), or None when it does not
apply to the run (no checkpoints, no images...). The report shows the figures
it gets, with their captions, and says nothing about the others. A new figure
is one builder and one line in :data:`FIGURES`.
"""

import re
from dataclasses import dataclass

import numpy as np


@dataclass
class ReportRun:
    """One model of a report: its name, fitted scorer, data and extras."""

    name: str
    scorer: object
    X: np.ndarray
    estimator: object = None
    nn_ratio: np.ndarray = None
    image_shape: tuple = None
    alpha: float = 0.05

    @property
    def slug(self):
        """The start of the run's file names: the name's first word, lower case,
        in letters, digits, dots and dashes only (an import path has a colon)."""
        return re.sub(r"[^a-z0-9.-]+", "-", self.name.split()[0].lower()).strip("-")


def _save(fig, out, filename):
    import matplotlib.pyplot as plt

    fig.savefig(out / filename, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return filename


def scores_figure(run, out):
    """The distribution of M, M against the NN test, the extreme images."""
    from ..plotting import MemorizationDisplay

    images = run.image_shape is not None
    display = MemorizationDisplay.from_estimator(
        run.scorer,
        run.X if images else None,
        image_shape=run.image_shape,
        nn_distance=run.nn_ratio,
        name=run.name,
        alpha=run.alpha,
        nn_xscale="log",
    )
    if display.scatter_ax_ is not None:
        display.scatter_ax_.set_xlabel(
            "NN distance ratio (validation / generated), every sample"
        )
    n = len(run.scorer.memorization_scores_)
    axis = (
        " (on a symmetric log axis: a few large scores would squash the others "
        "into one bar)"
        if getattr(display, "xscale_", None) == "symlog"
        else ""
    )
    parts = [
        f"{run.name}: the distribution of the memorization score M of the {n} "
        f"training samples{axis}"
    ]
    if display.scatter_ax_ is not None:
        parts.append(
            "M against the nearest-neighbour distance ratio of every sample: a "
            "weak relation means the NN test misses what M finds"
        )
    if getattr(display, "gallery_axes_", None) is not None:
        parts.append("the most and the least memorized images")
    caption = "; ".join(parts) + "."
    return _save(display.figure_, out, f"{run.slug}.png"), caption


def curve_figure(run, out):
    """Quantiles of M and the losses over training, for models with checkpoints."""
    if getattr(run.scorer, "memorization_curve_", None) is None:
        return None
    from ..plotting import MemorizationCurveDisplay

    display = MemorizationCurveDisplay.from_estimator(run.scorer, name=run.name)
    caption = (
        f"{run.name}: memorization over training. Left, quantiles of M at each "
        "checkpoint epoch; right, the fold models' mean training and held-out "
        "negative log-likelihood. The dotted line marks the epoch of best "
        "held-out log-likelihood."
    )
    return _save(display.figure_, out, f"{run.slug} over training.png"), caption


#: The report's figures, in order; each is called once per model.
def explanation_figure(run, out):
    """Why records are flagged: in- against out-model log-likelihood, and for
    images the flagged records beside their nearest training neighbours."""
    from .._figures import explanation_figures

    return explanation_figures(
        run.scorer,
        out,
        X=run.X if run.image_shape is not None else None,
        image_shape=run.image_shape,
        name=run.name,
        prefix=f"{run.slug}-",
        alpha=run.alpha,
    )


FIGURES = [
    scores_figure,
    explanation_figure,
    curve_figure,
]


def build_figures(runs, out, builders=None):
    """``[(filename, caption)]``: every builder that applies, for every run."""
    figures = []
    for run in runs:
        for builder in FIGURES if builders is None else builders:
            made = builder(run, out)  # a pair, a list of pairs, or None
            if made is not None:
                figures.extend(made if isinstance(made, list) else [made])
    return figures
