"""Reading the user's table, and what to do with its missing cells.

CSV and Parquet files go through pandas (``read_csv``, ``read_parquet``);
``.npy`` and ``.npz`` through numpy, without pickles. Rows keep their number in
the user's file (:attr:`Table.rows`), whatever is left out later.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import UsageError

SUFFIXES = (".csv", ".parquet", ".npy", ".npz")
MISSING = ("error", "drop", "impute")
MISSING_HINT = (
    " Use --missing drop to leave those rows out, or --missing impute to fill "
    "the cells in from each fold's training rows."
)


@dataclass
class Table:
    """Data as read: the array, column names, which columns are categorical.

    ``X`` is float64 when every column is numeric, else an object array with
    floats in the numeric columns and strings (NaN where missing) in the
    others. ``rows[i]`` is the number of row ``i`` in the user's file (data
    rows counted from 0, the header not counted).
    """

    X: np.ndarray
    names: list
    categorical: list = field(default_factory=list)
    rows: np.ndarray = None

    def __post_init__(self):
        if self.rows is None:
            self.rows = np.arange(self.X.shape[0])

    @property
    def numeric(self):
        return [j for j in range(self.X.shape[1]) if j not in self.categorical]


def load_data(path, key=None):
    """A :class:`Table` from ``.csv``, ``.parquet``, ``.npy`` or ``.npz``, or
    from a data set's name (:func:`skmem.datasets.load_named`)."""
    path = Path(path)
    if not path.exists():
        from ..datasets import load_named  # "mnist", "cifar10": a data set's name

        try:
            X = load_named(path)
        except (OSError, ValueError) as exc:  # offline, corrupt file
            raise UsageError(str(exc)) from exc
        if X is None:
            raise UsageError(f"no such file: {path}")
        return Table(X, [f"pixel {j}" for j in range(X.shape[1])])
    suffix = path.suffix.lower()
    if suffix in (".csv", ".parquet"):
        table = _from_frame(_read_frame(path, suffix), path)
    elif suffix in (".npy", ".npz"):
        table = _read_numpy(path, key)
    else:
        raise UsageError(f"{path}: expected a {', '.join(SUFFIXES)} file")
    if table.X.shape[0] < 2:
        raise UsageError(
            f"{path}: {table.X.shape[0]} rows; memorization scores need at least 2"
        )
    return table


