"""The torch side of :class:`~skmem.TorchDensity`: one training loop for any module.

A *group* is E models of one architecture trained in lockstep. It exposes the
per-model losses ``(E, B)`` and log-likelihoods ``(E, N)`` of its members:

- :class:`Single` runs one plain module (E = 1): what ``TorchDensity.fit`` uses,
  and what works for any module;
- :class:`Stacked` holds the parameters of E modules stacked along a leading
  axis and runs one copy of the module over all of them with
  ``torch.func.vmap``: what the batched engine uses.

Both go through :func:`train`, so a model is the same whichever engine trains
it, up to the rounding of batched products. Each model owns a
``torch.Generator`` seeded from its own seed. It draws, in this order: the seed
of its initial weights, the seed of its fixed evaluation noise, then per epoch
one permutation of the model's training rows and the training noise for each
of them. The global torch seed is never changed (the module is built under
:func:`torch.random.fork_rng`).

Nothing in the loop depends on ``max_epochs`` (no learning-rate schedule), and a
checkpoint only reads the models (a snapshot of their weights, a scoring pass
under ``no_grad``), so the models at epoch ``c`` of a run to ``max_epochs`` are
those of a run to ``c``.
"""

import copy
import math
import threading
import time
import warnings
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

SEED_RANGE = 2**31 - 1


def resolve_device(device):
    """The torch device to train on; a clear error when CUDA is asked for and absent."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} but torch sees no CUDA device. Use "
            "device='cpu', or device='auto' to take a GPU only when there is one."
        )
    return device


def scoring_device(trained_on):
    """Where a fitted model scores: its training device, or the CPU with a warning.

    A model trained on a GPU must still score on a machine without one.
    """
    device = torch.device(trained_on)
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            f"The model was trained on {trained_on!r} but torch sees no CUDA device "
            "here; scoring on the CPU instead. Results agree up to floating-point "
            "rounding.",
            UserWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
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


#: ``precision`` -> torch's float32 matmul precision and autocast dtype.
PRECISIONS = {
    "float32": ("highest", None),
    "tf32": ("high", None),
    "bfloat16": ("highest", torch.bfloat16),
}


@contextmanager
def matmul_precision(precision):
    """Run float32 products at ``precision``, then restore the global settings.

    ``"float32"`` is full float32 whatever the global setting; ``"tf32"`` lets
    a GPU round the inputs of float32 products (and cuDNN convolutions) to
    TF32's 10-bit mantissa, as ``torch.set_float32_matmul_precision("high")``
    does; ``"bfloat16"`` runs the forward passes under ``torch.autocast`` (see
    :func:`autocast`).
    """
    level, _ = PRECISIONS[precision]
    previous = torch.get_float32_matmul_precision()
    cudnn = torch.backends.cudnn.allow_tf32
    torch.set_float32_matmul_precision(level)
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)
        torch.backends.cudnn.allow_tf32 = cudnn


def autocast(precision, device):
    """``torch.autocast`` to bfloat16 for ``precision="bfloat16"``, else nothing."""
    _, dtype = PRECISIONS[precision]
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def draw_seed(generator):
    return int(torch.randint(SEED_RANGE, (1,), generator=generator).item())


# torch's global generator is shared by the threads of a process (joblib's
# threading backend trains groups in threads): one seeded build at a time.
_GLOBAL_RNG = threading.Lock()


def build_module(module_class, params, seed):
    """``module_class(**params)`` with initial weights that depend on ``seed`` only."""
    with _GLOBAL_RNG, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return module_class(**params)


def standard_normal(seed, shape):
    """A fixed standard-normal tensor drawn from its own generator."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(int(seed)))


