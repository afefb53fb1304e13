"""The denoising-loss membership signal of benchmarks/bench_diffusion_findings.py."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _findings():
    spec = importlib.util.spec_from_file_location(
        "bench_diffusion_findings", _BENCH / "bench_diffusion_findings.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fresh_model(n_features):
    """A new built-in MLP model: exactly its N(0, I) Gaussian reference."""
    from skmem.diffusion._mlp import DiffusionMLPModule

    with torch.device("meta"):
        module = DiffusionMLPModule(n_features=n_features, hidden_layer_sizes=[8])
    generator = torch.Generator().manual_seed(0)
    return SimpleNamespace(
        module_=module.to_empty(device="cpu").reset_parameters(generator)
    )


@pytest.mark.parametrize("lam", [-2.0, 0.0, 1.5])
def test_denoising_loss_matches_its_closed_form(lam):
    # The N(0, I) reference denoises z = alpha x + sigma eps as sigma z, so for
    # x ~ N(0, s^2 I) the loss per dimension has mean
    # alpha^4 + alpha^2 sigma^2 s^2 (alpha^2 = sigmoid(lam)).
    d, s = 4, 2.0
    X = np.random.RandomState(0).normal(scale=s, size=(4000, d))
    loss = _findings().denoising_losses([_fresh_model(d)], X, lam=lam, n_draws=2)
    a2 = 1 / (1 + np.exp(-lam))
    expected = d * (a2**2 + a2 * (1 - a2) * s**2)
    per_row = loss[0]
    se = per_row.std(ddof=1) / np.sqrt(len(per_row))
    assert abs(per_row.mean() - expected) < 4 * se
    # and far from the value at the mirrored log-SNR (alpha and sigma swapped)
    mirrored = d * ((1 - a2) ** 2 + a2 * (1 - a2) * s**2)
    if lam != 0:
        assert abs(per_row.mean() - mirrored) > 10 * se


def test_denoising_loss_is_paired_and_deterministic():
    # The same noise for every model and call: two copies of one model give
    # the same losses, and the seed changes them.
    findings = _findings()
    model = _fresh_model(3)
    X = np.random.RandomState(1).normal(size=(50, 3))
    a, b = findings.denoising_losses([model, model], X)
    np.testing.assert_array_equal(a, b)
    other = findings.denoising_losses([model], X, seed=1)[0]
    assert not np.allclose(a, other)
