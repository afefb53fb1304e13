"""DiffusionDensity: its bound against closed forms and brute force, its ODE
likelihood against the exact log-density, the batched engine against the
generic one, and the memorization score on cases whose answer is known."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import multivariate_normal, norm
from sklearn.model_selection import KFold

torch = pytest.importorskip("torch")

from skmem import DiffusionDensity, MemorizationScorer  # noqa: E402
from skmem.datasets import load_digits  # noqa: E402
from skmem.diffusion import _objectives  # noqa: E402
from skmem.diffusion._mlp import DiffusionMLPModule  # noqa: E402
from skmem.diffusion._objectives import alpha_sigma, reference_bound  # noqa: E402

TINY = dict(hidden_layer_sizes=(16,), max_epochs=2, batch_size=16, n_mc_samples=8)


def _noise(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _correlated_cov(d, seed=0):
    rng = np.random.RandomState(seed)
    a = rng.normal(size=(d, d))
    cov = a @ a.T / d + 0.1 * np.eye(d)
    return cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))


class ExactGaussian(DiffusionMLPModule):
    """The exact denoiser of N(0, cov), as the residual of the N(0, I) reference:
    the truth a trained model aims at, with no training noise."""

    cov = None

    def residual(self, z, lam):
        alpha, sigma = alpha_sigma(lam.double())
        a, s = alpha[..., None, None], sigma[..., None, None]
        d = z.shape[-1]
        cov = torch.as_tensor(self.cov)
        m = a**2 * cov + s**2 * torch.eye(d, dtype=torch.float64)
        eps = s[..., 0] * torch.linalg.solve(m, z.double()[..., None])[..., 0]
        return (eps - s[..., 0] * z.double()).to(z.dtype)


def _exact_module(
    cov, likelihood="elbo", log_snr_range=(-10.0, 10.0), time_sampling="uniform"
):
    """The exact denoiser, with the importance distribution that 200 training
    steps on its own samples teach it."""
    d = len(cov)
    module = ExactGaussian(
        d, (4,), log_snr_range, likelihood=likelihood, time_sampling=time_sampling
    )
    module.cov = cov
    module = module.to_empty(device="cpu").reset_parameters(torch.Generator())
    X = np.random.RandomState(2).multivariate_normal(np.zeros(d), cov, size=64)
    with torch.no_grad():
        for step in range(200):
            module.loss(torch.tensor(X, dtype=torch.float32), _noise((64, 1 + d), step))
    return module.eval()


# --- the bound of the Gaussian reference, against brute force ---------------------


def _brute_force_reference_bound(x, loc, scale, lam_min, lam_max):
    """The VDM bound of the exact denoiser of N(loc, scale^2), per dimension,
    from its definition: the KL of two normals, the reconstruction's expected
    log-density by Gauss-Hermite, and the diffusion integral by quadrature of
    E||eps - eps_hat||^2 (Gauss-Hermite over eps) in log-SNR."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    total = 0.0
    for xd, m, s in zip(x, loc, scale, strict=True):
        a2, s2 = 1 / (1 + math.exp(-lam_min)), 1 / (1 + math.exp(lam_min))
        # KL(N(alpha x, sigma^2) || N(0, 1))
        kl = 0.5 * (s2 + a2 * xd**2 - 1 - math.log(s2))
        a_hi, s_hi = (
            math.sqrt(1 / (1 + math.exp(-lam_max))),
            math.sqrt(1 / (1 + math.exp(lam_max))),
        )
        z0 = a_hi * xd + s_hi * nodes
        recon = np.sum(weights * norm.logpdf(xd, loc=z0 / a_hi, scale=s_hi / a_hi))

        def integrand(lam, xd=xd, m=m, s=s):
            a, sg = (
                math.sqrt(1 / (1 + math.exp(-lam))),
                math.sqrt(1 / (1 + math.exp(lam))),
            )
            z = a * xd + sg * nodes
            eps_hat = sg * (z - a * m) / (a**2 * s**2 + sg**2)
            return np.sum(weights * (nodes - eps_hat) ** 2)

        diffusion = 0.5 * integrate.quad(integrand, lam_min, lam_max, limit=200)[0]
        total += recon - kl - diffusion
    return total