class Single:
    """One plain module: E = 1, nothing batched, any module works."""

    def __init__(self, modules):
        (self.module,) = modules
        self.prototype = self.module
        self.n_models = 1

    def to(self, device):
        self.module.to(device)
        return self

    def parameters(self):
        return list(self.module.parameters())

    def train(self, mode):
        self.module.train(mode)

    def loss(self, x, noise):
        args = (x[0],) if noise is None else (x[0], noise[0])
        return self.module.loss(*args)[None]

    def log_likelihood(self, x, noise):
        args = (x,) if noise is None else (x, noise[0])
        return self.module.log_likelihood(*args)[None]

    def modules(self):
        return [self.module.cpu()]


_HOOKS = ("forward_hooks", "forward_pre_hooks", "backward_hooks", "backward_pre_hooks")


def _tensor_slots(module, original, names):
    """Where each named parameter or buffer of ``module`` lives: (dict, key).

    ``original`` is the module that ``module`` copies; a ValueError when it
    registers one tensor under two names (tied weights), which the copy on
    the ``meta`` device no longer shares, or has hooks, whose code may hold
    the original's tensors.
    """
    for path, owner in original.named_modules():
        if any(getattr(owner, f"_{kind}", None) for kind in _HOOKS):
            raise ValueError(
                f"{path or 'the module'} has hooks, which the batched engine does "
                "not run: a hook that holds a module would read the first "
                "model's weights for every model"
            )
    seen = {}
    for kind in ("parameters", "buffers"):
        tensors = getattr(original, f"named_{kind}")(remove_duplicate=False)
        for name, tensor in tensors:
            if tensor is not None and seen.setdefault(id(tensor), name) != name:
                raise ValueError(
                    f"{seen[id(tensor)]!r} and {name!r} are one tensor (tied "
                    "weights), which the batched engine does not stack"
                )
    owners = dict(module.named_modules(remove_duplicate=False))
    slots = []
    for name in names:
        path, _, key = name.rpartition(".")
        owner = owners[path]
        store = owner._parameters if key in owner._parameters else owner._buffers
        slots.append((store, key))
    return slots


class Stacked:
    """E modules of one architecture, run as one with ``vmap``.

    Their parameters and buffers are stacked along a new leading axis; a copy of
    the first module on the ``meta`` device supplies the code. Adam on the
    stacked tensors is element by element Adam on each model.

    Inside ``vmap`` each call puts the batched tensors straight into the
    template's parameter and buffer dictionaries and takes them out again:
    what ``torch.func.functional_call`` does, without its per-call walk over
    the module tree, which costs a small module more than its arithmetic.
    """

    def __init__(self, modules):
        self.n_models = len(modules)
        self.template = copy.deepcopy(modules[0]).to("meta")
        self.prototype = self.template
        params, buffers = torch.func.stack_module_state(modules)
        self.params, self.buffers = params, buffers
        self._slots = _tensor_slots(self.template, modules[0], [*params, *buffers])
        self._calls = {}

    def to(self, device):
        with torch.no_grad():
            for state in (self.params, self.buffers):
                for key, value in state.items():
                    moved = value.detach().to(device)
                    state[key] = (
                        moved.requires_grad_() if value.requires_grad else moved
                    )
        return self

    def parameters(self):
        return list(self.params.values())

    def train(self, mode):
        self.template.train(mode)

    def _call(self, name, x_dim, noise):
        key = (name, x_dim, noise is None)
        if key not in self._calls:
            in_dims = (0, x_dim) if noise is None else (0, x_dim, 0)
            self._calls[key] = torch.func.vmap(
                partial(self._run, name), in_dims=in_dims, randomness="error"
            )
        return self._calls[key]

    def _run(self, name, tensors, *args):
        """``template.<name>(*args)`` with one model's ``tensors`` in place."""
        kept = [store[key] for store, key in self._slots]
        try:
            for (store, key), tensor in zip(self._slots, tensors, strict=True):
                store[key] = tensor
            return getattr(self.template, name)(*args)
        finally:
            for (store, key), tensor in zip(self._slots, kept, strict=True):
                store[key] = tensor

    def _tensors(self):
        return (*self.params.values(), *self.buffers.values())

    def loss(self, x, noise):
        args = (x,) if noise is None else (x, noise)
        return self._call("loss", 0, noise)(self._tensors(), *args)

    def log_likelihood(self, x, noise):
        args = (x,) if noise is None else (x, noise)
        return self._call("log_likelihood", None, noise)(self._tensors(), *args)

    def modules(self):
        """A standalone module per member, on the CPU."""
        members = []
        for e in range(self.n_models):
            module = copy.deepcopy(self.template).to_empty(device="cpu")
            state = {
                k: v[e].detach().cpu()
                for k, v in {**self.params, **self.buffers}.items()
            }
            module.load_state_dict(state)
            members.append(module)
        return members


