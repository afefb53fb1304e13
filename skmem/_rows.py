"""Rows of tabular input of any type: matching them by value, finding missing cells.

The scorer passes ``X`` to its estimator untouched (arrays of any dtype,
DataFrames with string or categorical columns, sparse matrices), so rows are
compared here without converting them to floats: each column is coded as
integers (equal values, equal codes), and rows are compared by their codes.
"""

import numpy as np
from scipy import sparse


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "iloc")


def _void_keys(codes):
    """One comparable key per row of a 2-D numeric array, from its bytes."""
    # ``+ 0`` turns -0.0 into 0.0 so that equal values have equal bytes.
    codes = np.ascontiguousarray(codes + codes.dtype.type(0))
    return codes.view(np.dtype((np.void, codes.dtype.itemsize * codes.shape[1])))


def _is_missing(value):
    """True for None, NaN and pandas.NA (which is not even equal to itself)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pandas.NA and friends
        return True


def _object_codes(values):
    """Integer codes of a 1-D array of Python objects; every missing value is -1."""
    table, codes = {}, np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        codes[i] = -1 if _is_missing(value) else table.setdefault(value, len(table))
    return codes


def _column_codes(column):
    """Integer codes of a 1-D array: equal values (NaNs included) get equal codes."""
    if column.dtype.kind in "biuf":
        return np.unique(column.astype(np.float64) + 0.0, return_inverse=True)[1]
    return _object_codes(column.astype(object))


def _columns(X):
    if _is_dataframe(X):
        return [np.asarray(X.iloc[:, j]) for j in range(X.shape[1])]
    return list(np.asarray(X).T)


def _sparse_codes(X):
    """One integer per row of a sparse matrix: equal rows, equal integers."""
    X = sparse.csr_array(X, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    X.sort_indices()
    data = X.data + X.data.dtype.type(0)
    table, codes = {}, np.empty(X.shape[0], dtype=np.int64)
    for i in range(X.shape[0]):
        span = slice(X.indptr[i], X.indptr[i + 1])
        key = (X.indices[span].tobytes(), data[span].tobytes())
        codes[i] = table.setdefault(key, len(table))
    return codes


def row_groups(X_train, X):
    """Group ids of the rows of ``X_train`` and of ``X``; equal rows share an id.

    Numeric arrays are compared in ``X_train``'s dtype; DataFrames and object
    arrays column by column, by value (strings, categories and missing values
    included); sparse matrices by their non-zero entries.

    Returns
    -------
    train_groups : ndarray of int, shape (n_train,)
    query_groups : ndarray of int, shape (n_rows,)
    """
    n_train = X_train.shape[0]
    if sparse.issparse(X_train) or sparse.issparse(X):
        both = sparse.vstack([sparse.csr_array(X_train), sparse.csr_array(X)])
        inverse = _sparse_codes(both)
    else:
        plain = not _is_dataframe(X_train) and not _is_dataframe(X)
        X_train_arr = np.asarray(X_train) if plain else None
        if plain and X_train_arr.dtype.kind in "biuf":
            dtype = X_train_arr.dtype if X_train_arr.dtype.kind == "f" else np.float64
            keys = np.concatenate(
                [
                    _void_keys(np.asarray(X_train_arr, dtype=dtype)),
                    _void_keys(np.asarray(X, dtype=dtype)),
                ]
            )
        else:
            codes = np.column_stack(
                [
                    _column_codes(np.concatenate([a, b]))
                    for a, b in zip(_columns(X_train), _columns(X), strict=True)
                ]
            ).astype(np.int64)
            keys = _void_keys(codes)
        inverse = np.unique(keys.ravel(), return_inverse=True)[1]
    inverse = np.asarray(inverse).ravel()
    return inverse[:n_train], inverse[n_train:]


def mean_over_matching_rows(X_train, values, X):
    """For each row of ``X``, the mean of ``values`` over the equal rows of ``X_train``.

    Parameters
    ----------
    X_train : array-like, DataFrame or sparse matrix of shape (n_train, n_features)
    values : ndarray of shape (n_train,)
        NaN entries are left out of the means; a row whose matches are all NaN
        gets NaN.
    X : same kind as ``X_train``, of shape (n_rows, n_features)
        Rows are compared as :func:`row_groups` says.

    Returns
    -------
    means : ndarray of shape (n_rows,)
        NaN for rows of ``X`` that match no training row.
    seen : ndarray of bool, shape (n_rows,)
        True for rows of ``X`` that match at least one training row.
    """
    train_group, query_group = row_groups(X_train, X)
    n_groups = max(train_group.max(initial=-1), query_group.max(initial=-1)) + 1
    valid = ~np.isnan(values)
    n_train_rows = np.bincount(train_group, minlength=n_groups)
    n_valid = np.bincount(train_group[valid], minlength=n_groups)
    totals = np.bincount(train_group[valid], weights=values[valid], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = totals / n_valid
    seen = n_train_rows[query_group] > 0
    return np.where(seen, means[query_group], np.nan), seen


def _missing_mask(X):
    """Boolean mask of the NaN, missing or infinite cells of a dense table."""
    if _is_dataframe(X):
        mask = np.array(X.isna(), dtype=bool)
        for j in range(X.shape[1]):
            column = np.asarray(X.iloc[:, j])
            if column.dtype.kind in "fc":
                mask[:, j] |= np.isinf(column)
        return mask
    X = np.asarray(X)
    if X.dtype.kind in "fc":
        return ~np.isfinite(X)
    if X.dtype.kind == "O":
        flat = X.ravel()
        mask = [_is_missing(v) or _is_inf(v) for v in flat]
        return np.array(mask, dtype=bool).reshape(X.shape)
    return np.zeros(X.shape, dtype=bool)


def check_no_missing(X, *, columns=None, hint="", describe_row=None):
    """Raise a ValueError naming the first row and column holding NaN or infinity.

    Rows are counted from 0, or named by ``describe_row(i)`` when given (the
    command line adds the line of the file); columns by name where ``X`` has
    names (or ``columns`` gives them), else by position.
    """
    if sparse.issparse(X):
        X = sparse.coo_array(X)
        bad = ~np.isfinite(X.data)
        rows, cols, values = X.row[bad], X.col[bad], X.data[bad]
        order = np.lexsort((cols, rows))
        rows, cols, values = rows[order], cols[order], values[order]
    else:
        mask = _missing_mask(X)
        rows, cols = np.nonzero(mask)
        values = None
    if rows.size == 0:
        return
    row, col = int(rows[0]), int(cols[0])
    if columns is None and _is_dataframe(X):
        columns = X.columns
    name = str(col) if columns is None else repr(str(columns[col]))
    if values is not None:
        value = values[0]
    elif _is_dataframe(X):
        value = X.iloc[row, col]
    else:
        value = np.asarray(X)[row, col]
    kind = "infinity" if _is_inf(value) else "NaN"
    raise ValueError(
        f"Input X contains {kind} at row "
        f"{row if describe_row is None else describe_row(row)}, column {name} "
        f"({rows.size} missing or infinite cells in all).{hint}"
    )


def _is_inf(value):
    return isinstance(value, float | np.floating) and abs(value) == np.inf


def categoricals_as_objects(X):
    """``X`` with pandas' categorical columns as objects, for ``check_array``
    (which would try to cast a categorical DataFrame to numbers).

    pandas is not imported for it: a DataFrame can only come with pandas
    loaded already.
    """
    import sys

    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(X, pd.DataFrame):
        return X
    columns = [c for c, t in X.dtypes.items() if isinstance(t, pd.CategoricalDtype)]
    return X.astype(dict.fromkeys(columns, object)) if columns else X
