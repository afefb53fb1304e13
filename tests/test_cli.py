"""The skmem command end to end, in a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skmem import MemorizationScorer, __version__, cli

# The subprocess imports the skmem under test, not another installed copy.
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        [str(Path(cli.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    ),
}


def skmem(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "skmem", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env=ENV,
    )


def test_demo_with_tiny_settings(tmp_path):
    pytest.importorskip("matplotlib")
    result = skmem("demo", "--cv", "3", "--epochs", "2", "--out", "rep", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # The model table: one line per quantity, one column per model, within 100
    # columns.
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("model "))
    table = lines[start : lines.index("", start)]
    assert max(len(line) for line in table) <= 100
    models = table[0].split()[1:]
    assert models[:2] == ["KDE", "GMM"]
    assert "rho vs NN test" in out and "held-out log-lik." in out

    def row(label):
        line = next(li for li in table if li.startswith(label + " "))
        return [float(v) for v in line[len(label) :].split()]

    # One unit for every model: log-probabilities of the 17 grey levels of 64
    # pixels, so each lies between a uniform guess and 0, and bits/dim is
    # -log-lik. / (64 ln 2) on every row.
    for model, ll, bits in zip(
        models, row("held-out log-lik."), row("bits/dim"), strict=True
    ):
        assert -64 * np.log(17) < ll < 0, (model, ll)
        assert bits == pytest.approx(-ll / (64 * np.log(2)), rel=0.01), model
    # Every model on its fast engine.
    assert "KDE: done in" in out and "(kde engine" in out
    assert "compare it only with itself" not in out
    # Three repeats by default: each model's reliability and significance.
    assert "reliability" in out and "memorized (FDR 5%)" in out
    assert out.count("ranking reliability") >= 2
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "ranking reliability" in page and "Memorized at FDR 0.05" in page
    assert "<table>" in page and page.count("data:image/png;base64,") >= 2
    assert (tmp_path / "rep" / "kde.png").stat().st_size > 10_000
    # The takeaway comes first, the method after the results.
    assert page.index('class="takeaway"') < page.index("<h2>Models</h2>")
    assert page.index("<h2>Models</h2>") < page.index("<h2>Method</h2>")
    assert page.index("Memorization score M (nats) of each") > page.index(
        "<h2>Method</h2>"
    )
    assert "<figcaption>KDE: the distribution of the memorization score M" in page
    assert result.stderr == ""


def _check_scores_csv(path, n):
    table = np.genfromtxt(path, delimiter=",", names=True)
    assert table.dtype.names[:4] == (
        "index",
        "score",
        "in_log_likelihood",
        "out_log_likelihood",
    )
    assert len(table) == n
    # Ten significant digits in the file.
    np.testing.assert_allclose(
        table["score"],
        table["in_log_likelihood"] - table["out_log_likelihood"],
        atol=1e-8
        * np.nanmax(
            np.abs(
                np.where(
                    np.isfinite(table["score"]), table["out_log_likelihood"], np.nan
                )
            )
        ),
    )
    return table


def test_score_npy_matches_the_estimator(tmp_path):
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
    # The command line's defaults: standard scaling fitted once on all rows (the
    # exact kde engine), 3 repeats of --cv folds, seeded by --seed.
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scaler = FrozenEstimator(StandardScaler().fit(X))
    pipe = make_pipeline(scaler, KernelDensity(bandwidth=0.4))
    expected = MemorizationScorer(pipe, cv=4, n_repeats=3, random_state=3).fit(X)
    np.testing.assert_allclose(table["score"], expected.memorization_scores_, rtol=1e-8)
    assert "standard scaling of the 3 numeric column(s)" in result.stdout
    assert "fitted once on all 80 rows" in result.stdout
    sidecar = json.loads((tmp_path / "s.json").read_text())["settings"]
    assert sidecar["engine"] == "kde"
    # --no-preprocess: the estimator on the columns as they are.
    result = skmem(
        "score", "data.npy", "--param", "bandwidth=0.4", "--cv", "4", "--seed", "3",
        "--out", "raw.csv", "--no-preprocess", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    raw = _check_scores_csv(tmp_path / "raw.csv", 80)
    expected = MemorizationScorer(
        KernelDensity(bandwidth=0.4), cv=4, n_repeats=3, random_state=3
    ).fit(X)
    np.testing.assert_allclose(raw["score"], expected.memorization_scores_, rtol=1e-8)
    assert "scaling" not in result.stdout


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
        (
            "text",
            ["score", "bad.csv", "--no-preprocess", "--cv", "2"],
            "column 'b' is not numeric, and --no-preprocess",
        ),
        ("nan", ["score", "nan.npy"], "NaN"),
        (
            "ok",
            ["score", "ok.npy", "--param", "bandwith=1"],
            "unknown option 'bandwith'",
        ),
        ("ok", ["score", "ok.npy", "--param", "oops"], "KEY=VALUE"),
        ("ok", ["score", "ok.npy", "--cv", "1"], "--cv must be at least 2"),
        ("ok", ["score", "ok.txt"], "expected a .csv, .parquet, .npy, .npz file"),
        ("bytes", ["score", "r.npy"], "r.npy is not a NumPy .npy file (no .npy"),
        # A model that fails to fit in a fold: the model, the fold, the cause.
        (
            "ok",
            [
                "score",
                "ok.npy",
                "--model",
                "gmm",
                "--param",
                "n_components=100",
                "--n-jobs",
                "1",
            ],  # fmt: skip
            "gmm (GaussianMixture) failed to fit in fold 1 of 10, repeat 1, on its 18 "
            "training rows: ValueError: Expected n_samples >= n_components",
        ),
        ("ok", ["score", "ok.npy", "--param", "kernel=foo"], "'kernel' parameter"),
        ("ok", ["score", "ok.npy", "--param", "bandwidth=-1"], "'bandwidth' param"),
        ("ok", ["score", "ok.npy", "--param", "bandwidth=0"], "'bandwidth' param"),
        ("ok", ["score", "ok.npy", "--cv", "30"], "--cv 30 needs at least 30 rows"),
        ("header", ["score", "header.csv"], "has a header (a, b) but no rows"),
        (
            "gap",
            ["score", "gap.csv", "--cv", "2"],
            "NaN at row 1 (rows counted from 0: line 3 of the file), column 'b'",
        ),
        ("gap", ["score", "gap.csv", "--cv", "2"], "Use --missing drop to leave"),
        (
            "nan",
            ["score", "nan.npy"],
            "NaN at row 0 (rows counted from 0), column 'column 1'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path, monkeypatch, capsys, setup, args, message
):
    # In-process (any exception would fail the test as a traceback would);
    # test_bad_input_in_a_subprocess covers the real command.
    if setup == "text":
        (tmp_path / "bad.csv").write_text("a,b\n1,x\n2,3\n")
    elif setup == "nan":
        np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]] * 10))
    elif setup == "ok":
        np.save(tmp_path / "ok.npy", np.random.RandomState(0).normal(size=(20, 2)))
        (tmp_path / "ok.txt").write_text("1 2\n")
    elif setup == "header":
        (tmp_path / "header.csv").write_text("a,b\n")
    elif setup == "bytes":
        (tmp_path / "r.npy").write_bytes(np.random.RandomState(0).bytes(256))
    elif setup == "gap":
        (tmp_path / "gap.csv").write_text("a,b,c\n1,2,x\n3,,y\n4,5,z\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(args) == 2
    stderr = capsys.readouterr().err
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "pickle" not in stderr


def test_bad_input_in_a_subprocess(tmp_path):
    np.save(tmp_path / "ok.npy", np.random.RandomState(0).normal(size=(20, 2)))
    result = skmem(
        "score", "ok.npy", "--model", "gmm", "--param", "n_components=100",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("skmem: error: gmm (GaussianMixture) failed to")


def _exit_code(argv):
    try:
        return cli.main(argv)
    except SystemExit as exc:  # argparse's --help and --version
        return exc.code


def test_help_states_every_models_defaults(capsys):
    assert _exit_code(["score", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--param KEY=VALUE" in out
    for model, (_, cls, defaults) in cli.MODELS.items():
        line = next(li for li in out.splitlines() if f" {model}  " in li)
        assert cls in line
        for key, value in defaults.items():
            assert f"{key}={value!r}" in line
    assert 'likelihood="gaussian"' in out


def test_bare_command_prints_help_and_version(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert _exit_code([]) == 0
    out = capsys.readouterr().out
    assert "usage: skmem" in out and "skmem demo" in out
    assert "fitting" not in out and not (tmp_path / "skmem-report").exists()
    assert _exit_code(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"skmem {__version__}"


def _write_mixed_csv(path, n, seed=0):
    rng = np.random.RandomState(seed)
    a, b = rng.normal(size=n), rng.normal(size=n) * 10 + 100
    c = rng.choice(["red", "green", "blue"], n)
    rows = zip(a.tolist(), b.tolist(), c, strict=True)
    lines = ["a,b,c"] + [f"{x!r},{y!r},{z}" for x, y, z in rows]
    path.write_text("\n".join(lines) + "\n")
    return np.column_stack([a, b, c.astype(object)]).astype(object)


@pytest.mark.parametrize("model", ["kde", "gmm"])
def test_csv_with_a_categorical_column(tmp_path, model):
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = _write_mixed_csv(tmp_path / "mixed.csv", 40)
    params = ["--param", "n_components=2"] if model == "gmm" else []
    result = skmem(
        "score", "mixed.csv", "--model", model, *params, "--cv", "4", "--seed", "2",
        "--n-jobs", "1", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "one-hot encoding of the 1 categorical column(s) (c)" in result.stdout
    table = _check_scores_csv(tmp_path / "scores.csv", 40)
    # A mixture on one-hot columns gets the CLI's larger reg_covar.
    from skmem._cli.preprocess import ONE_HOT_REG_COVAR

    gmm = {"n_components": 2, "reg_covar": ONE_HOT_REG_COVAR}
    estimator = cli.make_estimator(model, gmm if model == "gmm" else {})
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), [2]),
        (StandardScaler(), [0, 1]),
    )
    if model == "kde":  # fitted once on all rows: the exact kde engine
        from sklearn.frozen import FrozenEstimator

        encode = FrozenEstimator(encode.fit(X))
    pipe = make_pipeline(encode, estimator)
    expected = MemorizationScorer(pipe, cv=4, n_repeats=3, random_state=2).fit(X)
    assert f"({'kde' if model == 'kde' else 'generic'} engine" in result.stdout
    np.testing.assert_allclose(table["score"], expected.memorization_scores_, rtol=1e-6)


def test_summary_counts_infinite_scores(tmp_path):
    np.save(tmp_path / "d.npy", np.random.RandomState(0).normal(size=(50, 2)) * 3)
    result = skmem(
        "score", "d.npy", "--param", "kernel=tophat", "--param", "bandwidth=0.5",
        "--cv", "5", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    scores = _check_scores_csv(tmp_path / "scores.csv", 50)["score"]
    n_inf = int(np.isposinf(scores).sum())
    assert 0 < n_inf < 50
    assert f"{n_inf} of 50 scores are +inf: the models that held" in result.stdout
    assert "quantiles of the finite scores" in result.stdout
    top = [int(i) for i in np.argsort(-scores, kind="stable")[:10]]
    summary = json.loads((tmp_path / "scores.json").read_text())["summary"]["kde"]
    assert summary["top"] == top and summary["non_finite"] == {"+inf": n_inf}


def test_vae_on_data_outside_the_unit_interval(tmp_path):
    pytest.importorskip("torch")
    np.save(tmp_path / "d.npy", np.random.RandomState(0).normal(size=(30, 3)) * 5)
    result = skmem(
        "score", "d.npy", "--model", "vae", "--param", "max_epochs=1",
        "--param", "n_importance_samples=4", "--cv", "2", "--n-jobs", "1",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert 'likelihood="gaussian" on standardized columns' in result.stdout
    assert np.isfinite(_check_scores_csv(tmp_path / "scores.csv", 30)["score"]).all()


def test_internal_errors_are_not_usage_errors(tmp_path, monkeypatch):
    np.save(tmp_path / "d.npy", np.random.RandomState(0).normal(size=(20, 2)))

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(cli, "run_models", broken)
    with pytest.raises(ValueError, match="a bug"):
        cli.main(["score", str(tmp_path / "d.npy")])


def test_report_explains_itself_and_records_the_settings(tmp_path):
    pytest.importorskip("matplotlib")
    X = np.random.RandomState(0).normal(size=(60, 2))
    np.save(tmp_path / "d.npy", X)
    result = skmem(
        "score", "d.npy", "--model", "gmm", "--param", "n_components=2", "--cv", "3",
        "--seed", "7", "--report", "rep", "--out", "out/s.csv", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    settings = json.loads((tmp_path / "out" / "s.json").read_text())["settings"]
    assert settings["skmem version"] == __version__
    assert (settings["cv"], settings["repeats"], settings["seed"]) == (3, 3, 7)
    assert "n_components=2" in settings["model gmm"]
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "Memorization score M (nats) of each training sample" in page
    assert "Duplicated rows score low" in page
    assert "<h2>Settings</h2>" in page and "n_components=2" in page
    assert "skmem version" in page and "top 10 samples" in page
    assert "rho vs gmm" not in page and "rho vs NN test" in page


def test_nn_ratio_covers_every_sample():
    from sklearn.mixture import GaussianMixture

    from skmem.baselines import nearest_neighbor_distance_ratio

    X = np.random.RandomState(0).normal(size=(40, 2))
    gmm = GaussianMixture(2)
    scorer = MemorizationScorer(gmm, cv=4, random_state=0).fit(X)
    ratio = cli.nn_ratio(gmm, scorer, X, seed=0)
    assert np.isfinite(ratio).all()
    train = np.flatnonzero(scorer.train_masks_[0])
    test = np.flatnonzero(scorer.test_masks_[0])
    generated = scorer.estimators_[0].sample(len(train))[0]
    np.testing.assert_array_equal(
        ratio[train], nearest_neighbor_distance_ratio(X[train], generated, X[test])
    )


def test_scores_csv_has_intervals_pvalues_and_flags(tmp_path, monkeypatch, capsys):
    from sklearn.neighbors import KernelDensity

    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(60, 2)), [[8.0, 8.0], [-8.0, 8.0]]])
    np.save(tmp_path / "d.npy", X)
    monkeypatch.chdir(tmp_path)
    args = ["score", "d.npy", "--param", "bandwidth=0.5", "--cv", "4"]
    assert cli.main([*args, "--alpha", "0.2", "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    table = np.genfromtxt("scores.csv", delimiter=",", names=True)
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scaler = FrozenEstimator(StandardScaler().fit(X))
    pipe = make_pipeline(scaler, KernelDensity(bandwidth=0.5))
    expected = MemorizationScorer(pipe, cv=4, n_repeats=3, random_state=0).fit(X)
    np.testing.assert_allclose(table["ci_low"], expected.memorization_ci_[:, 0])
    np.testing.assert_allclose(table["ci_high"], expected.memorization_ci_[:, 1])
    np.testing.assert_allclose(
        table["pvalue"], expected.memorization_pvalues_, rtol=1e-5
    )
    flags = expected.memorized(alpha=0.2)
    np.testing.assert_array_equal(table["memorized"].astype(bool), flags)
    assert flags[-2:].all()
    assert f"{flags.sum()} of 62 samples memorized beyond chance at FDR 20 %" in out
    assert "ranking reliability" in out
    summary = json.loads(Path("scores.json").read_text())["summary"]["kde"]
    assert summary["memorized"][:2] == sorted(
        [60, 61], key=lambda i: -expected.memorization_scores_[i]
    )
    assert summary["alpha"] == 0.2


def test_one_repeat_says_how_to_get_significance(tmp_path, monkeypatch, capsys):
    np.save(tmp_path / "d.npy", np.random.RandomState(0).normal(size=(40, 2)))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["score", "d.npy", "--repeats", "1", "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "run with --repeats 3" in out
    names = np.genfromtxt("scores.csv", delimiter=",", names=True).dtype.names
    assert "pvalue" not in names and "memorized" not in names


def test_significance_lines_say_plainly_what_the_repeats_show():
    from skmem._report import significance_lines

    facts = {"n_samples": 100, "n_repeats": 4, "alpha": 0.05}
    none = significance_lines({**facts, "reliability": 0.3, "memorized": []})
    assert "mostly noise" in none[0]
    assert "no sample is memorized beyond chance at FDR 5 % (of 100)" in none[1]
    some = significance_lines({**facts, "reliability": 0.9, "memorized": [7, 3]})
    assert "the ranking is reliable" in some[0]
    assert "2 of 100 samples memorized beyond chance at FDR 5 %: 7 3." in some[1]
    single = significance_lines({**facts, "reliability": None, "memorized": None})
    assert "run with --repeats 3" in single[0]


def test_repeats_auto_and_bad_alpha(tmp_path, monkeypatch, capsys):
    np.save(tmp_path / "d.npy", np.random.RandomState(0).normal(size=(40, 2)))
    monkeypatch.chdir(tmp_path)
    args = ["score", "d.npy", "--param", "bandwidth=0.2", "--n-jobs", "1"]
    assert cli.main([*args, "--repeats", "auto"]) == 0
    assert "repeats)" in capsys.readouterr().out
    assert cli.main([*args, "--alpha", "1.5"]) == 2
    assert capsys.readouterr().err.strip() == (
        "skmem: error: --alpha must be between 0 and 1, got 1.5"
    )
    with pytest.raises(SystemExit):
        cli.main([*args, "--repeats", "zero"])
    assert "must be a positive integer or 'auto'" in capsys.readouterr().err


def _clipped_labels(fig):
    """Axis labels and titles that reach past the figure's edges when drawn."""
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    renderer = fig.canvas.get_renderer()
    clipped = []
    for ax in fig.axes:
        for text in (ax.xaxis.label, ax.yaxis.label, ax.title):
            if not text.get_text():
                continue
            box = text.get_window_extent(renderer)
            if box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height:
                clipped.append(text.get_text())
    return clipped