class Native:
    """E modules in the module class's own batched form, ``cls.stack(modules)``.

    The optional hand-batched half of the module contract: ``stack`` returns a
    module whose ``loss`` takes (E, B, ...) inputs and returns (E, B), whose
    ``log_likelihood`` takes rows shared by all models and noise (E, ...) and
    returns (E, N), and whose ``unstack()`` gives the E plain modules back.
    """

    def __init__(self, modules):
        self.prototype = modules[0]
        self.ensemble = type(modules[0]).stack(modules)
        self.n_models = len(modules)

    def to(self, device):
        self.ensemble.to(device)
        return self

    def parameters(self):
        return list(self.ensemble.parameters())

    def train(self, mode):
        self.ensemble.train(mode)

    def loss(self, x, noise):
        return self.ensemble.loss(x) if noise is None else self.ensemble.loss(x, noise)

    def log_likelihood(self, x, noise):
        if noise is None:
            return self.ensemble.log_likelihood(x)
        return self.ensemble.log_likelihood(x, noise)

    def modules(self):
        return [m.cpu() for m in self.ensemble.unstack()]


def batched_group_class(module_class):
    """The module's own batched form where it has one, else ``vmap``.

    Only a ``stack`` the class defines itself counts: a subclass that inherits
    one would be stacked as its parent, whose methods it may change.
    """
    return Native if "stack" in vars(module_class) else Stacked


def _make_adam(params, learning_rate, weight_decay):
    try:
        # One fused kernel per tensor: element by element the same arithmetic
        # for one model or many.
        return torch.optim.Adam(
            params, lr=learning_rate, weight_decay=weight_decay, fused=True
        )
    except (RuntimeError, TypeError):  # pragma: no cover - older torch or device
        return torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)


def fit_models(
    X,
    train_indices,
    seeds,
    *,
    batch_size,
    device,
    eval_noise_shape,
    rows_per_batch,
    score,
    checkpoints=(),
    data_cache=None,
    **options,
):
    """Train one model per entry of ``train_indices``, and score X under each.

    Models whose training sets give the same number of minibatches per epoch
    train together (for KFold, all of them, or two groups when the fold sizes
    straddle a multiple of ``batch_size``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
    train_indices : list of int arrays
    seeds : list of int
        One torch seed per model.
    batch_size : int
    device : torch.device
    eval_noise_shape : callable
        ``eval_noise_shape(module)``: the shape of a model's fixed evaluation
        noise, or None.
    rows_per_batch : callable
        ``rows_per_batch(module, n_models, n_features, device)``: rows scored
        at once.
    score : bool
        Whether to compute every row's log-likelihood under each model.
    checkpoints : sequence of int, default=()
        Epochs (increasing, at most ``max_epochs``) at which each model's
        weights are kept and, when ``score``, every row is scored.
    data_cache : dict or None, default=None
        ``{device: X as a float32 tensor there}``, shared by the groups of a
        run so that X goes to each device once; None copies X for this call.
    **options
        Passed to :func:`train`.

    Returns
    -------
    list of :class:`Trained`, one per model.
    """
    with matmul_precision(options.get("precision", "float32")):
        return _fit_models(
            X,
            data_on_device(X, device, data_cache),
            train_indices,
            seeds,
            batch_size=batch_size,
            device=device,
            eval_noise_shape=eval_noise_shape,
            rows_per_batch=rows_per_batch,
            score=score,
            checkpoints=checkpoints,
            **options,
        )


