"""Image models: the convolutional VAE, dequantized densities, bits per dimension."""

import math

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import KFold
from sklearn.neighbors import KernelDensity

from skmem import DequantizedDensity, MemorizationScorer, bits_per_dim
from skmem.datasets import load_digits


def test_bits_per_dim_by_hand():
    # -100 nats over 64 pixels: 100 / 64 nats per pixel, / ln 2 = 2.2542 bits.
    assert bits_per_dim(-100.0, 64) == pytest.approx(100 / 64 / 0.6931471805599453)
    # A uniform 256-level pixel has 8 bits; arrays keep their shape.
    uniform = -3 * math.log(256) * np.ones((2, 5))
    np.testing.assert_allclose(bits_per_dim(uniform, 3), 8.0)
    assert bits_per_dim(uniform, 3).shape == (2, 5)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="n_dims must be a positive integer"):
            bits_per_dim(-1.0, bad)


def _levels(n, n_features=1, seed=0):
    """Integer levels 0..3 with probabilities 0.1, 0.2, 0.3, 0.4."""
    rng = np.random.RandomState(seed)
    return rng.choice(4, size=(n, n_features), p=[0.1, 0.2, 0.3, 0.4]).astype(float)


@pytest.mark.parametrize(
    "estimator",
    [GaussianMixture(3, random_state=0), KernelDensity(bandwidth=0.3)],
    ids=["gmm", "kde"],
)
def test_level_probabilities_sum_to_one(estimator):
    # 1 pixel, 4 levels: sum_v P(v) = 1 only if the logit's Jacobian and the
    # 1 / n_levels of each dequantization cell are both accounted for.
    model = DequantizedDensity(estimator, n_levels=4, logit_alpha=0.05, random_state=0)
    model.fit(_levels(400))
    levels = np.arange(4.0)[:, None]
    totals = []
    for seed in range(400):  # one dequantization draw at a time
        model.noise_seed_ = seed
        totals.append(np.exp(model.score_samples(levels)).sum())
    mean, error = np.mean(totals), np.std(totals) / math.sqrt(len(totals))
    assert error < 0.02  # the check has power
    assert abs(mean - 1.0) < 4 * error
    # The model learned the level frequencies, not a uniform spread.
    model.set_params(n_noise_samples=400).noise_seed_ = 0
    p = np.exp(model.score_samples(levels))
    assert p[3] > p[0] * 2


def test_dequantized_scores_are_deterministic_per_row_and_seeded():
    X = _levels(300, n_features=3)
    model = DequantizedDensity(GaussianMixture(2, random_state=0), n_levels=4)
    a = model.set_params(random_state=0).fit(X).score_samples(X)
    np.testing.assert_array_equal(a, model.score_samples(X))  # deterministic
    order = np.random.RandomState(1).permutation(len(X))
    np.testing.assert_allclose(model.score_samples(X[order]), a[order], rtol=1e-12)
    np.testing.assert_allclose(
        np.concatenate([model.score_samples(X[:7]), model.score_samples(X[7:])]), a
    )
    b = model.set_params(random_state=0).fit(X).score_samples(X)
    np.testing.assert_array_equal(a, b)  # reproducible from the seed
    c = model.set_params(random_state=1).fit(X).score_samples(X)
    assert not np.allclose(a, c)  # the noise comes from the seed
    # More draws: a tighter estimate, so a larger mean (Jensen).
    more = model.set_params(n_noise_samples=64).score_samples(X)
    assert more.mean() > c.mean()


def test_dequantized_samples_are_levels_like_the_data():
    X = _levels(2000, n_features=2)
    model = DequantizedDensity(
        GaussianMixture(4, random_state=0), n_levels=4, random_state=0
    ).fit(X)
    drawn = model.sample(4000)
    assert drawn.shape == (4000, 2)
    assert set(np.unique(drawn)) <= {0.0, 1.0, 2.0, 3.0}
    frequencies = np.bincount(drawn[:, 0].astype(int), minlength=4) / len(drawn)
    np.testing.assert_allclose(frequencies, [0.1, 0.2, 0.3, 0.4], atol=0.05)
    assert not hasattr(DequantizedDensity(_NoSample()), "sample")


