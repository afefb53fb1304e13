"""Match rows of a query array to the rows of the training data, by value."""

import numpy as np


def _row_keys(X):
    # ``+ 0.0`` turns -0.0 into 0.0 so that equal values have equal bytes.
    X = np.ascontiguousarray(X + X.dtype.type(0))
    return X.view(np.dtype((np.void, X.dtype.itemsize * X.shape[1]))).ravel()


def mean_over_matching_rows(X_train, values, X):
    """For each row of ``X``, the mean of ``values`` over the equal rows of ``X_train``.

    Parameters
    ----------
    X_train : ndarray of shape (n_train, n_features)
    values : ndarray of shape (n_train,)
        NaN entries are left out of the means; a row whose matches are all NaN
        gets NaN.
    X : ndarray of shape (n_rows, n_features)
        Cast to ``X_train``'s dtype before comparison.

    Returns
    -------
    means : ndarray of shape (n_rows,)
        NaN for rows of ``X`` that match no training row.
    seen : ndarray of bool, shape (n_rows,)
        True for rows of ``X`` that match at least one training row.
    """
    X = np.asarray(X, dtype=X_train.dtype)
    keys = np.concatenate([_row_keys(X_train), _row_keys(X)])
    _, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.ravel()
    train_group, query_group = inverse[: len(X_train)], inverse[len(X_train) :]
    n_groups = inverse.max() + 1
    valid = ~np.isnan(values)
    n_train_rows = np.bincount(train_group, minlength=n_groups)
    n_valid = np.bincount(train_group[valid], minlength=n_groups)
    totals = np.bincount(train_group[valid], weights=values[valid], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = totals / n_valid
    seen = n_train_rows[query_group] > 0
    return np.where(seen, means[query_group], np.nan), seen
