"""Bring your own denoiser: any ``eps(x_t, t)`` network and noise schedule.

A researcher's denoiser (a ``diffusers`` ``UNet2DModel``, or any module called
as ``net(x_t, t)`` that predicts the noise) is trained and scored by
:class:`~skmem.DiffusionDensity` with ``denoiser=`` and ``schedule=``, without
rewriting it. The schedule is the discrete ``alphas_cumprod`` of the noise
schedule the network was built for (``scheduler.alphas_cumprod`` in
diffusers): timestep ``k`` has log-SNR ``log(abar_k / (1 - abar_k))``, and a
continuous log-SNR between two timesteps is given to the network as the
fractional timestep between them (linear interpolation), which sinusoidal
timestep embeddings accept. The log-SNR range is the schedule's.

The network predicts ``eps_hat`` itself; the Gaussian of the built-in models
is here a fixed standard normal, a control variate of the Monte Carlo estimate
only (see :mod:`._objectives`).
"""

import numpy as np
import torch
from torch import nn

from ._objectives import DiffusionObjectives, reference_denoiser


def schedule_log_snr(schedule):
    """The log-SNR of each timestep of ``schedule``, decreasing, as float64.

    ``schedule`` is a diffusers scheduler (anything with ``alphas_cumprod``) or
    the array of cumulative products of alphas itself.
    """
    values = getattr(schedule, "alphas_cumprod", schedule)
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    abar = np.asarray(values, dtype=np.float64).ravel()
    if (
        abar.size < 2
        or not np.isfinite(abar).all()
        or (abar <= 0).any()
        or (abar >= 1).any()
        or (np.diff(abar) >= 0).any()
    ):
        raise ValueError(
            "schedule must be a diffusers scheduler or its alphas_cumprod: at least "
            "two values in (0, 1), strictly decreasing with the timestep (e.g. "
            "diffusers.DDPMScheduler(num_train_timesteps=1000).alphas_cumprod)."
        )
    return np.log(abar) - np.log1p(-abar)


class AdaptedDenoiserModule(DiffusionObjectives, nn.Module):
    """A user's ``eps(x_t, t)`` network with the TorchDensity module contract.

    Parameters
    ----------
    denoiser : type
        An ``nn.Module`` class, built as ``denoiser(**denoiser_params)`` from
        torch's (forked and seeded) global generator. Called as
        ``net(x_t, timesteps)`` with ``x_t`` of shape ``(B, *input_shape)`` (or
        (B, D) without ``input_shape``) and float timesteps (B,); returns the
        noise prediction of the shape of ``x_t``, or an object whose
        ``sample`` attribute (diffusers) or first element holds it.
    log_snr : array-like
        The log-SNR of each timestep, decreasing (:func:`schedule_log_snr`).
    """

    def __init__(
        self,
        denoiser,
        denoiser_params,
        log_snr,
        n_features,
        input_shape=None,
        n_levels=None,
        logit_alpha=0.05,
        likelihood="elbo",
        ode_tolerance=1e-5,
        time_sampling="uniform",
    ):
        super().__init__()
        self.net = denoiser(**(denoiser_params or {}))
        self.input_shape = None if input_shape is None else tuple(input_shape)
        log_snr = torch.as_tensor(np.asarray(log_snr), dtype=torch.float32)
        # Increasing in -lam, for searchsorted; the timesteps are 0..T-1.
        self.register_buffer("neg_log_snr", -log_snr, persistent=False)
        self.keep_options(
            n_features,
            (float(log_snr[-1]), float(log_snr[0])),
            n_levels,
            logit_alpha,
            likelihood,
            ode_tolerance,
            time_sampling,
        )
        self.register_buffer("loc", torch.zeros(n_features), persistent=False)
        self.register_buffer("log_scale", torch.zeros(n_features), persistent=False)
        self.register_proposal()

    def reference(self):
        return self.loc, self.log_scale

    def timesteps(self, lam):
        """The fractional timestep of each log-SNR in ``lam`` (any shape)."""
        grid = self.neg_log_snr
        flat = (-lam).reshape(-1).to(grid.dtype).contiguous()
        upper = torch.searchsorted(grid, flat).clamp(1, grid.shape[0] - 1)
        lo, hi = grid[upper - 1], grid[upper]
        frac = ((flat - lo) / (hi - lo)).clamp(0.0, 1.0)
        return (upper - 1).to(flat.dtype) + frac

    def denoise(self, z, lam):
        """``eps_hat`` for z (..., D) at log-SNR lam (...)."""
        lead = z.shape[:-1]
        inputs = z.reshape(-1, *(self.input_shape or (self.n_features,)))
        out = self.net(inputs, self.timesteps(lam))
        if hasattr(out, "sample"):
            out = out.sample
        elif isinstance(out, (tuple, list)):
            out = out[0]
        return out.reshape(*lead, self.n_features)

    def residual(self, z, lam):
        return self.denoise(z, lam) - reference_denoiser(
            z, lam, self.loc, self.log_scale
        )