class _NoSample:
    def fit(self, X):
        return self

    def score_samples(self, X):
        return np.zeros(len(X))


def test_dequantized_density_rejects_scaled_intensities():
    model = DequantizedDensity(GaussianMixture(1), n_levels=17)
    with pytest.raises(ValueError, match=r"integer pixel levels in \[0, 16\]"):
        model.fit(load_digits())  # pixels / 16
    with pytest.raises(ValueError, match="n_levels=17"):
        model.fit(np.full((5, 2), 17.0))


def test_scorer_seeds_the_dequantization_noise_of_each_model():
    X = np.rint(load_digits()[:150, ::4] * 16)
    model = DequantizedDensity(GaussianMixture(1, reg_covar=1e-2), n_levels=17)
    cv = KFold(3, shuffle=True, random_state=0)
    a = MemorizationScorer(model, cv=cv, random_state=0).fit(X)
    b = MemorizationScorer(model, cv=cv, random_state=0, n_jobs=2).fit(X)
    np.testing.assert_allclose(a.log_likelihoods_, b.log_likelihoods_)
    seeds = {m.random_state for m in a.estimators_}
    assert len(seeds) == 3  # each fold model its own noise
    assert {m.estimator_.random_state for m in a.estimators_} == seeds
    # Log-probabilities of 16 pixels with 17 levels each: below 0, and far
    # above those of a uniform guess (16 log 17).
    assert (a.log_likelihoods_ < 0).all()
    assert a.out_log_likelihood_.mean() > -16 * math.log(17)


torch = pytest.importorskip("torch")

from skmem import VAEDensity  # noqa: E402
from skmem.vae._conv import ConvVAEModule  # noqa: E402

CONV = dict(architecture="conv", n_filters=4, latent_dim=3, n_importance_samples=8)


@pytest.mark.parametrize(
    "input_shape, code_shape",
    # Halved twice at least, and until the smaller side is 4 pixels.
    [
        ((1, 8, 8), (8, 2, 2)),
        ((3, 16, 16), (8, 4, 4)),
        ((3, 32, 16), (8, 8, 4)),
        ((1, 32, 32), (16, 4, 4)),
    ],
)
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_conv_vae_shapes(input_shape, code_shape, likelihood):
    n_features = math.prod(input_shape)
    module = ConvVAEModule(input_shape, 3, 4, likelihood)
    assert module.code_shape == code_shape
    x = torch.rand(5, n_features)
    assert module.loss(x, torch.randn(5, 3)).shape == (5,)
    log_p = module.log_likelihood(x, torch.randn(7, 3))
    assert log_p.shape == (5,) and log_p.dtype == torch.float64
    out = module.decode(torch.randn(2, 6, 3))
    assert out.shape == (2, 6, n_features * (2 if likelihood == "gaussian" else 1))
    X = np.random.RandomState(0).rand(20, n_features)
    vae = VAEDensity(**CONV, input_shape=input_shape, likelihood=likelihood)
    vae.set_params(max_epochs=1, random_state=0).fit(X)
    assert vae.score_samples(X[:4]).shape == (4,)
    assert vae.sample(3, random_state=0).shape == (3, n_features)


def test_conv_vae_decoder_is_channels_first():
    # Each output channel of the last transposed convolution is one image
    # channel: zeroing channel 1's weights leaves the channel-0 pixels alone.
    module = ConvVAEModule((2, 8, 8), 3, 4, "bernoulli")
    z = torch.randn(4, 3)
    with torch.no_grad():
        before = module.decode(z)
        module.decoder[-1].weight[:, 1] = 0.0
        after = module.decode(z)
    torch.testing.assert_close(after[:, :64], before[:, :64])
    assert not torch.allclose(after[:, 64:], before[:, 64:])


@pytest.mark.parametrize(
    "input_shape, message",
    [
        (None, "needs input_shape"),
        ((1, 8, 9), "has 72 pixels but X has 64 features"),
        ((1, 2, 32), "multiples of 4"),
        ((8, 8), r"\(channels, height, width\)"),
    ],
)
def test_conv_vae_input_shape_errors(input_shape, message):
    vae = VAEDensity(**CONV, input_shape=input_shape)
    with pytest.raises(ValueError, match=message):
        vae.fit(load_digits()[:10])


