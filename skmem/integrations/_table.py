"""What the synthesizer adapters share: a table's columns and dtypes, kept at
``fit`` and given back to the samples, and the fit/sample seeding."""

import contextlib
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from .._splits import MAX_SEED

#: What a column's dtype says it is, for a synthesizer's metadata.
NUMERICAL, CATEGORICAL, BOOLEAN, DATETIME = (
    "numerical",
    "categorical",
    "boolean",
    "datetime",
)


def column_kind(series):
    """``"numerical"``, ``"categorical"``, ``"boolean"`` or ``"datetime"``."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return BOOLEAN
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return DATETIME
    if isinstance(dtype, pd.CategoricalDtype):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERICAL
    return CATEGORICAL


def as_frame(X):
    """``X`` as a DataFrame: a DataFrame is kept, an array gets columns
    ``x0, x1, ...``."""
    if isinstance(X, pd.DataFrame):
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a table (2-D); got an array of shape {X.shape}.")
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    if X.dtype == object:
        # An array of objects (numbers and text, as the command line reads a
        # mixed table): the columns that hold only numbers become numbers.
        for column in frame.columns:
            try:
                frame[column] = pd.to_numeric(frame[column])
            except (TypeError, ValueError):
                pass
    return frame


def plain_frame(df):
    """A copy without pandas' categorical dtype (text columns as objects):
    the libraries' encoders handle objects without deprecation warnings."""
    out = df.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(object)
    return out.reset_index(drop=True)


def restore_dtypes(samples, columns, dtypes):
    """``samples`` with the training table's columns, in order, and dtypes.

    A category never seen in training stays as it is (the column becomes an
    object column if the categorical dtype cannot hold it); integers that came
    back as floats are rounded.
    """
    missing = [c for c in columns if c not in samples.columns]
    if missing:
        raise ValueError(
            f"The synthesizer's samples lack the columns {missing}; they must have "
            "the training table's columns."
        )
    out = samples.loc[:, list(columns)].reset_index(drop=True).copy()
    for column in columns:
        dtype = dtypes[column]
        values = out[column]
        try:
            if pd.api.types.is_integer_dtype(
                dtype
            ) and not pd.api.types.is_integer_dtype(values.dtype):
                values = np.round(values.astype(np.float64))
            if isinstance(dtype, pd.CategoricalDtype):
                unseen = ~values.isin(dtype.categories) & values.notna()
                out[column] = values.astype(object if unseen.any() else dtype)
            else:
                out[column] = values.astype(dtype)
        except (TypeError, ValueError):
            out[column] = values  # left as the synthesizer gave it
    return out


@contextlib.contextmanager
def seeded_global_rngs(seed):
    """numpy's and torch's global generators seeded with ``seed`` inside, and
    restored after (libraries that draw from them are then reproducible)."""
    if seed is None:
        yield
        return
    np_state = np.random.get_state()  # noqa: NPY002 (the global one is the point)
    torch = _torch_if_loaded()
    torch_state = torch.random.get_rng_state() if torch is not None else None
    np.random.seed(int(seed) % 2**32)  # noqa: NPY002
    if torch is not None:
        torch.manual_seed(int(seed))
    try:
        yield
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        if torch is not None:
            torch.random.set_rng_state(torch_state)


def _torch_if_loaded():
    import sys

    return sys.modules.get("torch")


@contextlib.contextmanager
def quiet_library():
    """The deprecation and future warnings that these libraries raise from
    pandas and numpy inside their own code, silenced; ours pass through."""
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning, PendingDeprecationWarning):
            warnings.simplefilter("ignore", category)
        yield


class TableSynthesizer(BaseEstimator):
    """Base of the adapters: ``name`` and ``random_state`` and any keyword
    parameters of the library's model, all visible to ``get_params`` and
    ``set_params`` (so that :func:`~sklearn.base.clone` copies them)."""

    _fixed = ("name", "random_state")

    def __init__(self, name, *, random_state=None, **params):
        self.name = name
        self.random_state = random_state
        self._params = dict(params)

    def get_params(self, deep=True):
        params = {"name": self.name, "random_state": self.random_state}
        params.update(self._params)
        return params

    def set_params(self, **params):
        for key, value in params.items():
            if key in self._fixed:
                setattr(self, key, value)
            else:
                self._params[key] = value
        return self

    def __getattr__(self, key):
        # Library parameters read as attributes, as scikit-learn's repr does.
        params = self.__dict__.get("_params", {})
        if key in params:
            return params[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def _fit_seed_and_sampling_rng(self):
        rng = check_random_state(self.random_state)
        fit_seed = None if self.random_state is None else int(rng.randint(MAX_SEED))
        return fit_seed, rng

    def _remember_table(self, X):
        df = as_frame(X)
        if df.shape[0] < 2:
            raise ValueError(f"A synthesizer needs 2 rows or more; got {df.shape[0]}.")
        self.columns_ = list(df.columns)
        self.dtypes_ = df.dtypes.to_dict()
        self.column_kinds_ = {c: column_kind(df[c]) for c in df.columns}
        self.n_features_in_ = df.shape[1]
        self._was_frame = isinstance(X, pd.DataFrame)
        return df

    def _output(self, samples, n_samples):
        out = restore_dtypes(as_frame(samples), self.columns_, self.dtypes_)
        if len(out) != n_samples:
            raise ValueError(
                f"{self.name} returned {len(out)} rows for {n_samples} asked; it must "
                "return as many as asked."
            )
        if not self._was_frame:
            return out.to_numpy()
        return out
