"""The MLP denoiser of :class:`~skmem.DiffusionDensity`, TorchDensity style.

``loss(x, noise)`` is the one-draw negative ELBO of
:mod:`._objectives`; ``log_likelihood(x, noise)`` the ELBO from a fixed set of
Monte Carlo draws shared by every row. The network predicts the residual of
the denoiser against a learned diagonal Gaussian (``loc``, ``log_scale``), from
the noisy row and Fourier features of the log-SNR.

Like the VAE, it has the hand-batched form of the module contract
(``DiffusionMLPModule.stack``): E denoisers whose layers hold stacked weights,
each layer one ``torch.baddbmm``. A single model is the same code with E = 1.
"""

import math

import torch
from torch import nn

from ..vae._model import EnsembleMLP, _copy_members
from ._objectives import DiffusionObjectives

N_FREQUENCIES = 8  # Fourier features of the log-SNR: sin and cos of pi k tau


def time_features(lam, log_snr_range):
    """``tau``, then ``sin(pi k tau)`` and ``cos(pi k tau)`` for k = 1..8, where
    ``tau`` in [0, 1] is the position of ``lam`` in the log-SNR range."""
    lam_min, lam_max = log_snr_range
    tau = ((lam - lam_min) / (lam_max - lam_min))[..., None]
    k = torch.arange(1, N_FREQUENCIES + 1, dtype=lam.dtype, device=lam.device)
    angles = math.pi * k * tau
    return torch.cat([tau, torch.sin(angles), torch.cos(angles)], dim=-1)


class EnsembleDiffusionMLP(DiffusionObjectives, nn.Module):
    """E independent MLP diffusion models.

    ``loss(x, noise)``: x (E, B, D), noise (E, B, width), the negative ELBO
    (E, B). ``log_likelihood(x, noise)``: rows (N, D) shared by every model and
    noise (E, J, width), the ELBO (E, N) in float64.
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes,
        n_models,
        log_snr_range=(-10.0, 10.0),
        n_levels=None,
        logit_alpha=0.05,
        likelihood="elbo",
        ode_tolerance=1e-5,
        time_sampling="uniform",
    ):
        super().__init__()
        self.keep_options(
            n_features,
            log_snr_range,
            n_levels,
            logit_alpha,
            likelihood,
            ode_tolerance,
            time_sampling,
        )
        self.hidden_layer_sizes = tuple(hidden_layer_sizes)
        self.n_models = n_models
        width = n_features + 1 + 2 * N_FREQUENCIES
        sizes = [width, *self.hidden_layer_sizes, n_features]
        self.network = EnsembleMLP(sizes, n_models, activation="silu")
        self.loc = nn.Parameter(torch.zeros(n_models, n_features))
        self.log_scale = nn.Parameter(torch.zeros(n_models, n_features))
        self.register_proposal(n_models)

    def reference(self):
        return self.loc, self.log_scale

    def residual(self, z, lam):
        E, D = z.shape[0], z.shape[-1]
        inputs = torch.cat([z, time_features(lam, self.log_snr_range)], dim=-1)
        out = self.network(inputs.reshape(E, -1, inputs.shape[-1]))
        return out.reshape(*z.shape[:-1], D)

    def reset_parameters(self, generator):
        """Initial weights from ``generator``; the last layer starts at zero, so
        that a new model is its Gaussian reference."""
        self.network.reset_parameters(generator)
        with torch.no_grad():
            self.network.weights[-1].zero_()
            self.network.biases[-1].zero_()
            for tensor in (self.loc, self.log_scale, *self.buffers()):
                tensor.zero_()
        return self

    def unstack(self):
        """A :class:`DiffusionMLPModule` per member, on the CPU."""
        members = []
        for e in range(self.n_models):
            module = _empty_like(self, "cpu").train(self.training)
            _copy_members(module, self, [(0, e)])
            members.append(module)
        return members


def _empty_like(module, device, n_models=None):
    """An uninitialised model shaped like ``module``: a DiffusionMLPModule, or
    an EnsembleDiffusionMLP of ``n_models``."""
    options = dict(
        log_snr_range=module.log_snr_range,
        n_levels=module.n_levels,
        logit_alpha=module.logit_alpha,
        likelihood=module.likelihood,
        ode_tolerance=module.ode_tolerance,
        time_sampling=module.time_sampling,
    )
    with torch.device("meta"):
        if n_models is None:
            empty = DiffusionMLPModule(
                module.n_features, module.hidden_layer_sizes, **options
            )
        else:
            empty = EnsembleDiffusionMLP(
                module.n_features, module.hidden_layer_sizes, n_models, **options
            )
    return empty.to_empty(device=device)


class DiffusionMLPModule(EnsembleDiffusionMLP):
    """One MLP diffusion model, with the TorchDensity module contract.

    ``loss(x, noise)``: x (N, D), noise (N, width), the one-draw negative ELBO
    (N,). ``log_likelihood(x, noise)``: x (N, D), noise (J, width), the ELBO
    (N,) from J draws shared by the rows.
    """

    def __init__(
        self,
        n_features,
        hidden_layer_sizes,
        log_snr_range=(-10.0, 10.0),
        n_levels=None,
        logit_alpha=0.05,
        likelihood="elbo",
        ode_tolerance=1e-5,
        time_sampling="uniform",
    ):
        super().__init__(
            n_features,
            hidden_layer_sizes,
            1,
            log_snr_range=log_snr_range,
            n_levels=n_levels,
            logit_alpha=logit_alpha,
            likelihood=likelihood,
            ode_tolerance=ode_tolerance,
            time_sampling=time_sampling,
        )

    def loss(self, x, noise):
        return super().loss(x[None], noise[None])[0]

    def log_likelihood_draws(self, x, noise):
        return super().log_likelihood_draws(x, noise[None])[0]

    def denoise(self, z, lam):
        """``eps_hat`` for z (N, D) at log-SNR lam (N,)."""
        from ._objectives import reference_denoiser

        loc, log_scale = self.loc[0], self.log_scale[0]
        return (
            reference_denoiser(z, lam, loc, log_scale)
            + self.residual(z[None], lam[None])[0]
        )

    @classmethod
    def stack(cls, modules):
        """E modules as one :class:`EnsembleDiffusionMLP` (the batched form)."""
        first = modules[0]
        device = next(first.parameters()).device
        stacked = _empty_like(first, device, n_models=len(modules))
        for k, module in enumerate(modules):
            _copy_members(stacked, module, [(k, 0)])
        return stacked
