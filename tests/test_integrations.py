"""skmem.integrations: SDV's synthesizers and synthcity's plugins as generators."""

import importlib.util
import sys
import types

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from skmem.integrations import SDVSynthesizer, SynthcitySynthesizer

needs_sdv = pytest.mark.skipif(
    importlib.util.find_spec("sdv") is None, reason="needs sdv (pip install sdv)"
)


def _table(n=120, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 9, n),
            "children": rng.randint(0, 4, n),
            "city": pd.Categorical(rng.choice(["Leeds", "York", "Hull"], n)),
            "job": rng.choice(["a", "b"], n),
            "owner": rng.rand(n) > 0.5,
        }
    )


def test_parameters_of_the_library_model_are_estimator_parameters():
    synth = SDVSynthesizer("CTGANSynthesizer", epochs=3, random_state=1)
    assert synth.get_params() == {
        "name": "CTGANSynthesizer",
        "random_state": 1,
        "epochs": 3,
    }
    copy = clone(synth)
    assert copy.get_params() == synth.get_params() and copy is not synth
    synth.set_params(epochs=5, random_state=2)
    assert (synth.epochs, synth.random_state) == (5, 2)
    assert copy.epochs == 3  # the clone holds its own parameters
    assert "epochs=5" in repr(synth)
    with pytest.raises(AttributeError):
        synth.batch_size  # noqa: B018


@needs_sdv
def test_sdv_samples_keep_columns_and_dtypes_and_depend_only_on_the_seeds():
    df = _table()
    a = SDVSynthesizer(random_state=0).fit(df)
    b = SDVSynthesizer(random_state=0).fit(df)
    sample = a.sample(50, random_state=3)
    assert list(sample.columns) == list(df.columns)
    assert sample.dtypes.to_dict() == df.dtypes.to_dict()
    assert set(sample["city"].cat.categories) == set(df["city"].cat.categories)
    pd.testing.assert_frame_equal(sample, b.sample(50, random_state=3))
    assert not sample.equals(a.sample(50, random_state=4))
    # Without a seed per call, the adapter's own seed gives the sequence.
    first = [SDVSynthesizer(random_state=0).fit(df).sample(20) for _ in range(2)]
    pd.testing.assert_frame_equal(*first)
    assert a.metadata_.to_dict()["tables"]["table"]["columns"] == {
        "age": {"sdtype": "numerical"},
        "children": {"sdtype": "numerical"},
        "city": {"sdtype": "categorical"},
        "job": {"sdtype": "categorical"},
        "owner": {"sdtype": "boolean"},
    }


@needs_sdv
def test_sdv_neural_training_is_seeded():
    # TVAE: torch networks, like CTGAN, and a few times faster to train.
    df = _table(60)[["age", "job"]]
    fits = [
        SDVSynthesizer("TVAESynthesizer", epochs=1, random_state=s).fit(df)
        for s in (0, 0, 1)
    ]
    samples = [f.sample(30, random_state=0) for f in fits]
    pd.testing.assert_frame_equal(samples[0], samples[1])
    assert not samples[0].equals(samples[2])


@needs_sdv
def test_sdv_arrays_come_back_as_arrays_and_bad_names_are_refused():
    X = np.random.RandomState(1).normal(size=(60, 2))
    out = SDVSynthesizer(random_state=0).fit(X).sample(7)
    assert isinstance(out, np.ndarray) and out.shape == (7, 2)
    with pytest.raises(ValueError, match="no single-table synthesizer 'Nope'.*CTGAN"):
        SDVSynthesizer("Nope").fit(X)
    with pytest.raises(ValueError, match="GaussianCopulaSynthesizer with"):
        SDVSynthesizer(epochs=3).fit(X)


def test_synthcity_cannot_install_here_or_is_absent():
    # The adapter says how to get synthcity when it is missing.
    if importlib.util.find_spec("synthcity") is not None:
        pytest.skip("synthcity is installed")
    with pytest.raises(ImportError, match="pin torch<2.3 and numpy<2"):
        SynthcitySynthesizer("ctgan").fit(_table())


class _FakeLoader:
    def __init__(self, frame):
        self._frame = frame

    def dataframe(self):
        return self._frame


class _FakePlugin:
    """Bootstraps rows, as a plugin would generate them: text comes back as
    objects and integers as floats, which the adapter must undo."""

    calls = []

    def __init__(self, name, **params):
        self.name, self.params = name, params

    def fit(self, X):
        assert isinstance(X, pd.DataFrame)
        assert not any(isinstance(t, pd.CategoricalDtype) for t in X.dtypes)
        self.data = X.copy()
        self.fit_draw = np.random.rand()  # noqa: NPY002 (the global one, seeded around fit)
        return self

    def generate(self, count, random_state=None):
        _FakePlugin.calls.append(random_state)
        rows = np.random.RandomState(random_state).randint(len(self.data), size=count)
        out = self.data.iloc[rows].reset_index(drop=True)
        for column in out.columns:
            if pd.api.types.is_integer_dtype(out[column].dtype):
                out[column] = out[column].astype(float)
        return _FakeLoader(out[out.columns[::-1]])


