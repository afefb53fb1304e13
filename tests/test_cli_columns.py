"""The command's column handling against the same data prepared by hand:
constant columns anywhere, imputation, what the notes say was done."""

import numpy as np
import pytest

from skmem import cli
from skmem._cli.preprocess import prepare_model
from skmem._cli.tables import Table

ARGS = ["--cv", "3", "--repeats", "1", "--n-jobs", "1", "--seed", "1"]


def _write(path, header, rows):
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def _scores(path):
    table = np.genfromtxt(path, delimiter=",", names=True)
    return table["score"]


def _run(tmp_path, monkeypatch, capsys, name, *options):
    monkeypatch.chdir(tmp_path)
    out = name.replace(".csv", "_scores.csv")
    code = cli.main(["score", name, "--model", "kde", *ARGS, *options, "--out", out])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    return _scores(tmp_path / out), captured.out


@pytest.fixture
def mixed_rows():
    rng = np.random.RandomState(0)
    a, b = rng.normal(size=30).tolist(), (rng.normal(size=30) * 10).tolist()
    colour = rng.choice(["red", "green", "blue"], 30)
    return [(repr(x), repr(y), c) for x, y, c in zip(a, b, colour, strict=True)]


def test_a_constant_column_before_a_text_column_changes_nothing(
    tmp_path, monkeypatch, capsys, mixed_rows
):
    # The text column is the last; constant columns in front of it (a number
    # and a text) shift its index once they are left out.
    _write(tmp_path / "plain.csv", ["a", "b", "colour"], mixed_rows)
    rows = [("7.5", a, "site A", b, colour) for a, b, colour in mixed_rows]
    _write(tmp_path / "padded.csv", ["level", "a", "site", "b", "colour"], rows)
    plain, _ = _run(tmp_path, monkeypatch, capsys, "plain.csv")
    padded, out = _run(tmp_path, monkeypatch, capsys, "padded.csv")
    assert "left out 2 constant column(s) (level, site)" in out
    assert "one-hot encoding of the 1 categorical column(s) (colour)" in out
    np.testing.assert_allclose(padded, plain, rtol=0, atol=1e-9)


def test_missing_cells_are_imputed_with_each_folds_median(
    tmp_path, monkeypatch, capsys
):
    # Column a is 5.0 in 30 of its 40 rows, far larger in 8, missing in 2: the
    # median of any fold's training rows is 5.0 (their mean near 100), so
    # --missing impute must score exactly the file with 5.0 written in.
    rng = np.random.RandomState(1)
    a = np.full(40, 5.0)
    a[rng.choice(40, 8, replace=False)] = 100.0 * np.arange(1, 9)
    missing = [i for i in range(40) if a[i] == 5.0][:2]
    a, b = a.tolist(), rng.normal(size=40).tolist()
    rows = [("" if i in missing else repr(a[i]), repr(b[i])) for i in range(40)]
    _write(tmp_path / "gappy.csv", ["a", "b"], rows)
    _write(
        tmp_path / "filled.csv",
        ["a", "b"],
        [(f"{x!r}", f"{y!r}") for x, y in zip(a, b, strict=True)],
    )
    imputed, out = _run(
        tmp_path, monkeypatch, capsys, "gappy.csv", "--missing", "impute"
    )
    assert "--missing impute: 2 missing cells filled in" in out
    filled, _ = _run(tmp_path, monkeypatch, capsys, "filled.csv")
    np.testing.assert_allclose(imputed, filled, rtol=0, atol=1e-9)


@pytest.mark.parametrize("preprocess", [True, False])
def test_the_vae_note_says_what_was_done_to_the_columns(preprocess):
    # Data outside [0, 1]: a Gaussian VAE. Its note says "standardized" when,
    # and only when, a StandardScaler was put in front of it.
    pytest.importorskip("torch")
    from sklearn.preprocessing import StandardScaler

    X = np.random.RandomState(0).normal(size=(20, 3)) * 5
    table = Table(X, ["x", "y", "z"])
    estimator, notes = prepare_model("vae", {}, table, preprocess=preprocess)
    steps = [step for _, step in getattr(estimator, "steps", [])]
    scaled = any(isinstance(step, StandardScaler) for step in steps)
    assert scaled == preprocess
    (note,) = [n for n in notes if n.startswith("VAE likelihood")]
    assert 'likelihood="gaussian"' in note
    assert ("standardized" in note) == scaled
    assert ("the columns as they are" in note) == (not scaled)
    vae = estimator.steps[-1][1] if steps else estimator
    assert vae.likelihood == "gaussian"
