"""The variational bound of a variance-preserving diffusion, in log-SNR time.

Kingma et al. (2021, "Variational Diffusion Models") write the continuous-time
ELBO of a diffusion ``z = alpha x + sigma eps`` with ``alpha^2 = sigmoid(lam)``,
``sigma^2 = sigmoid(-lam)`` (``lam`` is the log signal-to-noise ratio) as

    -log p(x) <= KL(q(z_min | x) || N(0, I))                      prior term
                 - E log p(x | z_max)                              reconstruction
                 + 1/2 int_{lam_min}^{lam_max} E ||eps - eps_hat(z_lam, lam)||^2 dlam

The integral is over log-SNR: training draws ``lam`` uniformly from
``[lam_min, lam_max]`` (weight ``lam_max - lam_min``), the distribution that
makes the bound's weight constant: the importance sampling of time steps of
Song et al. (2021), whose density ``g(t)^2 / sigma_t^2`` is ``-dlam/dt`` for a
variance-preserving schedule. Scoring draws it the same way, stratified, or
from an importance distribution each model learns in training
(:func:`proposal`, with weight ``1 / q(lam)``). The first leaves models that
share their draws on the same log-SNR values, so that the noise of their bounds
cancels in a difference of them (M); the second gives a single bound less
noise.

**A Gaussian control variate.** Every denoiser here is written as a reference
plus a residual, ``eps_hat = eps_ref + r``, where ``eps_ref`` is the exact
denoiser of a diagonal Gaussian ``N(loc, scale^2)``. The bound of the
reference has a closed form (:func:`reference_bound`), and the bound of the
model is that closed form minus the Monte Carlo estimate of

    1/2 int E [ ||eps - eps_ref - r||^2 - ||eps - eps_ref||^2 ] dlam
      = 1/2 int E [ ||r||^2 - 2 r . (eps - eps_ref) ] dlam,

which is exact (the two integrands share their draws) and whose noise vanishes
where the model behaves like the Gaussian: at high noise always, and
everywhere on Gaussian data. The built-in networks predict ``r`` (the Gaussian
is their skip connection, ``loc`` and ``scale`` learned with the rest); an
adapted denoiser predicts ``eps_hat`` and the reference is a fixed standard
normal, a control variate only.

Nothing in this file draws random numbers: the noise comes in as standard
normal tensors (skmem's noise hook), and uniforms are made from it with the
normal CDF.
"""

import math

import torch
from torch.nn.functional import logsigmoid, softplus

_LOG_2PI = math.log(2 * math.pi)


def alpha_sigma(lam):
    """``alpha`` and ``sigma`` of the variance-preserving process at log-SNR ``lam``."""
    return torch.exp(0.5 * logsigmoid(lam)), torch.exp(0.5 * logsigmoid(-lam))


def reference_denoiser(z, lam, loc, log_scale):
    """The exact ``E[eps | z]`` when x ~ N(loc, diag(scale^2)), per dimension."""
    alpha, sigma = alpha_sigma(lam)
    alpha, sigma = alpha[..., None], sigma[..., None]
    var = alpha**2 * torch.exp(2 * log_scale) + sigma**2
    return sigma * (z - alpha * loc) / var


def _antiderivatives(lam, log_scale):
    """Per dimension, antiderivatives in ``lam`` of the reference's two integrands.

    With ``u = exp(lam) scale^2``, the reference leaves
    ``E||eps - eps_ref||^2 = a^2 + b^2 ((x - loc) / scale)^2`` per dimension, with
    ``a^2 = (u / (1 + u))^2`` and ``b^2 = u / (1 + u)^2``, whose antiderivatives
    are ``log(1 + u) + 1 / (1 + u)`` and ``-1 / (1 + u)``.
    """
    v = lam + 2 * log_scale
    inv = torch.sigmoid(-v)  # 1 / (1 + u)
    return softplus(v) + inv, -inv


def reference_bound(x, loc, log_scale, lam_min, lam_max):
    """The diffusion bound on log p(x) of the Gaussian reference, in closed form.

    ``x`` (..., D) against ``loc`` and ``log_scale`` that broadcast to it; the
    log-SNR range as floats. The terms are those of the module docstring, with
    the reconstruction ``p(x | z_max) = N(z_max / alpha, sigma^2 / alpha^2)``,
    whose expectation is ``-D/2 (log 2 pi - lam_max + 1)``. As the range widens
    the bound tends to ``log N(x; loc, scale^2)``, from below.
    """
    lam_lo = torch.as_tensor(lam_min, dtype=x.dtype, device=x.device)
    lam_hi = torch.as_tensor(lam_max, dtype=x.dtype, device=x.device)
    alpha2, sigma2 = torch.sigmoid(lam_lo), torch.sigmoid(-lam_lo)
    prior = 0.5 * (sigma2 + alpha2 * x**2 - 1.0 - torch.log(sigma2)).sum(-1)
    n_dims = x.shape[-1]
    reconstruction = -0.5 * n_dims * (_LOG_2PI - lam_max + 1.0)
    a_hi, b_hi = _antiderivatives(lam_hi, log_scale)
    a_lo, b_lo = _antiderivatives(lam_lo, log_scale)
    standardized = ((x - loc) * torch.exp(-log_scale)) ** 2
    diffusion = 0.5 * ((a_hi - a_lo) + standardized * (b_hi - b_lo)).sum(-1)
    return reconstruction - prior - diffusion


