"""The torch module of :class:`~skmem.VAEDensity`: an MLP VAE, TorchDensity style.

``loss(x, noise)`` is the negative ELBO with one reparameterised sample;
``log_likelihood(x, noise)`` the importance-weighted estimate of log p(x), with
``noise`` of shape (S, L) shared by every row. skmem draws both noises (the
TorchDensity noise hook), so the module never touches a random generator.

The module also has the optional hand-batched form of the contract
(``VAEModule.stack``): E VAEs whose layers hold stacked weights, each layer one
``torch.baddbmm``. On a CPU it trains about twice as fast as the same models
under ``torch.func.vmap``, whose batched ``linear`` transposes the weights and
adds operations around every layer. A single VAE is the same code with E = 1,
so a model is the same, up to the rounding of batched products, whichever
form trains it.
"""

import math

import torch
from torch import nn

from .._pixels import logit_dequantize

_LOG_2PI = math.log(2 * math.pi)
# Lower clamp on the Gaussian decoder's log-variance: pixels that never vary
# would otherwise drive their variance, and the likelihood, to infinity.
MIN_LOG_VAR = -8.0
MAX_LOG_VAR = 20.0  # and from above, so that exp() stays finite in float32
# Range of the encoder's log-variance: keeps exp() finite in float32 when the
# input is far from where the network was initialised (unscaled data).
ENCODER_LOG_VAR = (-20.0, 20.0)


def decoder_log_likelihood(out, x, likelihood):
    """``log p(x | z)`` summed over features, from the decoder output ``out``.

    ``out`` holds logits (Bernoulli) or means then log-variances (Gaussian);
    ``x`` broadcasts against it, so importance samples need no copies of x.
    """
    if likelihood == "bernoulli":
        # x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)) = x l - softplus(l),
        # element by element before the sum (a difference of two large sums
        # would lose digits): fewer passes over the logits than
        # binary_cross_entropy_with_logits, and no copy of the broadcast x.
        return (out * x).sub_(nn.functional.softplus(out)).sum(-1)
    mean, log_var = out.chunk(2, dim=-1)
    log_var = log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR)
    return -0.5 * (_LOG_2PI + log_var + (x - mean) ** 2 / log_var.exp()).sum(-1)


def kl_to_prior(mu, log_var):
    """KL(N(mu, exp(log_var)) || N(0, I)), summed over the latent axis."""
    return 0.5 * (mu**2 + log_var.exp() - 1.0 - log_var).sum(-1)


def importance_weighted(log_px_given_z, mu, log_var, noise):
    """Importance-weighted log p(x) with q(z | x) = N(mu, exp(log_var)); float64.

    ``mu``, ``log_var`` and ``noise`` (S standard-normal draws) broadcast to
    (..., N, S, L); the S axis is reduced.
    """
    z = mu + (0.5 * log_var).exp() * noise  # (..., N, S, L)
    log_q = -0.5 * (_LOG_2PI + log_var + noise**2).sum(-1)
    log_prior = -0.5 * (_LOG_2PI + z**2).sum(-1)
    log_w = log_px_given_z(z) + log_prior - log_q
    return torch.logsumexp(log_w.double(), dim=-1) - math.log(noise.shape[-2])


class VAEObjectives:
    """The ELBO and the importance-weighted log p(x), for any encoder and decoder.

    A VAE class supplies ``latent_dim``, ``n_levels``, ``logit_alpha``,
    ``encode_rows(x)`` (rows (..., D) to mu and log_var (..., L)) and
    ``log_px_given_z(x, z)``. With ``n_levels`` set, x holds integer pixel
    levels: the model sees them dequantized and logit-transformed (uniform
    noise from the normal noise that skmem passes in, through the normal CDF),
    and reports the log-probability of the levels, the Jacobian included.
    """

    def _dequantize(self, x, noise):
        """Model-space data, its log-Jacobian to the levels, and the latent noise."""
        if self.n_levels is None:
            return x, 0.0, noise
        uniform = torch.special.ndtr(noise[..., self.latent_dim :])
        y, log_jacobian = logit_dequantize(
            x, uniform, self.n_levels, self.logit_alpha, xp=torch
        )
        return y, log_jacobian, noise[..., : self.latent_dim]

    def negative_elbo(self, x, noise):
        """Per-sample negative ELBO with one reparameterised sample."""
        y, log_jacobian, noise = self._dequantize(x, noise)
        mu, log_var = self.encode_rows(y)
        z = mu + (0.5 * log_var).exp() * noise
        return kl_to_prior(mu, log_var) - self.log_px_given_z(y, z) - log_jacobian

    def importance_weighted(self, x, noise):
        """log p(x) of rows x (..., N, D) from noise (..., S, L) shared by the rows.

        With pixel levels, each importance sample has its own dequantization,
        so that exp of the estimate is unbiased for the probability of the
        levels.
        """
        noise = noise[..., None, :, :]  # (..., 1, S, L)
        if self.n_levels is None:
            y, log_jacobian = x[..., None, :], 0.0
            mu, log_var = (t[..., None, :] for t in self.encode_rows(x))
        else:
            y, log_jacobian, noise = self._dequantize(x[..., None, :], noise)
            mu, log_var = self.encode_rows(y)  # (..., N, S, L)
        return importance_weighted(
            lambda z: self.log_px_given_z(y, z) + log_jacobian, mu, log_var, noise
        )


