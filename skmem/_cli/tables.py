"""Reading the user's table, and what to do with its missing cells.

CSV and Parquet files go through pandas (``read_csv``, ``read_parquet``);
``.npy`` and ``.npz`` through numpy, without pickles. Rows keep their number in
the user's file (:attr:`Table.rows`), whatever is left out later.
"""

import re
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
    #: What reading the file decided that the user should know, one sentence each.
    notes: list = field(default_factory=list)
    #: ``"table"`` for CSV and Parquet (named columns), ``"array"`` for NumPy.
    kind: str = "array"
    #: The file's line (from 1) of each data row of a CSV, else None.
    lines: np.ndarray = None

    def __post_init__(self):
        if self.rows is None:
            self.rows = np.arange(self.X.shape[0])

    def describe_row(self, i):
        """Where row ``i`` of ``X`` is in the user's file, for messages."""
        row = int(self.rows[i])
        if self.lines is None:
            return f"{row} (rows counted from 0)"
        return f"{row} (rows counted from 0: line {int(self.lines[row])} of the file)"

    @property
    def numeric(self):
        return [j for j in range(self.X.shape[1]) if j not in self.categorical]


def load_data(path, key=None, encoding=None):
    """A :class:`Table` from ``.csv``, ``.parquet``, ``.npy`` or ``.npz``, or
    from a data set's name (:func:`skmem.datasets.load_named`).

    ``key``: the array of a ``.npz`` file (needed when it holds several);
    ``encoding``: the text encoding of a CSV (default: UTF-8, else Latin-1
    with a note).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if key is not None and suffix != ".npz":
        raise UsageError(
            f"--key {key} names an array inside a .npz file; {path.name} is not "
            "one: leave --key out"
        )
    if encoding is not None and suffix != ".csv":
        raise UsageError(
            f"--encoding {encoding} applies to a .csv file; {path.name} is not "
            "one: leave --encoding out"
        )
    if not path.exists():
        from ..datasets import load_named  # "mnist", "cifar10": a data set's name

        try:
            X = load_named(path)
        except (OSError, ValueError) as exc:  # offline, corrupt file
            raise UsageError(str(exc)) from exc
        if X is None:
            raise UsageError(f"no such file: {path}")
        return Table(X, [f"pixel {j}" for j in range(X.shape[1])])
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give a {', '.join(SUFFIXES)} file")
    if suffix == ".csv":
        table = _read_csv(path, encoding)
    elif suffix == ".parquet":
        table = _from_frame(_read_parquet(path))
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


def _read_parquet(path):
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except ImportError as exc:
        raise UsageError(
            f"{path}: reading Parquet needs pyarrow (pip install pyarrow), or "
            "save the table as CSV"
        ) from exc
    except Exception as exc:  # pyarrow's own errors: not a Parquet file
        raise UsageError(f"{path}: cannot read it as Parquet ({exc})") from exc


#: The delimiters a CSV may use, and how many lines are read to tell which.
DELIMITERS = ",;\t|"
SNIFF_LINES = 50
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+(?:[eE][-+]?\d+)?\s*$")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}


def _decode(path, encoding):
    """The file's text and, when it is not UTF-8, a note on how it was read."""
    data = path.read_bytes()
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UsageError(
                f"--encoding {encoding}: not an encoding Python knows; try utf-8, "
                "latin-1 or cp1252"
            ) from None
        try:
            return data.decode(encoding), None
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"{path}: not {encoding} text (byte {exc.start}: {exc.reason}); "
                "try another --encoding"
            ) from None
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        # Latin-1 decodes any bytes: right for Latin-1 files, and in the text
        # columns of a cp1252 file only a few signs differ.
        line = data[: exc.start].count(b"\n") + 1
        note = (
            f"{path.name} is not UTF-8 (line {line} has byte "
            f"0x{data[exc.start]:02x}): read as Latin-1; give --encoding if it "
            "is another"
        )
        return data.decode("latin-1"), note


def _sniff(lines):
    """The delimiter of the first lines of a CSV (a comma when unclear), and
    whether numbers have a decimal comma."""
    import csv

    sample = "\n".join(lines[:SNIFF_LINES])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    decimal = "."
    if delimiter != ",":
        fields = (f for line in lines[1:SNIFF_LINES] for f in line.split(delimiter))
        if any(_DECIMAL_COMMA.match(f) for f in fields):
            decimal = ","
    return delimiter, decimal


