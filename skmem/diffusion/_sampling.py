"""Ancestral sampling from a diffusion module (Kingma et al., 2021, eq. 32).

From log-SNR ``lam_t`` to ``lam_s > lam_t``, with ``c = 1 - exp(lam_t - lam_s)``:
``z_s = alpha_s / alpha_t (z_t - c sigma_t eps_hat) + sqrt(c) sigma_s e``; at
the data end, ``x = (z - sigma eps_hat) / alpha``.
"""

import torch

from ._objectives import alpha_sigma


@torch.no_grad()
def sample(module, n_samples, seed, n_steps):
    g = torch.Generator().manual_seed(seed)
    lam_min, lam_max = module.log_snr_range
    grid = torch.linspace(lam_min, lam_max, n_steps + 1)
    loc, log_scale = (t.reshape(-1) for t in module.reference())
    alpha, sigma = alpha_sigma(grid[0])
    std = torch.sqrt(alpha**2 * torch.exp(2 * log_scale) + sigma**2)
    z = alpha * loc + std * torch.randn((n_samples, module.n_features), generator=g)
    for lam_t, lam_s in zip(grid[:-1], grid[1:], strict=True):
        eps_hat = module.denoise(z, lam_t.expand(n_samples))
        (alpha_t, sigma_t), (alpha_s, sigma_s) = alpha_sigma(lam_t), alpha_sigma(lam_s)
        c = -torch.expm1(lam_t - lam_s)
        z = alpha_s / alpha_t * (z - c * sigma_t * eps_hat)
        z = z + torch.sqrt(c) * sigma_s * torch.randn(z.shape, generator=g)
    eps_hat = module.denoise(z, grid[-1].expand(n_samples))
    alpha, sigma = alpha_sigma(grid[-1])
    x = (z - sigma * eps_hat) / alpha
    if module.n_levels is not None:  # back from logit space to the levels
        a = module.logit_alpha
        u = (torch.sigmoid(x) - a) / (1 - 2 * a)
        x = (u * module.n_levels).floor().clamp(0, module.n_levels - 1)
    return x.numpy().astype(float)
