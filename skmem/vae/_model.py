"""The torch module of :class:`~skmem.VAEDensity`: an MLP VAE, TorchDensity style.

``loss(x, noise)`` is the negative ELBO with one reparameterised sample;
``log_likelihood(x, noise)`` the importance-weighted estimate of log p(x), with
``noise`` of shape (S, L) shared by every row. skmem draws both noises (the
TorchDensity noise hook), so the module never touches a random generator.
Every operation acts on the last axis, so leading axes broadcast.

The module also has the optional hand-batched form of the contract
(``VAEModule.stack``): E VAEs whose layers hold stacked weights, each layer one
``torch.baddbmm``. On a CPU it trains about twice as fast as the same models
under ``torch.func.vmap``, whose batched ``linear`` transposes the weights and
adds operations around every layer. It is the same arithmetic as E plain
modules up to the rounding of batched products.
"""

import math

import torch
from torch import nn

_LOG_2PI = math.log(2 * math.pi)
# Lower clamp on the Gaussian decoder's log-variance: pixels that never vary
# would otherwise drive their variance, and the likelihood, to infinity.
MIN_LOG_VAR = -8.0
MAX_LOG_VAR = 20.0  # and from above, so that exp() stays finite in float32
# Range of the encoder's log-variance: keeps exp() finite in float32 when the
# input is far from where the network was initialised (unscaled data).
ENCODER_LOG_VAR = (-20.0, 20.0)


def mlp(sizes):
    """Linear layers with ReLU between them."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


class VAEModule(nn.Module):
    """MLP encoder to a diagonal Gaussian q(z | x); MLP decoder to p(x | z)."""

    def __init__(self, n_features, latent_dim, hidden_layer_sizes, likelihood):
        super().__init__()
        hidden = list(hidden_layer_sizes)
        self.n_features = n_features
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.hidden_layer_sizes = tuple(hidden)
        self.loss_noise_shape = (latent_dim,)
        out = n_features * (2 if likelihood == "gaussian" else 1)
        self.encoder = mlp([n_features, *hidden, 2 * latent_dim])
        self.decoder = mlp([latent_dim, *hidden[::-1], out])

    def encode(self, x):
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var.clamp(*ENCODER_LOG_VAR)

    def log_px_given_z(self, x, z):
        """``log p(x | z)`` summed over features; x broadcasts against z's rows."""
        return self._log_px(x, self.decoder(z))

    def _log_px(self, x, out):
        """``log p(x | z)`` from the decoder's output for z."""
        if self.likelihood == "bernoulli":
            # x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)) = x l - softplus(l)
            return -nn.functional.binary_cross_entropy_with_logits(
                out, x.expand_as(out), reduction="none"
            ).sum(-1)
        mean, log_var = out.chunk(2, dim=-1)
        log_var = log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR)
        return -0.5 * (_LOG_2PI + log_var + (x - mean) ** 2 / log_var.exp()).sum(-1)

    def loss(self, x, noise):
        """Per-sample negative ELBO with one reparameterised sample."""
        mu, log_var = self.encode(x)
        z = mu + (0.5 * log_var).exp() * noise
        kl = 0.5 * (mu**2 + log_var.exp() - 1.0 - log_var).sum(-1)
        return kl - self.log_px_given_z(x, z)

    def log_likelihood(self, x, noise):
        """Importance-weighted log p(x), x (N, D), noise (S, L); float64 (N,)."""
        mu, log_var = self.encode(x)  # (N, L)
        std = (0.5 * log_var).exp()
        z = mu[:, None, :] + std[:, None, :] * noise  # (N, S, L)
        log_q = -0.5 * (_LOG_2PI + log_var[:, None, :] + noise**2).sum(-1)
        log_prior = -0.5 * (_LOG_2PI + z**2).sum(-1)
        log_w = self.log_px_given_z(x[:, None, :], z) + log_prior - log_q
        return torch.logsumexp(log_w.double(), dim=-1) - math.log(noise.shape[0])

    @classmethod
    def stack(cls, modules):
        """E modules as one :class:`EnsembleVAE` (the optional batched form)."""
        return EnsembleVAE(modules)