def test_displays_keep_their_labels_inside_the_figure(tmp_path):
    # Saved with plain savefig (no bbox_inches): nothing may be cut off.
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skmem.plotting import MembershipAuditDisplay, MemorizationCurveDisplay

    audit = MembershipAuditDisplay(
        [0.0, 1e-3, 0.1, 1.0], [0.0, 0.2, 0.5, 1.0], 0.7, tpr_at_fpr={1e-3: 0.2}
    ).plot()
    rng = np.random.RandomState(0)
    curve = MemorizationCurveDisplay(
        [5, 10, 20], rng.gamma(2.0, size=(3, 50)), [40.0, 35.0, 30.0],
        [41.0, 38.0, 39.0], best_checkpoint=10, name="VAE",
    ).plot()  # fmt: skip
    for display in (audit, curve):
        assert _clipped_labels(display.figure_) == []
        display.figure_.savefig(tmp_path / "f.png")
        plt.close(display.figure_)


def _cancer_csvs(tmp_path):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    header = ",".join(n.replace(" ", "_") for n in data.feature_names)
    lines = [header] + [",".join(repr(v) for v in row) for row in data.data.tolist()]
    (tmp_path / "cancer.csv").write_text("\n".join(lines) + "\n")
    text = [lines[0] + ",site"] + [line + ",clinic A" for line in lines[1:]]
    (tmp_path / "cancer_site.csv").write_text("\n".join(text) + "\n")
    return data.data