def _fit_models(
    X,
    X_t,
    train_indices,
    seeds,
    *,
    batch_size,
    device,
    eval_noise_shape,
    rows_per_batch,
    score,
    checkpoints,
    **options,
):
    n_steps = np.array([math.ceil(len(idx) / batch_size) for idx in train_indices])
    results = [None] * len(train_indices)
    checkpoints = tuple(int(c) for c in checkpoints)
    for steps in np.unique(n_steps):
        models = np.flatnonzero(n_steps == steps)
        trained = _fit_group(
            X,
            X_t,
            [train_indices[k] for k in models],
            [seeds[k] for k in models],
            scorer=(
                partial(
                    _score_group,
                    X_t,
                    device=device,
                    precision=options.get("precision", "float32"),
                    eval_noise_shape=eval_noise_shape,
                    rows_per_batch=rows_per_batch,
                )
                if score
                else None
            ),
            checkpoints=checkpoints,
            batch_size=batch_size,
            device=device,
            **options,
        )
        for k, model in zip(models, trained, strict=True):
            results[k] = model
    return results


def data_on_device(X, device, cache=None):
    """X as a float32 tensor on ``device``, copied there once per ``cache``."""
    key = str(device)
    if cache is not None and key in cache and cache[key].shape == X.shape:
        return cache[key]
    # A copy: joblib hands workers read-only memmaps, which torch warns about.
    X_t = torch.tensor(np.asarray(X), dtype=torch.float32, device=device)
    if cache is not None:
        cache[key] = X_t
    return X_t


def _score_group(
    X, group, noise_seeds, *, device, precision, eval_noise_shape, rows_per_batch
):
    """Every row of X (a tensor on ``device``) under every model of ``group``,
    (E, N)."""
    shape = eval_noise_shape(group.prototype)
    noise = (
        None
        if shape is None
        else torch.stack([standard_normal(s, shape) for s in noise_seeds])
    )
    return log_likelihood(
        group,
        X,
        noise,
        device=device,
        precision=precision,
        rows_per_batch=rows_per_batch(
            group.prototype, group.n_models, X.shape[1], device
        ),
    )


def _fit_group(X, X_t, train_indices, seeds, *, scorer, checkpoints, **options):
    """Train one lockstep group; snapshot (and score, with ``scorer``) at each
    checkpoint, score the final models; a :class:`Trained` per model."""
    snapshots, checkpoint_rows = [], []

    def keep(epoch, group, noise_seeds):
        snapshots.append(group_states(group))
        if scorer is not None:
            checkpoint_rows.append(scorer(group, noise_seeds))

    group, curves, noise_seeds = train(
        X_t,
        train_indices,
        seeds,
        checkpoints=checkpoints,
        on_checkpoint=keep,
        **options,
    )
    n_models = len(train_indices)
    rows = [None] * n_models
    if scorer is not None:
        # The final models were scored already when the last epoch is a
        # checkpoint.
        final = options["max_epochs"] in checkpoints
        rows = checkpoint_rows[-1] if final else scorer(group, noise_seeds)
    modules = group.modules()
    return [
        Trained(
            modules[j],
            curves[j],
            noise_seeds[j],
            rows[j],
            {c: kept[j] for c, kept in zip(checkpoints, snapshots, strict=True)},
            (
                np.array([r[j] for r in checkpoint_rows]).reshape(
                    len(checkpoint_rows), len(X)
                )
                if scorer is not None
                else None
            ),
        )
        for j in range(n_models)
    ]


