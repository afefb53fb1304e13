"""The convolutional module of :class:`~skmem.VAEDensity` (``architecture="conv"``).

A DCGAN-style VAE, as in the convolutional VAEs of van den Burg & Williams
(2021): strided 4x4 convolutions halve the image while the channels double,
a linear layer maps to the latent Gaussian, and the decoder mirrors the encoder
with transposed convolutions. No batch normalisation: a row's likelihood must
not depend on the other rows of its batch (the TorchDensity contract).

The module reads flattened rows (N, C * H * W) and has the plain TorchDensity
contract (``loss(x, noise)``, ``log_likelihood(x, noise)``); the batched engine
runs E copies of it under ``torch.func.vmap``, which batches the convolutions
as grouped convolutions.
"""

import math

import torch
from torch import nn

from ._model import ENCODER_LOG_VAR, VAEObjectives, decoder_log_likelihood

_KERNEL, _STRIDE, _PADDING = 4, 2, 1


def n_downsamplings(input_shape):
    """Strided layers for ``input_shape``: halve until a side is 4 (at least 2)."""
    _, height, width = input_shape
    return max(2, int(math.log2(max(1, min(height, width) // 4))))


def check_input_shape(input_shape, n_features):
    """A clear error when ``input_shape`` does not fit X or the architecture."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            "input_shape must be (channels, height, width), e.g. (1, 8, 8); got "
            f"{input_shape!r}."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"input_shape={shape} has {math.prod(shape)} pixels but X has "
            f"{n_features} features; give each image as one flattened row "
            "(channels first, as torchvision does)."
        )
    factor = 2 ** n_downsamplings(shape)
    if shape[1] % factor or shape[2] % factor:
        raise ValueError(
            f"architecture='conv' halves the image {n_downsamplings(shape)} times, "
            f"so height and width must be multiples of {factor}; got {shape[1:]}. "
            "Pad or crop the images, or use architecture='mlp'."
        )
    return shape


class ConvVAEModule(VAEObjectives, nn.Module):
    """One convolutional VAE with the TorchDensity module contract.

    ``loss(x, noise)``: x (N, C*H*W), noise (N, L), the negative ELBO (N,).
    ``log_likelihood(x, noise)``: x (N, C*H*W), noise (S, L), the
    importance-weighted log p(x) (N,), in float64.
    """

    def __init__(
        self,
        input_shape,
        latent_dim,
        n_filters,
        likelihood,
        n_levels=None,
        logit_alpha=0.05,
    ):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.latent_dim = latent_dim
        self.n_filters = n_filters
        self.likelihood = likelihood
        self.n_levels = n_levels
        self.logit_alpha = logit_alpha
        channels, height, width = self.input_shape
        pixels = channels * height * width if n_levels else 0
        self.loss_noise_shape = (latent_dim + pixels,)
        n_layers = n_downsamplings(self.input_shape)
        widths = [channels] + [n_filters * 2**i for i in range(n_layers)]
        self.code_shape = (widths[-1], height >> n_layers, width >> n_layers)
        code = math.prod(self.code_shape)

        def conv(a, b):
            return nn.Conv2d(a, b, _KERNEL, _STRIDE, _PADDING)

        def deconv(a, b):
            return nn.ConvTranspose2d(a, b, _KERNEL, _STRIDE, _PADDING)

        down = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            down += [conv(a, b), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(
            *down, nn.Flatten(), nn.Linear(code, 2 * latent_dim)
        )
        out = channels * (2 if likelihood == "gaussian" else 1)
        up = []
        reverse = widths[::-1]
        for a, b in zip(reverse[:-2], reverse[1:-1], strict=True):
            up += [deconv(a, b), nn.ReLU()]
        self.decoder_input = nn.Linear(latent_dim, code)
        self.decoder = nn.Sequential(*up, deconv(reverse[-2], out))

    def reset_parameters(self, generator):
        """``torch.nn``'s default initialisation, drawn from ``generator``.

        U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for every weight and bias, layer by
        layer: the encoder's, then the decoder's.
        """
        with torch.no_grad():
            for layer in self.modules():
                if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                    bound = 1.0 / math.sqrt(fan_in)
                    for p in (layer.weight, layer.bias):
                        p.copy_(
                            (torch.rand(p.shape, generator=generator) * 2 - 1) * bound
                        )
        return self

    def encode_rows(self, x):
        """mu and log_var (..., L) of rows x (..., C*H*W)."""
        code = self.encoder(x.reshape(-1, *self.input_shape))
        mu, log_var = code.reshape(*x.shape[:-1], -1).chunk(2, dim=-1)
        return mu, log_var.clamp(*ENCODER_LOG_VAR)

    def decode(self, z):
        """Decoder output for latents (..., L): (..., D), or (..., 2D) if Gaussian."""
        batch = z.shape[:-1]
        h = self.decoder_input(z.reshape(-1, self.latent_dim)).relu()
        out = self.decoder(h.reshape(-1, *self.code_shape))
        channels = out.shape[1] // self.input_shape[0]
        # (B, k*C, H, W) -> (B, k, C*H*W): a Gaussian's means, then log-variances.
        out = out.reshape(out.shape[0], channels, -1)
        return out.reshape(*batch, -1)

    def log_px_given_z(self, x, z):
        return decoder_log_likelihood(self.decode(z), x, self.likelihood)

    def loss(self, x, noise):
        return self.negative_elbo(x, noise)

    def log_likelihood(self, x, noise):
        return self.importance_weighted(x, noise)