def test_a_numeric_csv_is_scaled_like_one_with_a_constant_text_column(
    tmp_path, monkeypatch, capsys
):
    # Unscaled, the KDE gives M up to ~1e6 nats on these 30 features (their
    # units differ by 1e4); scaled, below 100. A constant text column adds
    # nothing and must change nothing.
    X = _cancer_csvs(tmp_path)
    args = ["--model", "kde", "--cv", "3", "--repeats", "1", "--n-jobs", "1"]
    result = skmem("score", "cancer.csv", *args, "--out", "a.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warning reaches the user
    monkeypatch.chdir(tmp_path)
    assert cli.main(["score", "cancer_site.csv", *args, "--out", "b.csv"]) == 0
    a = _check_scores_csv(tmp_path / "a.csv", len(X))["score"]
    b = _check_scores_csv(tmp_path / "b.csv", len(X))["score"]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert 0 < a.max() < 1000
    assert "kde: standard scaling of the 30 numeric column(s)" in result.stdout
    assert "left out 1 constant column(s) (site)" in capsys.readouterr().out
    settings = json.loads((tmp_path / "a.json").read_text())["settings"]
    assert settings["preprocessing"].startswith("standard scaling")


def _write_gappy_csv(path):
    """Rows 2 and 5 have a missing cell (one numeric, one text)."""
    rng = np.random.RandomState(0)
    lines = ["a,b,colour"]
    for i in range(30):
        a, b = rng.normal(), rng.normal() * 10
        colour = ["red", "blue"][i % 2]
        if i == 2:
            a = ""
        if i == 5:
            colour = ""
        lines.append(f"{a},{b},{colour}")
    path.write_text("\n".join(lines) + "\n")


def test_missing_cells_drop_keeps_the_users_row_numbers(tmp_path):
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.neighbors import KernelDensity
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    _write_gappy_csv(tmp_path / "gappy.csv")
    args = ["--cv", "3", "--n-jobs", "1", "--param", "bandwidth=0.8"]
    result = skmem(
        "score", "gappy.csv", *args, "--missing", "drop", "--report", "rep",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "2 rows with missing cells left out (rows 2 5, counted from 0" in said
    table = _check_scores_csv(tmp_path / "scores.csv", 28)
    keep = [i for i in range(30) if i not in (2, 5)]
    np.testing.assert_array_equal(table["index"], keep)
    frame = pd.read_csv(tmp_path / "gappy.csv").iloc[keep]
    X = frame.to_numpy(dtype=object)
    from sklearn.frozen import FrozenEstimator

    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False), [2]),
        (StandardScaler(), [0, 1]),
    )
    pipe = make_pipeline(FrozenEstimator(encode.fit(X)), KernelDensity(bandwidth=0.8))
    expected = MemorizationScorer(pipe, cv=3, n_repeats=3, random_state=0).fit(X)
    np.testing.assert_allclose(table["score"], expected.memorization_scores_, rtol=1e-8)
    summary = json.loads((tmp_path / "scores.json").read_text())["summary"]["kde"]
    order = np.argsort(-expected.memorization_scores_, kind="stable")[:10]
    assert summary["top"] == [keep[i] for i in order]
    # The report names rows as the file does, too.
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "<td>" + " ".join(str(keep[i]) for i in order) + "</td>" in page


