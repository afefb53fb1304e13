"""Tests that the paper compares the memorization score against.

The nearest-neighbour test asks whether generated samples lie closer to the
training samples than held-out data does. van den Burg & Williams (2021) show
it misses memorization: a model can reproduce a training sample's density
without generating anything near it.
"""

from numbers import Integral

import numpy as np
from scipy.stats import spearmanr
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import Bunch, check_array
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["compare_scores", "nearest_neighbor_distance_ratio"]


def _nearest_distance(queries, reference):
    nn = NearestNeighbors(n_neighbors=1).fit(reference)
    return nn.kneighbors(queries)[0][:, 0]


@validate_params(
    {
        "X_train": ["array-like"],
        "X_generated": ["array-like"],
        "X_validation": ["array-like"],
    },
    prefer_skip_nested_validation=True,
)
def nearest_neighbor_distance_ratio(X_train, X_generated, X_validation):
    """Per training sample, nearest validation distance over nearest generated distance.

    A ratio well above 1 means some generated sample lies much closer to the
    training sample than any held-out sample does: the nearest-neighbour
    signature of copying.

    Parameters
    ----------
    X_train : array-like of shape (n_train, n_features)
    X_generated : array-like of shape (n_generated, n_features)
        Samples drawn from the model, e.g. ``VAEDensity.sample``.
    X_validation : array-like of shape (n_validation, n_features)
        Held-out samples from the same distribution as the training data.

    Returns
    -------
    ratio : ndarray of shape (n_train,)
        ``d(x, nearest validation) / d(x, nearest generated)``; ``inf`` where a
        generated sample equals the training sample.

    Examples
    --------
    >>> import numpy as np
    >>> from skmem.baselines import nearest_neighbor_distance_ratio
    >>> X_train = np.array([[0.0], [10.0]])
    >>> X_generated = np.array([[0.1], [5.0]])
    >>> X_validation = np.array([[1.0], [11.0]])
    >>> nearest_neighbor_distance_ratio(X_train, X_generated, X_validation)
    array([10. ,  0.2])
    """
    X_train = check_array(X_train)
    X_generated = check_array(X_generated)
    X_validation = check_array(X_validation)
    for name, other in (("X_generated", X_generated), ("X_validation", X_validation)):
        if other.shape[1] != X_train.shape[1]:
            raise ValueError(
                f"{name} has {other.shape[1]} features but X_train has "
                f"{X_train.shape[1]}."
            )
    to_validation = _nearest_distance(X_train, X_validation)
    to_generated = _nearest_distance(X_train, X_generated)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = to_validation / to_generated
    return np.where((to_generated == 0) & (to_validation == 0), 1.0, ratio)


@validate_params(
    {
        "a": ["array-like"],
        "b": ["array-like"],
        "top_k": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def compare_scores(a, b, *, top_k=10):
    """How much two per-sample scores agree: rank correlation and top-k overlap.

    Parameters
    ----------
    a, b : array-like of shape (n_samples,)
        Two scores of the same samples (memorization under two models, or
        memorization and a nearest-neighbour ratio). Samples where either is
        NaN are left out.
    top_k : int, default=10
        Size of the top sets to compare.

    Returns
    -------
    result : Bunch
        ``spearman``: Spearman rank correlation; ``top_k_overlap``: the fraction
        of the ``top_k`` highest samples of ``a`` that are among the ``top_k``
        highest of ``b``; ``n_samples``: samples compared.

    Examples
    --------
    >>> from skmem.baselines import compare_scores
    >>> r = compare_scores([1, 2, 3, 4], [1, 2, 4, 3], top_k=2)
    >>> round(float(r.spearman), 3), float(r.top_k_overlap)
    (0.8, 1.0)
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a and b must score the same samples: {a.shape} != {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    k = min(top_k, len(a))
    top_a = set(np.argsort(-a, kind="stable")[:k])
    top_b = set(np.argsort(-b, kind="stable")[:k])
    return Bunch(
        spearman=spearmanr(a, b)[0] if len(a) > 1 else np.nan,
        top_k_overlap=len(top_a & top_b) / k if k else np.nan,
        n_samples=len(a),
    )
