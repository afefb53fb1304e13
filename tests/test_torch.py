"""TorchDensity, its module contract, and the batched torch.func engine."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import KFold
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

torch = pytest.importorskip("torch")

from skmem import MemorizationScorer, TorchDensity, VAEDensity  # noqa: E402
from skmem.datasets import load_digits  # noqa: E402


def _final(estimator, X, train_indices, seeds):
    """The batched clones and their final log-likelihoods (n_models, n_samples)."""
    estimators, rows = estimator._fit_ensemble_curve(X, train_indices, seeds)
    return estimators, rows[-1]


class CouplingFlow(torch.nn.Module):
    """A small RealNVP: affine couplings on alternating halves, exact log p(x)."""

    def __init__(self, n_features, n_layers=4, hidden=16):
        super().__init__()
        self.n_features = n_features
        half = n_features // 2
        self.register_buffer(
            "masks",
            torch.stack(
                [
                    (torch.arange(n_features) < half).float()
                    if i % 2 == 0
                    else (torch.arange(n_features) >= half).float()
                    for i in range(n_layers)
                ]
            ),
        )
        self.nets = torch.nn.ModuleList(
            torch.nn.Sequential(
                torch.nn.Linear(n_features, hidden),
                torch.nn.Tanh(),
                torch.nn.Linear(hidden, 2 * n_features),
            )
            for _ in range(n_layers)
        )

    def log_likelihood(self, x):
        log_det = torch.zeros(x.shape[:-1])
        for mask, net in zip(self.masks, self.nets, strict=True):
            scale, shift = net(x * mask).chunk(2, dim=-1)
            scale = torch.tanh(scale) * (1 - mask)
            x = x * mask + (1 - mask) * (x * scale.exp() + shift)
            log_det = log_det + scale.sum(-1)
        base = -0.5 * (x**2 + np.log(2 * np.pi)).sum(-1)
        return base + log_det

    def loss(self, x):
        return -self.log_likelihood(x)


class NoisyGaussian(torch.nn.Module):
    """A Gaussian trained on noisy inputs: stochastic through the noise hook."""

    def __init__(self, n_features):
        super().__init__()
        self.loss_noise_shape = (n_features,)
        self.log_likelihood_noise_shape = (3, n_features)
        self.mean = torch.nn.Parameter(torch.zeros(n_features))
        self.log_std = torch.nn.Parameter(torch.zeros(n_features))

    def _log_normal(self, x):
        z = (x - self.mean) / self.log_std.exp()
        return (-0.5 * z**2 - self.log_std - 0.5 * np.log(2 * np.pi)).sum(-1)

    def loss(self, x, noise):
        return -self._log_normal(x + 0.1 * noise)

    def log_likelihood(self, x, noise):
        # Averages the log-density over jittered copies: depends on the noise.
        return self._log_normal(x[:, None, :] + 0.01 * noise).mean(-1)


class DataDependent(torch.nn.Module):
    """Python control flow on tensor values: vmap cannot batch it."""

    def __init__(self, n_features):
        super().__init__()
        self.mean = torch.nn.Parameter(torch.zeros(n_features))

    def log_likelihood(self, x):
        if self.mean.sum() > 1e6:  # data-dependent branch
            return -((x - self.mean) ** 2).sum(-1)
        return -0.5 * ((x - self.mean) ** 2).sum(-1)

    def loss(self, x):
        return -self.log_likelihood(x)


FLOW = dict(max_epochs=4, batch_size=16, learning_rate=3e-3)


@pytest.fixture(scope="module")
def X8():
    rng = np.random.RandomState(0)
    A = rng.normal(size=(8, 8)) / 3
    return np.tanh(rng.normal(size=(90, 8)) @ A) + 0.1 * rng.normal(size=(90, 8))


def _params(model):
    return [p.detach().numpy() for p in model.module_.parameters()]


def test_flow_log_likelihood_is_exact(X8):
    # The change of variables integrates to one: check it in 2-D on a grid.
    flow = TorchDensity(CouplingFlow, **FLOW, random_state=0).fit(X8[:, :2])
    grid = np.linspace(-6, 6, 301)
    points = np.array(np.meshgrid(grid, grid)).reshape(2, -1).T
    density = np.exp(flow.score_samples(points)).sum() * (grid[1] - grid[0]) ** 2
    assert abs(density - 1) < 1e-3
    assert flow.loss_curve_[-1] < flow.loss_curve_[0]


def test_batched_engine_matches_generic_engine(X8, capsys):
    flow = TorchDensity(CouplingFlow, **FLOW)
    cv = KFold(5, shuffle=True, random_state=0)
    batched = MemorizationScorer(flow, cv=cv, random_state=0, verbose=1).fit(X8)
    generic = MemorizationScorer(flow, cv=cv, engine="generic", random_state=0)
    generic.fit(X8)
    assert (batched.engine_, generic.engine_) == ("torch", "generic")
    assert "with the torch engine" in capsys.readouterr().out
    gap = np.abs(batched.log_likelihoods_ - generic.log_likelihoods_)
    assert gap.max() < 1e-4
    for a, b in zip(batched.estimators_, generic.estimators_, strict=True):
        assert type(a) is TorchDensity and a.random_state == b.random_state
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)
    # The fitted clones left behind score on their own as the engine did.
    np.testing.assert_allclose(
        batched.estimators_[3].score_samples(X8), batched.log_likelihoods_[3], atol=1e-5
    )


class TiedWeights(torch.nn.Module):
    """One weight registered under two names, used twice."""

    def __init__(self, n_features):
        super().__init__()
        self.first = torch.nn.Linear(n_features, n_features)
        self.second = torch.nn.Linear(n_features, n_features)
        self.second.weight = self.first.weight

    def log_likelihood(self, x):
        return -0.5 * (self.second(torch.tanh(self.first(x))) ** 2).sum(-1)

    def loss(self, x):
        return -self.log_likelihood(x)


class Hooked(TiedWeights):
    """A forward hook whose closure holds the module's own submodule."""

    def __init__(self, n_features):
        torch.nn.Module.__init__(self)
        self.first = torch.nn.Linear(n_features, n_features)
        self.second = torch.nn.Linear(n_features, n_features)
        self.first.register_forward_hook(lambda m, i, out: out + self.second.bias)


