"""TorchDensity: any PyTorch density model as a scikit-learn density estimator.

Nothing here imports torch at module level: ``import skmem`` works without it,
and the first use of the torch code raises an ImportError that names the extra.
"""

import copy
import inspect
import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _get_feature_names,
    check_array,
    check_is_fitted,
    validate_data,
)

from .._memory import budget_bytes
from .._splits import MAX_SEED

_MODULE_PREFIX = "module__"


def torch_training():
    """The torch-side training code, or an ImportError that says how to get torch."""
    try:
        from . import _training
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("torch"):
            raise
        raise ImportError(
            "This estimator needs PyTorch, which is not installed. Install skmem's "
            "'vae' extra: pip install 'skmem[vae]' (for a CPU-only machine, "
            "install the CPU build of torch first; see the README)."
        ) from exc
    return _training


def torch_seed(random_state):
    """The torch seed a model trained with ``random_state`` uses."""
    return int(check_random_state(random_state).randint(MAX_SEED))


def effective_torch_threads():
    """Threads torch may use here: 1 inside a joblib worker or a threadpool limit."""
    try:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        return _openmp_effective_n_threads()
    except ImportError:  # pragma: no cover - scikit-learn internals moved
        import os

        return os.cpu_count() or 1


def _describe(obj):
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    return f"an instance of {type(obj).__name__}"


