"""The exact log-likelihood of the probability-flow ODE (Song et al., 2021).

In log-SNR time the probability-flow ODE of the variance-preserving diffusion
is ``dz/dlam = sigma (sigma z - eps_hat(z, lam)) / 2``, which carries the data
(at ``lam_max``) to the prior (at ``lam_min``) and back, and along a path
``d log p_lam(z_lam) / dlam = -div(dz/dlam)``. So

    log p(x) = log p_min(z(lam_min)) + int_{lam_max}^{lam_min} div v dlam
               + D log alpha_max

with ``z(lam_max) = alpha_max x``. The divergence of the Gaussian reference's
part is exact; that of the network's residual is Hutchinson's estimate
``e . (J_r e)`` with a standard-normal probe ``e`` (a forward-mode
Jacobian-vector product, ``torch.func.jvp``). The prior ``p_min`` is the
reference's marginal ``N(alpha loc, alpha^2 scale^2 + sigma^2)``. The solver is
torchdiffeq's (an optional extra), adaptive (dopri5) by default.

Each Monte Carlo draw ``j`` solves its own ODE: its probe, and with pixel
levels its own dequantization. The estimate is unbiased for log p of the
dequantized row given the draw, up to the solver's tolerance.
"""

import math
import warnings

import torch

from ._objectives import _align, alpha_sigma

_LOG_2PI = math.log(2 * math.pi)


def torchdiffeq_odeint():
    try:
        from torchdiffeq import odeint
    except ImportError as exc:
        raise ImportError(
            "likelihood='ode' needs torchdiffeq, which is not installed: "
            "pip install 'skmem[diffusion]' (or pip install torchdiffeq)."
        ) from exc
    return odeint


def ode_log_likelihood(module, x, noise, *, rtol=1e-5, atol=1e-5, method="dopri5"):
    """log p(x) of rows x (N, D) from each of the draws noise (..., J, width):
    (..., N, J) in float64, one ODE solve per draw (all solved as one system).

    ``module`` follows :class:`~._objectives.DiffusionObjectives` (an ensemble of
    E models when ``noise`` has a leading E axis).
    """
    odeint = torchdiffeq_odeint()
    lam_min, lam_max = module.log_snr_range
    n_rows, n_draws, D = x.shape[-2], noise.shape[-2], module.n_features
    lead = noise.shape[:-2]
    x = x.expand(*lead, *x.shape[-2:])[..., :, None, :]
    noise = noise[..., None, :, :]
    y, log_jacobian = module._dequantize(x, noise)  # (..., N, J, D)
    y = y.expand(*lead, n_rows, n_draws, D).double()
    probe = torch.sign(noise[..., 1 : 1 + D]).expand_as(y).double()  # Rademacher
    loc, log_scale = (_align(t, y.ndim).double() for t in module.reference())
    scale2 = torch.exp(2 * log_scale)
    dtype = next(module.parameters()).dtype

    def residual(z, lam):
        return module.residual(z.to(dtype), lam.to(dtype)).double()

    def drift(lam, state):
        z = state[0]
        alpha, sigma = alpha_sigma(lam)
        lam_rows = lam.expand(z.shape[:-1]).to(dtype)
        r, jr = torch.func.jvp(
            lambda w: module.residual(w, lam_rows), (z.to(dtype),), (probe.to(dtype),)
        )
        r, jr = r.double(), jr.double()
        eps_ref = sigma * (z - alpha * loc) / (alpha**2 * scale2 + sigma**2)
        v = 0.5 * sigma * (sigma * z - eps_ref - r)
        # div of the reference part, exactly; Hutchinson's estimate for r.
        ref_div = 0.5 * sigma * (sigma - sigma / (alpha**2 * scale2 + sigma**2))
        div = ref_div.sum(-1) - 0.5 * sigma * (probe * jr).sum(-1)
        return v, div

    alpha_max, _ = alpha_sigma(torch.tensor(lam_max, dtype=torch.float64))
    z0 = alpha_max * y
    acc0 = torch.zeros(z0.shape[:-1], dtype=torch.float64, device=z0.device)
    times = torch.tensor([lam_max, lam_min], dtype=torch.float64, device=z0.device)
    with torch.no_grad(), warnings.catch_warnings():
        # torchdiffeq's own use of torch.jit.script, deprecated in torch 2.13.
        warnings.filterwarnings("ignore", ".*torch.jit.script", DeprecationWarning)
        z_path, acc_path = odeint(
            drift, (z0, acc0), times, rtol=rtol, atol=atol, method=method
        )
    z_end, acc_end = z_path[-1], acc_path[-1]
    alpha_min, sigma_min = alpha_sigma(times[-1])
    var = alpha_min**2 * scale2 + sigma_min**2
    gap = z_end - alpha_min * loc
    log_prior = -0.5 * (_LOG_2PI + torch.log(var) + gap**2 / var)
    log_p = log_prior.sum(-1) + acc_end + D * torch.log(alpha_max)
    return log_p + log_jacobian
