"""VAEDensity: a variational autoencoder as a scikit-learn density estimator.

Nothing here imports torch at module level: ``import skmem`` works without it,
and the first use of the torch code raises an ImportError that names the extra.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._memory import budget_bytes
from .._splits import MAX_SEED


def torch_model():
    """The torch-side module, or an ImportError that says how to get torch."""
    try:
        from . import _model
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("torch"):
            raise
        raise ImportError(
            "VAEDensity needs PyTorch, which is not installed. Install skmem's "
            "'vae' extra: pip install 'skmem[vae]' (for a CPU-only machine, "
            "install the CPU build of torch first; see the README)."
        ) from exc
    return _model


def torch_seed(random_state):
    """The torch seed a VAE trained with ``random_state`` uses."""
    return int(check_random_state(random_state).randint(MAX_SEED))


def check_likelihood_input(X, likelihood):
    """The Bernoulli decoder models values in [0, 1]; say so clearly."""
    if likelihood == "bernoulli" and (X.min() < 0 or X.max() > 1):
        raise ValueError(
            "likelihood='bernoulli' needs X in [0, 1] (binary or intensities); got "
            f"values in [{X.min():.3g}, {X.max():.3g}]. Scale X, for example with "
            "MinMaxScaler inside a pipeline, or use likelihood='gaussian'."
        )


def effective_torch_threads():
    """Threads torch may use here: 1 inside a joblib worker or a threadpool limit."""
    try:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        return _openmp_effective_n_threads()
    except ImportError:  # pragma: no cover - scikit-learn internals moved
        import os

        return os.cpu_count() or 1


def evaluation_elements():
    """Hidden activations evaluated at once: ~4 MB, or less if working_memory is.

    Batches that fit in cache run about twice as fast as large ones.
    """
    return max(1, int(min(2**20, budget_bytes() / (4 * 4))))  # float32, ~4 copies


class VAEDensity(DensityMixin, BaseEstimator):
    """Variational autoencoder as a density: importance-weighted log p(x).

    An MLP encoder maps x to a diagonal Gaussian q(z | x) over a
    ``latent_dim``-dimensional latent space with a standard normal prior; an
    MLP decoder maps z to p(x | z), Bernoulli or diagonal Gaussian. Training
    maximises the ELBO with Adam. :meth:`score_samples` estimates log p(x) by
    importance sampling with ``n_importance_samples`` samples from q(z | x), the
    estimator of van den Burg & Williams (2021), which lies above the ELBO and
    approaches log p(x) as the number of samples grows.

    Requires PyTorch (``pip install 'skmem[vae]'``).

    Parameters
    ----------
    latent_dim : int, default=16
        Dimension of the latent space.
    hidden_layer_sizes : tuple of int, default=(512, 256)
        Widths of the encoder's hidden layers; the decoder mirrors them.
    likelihood : {"bernoulli", "gaussian"}, default="bernoulli"
        Decoder distribution. ``"bernoulli"`` needs X in [0, 1]; ``"gaussian"``
        learns a mean and a variance per output, with the log-variance clamped
        to [-8, 20]: from below so that constant features cannot make the
        likelihood infinite, from above so that it stays finite in float32.
        Training that diverges (a non-finite loss) raises FloatingPointError.
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
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Where to train and evaluate; ``"auto"`` takes a GPU when torch sees
        one. Resolved in :meth:`fit`; the fitted model is kept on the CPU, so it
        pickles and reloads on a machine without a GPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the training noise and the
        fixed importance-sampling noise, through torch generators (never the
        global torch seed).
    verbose : int, default=0
        Print the loss after every epoch when positive.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, on the CPU.
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
    """

    _parameter_constraints: dict = {
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "likelihood": [StrOptions({"bernoulli", "gaussian"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        latent_dim=16,
        hidden_layer_sizes=(512, 256),
        likelihood="bernoulli",
        max_epochs=100,
        batch_size=64,
        learning_rate=1e-3,
        weight_decay=0.0,
        n_importance_samples=256,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.latent_dim = latent_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.likelihood = likelihood
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.n_importance_samples = n_importance_samples
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _hidden_sizes(self):
        sizes = np.asarray(self.hidden_layer_sizes).ravel()
        if sizes.dtype.kind not in "iu" or (sizes < 1).any():
            raise ValueError(
                "hidden_layer_sizes must be positive integers, e.g. (512, 256); got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _training_setup(self, X):
        """What :meth:`fit` trains with, after checking X against the likelihood.

        ``X`` has passed ``validate_data`` and the parameters their constraints.
        Returns X as float32, the keyword arguments of the torch training
        routine, and the torch device. The batched engine, which trains without
        calling :meth:`fit`, goes through here too.
        """
        check_likelihood_input(X, self.likelihood)
        device = torch_model().resolve_device(self.device)
        return X.astype(np.float32), self._training_options(), device

    def _training_options(self):
        return dict(
            latent_dim=self.latent_dim,
            hidden_layer_sizes=self._hidden_sizes(),
            likelihood=self.likelihood,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the VAE on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; in [0, 1] for ``likelihood="bernoulli"``.
        y : None
            Ignored.

        Returns
        -------
        self : VAEDensity
            The fitted estimator.
        """
        model = torch_model()
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        X, options, device = self._training_setup(X)
        with model.torch_threads(effective_torch_threads()):
            module, curves, noise_seeds = model.train_ensemble(
                X,
                [np.arange(len(X))],
                [torch_seed(self.random_state)],
                device=device,
                verbose=self.verbose,
                log_prefix="[VAEDensity] ",
                **options,
            )
        return self.set_fitted(module, curves[0], noise_seeds[0], device)

    def set_fitted(self, module, loss_curve, noise_seed, device):
        """Store a trained single-model module and what goes with it."""
        self.module_ = module
        self.loss_curve_ = np.asarray(loss_curve)
        self.n_iter_ = len(self.loss_curve_)
        self.noise_seed_ = int(noise_seed)
        self.device_ = str(device)
        return self

    def _check_query(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        check_likelihood_input(X, self.likelihood)
        return X

    def score_samples(self, X):
        """Importance-weighted estimate of log p(x) for each row, in nats.

        Deterministic: every row uses the same fixed noise matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        X = self._check_query(X)
        model = torch_model()
        noise = model.importance_noise(
            [self.noise_seed_], self.n_importance_samples, self.latent_dim
        )
        device = model.resolve_device(self.device_)
        with model.torch_threads(effective_torch_threads()):
            return model.log_likelihood(
                self.module_,
                X,
                noise,
                device=device,
                max_elements=evaluation_elements(),
            )[0]

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over the rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

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
        model = torch_model()
        return model.sample(self.module_, int(n_samples), torch_seed(random_state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