@pytest.mark.parametrize(
    "module, reason",
    [
        (TiedWeights, "'first.weight' and 'second.weight' are one tensor"),
        (Hooked, "first has hooks, which the batched engine does not run"),
    ],
)
def test_tied_weights_and_hooks_fall_back_to_the_generic_engine(
    X8, capsys, module, reason
):
    # The batched engine swaps each model's tensors into one copy of the
    # module, which cannot keep two names on one tensor, nor rebind what a
    # hook holds: under vmap every model would use the first model's bias.
    estimator = TorchDensity(module, **FLOW)
    cv = KFold(3, shuffle=True, random_state=0)
    scorer = MemorizationScorer(estimator, cv=cv, random_state=0, verbose=1).fit(X8)
    assert scorer.engine_ == "generic"
    assert reason in capsys.readouterr().out
    assert np.isfinite(scorer.memorization_scores_).all()


@pytest.mark.parametrize(
    "estimator",
    [
        TorchDensity(CouplingFlow, **FLOW),
        TorchDensity(NoisyGaussian, **FLOW),
        VAEDensity(
            latent_dim=2,
            hidden_layer_sizes=(16,),
            likelihood="gaussian",
            n_importance_samples=8,
            **FLOW,
        ),
    ],
    ids=["flow", "noise-hook", "vae"],
)
def test_a_model_does_not_depend_on_its_group(X8, estimator):
    # Alone (plain fit), alone through the batched path, in a group of 3 and
    # with all 5: the same model for the same seed.
    folds = [train for train, _ in KFold(5, shuffle=True, random_state=0).split(X8)]
    seeds = [11, 12, 13, 14, 15]
    alone = clone(estimator).set_params(random_state=seeds[2]).fit(X8[folds[2]])
    runs = {
        "batched alone": _final(estimator, X8, folds[2:3], seeds[2:3]),
        "group of 3": _final(estimator, X8, folds[1:4], seeds[1:4]),
        "all": _final(estimator, X8, folds, seeds),
    }
    position = {"batched alone": 0, "group of 3": 1, "all": 2}
    expected = alone.score_samples(X8)
    for name, (members, rows) in runs.items():
        member = members[position[name]]
        assert member.random_state == seeds[2], name
        np.testing.assert_allclose(rows[position[name]], expected, atol=1e-4)
        np.testing.assert_allclose(member.score_samples(X8), expected, atol=1e-4)
        for pa, pb in zip(_params(member), _params(alone), strict=True):
            np.testing.assert_allclose(pa, pb, rtol=1e-4, atol=1e-5)
    # A different seed gives a different model.
    other = clone(estimator).set_params(random_state=99).fit(X8[folds[2]])
    assert not np.allclose(other.score_samples(X8), expected)


