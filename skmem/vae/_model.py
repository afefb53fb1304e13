"""The torch side of the VAE: an ensemble of E independent MLP VAEs.

Every layer holds the stacked weights of E models and runs as one batched
matrix product, so a training step of E fold models costs one pass of torch
operations instead of E. A standalone :class:`~skmem.VAEDensity` is the same
code with E = 1: a model is the same whichever engine trains it.

Each model owns a ``torch.Generator`` seeded from its own seed. It draws, in
this order: the initial weights (layer by layer), the seed of the fixed
importance-sampling noise, then per epoch one permutation of the model's
training rows and the reparametrisation noise for each of them. Global torch
seeding is never used.
"""

import copy
import math
import time
from contextlib import contextmanager

import numpy as np
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


def resolve_device(device):
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} but torch sees no CUDA device. Use "
            "device='cpu', or device='auto' to take a GPU only when there is one."
        )
    return device


@contextmanager
def torch_threads(n_threads):
    """Run torch's intra-op pool with ``n_threads`` threads, then restore it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n_threads)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class EnsembleMLP(nn.Module):
    """E independent MLPs with ReLU between layers; input (E, N, in)."""

    def __init__(self, sizes, n_models):
        super().__init__()
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(n_models, a, b)) for a, b in pairs
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.empty(n_models, 1, b)) for _, b in pairs
        )

    def reset_member(self, e, generator):
        """nn.Linear's default initialisation, U(-1/sqrt(in), 1/sqrt(in))."""
        with torch.no_grad():
            for w, b in zip(self.weights, self.biases, strict=True):
                bound = 1.0 / math.sqrt(w.shape[1])
                w[e].copy_(_uniform(w.shape[1:], bound, generator))
                b[e].copy_(_uniform(b.shape[1:], bound, generator))

    def forward(self, x):
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = torch.relu_(x)  # in place: baddbmm's backward needs its inputs only
        return x


def _uniform(shape, bound, generator):
    return (torch.rand(shape, generator=generator) * 2.0 - 1.0) * bound


class EnsembleVAE(nn.Module):
    """E independent VAEs: MLP encoder to (mu, log_var), MLP decoder."""

    def __init__(
        self, n_features, latent_dim, hidden_layer_sizes, likelihood, n_models
    ):
        super().__init__()
        hidden = list(hidden_layer_sizes)
        self.n_features = n_features
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.n_models = n_models
        out = n_features * (2 if likelihood == "gaussian" else 1)
        self.encoder = EnsembleMLP([n_features, *hidden, 2 * latent_dim], n_models)
        self.decoder = EnsembleMLP([latent_dim, *hidden[::-1], out], n_models)

    def reset_member(self, e, generator):
        self.encoder.reset_member(e, generator)
        self.decoder.reset_member(e, generator)

    def encode(self, x):
        mu, log_var = self.encoder(x).chunk(2, dim=-1)
        return mu, log_var.clamp(*ENCODER_LOG_VAR)

    def log_px_given_z(self, x, z):
        """``log p(x | z)`` summed over features.

        ``z`` is (E, ..., L); ``x`` broadcasts against the decoder output
        (E, ..., D), so importance samples need no copies of x.
        """
        E, L = z.shape[0], z.shape[-1]
        out = self.decoder(z.reshape(E, -1, L)).reshape(*z.shape[:-1], -1)
        if self.likelihood == "bernoulli":
            # x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)) = x l - softplus(l)
            return -nn.functional.binary_cross_entropy_with_logits(
                out, x.expand_as(out), reduction="none"
            ).sum(-1)
        mean, log_var = out.chunk(2, dim=-1)
        log_var = log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR)
        return -0.5 * (_LOG_2PI + log_var + (x - mean) ** 2 / log_var.exp()).sum(-1)

    def negative_elbo(self, x, eps):
        """Per-sample negative ELBO with one reparametrised sample; (E, N)."""
        mu, log_var = self.encode(x)
        z = mu + (0.5 * log_var).exp() * eps
        kl = 0.5 * (mu**2 + log_var.exp() - 1.0 - log_var).sum(-1)
        return kl - self.log_px_given_z(x, z)

    def log_importance_weights(self, x, eps):
        """``log p(x, z_s) - log q(z_s | x)`` for x (E, N, D), eps (E, S, L)."""
        mu, log_var = self.encode(x)  # (E, N, L)
        std = (0.5 * log_var).exp()
        z = mu[:, :, None, :] + std[:, :, None, :] * eps[:, None, :, :]  # E,N,S,L
        log_q = -0.5 * (_LOG_2PI + log_var[:, :, None, :] + eps[:, None] ** 2).sum(-1)
        log_prior = -0.5 * (_LOG_2PI + z**2).sum(-1)
        return self.log_px_given_z(x[:, :, None, :], z) + log_prior - log_q

    def hidden_layer_sizes(self):
        return [w.shape[2] for w in self.encoder.weights[:-1]]

    def member(self, e):
        """A standalone copy (E = 1) of member ``e``."""
        return stack_members([(self, e)])


