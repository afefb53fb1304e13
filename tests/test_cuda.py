"""Training on a GPU: the batched engine on CUDA gives the models the CPU gives.

Skipped where torch sees no CUDA device (CI). A model trained on a GPU and
scored where there is none is tested without a GPU in ``test_torch.py``.
"""

import math
import pickle

import numpy as np
import pytest
from sklearn.model_selection import KFold

torch = pytest.importorskip("torch")

from skmem import MemorizationScorer, TorchDensity, VAEDensity  # noqa: E402
from skmem.datasets import load_digits  # noqa: E402

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"
)

CV = KFold(4, shuffle=True, random_state=0)
FLOW = dict(max_epochs=4, batch_size=16, learning_rate=3e-3)


class Coupling(torch.nn.Module):
    """One affine coupling: the second half shifted and scaled given the first."""

    def __init__(self, n_features):
        super().__init__()
        self.half = n_features // 2
        self.net = torch.nn.Sequential(
            torch.nn.Linear(self.half, 16),
            torch.nn.Tanh(),
            torch.nn.Linear(16, 2 * (n_features - self.half)),
        )

    def log_likelihood(self, x):
        first, second = x[..., : self.half], x[..., self.half :]
        scale, shift = self.net(first).chunk(2, dim=-1)
        scale = torch.tanh(scale)
        z = torch.cat([first, second * scale.exp() + shift], dim=-1)
        return scale.sum(-1) - 0.5 * (z**2 + math.log(2 * math.pi)).sum(-1)

    def loss(self, x):
        return -self.log_likelihood(x)


@pytest.fixture(autouse=True)
def full_float32_matmuls():
    # TF32 would round the GPU's products to 10 bits: compare like with like.
    backends = torch.backends.cuda.matmul, torch.backends.cudnn
    kept = [b.allow_tf32 for b in backends]
    for b in backends:
        b.allow_tf32 = False
    yield
    for b, allow in zip(backends, kept, strict=True):
        b.allow_tf32 = allow


def _fit(estimator, X, **params):
    return MemorizationScorer(estimator, cv=CV, random_state=0, **params).fit(X)


def test_flow_on_cuda_matches_the_cpu():
    rng = np.random.RandomState(0)
    X = np.tanh(rng.normal(size=(80, 8)) @ rng.normal(size=(8, 8)) / 3)
    on_gpu = _fit(TorchDensity(Coupling, **FLOW, device="cuda"), X)
    on_cpu = _fit(TorchDensity(Coupling, **FLOW, device="cpu"), X)
    assert on_gpu.engine_ == "torch"
    assert {e.device_ for e in on_gpu.estimators_} == {"cuda"}
    np.testing.assert_allclose(
        on_gpu.log_likelihoods_, on_cpu.log_likelihoods_, atol=1e-3
    )
    # A fitted clone scores where it was trained, as the engine did.
    np.testing.assert_allclose(
        on_gpu.estimators_[1].score_samples(X), on_gpu.log_likelihoods_[1], atol=1e-4
    )