def test_noise_hook_makes_scoring_deterministic(X8):
    model = TorchDensity(NoisyGaussian, **FLOW, random_state=0).fit(X8)
    first = model.score_samples(X8)
    np.testing.assert_array_equal(model.score_samples(X8), first)
    np.testing.assert_allclose(model.score_samples(X8[::-1]), first[::-1], rtol=1e-6)
    again = TorchDensity(NoisyGaussian, **FLOW, random_state=0).fit(X8)
    np.testing.assert_array_equal(again.score_samples(X8), first)
    # The global torch random state is neither used nor changed.
    before = torch.get_rng_state()
    TorchDensity(CouplingFlow, **FLOW, random_state=0).fit(X8)
    assert torch.equal(torch.get_rng_state(), before)


def test_module_parameters_skorch_style(X8):
    model = TorchDensity(CouplingFlow, module_params={"hidden": 4}, module__n_layers=2)
    assert model.get_params()["module__n_layers"] == 2
    copy = clone(model).set_params(module__hidden=3)
    assert copy.get_params()["module__hidden"] == 3
    copy.set_params(**FLOW).fit(X8)
    assert len(copy.module_.nets) == 2
    assert copy.module_.nets[0][0].out_features == 3  # module__ beats module_params
    with pytest.raises(TypeError, match="module__<name>"):
        clone(TorchDensity(CouplingFlow, hidden=3)).fit(X8)
    # GridSearchCV reaches them through the scorer.
    scorer = MemorizationScorer(model).set_params(estimator__module__hidden=8)
    assert scorer.get_params()["estimator__module__hidden"] == 8
    assert clone(scorer).estimator.module__hidden == 8


def test_pickle_round_trip(X8):
    model = TorchDensity(CouplingFlow, **FLOW, random_state=0).fit(X8)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.score_samples(X8), model.score_samples(X8))
    assert next(loaded.module_.parameters()).device.type == "cpu"


def test_non_contiguous_input(X8):
    vae = VAEDensity(
        latent_dim=2, hidden_layer_sizes=(8,), likelihood="gaussian", **FLOW
    ).fit(X8)
    full = vae.score_samples(X8)
    np.testing.assert_allclose(vae.score_samples(X8[::-1]), full[::-1], rtol=1e-6)
    np.testing.assert_allclose(
        vae.score_samples(np.asfortranarray(X8[:, ::1])), full, rtol=1e-6
    )
    np.testing.assert_allclose(vae.score_samples(X8[::2]), full[::2], rtol=1e-6)


def test_module_that_vmap_rejects_falls_back_to_generic(X8, capsys):
    model = TorchDensity(DataDependent, **FLOW)
    scorer = MemorizationScorer(model, cv=3, random_state=0, verbose=1).fit(X8)
    assert scorer.engine_ == "generic"
    out = capsys.readouterr().out
    assert "torch engine not used: vmap rejects DataDependent" in out
    assert np.isfinite(scorer.memorization_scores_).all()
    with pytest.raises(ValueError, match="engine='torch' does not apply.*vmap"):
        MemorizationScorer(model, cv=3, engine="torch").fit(X8)