class TorchDensity(DensityMixin, BaseEstimator):
    """A PyTorch density model as a scikit-learn density estimator.

    ``module`` is an ``nn.Module`` class, built in :meth:`fit` as
    ``module(**module_params)`` and trained with Adam on minibatches. Any model
    that can say how well it fits a sample works: a VAE, a normalising flow, an
    autoregressive model. :class:`~skmem.MemorizationScorer` trains all its fold
    models at once with ``torch.func`` (``engine="torch"``).

    Requires PyTorch (``pip install 'skmem[vae]'``).

    **The module contract.** The module has two methods; ``x`` is a float32
    tensor of shape (N, n_features):

    - ``loss(x)`` returns the per-sample training loss, shape (N,), which is
      minimised (a negative ELBO, a negative log-likelihood). The batch loss is
      its mean.
    - ``log_likelihood(x)`` returns the per-sample estimate of log p(x) in nats,
      shape (N,). It is called under ``torch.no_grad()``, in eval mode.

    If the constructor takes an ``n_features`` argument that ``module_params``
    does not set, it receives the number of features of X. Per-sample means
    that a row's value must not depend on the other rows of the batch (no batch
    normalisation in training mode).

    **The noise hook.** A stochastic module (a VAE's reparameterisation,
    importance samples) must not draw random numbers itself: it declares the
    standard-normal noise it needs, and skmem draws it from the model's own
    generator and passes it in, so that a model depends only on its seed (not on
    the models it was trained with, nor on ``n_jobs``):

    - ``loss_noise_shape`` (a tuple attribute): ``loss(x, noise)`` then receives
      ``noise`` of shape ``(N, *loss_noise_shape)``, fresh for every row in
      every epoch.
    - ``log_likelihood_noise_shape`` (a tuple attribute):
      ``log_likelihood(x, noise)`` then receives one fixed tensor of that shape,
      drawn once from the model's seed and shared by every row and every call,
      so :meth:`score_samples` is deterministic (common random numbers).

    **Optional: a hand-batched form.** The batched engine runs any such module
    under ``torch.func.vmap``. A module class that knows a faster way to run E
    copies of itself may define a classmethod ``stack(modules)`` returning one
    module whose ``loss(x, noise)`` takes (E, N, ...) inputs and returns (E, N),
    whose ``log_likelihood(x, noise)`` takes rows shared by all E models (and
    noise (E, ...)) and returns (E, N), and whose ``unstack()`` returns the E
    plain modules. The built-in VAEs do (stacked weights, ``torch.baddbmm``).

    Parameters
    ----------
    module : type
        A subclass of ``torch.nn.Module`` with ``loss`` and ``log_likelihood``
        methods (not an instance).
    module_params : dict, default=None
        Keyword arguments of ``module``. Single ones can also be given, and
        tuned by :class:`~sklearn.model_selection.GridSearchCV`, as
        ``module__name=value`` parameters, which take precedence.
    max_epochs : int, default=100
        Passes over the training data.
    batch_size : int, default=64
        Minibatch size; the last batch of an epoch may be smaller.
    learning_rate : float, default=1e-3
        Adam's step size.
    weight_decay : float, default=0.0
        L2 penalty added to the gradient, as ``torch.optim.Adam`` does.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Where to train and evaluate; ``"auto"`` takes a GPU when torch sees
        one. The fitted module is kept on the CPU, so it pickles and reloads on
        a machine without a GPU, where it scores on the CPU with a warning.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the noise, through torch
        generators (the global torch seed is left as it was).
    verbose : int, default=0
        Print the loss after every epoch when positive.
    checkpoints : list of int, default=None
        Epochs (between 1 and ``max_epochs``) at which :meth:`fit` keeps a
        snapshot of the model from the same training run, so that the fitted
        model can also score with its state at those epochs
        (:meth:`score_samples_at`). The snapshot at epoch ``c`` is the model a
        run with ``max_epochs=c`` gives. :class:`~skmem.MemorizationScorer`
        then computes the memorization curve (``memorization_curve_``).
    precision : {"float32", "tf32", "bfloat16"}, default="float32"
        The arithmetic of the matrix products, in training and scoring.
        ``"float32"``: full float32, whatever torch's global setting.
        ``"tf32"``: a GPU may round the inputs of float32 products to TF32
        (``torch.set_float32_matmul_precision("high")``; no effect on a CPU).
        ``"bfloat16"``: forward passes under ``torch.autocast`` to bfloat16.
        Set around :meth:`fit` and scoring only; torch's global state is
        restored afterwards. See the user guide ("Running the paper's
        experiments") for when the faster settings are safe.
    **module_kwargs
        ``module__name=value`` parameters; see ``module_params``.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, on the CPU, in eval mode.
    loss_curve_ : ndarray of shape (`n_iter_`,)
        Mean training loss per sample, per epoch.
    n_iter_ : int
        Number of epochs run.
    noise_seed_ : int
        Seed of the fixed noise passed to ``log_likelihood``.
    snapshots_ : dict
        ``{epoch: state_dict}``, the module's weights at each of
        ``checkpoints`` (on the CPU); empty when ``checkpoints`` is None.
    device_ : str
        The device the model was trained on.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when X has string column
        names.

    See Also
    --------
    VAEDensity : A TorchDensity with a built-in MLP VAE.

    Examples
    --------
    A diagonal Gaussian with a learned mean and scale, the smallest density
    model there is:

    >>> import numpy as np
    >>> import torch
    >>> from skmem import TorchDensity
    >>> class Gaussian(torch.nn.Module):
    ...     def __init__(self, n_features):
    ...         super().__init__()
    ...         self.mean = torch.nn.Parameter(torch.zeros(n_features))
    ...         self.log_std = torch.nn.Parameter(torch.zeros(n_features))
    ...     def log_likelihood(self, x):
    ...         z = (x - self.mean) / self.log_std.exp()
    ...         return (-0.5 * z**2 - self.log_std - 0.9189385).sum(-1)
    ...     def loss(self, x):
    ...         return -self.log_likelihood(x)
    >>> X = np.random.RandomState(0).normal(3.0, 2.0, size=(500, 2))
    >>> model = TorchDensity(Gaussian, max_epochs=200, learning_rate=0.05,
    ...                      random_state=0).fit(X)
    >>> model.module_.mean.detach().numpy().round(0)
    array([3., 3.], dtype=float32)
    >>> model.score_samples(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        "module": "no_validation",  # checked in _module_spec, with a clearer error
        "module_params": [dict, None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "checkpoints": ["array-like", None],
        "precision": [StrOptions({"float32", "tf32", "bfloat16"})],
    }

    def __init__(
        self,
        module,
        *,
        module_params=None,
        max_epochs=100,
        batch_size=64,
        learning_rate=1e-3,
        weight_decay=0.0,
        device="cpu",
        random_state=None,
        verbose=0,
        checkpoints=None,
        precision="float32",
        **module_kwargs,
    ):
        self.module = module
        self.module_params = module_params
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoints = checkpoints
        self.precision = precision
        self._set_module_kwargs(module_kwargs)

    # -- skorch-style module__name parameters ---------------------------------
    # Like every parameter they are only stored here and checked in fit.
    def _set_module_kwargs(self, kwargs):
        for key, value in kwargs.items():
            setattr(self, key, value)

    def _module_kwargs(self):
        own = set(self._get_param_names())
        return {
            k: v
            for k, v in vars(self).items()
            if k not in own and not k.startswith("_") and not k.endswith("_")
        }

    def get_params(self, deep=True):
        return {**super().get_params(deep=deep), **self._module_kwargs()}

    def set_params(self, **params):
        own = set(self._get_param_names())
        self._set_module_kwargs(
            {k: params.pop(k) for k in list(params) if k not in own and "__" in k}
        )
        return super().set_params(**params)

    # -- what subclasses change -----------------------------------------------
    def _module_spec(self, n_features):
        """The module class and its keyword arguments, for X with ``n_features``."""
        module_class = self.module
        if not (
            isinstance(module_class, type)
            and issubclass(module_class, torch_training().nn.Module)
        ):
            raise TypeError(
                "module must be a torch.nn.Module subclass (the class, not an "
                f"instance); got {_describe(module_class)}."
            )
        missing = [
            name
            for name in ("loss", "log_likelihood")
            if not callable(getattr(module_class, name, None))
        ]
        if missing:
            raise TypeError(
                f"{module_class.__name__} has no {' or '.join(missing)} method. "
                "A TorchDensity module needs loss(x) (per-sample training loss) "
                "and log_likelihood(x) (per-sample log p(x)); see TorchDensity."
            )
        params = dict(self.module_params or {})
        for key, value in self._module_kwargs().items():
            if not key.startswith(_MODULE_PREFIX) or key == _MODULE_PREFIX:
                raise TypeError(
                    f"{type(self).__name__} got an unexpected keyword argument "
                    f"{key!r}. Arguments of the module go in module_params or as "
                    "module__<name>=value."
                )
            params[key.removeprefix(_MODULE_PREFIX)] = value
        signature = inspect.signature(module_class)
        if "n_features" in signature.parameters and "n_features" not in params:
            params["n_features"] = n_features
        return module_class, params

    def _check_input(self, X):
        """Checks of the data beyond ``validate_data``; subclasses add theirs."""

    def _checkpoints(self):
        """``checkpoints`` as a sorted tuple of epochs; a clear error if invalid."""
        if self.checkpoints is None:
            return ()
        epochs = np.asarray(self.checkpoints).ravel()
        if (
            epochs.size == 0
            or epochs.dtype.kind not in "iu"
            or (epochs < 1).any()
            or (epochs > self.max_epochs).any()
            or len(np.unique(epochs)) != epochs.size
        ):
            raise ValueError(
                "checkpoints must be distinct integer epochs between 1 and "
                f"max_epochs={self.max_epochs}, e.g. [5, 10, 20]; got "
                f"{self.checkpoints!r}."
            )
        return tuple(int(c) for c in np.sort(epochs))

    def _build_module(self, module_class, params, generator):
        """A new module with initial weights from the model's torch generator.

        ``module_class(**params)`` initialises itself from torch's global
        generator, forked and seeded with a draw from ``generator``.
        """
        training = torch_training()
        seed = training.draw_seed(generator)
        return training.build_module(module_class, params, seed)

    def _log_likelihood_noise_shape(self, module):
        shape = getattr(module, "log_likelihood_noise_shape", None)
        return None if shape is None else tuple(shape)

    def _rows_per_batch(self, module, n_models, n_features, device):
        """Rows evaluated at once.

        A row's activations are guessed at 4x its width per noise sample. On
        a CPU at most ~4 MB of them: batches that fit in cache run about twice
        as fast as large ones. A GPU takes half of the memory it has free
        (``working_memory``, a host setting, does not cap it: at the paper's
        scale, 100 models x 256 importance samples x 784 pixels, it would
        leave one row per batch), since each batch costs it a launch per
        operation, whatever its size. Elsewhere, ``working_memory``.
        """
        shape = self._log_likelihood_noise_shape(module) or (1, 1)
        per_row = 4 * n_models * n_features * max(1, math.prod(shape[:-1]))
        budget = budget_bytes()
        torch = torch_training().torch
        device = torch.device(device)
        if device.type == "cpu":
            budget = min(budget, 2**24)
        elif device.type == "cuda" and torch.cuda.is_available():
            budget = torch.cuda.mem_get_info(device)[0] / 2
        return max(1, int(budget / (4 * 4)) // per_row)

    # -- training ---------------------------------------------------------------
    def _prepare(self, X):
        """X as float32 after the checks fit makes, and the training device."""
        self._check_input(X)
        device = torch_training().resolve_device(self.device)
        return np.ascontiguousarray(X, dtype=np.float32), device

    def _train(
        self,
        X32,
        train_indices,
        seeds,
        *,
        batched,
        device,
        log_prefix,
        progress=None,
        data_cache=None,
    ):
        """Train one model per training set; see :func:`_training.fit_models`."""
        training = torch_training()
        module_class, params = self._module_spec(X32.shape[1])
        checkpoints = self._checkpoints()
        return training.fit_models(
            X32,
            train_indices,
            [torch_seed(seed) for seed in seeds],
            build=lambda generator: self._build_module(module_class, params, generator),
            group_class=(
                training.batched_group_class(module_class)
                if batched
                else training.Single
            ),
            score=batched,
            checkpoints=checkpoints,
            eval_noise_shape=self._log_likelihood_noise_shape,
            rows_per_batch=self._rows_per_batch,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            device=device,
            verbose=self.verbose,
            log_prefix=log_prefix,
            precision=self.precision,
            progress=progress,
            data_cache=data_cache,
            eval_noise_seed=self._eval_noise_seed(),
        )

    def _eval_noise_seed(self):
        """The seed of the fixed evaluation noise of every model, or None: each
        model draws its own from its seed."""
        return None

    def _set_trained(self, trained, device, n_features):
        self.module_ = trained.module
        self.loss_curve_ = np.asarray(trained.loss_curve)
        self.n_iter_ = len(self.loss_curve_)
        self.noise_seed_ = int(trained.noise_seed)
        self.snapshots_ = trained.snapshots
        self.device_ = str(device)
        self.n_features_in_ = n_features
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the module on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : TorchDensity
            The fitted estimator.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        X32, device = self._prepare(X)
        training = torch_training()
        with training.torch_threads(effective_torch_threads()):
            trained = self._train(
                X32,
                [np.arange(len(X32))],
                [self.random_state],
                batched=False,
                device=device,
                log_prefix=f"[{type(self).__name__}] ",
            )
        return self._set_trained(trained[0], device, X.shape[1])

    def _fit_ensemble_curve(
        self,
        X,
        train_indices,
        seeds,
        *,
        log_prefix="",
        device=None,
        progress=None,
        data_cache=None,
    ):
        """Train a clone per training set, all at once; what the torch engine calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The scorer's data (a DataFrame or any array-like works).
        train_indices : list of int arrays
        seeds : list of int
            The ``random_state`` of each clone, as the generic engine sets it.
        device : torch.device or None
            Where to train, in place of ``self.device`` (the engine spreads
            groups over several GPUs).
        progress : callable or None
            Called with the number of models after every epoch.
        data_cache : dict or None
            ``{device: X}`` shared by the groups of a run; see
            :func:`_training.fit_models`.

        Returns
        -------
        estimators : list of fitted clones, the ones ``clone(self).set_params(
            random_state=seed).fit(X[train])`` gives up to rounding
        log_likelihoods : ndarray of shape (n_checkpoints + 1, n_models, n_samples)
            Each clone's :meth:`score_samples_at` of every row of X at each
            checkpoint, then its :meth:`score_samples`.
        """
        names = _get_feature_names(X)  # as fit would record them
        X = check_array(X, dtype=[np.float64, np.float32])
        X32, own_device = self._prepare(X)
        device = own_device if device is None else device
        trained = self._train(
            X32,
            train_indices,
            seeds,
            batched=True,
            device=device,
            log_prefix=log_prefix,
            progress=progress,
            data_cache=data_cache,
        )
        estimators, rows = [], []
        for seed, model in zip(seeds, trained, strict=True):
            member = clone(self).set_params(random_state=seed)
            member._set_trained(model, device, X.shape[1])
            if names is not None:
                member.feature_names_in_ = names
            estimators.append(member)
            rows.append(
                np.vstack([model.checkpoint_log_likelihoods, model.log_likelihoods])
            )
        return estimators, np.stack(rows, axis=1)

    def _batching_problem(self, X):
        """Why the module cannot be batched with ``vmap``, or None if it can.

        Tries a training step and an evaluation of two tiny models on a few
        rows. Invalid parameters or data raise here as they would in
        :meth:`fit`.
        """
        self._validate_params()
        X32, _ = self._prepare(check_array(X, dtype=[np.float64, np.float32])[:4])
        training = torch_training()
        rows = np.arange(min(2, len(X32)))
        probe = clone(self).set_params(max_epochs=1, verbose=0, checkpoints=None)
        try:
            # The probe's own warnings (a missing batching rule) are not the user's.
            with training.torch_threads(1), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                probe._train(
                    X32,
                    [rows, rows],
                    [0, 1],
                    batched=True,
                    device=training.torch.device("cpu"),
                    log_prefix="",
                )
        except Exception as exc:  # noqa: BLE001 - any failure under vmap counts
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return (
                f"vmap rejects {self._module_name()}: {type(exc).__name__}: {message}"
            )
        return None

    def _module_name(self):
        return getattr(self.module, "__name__", repr(self.module))

    # -- scoring ----------------------------------------------------------------
    def _check_query(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        self._check_input(X)
        return X

    def _eval_noise(self, module, noise_seeds):
        """Each model's fixed evaluation noise, stacked, or None."""
        shape = self._log_likelihood_noise_shape(module)
        if shape is None:
            return None
        training = torch_training()
        return training.torch.stack(
            [training.standard_normal(seed, shape) for seed in noise_seeds]
        )

    def score_samples(self, X):
        """Log-likelihood of each row under the module, in nats.

        Deterministic: a stochastic module gets the same fixed noise every call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        return self._score_with(self._check_query(X), self.module_)

    def score_samples_at(self, X, epoch):
        """Log-likelihood of each row under the model as it was at ``epoch``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        epoch : int
            One of ``checkpoints``; ``max_epochs`` is the final model.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        X = self._check_query(X)
        if epoch == self.n_iter_ and epoch not in self.snapshots_:
            return self._score_with(X, self.module_)
        if epoch not in self.snapshots_:
            raise ValueError(
                f"No snapshot at epoch {epoch!r}: the model kept the epochs "
                f"{sorted(self.snapshots_)} (its checkpoints) and {self.n_iter_} "
                "(the final model). Refit with that epoch in checkpoints."
            )
        module = copy.deepcopy(self.module_)
        module.load_state_dict(self.snapshots_[epoch])
        return self._score_with(X, module)

    def _score_with(self, X, module):
        training = torch_training()
        device = training.scoring_device(self.device_)
        if device.type != "cpu":
            module = copy.deepcopy(module)
        group = training.Single([module]).to(device)
        with training.torch_threads(effective_torch_threads()):
            return training.log_likelihood(
                group,
                X,
                self._eval_noise(module, [self.noise_seed_]),
                device=device,
                rows_per_batch=self._rows_per_batch(module, 1, X.shape[1], device),
                # Models pickled before there was a precision parameter.
                precision=getattr(self, "precision", "float32"),
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