def _is_number(text):
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def _read_frame(path, suffix):
    import pandas as pd

    if suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise UsageError(
                f"{path}: reading Parquet needs pyarrow (pip install pyarrow), or "
                "save the table as CSV"
            ) from exc
        except Exception as exc:  # pyarrow's own errors: not a Parquet file
            raise UsageError(f"{path}: cannot read it as Parquet ({exc})") from exc
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as exc:
        raise UsageError(f"{path} is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        message = str(exc).strip().splitlines()[-1]
        raise UsageError(f"{path}: cannot read it as CSV ({message})") from exc
    if all(_is_number(c) for c in frame.columns):
        # The first line holds only numbers: it is data, not a header.
        frame = pd.read_csv(path, header=None)
        frame.columns = [f"column {j}" for j in range(frame.shape[1])]
    elif frame.shape[0] == 0:
        names = ", ".join(map(str, frame.columns))
        raise UsageError(f"{path} has a header ({names}) but no rows")
    return frame


def _from_frame(frame, path):
    """Numeric columns (bool included) as floats, the others as categories."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    names = [str(c) for c in frame.columns]
    categorical = [
        j
        for j, c in enumerate(frame.columns)
        if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))
    ]
    if not categorical:
        return Table(frame.to_numpy(dtype=np.float64), names)
    X = np.empty(frame.shape, dtype=object)
    for j, c in enumerate(frame.columns):
        column = frame[c]
        if j in categorical:
            X[:, j] = [v if isinstance(v, str) else (np.nan if v != v else str(v))
                       for v in column.astype(object)]  # fmt: skip
        else:
            X[:, j] = column.to_numpy(dtype=np.float64)
    return Table(X, names, categorical)


def _read_numpy(path, key):
    # Check the format's signature first: numpy would call any other file
    # "pickled data" and suggest allow_pickle=True, which runs its code.
    with open(path, "rb") as f:
        head = f.read(6)
    suffix = path.suffix.lower()
    if suffix == ".npy" and head != b"\x93NUMPY":
        raise UsageError(f"{path} is not a NumPy .npy file (no .npy header)")
    if suffix == ".npz" and head[:2] != b"PK":
        raise UsageError(f"{path} is not a NumPy .npz file (not a zip archive)")
    try:
        if suffix == ".npy":
            X = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.keys())
                if not names:
                    raise UsageError(f"{path} holds no arrays")
                name = key or names[0]
                if name not in archive:
                    raise UsageError(f"{path} has no array {name!r}; it has {names}")
                X = archive[name]
    except ValueError as exc:
        if "pickle" in str(exc):  # a real .npy of Python objects
            raise UsageError(
                f"{path} holds Python objects, not numbers; save a numeric array "
                "(or a CSV for mixed columns)"
            ) from exc
        raise UsageError(f"{path}: cannot read it as numbers ({exc})") from exc
    except (OSError, EOFError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from exc
    if X.dtype.kind not in "biuf":
        raise UsageError(f"{path}: expected numbers, got dtype {X.dtype}")
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise UsageError(f"{path}: expected a 2-D table, got {X.ndim} dimensions")
    return Table(X.astype(np.float64), [f"column {j}" for j in range(X.shape[1])])


def _missing_mask(X):
    from .._rows import _missing_mask

    return _missing_mask(X)


def handle_missing(table, how):
    """``(table, note)`` after ``--missing``: error, drop or (later) impute.

    Infinite numeric cells count as missing. ``"impute"`` returns the table
    with them as NaN; the imputer goes into the model (see
    :func:`~skmem._cli.preprocess.prepare_model`). ``"drop"`` keeps the rows'
    numbers in :attr:`Table.rows`.
    """
    from .._rows import check_no_missing

    mask = _missing_mask(table.X)
    if not mask.any():
        return table, None
    if how == "error":
        try:
            check_no_missing(table.X, columns=table.names, hint=MISSING_HINT)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    X = table.X.copy()
    X[mask] = np.nan
    bad = mask.any(axis=1)
    if how == "impute":
        per_column = ", ".join(
            f"{table.names[j]} ({n})" for j, n in enumerate(mask.sum(0)) if n
        )
        note = (
            f"--missing impute: {int(mask.sum())} missing cells filled in from each "
            f"fold's training rows (median, or the most frequent category): "
            f"{per_column}"
        )
        return replace(table, X=X), note
    keep = ~bad
    if keep.sum() < 2:
        raise UsageError(
            f"--missing drop leaves {int(keep.sum())} rows; every other row has a "
            "missing cell. Use --missing impute instead."
        )
    dropped = table.rows[bad]
    shown = " ".join(str(r) for r in dropped[:10])
    more = f" and {len(dropped) - 10} more" if len(dropped) > 10 else ""
    note = (
        f"--missing drop: {len(dropped)} rows with missing cells left out (rows "
        f"{shown}{more}); scores.csv's index is the row in your file"
    )
    return replace(table, X=X[keep], rows=table.rows[keep]), note


def drop_constant_columns(table):
    """``(table, note)`` without the columns that hold one value in every row.

    A constant column says nothing about any row, but it changes the
    dimension, and with it a kernel's bandwidth and normalisation: dropping
    it gives the same scores as the file without it.
    """
    # A missing cell (NaN is not equal to itself) makes a column not constant.
    X = table.X
    if X.dtype.kind == "f":
        constant = list(np.flatnonzero((X == X[0]).all(axis=0)))
    else:
        constant = [j for j in range(X.shape[1]) if all(v == X[0, j] for v in X[:, j])]
    if not constant or len(constant) == table.X.shape[1]:
        return table, None
    keep = [j for j in range(X.shape[1]) if j not in constant]
    names = [table.names[j] for j in keep]
    categorical = [keep.index(j) for j in table.categorical if j in keep]
    X = X[:, keep]
    if not categorical:
        X = X.astype(np.float64)
    dropped = ", ".join(table.names[j] for j in constant)
    note = f"left out {len(constant)} constant column(s) ({dropped})"
    return replace(table, X=X, names=names, categorical=categorical), note
