"""Densities and distances on tables of numbers, categories and booleans.

:class:`TableEncoder` fixes, from one set of rows, what every later model
shares: which columns are numbers (standardized by a robust spread) and which
are categories (text, pandas categoricals, booleans; their categories listed).
:class:`ProductKernelDensity` is a kernel density of samples on such a table:
a product of a gaussian kernel on the standardized numbers and an
Aitchison-Aitken kernel on each category,

    K(x, s) = prod_j N(z_j(x); z_j(s), h^2) / scale_j
              * prod_c [x_c == s_c ? 1 : r] / (1 + (L_c - 1) r)

with ``L_c`` the categories of column ``c`` (Aitchison & Aitken, 1976, with
``lambda_c = (L_c - 1) r / (1 + (L_c - 1) r)``: every category gets the same
relative weight ``r`` of a mismatch, ``r = 1`` ignores the column and ``r -> 0``
counts exact matches only). Its log-density needs, for every (row, sample)
pair, only the squared standardized distance and the number of mismatched
categories; both come from matrix products, in row blocks.

``bandwidth="likelihood"`` picks ``h`` and ``r`` by leave-one-out likelihood of
the samples themselves (Duin, 1976; Hall, 1987): the kernel as wide as the
samples' own structure. A generator that copies its training rows with tiny
noise puts clumps of samples on them, and the leave-one-out choice shrinks
the kernel to the clumps' width, so that a model that trained on a record and
one that held it out differ by orders of magnitude at the record; Scott's
rule, set from the data's spread, smooths the clumps away.
"""

import math
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from ._memory import budget_bytes, rows_per_block

__all__ = ["ProductKernelDensity", "TableEncoder", "distance_arrays", "is_mixed"]

_NUMBER, _CATEGORY = "number", "category"
#: Samples used as queries of the leave-one-out likelihood.
_N_QUERIES = 300
#: The grids of the leave-one-out choice: h in units of Scott's rule on the
#: standardized numbers, r as it is.
_H_FACTORS = 2.0 ** np.arange(-14, 3)
_R_GRID = np.array([1e-6, 1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.2, 0.35, 0.5, 0.7, 1.0])


def _kind(dtype):
    if pd.api.types.is_bool_dtype(dtype):
        return _CATEGORY
    if isinstance(dtype, pd.CategoricalDtype):
        return _CATEGORY
    if pd.api.types.is_numeric_dtype(dtype):
        return _NUMBER
    return _CATEGORY


def is_mixed(X):
    """True for a DataFrame with a column that is not a number (text, pandas
    categorical, boolean) or an array of objects."""
    if isinstance(X, pd.DataFrame):
        return any(_kind(t) == _CATEGORY for t in X.dtypes)
    dtype = getattr(X, "dtype", None)
    return dtype is not None and dtype.kind in "OUSb"


def _robust_spread(values):
    std = values.std()
    q75, q25 = np.percentile(values, [75, 25])
    iqr = (q75 - q25) / 1.349
    spread = min(std, iqr) if iqr > 0 else std
    return float(spread) if spread > 0 and math.isfinite(spread) else 1.0


def _columns(X):
    """``X``'s columns as a list of 1-D arrays, and their kinds."""
    if isinstance(X, pd.DataFrame):
        return [X.iloc[:, j].to_numpy() for j in range(X.shape[1])], [
            _kind(t) for t in X.dtypes
        ]
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D table; got shape {X.shape}.")
    if X.dtype.kind in "iufc":
        return [X[:, j] for j in range(X.shape[1])], [_NUMBER] * X.shape[1]
    if X.dtype.kind == "b":  # booleans are categories
        return [X[:, j] for j in range(X.shape[1])], [_CATEGORY] * X.shape[1]
    columns, kinds = [], []
    for j in range(X.shape[1]):
        column = X[:, j]
        try:
            columns.append(column.astype(np.float64))
            kinds.append(_NUMBER)
        except (TypeError, ValueError):
            columns.append(column)
            kinds.append(_CATEGORY)
    return columns, kinds