def _read_csv(path, encoding):
    import io

    import pandas as pd

    text, note = _decode(path, encoding)
    lines = text.splitlines()
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if not nonblank:
        raise UsageError(f"{path} is empty")
    delimiter, decimal = _sniff([lines[i] for i in nonblank])

    def read(**kwargs):
        return pd.read_csv(io.StringIO(text), sep=delimiter, decimal=decimal, **kwargs)

    try:
        first = read(nrows=0).columns
        # A first line of numbers only is data, not a header.
        header = not all(_is_number(str(c).replace(decimal, ".")) for c in first)
        frame = read(header=0 if header else None)
        if not header:
            frame.columns = [f"column {j}" for j in range(frame.shape[1])]
    except pd.errors.EmptyDataError as exc:
        raise UsageError(f"{path} is empty") from exc
    except pd.errors.ParserError as exc:
        message = str(exc).strip().splitlines()[-1]
        raise UsageError(f"{path}: cannot read it as CSV ({message})") from exc
    if header and frame.shape[0] == 0:
        names = ", ".join(map(str, frame.columns))
        raise UsageError(f"{path} has a header ({names}) but no rows")
    if frame.shape[1] == 1:
        first = lines[nonblank[0]]
        inside = [d for d in DELIMITERS if d in first]
        if inside:
            name = _DELIMITER_NAMES[inside[0]]
            raise UsageError(
                f"{path}: read as one column, but its first line holds a {name} "
                f"({inside[0]!r}): its lines have different numbers of fields. "
                "Make every line hold the same number of fields"
            )
    table = _from_frame(frame)
    if note:
        table.notes.append(note)
    if delimiter != "," or decimal != ".":
        table.notes.append(
            f"{path.name}: fields separated by {_DELIMITER_NAMES[delimiter]}s"
            + (", numbers with a decimal comma" if decimal == "," else "")
        )
    if '"' not in text:
        # The file's line of each data row: pandas skips blank lines. (A
        # quoted field may span lines; then the lines are not known.)
        table.lines = np.asarray(nonblank[int(header) :]) + 1
    return table


