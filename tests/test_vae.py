"""VAEDensity and the batched VAE engine."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from joblib import parallel_backend
from scipy.special import logsumexp
from scipy.stats import spearmanr
from sklearn import config_context
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

torch = pytest.importorskip("torch")

from skmem import MemorizationScorer, VAEDensity  # noqa: E402
from skmem.datasets import load_digits  # noqa: E402
from skmem.engines.torch_ensemble import split_into_groups  # noqa: E402
from skmem.torch import _training  # noqa: E402
from skmem.vae import _model  # noqa: E402

TINY = dict(latent_dim=2, hidden_layer_sizes=(16,), max_epochs=3, batch_size=16)


@pytest.fixture(scope="module")
def digits():
    return load_digits(binarize=True)[:120]


def _true_log_px(vae, X):
    """log p(x) of a 1-D-latent Gaussian VAE by quadrature over z."""
    grid = np.linspace(-9, 9, 6001)
    module = vae.module_
    with torch.no_grad():
        z = torch.as_tensor(grid[:, None], dtype=torch.float32)[None]
        mean, log_var = module.decoder(z)[0].double().chunk(2, dim=-1)
        log_var = log_var.clamp(_model.MIN_LOG_VAR, _model.MAX_LOG_VAR).numpy()
        mean = mean.numpy()
    # log N(x; mean(z), var(z)) for every x and grid point: (n, grid)
    diff = X[:, None, :] - mean[None]
    log_px_z = -0.5 * (
        np.log(2 * np.pi) + log_var[None] + diff**2 / np.exp(log_var)[None]
    )
    log_joint = log_px_z.sum(-1) - 0.5 * (np.log(2 * np.pi) + grid**2)[None]
    dz = grid[1] - grid[0]
    return logsumexp(log_joint, axis=1) + np.log(dz)


def test_importance_sampling_approaches_exact_log_likelihood():
    # A 1-D latent space: log p(x) is a one-dimensional integral we can do.
    rng = np.random.RandomState(0)
    t = rng.normal(size=300)
    X = np.c_[np.sin(t), t * 0.5] + 0.1 * rng.normal(size=(300, 2))
    vae = VAEDensity(
        latent_dim=1,
        hidden_layer_sizes=(32,),
        likelihood="gaussian",
        max_epochs=30,
        batch_size=32,
        learning_rate=3e-3,
        random_state=0,
    ).fit(X)
    truth = _true_log_px(vae, X)
    errors = {}
    for S in (4, 64, 4096):
        estimate = vae.set_params(n_importance_samples=S).score_samples(X)
        errors[S] = np.mean(np.abs(truth - estimate))
    # The estimate approaches the exact value as the samples grow.
    assert errors[4] > errors[64] > errors[4096]
    assert errors[4096] < 0.01

    # The ELBO (its expectation, by averaging many draws) lies below both.
    gen = torch.Generator().manual_seed(0)
    x = torch.as_tensor(X, dtype=torch.float32)[None]
    with torch.no_grad():
        draws = [
            vae.module_.negative_elbo(x, torch.randn((1, len(X), 1), generator=gen))
            for _ in range(2000)
        ]
    losses = torch.cat(draws).double().numpy()
    elbo, standard_error = -losses.mean(0), losses.std(0) / np.sqrt(len(losses))
    iwae = vae.score_samples(X)
    assert np.mean(iwae - elbo) > 0.02
    assert np.all(elbo < truth + 4 * standard_error)


def test_loss_curve_falls_and_attributes(digits):
    vae = VAEDensity(**TINY, random_state=0).fit(digits)
    assert vae.n_iter_ == 3 and vae.loss_curve_.shape == (3,)
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    assert vae.n_features_in_ == 64 and vae.device_ == "cpu"
    scores = vae.score_samples(digits)
    assert scores.shape == (120,) and np.all(scores < 0)
    np.testing.assert_allclose(vae.score(digits), scores.mean())


def test_same_random_state_same_model_different_otherwise(digits):
    a = VAEDensity(**TINY, random_state=3).fit(digits)
    b = VAEDensity(**TINY, random_state=3).fit(digits)
    c = VAEDensity(**TINY, random_state=4).fit(digits)
    np.testing.assert_array_equal(a.score_samples(digits), b.score_samples(digits))
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    assert not np.allclose(a.score_samples(digits), c.score_samples(digits))
    # Deterministic: calling twice gives the same numbers.
    np.testing.assert_array_equal(a.score_samples(digits), a.score_samples(digits))


def test_scores_do_not_depend_on_the_batch_a_row_is_in(digits):
    vae = VAEDensity(**TINY, n_importance_samples=32, random_state=0).fit(digits)
    full = vae.score_samples(digits)
    order = np.random.RandomState(0).permutation(len(digits))
    np.testing.assert_allclose(vae.score_samples(digits[order]), full[order], rtol=1e-6)
    np.testing.assert_allclose(vae.score_samples(digits[:7]), full[:7], rtol=1e-6)
    with config_context(working_memory=1e-4):  # one row at a time
        assert vae._rows_per_batch(vae.module_, 1, digits.shape[1], "cpu") == 1
        np.testing.assert_allclose(vae.score_samples(digits), full, rtol=1e-6)
    # ~4 MB of activations per batch on a CPU (its cache); a GPU fills
    # working_memory.
    cpu, gpu = (vae._rows_per_batch(vae.module_, 10, 64, d) for d in ("cpu", "cuda"))
    assert 4 * 4 * 10 * 64 * 32 * cpu <= 2**22 < 4 * 4 * 10 * 64 * 32 * (cpu + 1)
    assert gpu > 50 * cpu


def test_pickle_round_trip(digits):
    vae = VAEDensity(**TINY, random_state=0).fit(digits)
    loaded = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(
        loaded.score_samples(digits), vae.score_samples(digits)
    )
    assert next(loaded.module_.parameters()).device.type == "cpu"


def test_sample(digits):
    vae = VAEDensity(**TINY, random_state=0).fit(digits)
    draws = vae.sample(50, random_state=1)
    assert draws.shape == (50, 64)
    assert set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_array_equal(draws, vae.sample(50, random_state=1))
    gauss = VAEDensity(**TINY, likelihood="gaussian", random_state=0).fit(digits)
    assert gauss.sample(5, random_state=0).shape == (5, 64)


def test_verbose_prints_each_epoch(digits, capsys):
    VAEDensity(**TINY, verbose=1, random_state=0).fit(digits)
    out = capsys.readouterr().out
    assert out.count("epoch") == 3 and "epoch 3/3, loss" in out


@pytest.mark.parametrize(
    "params, X, error, match",
    [
        ({}, np.full((10, 3), 2.0), ValueError, r"needs X in \[0, 1\]"),
        ({}, np.array([[0.5, np.nan]] * 4), ValueError, "NaN"),
        ({"hidden_layer_sizes": (8, 0)}, np.zeros((4, 2)), ValueError, "positive"),
        ({"latent_dim": 0}, np.zeros((4, 2)), ValueError, "latent_dim"),
        ({"likelihood": "poisson"}, np.zeros((4, 2)), ValueError, "likelihood"),
        ({"learning_rate": 0.0}, np.zeros((4, 2)), ValueError, "learning_rate"),
    ],
)
def test_bad_input(params, X, error, match):
    with pytest.raises(error, match=match):
        VAEDensity(**{**TINY, **params}).fit(X)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"max_epochs": 0}, "max_epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"likelihood": "poisson"}, "likelihood"),
        ({"hidden_layer_sizes": (8, 0)}, "positive"),
    ],
)
def test_batched_engine_checks_parameters_as_fit_does(digits, params, match):
    scorer = MemorizationScorer(VAEDensity(**{**TINY, **params}), cv=2)
    with pytest.raises(ValueError, match=match):
        scorer.fit(digits)
    assert not hasattr(scorer, "memorization_scores_")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(digits):
    with pytest.raises(ValueError, match="no CUDA device"):
        VAEDensity(**TINY, device="cuda").fit(digits)
    assert VAEDensity(**TINY, device="auto").fit(digits).device_ == "cpu"


def test_torch_threads_follow_threadpool_limits(digits, monkeypatch):
    seen = []
    original = _training.fit_models

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(_training, "fit_models", spy)
    before = torch.get_num_threads()
    with threadpool_limits(limits=1):
        VAEDensity(**TINY).fit(digits)
    assert seen == [1]
    assert torch.get_num_threads() == before


def test_import_without_torch():
    code = textwrap.dedent(
        """
        import sys

        class NoTorch:  # as if torch were not installed
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, NoTorch())
        import numpy as np
        import skmem
        from skmem import MemorizationScorer, VAEDensity
        X = np.random.RandomState(0).rand(30, 2)
        MemorizationScorer(cv=3).fit(X)
        try:
            VAEDensity().fit(X)
        except ImportError as exc:
            print("ImportError:", exc)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "ImportError:" in out and "skmem[vae]" in out


