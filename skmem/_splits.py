"""Split plans: which samples each model trains on and holds out, and its seed.

Everything is fixed here, in the parent process, before any model is fitted, so
that the results do not depend on ``n_jobs`` or on the joblib backend.
"""

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.model_selection import KFold, RepeatedKFold, check_cv
from sklearn.utils import check_random_state

MAX_SEED = np.iinfo(np.int32).max


@dataclass(frozen=True)
class SplitPlan:
    """Boolean masks of shape (n_models, n_samples) and one seed per model."""

    train_masks: np.ndarray
    test_masks: np.ndarray
    seeds: np.ndarray

    @property
    def n_models(self):
        return self.train_masks.shape[0]

    @property
    def n_samples(self):
        return self.train_masks.shape[1]

    def train_indices(self, k):
        return np.flatnonzero(self.train_masks[k])

    def head(self, n_models):
        """The plan of the first ``n_models`` models (the first repeats)."""
        return SplitPlan(
            train_masks=self.train_masks[:n_models],
            test_masks=self.test_masks[:n_models],
            seeds=self.seeds[:n_models],
        )


def resolve_cv(cv, n_repeats, n_samples, random_state):
    """Turn the scorer's ``cv`` / ``n_repeats`` into a splitter object.

    ``random_state`` must be a ``RandomState``; an int ``cv`` draws the shuffling
    seed from it.
    """
    if isinstance(cv, Integral):
        if cv > n_samples:
            raise ValueError(
                f"cv={cv} folds need at least {cv} samples; got n_samples={n_samples}."
                f" Use cv <= {n_samples}, or cv=LeaveOneOut()."
            )
        seed = random_state.randint(MAX_SEED)
        if n_repeats == 1:
            return KFold(n_splits=cv, shuffle=True, random_state=seed)
        return RepeatedKFold(n_splits=cv, n_repeats=n_repeats, random_state=seed)
    if n_repeats != 1:
        raise ValueError(
            f"n_repeats={n_repeats} only applies to an integer cv. With a splitter "
            "object, ask the splitter for repeats instead (for example "
            "RepeatedKFold(n_splits=10, n_repeats=5))."
        )
    return check_cv(cv)


def make_split_plan(cv, n_samples, *, X, y=None, groups=None, random_state=None):
    """Masks and seeds for splitter ``cv`` on ``n_samples`` samples.

    Parameters
    ----------
    cv : cross-validation splitter
        An object with ``split(X, y, groups)`` (see :func:`resolve_cv`).
    n_samples : int
    X, y, groups
        Passed to ``cv.split``.
    random_state : int, RandomState instance or None
        Source of the per-model seeds, drawn after the splits.
    """
    n_splits = cv.get_n_splits(X, y, groups)
    # Filled in place: for LeaveOneOut on large n these are the largest arrays of
    # the whole run, and a list of rows plus a stacked copy would double them.
    train_masks = np.zeros((n_splits, n_samples), dtype=bool)
    test_masks = np.zeros((n_splits, n_samples), dtype=bool)
    n_seen = 0
    for k, (train, test) in enumerate(cv.split(X, y, groups)):
        if k >= n_splits:
            raise ValueError(f"cv={cv!r} produced more splits than its {n_splits}.")
        if len(train) == 0:
            raise ValueError(f"Split {k} of cv={cv!r} has an empty training set.")
        train_masks[k, train] = True
        if train_masks[k, test].any():
            raise ValueError(
                f"cv={cv!r} puts a sample in both the training and the test set of "
                f"split {k}; a memorization score needs disjoint sets."
            )
        test_masks[k, test] = True
        n_seen = k + 1
    if n_seen != n_splits:
        raise ValueError(f"cv={cv!r} produced {n_seen} splits, expected {n_splits}.")
    seeds = check_random_state(random_state).randint(MAX_SEED, size=len(train_masks))
    return SplitPlan(train_masks=train_masks, test_masks=test_masks, seeds=seeds)
