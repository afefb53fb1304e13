"""The CLI's KDE on its exact engine: preprocessing fitted once on all rows.

A pipeline whose steps are refitted in each fold runs on the generic engine,
one model fitted and scored per fold. The exact ``kde`` engine needs every
fold model to see the same transform of the rows, as the sampled engine fixes
its bandwidth once from all rows: so the steps before the KernelDensity are
fitted once, on every row, and frozen (:class:`sklearn.frozen.FrozenEstimator`).
What that leaks, a held-out row's influence on the scaling, is measured in the
user guide ("The command line's KDE").
"""

# The phrase prepare_model's notes use for steps refitted in each fold.
_REFITTED = "refitted in each fold"


def freeze_preprocessing(estimator, X, notes):
    """``Pipeline(steps..., KernelDensity)`` -> the same with the steps frozen.

    Parameters
    ----------
    estimator : estimator
        What :func:`~skmem._cli.preprocess.prepare_model` built.
    X : array-like of shape (n_samples, n_features)
        Every row to be scored; the steps are fitted on them.
    notes : list of str
        prepare_model's notes; those that say the steps are refitted in each
        fold are rewritten.

    Returns
    -------
    estimator : estimator
        A Pipeline of FrozenEstimator steps and the KernelDensity, or
        ``estimator`` itself when it is not a pipeline ending in one.
    notes : list of str
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.neighbors import KernelDensity
    from sklearn.pipeline import Pipeline

    steps = getattr(estimator, "steps", None)
    if not steps or type(steps[-1][1]) is not KernelDensity or len(steps) < 2:
        return estimator, notes
    transforms = estimator[:-1].fit(X)
    frozen = Pipeline(
        [(name, FrozenEstimator(step)) for name, step in transforms.steps] + [steps[-1]]
    )
    once = f"fitted once on all {len(X)} rows (so that the exact kde engine runs)"
    notes = [note.replace(_REFITTED, once) for note in notes]
    if not any(once in note for note in notes):
        notes.append(f"preprocessing {once}")
    return frozen, notes