def test_import_skmem_does_not_import_torch():
    code = "import sys, skmem; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


# --- the batched engine ---------------------------------------------------------


def _params(vae):
    return [p.detach().numpy() for p in vae.module_.parameters()]


@pytest.mark.parametrize(
    "n_samples, batch_size",
    # 41 samples in 5 folds: training sets of 32 and 33 rows, i.e. 4 and 5
    # batches of 8, so the engine trains two groups.
    [(60, 16), (41, 8)],
)
def test_batched_models_are_the_generic_models(n_samples, batch_size):
    X = load_digits(binarize=True)[:n_samples]
    vae = VAEDensity(**{**TINY, "batch_size": batch_size}, n_importance_samples=8)
    cv = KFold(5, shuffle=True, random_state=0)
    batched = MemorizationScorer(vae, cv=cv, random_state=0).fit(X)
    generic = MemorizationScorer(vae, cv=cv, engine="generic", random_state=0).fit(X)
    assert (batched.engine_, generic.engine_) == ("torch", "generic")
    for a, b in zip(batched.estimators_, generic.estimators_, strict=True):
        assert isinstance(a, VAEDensity) and a.random_state == b.random_state
        for pa, pb in zip(_params(a), _params(b), strict=True):
            np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(
        batched.log_likelihoods_, generic.log_likelihoods_, rtol=1e-5
    )
    # The estimators the batched engine leaves behind are usable on their own.
    np.testing.assert_allclose(
        batched.estimators_[2].score_samples(X),
        batched.log_likelihoods_[2],
        rtol=1e-6,
    )