class _FakePlugins:
    def get(self, name, **params):
        if name != "bootstrap":
            raise ValueError(f"Plugin {name} doesn't exist.")
        return _FakePlugin(name, **params)


@pytest.fixture
def fake_synthcity(monkeypatch):
    plugins = types.ModuleType("synthcity.plugins")
    plugins.Plugins = _FakePlugins
    package = types.ModuleType("synthcity")
    package.plugins = plugins
    monkeypatch.setitem(sys.modules, "synthcity", package)
    monkeypatch.setitem(sys.modules, "synthcity.plugins", plugins)
    _FakePlugin.calls.clear()
    return plugins


def test_synthcity_adapter_with_a_stand_in_plugin(fake_synthcity):
    df = _table()
    a = SynthcitySynthesizer("bootstrap", random_state=0, n_iter=5).fit(df)
    b = SynthcitySynthesizer("bootstrap", random_state=0, n_iter=5).fit(df)
    c = SynthcitySynthesizer("bootstrap", random_state=1, n_iter=5).fit(df)
    # The plugin got the parameters, and a seed derived from random_state.
    assert a.plugin_.params["n_iter"] == 5
    assert a.plugin_.params["random_state"] == b.plugin_.params["random_state"]
    assert a.plugin_.params["random_state"] != c.plugin_.params["random_state"]
    assert a.plugin_.fit_draw == b.plugin_.fit_draw != c.plugin_.fit_draw
    sample = a.sample(40, random_state=5)
    assert list(sample.columns) == list(df.columns)
    assert sample.dtypes.to_dict() == df.dtypes.to_dict()
    pd.testing.assert_frame_equal(sample, b.sample(40, random_state=5))
    assert not sample.equals(a.sample(40, random_state=6))
    # Every sampled row is a training row (the stand-in bootstraps).
    merged = sample.merge(df.drop_duplicates(), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    # The global generators are restored after fit.
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    SynthcitySynthesizer("bootstrap", random_state=3).fit(df)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    unseeded = SynthcitySynthesizer("bootstrap").fit(df)
    assert "random_state" not in unseeded.plugin_.params
    unseeded.sample(3)
    assert _FakePlugin.calls[-1] is None


def test_synthcity_adapter_under_sampled_density(fake_synthcity):
    from skmem import MemorizationScorer, SampledDensity

    X = np.random.RandomState(2).normal(size=(60, 2))
    scorer = MemorizationScorer(
        SampledDensity(SynthcitySynthesizer("bootstrap"), n_samples=300),
        cv=3,
        random_state=0,
    ).fit(X)
    # A bootstrap copies its rows: the in-models put mass on each record.
    assert np.median(scorer.memorization_scores_) > 1


@needs_sdv
def test_scorer_and_command_line_on_a_mixed_table(tmp_path, monkeypatch, capsys):
    from skmem import MemorizationScorer, SampledDensity, cli

    df = _table(90, seed=3)
    scorer = MemorizationScorer(
        SampledDensity(SDVSynthesizer(random_state=0), n_samples=300),
        cv=3,
        random_state=0,
    ).fit(df)
    assert scorer.engine_ == "sampled"
    assert np.isfinite(scorer.memorization_scores_).all()
    samples = scorer.estimators_[0].samples_
    assert samples.dtypes.to_dict() == df.dtypes.to_dict()

    monkeypatch.chdir(tmp_path)
    df.to_csv("t.csv", index=False)
    base = ["score", "t.csv", "--cv", "3", "--repeats", "1", "--n-jobs", "1"]
    model = "sdv:GaussianCopulaSynthesizer"
    params = ["--param", "default_distribution=norm"]
    assert cli.main([*base, "--model", model, *params, "--report", "rep"]) == 0
    # The report has the per-record table and the models' closer shares, and
    # the copying lines show the text column's values.
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "<h2>Records</h2>" in page and "distance_to_synthetic" in page
    assert "<h2>Samples closer to training</h2>" in page
    assert "Most memorized records beside" in page
    scores = pd.read_csv("scores.csv")
    assert len(scores) == 90
    for column in (
        "distance_to_synthetic",
        "distance_to_holdout",
        "n_synthetic_closer",
    ):
        assert np.isfinite(scores[column]).all()
    assert "SDVSynthesizer" in (tmp_path / "scores.json").read_text()
    capsys.readouterr()
    assert cli.main([*base, "--model", "sdv:Nope"]) == 2
    assert "no single-table synthesizer 'Nope'" in capsys.readouterr().err
    assert cli.main([*base, "--model", "sdv:"]) == 2
    assert "name the synthesizer" in capsys.readouterr().err