def test_missing_cells_impute_scores_every_row(tmp_path):
    _write_gappy_csv(tmp_path / "gappy.csv")
    args = ["--cv", "3", "--n-jobs", "1", "--param", "bandwidth=0.8"]
    result = skmem("score", "gappy.csv", *args, "--missing", "impute", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "--missing impute: 2 missing cells filled in" in result.stdout
    table = _check_scores_csv(tmp_path / "scores.csv", 30)
    np.testing.assert_array_equal(table["index"], np.arange(30))
    assert np.isfinite(table["score"]).all()


def test_parquet_reads_as_the_same_table_as_csv(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pyarrow")
    import pandas as pd

    X = _write_mixed_csv(tmp_path / "mixed.csv", 30)
    pd.read_csv(tmp_path / "mixed.csv").to_parquet(tmp_path / "mixed.parquet")
    monkeypatch.chdir(tmp_path)
    args = ["--cv", "3", "--repeats", "1", "--n-jobs", "1"]
    assert cli.main(["score", "mixed.csv", *args, "--out", "c.csv"]) == 0
    assert cli.main(["score", "mixed.parquet", *args, "--out", "p.csv"]) == 0
    capsys.readouterr()
    csv_scores = _check_scores_csv(tmp_path / "c.csv", len(X))["score"]
    parquet_scores = _check_scores_csv(tmp_path / "p.csv", len(X))["score"]
    np.testing.assert_array_equal(csv_scores, parquet_scores)


def test_help_imports_no_heavy_library():
    # `skmem --help` answers before scikit-learn, pandas, matplotlib or torch
    # would load (each takes a second or more to import).
    code = (
        "import sys\n"
        "from skmem.cli import main\n"
        "for argv in (['--help'], ['score', '--help'], ['demo', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('sklearn', 'pandas', 'matplotlib', 'torch', 'scipy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=ENV
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_report_figure_is_one_registered_builder(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    from skmem._cli import figures

    def extra(run, out):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot(run.scorer.memorization_scores_)
        fig.savefig(out / f"{run.slug}-extra.png")
        plt.close(fig)
        return f"{run.slug}-extra.png", f"{run.name}: every score in row order."

    monkeypatch.setattr(figures, "FIGURES", [*figures.FIGURES, extra])
    np.save(tmp_path / "d.npy", np.random.RandomState(0).normal(size=(40, 2)))
    monkeypatch.chdir(tmp_path)
    args = ["score", "d.npy", "--cv", "3", "--n-jobs", "1", "--report", "rep"]
    assert cli.main(args) == 0
    capsys.readouterr()
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "<figcaption>kde: every score in row order.</figcaption>" in page
    assert (tmp_path / "rep" / "kde-extra.png").exists()
    # Only figures that were made are shown or described: no checkpoints here,
    # so no curve.
    # the scores, why records are flagged, and the extra
    assert page.count("<figure>") == 3
    assert (tmp_path / "rep" / "kde-explanation.png").exists()
    assert "over training" not in page


def test_nn_ratio_of_a_pipeline_is_taken_in_its_last_steps_space():
    from sklearn.mixture import GaussianMixture
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skmem.baselines import nearest_neighbor_distance_ratio

    X = np.random.RandomState(0).normal(size=(40, 2)) * [1.0, 1000.0]
    pipe = make_pipeline(StandardScaler(), GaussianMixture(2))
    scorer = MemorizationScorer(pipe, cv=4, random_state=0).fit(X)
    ratio = cli.nn_ratio(pipe, scorer, X, seed=0)
    assert np.isfinite(ratio).all()
    model = scorer.estimators_[0]
    train = np.flatnonzero(scorer.train_masks_[0])
    test = np.flatnonzero(scorer.test_masks_[0])
    Z = model[:-1].transform(X)
    generated = model[-1].sample(len(train))[0]
    np.testing.assert_array_equal(
        ratio[train], nearest_neighbor_distance_ratio(Z[train], generated, Z[test])
    )


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--n-jobs", "0", "0 workers cannot run"),
        ("--seed", "-1", "must be in [0, 2**32 - 1]"),
        ("--seed", "99999999999", "must be in [0, 2**32 - 1]"),
        ("--verbose", "-1", "must be 0 or more"),
    ],
)
def test_impossible_options_are_one_line_errors(option, value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["score", "d.npy", option, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "".join(err)


def test_sampled_wraps_a_built_in_model(tmp_path):
    from skmem import SampledDensity

    np.save(tmp_path / "d.npy", np.random.RandomState(0).normal(size=(30, 2)))
    table = cli.load_data(tmp_path / "d.npy")
    estimator, _ = cli.prepare_model("gmm", {}, table, preprocess=False, sampled=True)
    assert isinstance(estimator, SampledDensity)
    assert type(estimator.generator).__name__ == "GaussianMixture"
