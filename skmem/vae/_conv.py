"""The convolutional module of :class:`~skmem.VAEDensity` (``architecture="conv"``).

A DCGAN-style VAE, as in the convolutional VAEs of van den Burg & Williams
(2021): strided 4x4 convolutions halve the image while the channels double,
a linear layer maps to the latent Gaussian, and the decoder mirrors the encoder
with transposed convolutions. No batch normalisation: a row's likelihood must
not depend on the other rows of its batch (the TorchDensity contract).

The module reads flattened rows (N, C * H * W) and has the plain TorchDensity
contract (``loss(x, noise)``, ``log_likelihood(x, noise)``) on ``nn.Conv2d``
and ``nn.ConvTranspose2d`` layers: what ``VAEDensity.fit`` and the generic
engine train.

The batched engine trains E of them in its hand-batched form
(``ConvVAEModule.stack``, an :class:`EnsembleConvVAE`), not under
``torch.func.vmap``: vmap turns each convolution into a grouped convolution,
whose CPU kernels are slow at these sizes, above all in the backward pass. A
strided layer on small maps is instead one ``torch.baddbmm`` over the E models
with the layer's dense (Toeplitz) matrix, gathered from the kernels through a
fixed index. On 1x8x8 digits that trains and scores 10 fold models about 4x
faster than the generic engine trains them one by one
(``benchmarks/bench_conv.py``). Layers on larger maps, whose dense matrix
would be mostly zeros, stay grouped convolutions. Both forms hold the same
parameters, so a model is the same, up to float rounding, whichever trains it.
"""

import functools
import math

import torch
from torch import nn

from ._model import (
    ENCODER_LOG_VAR,
    EnsembleObjectives,
    VAEObjectives,
    decoder_log_likelihood,
)

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
        self.widths = tuple(widths)  # the channels entering each strided layer
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

    @classmethod
    def stack(cls, modules):
        """E modules as one :class:`EnsembleConvVAE` (the optional batched form)."""
        device = next(modules[0].parameters()).device
        stacked = _empty_like(modules[0], len(modules), device)
        for k, module in enumerate(modules):
            _copy((p[k] for p in stacked.params), module.parameters())
        return stacked


# -- the hand-batched form ---------------------------------------------------
# The activations of E models are rows (E, N, C*H*W), channels first as
# nn.Flatten reads them. A strided layer whose dense (Toeplitz) matrix is small
# is one torch.baddbmm with that matrix, gathered from the kernels through a
# fixed index: no grouped convolution (slow on a CPU, its backward above all)
# and no im2col. A larger layer, where that matrix would be mostly zeros and
# its gather and scatter too costly, runs as the grouped convolution that
# vmap would run. (im2col with ``unfold`` and ``fold`` and one batched matmul
# per layer was slower than both: torch's CPU im2col and col2im loop over the
# E * N images, and the backward of ``Tensor.unfold`` is slow.)

#: Entries (per model) of the largest dense layer matrix; above, grouped.
DENSE_ENTRIES = 2**16


@functools.cache
def _dense_index(channels, in_size, transposed, device):
    """Where each entry of a strided layer's dense (in, out) matrix sits in
    its flattened weight, ``channels`` = weight.shape[1:3]; the entries off the
    kernel's support point one past the end (a zero)."""
    with torch.inference_mode(False):  # cached: must serve training too
        return _build_dense_index(channels, in_size, transposed).to(device)


def _build_dense_index(channels, in_size, transposed):
    a, b = channels
    big = tuple(2 * s for s in in_size) if transposed else in_size
    eye = torch.eye(math.prod(big)).reshape(-1, 1, *big)
    # unfold(eye)[p, t, q] = 1: kernel tap t joins pixel p of the larger map
    # to pixel q of the smaller one.
    taps = nn.functional.unfold(eye, _KERNEL, padding=_PADDING, stride=_STRIDE)
    n_big, n_taps, n_small = taps.shape
    p, t, q = torch.nonzero(taps, as_tuple=True)
    i, j = torch.arange(a)[:, None, None], torch.arange(b)[None, :, None]
    if transposed:  # weight (in = i, out = j, tap)
        row, column, shape = i * n_small + q, j * n_big + p, (a * n_small, b * n_big)
    else:  # weight (out = i, in = j, tap)
        row, column, shape = j * n_big + p, i * n_small + q, (b * n_big, a * n_small)
    index = torch.full(shape, a * b * n_taps, dtype=torch.long)
    index[row, column] = (i * b + j) * n_taps + t
    return index.flatten()