def _from_frame(frame):
    """Numeric columns (bool included) as floats, the others as categories."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    names = [str(c) for c in frame.columns]
    categorical = [
        j
        for j, c in enumerate(frame.columns)
        if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))
    ]
    if not categorical:
        return Table(frame.to_numpy(dtype=np.float64), names, kind="table")
    X = np.empty(frame.shape, dtype=object)
    for j, c in enumerate(frame.columns):
        column = frame[c]
        if j in categorical:
            X[:, j] = [v if isinstance(v, str) else (np.nan if v != v else str(v))
                       for v in column.astype(object)]  # fmt: skip
        else:
            X[:, j] = column.to_numpy(dtype=np.float64)
    return Table(X, names, categorical, kind="table")


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
                if key is None and len(names) > 1:
                    raise UsageError(
                        f"{path} holds {len(names)} arrays ({', '.join(names)}): "
                        f"choose one with --key, e.g. --key {names[0]}"
                    )
                name = key or names[0]
                if name not in archive:
                    raise UsageError(
                        f"{path} has no array {name!r}; it has {', '.join(names)}"
                    )
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
    notes = []
    if X.ndim == 1:
        X = X[:, None]
        notes.append(
            f"{path.name} holds a 1-D array: read as {X.shape[0]} rows of one "
            "column (save it as (n_rows, n_columns) if it is one row)"
        )
    if X.ndim != 2:
        raise UsageError(
            f"{path}: expected a 2-D table (rows x columns), got {X.ndim} "
            f"dimensions {X.shape}; reshape it, e.g. X.reshape(len(X), -1)"
        )
    names = [f"column {j}" for j in range(X.shape[1])]
    return Table(X.astype(np.float64), names, notes=notes)


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
            check_no_missing(
                table.X,
                columns=table.names,
                hint=MISSING_HINT,
                describe_row=table.describe_row,
            )
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
        f"{shown}{more}, counted from 0 after the header); scores.csv's index is "
        "the row in your file"
    )
    return replace(table, X=X[keep], rows=table.rows[keep]), note


def drop_constant_columns(table):
    """``(table, note)`` without the columns that hold one value in every row.

    A constant column says nothing about any row, but it changes the
    dimension, and with it a kernel's bandwidth and normalisation: dropping
    it gives the same scores as the file without it.
    """
    X = table.X
    constant = [j for j in range(X.shape[1]) if _constant(X[:, j])]
    if not constant:
        return table, None
    check_not_constant(table)
    keep = [j for j in range(X.shape[1]) if j not in constant]
    dropped = ", ".join(table.names[j] for j in constant)
    note = f"left out {len(constant)} constant column(s) ({dropped})"
    return _select(table, keep), note


def check_not_constant(table):
    """Refuse a table whose every column holds one value in every row."""
    X = table.X
    if X.shape[1] == 0 or all(_constant(X[:, j]) for j in range(X.shape[1])):
        names = ", ".join(table.names[:5]) + (", ..." if len(table.names) > 5 else "")
        raise UsageError(
            f"every column ({names}) holds one value in every row: the "
            f"{X.shape[0]} rows are identical, so no model can tell them apart; "
            "score a table whose rows differ"
        )


def _constant(column):
    # A missing cell (NaN is not equal to itself) makes a column not constant.
    first = column[0]
    if column.dtype.kind == "f":
        return bool((column == first).all())
    return all(v == first for v in column)


# Identifier columns: a date, a text or (under these conditions) an integer
# different in every row says which record a row is, not what it measures.
IDENTIFIER_MIN_ROWS = 20
_ID_NAME = re.compile(r"(^|[^a-z])(id|ids|key|index|idx|no|nr|num|number|#)$|^#")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    r"^\s*(?:"
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2021-03-14, 2021/3/14
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 14.03.2021, 3/14/21
    rf"|\d{{1,2}}[ -]{_MONTH}[ ,-]*\d{{2,4}}"  # 14 March 2021, 14-Mar-21
    rf"|{_MONTH} \d{{1,2}},? \d{{4}}"  # March 14, 2021
    r")(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:am|pm)?"
    r"\s*(?:z|utc|[+-]\d{2}:?\d{2})?)?\s*$",
    re.IGNORECASE,
)


def _present(column):
    return [v for v in column if not (v is None or v != v)]


def _identifier_kind(table, j):
    """Why column ``j`` identifies rows ("a date", ...), or None."""
    column = table.X[:, j]
    values = _present(column)
    if not values:
        return None
    if j in table.categorical:
        if all(isinstance(v, str) and _DATE.match(v) for v in values):
            return "dates"
        if len(values) >= IDENTIFIER_MIN_ROWS and len(set(values)) == len(values):
            return "a different text in every row"
        return None
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if (
        n < IDENTIFIER_MIN_ROWS
        or n < len(column)
        or not np.all(np.isfinite(values))
        or not np.all(values == np.round(values))
        or len(np.unique(values)) < n
    ):
        return None
    # A measured integer (a price, a count) can differ in every row too; an
    # identifier is also named like one, counts up or down, or numbers the rows.
    step = np.diff(values)
    named = _ID_NAME.search(table.names[j].strip().lower()) is not None
    if named or (step > 0).all() or (step < 0).all() or np.ptp(values) == n - 1:
        return "a different integer in every row"
    return None


def drop_identifier_columns(table, keep=()):
    """``(table, note)`` without the columns that identify rows: dates, and text
    or integers different in every row; ``keep`` names columns to keep anyway.

    One-hot encoding a date gives each row its own category, and a row number
    scaled as a feature is a coordinate that sets every row apart: either makes
    every record look memorized, or hides what the other columns say.
    """
    unknown = [name for name in keep if name not in table.names]
    if unknown:
        raise UsageError(
            f"--keep-columns {unknown[0]}: no such column; the columns are "
            + ", ".join(table.names)
        )
    if table.kind != "table":
        return table, None
    found = {}
    for j, name in enumerate(table.names):
        if name in keep:
            continue
        kind = _identifier_kind(table, j)
        if kind is not None:
            found[j] = kind
    if not found:
        return table, None
    named = ", ".join(f"{table.names[j]} ({kind})" for j, kind in found.items())
    if len(found) == table.X.shape[1]:
        raise UsageError(
            f"every column identifies rows rather than measuring them: {named}; "
            "use --keep-columns to score some of them anyway"
        )
    keep_j = [j for j in range(table.X.shape[1]) if j not in found]
    note = (
        f"left out {len(found)} column(s) that identify rows: {named} "
        f"(--keep-columns {','.join(table.names[j] for j in found)} keeps them)"
    )
    return _select(table, keep_j), note


def _select(table, keep):
    """``table`` with only the columns ``keep``, numeric ones as floats."""
    names = [table.names[j] for j in keep]
    categorical = [keep.index(j) for j in table.categorical if j in keep]
    X = table.X[:, keep]
    if not categorical:
        X = X.astype(np.float64)
    return replace(table, X=X, names=names, categorical=categorical)