def test_engines_agree_statistically_where_memorization_is_strong():
    # Few samples and many epochs: the VAEs memorize. Engines and seeds are
    # crossed, so the comparison does not rest on the two engines being equal.
    X = load_digits(binarize=True)[:80]
    vae = VAEDensity(
        latent_dim=4,
        hidden_layer_sizes=(64,),
        max_epochs=40,
        batch_size=16,
        n_importance_samples=16,
    )
    cv = KFold(4, shuffle=True, random_state=0)
    M = {}
    for engine in ("auto", "generic"):
        for seed in (0, 1):
            scorer = MemorizationScorer(vae, cv=cv, engine=engine, random_state=seed)
            M[engine, seed] = scorer.fit(X).memorization_scores_
    seed_spread_mean = abs(M["generic", 0].mean() - M["generic", 1].mean())
    seed_spread_q95 = abs(
        np.quantile(M["generic", 0], 0.95) - np.quantile(M["generic", 1], 0.95)
    )
    assert M["generic", 0].mean() > 0.5  # memorization is there to measure
    assert (
        abs(M["auto", 1].mean() - M["generic", 0].mean()) <= 2 * seed_spread_mean + 0.1
    )
    assert (
        abs(np.quantile(M["auto", 1], 0.95) - np.quantile(M["generic", 0], 0.95))
        <= 2 * seed_spread_q95 + 0.5
    )
    seed_rho = spearmanr(M["generic", 0], M["generic", 1])[0]
    cross_rho = spearmanr(M["auto", 1], M["generic", 0])[0]
    assert abs(cross_rho - seed_rho) < 0.2


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_batched_engine_gives_the_same_models_for_any_n_jobs(backend, capsys):
    X = load_digits(binarize=True)[:60]
    vae = VAEDensity(**TINY, n_importance_samples=8)
    cv = KFold(4, shuffle=True, random_state=0)
    one = MemorizationScorer(vae, cv=cv, random_state=0, n_jobs=1).fit(X)
    threads = torch.get_num_threads()
    with parallel_backend(backend):
        two = MemorizationScorer(vae, cv=cv, random_state=0, n_jobs=2, verbose=1)
        two.fit(X)
    # One ensemble of two models per worker, each trained with one torch
    # thread; this process's torch is left as it was.
    out = capsys.readouterr().out
    assert "group 2/2 of 2 models" in out and "group 3/" not in out
    assert torch.get_num_threads() == threads
    for a, b in zip(one.estimators_, two.estimators_, strict=True):
        assert a.random_state == b.random_state
        for pa, pb in zip(_params(a), _params(b), strict=True):
            # Equal in practice; the tolerance allows for other CPUs' kernels.
            np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        two.log_likelihoods_, one.log_likelihoods_, rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(
        two.memorization_scores_, one.memorization_scores_, rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize(
    "n_models, max_size, n_workers, sizes",
    [
        (10, 10, 1, [10]),
        (10, 10, 2, [5, 5]),
        (10, 3, 2, [3, 3, 2, 2]),
        (10, 4, 3, [4, 3, 3]),
        (3, 10, 4, [1, 1, 1]),
        (7, 1, 2, [1] * 7),
        (0, 5, 2, []),
    ],
)
def test_split_into_groups(n_models, max_size, n_workers, sizes):
    models = np.arange(100, 100 + n_models)
    groups = split_into_groups(models, max_size, n_workers)
    assert [len(g) for g in groups] == sizes
    assert np.array_equal(np.concatenate([models[:0], *groups]), models)


# -- fewer importance samples for the rows a model was trained on ---------------
SPLIT = dict(**TINY, n_importance_samples=64, n_importance_samples_seen=8)


def test_seen_rows_get_their_own_number_of_samples(digits):
    # Each estimator is built and fitted on its own (same seed, same training):
    # set_params returns the estimator itself, so comparing two set_params
    # results would compare an object with itself.
    train = digits[:60]

    def fitted(**params):
        return VAEDensity(**{**SPLIT, **params}, random_state=0).fit(train)

    vae = fitted()
    # A seen row repeated (recognised by value) and rows never seen.
    X = np.vstack([train, train[:5], digits[60:]])
    seen = np.r_[np.ones(65, bool), np.zeros(len(digits) - 60, bool)]
    split = vae.score_samples(X)
    few = fitted(n_importance_samples=8, n_importance_samples_seen=None)
    np.testing.assert_array_equal(split[seen], few.score_samples(X[seen]))
    many = fitted(n_importance_samples_seen=None)
    assert many is not vae and many.n_importance_samples == 64
    np.testing.assert_array_equal(split[~seen], many.score_samples(X[~seen]))
    assert not np.allclose(split[seen], many.score_samples(X[seen]))
    # Equal to n_importance_samples: the plain estimator.
    same = fitted(n_importance_samples_seen=64)
    np.testing.assert_array_equal(same.score_samples(X), many.score_samples(X))
    assert not np.array_equal(split, many.score_samples(X))


def test_split_samples_exact_when_the_posterior_is_the_prior(digits):
    # Encoder outputs mu = 0, log_var = 0 and the decoder ignores z: q(z | x) is
    # the true posterior, every importance weight is p(x), and any number of
    # samples gives the closed form sum_d log Bernoulli(x_d; sigmoid(b_d)).
    vae = VAEDensity(**SPLIT, random_state=0).fit(digits[:60])
    module = vae.module_
    with torch.no_grad():
        module.encoder.weights[-1].zero_()
        module.encoder.biases[-1].zero_()
        module.decoder.weights[0].zero_()
    with torch.no_grad():
        bias = module.decoder(torch.zeros(1, 1, 2))[0, 0].double().numpy()
    exact = (digits * bias - np.logaddexp(0, bias)).sum(1)
    np.testing.assert_allclose(vae.score_samples(digits), exact, atol=1e-4)


@pytest.mark.parametrize("checkpoints", [None, [1, 3]])
def test_split_samples_batched_engine_matches_generic(digits, checkpoints):
    vae = VAEDensity(**SPLIT, checkpoints=checkpoints)
    fits = {
        engine: MemorizationScorer(vae, cv=4, engine=engine, random_state=0).fit(digits)
        for engine in ("torch", "generic")
    }
    torch_fit, generic = fits["torch"], fits["generic"]
    np.testing.assert_allclose(
        torch_fit.log_likelihoods_, generic.log_likelihoods_, atol=1e-4
    )
    if checkpoints:
        np.testing.assert_allclose(
            torch_fit.memorization_curve_, generic.memorization_curve_, atol=1e-4
        )
    # Each model's held-out rows used all the samples, its training rows fewer.
    member = torch_fit.estimators_[0]
    held_out = torch_fit.test_masks_[0]
    full = member.set_params(n_importance_samples_seen=None)
    np.testing.assert_allclose(
        torch_fit.log_likelihoods_[0, held_out],
        full.score_samples(digits[held_out]),
        atol=1e-4,
    )
    few = member.set_params(n_importance_samples=8)
    np.testing.assert_allclose(
        torch_fit.log_likelihoods_[0, ~held_out],
        few.score_samples(digits[~held_out]),
        atol=1e-4,
    )


def _exact_bernoulli_log_px(vae, X):
    """log p(x) of a 1-D-latent Bernoulli VAE by quadrature over z, with the
    Bernoulli log-probability written out here (no code of the package but the
    decoder's forward pass)."""
    grid = np.linspace(-10, 10, 8001)
    with torch.no_grad():
        z = torch.as_tensor(grid[:, None], dtype=torch.float32)
        logits = vae.module_.decode(z).double().numpy()  # (grid, d)
    # log sigmoid(l) = -log(1 + exp(-l)); log(1 - sigmoid(l)) = -log(1 + exp(l))
    log_on, log_off = -np.logaddexp(0, -logits), -np.logaddexp(0, logits)
    log_px_z = X @ log_on.T + (1 - X) @ log_off.T  # (n, grid)
    log_joint = log_px_z - 0.5 * (np.log(2 * np.pi) + grid**2)[None]
    return logsumexp(log_joint, axis=1) + np.log(grid[1] - grid[0])


def _flipped_prototypes(prototypes, n, *, flip, seed):
    """n rows, each a random prototype with each pixel flipped with prob. flip."""
    rng = np.random.RandomState(seed)
    X = prototypes[rng.randint(len(prototypes), size=n)]
    return np.abs(X - (rng.uniform(size=X.shape) < flip))


def test_bernoulli_log_likelihood_is_exact_on_every_binary_image():
    # Five binary pixels and a 1-D latent: log p(x) is an integral over z we
    # can do, for all 2^5 images, and the exact p(x) must sum to one.
    d = 5
    images = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(float)
    # Correlated pixels (two prototypes with flips): a latent worth learning.
    prototypes = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=float)
    X = _flipped_prototypes(prototypes, 200, flip=0.1, seed=0)
    vae = VAEDensity(
        latent_dim=1,
        hidden_layer_sizes=(16,),
        max_epochs=10,
        batch_size=32,
        learning_rate=1e-2,
        n_importance_samples=1024,
        random_state=0,
    ).fit(X)
    truth = _exact_bernoulli_log_px(vae, images)
    assert np.exp(truth).sum() == pytest.approx(1.0, abs=1e-6)
    estimate = vae.score_samples(images)
    # 1024 importance samples over one latent dimension, the same draws for
    # every image: within 0.06 nats (0.035 measured); a wrong Bernoulli term
    # is off by nats.
    np.testing.assert_allclose(estimate, truth, atol=0.06)
    assert np.exp(estimate).sum() == pytest.approx(1.0, abs=0.06)
    # The model learned the prototypes: they are the likeliest images.
    likeliest = images[np.argsort(truth)[-2:]]
    assert {tuple(row) for row in likeliest} == {tuple(p) for p in prototypes}


