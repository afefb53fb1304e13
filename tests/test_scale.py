"""The batched torch engine at scale: groups, devices, refusals, precision, progress.

What needs a GPU is faked here (device lists, free memory) where the logic
allows it; ``test_cuda.py`` runs the real thing where torch sees a GPU.
"""

import numpy as np
import pytest
from sklearn import config_context
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import KFold

torch = pytest.importorskip("torch")

import skmem.engines.torch_ensemble as engine_module  # noqa: E402
import skmem.torch._training as training  # noqa: E402
from skmem import MemorizationScorer, VAEDensity  # noqa: E402
from skmem.datasets import load_digits  # noqa: E402
from skmem.engines import TorchEnsembleEngine  # noqa: E402

CV = KFold(4, shuffle=True, random_state=0)
SMALL = dict(
    latent_dim=2,
    hidden_layer_sizes=(8,),
    max_epochs=2,
    n_importance_samples=4,
    checkpoints=[1, 2],
)


@pytest.fixture(scope="module")
def X():
    return load_digits(binarize=True)[:80]


def _scorer(**params):
    vae = VAEDensity(**{**SMALL, **params.pop("vae", {})})
    return MemorizationScorer(vae, cv=CV, random_state=0, **params)


@pytest.fixture(scope="module")
def one_group(X):
    return _scorer().fit(X)


def _count_groups(monkeypatch):
    """Record the size of every lockstep group ``train`` is called with."""
    sizes = []
    train = training.train

    def counting(X_t, train_indices, *args, **kwargs):
        sizes.append(len(train_indices))
        return train(X_t, train_indices, *args, **kwargs)

    monkeypatch.setattr(training, "train", counting)
    return sizes


def test_groups_under_a_small_budget_give_the_models_of_one_group(
    X, one_group, monkeypatch, capsys
):
    sizes = _count_groups(monkeypatch)
    # working_memory is in MiB: room for one of these models (~60 kB) at a time.
    with config_context(working_memory=0.1):
        split = _scorer(verbose=1).fit(X)
    # The engine's vmap probe (two models), then one model at a time.
    assert sizes == [2, 1, 1, 1, 1]
    assert "4 models in 4 group(s) of at most 1" in capsys.readouterr().out
    # The same models up to float32 rounding of products batched over a
    # different number of models (measured: 1e-7 relative).
    np.testing.assert_allclose(
        split.log_likelihood_curve_, one_group.log_likelihood_curve_, rtol=1e-6
    )
    np.testing.assert_allclose(
        split.memorization_scores_, one_group.memorization_scores_, atol=1e-4
    )


def test_group_size_from_fake_gpu_memory(X, monkeypatch):
    engine = TorchEnsembleEngine()
    vae = VAEDensity(**SMALL)
    n_params, per_model = engine._model_bytes(vae, 60, X.shape[1])
    # weights, gradients, Adam's two moments; an epoch of rows with their
    # training noise; activations.
    width = X.shape[1] + 2
    assert per_model == 4 * (4 * n_params + 60 * width + 16 * 64 * X.shape[1])
    devices = [torch.device("cuda", 0), torch.device("cuda", 1)]
    free = {0: 4 * X.size + 2 * 3 * per_model + 10, 1: 10**12}
    monkeypatch.setattr(engine_module, "device_free_bytes", lambda d: free[d.index])
    size, reason = engine._group_size(vae, 100, 60, X, devices)
    # Half of the fullest device's memory after X.
    assert size == 3
    assert "free on cuda:0, cuda:1 after X holds 3" in reason
    free[0] = 10**12
    assert engine._group_size(vae, 100, 60, X, devices)[0] == 100


def test_devices_and_round_robin():
    assert not engine_module._cluster_backend()
    cuda = [torch.device("cuda", i) for i in range(3)]
    assert engine_module.training_devices("cuda", 3) == cuda
    assert engine_module.training_devices("cuda", 1) == [torch.device("cuda")]
    assert engine_module.training_devices("cuda:1", 3) == [torch.device("cuda", 1)]
    assert engine_module.training_devices("cpu", 0) == [torch.device("cpu")]
    assert engine_module.assign_devices(5, cuda) == [*cuda, cuda[0], cuda[1]]
    groups = engine_module.split_into_groups(range(10), 4, 3)
    assert [len(g) for g in groups] == [4, 3, 3]