@pytest.mark.parametrize("lam_range", [(-3.0, 4.0), (-10.0, 10.0)])
def test_reference_bound_is_the_bound_from_its_definition(lam_range):
    x = np.array([0.3, -1.7, 2.2])
    loc, scale = np.array([0.5, 0.0, -1.0]), np.array([0.7, 1.0, 2.0])
    closed = reference_bound(
        torch.tensor(x, dtype=torch.float64),
        torch.tensor(loc),
        torch.log(torch.tensor(scale)),
        *lam_range,
    )
    brute = _brute_force_reference_bound(x, loc, scale, *lam_range)
    np.testing.assert_allclose(float(closed), brute, atol=1e-6)
    # On a wide range it is the exact log-density (for one point, not from
    # below: the bound is of the model the truncated process defines).
    if lam_range == (-10.0, 10.0):
        assert abs(norm.logpdf(x, loc, scale).sum() - brute) < 1e-3


# --- the Monte Carlo bound and the ODE with the exact denoiser --------------------


@pytest.mark.parametrize("time_sampling", ["uniform", "learned"])
@pytest.mark.parametrize("d", [2, 8])
def test_bound_with_the_exact_denoiser_lies_just_below_log_p(d, time_sampling):
    cov = _correlated_cov(d)
    X = np.random.RandomState(1).multivariate_normal(np.zeros(d), cov, size=300)
    exact = multivariate_normal(cov=cov).logpdf(X).mean()
    reference = multivariate_normal(cov=np.eye(d)).logpdf(X).mean()
    module = _exact_module(cov, time_sampling=time_sampling)
    with torch.no_grad():
        draws = module.log_likelihood_draws(
            torch.tensor(X, dtype=torch.float32), _noise((512, 1 + d), 0)
        ).numpy()  # (rows, draws)
    per_draw = draws.mean(0)
    mean, se = per_draw.mean(), per_draw.std(ddof=1) / np.sqrt(len(per_draw))
    # Within its Monte Carlo error of the truth, and far from the reference it
    # corrects: a missing or wrong weight on the Monte Carlo term lands there.
    assert exact - 0.02 * d - 3 * se < mean < exact + 3 * se
    assert exact - reference > 0.05 * d
    assert se < 0.04 * d  # enough draws to tell a wrong weight apart


def test_ode_likelihood_with_the_exact_denoiser_is_log_p_within_its_error():
    cov = _correlated_cov(2)
    X = np.random.RandomState(1).multivariate_normal(np.zeros(2), cov, size=40)
    exact = multivariate_normal(cov=cov).logpdf(X)
    module = _exact_module(cov, likelihood="ode")
    with torch.no_grad():
        draws = module.log_likelihood_draws(
            torch.tensor(X, dtype=torch.float32), _noise((32, 3), 0)
        ).numpy()
    per_draw = draws.mean(0) - exact.mean()
    se = per_draw.std(ddof=1) / np.sqrt(len(per_draw))
    assert abs(per_draw.mean()) < 2.5 * se + 2e-3
    # Per row, the Hutchinson noise averages out across draws too.
    row_se = draws.std(1, ddof=1) / np.sqrt(draws.shape[1])
    assert np.mean(np.abs(draws.mean(1) - exact) < 3 * row_se + 2e-3) > 0.9