@pytest.mark.parametrize(
    "likelihood, n_levels", [("bernoulli", None), ("gaussian", None), ("gaussian", 17)]
)
def test_batched_conv_models_are_the_generic_models(likelihood, n_levels):
    X = load_digits(binarize=likelihood == "bernoulli")[:60]
    if n_levels:
        X = np.rint(X * 16)
    vae = VAEDensity(
        **CONV,
        input_shape=(1, 8, 8),
        likelihood=likelihood,
        n_levels=n_levels,
        max_epochs=2,
    ).set_params(batch_size=16)
    cv = KFold(4, shuffle=True, random_state=0)
    batched = MemorizationScorer(vae, cv=cv, random_state=0).fit(X)
    generic = MemorizationScorer(vae, cv=cv, engine="generic", random_state=0).fit(X)
    assert (batched.engine_, generic.engine_) == ("torch", "generic")
    for a, b in zip(batched.estimators_, generic.estimators_, strict=True):
        for pa, pb in zip(a.module_.parameters(), b.module_.parameters(), strict=True):
            np.testing.assert_allclose(pa.detach(), pb.detach(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        batched.log_likelihoods_, generic.log_likelihoods_, rtol=1e-5
    )


def _conv_members(input_shape, likelihood, n_levels, n_models=3):
    torch.manual_seed(0)
    modules = [
        ConvVAEModule(input_shape, 3, 4, likelihood, n_levels=n_levels)
        for _ in range(n_models)
    ]
    x = torch.rand(n_models, 5, math.prod(input_shape))
    if likelihood == "bernoulli":
        x = (x > 0.5).float()
    elif n_levels:
        x = (x * n_levels).floor()
    return modules, x


# 1x8x8 with 4 filters runs every layer as a dense matmul, 3x16x16 and the
# non-square 3x32x16 their outer layers as grouped convolutions; 0 and a huge
# threshold force either form.
@pytest.mark.parametrize("dense_entries", [None, 0, 2**40])
@pytest.mark.parametrize("input_shape", [(1, 8, 8), (3, 16, 16), (3, 32, 16)])
@pytest.mark.parametrize(
    "likelihood, n_levels", [("bernoulli", None), ("gaussian", None), ("gaussian", 17)]
)
def test_stacked_conv_vae_is_the_separate_modules(
    input_shape, likelihood, n_levels, dense_entries, monkeypatch
):
    from skmem.vae import _conv

    if dense_entries is not None:
        monkeypatch.setattr(_conv, "DENSE_ENTRIES", dense_entries)
    modules, x = _conv_members(input_shape, likelihood, n_levels)
    stacked = ConvVAEModule.stack(modules)
    assert isinstance(stacked, _conv.EnsembleConvVAE)
    noise = torch.randn(len(modules), 5, *stacked.loss_noise_shape)
    torch.testing.assert_close(
        stacked.loss(x, noise),
        torch.stack(
            [m.loss(xe, ne) for m, xe, ne in zip(modules, x, noise, strict=True)]
        ),
        rtol=1e-5,
        atol=1e-5,
    )
    # Rows shared by every model, each with its own importance noise.
    eval_noise = torch.randn(len(modules), 7, *stacked.loss_noise_shape)
    log_p = stacked.log_likelihood(x[0], eval_noise)
    assert log_p.shape == (len(modules), 5) and log_p.dtype == torch.float64
    torch.testing.assert_close(
        log_p,
        torch.stack(
            [
                m.log_likelihood(x[0], ne)
                for m, ne in zip(modules, eval_noise, strict=True)
            ]
        ),
        rtol=1e-5,
        atol=1e-5,
    )
    z = torch.randn(len(modules), 2, 6, 3)
    torch.testing.assert_close(
        stacked.decode(z),
        torch.stack([m.decode(ze) for m, ze in zip(modules, z, strict=True)]),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("input_shape", [(1, 8, 8), (3, 16, 16)])
def test_conv_vae_unstack_gives_back_the_modules(input_shape):
    modules, _ = _conv_members(input_shape, "gaussian", 17)
    stacked = ConvVAEModule.stack(modules)
    members = stacked.unstack()
    assert [type(m) for m in members] == [ConvVAEModule] * len(modules)
    for module, member in zip(modules, members, strict=True):
        assert (member.input_shape, member.n_levels) == (input_shape, 17)
        a, b = module.state_dict(), member.state_dict()
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=0, atol=0)


@pytest.mark.parametrize("input_shape", [(1, 8, 8), (3, 16, 16), (1, 32, 32)])
def test_stacked_conv_vae_gradient_is_each_models_gradient(input_shape):
    modules, x = _conv_members(input_shape, "gaussian", None)
    stacked = ConvVAEModule.stack(modules)
    noise = torch.randn(len(modules), 5, *stacked.loss_noise_shape)
    stacked.loss(x, noise).mean(dim=1).sum().backward()
    for e, module in enumerate(modules):
        module.loss(x[e], noise[e]).mean().backward()
        for p, q in zip(stacked.parameters(), module.parameters(), strict=True):
            assert q.grad.abs().max() > 0  # every parameter gets a gradient
            torch.testing.assert_close(p.grad[e], q.grad, rtol=1e-4, atol=1e-5)


def test_batched_engine_trains_the_conv_vae_in_its_stacked_form(monkeypatch):
    from skmem.torch import _training
    from skmem.vae import _conv

    assert _training.batched_group_class(ConvVAEModule) is _training.Native
    calls = []
    loss = _conv.EnsembleConvVAE.loss

    def spy(self, x, noise):
        calls.append(self.n_models)
        return loss(self, x, noise)

    monkeypatch.setattr(_conv.EnsembleConvVAE, "loss", spy)
    X = load_digits(binarize=True)[:40]
    vae = VAEDensity(**CONV, input_shape=(1, 8, 8), max_epochs=1)
    scorer = MemorizationScorer(vae, cv=KFold(3), random_state=0).fit(X)
    # The three fold models in one ensemble (the engine's probe stacks two).
    assert scorer.engine_ == "torch" and 3 in calls and set(calls) <= {2, 3}


def test_vae_level_probabilities_sum_to_one():
    # The VAE's own dequantization (shared by both architectures) on one
    # pixel with 4 levels: exp of the importance-weighted estimate is unbiased
    # for P(v), with the logit's Jacobian and the cell width included.
    vae = VAEDensity(
        latent_dim=1,
        hidden_layer_sizes=(8,),
        likelihood="gaussian",
        n_levels=4,
        max_epochs=20,
        n_importance_samples=1,
        random_state=0,
    ).fit(_levels(400))
    levels = np.arange(4.0)[:, None]
    totals = []
    for seed in range(300):  # one importance and dequantization draw at a time
        vae.noise_seed_ = seed
        totals.append(np.exp(vae.score_samples(levels)).sum())
    mean, error = np.mean(totals), np.std(totals) / math.sqrt(len(totals))
    assert error < 0.05  # the check has power
    assert abs(mean - 1.0) < 4 * error


def test_vae_levels_errors():
    X = np.rint(load_digits()[:20] * 16)
    with pytest.raises(ValueError, match="needs likelihood='gaussian'"):
        VAEDensity(n_levels=17).fit(X)
    with pytest.raises(ValueError, match=r"integer pixel levels in \[0, 16\]"):
        VAEDensity(n_levels=17, likelihood="gaussian").fit(X / 16)


def test_dequantized_conv_vae_in_the_scorer():
    # A Gaussian conv VAE in logit space, wrapped: scored on the discrete
    # levels through the generic engine.
    X = np.rint(load_digits()[:90] * 16)
    vae = VAEDensity(**CONV, input_shape=(1, 8, 8), likelihood="gaussian")
    vae.set_params(max_epochs=3)
    cv = KFold(3, shuffle=True, random_state=0)
    scorer = MemorizationScorer(
        DequantizedDensity(vae, n_levels=17), cv=cv, random_state=0
    ).fit(X)
    assert scorer.engine_ == "generic"
    assert np.isfinite(scorer.memorization_scores_).all()
    assert (scorer.log_likelihoods_ < 0).all()
    # Different fold models got different seeds for the VAE inside.
    assert len({m.estimator_.random_state for m in scorer.estimators_}) == 3
