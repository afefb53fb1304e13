"""Resumable runs (memory=...) and the faults a long run meets."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import joblib
import numpy as np
import pytest
from sklearn.model_selection import KFold, LeaveOneOut
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer

SLOW_MODULE = '''
import os, sys
from sklearn.mixture import GaussianMixture

class CountedGMM(GaussianMixture):
    """A mixture that logs each fit to a file. With STOP_AT_FIT=n set, the
    n-th fit logged in that file says "stopped" on stdout and waits for stdin
    to close, so that a test can kill the run at a known point."""

    def __init__(self, n_components=2, random_state=None, log=None):
        super().__init__(n_components=n_components, random_state=random_state)
        self.log = log

    def fit(self, X, y=None):
        done = len(open(self.log).read().split()) if os.path.exists(self.log) else 0
        if done + 1 == int(os.environ.get("STOP_AT_FIT", "0")):
            print("stopped", flush=True)
            sys.stdin.read()
        with open(self.log, "a") as f:
            f.write(f"{len(X)}\\n")
        return super().fit(X)
'''


RUN = """
import sys
import numpy as np
sys.path.insert(0, {tmp!r})
from slowmod import CountedGMM
from skmem import MemorizationScorer
X = np.random.RandomState(0).normal(size=(90, 2))
scorer = MemorizationScorer(
    CountedGMM(log={log!r}), cv=6, random_state=0, memory={cache!r}
)
scorer.fit(X)
np.save({out!r}, scorer.memorization_scores_)
"""


@pytest.fixture
def slowmod(tmp_path, monkeypatch):
    (tmp_path / "slowmod.py").write_text(SLOW_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _script(tmp, cache, log, out):
    cache = None if cache is None else str(cache)
    return textwrap.dedent(
        RUN.format(tmp=str(tmp), cache=cache, log=str(log), out=str(out))
    )


def _n_entries(cache):
    return len(list((cache / "skmem").glob("*.pkl")))


def _n_fits(log):
    return len(log.read_text().split()) if log.exists() else 0


def test_killed_run_resumes_with_identical_scores(slowmod):
    tmp = slowmod
    cache, log = tmp / "cache", tmp / "fits.log"
    # The run stops in its third fit (models are fitted one at a time, each
    # stored as soon as it is done) and is killed there: two models are in the
    # cache, whatever the machine's speed.
    proc = subprocess.Popen(
        [sys.executable, "-c", _script(tmp, cache, log, tmp / "a.npy")],
        env={**os.environ, "STOP_AT_FIT": "3"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    # A run that fails before its third fit closes stdout: readline returns "".
    # The timer only keeps a run that hangs from hanging the test suite.
    guard = threading.Timer(600, proc.kill)
    guard.start()
    try:
        assert proc.stdout.readline() == "stopped\n"
    finally:
        guard.cancel()
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    done = _n_entries(cache)
    assert done == 2 == _n_fits(log)

    # Started again: only the missing models are fitted.
    before = _n_fits(log)
    subprocess.run(
        [sys.executable, "-c", _script(tmp, cache, log, tmp / "b.npy")], check=True
    )
    assert _n_fits(log) - before == 6 - done

    # And the scores are those of a run that was never interrupted.
    subprocess.run(
        [sys.executable, "-c", _script(tmp, None, tmp / "c.log", tmp / "c.npy")],
        check=True,
    )
    np.testing.assert_array_equal(np.load(tmp / "b.npy"), np.load(tmp / "c.npy"))


def test_unreadable_entry_is_recomputed(slowmod, tmp_path):
    from slowmod import CountedGMM

    log = tmp_path / "fits.log"
    X = np.random.RandomState(0).normal(size=(60, 2))
    scorer = MemorizationScorer(
        CountedGMM(log=str(log)), cv=4, random_state=0, memory=str(tmp_path / "c")
    )
    first = scorer.fit(X).memorization_scores_.copy()
    assert _n_fits(log) == 4
    entries = sorted((tmp_path / "c" / "skmem").glob("*.pkl"))
    entries[0].write_bytes(b"not a pickle")  # a torn or foreign file
    (entries[0].parent / ".stray.tmp").write_bytes(b"half written")
    with pytest.warns(UserWarning, match="unreadable cache entry"):
        second = scorer.fit(X).memorization_scores_
    assert _n_fits(log) == 5
    np.testing.assert_array_equal(first, second)


def test_joblib_memory_and_changed_parameters(slowmod, tmp_path):
    from slowmod import CountedGMM

    log = tmp_path / "fits.log"
    X = np.random.RandomState(1).normal(size=(60, 2))
    memory = joblib.Memory(tmp_path / "m", verbose=0)
    MemorizationScorer(CountedGMM(log=str(log)), cv=3, memory=memory).fit(X)
    MemorizationScorer(CountedGMM(log=str(log)), cv=3, memory=memory).fit(X)
    # Without random_state the folds differ between fits: nothing to reuse.
    assert _n_fits(log) == 6
    cv = KFold(3, shuffle=True, random_state=0)
    for n_components in (2, 2, 3):
        est = CountedGMM(n_components=n_components, log=str(log))
        MemorizationScorer(est, cv=cv, random_state=0, memory=memory).fit(X)
    assert _n_fits(log) == 6 + 3 + 0 + 3
    assert joblib.Memory(None).location is None
    MemorizationScorer(KernelDensity(), cv=3, memory=joblib.Memory(None)).fit(X)


def test_vae_cache_is_shared_between_engines(tmp_path):
    pytest.importorskip("torch")
    from skmem import VAEDensity
    from skmem.datasets import load_digits

    X = load_digits(binarize=True)[:60]
    vae = VAEDensity(
        latent_dim=2, hidden_layer_sizes=(8,), max_epochs=2, n_importance_samples=4
    )
    kwargs = dict(cv=3, random_state=0, memory=str(tmp_path))
    batched = MemorizationScorer(vae, **kwargs).fit(X)
    generic = MemorizationScorer(vae, engine="generic", verbose=1, **kwargs)
    generic.fit(X)
    np.testing.assert_array_equal(
        batched.memorization_scores_, generic.memorization_scores_
    )


def test_read_only_memmap_input(tmp_path):
    X = np.random.RandomState(2).normal(size=(50, 3))
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_mm = np.load(path, mmap_mode="r")
    for engine, n_jobs in [("auto", 2), ("generic", 2)]:
        scorer = MemorizationScorer(
            KernelDensity(), cv=5, engine=engine, n_jobs=n_jobs, random_state=0
        )
        got = scorer.fit(X_mm).memorization_scores_
        ref = MemorizationScorer(KernelDensity(), cv=5, engine=engine, random_state=0)
        np.testing.assert_allclose(got, ref.fit(X).memorization_scores_, rtol=1e-12)


def test_plan_too_large_for_memory_fails_before_allocating():
    X = np.zeros((200_000, 1))
    with pytest.raises(MemoryError, match="200000 samples need .* GiB"):
        MemorizationScorer(KernelDensity(), cv=LeaveOneOut(), engine="generic").fit(X)


def test_torch_run_killed_mid_group_loses_only_that_group(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from sklearn import config_context

    import skmem.torch._training as training
    from skmem import VAEDensity
    from skmem.datasets import load_digits

    X = load_digits(binarize=True)[:60]
    vae = VAEDensity(
        latent_dim=2, hidden_layer_sizes=(8,), max_epochs=2, n_importance_samples=4
    )
    cv = KFold(4, shuffle=True, random_state=0)
    calls = []
    train = training.train

    def dies_in_third_group(X_t, train_indices, *args, **kwargs):
        calls.append(len(train_indices))
        if len(calls) == 4:  # the vmap probe, two groups, then the third
            raise KeyboardInterrupt  # as a kill would, mid-group
        return train(X_t, train_indices, *args, **kwargs)

    monkeypatch.setattr(training, "train", dies_in_third_group)
    scorer = MemorizationScorer(vae, cv=cv, random_state=0, memory=str(tmp_path))
    with config_context(working_memory=0.1):  # one model per group
        with pytest.raises(KeyboardInterrupt):
            scorer.fit(X)
        assert _n_entries(tmp_path) == 2
        calls.clear()
        resumed = scorer.fit(X).memorization_scores_
    # The probe, then only the group in flight and the one never started.
    assert calls == [2, 1, 1]
    monkeypatch.setattr(training, "train", train)
    fresh = MemorizationScorer(vae, cv=cv, random_state=0).fit(X)
    np.testing.assert_allclose(resumed, fresh.memorization_scores_, atol=1e-4)


def test_auto_repeats_fit_each_model_once_across_processes(slowmod, tmp_path):
    """n_repeats='auto' keeps earlier repeats' models in this process's memory:
    with worker processes too, each model is fitted once and the scores are those
    of one process."""
    from joblib.externals.loky import get_reusable_executor
    from slowmod import CountedGMM

    # Fresh workers, which see slowmod on their path.
    get_reusable_executor().shutdown(wait=True)
    X = np.random.RandomState(0).normal(size=(60, 2))
    scores = []
    for n_jobs in (1, 2):
        log = tmp_path / f"fits-{n_jobs}.log"
        scorer = MemorizationScorer(
            CountedGMM(log=str(log)),
            cv=3,
            n_repeats="auto",
            max_repeats=4,
            target_reliability=0.9999,  # not reached: every repeat up to 4 runs
            engine="generic",
            n_jobs=n_jobs,
            random_state=0,
        )
        with pytest.warns(UserWarning, match="after max_repeats=4 repeats"):
            scorer.fit(X)
        assert scorer.n_repeats_ == 4
        assert _n_fits(log) == 3 * 4
        scores.append(scorer.memorization_scores_)
    np.testing.assert_array_equal(scores[0], scores[1])
