"""A new user's own tables through ``skmem score`` (issue 27).

Each table is written the way other tools write them (pandas with a
semicolon and a decimal comma, Latin-1, an id and a date column...), and
read back by the command; scores are compared with those of the same
numbers given the plain way, and stderr must stay empty: no warning from
numpy, scipy, pandas or joblib.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from skmem import cli
from skmem._cli.errors import UsageError
from skmem._cli.tables import Table, load_data


def run(capsys, *args):
    """``skmem ARGS`` in this process: (exit status, stdout, stderr), with the
    warnings raised (which pytest would otherwise keep from stderr) in stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    err += "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
    return status, out, err


def scores(path):
    return pd.read_csv(path)


def frame(n=40, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame(
        {
            "species": rng.choice(["Adélie", "Gentoo", "Chinstrap"], n),
            "bill": rng.normal(40, 5, n).round(1),
            "mass": rng.normal(4000, 300, n).round(0),
        }
    )


FAST = ("--cv", 3, "--n-jobs", 1)


# -- delimiters, decimal commas, encodings ------------------------------------


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_delimiters_and_a_decimal_comma_read_as_the_plain_csv(
    tmp_path, capsys, sep
):
    df = frame()
    df.to_csv(tmp_path / "plain.csv", index=False)
    decimal = "," if sep == ";" else "."
    df.to_csv(tmp_path / "other.csv", sep=sep, decimal=decimal, index=False)
    plain, other = load_data(tmp_path / "plain.csv"), load_data(tmp_path / "other.csv")
    assert other.names == plain.names == list(df.columns)
    assert other.categorical == plain.categorical == [0]
    np.testing.assert_array_equal(other.X, plain.X)
    assert any("separated by" in note for note in other.notes)
    assert (sep == ";") == any("decimal comma" in note for note in other.notes)
    status, out, err = run(
        capsys, "score", tmp_path / "other.csv", *FAST, "--out", tmp_path / "o.csv"
    )
    assert status == 0 and err == ""
    run(capsys, "score", tmp_path / "plain.csv", *FAST, "--out", tmp_path / "p.csv")
    got, want = scores(tmp_path / "o.csv"), scores(tmp_path / "p.csv")
    np.testing.assert_array_equal(got["score"], want["score"])
    assert got["score"].std() > 0  # not one text column with one score


def test_a_headerless_file_with_decimal_commas(tmp_path):
    (tmp_path / "h.csv").write_text("1,5;2\n3,25;-4,5\n6;7,0\n")
    table = load_data(tmp_path / "h.csv")
    np.testing.assert_array_equal(table.X, [[1.5, 2], [3.25, -4.5], [6, 7]])
    assert table.names == ["column 0", "column 1"]


def test_a_one_column_table_with_a_delimiter_in_its_header_is_refused(tmp_path, capsys):
    # Lines with different numbers of fields: no delimiter can be told.
    (tmp_path / "t.csv").write_text("a;b;c\n1\n2;3\n4\n5\n")
    with pytest.raises(UsageError, match=r"read as one column.*semicolon \(';'\)"):
        load_data(tmp_path / "t.csv")
    status, _, err = run(capsys, "score", tmp_path / "t.csv")
    assert status == 2 and len(err.strip().splitlines()) == 1
    # One real column is fine.
    (tmp_path / "one.csv").write_text("a\n" + "\n".join(map(str, range(5))) + "\n")
    assert load_data(tmp_path / "one.csv").X.shape == (5, 1)


def test_latin1_falls_back_with_a_note_and_encoding_chooses(tmp_path, capsys):
    df = frame()
    df.to_csv(tmp_path / "l.csv", index=False, encoding="latin-1")
    table = load_data(tmp_path / "l.csv")
    assert "Adélie" in set(table.X[:, 0])
    (note,) = table.notes
    assert "not UTF-8" in note and "Latin-1" in note and "--encoding" in note
    # Given, it is used without a note; cp1252 agrees with latin-1 here.
    chosen = load_data(tmp_path / "l.csv", encoding="cp1252")
    assert chosen.notes == [] and np.array_equal(chosen.X, table.X)
    with pytest.raises(UsageError, match="not utf-8 text"):
        load_data(tmp_path / "l.csv", encoding="utf-8")
    with pytest.raises(UsageError, match="not an encoding Python knows"):
        load_data(tmp_path / "l.csv", encoding="klingon")
    status, out, err = run(
        capsys, "score", tmp_path / "l.csv", *FAST, "--out", tmp_path / "o.csv"
    )
    assert status == 0 and err == "" and "read as Latin-1" in out
    np.save(tmp_path / "d.npy", np.zeros((5, 2)))
    status, _, err = run(capsys, "score", tmp_path / "d.npy", "--encoding", "latin-1")
    assert status == 2 and "applies to a .csv file" in err


# -- NumPy files ---------------------------------------------------------------


def test_npz_with_several_arrays_needs_key_and_key_needs_npz(tmp_path, capsys):
    rng = np.random.RandomState(0)
    a, b = rng.normal(size=(10, 2)), rng.normal(size=(12, 3))
    np.savez(tmp_path / "two.npz", train=a, test=b)
    with pytest.raises(UsageError, match=r"holds 2 arrays \(train, test\).*--key"):
        load_data(tmp_path / "two.npz")
    np.testing.assert_array_equal(load_data(tmp_path / "two.npz", key="test").X, b)
    with pytest.raises(UsageError, match="no array 'x'; it has train, test"):
        load_data(tmp_path / "two.npz", key="x")
    np.savez(tmp_path / "one.npz", only=a)
    np.testing.assert_array_equal(load_data(tmp_path / "one.npz").X, a)
    np.save(tmp_path / "a.npy", a)
    status, _, err = run(capsys, "score", tmp_path / "a.npy", "--key", "train")
    assert status == 2 and "--key train names an array inside a .npz" in err


def test_a_1d_npy_is_one_column_with_a_note(tmp_path):
    np.save(tmp_path / "v.npy", np.arange(6.0))
    table = load_data(tmp_path / "v.npy")
    assert table.X.shape == (6, 1)
    assert "1-D array: read as 6 rows of one column" in table.notes[0]


# -- row numbers ---------------------------------------------------------------


def test_row_numbers_in_messages_give_the_line_of_the_file(tmp_path, capsys):
    text = "a,b\n1,2\n\n3,4\n5,\n6,7\n"  # a blank line, then a missing cell
    (tmp_path / "m.csv").write_text(text)
    line = 1 + next(i for i, li in enumerate(text.splitlines()) if li.endswith(","))
    status, _, err = run(capsys, "score", tmp_path / "m.csv")
    assert status == 2
    assert f"at row 2 (rows counted from 0: line {line} of the file)" in err
    assert line == 5


# -- identifier columns ---------------------------------------------------------


def with_identifiers(n=40, seed=0):
    df = frame(n, seed)
    rng = np.random.RandomState(seed + 1)
    df.insert(0, "id", np.arange(100, 100 + n))
    df["date"] = pd.date_range("2020-01-01", periods=n).strftime("%d.%m.%Y")
    df["name"] = [f"bird {i}" for i in rng.permutation(n)]
    return df


def test_identifier_columns_are_left_out_and_named(tmp_path, capsys):
    df = with_identifiers()
    df.to_csv(tmp_path / "ids.csv", index=False)
    df[["species", "bill", "mass"]].to_csv(tmp_path / "plain.csv", index=False)
    status, out, err = run(
        capsys, "score", tmp_path / "ids.csv", *FAST, "--out", tmp_path / "o.csv"
    )
    assert status == 0 and err == ""
    note = " ".join(out.split())
    assert "left out 3 column(s) that identify rows" in note
    for part in ("id (a different integer", "date (dates)", "name (a different text"):
        assert part in note
    assert "--keep-columns id,date,name" in note
    run(capsys, "score", tmp_path / "plain.csv", *FAST, "--out", tmp_path / "p.csv")
    np.testing.assert_array_equal(
        scores(tmp_path / "o.csv")["score"], scores(tmp_path / "p.csv")["score"]
    )
    # --keep-columns keeps them: different scores.
    status, out, _ = run(
        capsys,
        "score",
        tmp_path / "ids.csv",
        *FAST,
        "--keep-columns",
        "id",
        "--out",
        tmp_path / "k.csv",
    )
    assert status == 0 and "left out 2 column(s)" in out
    assert not np.array_equal(
        scores(tmp_path / "k.csv")["score"], scores(tmp_path / "p.csv")["score"]
    )
    status, _, err = run(capsys, "score", tmp_path / "ids.csv", "--keep-columns", "x")
    assert status == 2 and "--keep-columns x: no such column" in err


def test_which_columns_identify_rows():
    from skmem._cli.tables import drop_identifier_columns

    rng = np.random.RandomState(0)
    n = 30
    columns = {
        "price": rng.permutation(np.arange(1000, 1000 + 5 * n, 5)),  # measured
        "count": rng.randint(0, 5, n),
        "row": rng.permutation(n),  # numbers the rows 0..n-1
        "seq": np.cumsum(rng.randint(1, 9, n)),  # counts up
        "customer_id": rng.permutation(10**6)[:n],  # named like one
        "x": rng.normal(size=n),  # real numbers differ in every row
    }
    X = np.column_stack(list(columns.values())).astype(float)
    table = Table(X, list(columns), kind="table")
    kept, note = drop_identifier_columns(table)
    assert kept.names == ["price", "count", "x"]
    assert "row" in note and "seq" in note and "customer_id" in note
    # Too few rows to tell: kept; an array's columns have no names: kept.
    small = Table(X[:10], list(columns), kind="table")
    assert drop_identifier_columns(small)[0].names == list(columns)
    assert drop_identifier_columns(Table(X, list(columns)))[0].names == list(columns)
    # Dates at any size, whatever their format; a missing cell does not hide them.
    dates = np.array(
        [["2021-03-14", 1.0], ["14 March 2021", 2.0], [np.nan, 3.0]], dtype=object
    )
    dated = Table(dates, ["when", "v"], [0], kind="table")
    assert drop_identifier_columns(dated)[0].names == ["v"]
    with pytest.raises(UsageError, match="every column identifies rows"):
        drop_identifier_columns(Table(X[:, 2:3], ["row"], kind="table"))


# -- constant tables -------------------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--no-preprocess",)])
def test_an_all_constant_table_is_refused_in_one_line(tmp_path, capsys, extra):
    (tmp_path / "c.csv").write_text("a,b\n" + "1,2\n" * 12)
    status, out, err = run(capsys, "score", tmp_path / "c.csv", *extra)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "holds one value in every row" in err and "fitting" not in out
    assert not (tmp_path / "scores.csv").exists()


# -- imputed cells -------------------------------------------------------------


def test_imputed_cells_are_counted_in_scores_csv_and_the_summary(tmp_path, capsys):
    rng = np.random.RandomState(0)
    n = 40
    df = pd.DataFrame(rng.normal(size=(n, 4)).round(3), columns=list("abcd"))
    df["kind"] = rng.choice(["x", "y"], n)
    df.loc[[3, 11, 20], "b"] = np.nan
    df.loc[7, list("abcd")] = np.nan
    df.loc[[7, 30], "kind"] = np.nan
    df.to_csv(tmp_path / "m.csv", index=False)
    out_csv = tmp_path / "o.csv"
    status, out, err = run(
        capsys, "score", tmp_path / "m.csv", "--missing", "impute", *FAST,
        "--out", out_csv,
    )  # fmt: skip
    assert status == 0 and err == ""
    got = scores(out_csv)
    want = df.isna().sum(axis=1).to_numpy()
    np.testing.assert_array_equal(got["n_imputed"], want[got["index"]])
    assert "9 cells of 5 rows were imputed" in " ".join(out.split())
    facts = pd.read_json(out_csv.with_suffix(".json"), typ="series")["summary"]
    assert facts["kde"]["n_imputed_cells"] == 9


def test_flagged_rows_mostly_imputed_are_named():
    from skmem.cli import imputed_facts, imputed_lines

    n_imputed = np.array([0, 5, 3, 2, 4, 0])
    rows = np.array([10, 11, 12, 13, 14, 15])  # the rows' numbers in the file
    facts = imputed_facts(n_imputed, {"memorized": [11, 13, 14, 15]}, rows, 5)
    # More than half of 5 cells: 3 or more; flagged: 11, 13, 14, 15.
    assert facts["memorized_mostly_imputed"] == [11, 14]
    assert facts["n_imputed_cells"] == 14 and facts["n_imputed_rows"] == 4
    text = " ".join(" ".join(imputed_lines(facts)).split())
    assert (
        "2 of the flagged rows had more than half of their 5 cells imputed: 11 14."
        in text
    )
    # Nothing flagged (or no p-values): no such line.
    facts = imputed_facts(n_imputed, {"memorized": None}, rows, 5)
    assert facts["memorized_mostly_imputed"] == [] and len(imputed_lines(facts)) == 1


# -- a mixture on one-hot columns ----------------------------------------------


def test_gmm_on_one_hot_columns_gets_a_larger_reg_covar(tmp_path, capsys):
    from skmem._cli.preprocess import ONE_HOT_REG_COVAR, prepare_model

    df = frame(60)
    table = Table(
        df.to_numpy(dtype=object), list(df.columns), categorical=[0], kind="table"
    )
    estimator, notes = prepare_model("gmm", {}, table)
    assert estimator[-1].reg_covar == ONE_HOT_REG_COVAR
    assert any("reg_covar=0.1" in note for note in notes)
    # The user's value wins; numeric tables keep the default.
    estimator, notes = prepare_model("gmm", {"reg_covar": 1e-4}, table)
    assert estimator[-1].reg_covar == 1e-4 and not any("reg_covar" in n for n in notes)
    numeric = Table(df[["bill", "mass"]].to_numpy(float), ["bill", "mass"])
    assert prepare_model("gmm", {}, numeric)[0][-1].reg_covar == 1e-3
    df.to_csv(tmp_path / "g.csv", index=False)
    status, out, err = run(
        capsys,
        "score",
        tmp_path / "g.csv",
        "--model",
        "gmm",
        "--param",
        "n_components=3",
        *FAST,
        "--out",
        tmp_path / "o.csv",
    )
    assert status == 0 and err == "" and "reg_covar=0.1" in out
    # A one-hot spike bounds the density of a row: at most
    # 1/sqrt(2 pi reg_covar) per one-hot column with the standardized rest
    # (a mixture's density cannot exceed its sharpest component's peak).
    peak = -0.5 * 5 * np.log(2 * np.pi * ONE_HOT_REG_COVAR)
    assert scores(tmp_path / "o.csv")["in_log_likelihood"].max() < peak


def test_a_new_users_table_in_worker_processes_writes_nothing_to_stderr(tmp_path):
    """Everything at once, as a new user's file would have it, in a subprocess
    with two worker processes (whose warnings would go straight to stderr):
    semicolons and decimal commas in Latin-1, an id and a date column,
    missing cells imputed, a mixture on one-hot columns that does not
    converge in its few iterations."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    df = with_identifiers(60)
    df.loc[[4, 9], "bill"] = np.nan
    path = tmp_path / "penguins.csv"
    df.to_csv(path, sep=";", decimal=",", index=False, encoding="latin-1")
    root = str(Path(cli.__file__).parents[1])
    paths = [root, os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run(
        [sys.executable, "-m", "skmem", "score", "penguins.csv", "--model", "gmm",
         "--param", "n_components=3", "--param", "max_iter=2", "--missing", "impute",
         "--cv", "3", "--n-jobs", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr
    out = " ".join(result.stdout.split())
    for said in ("read as Latin-1", "separated by semicolons", "decimal comma",
                 "identify rows", "reg_covar=0.1", "cells of 2 rows were imputed",
                 "9 of 9 models: "):  # fmt: skip
        assert said in out, said
    assert len(scores(tmp_path / "scores.csv")) == 60