def test_groups_spread_over_several_devices_give_the_same_models(
    X, one_group, monkeypatch
):
    # Two fake devices, both the CPU: one thread per device, groups round robin.
    devices = [torch.device("cpu"), torch.device("cpu", 0)]
    monkeypatch.setattr(TorchEnsembleEngine, "_devices", lambda self, e: devices)
    seen = []
    fit_group = engine_module._fit_group

    def recording(*args, device, **kwargs):
        seen.append(str(device))
        return fit_group(*args, device=device, **kwargs)

    monkeypatch.setattr(engine_module, "_fit_group", recording)
    spread = _scorer().fit(X)
    assert sorted(seen) == ["cpu", "cpu:0"]
    assert {e.device_ for e in spread.estimators_} == {"cpu", "cpu:0"}
    np.testing.assert_allclose(
        spread.log_likelihood_curve_, one_group.log_likelihood_curve_, rtol=1e-6
    )


def test_model_too_large_for_the_gpu_is_refused_before_any_work(X, monkeypatch):
    sizes = _count_groups(monkeypatch)
    monkeypatch.setattr(
        TorchEnsembleEngine, "_devices", lambda self, e: [torch.device("cuda", 0)]
    )
    monkeypatch.setattr(engine_module, "device_free_bytes", lambda d: 2**20)
    big = dict(hidden_layer_sizes=(512, 256))
    with pytest.raises(MemoryError, match=r"needs about 0\.0\d GiB on the GPU"):
        _scorer(vae=big).fit(X)
    assert sizes == [2]  # the engine's two-model vmap probe on 4 rows; no training


def test_kept_weights_count_in_the_host_memory_check(X, one_group, monkeypatch):
    import skmem._scorer as scorer_module

    # The estimate is the float32 weights each fitted model keeps.
    kept = sum(
        4 * sum(p.numel() for p in e.module_.parameters())
        + sum(4 * t.numel() for s in e.snapshots_.values() for t in s.values())
        for e in one_group.estimators_
    )
    engine = TorchEnsembleEngine()
    # Snapshots at both checkpoints and the final module.
    assert engine.fitted_bytes(one_group.estimator, X, 4) == kept
    n_models, n = 4, len(X)
    arrays = 2 * n_models * n + 3 * 8 * n_models * n
    monkeypatch.setattr(scorer_module, "available_bytes", lambda: arrays + 10)
    with pytest.raises(MemoryError, match="log-likelihoods and fitted models"):
        _scorer().fit(X)


def test_engine_keeps_float64_matrices_of_the_plan_shape(one_group, X):
    curve = one_group.log_likelihood_curve_
    assert curve.dtype == np.float64 and curve.shape == (2, 4, len(X))
    np.testing.assert_array_equal(curve[-1], one_group.log_likelihoods_)


@pytest.mark.parametrize("estimator", ["vae", "gmm"])
def test_progress_bar_with_verbose_only(X, estimator, capsys):
    if estimator == "vae":
        model, total = VAEDensity(**SMALL), "8/8"  # models x epochs
    else:
        model, total = GaussianMixture(2, random_state=0), "4/4"
    MemorizationScorer(model, cv=CV, random_state=0).fit(X[:, :8])
    assert capsys.readouterr().err == ""
    MemorizationScorer(model, cv=CV, random_state=0, verbose=1).fit(X[:, :8])
    err = capsys.readouterr().err
    assert "100%" in err and total in err and "<00:00" in err


def test_precision_restores_torch_and_agrees_with_float32(X, one_group):
    before = torch.get_float32_matmul_precision()
    cudnn = torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision("medium")
    try:
        bf16 = _scorer(vae=dict(precision="bfloat16")).fit(X)
        assert torch.get_float32_matmul_precision() == "medium"
        assert torch.backends.cudnn.allow_tf32 == cudnn
        assert not torch.is_autocast_enabled("cpu")
    finally:
        torch.set_float32_matmul_precision(before)
    diff = np.abs(bf16.memorization_scores_ - one_group.memorization_scores_)
    # Not ignored, and close: measured max 0.021 nats (RMS 0.008) on these 80
    # digits, against M's spread of 1.4 nats.
    assert diff.max() > 0
    assert diff.max() < 0.1
    tf32 = _scorer(vae=dict(precision="tf32")).fit(X)
    # No TF32 on a CPU: full float32.
    np.testing.assert_allclose(
        tf32.memorization_scores_, one_group.memorization_scores_, atol=1e-4
    )


def test_precision_is_validated(X):
    with pytest.raises(ValueError, match="precision"):
        VAEDensity(**SMALL, precision="float16").fit(X)


def test_dask_workers_train_the_groups(X, one_group):
    distributed = pytest.importorskip("distributed")
    from joblib import parallel_backend

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,  # worker processes would each import torch: slow
        dashboard_address=None,
    )
    with cluster, distributed.Client(cluster) as client, parallel_backend("dask"):
        # Groups are tasks that resolve ``device`` where they run.
        assert engine_module._cluster_backend()
        scorer = _scorer(n_jobs=2).fit(X)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(
        scorer.log_likelihood_curve_, one_group.log_likelihood_curve_, atol=1e-5
    )