class EnsembleObjectives(VAEObjectives):
    """The module contract of E stacked VAEs (the hand-batched form).

    ``loss(x, noise)``: x (E, B, D), noise (E, B, ...), the negative ELBO
    (E, B). ``log_likelihood(x, noise)``: rows (N, D) shared by every model and
    noise (E, S, ...), the importance-weighted log p(x) (E, N) in float64.
    """

    def loss(self, x, noise):
        return self.negative_elbo(x, noise)

    def log_likelihood(self, x, noise):
        return self.importance_weighted(x.expand(self.n_models, *x.shape), noise)


class EnsembleMLP(nn.Module):
    """E independent MLPs with ReLU (or SiLU) between layers; input (E, N, in).

    Weights are (E, in, out), biases (E, 1, out), initialised as ``nn.Linear``
    does, U(-1/sqrt(in), 1/sqrt(in)), from torch's (forked and seeded) global
    generator.
    """

    def __init__(self, sizes, n_models, activation="relu"):
        super().__init__()
        self.activation = activation
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.weights = nn.ParameterList(
            nn.Parameter(_uniform((n_models, a, b), a)) for a, b in pairs
        )
        self.biases = nn.ParameterList(
            nn.Parameter(_uniform((n_models, 1, b), a)) for a, b in pairs
        )

    def reset_parameters(self, generator):
        """``nn.Linear``'s initialisation, from ``generator``: weight, bias, ..."""
        with torch.no_grad():
            for w, b in zip(self.weights, self.biases, strict=True):
                for e in range(w.shape[0]):
                    w[e].copy_(_uniform(w.shape[1:], w.shape[1], generator))
                    b[e].copy_(_uniform(b.shape[1:], w.shape[1], generator))

    def forward(self, x):
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < last and self.activation == "silu":
                x = nn.functional.silu(x)  # its backward needs its input: not in place
            elif i < last:
                x = torch.relu_(x)  # in place: baddbmm's backward needs its inputs only
        return x


def _uniform(shape, fan_in, generator=None):
    draws = torch.rand(shape, generator=generator)
    if draws.is_meta:  # an empty module to copy weights into: shapes only
        return draws  # (arithmetic on meta tensors is slow Python)
    bound = 1.0 / math.sqrt(fan_in)
    return (draws * 2.0 - 1.0) * bound


class EnsembleVAE(EnsembleObjectives, nn.Module):
    """E independent VAEs: MLP encoder to (mu, log_var), MLP decoder.

    ``negative_elbo`` takes x (E, N, D) and noise (E, N, L);
    ``log_likelihood`` rows (N, D) shared by every model and noise (E, S, L).
    With ``n_levels``, each noise row has D more values, for dequantization.
    """

    def __init__(
        self,
        n_features,
        latent_dim,
        hidden_layer_sizes,
        likelihood,
        n_models,
        n_levels=None,
        logit_alpha=0.05,
    ):
        super().__init__()
        hidden = list(hidden_layer_sizes)
        self.n_features = n_features
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = tuple(hidden)
        self.likelihood = likelihood
        self.n_models = n_models
        self.n_levels = n_levels
        self.logit_alpha = logit_alpha
        self.loss_noise_shape = (latent_dim + (n_features if n_levels else 0),)
        out = n_features * (2 if likelihood == "gaussian" else 1)
        self.encoder = EnsembleMLP([n_features, *hidden, 2 * latent_dim], n_models)
        self.decoder = EnsembleMLP([latent_dim, *hidden[::-1], out], n_models)

    def encode(self, x):
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var.clamp(*ENCODER_LOG_VAR)

    def encode_rows(self, x):
        """``encode`` of x (E, ..., D): mu and log_var (E, ..., L)."""
        mu, log_var = self.encode(x.reshape(x.shape[0], -1, x.shape[-1]))
        return mu.reshape(*x.shape[:-1], -1), log_var.reshape(*x.shape[:-1], -1)

    def log_px_given_z(self, x, z):
        """``log p(x | z)`` summed over features.

        ``z`` is (E, ..., L); ``x`` broadcasts against the decoder output
        (E, ..., D), so importance samples need no copies of x.
        """
        E, L = z.shape[0], z.shape[-1]
        out = self.decoder(z.reshape(E, -1, L)).reshape(*z.shape[:-1], -1)
        return decoder_log_likelihood(out, x, self.likelihood)

    def reset_parameters(self, generator):
        """Initial weights from ``generator``: the encoder's, then the decoder's."""
        self.encoder.reset_parameters(generator)
        self.decoder.reset_parameters(generator)
        return self

    def unstack(self):
        """A :class:`VAEModule` per member, on the CPU."""
        members = []
        for e in range(self.n_models):
            module = _empty_like(self, "cpu").train(self.training)
            _copy_members(module, self, [(0, e)])
            members.append(module)
        return members


