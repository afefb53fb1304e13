"""VAEDensity: a variational autoencoder as a scikit-learn density estimator.

A :class:`~skmem.TorchDensity` with the built-in MLP VAE module. Nothing here
imports torch at module level.
"""

import copy
import hashlib
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from .._pixels import check_levels
from ..torch._estimator import TorchDensity, torch_seed, torch_training


def check_likelihood_input(X, likelihood):
    """The Bernoulli decoder models values in [0, 1]; say so clearly."""
    if likelihood == "bernoulli" and (X.min() < 0 or X.max() > 1):
        raise ValueError(
            "likelihood='bernoulli' needs X in [0, 1] (binary or intensities); got "
            f"values in [{X.min():.3g}, {X.max():.3g}]. Scale X, for example with "
            "MinMaxScaler inside a pipeline, or use likelihood='gaussian'."
        )


def row_fingerprints(X):
    """A 64-bit hash of each row's float32 values: rows equal in float32 (what
    the model sees) have the same fingerprint."""
    X32 = np.ascontiguousarray(
        check_array(X, dtype=[np.float64, np.float32]), np.float32
    )
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(row.tobytes(), digest_size=8).digest())
            for row in X32
        ],
        dtype=np.uint64,
    )


class VAEDensity(TorchDensity):
    """Variational autoencoder as a density: importance-weighted log p(x).

    An encoder maps x to a diagonal Gaussian q(z | x) over a
    ``latent_dim``-dimensional latent space with a standard normal prior; a
    decoder maps z to p(x | z), Bernoulli or diagonal Gaussian. Both are MLPs
    (``architecture="mlp"``) or, for images, DCGAN-style convolutional networks
    (``architecture="conv"``) as in the paper's CIFAR-10 and CelebA models:
    4x4 convolutions with stride 2 halve the image while the channels double
    (``n_filters``, ``2 * n_filters``, ...), until a side is 4 pixels (at least
    twice); the decoder mirrors them with transposed convolutions. Training
    maximises the ELBO with Adam. :meth:`score_samples` estimates log p(x) by
    importance sampling with ``n_importance_samples`` samples from q(z | x), the
    estimator of van den Burg & Williams (2021), which lies above the ELBO and
    approaches log p(x) as the number of samples grows.

    A :class:`~skmem.TorchDensity` whose module is built from these parameters,
    so it trains with the same loop and the same batched engine. Requires
    PyTorch (``pip install 'skmem[vae]'``).

    Parameters
    ----------
    latent_dim : int, default=16
        Dimension of the latent space.
    hidden_layer_sizes : tuple of int, default=(512, 256)
        Widths of the encoder's hidden layers; the decoder mirrors them. Used by
        ``architecture="mlp"`` only.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        Decoder distribution. ``"bernoulli"`` needs X in [0, 1]; ``"gaussian"``
        learns a mean and a variance per output, with the log-variance clamped
        to [-8, 20]: from below so that constant features cannot make the
        likelihood infinite, from above so that it stays finite in float32.
        Training that diverges (a non-finite loss) raises FloatingPointError.
    architecture : {"mlp", "conv"}, default="mlp"
        Fully connected layers, or convolutions over images of ``input_shape``.
    input_shape : tuple of 3 int, default=None
        ``(channels, height, width)`` of the images, each given as one
        flattened row of X, channels first (as torchvision's tensors are laid
        out: ``images.reshape(len(images), -1)``). Required by
        ``architecture="conv"``; height and width must be multiples of 4 (of
        ``2 ** k`` for the k halvings of a larger image).
    n_filters : int, default=32
        Channels of the first convolution; they double at every halving. Used
        by ``architecture="conv"`` only.
    n_levels : int, default=None
        ``None``: X is continuous (or binary). An int: X holds integer pixel
        levels in [0, n_levels - 1] (256 for 8-bit images), which the model
        sees as the paper did, dequantized with uniform noise and
        logit-transformed, and :meth:`score_samples` reports the
        log-probability of the discrete levels, the change of variables
        included: the unit of :class:`~skmem.DequantizedDensity`, so KDE, GMM
        and VAE models of the same images compare, and
        :func:`~skmem.bits_per_dim` applies. Needs ``likelihood="gaussian"``.
        Each importance sample draws its own dequantization noise.
    logit_alpha : float, default=0.05
        The paper's lambda, with ``n_levels``: the logit is taken of
        ``logit_alpha + (1 - 2 logit_alpha) u`` for dequantized u in [0, 1).
    max_epochs : int, default=100
        Passes over the training data.
    batch_size : int, default=64
        Minibatch size; the last batch of an epoch may be smaller.
    learning_rate : float, default=1e-3
        Adam's step size.
    weight_decay : float, default=0.0
        L2 penalty added to the gradient, as ``torch.optim.Adam`` does.
    n_importance_samples : int, default=256
        Samples per row in :meth:`score_samples`. May be changed after fitting.
    n_importance_samples_seen : int, default=None
        Samples for the rows the model was trained on, recognised by value
        (the rows of ``fit``'s X); ``None`` means ``n_importance_samples``.
        Cheaper memorization scores: ``M_i`` compares the mean log p(x_i) of
        the models trained on ``x_i`` with that of the models that held it
        out, and with K folds there are K - 1 times more of the former, so
        each of their estimates may be noisier. With 10 folds on binarized
        digits, ``n_importance_samples=512, n_importance_samples_seen=64``
        took 2.2x fewer decoder passes than 256 samples for every row, and
        its M was closer to a high-sample reference (RMSE 0.139 against 0.159
        nats; ``benchmarks/bench_importance.py``, and the user guide's
        "Cheaper scoring"). It relies on each model having its own noise, as
        every fold model has. May be changed after fitting.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Where to train and evaluate; ``"auto"`` takes a GPU when torch sees
        one. Resolved in :meth:`fit`; the fitted model is kept on the CPU, so it
        pickles and reloads on a machine without a GPU, where it scores on the
        CPU with a warning.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the training noise and the
        fixed importance-sampling noise, through torch generators (never the
        global torch seed).
    verbose : int, default=0
        Print the loss after every epoch when positive.
    checkpoints : list of int, default=None
        Epochs at which :meth:`fit` keeps a snapshot of the model from the same
        training run; see :class:`~skmem.TorchDensity`.
    precision : {"float32", "tf32", "bfloat16"}, default="float32"
        The arithmetic of the matrix products; see :class:`~skmem.TorchDensity`.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, on the CPU: ``loss(x, noise)`` is the negative ELBO,
        ``log_likelihood(x, noise)`` the importance-weighted estimate.
    loss_curve_ : ndarray of shape (`n_iter_`,)
        Mean negative ELBO per training sample, per epoch, in nats.
    n_iter_ : int
        Number of epochs run.
    noise_seed_ : int
        Seed of the fixed standard-normal noise shared by every row in
        :meth:`score_samples`; it makes the estimate deterministic.
    device_ : str
        The device the model was trained on.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when X has string column
        names.

    Examples
    --------
    >>> from skmem import VAEDensity
    >>> from skmem.datasets import load_digits
    >>> X = load_digits(binarize=True)[:200]
    >>> vae = VAEDensity(latent_dim=4, hidden_layer_sizes=(32,), max_epochs=3,
    ...                  n_importance_samples=16, random_state=0).fit(X)
    >>> vae.score_samples(X[:3]).shape
    (3,)
    >>> bool(vae.loss_curve_[-1] < vae.loss_curve_[0])
    True

    The same digits as 1x8x8 images, with a convolutional VAE:

    >>> conv = VAEDensity(architecture="conv", input_shape=(1, 8, 8), n_filters=8,
    ...                   latent_dim=4, max_epochs=3, n_importance_samples=16,
    ...                   random_state=0).fit(X)
    >>> conv.score_samples(X[:3]).shape
    (3,)
    >>> conv.sample(2, random_state=0).shape
    (2, 64)
    """

    _parameter_constraints: dict = {
        **{
            name: constraint
            for name, constraint in TorchDensity._parameter_constraints.items()
            if name not in ("module", "module_params")
        },
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "architecture": [StrOptions({"mlp", "conv"})],
        "input_shape": ["array-like", None],
        "n_filters": [Interval(Integral, 1, None, closed="left")],
        "n_levels": [Interval(Integral, 2, None, closed="left"), None],
        "logit_alpha": [Interval(Real, 0, 0.5, closed="neither")],
        "likelihood": [StrOptions({"bernoulli", "gaussian"})],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "n_importance_samples_seen": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        latent_dim=16,
        hidden_layer_sizes=(512, 256),
        likelihood="bernoulli",
        architecture="mlp",
        input_shape=None,
        n_filters=32,
        n_levels=None,
        logit_alpha=0.05,
        max_epochs=100,
        batch_size=64,
        learning_rate=1e-3,
        weight_decay=0.0,
        n_importance_samples=256,
        n_importance_samples_seen=None,
        device="cpu",
        random_state=None,
        verbose=0,
        checkpoints=None,
        precision="float32",
    ):
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.likelihood = likelihood
        self.architecture = architecture
        self.input_shape = input_shape
        self.n_filters = n_filters
        self.n_levels = n_levels
        self.logit_alpha = logit_alpha
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.n_importance_samples = n_importance_samples
        self.n_importance_samples_seen = n_importance_samples_seen
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoints = checkpoints
        self.precision = precision

    def _hidden_sizes(self):
        sizes = np.asarray(self.hidden_layer_sizes).ravel()
        if sizes.dtype.kind not in "iu" or (sizes < 1).any():
            raise ValueError(
                "hidden_layer_sizes must be positive integers, e.g. (512, 256); got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _input_shape(self, n_features):
        if self.input_shape is None:
            raise ValueError(
                "architecture='conv' needs input_shape=(channels, height, width), "
                "e.g. VAEDensity(architecture='conv', input_shape=(1, 8, 8)) for "
                "8x8 grey images given as rows of 64 pixels."
            )
        from ._conv import check_input_shape

        return check_input_shape(self.input_shape, n_features)

    def _module_spec(self, n_features):
        shared = dict(
            latent_dim=self.latent_dim,
            likelihood=self.likelihood,
            n_levels=self.n_levels,
            logit_alpha=float(self.logit_alpha),
        )
        if self.architecture == "conv":
            from ._conv import ConvVAEModule

            return ConvVAEModule, dict(
                input_shape=self._input_shape(n_features),
                n_filters=self.n_filters,
                **shared,
            )
        from ._model import VAEModule

        return VAEModule, dict(
            n_features=n_features, hidden_layer_sizes=self._hidden_sizes(), **shared
        )

    def _build_module(self, module_class, params, generator):
        # The weights are drawn from the model's own generator, layer by layer.
        import torch

        with torch.device("meta"):  # no initialisation, no random draws
            module = module_class(**params)
        return module.to_empty(device="cpu").reset_parameters(generator)

    def _check_input(self, X):
        # Clear errors before anything is built.
        if self.architecture == "conv":
            self._input_shape(X.shape[1])
        else:
            self._hidden_sizes()
        if self.n_levels is None:
            check_likelihood_input(X, self.likelihood)
            return
        if self.likelihood != "gaussian":
            raise ValueError(
                "n_levels needs likelihood='gaussian': the model sees the "
                "dequantized levels in logit space, which is unbounded."
            )
        check_levels(X, self.n_levels, f"{type(self).__name__}(n_levels=...)")

    def _log_likelihood_noise_shape(self, module):
        # The number of importance samples may change after fitting.
        return (self.n_importance_samples, *module.loss_noise_shape)

    def _module_name(self):
        return f"the built-in {self.architecture} VAE module"

    # -- fewer importance samples for the training rows ---------------------------
    def fit(self, X, y=None):
        super().fit(X, y)
        self.seen_rows_ = row_fingerprints(X)
        return self

    fit.__doc__ = TorchDensity.fit.__doc__

    def _split_samples(self):
        """The number of samples for seen rows, or None when it is not split."""
        seen = self.n_importance_samples_seen
        return None if seen is None or seen == self.n_importance_samples else seen

    def _with_samples(self, n_samples):
        """A shallow copy that scores every row with ``n_samples`` samples."""
        other = copy.copy(self)
        other.n_importance_samples = n_samples
        other.n_importance_samples_seen = None
        return other

    def _score_with(self, X, module):
        n_seen = self._split_samples()
        if n_seen is None:
            return super()._score_with(X, module)
        seen = np.isin(row_fingerprints(X), self.seen_rows_)
        out = np.empty(len(X))
        for mask, n_samples in ((seen, n_seen), (~seen, self.n_importance_samples)):
            if mask.any():
                scorer = self._with_samples(n_samples)
                out[mask] = TorchDensity._score_with(scorer, X[mask], module)
        return out

    def _fit_ensemble_curve(self, X, train_indices, seeds, **kwargs):
        # The batched engine: every row under every model with the seen rows'
        # samples, then the rows each model did not see again, with its own.
        n_seen = self._split_samples()
        fast = clone(self).set_params(
            n_importance_samples=n_seen or self.n_importance_samples,
            n_importance_samples_seen=None,
        )
        members, rows = TorchDensity._fit_ensemble_curve(
            fast, X, train_indices, seeds, **kwargs
        )
        X = check_array(X, dtype=[np.float64, np.float32])
        fingerprints = row_fingerprints(X)
        epochs = [*self._checkpoints(), self.max_epochs]
        for j, (member, train) in enumerate(zip(members, train_indices, strict=True)):
            member.set_params(
                n_importance_samples=self.n_importance_samples,
                n_importance_samples_seen=self.n_importance_samples_seen,
            )
            member.seen_rows_ = fingerprints[train]
            unseen = np.flatnonzero(~np.isin(fingerprints, member.seen_rows_))
            if n_seen is None or len(unseen) == 0:
                continue
            full = member._with_samples(self.n_importance_samples)
            for c, epoch in enumerate(epochs):
                rows[c, j, unseen] = full.score_samples_at(X[unseen], epoch)
        return members, rows

    def sample(self, n_samples=1, random_state=None):
        """Draw samples from the model: z from the prior, then x from p(x | z).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        torch_training()  # the ImportError that names the extra, if torch is missing
        from ._model import sample

        return sample(self.module_, int(n_samples), torch_seed(random_state))