def stack_members(members):
    """One ensemble of the given ``(module, index)`` members, in order."""
    first = members[0][0]
    stacked = EnsembleVAE(
        first.n_features,
        first.latent_dim,
        first.hidden_layer_sizes(),
        first.likelihood,
        len(members),
    )
    with torch.no_grad():
        for k, (module, e) in enumerate(members):
            for target, source in zip(
                stacked.parameters(), module.parameters(), strict=True
            ):
                target[k].copy_(source[e])
    return stacked


def train_ensemble(X, train_indices, seeds, *, batch_size, device, **options):
    """Train one VAE per entry of ``train_indices``, together.

    Models whose training sets give the same number of minibatches per epoch
    train as one batched ensemble (for KFold, all of them, or two groups when
    the fold sizes straddle a multiple of ``batch_size``), so that every model
    takes a step at every step and one Adam optimiser serves them all with
    exactly the arithmetic each would get alone.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
    train_indices : list of int arrays
        The rows each model trains on.
    seeds : list of int
        One torch seed per model.
    batch_size : int
    device : torch.device
    **options
        ``latent_dim``, ``hidden_layer_sizes``, ``likelihood``, ``max_epochs``,
        ``learning_rate``, ``weight_decay``, ``verbose``, ``log_prefix``: see
        :class:`~skmem.VAEDensity`.

    Returns
    -------
    module : EnsembleVAE on the CPU, members in the order of ``train_indices``
    loss_curves : ndarray of shape (n_models, max_epochs)
        Each model's mean negative ELBO per sample, per epoch.
    noise_seeds : list of int
        Each model's seed for its fixed importance-sampling noise.
    """
    X_t = torch.as_tensor(X, dtype=torch.float32, device=device)
    n_steps = np.array([math.ceil(len(idx) / batch_size) for idx in train_indices])
    members = [None] * len(train_indices)
    loss_curves = np.zeros((len(train_indices), options["max_epochs"]))
    noise_seeds = [None] * len(train_indices)
    for steps in np.unique(n_steps):
        group = np.flatnonzero(n_steps == steps)
        module, curves, group_noise = _train_in_step(
            X_t,
            [train_indices[k] for k in group],
            [seeds[k] for k in group],
            batch_size=batch_size,
            device=device,
            **options,
        )
        for j, k in enumerate(group):
            members[k] = (module, j)
            loss_curves[k] = curves[j]
            noise_seeds[k] = group_noise[j]
    # One step group holds every model in order: no need to copy it.
    one_group = len(np.unique(n_steps)) == 1
    module = members[0][0] if one_group else stack_members(members)
    return module, loss_curves, noise_seeds


def _make_adam(params, learning_rate, weight_decay):
    try:
        # One fused kernel per tensor: element by element the same arithmetic
        # for one model or many.
        return torch.optim.Adam(
            params, lr=learning_rate, weight_decay=weight_decay, fused=True
        )
    except (RuntimeError, TypeError):  # pragma: no cover - older torch or device
        return torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)