class TableEncoder:
    """Numbers standardized and categories coded, as fixed from one set of rows.

    ``fit(X)`` records, per column, whether it is a number (centre: median;
    scale: ``min(std, IQR / 1.349)``) or a category (the sorted categories
    seen). ``transform`` gives the standardized numbers and the category codes
    (-1 for a category not seen at fit); ``distance_features`` gives one
    numeric matrix whose euclidean distance is the table's distance:
    standardized numbers, and each category one-hot over sqrt(2), so that a
    mismatch adds 1 to the squared distance, as a number one spread away does.
    """

    def fit(self, X):
        columns, kinds = _columns(X)
        self.names_ = (
            list(X.columns) if isinstance(X, pd.DataFrame) else list(range(len(kinds)))
        )
        self.kinds_ = kinds
        self.n_columns_ = len(kinds)
        self.numbers_ = [j for j, k in enumerate(kinds) if k == _NUMBER]
        self.categories_idx_ = [j for j, k in enumerate(kinds) if k == _CATEGORY]
        self.center_ = np.array(
            [float(np.median(columns[j].astype(np.float64))) for j in self.numbers_]
        )
        self.scale_ = np.array(
            [_robust_spread(columns[j].astype(np.float64)) for j in self.numbers_]
        )
        self.categories_ = [
            np.array(sorted(pd.unique(columns[j]), key=_sort_key), dtype=object)
            for j in self.categories_idx_
        ]
        return self

    @property
    def n_categories_(self):
        return np.array([len(c) for c in self.categories_], dtype=np.int64)

    def transform(self, X):
        """``(Z, codes)``: the standardized numbers (float64) and the codes."""
        columns, _ = _columns(X)
        if len(columns) != self.n_columns_:
            raise ValueError(
                f"X has {len(columns)} columns; the table had {self.n_columns_}."
            )
        n = len(columns[0]) if columns else 0
        try:
            Z = (
                np.column_stack([columns[j].astype(np.float64) for j in self.numbers_])
                if self.numbers_
                else np.empty((n, 0))
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"A numeric column of the table holds values that are not numbers "
                f"({exc}); give every row the table's column types."
            ) from exc
        Z = (Z - self.center_) / self.scale_
        codes = np.empty((n, len(self.categories_idx_)), dtype=np.int64)
        for c, j in enumerate(self.categories_idx_):
            lookup = pd.Index(self.categories_[c])
            codes[:, c] = lookup.get_indexer(pd.Index(columns[j], dtype=object))
        return Z, codes

    def one_hot(self, codes, weights=None):
        """The codes one-hot (a code of -1 gives a row of zeros), each column's
        block multiplied by its weight."""
        sizes = self.n_categories_
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        out = np.zeros((len(codes), int(sizes.sum())))
        rows = np.arange(len(codes))
        for c in range(codes.shape[1]):
            seen = codes[:, c] >= 0
            value = 1.0 if weights is None else weights[c]
            out[rows[seen], offsets[c] + codes[seen, c]] = value
        return out

    def distance_features(self, X):
        wide = [
            (len(c), j)
            for c, j in zip(self.categories_, self.categories_idx_, strict=True)
            if len(c) > 1000
        ]
        if wide:
            raise ValueError(
                f"Column {self.names_[wide[0][1]]!r} has {wide[0][0]} categories: an "
                "identifier or "
                "free text, which distances cannot compare; drop it (or bin it) "
                "before comparing records."
            )
        Z, codes = self.transform(X)
        return np.hstack([Z, self.one_hot(codes) / math.sqrt(2.0)])


def _sort_key(value):
    return (type(value).__name__, str(value))


def distance_arrays(X_train, **others):
    """Float arrays for euclidean distances: numeric inputs as they are, and
    when any input is a mixed table, all of them through one
    :class:`TableEncoder` fitted on ``X_train``."""
    inputs = {"X_train": X_train, **others}
    if not any(is_mixed(X) for X in inputs.values()):
        return {
            name: check_array(X, dtype=np.float64, input_name=name)
            for name, X in inputs.items()
        }
    encoder = TableEncoder().fit(X_train)
    out = {}
    for name, X in inputs.items():
        if _n_columns(X) != encoder.n_columns_:
            raise ValueError(
                f"{name} has {_n_columns(X)} features but X_train has "
                f"{encoder.n_columns_}."
            )
        out[name] = encoder.distance_features(X)
    return out


def _n_columns(X):
    return X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else len(X[0])


