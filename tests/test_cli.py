"""The skmem command end to end, in a subprocess."""

import subprocess
import sys

import numpy as np
import pytest


def skmem(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "skmem", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_demo_with_tiny_settings(tmp_path):
    pytest.importorskip("matplotlib")
    result = skmem("demo", "--cv", "3", "--epochs", "2", "--out", "rep", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for model in ("KDE", "GMM"):
        assert f"\n{model} " in out
    assert "rho vs NN test" in out and "held-out log-lik." in out
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "<table>" in page and page.count("data:image/png;base64,") >= 2
    assert (tmp_path / "rep" / "kde.png").stat().st_size > 10_000


def _check_scores_csv(path, n):
    table = np.genfromtxt(path, delimiter=",", names=True)
    assert table.dtype.names[:4] == (
        "index",
        "score",
        "in_log_likelihood",
        "out_log_likelihood",
    )
    assert len(table) == n
    np.testing.assert_allclose(
        table["score"], table["in_log_likelihood"] - table["out_log_likelihood"]
    )
    return table


def test_score_npy_matches_the_estimator(tmp_path):
    from sklearn.model_selection import KFold
    from sklearn.neighbors import KernelDensity

    from skmem import MemorizationScorer

    X = np.random.RandomState(0).normal(size=(80, 3))
    np.save(tmp_path / "data.npy", X)
    result = skmem(
        "score", "data.npy", "--model", "kde", "--param", "bandwidth=0.4",
        "--cv", "4", "--seed", "3", "--out", "s.csv", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = _check_scores_csv(tmp_path / "s.csv", 80)
    expected = MemorizationScorer(
        KernelDensity(bandwidth=0.4), cv=KFold(4, shuffle=True, random_state=3)
    ).fit(X)
    np.testing.assert_allclose(table["score"], expected.memorization_scores_, rtol=1e-8)


def test_score_csv_with_header_repeats_and_report(tmp_path):
    X = np.random.RandomState(1).normal(size=(60, 2))
    lines = ["height,weight"] + [f"{a},{b}" for a, b in X]
    (tmp_path / "data.csv").write_text("\n".join(lines) + "\n")
    result = skmem(
        "score", "data.csv", "--model", "gmm", "--param", "n_components=2",
        "--cv", "3", "--repeats", "2", "--report", "rep", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = _check_scores_csv(tmp_path / "scores.csv", 60)
    assert "score_std" in table.dtype.names
    assert (tmp_path / "rep" / "index.html").exists()


@pytest.mark.parametrize(
    "setup, args, message",
    [
        (None, ["score", "missing.npy"], "no such file"),
        ("text", ["score", "bad.csv"], "column 'b' is not numeric"),
        ("nan", ["score", "nan.npy"], "NaN"),
        (
            "ok",
            ["score", "ok.npy", "--param", "bandwith=1"],
            "unknown option 'bandwith'",
        ),
        ("ok", ["score", "ok.npy", "--param", "oops"], "KEY=VALUE"),
        ("ok", ["score", "ok.npy", "--cv", "1"], "--cv must be at least 2"),
        ("ok", ["score", "ok.txt"], "expected a .npy, .npz or .csv"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, setup, args, message):
    if setup == "text":
        (tmp_path / "bad.csv").write_text("a,b\n1,x\n2,3\n")
    elif setup == "nan":
        np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]] * 10))
    elif setup == "ok":
        np.save(tmp_path / "ok.npy", np.random.RandomState(0).normal(size=(20, 2)))
        (tmp_path / "ok.txt").write_text("1 2\n")
    result = skmem(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_help():
    result = subprocess.run(
        [sys.executable, "-m", "skmem", "score", "--help"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "--param KEY=VALUE" in result.stdout