def test_named_engines_and_reasons(X8, capsys):
    with pytest.raises(ValueError, match="engine='kde' does not apply.*not a Kernel"):
        MemorizationScorer(GaussianMixture(), cv=3, engine="kde").fit(X8)
    with pytest.raises(ValueError, match="engine='torch' does not apply"):
        MemorizationScorer(KernelDensity(), cv=3, engine="torch").fit(X8)
    with pytest.raises(ValueError, match="engine"):
        MemorizationScorer(cv=3, engine="fast").fit(X8)
    pipe = make_pipeline(StandardScaler(), KernelDensity(bandwidth=0.5))
    scorer = MemorizationScorer(pipe, cv=3, verbose=1).fit(X8)
    assert scorer.engine_ == "generic"
    assert "ends in a KernelDensity" in capsys.readouterr().out
    assert MemorizationScorer(KernelDensity(), cv=3).fit(X8).engine_ == "kde"


class SummedLoss(CouplingFlow):
    """Breaks the contract: a batch total instead of a per-sample loss."""

    def loss(self, x):
        return -self.log_likelihood(x).sum()


@pytest.mark.parametrize("engine", ["generic", "auto"])
def test_loss_that_is_not_per_sample_is_a_clear_error(X8, engine):
    with pytest.raises(ValueError, match=r"loss\(x\) must return one value per row"):
        TorchDensity(SummedLoss, **FLOW).fit(X8)
    scorer = MemorizationScorer(TorchDensity(SummedLoss, **FLOW), cv=3, engine=engine)
    with pytest.raises((ValueError, RuntimeError), match="one value per row"):
        scorer.fit(X8)


@pytest.mark.parametrize(
    "module, match",
    [
        (CouplingFlow(2), "the class, not an instance"),
        (torch.nn.Linear, "no loss or log_likelihood method"),
    ],
)
def test_bad_module(X8, module, match):
    with pytest.raises(TypeError, match=match):
        TorchDensity(module, **FLOW).fit(X8)