# The 3x16x16 conv VAE runs its outer layers as grouped convolutions, the
# 1x8x8 one all layers as dense matrices.
@pytest.mark.parametrize("input_shape", [None, (1, 8, 8), (3, 16, 16)])
def test_vae_on_cuda_matches_the_cpu_and_scores_without_a_gpu(input_shape, monkeypatch):
    params = dict(
        latent_dim=2,
        max_epochs=3,
        batch_size=16,
        n_importance_samples=8,
        checkpoints=[1, 3],
    )
    if input_shape is None:
        X = load_digits(binarize=True)[:80]
        params.update(hidden_layer_sizes=(16,))
    else:
        rng = np.random.RandomState(0)
        X = (rng.uniform(size=(80, math.prod(input_shape))) < 0.3).astype(float)
        params.update(architecture="conv", input_shape=input_shape, n_filters=4)
    on_gpu = _fit(VAEDensity(**params, device="cuda"), X)
    on_cpu = _fit(VAEDensity(**params, device="cpu"), X)
    assert on_gpu.engine_ == "torch"
    np.testing.assert_allclose(
        on_gpu.log_likelihood_curve_,
        on_cpu.log_likelihood_curve_,
        rtol=1e-5,
        atol=1e-3,
    )
    np.testing.assert_allclose(
        on_gpu.memorization_scores_, on_cpu.memorization_scores_, atol=1e-3
    )
    # Pickled on the GPU machine, loaded where torch sees no CUDA device.
    model = on_gpu.estimators_[0]
    expected = model.score_samples(X)
    saved = pickle.dumps(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = pickle.loads(saved)
    with pytest.warns(UserWarning, match="on the CPU instead"):
        np.testing.assert_allclose(loaded.score_samples(X), expected, atol=1e-4)


def _digits_vae(**params):
    return VAEDensity(
        latent_dim=4,
        hidden_layer_sizes=(64,),
        max_epochs=3,
        batch_size=16,
        n_importance_samples=16,
        checkpoints=[1, 3],
        **params,
    )


@pytest.fixture(scope="module")
def digits():
    return load_digits(binarize=True)[:200]


@pytest.mark.parametrize("precision", ["tf32", "bfloat16"])
def test_fast_precision_on_cuda_agrees_and_restores(digits, precision):
    before = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    fast = _fit(_digits_vae(device="cuda", precision=precision), digits)
    assert (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32) == (
        before
    )
    full = _fit(_digits_vae(device="cuda"), digits)
    diff = np.abs(fast.memorization_scores_ - full.memorization_scores_)
    print(f"{precision}: max |dM| {diff.max():.4f} nats, mean {diff.mean():.4f}")
    assert diff.max() < 0.5
    if precision == "bfloat16" or _has_tf32():
        # A lower bound too: the fast precision is not full float32 in disguise.
        assert diff.max() > 0


def _has_tf32():
    return torch.cuda.get_device_capability() >= (8, 0)  # Ampere and later


@pytest.mark.skipif(
    not torch.cuda.is_available() or not _has_tf32(),
    reason="needs a CUDA device with TF32 (compute capability 8.0 or later)",
)
def test_tf32_rounds_the_products_and_float32_does_not():
    # TF32 keeps 10 bits of the inputs' mantissa, float32 23: on sums of 1,024
    # products of standard normals the error against float64 is about 2^13
    # times larger. "float32" must be full precision whatever the global
    # setting says.
    from skmem.torch._training import matmul_precision

    generator = torch.Generator(device="cuda").manual_seed(0)
    a, b = (
        torch.randn(256, 1024, device="cuda", generator=generator) for _ in range(2)
    )
    exact = a.double() @ b.double().T

    def error(precision):
        with matmul_precision(precision):
            return ((a @ b.T).double() - exact).abs().max().item()

    torch.backends.cuda.matmul.allow_tf32 = True  # a global setting to override
    assert error("tf32") > 100 * error("float32")


def test_groups_sized_from_gpu_memory_and_data_sent_once(digits, capsys, monkeypatch):
    import skmem.torch._training as training

    copies = []
    to_device = training.data_on_device

    def counting(X, device, cache=None):
        hit = cache is not None and str(device) in cache
        copies.append(not hit)
        return to_device(X, device, cache)

    monkeypatch.setattr(training, "data_on_device", counting)
    from sklearn import config_context

    # working_memory does not limit a GPU's groups; its free memory does.
    with config_context(working_memory=0.1):
        _fit(_digits_vae(device="cuda"), digits, verbose=1)
    out = capsys.readouterr().out
    assert "4 models in 1 group(s) of at most 4 on cuda" in out
    assert "free on cuda" in out
    assert sum(copies) == 1


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_groups_round_robin_over_gpus(digits):
    from sklearn import config_context

    import skmem.engines.torch_ensemble as engine_module

    # As if each GPU held two models at a time: two groups, one per GPU.
    per_model = engine_module.TorchEnsembleEngine()._model_bytes(
        _digits_vae(), 150, digits.shape[1]
    )[1]
    import unittest.mock as mock

    with config_context(working_memory=0.1):
        with mock.patch.object(
            engine_module,
            "device_free_bytes",
            lambda d: 4 * digits.size + 2 * 2 * per_model,
        ):
            spread = _fit(_digits_vae(device="cuda"), digits)
    assert {e.device_ for e in spread.estimators_} == {"cuda:0", "cuda:1"}
    one = _fit(_digits_vae(device="cuda:0"), digits)
    np.testing.assert_allclose(
        spread.log_likelihood_curve_, one.log_likelihood_curve_, rtol=1e-5, atol=1e-4
    )


def test_gpu_scoring_batches_from_free_memory_not_working_memory(digits):
    from sklearn import config_context

    vae = _digits_vae(device="cuda").fit(digits)
    # The paper's group: 100 models x 256 samples x 784 pixels, 80 MB a row.
    vae.set_params(n_importance_samples=256)
    with config_context(working_memory=1024):
        rows = vae._rows_per_batch(vae.module_, 100, 784, "cuda")
    per_row = 4 * 100 * 784 * 256
    free = torch.cuda.mem_get_info()[0]
    assert rows == max(1, int(free / 2 / 16) // per_row)