def test_mutants_of_the_bound_fail_the_closed_forms(monkeypatch):
    """The wrong versions named in the issue fail a closed-form test: the prior
    term with the wrong sign, the Monte Carlo term without its log-SNR weight,
    and the log-SNR drawn from another distribution without its weight."""
    cov = _correlated_cov(2)
    X = torch.tensor(
        np.random.RandomState(1).multivariate_normal(np.zeros(2), cov, size=100),
        dtype=torch.float32,
    )
    exact = multivariate_normal(cov=cov).logpdf(X.numpy()).mean()

    module = _exact_module(cov, time_sampling="learned")

    def bound_error():
        with torch.no_grad():
            draws = module.log_likelihood(X, _noise((2048, 3), 0))
        return abs(float(draws.mean()) - exact)

    def reference_error():
        x = np.array([0.3, -1.7, 2.2])
        closed = _objectives.reference_bound(
            torch.tensor(x, dtype=torch.float64), torch.zeros(3), torch.zeros(3), -3, 4
        )
        return abs(
            float(closed) - _brute_force_reference_bound(x, [0] * 3, [1] * 3, -3, 4)
        )

    assert bound_error() < 0.05 and reference_error() < 1e-6
    right = _objectives.reference_bound

    def flipped_prior(x, loc, log_scale, lam_min, lam_max):
        lo = torch.as_tensor(lam_min, dtype=x.dtype)
        a2, s2 = torch.sigmoid(lo), torch.sigmoid(-lo)
        prior = 0.5 * (s2 + a2 * x**2 - 1.0 - torch.log(s2)).sum(-1)
        return right(x, loc, log_scale, lam_min, lam_max) + 2 * prior

    right_draw = _objectives.draw_log_snr

    def unweighted(normal, lam_min, lam_max, probs=None, stratified=False):
        # Time steps drawn from the importance distribution, weighted as if
        # they were uniform.
        lam, _ = right_draw(normal, lam_min, lam_max, probs, stratified)
        return lam, torch.full_like(lam, lam_max - lam_min)

    def unit_weight(normal, lam_min, lam_max, probs=None, stratified=False):
        lam, _ = right_draw(normal, lam_min, lam_max, probs, stratified)
        return lam, torch.ones_like(lam)

    mutants = [
        ("reference_bound", flipped_prior, reference_error, 0.05),
        ("draw_log_snr", unit_weight, bound_error, 0.1),
        ("draw_log_snr", unweighted, bound_error, 0.1),
    ]
    for name, mutant, error, tolerance in mutants:
        with monkeypatch.context() as patch:
            patch.setattr(_objectives, name, mutant)
            assert error() > tolerance, name


def test_the_learned_time_distribution_lowers_a_single_bound_s_noise():
    cov = _correlated_cov(8)
    X = torch.tensor(
        np.random.RandomState(1).multivariate_normal(np.zeros(8), cov, size=200),
        dtype=torch.float32,
    )
    spread = {}
    for mode in ("uniform", "learned"):
        module = _exact_module(cov, time_sampling=mode)
        with torch.no_grad():
            runs = [module.log_likelihood(X, _noise((64, 9), s)) for s in range(6)]
        spread[mode] = torch.stack(runs).std(0).mean().item()
    assert spread["learned"] < 0.85 * spread["uniform"]


# --- trained models -------------------------------------------------------------