def _best_on_grid(grid, objective):
    """The maximiser of ``objective`` over ``grid`` (sorted), from every other
    point and then the neighbours of the best: the grid's maximiser when the
    objective is unimodal on it, in about half the evaluations."""
    values = {}

    def value(i):
        if i not in values:
            values[i] = objective(grid[i])
        return values[i]

    coarse = list(range(0, len(grid), 2))
    if coarse[-1] != len(grid) - 1:
        coarse.append(len(grid) - 1)
    best = max(coarse, key=value)
    best = max((i for i in (best - 1, best, best + 1) if 0 <= i < len(grid)), key=value)
    return grid[best]


def _row_logsumexp(a):
    """``log(sum(exp(a), axis=1))`` per row, exact for rows far from every
    sample (shifted by the row's maximum); ``a`` is overwritten."""
    shift = a.max(axis=1)
    finite = np.isfinite(shift)
    shift = np.where(finite, shift, 0.0).astype(a.dtype)
    a -= shift[:, None]
    np.exp(a, out=a)
    with np.errstate(divide="ignore"):
        out = np.log(a.sum(axis=1, dtype=np.float64)) + shift
    return np.where(finite, out, -np.inf)


#: Beyond this many categories in all, mismatches are counted column by
#: column rather than by a product of one-hot matrices.
_ONE_HOT_WIDTH = 64


class _Categories:
    """The category codes of some rows, and their one-hot form when narrow."""

    def __init__(self, encoder, codes):
        self.codes = codes
        narrow = encoder.n_categories_.sum() <= _ONE_HOT_WIDTH
        self.onehot = encoder.one_hot(codes) if narrow else None

    def take(self, rows):
        out = object.__new__(_Categories)
        out.codes = self.codes[rows]
        out.onehot = None if self.onehot is None else self.onehot[rows]
        return out

    def matches(self, start, stop, other):
        """Matching categories between rows ``start:stop`` and ``other``'s."""
        if self.onehot is not None:
            return self.onehot[start:stop] @ other.onehot.T
        out = np.zeros((stop - start, len(other.codes)))
        for c in range(self.codes.shape[1]):
            mine = self.codes[start:stop, c][:, None]
            out += (mine == other.codes[:, c][None, :]) & (mine >= 0)
        return out


def _pair_blocks(Zq, Cq, Zs, Cs, n_categorical, block):
    """Per block of query rows: squared distances and mismatch counts to every
    sample (float64), from matrix products."""
    sq_s = np.einsum("ij,ij->i", Zs, Zs)
    for start in range(0, len(Zq), block):
        stop = min(start + block, len(Zq))
        zq = Zq[start:stop]
        d2 = np.einsum("ij,ij->i", zq, zq)[:, None] + sq_s[None, :] - 2.0 * zq @ Zs.T
        np.maximum(d2, 0.0, out=d2)
        mismatches = (
            n_categorical - Cq.matches(start, stop, Cs) if n_categorical else 0.0
        )
        yield start, stop, d2, mismatches