def _train_in_step(
    X_t,
    train_indices,
    seeds,
    *,
    latent_dim,
    hidden_layer_sizes,
    likelihood,
    max_epochs,
    batch_size,
    learning_rate,
    weight_decay,
    device,
    verbose=0,
    log_prefix="",
):
    """Train models that all have the same number of minibatches per epoch."""
    n_models = len(train_indices)
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    module = EnsembleVAE(
        X_t.shape[1], latent_dim, hidden_layer_sizes, likelihood, n_models
    )
    for e, g in enumerate(generators):
        module.reset_member(e, g)
    noise_seeds = [
        int(torch.randint(2**31 - 1, (1,), generator=g).item()) for g in generators
    ]
    module.to(device)
    optimizer = _make_adam(module.parameters(), learning_rate, weight_decay)
    sizes = torch.tensor([len(idx) for idx in train_indices], dtype=torch.float64)
    indices_t = [torch.as_tensor(idx, dtype=torch.long) for idx in train_indices]
    n_steps = math.ceil(len(train_indices[0]) / batch_size)
    loss_curves = np.zeros((n_models, max_epochs))
    start = time.perf_counter()
    width = n_steps * batch_size
    for epoch in range(max_epochs):
        # Each model's epoch: a permutation of its rows and the noise for each,
        # laid out batch after batch; a shorter last batch is padded with
        # zero-weight rows, which add nothing to its loss or gradient.
        rows = torch.zeros((n_models, width), dtype=torch.long)
        eps = torch.zeros((n_models, width, latent_dim))
        weights = torch.zeros((n_models, width))
        for e, (idx, g) in enumerate(zip(indices_t, generators, strict=True)):
            m = len(idx)
            rows[e, :m] = idx[torch.randperm(m, generator=g)]
            eps[e, :m] = torch.randn((m, latent_dim), generator=g)
            weights[e, : (n_steps - 1) * batch_size] = 1.0 / batch_size
            weights[e, (n_steps - 1) * batch_size : m] = 1.0 / (
                m - (n_steps - 1) * batch_size
            )
        x_epoch = X_t[rows.to(device)]  # (E, width, D), gathered once per epoch
        eps, weights = eps.to(device), weights.to(device)
        epoch_loss = torch.zeros(n_models, dtype=torch.float64, device=device)
        for step in range(n_steps):
            batch = slice(step * batch_size, (step + 1) * batch_size)
            losses = module.negative_elbo(x_epoch[:, batch], eps[:, batch])
            w = weights[:, batch]
            per_model = (losses * w).sum(dim=1)  # each model's batch mean
            optimizer.zero_grad(set_to_none=True)
            per_model.sum().backward()
            optimizer.step()
            epoch_loss += (losses.detach() * (w > 0)).sum(dim=1).double()
        loss_curves[:, epoch] = (epoch_loss.cpu() / sizes).numpy()
        diverged = np.flatnonzero(~np.isfinite(loss_curves[:, epoch]))
        if diverged.size:
            raise FloatingPointError(
                f"VAE training diverged (non-finite loss) in epoch {epoch + 1} "
                f"for {diverged.size} of {n_models} model(s). Scale X (for example "
                "with StandardScaler in a pipeline) or lower learning_rate."
            )
        if verbose:
            print(
                f"{log_prefix}epoch {epoch + 1}/{max_epochs}, loss "
                f"{loss_curves[:, epoch].mean():.4f} "
                f"({time.perf_counter() - start:.1f}s)",
                flush=True,
            )
    return module.cpu(), loss_curves, noise_seeds


def importance_noise(noise_seeds, n_samples, latent_dim):
    """The fixed standard-normal noise of each model, (E, S, L)."""
    return torch.stack(
        [
            torch.randn(
                (n_samples, latent_dim), generator=torch.Generator().manual_seed(s)
            )
            for s in noise_seeds
        ]
    )


@torch.no_grad()
def log_likelihood(module, X, noise, *, device, max_elements):
    """Importance-weighted ``log p(x)`` of every row under every model, (E, N).

    The network runs in float32 (as trained) on row batches of at most
    ``max_elements`` hidden activations, so memory stays bounded and the
    working set stays in cache; the log-mean-exp over importance samples is
    taken in float64. Each row's estimate does not depend on the batch it is in.
    """
    if device.type != "cpu":
        module = copy.deepcopy(module).to(device)  # the fitted module stays put
    noise = noise.to(device=device, dtype=torch.float32)
    n_models, n_importance = noise.shape[:2]
    X_t = torch.tensor(X, dtype=torch.float32)  # a copy: X may be read-only
    width = max(module.n_features, max(w.shape[2] for w in module.decoder.weights))
    rows_per_batch = max(1, int(max_elements // (n_models * n_importance * width)))
    out = torch.empty((n_models, len(X)), dtype=torch.float64)
    for start in range(0, len(X), rows_per_batch):
        x = X_t[start : start + rows_per_batch].to(device)
        log_w = module.log_importance_weights(x.expand(n_models, *x.shape), noise)
        out[:, start : start + rows_per_batch] = (
            torch.logsumexp(log_w.double(), dim=-1) - math.log(n_importance)
        ).cpu()
    return out.numpy()


@torch.no_grad()
def sample(module, n_samples, seed):
    """Draw from a single-model module: z ~ N(0, I), then x ~ p(x | z)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((1, n_samples, module.latent_dim), generator=g)
    out = module.decoder(z)[0]
    if module.likelihood == "bernoulli":
        return torch.bernoulli(torch.sigmoid(out), generator=g).numpy().astype(float)
    mean, log_var = out.chunk(2, dim=-1)
    std = (0.5 * log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR)).exp()
    return (mean + std * torch.randn(mean.shape, generator=g)).numpy().astype(float)