def _empty_like(module, device, n_models=None):
    """An uninitialised VAE shaped like ``module``: a VAEModule, or an
    EnsembleVAE of ``n_models``."""
    args = (module.n_features, module.latent_dim, module.hidden_layer_sizes)
    pixels = dict(n_levels=module.n_levels, logit_alpha=module.logit_alpha)
    with torch.device("meta"):  # no initialisation, no random draws
        if n_models is None:
            empty = VAEModule(*args, module.likelihood, **pixels)
        else:
            empty = EnsembleVAE(*args, module.likelihood, n_models, **pixels)
    return empty.to_empty(device=device)


@torch.no_grad()
def _copy_members(target, source, pairs):
    """Copy member ``j`` of ``source`` into member ``i`` of ``target``: its
    parameters and its buffers (for a module that keeps state in them)."""
    targets = [*target.parameters(), *target.buffers()]
    sources = [*source.parameters(), *source.buffers()]
    for t, s in zip(targets, sources, strict=True):
        for i, j in pairs:
            t[i].copy_(s[j])


class VAEModule(EnsembleVAE):
    """One VAE, with the TorchDensity module contract.

    ``loss(x, noise)``: x (N, D), noise (N, L), the negative ELBO (N,).
    ``log_likelihood(x, noise)``: x (N, D), noise (S, L), the
    importance-weighted log p(x) (N,). Its layers are those of an
    :class:`EnsembleVAE` of one model (input with a leading axis of size 1, as
    ``decoder`` and ``negative_elbo`` take it).
    """

    def __init__(
        self,
        n_features,
        latent_dim,
        hidden_layer_sizes,
        likelihood,
        n_levels=None,
        logit_alpha=0.05,
    ):
        super().__init__(
            n_features,
            latent_dim,
            hidden_layer_sizes,
            likelihood,
            1,
            n_levels=n_levels,
            logit_alpha=logit_alpha,
        )

    def loss(self, x, noise):
        return self.negative_elbo(x[None], noise[None])[0]

    def log_likelihood(self, x, noise):
        return super().log_likelihood(x, noise[None])[0]

    def decode(self, z):
        """Decoder output for latents (N, L): logits, or means then log-variances."""
        return self.decoder(z[None])[0]

    @classmethod
    def stack(cls, modules):
        """E modules as one :class:`EnsembleVAE` (the optional batched form)."""
        first = modules[0]
        device = next(first.parameters()).device
        stacked = _empty_like(first, device, n_models=len(modules))
        for k, module in enumerate(modules):
            _copy_members(stacked, module, [(k, 0)])
        return stacked


@torch.no_grad()
def sample(module, n_samples, seed):
    """Draw from a VAE module (MLP or conv): z ~ N(0, I), then x ~ p(x | z)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((n_samples, module.latent_dim), generator=g)
    out = module.decode(z)
    if module.likelihood == "bernoulli":
        return torch.bernoulli(torch.sigmoid(out), generator=g).numpy().astype(float)
    mean, log_var = out.chunk(2, dim=-1)
    std = (0.5 * log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR)).exp()
    x = mean + std * torch.randn(mean.shape, generator=g)
    if module.n_levels is not None:  # back from logit space to the levels
        alpha = module.logit_alpha
        u = (torch.sigmoid(x) - alpha) / (1 - 2 * alpha)
        x = (u * module.n_levels).floor().clamp(0, module.n_levels - 1)
    return x.numpy().astype(float)