class ProductKernelDensity(BaseEstimator):
    """Kernel density of samples on a table of numbers and categories.

    Gaussian kernel of width ``bandwidth`` on the numbers standardized by
    ``encoder`` (or by the samples, when None), Aitchison-Aitken kernel with
    relative mismatch weight ``category_bandwidth`` on each category (booleans
    and text included); see the module's formula. The log-density is exact:
    kernel sums in log space per row, in blocks within a quarter of
    scikit-learn's ``working_memory``.

    Parameters
    ----------
    bandwidth : float or {"likelihood", "scott"}, default="likelihood"
        Width of the gaussian kernel in standardized units. ``"likelihood"``
        maximises the leave-one-out likelihood of the samples (on up to 300
        of them, drawn at random with a fixed seed, as queries; over a grid
        of factors 2**-14 .. 4 of Scott's rule);
        ``"scott"`` is ``m ** (-1 / (d + 4))`` for ``m`` samples and ``d``
        numeric columns.
    category_bandwidth : float in (0, 1] or "likelihood", default="likelihood"
        The kernel weight of another category relative to the same one.
    encoder : TableEncoder or None, default=None
        Fixes the columns' kinds, centres, scales and categories; None fits
        one on the samples.

    Attributes
    ----------
    bandwidth_, category_bandwidth_ : float
        The widths used.
    encoder_ : TableEncoder
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmem._mixed import ProductKernelDensity
    >>> rng = np.random.RandomState(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
    >>> kde = ProductKernelDensity().fit(df)
    >>> kde.score_samples(df.head(2)).shape
    (2,)
    """

    _parameter_constraints: dict = {
        "bandwidth": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"likelihood", "scott"}),
        ],
        "category_bandwidth": [
            Interval(Real, 0, 1, closed="right"),
            StrOptions({"likelihood"}),
        ],
        "encoder": "no_validation",
    }

    def __init__(
        self, bandwidth="likelihood", category_bandwidth="likelihood", encoder=None
    ):
        self.bandwidth = bandwidth
        self.category_bandwidth = category_bandwidth
        self.encoder = encoder

    def fit(self, X, y=None):
        """Keep the samples ``X`` (a DataFrame or an array) as kernel centres."""
        self._validate_params()
        encoder = self.encoder if self.encoder is not None else TableEncoder().fit(X)
        self.encoder_ = encoder
        Z, codes = encoder.transform(X)
        if len(Z) < 2:
            raise ValueError("A kernel density needs 2 samples or more.")
        self.n_features_in_ = encoder.n_columns_
        self._Z, self._categories = Z, _Categories(encoder, codes)
        h, r = self.bandwidth, self.category_bandwidth
        scott = len(Z) ** (-1.0 / (Z.shape[1] + 4))
        if h == "scott":
            h = scott
        if h == "likelihood" or r == "likelihood":
            h, r = self._leave_one_out_choice(h, r, scott)
        self.bandwidth_ = float(h)
        self.category_bandwidth_ = float(r)
        return self

    def _log_norm(self, h, r):
        """log of the kernel's normalising constant (per pair)."""
        d = self._Z.shape[1]
        sizes = self.encoder_.n_categories_
        return (
            -d * math.log(h * math.sqrt(2 * math.pi))
            - float(np.log(self.encoder_.scale_).sum())
            - float(np.log1p((sizes - 1) * r).sum())
        )

    def _leave_one_out_choice(self, h, r, scott):
        """Coordinate ascent over the grids of the leave-one-out likelihood."""
        m = len(self._Z)
        q = min(_N_QUERIES, m)
        n_cat = len(self.encoder_.categories_idx_)
        # Queries at random (a fixed draw): generators may return their
        # samples in order (GaussianMixture, component by component).
        rows = np.sort(np.random.RandomState(0).permutation(m)[:q])
        d2, mismatches = next(
            _pair_blocks(
                self._Z[rows],
                self._categories.take(rows),
                self._Z,
                self._categories,
                n_cat,
                q,
            )
        )[2:]
        d2[np.arange(q), rows] = np.inf  # leave each sample out

        # float32 is ample to compare widths, and halves the passes' cost.
        d2 = d2.astype(np.float32)
        mismatches = np.asarray(mismatches, dtype=np.float32)
        work = np.empty_like(d2)

        def objective(h_, r_):
            np.multiply(d2, np.float32(-0.5 / h_**2), out=work)
            if n_cat:
                np.add(work, np.float32(math.log(r_)) * mismatches, out=work)
            return float(
                _row_logsumexp(work).mean() - math.log(m - 1) + self._log_norm(h_, r_)
            )

        free_h, free_r = h == "likelihood", r == "likelihood" and n_cat > 0
        h = scott if free_h else h
        r = (0.1 if n_cat else 1.0) if r == "likelihood" else r
        if self._Z.shape[1] == 0:
            free_h = False
        for _ in range(2 if free_h and free_r else 1):
            if free_h:
                h = scott * _best_on_grid(
                    _H_FACTORS, lambda v, r=r: objective(scott * v, r)
                )
            if free_r:
                r = max(_R_GRID, key=lambda v, h=h: objective(h, v))
        return h, r

    def score_samples(self, X):
        """Exact log-density of each row of ``X``."""
        check_is_fitted(self, "encoder_")
        Z, codes = self.encoder_.transform(X)
        categories = _Categories(self.encoder_, codes)
        h, r = self.bandwidth_, self.category_bandwidth_
        m = len(self._Z)
        n_cat = len(self.encoder_.categories_idx_)
        offset = self._log_norm(h, r) - math.log(m)
        block = rows_per_block(3 * 8 * m, len(Z), budget=budget_bytes(0.25))
        out = np.empty(len(Z))
        log_r = math.log(r)
        for start, stop, d2, mismatches in _pair_blocks(
            Z, categories, self._Z, self._categories, n_cat, block
        ):
            log_k = d2
            log_k *= -0.5 / h**2
            if n_cat:
                log_k += log_r * mismatches
            out[start:stop] = _row_logsumexp(log_k) + offset
        return out