class EnsembleMLP(nn.Module):
    """E MLPs with ReLU between layers, weights (E, in, out); input (E, N, in)."""

    def __init__(self, sequentials):
        super().__init__()
        linears = [
            [layer for layer in seq if isinstance(layer, nn.Linear)]
            for seq in sequentials
        ]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([m[i].weight.detach().T for m in linears]))
            for i in range(len(linears[0]))
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([m[i].bias.detach()[None] for m in linears]))
            for i in range(len(linears[0]))
        )

    def forward(self, x):
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu_(x)  # in place: baddbmm's backward needs its inputs only
        return x

    def unstack_into(self, e, sequential):
        linears = [layer for layer in sequential if isinstance(layer, nn.Linear)]
        with torch.no_grad():
            for lin, w, b in zip(linears, self.weights, self.biases, strict=True):
                lin.weight.copy_(w[e].T)
                lin.bias.copy_(b[e, 0])


class EnsembleVAE(VAEModule):
    """E VAEs as one module: ``loss`` on (E, B, D), ``log_likelihood`` (E, N)."""

    def __init__(self, modules):
        nn.Module.__init__(self)
        first = modules[0]
        self.n_features = first.n_features
        self.latent_dim = first.latent_dim
        self.likelihood = first.likelihood
        self.loss_noise_shape = first.loss_noise_shape
        self.n_models = len(modules)
        self.hidden_layer_sizes = first.hidden_layer_sizes
        self.encoder = EnsembleMLP([m.encoder for m in modules])
        self.decoder = EnsembleMLP([m.decoder for m in modules])

    def log_px_given_z(self, x, z):
        E, L = z.shape[0], z.shape[-1]
        out = self.decoder(z.reshape(E, -1, L)).reshape(*z.shape[:-1], -1)
        return self._log_px(x, out)

    def log_likelihood(self, x, noise):
        """x (N, D) shared by every model, noise (E, S, L); float64 (E, N)."""
        x = x.expand(self.n_models, *x.shape)
        mu, log_var = self.encode(x)  # (E, N, L)
        std = (0.5 * log_var).exp()
        z = mu[:, :, None, :] + std[:, :, None, :] * noise[:, None]  # E,N,S,L
        log_q = -0.5 * (_LOG_2PI + log_var[:, :, None, :] + noise[:, None] ** 2).sum(-1)
        log_prior = -0.5 * (_LOG_2PI + z**2).sum(-1)
        log_w = self.log_px_given_z(x[:, :, None, :], z) + log_prior - log_q
        return torch.logsumexp(log_w.double(), dim=-1) - math.log(noise.shape[1])

    def unstack(self):
        """A plain :class:`VAEModule` per member, on the CPU."""
        members = []
        for e in range(self.n_models):
            with torch.device("meta"):  # no initialisation, no random draws
                module = VAEModule(
                    self.n_features,
                    self.latent_dim,
                    self.hidden_layer_sizes,
                    self.likelihood,
                )
            module = module.to_empty(device="cpu").train(self.training)
            self.encoder.unstack_into(e, module.encoder)
            self.decoder.unstack_into(e, module.decoder)
            members.append(module)
        return members


@torch.no_grad()
def sample(module, n_samples, seed):
    """Draw from the module: z ~ N(0, I), then x ~ p(x | z)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((n_samples, module.latent_dim), generator=g)
    out = module.decoder(z)
    if module.likelihood == "bernoulli":
        return torch.bernoulli(torch.sigmoid(out), generator=g).numpy().astype(float)
    mean, log_var = out.chunk(2, dim=-1)
    std = (0.5 * log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR)).exp()
    return (mean + std * torch.randn(mean.shape, generator=g)).numpy().astype(float)