def test_trained_bound_lies_below_and_close_to_the_exact_log_density():
    # The goal, in 2-D: within 0.1 nats per dimension below the exact
    # mean log p (held-out rows), and far better than the diagonal Gaussian
    # the model starts from, so the network learned the correlation.
    cov = _correlated_cov(2)
    rng = np.random.RandomState(0)
    X = rng.multivariate_normal(np.zeros(2), cov, size=1000)
    X_test = rng.multivariate_normal(np.zeros(2), cov, size=400)
    model = DiffusionDensity(
        hidden_layer_sizes=(64, 64),
        max_epochs=20,
        batch_size=100,
        learning_rate=3e-3,
        n_mc_samples=256,
        random_state=0,
    ).fit(X)
    # Many draws: the draws are heavy-tailed, and 256 leave the mean bound
    # about 0.05 nats from its limit here.
    bound, std = model.set_params(n_mc_samples=4096).score_samples(
        X_test, return_std=True
    )
    exact = multivariate_normal(cov=cov).logpdf(X_test).mean()
    start = multivariate_normal(cov=np.eye(2)).logpdf(X_test).mean()
    gap = exact - bound.mean()
    assert -3 * std.mean() < gap < 0.1 * 2
    assert gap < 0.5 * (exact - start)
    assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_score_samples_is_deterministic_per_row_and_seeded():
    X = np.random.RandomState(0).normal(size=(80, 3))
    model = DiffusionDensity(**TINY, random_state=0).fit(X)
    full = model.score_samples(X)
    np.testing.assert_array_equal(model.score_samples(X), full)
    order = np.random.RandomState(1).permutation(len(X))
    np.testing.assert_allclose(model.score_samples(X[order]), full[order], rtol=1e-6)
    np.testing.assert_allclose(model.score_samples(X[:5]), full[:5], rtol=1e-6)
    same = DiffusionDensity(**TINY, random_state=0).fit(X)
    np.testing.assert_array_equal(same.score_samples(X), full)
    other = DiffusionDensity(**TINY, random_state=1).fit(X)
    assert not np.allclose(other.score_samples(X), full)
    # More draws: the same estimate, with a smaller standard error.
    few, few_std = model.score_samples(X, return_std=True)
    model.set_params(n_mc_samples=64)
    many, many_std = model.score_samples(X, return_std=True)
    np.testing.assert_array_equal(few, full)
    assert many_std.mean() < few_std.mean()
    assert np.mean(np.abs(many - few) < 4 * np.hypot(few_std, many_std)) > 0.9