def residual_term(r, eps, eps_ref):
    """``||r||^2 - 2 r . (eps - eps_ref)`` summed over the last axis."""
    return (r * (r - 2.0 * (eps - eps_ref))).sum(-1)


N_BINS = 32  # bins of the log-SNR range for the importance distribution
HISTORY_DECAY = 0.99  # per training step, of the squared terms seen in each bin
UNIFORM_SHARE = 0.1  # of the importance distribution, so no bin is left out


def proposal(sums, counts):
    """The importance distribution of the log-SNR bins, (..., N_BINS).

    Nichol & Dhariwal's (2021) importance sampling of time steps: each bin's
    probability is proportional to the root mean square of the Monte Carlo
    term seen there in training (the variance-optimal choice for a
    piecewise-constant proposal), mixed with a uniform share; uniform before
    training has seen anything.
    """
    rms = torch.sqrt(sums / counts.clamp_min(1e-30))
    total = rms.sum(-1, keepdim=True)
    shaped = torch.where(total > 0, rms / total.clamp_min(1e-30), 1.0 / N_BINS)
    return UNIFORM_SHARE / N_BINS + (1 - UNIFORM_SHARE) * shaped


def draw_log_snr(normal, lam_min, lam_max, probs=None, stratified=False):
    """Log-SNR values from standard normal draws, and their importance weights.

    Uniform on the range when ``probs`` is None; else piecewise uniform, bin
    ``b`` of ``N_BINS`` equal bins with probability ``probs[..., b]`` (whose
    leading axes match those of ``normal``). The weight of each value is
    ``1 / q(lam)``. ``stratified=True`` puts draw ``j`` of the last axis's
    ``J`` in the j-th of ``J`` equal strata of the distribution (a
    lower-variance estimate of the same integral).
    """
    u = torch.special.ndtr(normal)
    if stratified:
        n = normal.shape[-1]
        u = (torch.arange(n, dtype=normal.dtype, device=normal.device) + u) / n
    span = lam_max - lam_min
    if probs is None:
        return lam_min + span * u, torch.full_like(u, span)
    probs = probs.to(u.dtype)
    cdf = torch.cumsum(probs, -1)
    b = torch.searchsorted(cdf, u.contiguous()).clamp(max=N_BINS - 1)
    p_b = probs.gather(-1, b)
    position = ((u - (cdf.gather(-1, b) - p_b)) / p_b).clamp(0.0, 1.0)
    width = span / N_BINS
    return lam_min + (b + position) * width, width / p_b


