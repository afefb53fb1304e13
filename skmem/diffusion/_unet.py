"""The U-Net denoiser of :class:`~skmem.DiffusionDensity`, for images.

Two levels: at full resolution ``n_filters`` channels, at half resolution
``2 n_filters``; each level two 3x3 convolutions with SiLU, the log-SNR's
Fourier features added to the first one's output through a linear map; average
pooling down, nearest-neighbour upsampling up, and the full-resolution
features carried across (the skip connection of a U-Net). Like the MLP, it
predicts the residual of the denoiser against a learned diagonal Gaussian,
and its last layer starts at zero.

A plain module with the TorchDensity contract: the batched engine runs E of
them with ``torch.func.vmap``.
"""

import torch
from torch import nn
from torch.nn import functional as F

from ..vae._model import _uniform
from ._mlp import N_FREQUENCIES, time_features
from ._objectives import DiffusionObjectives, reference_denoiser


def check_input_shape(input_shape, n_features):
    """``input_shape`` as 3 ints that hold ``n_features`` values, or a clear error."""
    shape = tuple(int(s) for s in input_shape) if len(input_shape) == 3 else None
    if shape is None or min(shape) < 1:
        raise ValueError(
            "input_shape must be (channels, height, width), e.g. (1, 8, 8); got "
            f"{input_shape!r}."
        )
    channels, height, width = shape
    if channels * height * width != n_features:
        raise ValueError(
            f"input_shape={shape} holds {channels * height * width} values per "
            f"image, but X has {n_features} columns. Give each image as one row, "
            "flattened channels first (images.reshape(len(images), -1))."
        )
    if height % 2 or width % 2:
        raise ValueError(
            f"The U-Net halves the image once: height and width must be even; got "
            f"input_shape={shape}. Pad the images by a row or a column."
        )
    return shape


class DiffusionUNetModule(DiffusionObjectives, nn.Module):
    """One U-Net diffusion model over images of ``input_shape`` (flattened rows).

    ``loss(x, noise)``: x (N, D), noise (N, width), the one-draw negative ELBO
    (N,). ``log_likelihood(x, noise)``: x (N, D), noise (J, width), the ELBO
    (N,) from J draws shared by the rows.
    """

    def __init__(
        self,
        input_shape,
        n_filters=32,
        log_snr_range=(-10.0, 10.0),
        n_levels=None,
        logit_alpha=0.05,
        likelihood="elbo",
        ode_tolerance=1e-5,
        time_sampling="uniform",
    ):
        super().__init__()
        self.input_shape = tuple(input_shape)
        channels = self.input_shape[0]
        self.keep_options(
            int(torch.Size(self.input_shape).numel()),
            log_snr_range,
            n_levels,
            logit_alpha,
            likelihood,
            ode_tolerance,
            time_sampling,
        )
        self.n_filters = n_filters
        f = n_filters
        n_time = 1 + 2 * N_FREQUENCIES
        self.time1 = nn.Linear(n_time, f)
        self.time2 = nn.Linear(n_time, 2 * f)
        self.down1a = nn.Conv2d(channels, f, 3, padding=1)
        self.down1b = nn.Conv2d(f, f, 3, padding=1)
        self.mid_a = nn.Conv2d(f, 2 * f, 3, padding=1)
        self.mid_b = nn.Conv2d(2 * f, 2 * f, 3, padding=1)
        self.up_a = nn.Conv2d(3 * f, f, 3, padding=1)
        self.out = nn.Conv2d(f, channels, 3, padding=1)
        self.loc = nn.Parameter(torch.zeros(self.n_features))
        self.log_scale = nn.Parameter(torch.zeros(self.n_features))
        self.register_proposal()

    def reference(self):
        return self.loc, self.log_scale

    def residual(self, z, lam):
        lead = z.shape[:-1]
        h0 = z.reshape(-1, *self.input_shape)
        t = time_features(lam.reshape(-1), self.log_snr_range)
        h1 = F.silu(self.down1a(h0) + self.time1(t)[:, :, None, None])
        h1 = F.silu(self.down1b(h1))
        h2 = F.silu(self.mid_a(F.avg_pool2d(h1, 2)) + self.time2(t)[:, :, None, None])
        h2 = F.silu(self.mid_b(h2))
        up = F.interpolate(h2, scale_factor=2, mode="nearest")
        h = F.silu(self.up_a(torch.cat([up, h1], dim=1)))
        return self.out(h).reshape(*lead, self.n_features)

    def denoise(self, z, lam):
        """``eps_hat`` for z (N, D) at log-SNR lam (N,)."""
        return reference_denoiser(z, lam, self.loc, self.log_scale) + self.residual(
            z, lam
        )

    def reset_parameters(self, generator):
        """``nn.Conv2d``'s and ``nn.Linear``'s initial ranges, from ``generator``;
        the last layer at zero, so that a new model is its Gaussian reference."""
        with torch.no_grad():
            for layer in (self.time1, self.time2, self.down1a, self.down1b):
                self._reset(layer, generator)
            for layer in (self.mid_a, self.mid_b, self.up_a):
                self._reset(layer, generator)
            zeros = (self.out.weight, self.out.bias, self.loc, self.log_scale)
            for tensor in (*zeros, *self.buffers()):
                tensor.zero_()
        return self

    @staticmethod
    def _reset(layer, generator):
        fan_in = layer.weight[0].numel()
        layer.weight.copy_(_uniform(layer.weight.shape, fan_in, generator))
        layer.bias.copy_(_uniform(layer.bias.shape, fan_in, generator))