@pytest.mark.parametrize(
    "params",
    [
        dict(hidden_layer_sizes=(16,)),
        dict(architecture="unet", input_shape=(1, 8, 8), n_filters=4),
    ],
    ids=["mlp", "unet"],
)
def test_batched_models_are_the_generic_models(params):
    # 41 rows in 5 folds: training sets of 32 and 33 rows, so short last
    # batches are padded differently in different models.
    X = load_digits()[:41]
    model = DiffusionDensity(**params, max_epochs=2, batch_size=8, n_mc_samples=8)
    cv = KFold(5, shuffle=True, random_state=0)
    batched = MemorizationScorer(model, cv=cv, random_state=0).fit(X)
    generic = MemorizationScorer(model, cv=cv, engine="generic", random_state=0).fit(X)
    assert (batched.engine_, generic.engine_) == ("torch", "generic")
    for a, b in zip(batched.estimators_, generic.estimators_, strict=True):
        for ta, tb in zip(
            a.module_.state_dict().values(),
            b.module_.state_dict().values(),
            strict=True,
        ):
            np.testing.assert_allclose(ta.numpy(), tb.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(
        batched.log_likelihoods_, generic.log_likelihoods_, rtol=1e-5
    )
    np.testing.assert_allclose(
        batched.estimators_[2].score_samples(X), batched.log_likelihoods_[2], rtol=1e-6
    )


def test_checkpoints_are_the_models_of_shorter_runs():
    X = np.random.RandomState(0).normal(size=(40, 2))
    params = dict(TINY, max_epochs=3, random_state=0)
    model = DiffusionDensity(**params, checkpoints=[1, 2]).fit(X)
    short = DiffusionDensity(**{**params, "max_epochs": 1}).fit(X)
    np.testing.assert_allclose(
        model.score_samples_at(X, 1), short.score_samples(X), rtol=1e-6
    )
    scorer = MemorizationScorer(
        DiffusionDensity(**params, checkpoints=[1, 3]), cv=2, random_state=0
    ).fit(X)
    assert scorer.memorization_curve_.shape == (2, 40)
    np.testing.assert_allclose(
        scorer.memorization_curve_[-1], scorer.memorization_scores_
    )


def test_pixel_levels_get_a_log_probability_bound():
    levels = np.rint(load_digits()[:120] * 16)
    model = DiffusionDensity(
        **{**TINY, "max_epochs": 3}, n_levels=17, random_state=0
    ).fit(levels)
    scores = model.score_samples(levels)
    # The log-probability of discrete values is at most 0, and a bound on it
    # too; 64 pixels of 17 levels at most log(17) nats each.
    assert np.all(scores < 0) and np.all(scores > -64 * np.log(17) * 2)
    with pytest.raises(ValueError, match="integer pixel levels"):
        model.score_samples(levels / 16)


# --- memorization, where the answer is known ----------------------------------------


def test_no_memorization_when_the_model_cannot_memorize():
    # A Gaussian model (the network's last layer kept at zero by a learning
    # rate of zero is not what we test: a small MLP on 600 Gaussian rows has
    # far more data than capacity) shows no memorization: mean M within 3
    # standard errors of 0.
    X = np.random.RandomState(0).normal(size=(600, 2))
    model = DiffusionDensity(
        hidden_layer_sizes=(8,), max_epochs=5, batch_size=50, n_mc_samples=32
    )
    scorer = MemorizationScorer(model, cv=5, random_state=0, aggregate="mean").fit(X)
    m = scorer.memorization_scores_
    assert abs(m.mean()) < 3 * m.std(ddof=1) / np.sqrt(len(m))


def test_planted_duplicates_are_scored_above_the_rest():
    # Ten rows repeated 8 times among 200 Gaussian rows: each copy is in the
    # training set of every model that scores it as "in"... and its copies
    # are in the out-models' training sets too, so single rows far from the
    # bulk (outliers seen once) are the ones a model memorizes. Plant 8
    # isolated outliers: their M must rank above the bulk's.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(8, 2)) * 0.3 + 6])
    X[200:, 1] = rng.uniform(-6, 6, size=8)
    model = DiffusionDensity(
        hidden_layer_sizes=(64, 64), max_epochs=60, batch_size=32, n_mc_samples=32
    )
    scorer = MemorizationScorer(model, cv=4, random_state=0).fit(X)
    m = scorer.memorization_scores_
    assert np.median(m[200:]) > np.quantile(m[:200], 0.9)


# --- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(log_snr_range=(5.0, -5.0)), "log_snr_range must be two finite"),
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes must be positive"),
        (dict(architecture="unet"), "needs input_shape"),
        (dict(architecture="unet", input_shape=(1, 3, 3)), "holds 9 values"),
        (dict(architecture="unet", input_shape=(1, 2, 1)), "must be even"),
        (dict(schedule=[0.9, 0.5]), "needs both denoiser"),
        (dict(denoiser=torch.nn.Linear, schedule=[0.9, 0.95]), "strictly decreasing"),
        (dict(denoiser="unet", schedule=[0.9, 0.5]), "nn.Module subclass"),
    ],
)
def test_bad_parameters_say_what_to_do(params, message):
    X = np.random.RandomState(0).normal(size=(20, 2))
    with pytest.raises((ValueError, TypeError), match=message):
        DiffusionDensity(**{**TINY, **params}).fit(X)


def test_the_ode_without_torchdiffeq_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torchdiffeq", None)
    X = np.random.RandomState(0).normal(size=(20, 2))
    with pytest.raises(ImportError, match=r"skmem\[diffusion\]"):
        DiffusionDensity(**TINY, likelihood="ode").fit(X)


# --- a denoiser of your own -----------------------------------------------------------