class Trained(NamedTuple):
    """One trained model, as :func:`fit_models` returns it."""

    module: nn.Module
    loss_curve: np.ndarray
    noise_seed: int
    #: (n_samples,) every row scored by the final model, or None.
    log_likelihoods: np.ndarray | None
    #: ``{epoch: state_dict}`` at each checkpoint, on the CPU.
    snapshots: dict
    #: (n_checkpoints, n_samples) every row scored at each checkpoint, or None.
    checkpoint_log_likelihoods: np.ndarray | None


def group_states(group):
    """A snapshot of each member's weights, leaving the group as it is."""
    if isinstance(group, Single):  # its modules() moves the module to the CPU
        return [state_snapshot(group.module)]
    return [state_snapshot(m) for m in group.modules()]


def state_snapshot(module):
    """A copy of ``module``'s weights and buffers, on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def train(
    X_t,
    train_indices,
    seeds,
    *,
    build,
    group_class,
    max_epochs,
    batch_size,
    learning_rate,
    weight_decay,
    device,
    checkpoints=(),
    on_checkpoint=None,
    verbose=0,
    log_prefix="",
    precision="float32",
    progress=None,
    eval_noise_seed=None,
):
    """Train one model per entry of ``train_indices`` in lockstep.

    All models must take the same number of minibatches per epoch, so that every
    model takes a step at every step and one Adam optimiser serves them all
    with exactly the arithmetic each would get alone.

    Parameters
    ----------
    X_t : tensor of shape (n_samples, n_features), float32, on ``device``
    train_indices : list of int arrays
        The rows each model trains on.
    seeds : list of int
        One torch seed per model.
    build : callable
        ``build(generator)`` returns a new module whose initial weights come
        from the model's generator (its first draws).
    group_class : Single or Stacked
    checkpoints : sequence of int, default=()
        Epochs after which ``on_checkpoint(epoch, group, noise_seeds)`` is
        called, with the group in eval mode. It must only read the models.
    precision : {"float32", "tf32", "bfloat16"}, default="float32"
        bfloat16 runs the forward passes (the losses) under ``torch.autocast``;
        see :func:`matmul_precision` for the global setting around it.
    progress : callable or None, default=None
        ``progress(n_models)`` after every epoch (a tqdm bar's ``update``).
    eval_noise_seed : int or None, default=None
        The seed of every model's fixed evaluation noise, in place of one
        drawn from its generator: models that share it are scored on common
        random numbers.

    Returns
    -------
    group : Single or Stacked, on ``device``, in eval mode
    loss_curves : ndarray of shape (n_models, max_epochs)
        Each model's mean loss per training sample, per epoch.
    noise_seeds : list of int
        Each model's seed for its fixed evaluation noise.
    """
    n_models = len(train_indices)
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    modules = [build(g) for g in generators]
    noise_seeds = [draw_seed(g) for g in generators]
    if eval_noise_seed is not None:  # drawn all the same: the streams stay as they are
        noise_seeds = [int(eval_noise_seed)] * n_models
    noise_shape = getattr(modules[0], "loss_noise_shape", None)
    group = group_class(modules).to(device)
    group.train(True)
    optimizer = _make_adam(group.parameters(), learning_rate, weight_decay)
    sizes = np.array([len(idx) for idx in train_indices], dtype=np.float64)
    indices_t = [torch.as_tensor(idx, dtype=torch.long) for idx in train_indices]
    n_steps = math.ceil(len(train_indices[0]) / batch_size)
    width = n_steps * batch_size
    loss_curves = np.zeros((n_models, max_epochs))
    start = time.perf_counter()
    for epoch in range(max_epochs):
        # Each model's epoch: a permutation of its rows and the noise for each,
        # laid out batch after batch; a shorter last batch is padded with
        # zero-weight rows, which add nothing to its loss or gradient.
        rows = torch.zeros((n_models, width), dtype=torch.long)
        noise = (
            None
            if noise_shape is None
            else torch.zeros((n_models, width, *noise_shape))
        )
        weights = torch.zeros((n_models, width))
        last = (n_steps - 1) * batch_size
        for e, (idx, g) in enumerate(zip(indices_t, generators, strict=True)):
            m = len(idx)
            rows[e, :m] = idx[torch.randperm(m, generator=g)]
            if noise is not None:
                noise[e, :m] = torch.randn((m, *noise_shape), generator=g)
            weights[e, :last] = 1.0 / batch_size
            weights[e, last:m] = 1.0 / (m - last)
        x_epoch = X_t[rows.to(device)]  # (E, width, D), gathered once per epoch
        weights = weights.to(device)
        if noise is not None:
            noise = noise.to(device)
        step_losses = []
        for step in range(n_steps):
            batch = slice(step * batch_size, (step + 1) * batch_size)
            with autocast(precision, device):
                losses = group.loss(
                    x_epoch[:, batch], None if noise is None else noise[:, batch]
                )
            losses = losses.float()
            w = weights[:, batch]
            _check_per_sample("loss", losses, w.shape)
            optimizer.zero_grad(set_to_none=True)
            # The sum of each model's batch mean: each model's gradient is its own.
            (losses * w).sum().backward()
            optimizer.step()
            step_losses.append(losses.detach())
        epoch_loss = (torch.cat(step_losses, dim=1).double() * (weights > 0)).sum(1)
        loss_curves[:, epoch] = epoch_loss.cpu().numpy() / sizes
        diverged = np.flatnonzero(~np.isfinite(loss_curves[:, epoch]))
        if diverged.size:
            raise FloatingPointError(
                f"Training diverged (non-finite loss) in epoch {epoch + 1} for "
                f"{diverged.size} of {n_models} model(s). Scale X (for example "
                "with StandardScaler in a pipeline) or lower learning_rate."
            )
        if verbose:
            print(
                f"{log_prefix}epoch {epoch + 1}/{max_epochs}, loss "
                f"{loss_curves[:, epoch].mean():.4f} "
                f"({time.perf_counter() - start:.1f}s)",
                flush=True,
            )
        if progress is not None:
            progress(n_models)
        if epoch + 1 in checkpoints:
            group.train(False)
            on_checkpoint(epoch + 1, group, noise_seeds)
            group.train(True)
    group.train(False)
    return group, loss_curves, noise_seeds


def _check_per_sample(method, values, shape):
    """The module contract: one value per row."""
    if tuple(values.shape) != tuple(shape):
        got = tuple(values.shape[1:])
        raise ValueError(
            f"The module's {method}(x) must return one value per row of x, shape "
            f"({shape[1]},); got shape {got}. Sum over features, not over rows."
        )


@torch.no_grad()
def log_likelihood(group, X, noise, *, device, rows_per_batch, precision="float32"):
    """``log p(x)`` of every row of ``X`` under every model of ``group``, (E, N).

    ``X`` is an array, or a float32 tensor already on ``device`` (then it is
    not copied again). ``noise`` is each model's fixed evaluation noise,
    (E, ...), or None. Rows are evaluated in batches of ``rows_per_batch``;
    each row's value does not depend on the batch it is in.
    """
    if isinstance(X, torch.Tensor):
        X_t = X
    else:
        # A copy: X may be read-only or a view with negative strides.
        X_t = torch.tensor(np.ascontiguousarray(X), dtype=torch.float32)
    if noise is not None:
        noise = noise.to(device=device, dtype=torch.float32)
    n_rows = X_t.shape[0]
    out = torch.empty((group.n_models, n_rows), dtype=torch.float64)
    with matmul_precision(precision):
        for start in range(0, n_rows, rows_per_batch):
            x = X_t[start : start + rows_per_batch].to(device)
            with autocast(precision, device):
                values = group.log_likelihood(x, noise)
            _check_per_sample("log_likelihood", values, (group.n_models, len(x)))
            out[:, start : start + rows_per_batch] = values.double().cpu()
    return out.numpy()
