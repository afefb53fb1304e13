"""Per-record distance columns of ``scores.csv`` for generators scored
through their samples."""

import numpy as np


def record_columns(scorer, n_generated=1000):
    """``({column: (values, format)}, copies)`` from the fold models' samples:
    each record's distance to the closest sample and to the closest held-out
    row, and the samples closer than that held-out row (means over the models
    that trained on it), and the fold models' closest-record figures
    (:func:`skmem._sampled.fold_data_copying`). ``({}, None)`` unless the
    models are a :class:`~skmem.SampledDensity`."""
    from .._sampled import SampledDensity, fold_data_copying

    if not isinstance(scorer._base_estimator(), SampledDensity):
        return {}, None
    copies = fold_data_copying(scorer, n_generated, with_test=False)
    columns = {
        "distance_to_synthetic": (copies.distance_to_generated, "%.10g"),
        "distance_to_holdout": (copies.distance_to_holdout, "%.10g"),
        "n_synthetic_closer": (np.asarray(copies.n_closer, dtype=float), "%.6g"),
    }
    return columns, copies