class DiffusionObjectives:
    """The TorchDensity contract of a diffusion model, for any residual network.

    A class supplies ``n_features`` (D), ``log_snr_range``, ``n_levels``,
    ``logit_alpha``, ``reference()`` (``loc`` and ``log_scale``, of shape
    (..., D): one row per model of an ensemble) and ``residual(z, lam)``
    (``eps_hat - eps_ref`` for z (..., N, D) at log-SNR lam (..., N)). The
    leading axes are the models of an ensemble (E) or none.

    The noise of one row or one Monte Carlo draw holds, in order: one value for
    the log-SNR, D for ``eps``, and with ``n_levels`` D more for the
    dequantization (uniforms through the normal CDF).
    """

    def keep_options(
        self,
        n_features,
        log_snr_range,
        n_levels,
        logit_alpha,
        likelihood,
        ode_tolerance,
        time_sampling,
    ):
        """Keep the settings every diffusion module has, and the width of the
        training noise they give."""
        self.n_features = n_features
        self.log_snr_range = tuple(float(v) for v in log_snr_range)
        self.n_levels = n_levels
        self.logit_alpha = logit_alpha
        self.likelihood = likelihood
        self.ode_tolerance = ode_tolerance
        self.time_sampling = time_sampling
        self.loss_noise_shape = (self.noise_width(),)

    def noise_width(self):
        return 1 + self.n_features * (2 if self.n_levels else 1)

    def _dequantize(self, x, noise):
        if self.n_levels is None:
            return x, 0.0
        from .._pixels import logit_dequantize

        uniform = torch.special.ndtr(noise[..., 1 + self.n_features :])
        return logit_dequantize(x, uniform, self.n_levels, self.logit_alpha, xp=torch)

    def register_proposal(self, *lead):
        """The buffers of the importance distribution, for models of shape ``lead``."""
        self.register_buffer("proposal_sums", torch.zeros(*lead, N_BINS))
        self.register_buffer("proposal_counts", torch.zeros(*lead, N_BINS))

    @torch.no_grad()
    def _record(self, lam, terms, noise):
        """Add a training batch's squared Monte Carlo terms to their bins' history.

        Rows whose noise is all zero are the training loop's padding of a short
        last batch (rows of zero weight, whose noise is never drawn): they are
        left out, so that the history is that of the model's own rows only.
        """
        lam_min, lam_max = self.log_snr_range
        bins = ((lam - lam_min) / (lam_max - lam_min) * N_BINS).long()
        bins = bins.clamp(0, N_BINS - 1)
        real = (noise != 0).any(-1).to(terms.dtype)
        squares = terms.detach() ** 2 * real
        self.proposal_sums.mul_(HISTORY_DECAY).scatter_add_(-1, bins, squares)
        self.proposal_counts.mul_(HISTORY_DECAY).scatter_add_(-1, bins, real)

    def _bound(self, x, noise, lam, weight, record=False):
        """One draw of the bound on log p(x) per row, from its noise, log-SNR and
        the log-SNR's importance weight."""
        lam_min, lam_max = self.log_snr_range
        y, log_jacobian = self._dequantize(x, noise)
        eps = noise[..., 1 : 1 + self.n_features]
        alpha, sigma = alpha_sigma(lam)
        z = alpha[..., None] * y + sigma[..., None] * eps
        loc, log_scale = (_align(t, z.ndim) for t in self.reference())
        eps_ref = reference_denoiser(z, lam, loc, log_scale)
        r = self.residual(z, lam)
        estimate = residual_term(r, eps, eps_ref)
        if record:
            self._record(lam, estimate, noise)
        closed = reference_bound(y, loc, log_scale, lam_min, lam_max)
        return closed - 0.5 * (weight * estimate) + log_jacobian

    def negative_elbo(self, x, noise):
        """One-draw negative bound per row: x (..., B, D), noise (..., B, width)."""
        lam, weight = draw_log_snr(noise[..., 0], *self.log_snr_range)
        return -self._bound(x, noise, lam, weight, record=self.training)

    def elbo_draws(self, x, noise):
        """The bound for rows x (..., N, D) from each of J draws (..., J, width)
        shared by every row; (..., N, J) in float64.

        The log-SNR of the draws is stratified, uniform on the range (the same
        for every model: common random numbers), or with ``time_sampling =
        "learned"`` from the importance distribution the model learned in
        training (:func:`proposal`), its own. The mean over draws is the
        estimate; the draws' spread is its Monte Carlo error (stratification
        makes their plain standard error an upper bound on it).
        """
        probs = None
        if getattr(self, "time_sampling", "uniform") == "learned":
            probs = proposal(self.proposal_sums, self.proposal_counts)
        lam, weight = draw_log_snr(
            noise[..., 0], *self.log_snr_range, probs=probs, stratified=True
        )
        n_rows, n_draws = x.shape[-2], noise.shape[-2]
        lam, weight = (
            t[..., None, :].expand(*t.shape[:-1], n_rows, n_draws)
            for t in (lam, weight)
        )
        draws = self._bound(x[..., :, None, :], noise[..., None, :, :], lam, weight)
        return draws.double()

    def elbo(self, x, noise):
        """The mean of :meth:`elbo_draws` over the draws: (..., N) in float64."""
        return self.elbo_draws(x, noise).mean(-1)

    # -- the TorchDensity module contract ----------------------------------------
    def loss(self, x, noise):
        return self.negative_elbo(x, noise)

    def log_likelihood(self, x, noise):
        return self.log_likelihood_draws(x, noise).mean(-1)

    def log_likelihood_draws(self, x, noise):
        """Each draw's estimate for rows x (N, D) shared by the models of
        noise (..., J, width): (..., N, J), the bound or the ODE's log p(x)."""
        if self.likelihood == "ode":
            from ._ode import ode_log_likelihood

            tol = self.ode_tolerance
            return ode_log_likelihood(self, x, noise, rtol=tol, atol=tol)
        return self.elbo_draws(x.expand(*noise.shape[:-2], *x.shape[-2:]), noise)


def _align(t, ndim):
    """(..., D) model parameters against (..., N, [J,] D) rows: insert the row axes."""
    return t.reshape(*t.shape[:-1], *([1] * (ndim - t.ndim)), t.shape[-1])