class NormalDenoiser(torch.nn.Module):
    """``eps(x_t, t)`` of diffusers' signature: the exact denoiser of N(0, I)
    data, ``sqrt(1 - abar_t) x_t``, reading the noise level off the timestep
    through the schedule, so a wrong timestep gives a wrong noise level."""

    def __init__(self, alphas_cumprod):
        super().__init__()
        self.register_buffer(
            "abar", torch.as_tensor(alphas_cumprod, dtype=torch.float32)
        )
        self.gain = torch.nn.Parameter(torch.ones(()))

    def forward(self, sample, timestep):
        k = timestep.clamp(0, len(self.abar) - 1)
        lo = k.floor().long().clamp(max=len(self.abar) - 2)
        frac = (k - lo)[:, None]
        log_snr = torch.logit(self.abar)
        lam = (1 - frac) * log_snr[lo, None] + frac * log_snr[lo + 1, None]
        return self.gain * torch.sqrt(torch.sigmoid(-lam)) * sample


def _linear_schedule(n=1000):
    betas = np.linspace(1e-4, 0.02, n)
    return np.cumprod(1 - betas)


def test_a_denoiser_of_your_own_gets_its_timesteps_right():
    abar = _linear_schedule()
    X = np.random.RandomState(0).normal(size=(200, 3))
    model = DiffusionDensity(
        denoiser=NormalDenoiser,
        denoiser_params={"alphas_cumprod": abar},
        schedule=abar,
        **{**TINY, "max_epochs": 1, "n_mc_samples": 64},
        learning_rate=1e-6,
        random_state=0,
    ).fit(X)
    # The exact denoiser of N(0, I): the bound is log N(x; 0, I) (the
    # schedule's range, about [-10, 9.2], leaves under 1e-3 nats at its ends).
    exact = norm.logpdf(X).sum(1)
    np.testing.assert_allclose(model.score_samples(X), exact, atol=0.01)
    lam = np.log(abar / (1 - abar))
    assert model.module_.log_snr_range == pytest.approx((lam[-1], lam[0]))


def test_a_diffusers_unet_scores_as_it_is():
    diffusers = pytest.importorskip("diffusers")
    X = np.rint(load_digits()[:48] * 16)
    unet = dict(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        layers_per_block=1,
        block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    )
    model = DiffusionDensity(
        denoiser=diffusers.UNet2DModel,
        denoiser_params=unet,
        schedule=diffusers.DDPMScheduler(num_train_timesteps=1000),
        input_shape=(1, 8, 8),
        n_levels=17,
        max_epochs=3,
        batch_size=16,
        n_mc_samples=4,
    )
    scorer = MemorizationScorer(model, cv=2, random_state=0).fit(X)
    assert scorer.engine_ == "generic"  # diffusers' UNet does not run under vmap
    assert np.isfinite(scorer.memorization_scores_).all()
    first = scorer.estimators_[0]
    assert first.loss_curve_[-1] < first.loss_curve_[0]
    np.testing.assert_array_equal(first.score_samples(X), scorer.log_likelihoods_[0])
    assert (scorer.log_likelihoods_ < 0).all()  # log-probabilities of levels


def test_the_unet_scores_the_ode_when_asked():
    # The U-Net's module once answered the bound whatever ``likelihood`` said.
    levels = np.rint(load_digits()[:24] * 16)
    model = DiffusionDensity(
        architecture="unet", input_shape=(1, 8, 8), n_filters=4, n_levels=17,
        max_epochs=1, batch_size=8, n_mc_samples=2, random_state=0,
    ).fit(levels)  # fmt: skip
    bound = model.score_samples(levels[:4])
    ode = model.set_params(likelihood="ode").score_samples(levels[:4])
    assert np.isfinite(ode).all() and not np.allclose(ode, bound, atol=1e-3)
    # Exactly the ODE's estimate from the module's fixed draws.
    from skmem.diffusion._ode import ode_log_likelihood

    noise = model._eval_noise(model.module_, [model.noise_seed_])[0]
    with torch.no_grad():
        direct = ode_log_likelihood(
            model.module_, torch.tensor(levels[:4], dtype=torch.float32), noise
        ).mean(-1)
    np.testing.assert_allclose(ode, direct.numpy(), rtol=1e-6)
