"""Long runs: progress bars, warnings summed over models, outputs checked
before any work, Ctrl-C (issue 27)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from skmem import MemorizationScorer, cli
from skmem._audit import attack_scores
from skmem._reliability import split_half_reliability

ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        [str(Path(cli.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
    ),
}


def run(capsys, *args):
    """``skmem ARGS`` in this process: (status, stdout, stderr + warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    err += "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
    return status, out, err


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(40, 2))


# -- the generic engine's bar ----------------------------------------------------


def test_generic_engine_bar_counts_models_and_lines_only_at_verbose_2(X, capsys):
    MemorizationScorer(GaussianMixture(2), cv=4, random_state=0, verbose=1).fit(X)
    out, err = capsys.readouterr()
    assert "[MemorizationScorer] models fitted" in err and "4/4" in err
    assert "fitted and scored" not in out + err
    MemorizationScorer(GaussianMixture(2), cv=4, random_state=0, verbose=2).fit(X)
    out, err = capsys.readouterr()
    lines = [li for li in out.splitlines() if "fitted and scored" in li]
    assert len(lines) == 4
    assert (
        "model 1 of the plan's 4 fitted and scored (1 of the 4 to fit done"
        in (lines[0])
    )
    assert "(4 of the 4 to fit done" in lines[-1]


# -- progress from worker processes ----------------------------------------------