def test_model_trained_on_a_gpu_scores_without_one(X8, monkeypatch):
    model = TorchDensity(CouplingFlow, **FLOW, random_state=0).fit(X8)
    expected = model.score_samples(X8)
    # As if trained on a GPU and loaded here, where torch sees none.
    loaded = pickle.loads(pickle.dumps(model))
    loaded.device_ = "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="trained on 'cuda'.*on the CPU instead"):
        scores = loaded.score_samples(X8)
    np.testing.assert_array_equal(scores, expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.score_samples(X8)  # trained on the CPU: no warning
    with pytest.raises(ValueError, match="no CUDA device"):
        TorchDensity(CouplingFlow, device="cuda", **FLOW).fit(X8)


def test_vae_is_a_torch_density_on_digits():
    X = load_digits(binarize=True)[:40]
    vae = VAEDensity(latent_dim=2, hidden_layer_sizes=(8,), max_epochs=1)
    assert isinstance(vae, TorchDensity)
    assert MemorizationScorer(vae, cv=2).fit(X).engine_ == "torch"


def test_vae_hand_batched_form_is_the_vmap_form(X8, monkeypatch):
    # VAEModule.stack (baddbmm) is a faster way to run what vmap runs.
    vae = VAEDensity(
        latent_dim=2, hidden_layer_sizes=(8,), likelihood="gaussian", **FLOW
    ).set_params(n_importance_samples=8)
    folds = [train for train, _ in KFold(3, shuffle=True, random_state=0).split(X8)]
    native, native_rows = _final(vae, X8, folds, [1, 2, 3])
    from skmem.torch import _training

    monkeypatch.setattr(_training, "batched_group_class", lambda cls: _training.Stacked)
    vmapped, vmapped_rows = _final(vae, X8, folds, [1, 2, 3])
    np.testing.assert_allclose(native_rows, vmapped_rows, atol=1e-4)
    for a, b in zip(native, vmapped, strict=True):
        for pa, pb in zip(_params(a), _params(b), strict=True):
            np.testing.assert_allclose(pa, pb, rtol=1e-4, atol=1e-5)


def test_n_jobs_and_cache_do_not_change_the_models(X8, tmp_path, capsys):
    from joblib import parallel_backend

    flow = TorchDensity(CouplingFlow, **FLOW)
    cv = KFold(4, shuffle=True, random_state=0)
    one = MemorizationScorer(flow, cv=cv, random_state=0).fit(X8)
    with parallel_backend("threading"):
        two = MemorizationScorer(
            flow, cv=cv, random_state=0, n_jobs=2, memory=str(tmp_path), verbose=1
        ).fit(X8)
    assert "group 2/2 of 2 models" in capsys.readouterr().out
    np.testing.assert_allclose(two.log_likelihoods_, one.log_likelihoods_, atol=1e-6)
    # A second run finds every model in the cache and trains none.
    again = MemorizationScorer(
        flow, cv=cv, random_state=0, memory=str(tmp_path), verbose=1
    ).fit(X8)
    out = capsys.readouterr().out
    assert "4 of 4 models found in the cache" in out and "trained and scored" not in out
    np.testing.assert_array_equal(again.log_likelihoods_, two.log_likelihoods_)
    assert all(isinstance(m, TorchDensity) for m in again.estimators_)


def test_dataframe_through_the_torch_engine(X8):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X8, columns=[f"f{i}" for i in range(8)])
    members, rows = _final(
        TorchDensity(CouplingFlow, **FLOW),
        frame,
        [np.arange(60), np.arange(30, 90)],
        [0, 1],
    )
    alone = TorchDensity(CouplingFlow, **FLOW, random_state=1).fit(frame[30:])
    np.testing.assert_array_equal(members[1].feature_names_in_, alone.feature_names_in_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning
        np.testing.assert_allclose(members[1].score_samples(frame), rows[1], atol=1e-5)
    np.testing.assert_allclose(rows[1], alone.score_samples(frame), atol=1e-4)


def _plain_torch_loop(X, train, random_state, max_epochs, batch_size, lr):
    """One model trained by a loop written here, following the documented
    protocol (sharing no code with skmem): the model's generator, seeded from
    its random_state, draws the seed of the initial weights, then the seed of
    the evaluation noise, then one permutation of the training rows per epoch;
    Adam on each minibatch's mean loss."""
    seed = int(np.random.RandomState(random_state).randint(np.iinfo(np.int32).max))
    generator = torch.Generator().manual_seed(seed)
    init_seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        module = CouplingFlow(X.shape[1])
    torch.randint(2**31 - 1, (1,), generator=generator)  # the evaluation noise seed
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    X_t = torch.as_tensor(X, dtype=torch.float32)
    rows = torch.as_tensor(train)
    for _ in range(max_epochs):
        order = rows[torch.randperm(len(rows), generator=generator)]
        for start in range(0, len(order), batch_size):
            loss = module.loss(X_t[order[start : start + batch_size]]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return module.log_likelihood(X_t).double().numpy()


def test_batched_engine_trains_the_models_of_a_plain_torch_loop(X8):
    # Uneven folds (90 rows, 4 folds of 22-23): the last minibatch of each
    # epoch is shorter, and two lockstep groups may form.
    flow = TorchDensity(CouplingFlow, **FLOW)
    scorer = MemorizationScorer(flow, cv=KFold(4), random_state=0).fit(X8)
    assert scorer.engine_ == "torch"
    for k in range(4):
        train = np.flatnonzero(scorer.train_masks_[k])
        expected = _plain_torch_loop(
            X8,
            train,
            int(scorer.seeds_[k]),
            FLOW["max_epochs"],
            FLOW["batch_size"],
            FLOW["learning_rate"],
        )
        np.testing.assert_allclose(scorer.log_likelihoods_[k], expected, atol=1e-4)


@pytest.mark.parametrize(
    "precision, level, cudnn_tf32",
    [
        ("float32", "highest", False),
        ("tf32", "high", True),
        ("bfloat16", "highest", False),
    ],
)
def test_precision_sets_torchs_float32_settings_and_restores_them(
    precision, level, cudnn_tf32
):
    # torch documents "high" as TF32 for float32 products (where the GPU has
    # it) and "highest" as full float32; the GPU check of the rounding itself
    # is in test_cuda.py.
    from skmem.torch._training import matmul_precision

    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    try:
        for outside in ("medium", "highest"):
            torch.set_float32_matmul_precision(outside)
            with matmul_precision(precision):
                inside = torch.get_float32_matmul_precision()
                assert (inside, torch.backends.cudnn.allow_tf32) == (level, cudnn_tf32)
            assert torch.get_float32_matmul_precision() == outside
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cudnn.allow_tf32 = before[1]