def test_batched_engine_log_likelihoods_match_a_hand_written_forward_pass():
    # The batched engine's log-likelihoods against exact ones computed here in
    # numpy from each fitted model's own weights (no code of the package): a
    # ReLU MLP decoder, Bernoulli pixels, quadrature over a 1-D latent.
    d = 5
    images = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(float)
    prototypes = np.array([[1, 1, 0, 0, 1], [0, 1, 1, 1, 0]], dtype=float)
    X = _flipped_prototypes(prototypes, 160, flip=0.15, seed=1)
    vae = VAEDensity(
        latent_dim=1,
        hidden_layer_sizes=(8,),
        max_epochs=5,
        batch_size=32,
        learning_rate=1e-2,
        n_importance_samples=1024,
    )
    scorer = MemorizationScorer(vae, cv=4, random_state=0).fit(X)
    assert scorer.engine_ != "generic"
    grid = np.linspace(-10, 10, 8001)
    log_prior = -0.5 * (np.log(2 * np.pi) + grid**2)
    for k, estimator in enumerate(scorer.estimators_):
        decoder = estimator.module_.decoder
        h = grid[:, None]
        layers = list(zip(decoder.weights, decoder.biases, strict=True))
        for i, (w, b) in enumerate(layers):
            h = h @ w.detach().double().numpy()[0] + b.detach().double().numpy()[0]
            if i < len(layers) - 1:
                h = np.maximum(h, 0.0)
        log_on, log_off = -np.logaddexp(0, -h), -np.logaddexp(0, h)
        log_joint = images @ log_on.T + (1 - images) @ log_off.T + log_prior
        exact = logsumexp(log_joint, axis=1) + np.log(grid[1] - grid[0])
        assert np.exp(exact).sum() == pytest.approx(1.0, abs=1e-6)
        # Every row of X is one of the 32 images.
        which = (X * 2 ** np.arange(d)).sum(axis=1).astype(int)
        np.testing.assert_allclose(scorer.log_likelihoods_[k], exact[which], atol=0.06)