class Recorder:
    """A bar that records its updates."""

    def __init__(self, total=None):
        self.total = total
        self.updates = []

    def update(self, n):
        self.updates.append(n)

    @property
    def n(self):
        return sum(self.updates)

    def write(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _work_then_wait(counter, release, units):
    counter(units)
    deadline = time.monotonic() + 20
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.path.exists(release)


def test_file_progress_moves_while_the_worker_still_works(tmp_path):
    from skmem.engines._progress import FileProgress

    bar = Recorder()
    release = str(tmp_path / "release")
    with FileProgress(bar, interval=0.01) as files:
        with Parallel(n_jobs=2, return_as="generator_unordered") as parallel:
            tasks = parallel(
                delayed(_work_then_wait)(files.counter(t), release, 3) for t in range(2)
            )
            # Both workers counted 3 units and wait: the bar shows 6 before
            # any task has ended.
            deadline = time.monotonic() + 20
            while bar.n < 6 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert bar.n == 6
            Path(release).touch()
            assert all(tasks)
        files.done(0, 5)  # a task that ended counts in full, once
        files.done(0, 5)
    assert bar.n == 8


def test_torch_bar_moves_per_epoch_in_worker_processes(monkeypatch):
    pytest.importorskip("torch")
    from skmem import VAEDensity
    from skmem.engines import _progress, torch_ensemble

    bars = []

    def recorder(total, verbose, **kwargs):
        bars.append(Recorder(total))
        return bars[-1]

    monkeypatch.setattr(torch_ensemble, "progress_bar", recorder)
    monkeypatch.setattr(_progress, "POLL_SECONDS", 0.005)
    X = (np.random.RandomState(0).rand(40, 8) > 0.5).astype(float)
    vae = VAEDensity(
        latent_dim=2,
        hidden_layer_sizes=(16,),
        max_epochs=10,
        batch_size=8,
        n_importance_samples=8,
    )
    scorer = MemorizationScorer(vae, cv=4, n_jobs=2, random_state=0, verbose=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the engine's verbose notes
        scorer.fit(X)
    assert scorer.engine_ == "torch"
    (bar,) = bars
    assert bar.n == bar.total == 4 * 10
    # Two groups of 2 models in 2 worker processes: per-epoch counts (2 a
    # model-epoch of each group), not one jump of 20 per group as it ends.
    assert min(bar.updates) < 2 * 10


# -- warnings summed over models -------------------------------------------------


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_convergence_warnings_are_summed_into_one(X, n_jobs):
    model = GaussianMixture(3, max_iter=1, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MemorizationScorer(model, cv=4, n_jobs=n_jobs, random_state=0).fit(X)
    found = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(found) == 1, [str(w.message) for w in caught]
    assert str(found[0].message).startswith("4 of 4 models: ")
    assert "did not converge" in str(found[0].message)


def test_cli_gives_the_summed_warning_as_one_note(tmp_path, capsys, X):
    np.save(tmp_path / "d.npy", X)
    status, out, err = run(
        capsys, "score", tmp_path / "d.npy", "--model", "gmm",
        "--param", "max_iter=1", "--param", "n_components=3",
        "--cv", 4, "--n-jobs", 1, "--out", tmp_path / "s.csv",
    )  # fmt: skip
    assert status == 0 and err == ""
    notes = [li for li in out.splitlines() if "did not converge" in li]
    assert len(notes) == 1 and "12 of 12 models" in notes[0]


# -- no warning on degenerate scores ---------------------------------------------


def test_reliability_of_constant_scores_is_nan_without_a_warning():
    n_models, n = 6, 10
    ll = np.zeros((n_models, n))
    test = np.zeros((n_models, n), dtype=bool)
    for k in range(n_models):
        test[k, (k % 2) * 5 : (k % 2) * 5 + 5] = True
    groups = [np.array([0, 1]), np.array([2, 3]), np.array([4, 5])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(split_half_reliability(ll, ~test, test, groups, "matched"))
        # The audit pools no variance ratio from zero spread, silently.
        scores = attack_scores(ll, ~test, test, groups)
    assert scores.shape == ll.shape
    # A real ranking still gets a number.
    rng = np.random.RandomState(0)
    signal_ = rng.normal(size=n) * 3
    ll = rng.normal(size=(n_models, n)) * 0.1 + np.where(~test, signal_, 0)
    assert split_half_reliability(ll, ~test, test, groups, "matched") > 0.9


FLAT = """
import numpy as np
from sklearn.base import BaseEstimator


class Flat(BaseEstimator):
    '''A density that ignores its data: M is 0 for every sample.'''

    def fit(self, X, y=None):
        return self

    def score_samples(self, X):
        return np.zeros(len(X))
"""


def test_no_repeats_hint_when_the_run_had_repeats(tmp_path, capsys, monkeypatch, X):
    (tmp_path / "flatmod.py").write_text(FLAT)
    monkeypatch.syspath_prepend(str(tmp_path))
    np.save(tmp_path / "d.npy", X)
    status, out, err = run(
        capsys, "score", tmp_path / "d.npy", "--model", "flatmod:Flat",
        "--cv", 4, "--repeats", 3, "--n-jobs", 1, "--out", tmp_path / "s.csv",
    )  # fmt: skip
    assert status == 0 and err == ""
    assert "--repeats 3" not in out
    assert "reliability is undefined from 3 repeats" in " ".join(out.split())
    status, out, _ = run(
        capsys, "score", tmp_path / "d.npy", "--model", "flatmod:Flat",
        "--cv", 4, "--repeats", 1, "--n-jobs", 1, "--out", tmp_path / "s.csv",
    )  # fmt: skip
    assert "run with --repeats 3" in out


# -- outputs checked before any work ---------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--report", "taken"], "--report taken is a file; give a folder"),
        (["--out", "folder"], "--out folder is a folder; give a file name"),
        (["--out", "taken/s.csv"], "taken is a file, not a folder"),
    ],
)
def test_outputs_are_checked_before_any_work(tmp_path, capsys, monkeypatch, X, args,
                                             message):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    np.save("d.npy", X)
    Path("taken").write_text("mine\n")
    Path("folder").mkdir()
    status, out, err = run(capsys, "score", "d.npy", *args)
    assert status == 2 and message in err
    assert "fitting" not in out  # no model was fitted
    assert Path("taken").read_text() == "mine\n"


def test_demo_checks_its_folder_first(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("rep").write_text("mine\n")
    status, out, err = run(capsys, "demo", "--out", "rep")
    assert status == 2 and "--out rep is a file; give a folder" in err
    assert "fitting" not in out


# -- Ctrl-C ----------------------------------------------------------------------


SLOW = """
import time

import numpy as np
from sklearn.base import BaseEstimator


class Slow(BaseEstimator):
    def fit(self, X, y=None):
        time.sleep(0.5)
        return self

    def score_samples(self, X):
        return np.zeros(len(X))
"""


@pytest.mark.parametrize("n_jobs", ["1", "2"])
def test_ctrl_c_exits_130_in_one_line_leaving_no_files(tmp_path, n_jobs):
    (tmp_path / "slowmod.py").write_text(textwrap.dedent(SLOW))
    np.save(tmp_path / "d.npy", np.random.RandomState(0).normal(size=(30, 2)))
    env = {**ENV, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ENV['PYTHONPATH']}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "skmem", "score", "d.npy", "--model", "slowmod:Slow",
         "--n-jobs", n_jobs, "--out", "out/s.csv", "--report", "rep"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        for line in process.stdout:
            if "fitting" in line:
                break
        time.sleep(1.5)  # the models are being fitted
        # A terminal's Ctrl-C: SIGINT to the whole process group, workers too.
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert err.strip() == "skmem: interrupted"
    assert "done in" not in out
    assert not (tmp_path / "rep").exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