def strided_layer(x, weight, bias, in_shape, transposed=False):
    """E strided convolutions (4x4 kernels, stride 2, padding 1), or E
    transposed ones, of rows x (E, N, C*H*W) with (C, H, W) = ``in_shape``.

    ``weight`` is (E, C_out, C, k, k) as nn.Conv2d holds it, or (E, C, C_out,
    k, k) as nn.ConvTranspose2d does; ``bias`` (E, C_out). Returns rows
    (E, N, C_out*H'*W'), channels first.
    """
    E, N, n_in = x.shape
    channels, height, width = in_shape
    c_out = weight.shape[2 if transposed else 1]
    n_out = height * width * 4 if transposed else height * width // 4
    if n_in * c_out * n_out <= DENSE_ENTRIES:
        index = _dense_index(
            tuple(weight.shape[1:3]), (height, width), transposed, weight.device
        )
        flat = nn.functional.pad(weight.reshape(E, -1), (0, 1))
        matrix = flat.index_select(1, index).reshape(E, n_in, c_out * n_out)
        rows_bias = bias[:, :, None].expand(E, c_out, n_out).reshape(E, 1, -1)
        return torch.baddbmm(rows_bias, x, matrix)
    layer = nn.functional.conv_transpose2d if transposed else nn.functional.conv2d
    grouped = x.transpose(0, 1).reshape(N, E * channels, height, width)
    out = layer(
        grouped, weight.flatten(0, 1), bias.flatten(), _STRIDE, _PADDING, groups=E
    )
    return out.reshape(N, E, -1).transpose(0, 1)


class EnsembleConvVAE(EnsembleObjectives, nn.Module):
    """E independent conv VAEs, each layer one batched operation over the models.

    ``loss`` takes x (E, B, C*H*W) and noise (E, B, ...); ``log_likelihood``
    rows (N, C*H*W) shared by every model and noise (E, S, ...), and returns
    (E, N) in float64. The parameters are those of :class:`ConvVAEModule`, in
    its order, stacked on a leading axis of E, so that
    :meth:`ConvVAEModule.stack` and :meth:`unstack` are plain copies.
    """

    def __init__(
        self,
        input_shape,
        latent_dim,
        n_filters,
        likelihood,
        n_models,
        n_levels=None,
        logit_alpha=0.05,
    ):
        super().__init__()
        with torch.device("meta"):  # the plain module's shapes, no draws
            single = ConvVAEModule(
                input_shape, latent_dim, n_filters, likelihood, n_levels, logit_alpha
            )
        for name in (
            "input_shape latent_dim n_filters likelihood n_levels logit_alpha "
            "loss_noise_shape code_shape widths"
        ).split():
            setattr(self, name, getattr(single, name))
        self.n_models = n_models
        self.params = nn.ParameterList(
            nn.Parameter(torch.empty(n_models, *p.shape)) for p in single.parameters()
        )
        # The (C, H, W) entering each strided layer, encoder then decoder.
        _, height, width = self.input_shape
        shapes = [(c, height >> i, width >> i) for i, c in enumerate(self.widths)]
        self.down_shapes, self.up_shapes = shapes[:-1], shapes[:0:-1]

    def encode_rows(self, x):
        """mu and log_var (E, ..., L) of rows x (E, ..., C*H*W)."""
        h = x.reshape(x.shape[0], -1, x.shape[-1])
        params = iter(self.params)
        for in_shape in self.down_shapes:
            h = strided_layer(h, next(params), next(params), in_shape)
            h = nn.functional.leaky_relu(h, 0.2)
        weight, bias = next(params), next(params)
        code = torch.baddbmm(bias[:, None], h, weight.mT)
        mu, log_var = code.reshape(*x.shape[:-1], -1).chunk(2, dim=-1)
        return mu, log_var.clamp(*ENCODER_LOG_VAR)

    def decode(self, z):
        """Decoder output for latents (E, ..., L): (E, ..., D), or (E, ..., 2D)."""
        params = iter(self.params[2 * len(self.down_shapes) + 2 :])
        weight, bias = next(params), next(params)
        h = z.reshape(z.shape[0], -1, z.shape[-1])
        h = torch.baddbmm(bias[:, None], h, weight.mT)
        for in_shape in self.up_shapes:
            h = strided_layer(h.relu(), next(params), next(params), in_shape, True)
        # Rows (k*C, H, W): a Gaussian's means, then log-variances, as decode's.
        return h.reshape(*z.shape[:-1], -1)

    def log_px_given_z(self, x, z):
        return decoder_log_likelihood(self.decode(z), x, self.likelihood)

    def unstack(self):
        """A :class:`ConvVAEModule` per member, on the CPU."""
        members = []
        for e in range(self.n_models):
            module = _empty_like(self).train(self.training)
            _copy(module.parameters(), (p[e] for p in self.params))
            members.append(module)
        return members


def _empty_like(module, n_models=None, device="cpu"):
    """An uninitialised conv VAE shaped like ``module``: a ConvVAEModule, or an
    EnsembleConvVAE of ``n_models``."""
    args = (module.input_shape, module.latent_dim, module.n_filters, module.likelihood)
    pixels = dict(n_levels=module.n_levels, logit_alpha=module.logit_alpha)
    with torch.device("meta"):  # no initialisation, no random draws
        if n_models is None:
            empty = ConvVAEModule(*args, **pixels)
        else:
            empty = EnsembleConvVAE(*args, n_models, **pixels)
    return empty.to_empty(device=device)


@torch.no_grad()
def _copy(targets, sources):
    for target, source in zip(targets, sources, strict=True):
        target.copy_(source)
