"""DiffusionDensity: a variance-preserving diffusion as a density estimator."""

import copy
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._pixels import check_levels
from ..torch._estimator import TorchDensity, torch_seed, torch_training


class DiffusionDensity(TorchDensity):
    """Diffusion model as a density: a per-sample bound on log p(x), in nats.

    A variance-preserving diffusion in continuous time, ``z = alpha x + sigma
    eps`` with log signal-to-noise ratio ``lam = log(alpha^2 / sigma^2)`` from
    ``log_snr_range``, trained on the denoising loss in the weighting that
    makes it the negative ELBO (Kingma et al., 2021, "Variational Diffusion
    Models"). :meth:`score_samples` gives that variational bound for each row,
    estimated from ``n_mc_samples`` Monte Carlo draws of a log-SNR (stratified
    over the range, the importance distribution that makes the bound's weight
    constant) and a noise vector, the same draws for every row (common random
    numbers: the estimate is deterministic). With ``likelihood="ode"`` it gives
    instead the exact log-likelihood of the probability-flow ODE, with a
    Hutchinson trace estimate per draw (needs ``torchdiffeq``).

    The denoiser is written as the exact denoiser of a diagonal Gaussian,
    learned, plus a residual network: a new model is that Gaussian, and the
    bound is the Gaussian's closed form minus a Monte Carlo term that vanishes
    where the model behaves like it, which keeps the estimate's noise small.
    The network is an MLP over the noisy row and Fourier features of the
    log-SNR (``architecture="mlp"``, for tables and flattened images), or a
    small convolutional U-Net over images of ``input_shape``
    (``architecture="unet"``).

    A :class:`~skmem.TorchDensity`, so :class:`~skmem.MemorizationScorer` trains
    all its fold models at once (``engine="torch"``). Requires PyTorch
    (``pip install 'skmem[vae]'``); the ODE also needs torchdiffeq
    (``pip install 'skmem[diffusion]'``).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the MLP's hidden layers (SiLU between them).
    architecture : {"mlp", "unet"}, default="mlp"
        The residual network: an MLP, or a U-Net over images of
        ``input_shape`` given as flattened rows.
    input_shape : tuple of 3 int, default=None
        ``(channels, height, width)`` of the images, channels first, each row
        of X one flattened image. Required by ``architecture="unet"``; height
        and width must be even.
    n_filters : int, default=32
        Channels of the U-Net's first level; they double at the second.
    n_levels : int, default=None
        ``None``: X is continuous. An int: X holds integer pixel levels in [0,
        n_levels - 1], which the model sees dequantized with uniform noise and
        logit-transformed, and :meth:`score_samples` reports the
        log-probability of the levels (a lower bound on it, like
        :class:`~skmem.DequantizedDensity`'s unit and the ``n_levels`` of
        :class:`~skmem.VAEDensity`), so :func:`~skmem.bits_per_dim` applies and
        the models of one table compare. Each Monte Carlo draw has its own
        dequantization.
    logit_alpha : float, default=0.05
        With ``n_levels``: the logit is taken of ``logit_alpha + (1 - 2
        logit_alpha) u`` for dequantized u in [0, 1).
    log_snr_range : tuple of 2 float, default=(-10.0, 10.0)
        The log-SNR at the noisy end and at the data end. The bound's endpoint
        terms are exact for any range; a wider one loosens the bound less at
        the ends, and costs a little more Monte Carlo noise. Data are assumed
        of unit scale (standardize them; logit pixels are).
    likelihood : {"elbo", "ode"}, default="elbo"
        What :meth:`score_samples` estimates: the variational bound, or the
        probability-flow ODE's log-likelihood (about 10-100 network passes
        per draw where the bound takes one; its adaptive solver does not run
        under ``vmap``, so only the MLP scores it on the batched engine). May
        be changed after fitting: training is the same.
    n_mc_samples : int, default=256
        Monte Carlo draws per row in :meth:`score_samples` (for the ODE, ODE
        solves per row, each with its own probe). May be changed after fitting.
    ode_tolerance : float, default=1e-5
        Relative and absolute tolerance of the ODE solver (dopri5).
    mc_seed : int or None, default=None
        Seed of the Monte Carlo draws of :meth:`score_samples`. ``None``
        draws them from ``random_state``: each fold model of a
        :class:`~skmem.MemorizationScorer` has its own, so the bound's noise
        varies between repeats and the intervals and p-values account for it.
        An int gives every model that shares it the same draws (common random
        numbers): most of the noise then cancels in ``M`` (5 times less on
        digits), but what is left is the same in every repeat, which the
        repeats cannot see: under the null, p-values come out too small in
        the tail (7 of 20 runs flagged something, against 2 of 20 with
        ``None``). Use it for rankings, not for flags.
    time_sampling : {"uniform", "learned"}, default="uniform"
        How :meth:`score_samples` draws the log-SNR: stratified and uniform
        on the range (Song et al.'s importance sampling of time steps, the
        distribution training uses), the same values for every model that
        shares its draws; or
        from an importance distribution each model learns in training, bin
        by bin in proportion to the root mean square of its Monte Carlo term
        (Nichol & Dhariwal, 2021), its own. "learned" gives one model's bound
        less noise; with shared draws (``mc_seed``), "uniform" gives M less,
        since the models then share their log-SNR values too (measured on
        digits, RMSE of M from the draws at 64 draws: 0.97 nats uniform, 2.7
        learned). May be changed after fitting.
    denoiser : type, default=None
        A network of your own in place of the built-in one: an
        ``nn.Module`` class, built as ``denoiser(**denoiser_params)`` and called
        as ``net(x_t, timesteps)`` with ``x_t`` of shape ``(B, *input_shape)`` (or
        (B, n_features) without ``input_shape``) and float timesteps (B,),
        returning the predicted noise (a tensor of the shape of ``x_t``, or an
        object whose ``sample`` attribute holds it, as diffusers' models
        return). A ``diffusers.UNet2DModel`` works as it is. Needs
        ``schedule``. It is trained with the same loss, the denoising loss
        weighted to be the negative ELBO.
    denoiser_params : dict, default=None
        Keyword arguments of ``denoiser``.
    schedule : object or array-like, default=None
        The noise schedule ``denoiser`` was built for: a diffusers scheduler
        (``DDPMScheduler(...)``), or its ``alphas_cumprod``, one value per
        timestep. Timestep ``k`` has log-SNR ``log(abar_k / (1 - abar_k))``;
        a log-SNR between two timesteps reaches the network as the fractional
        timestep between them. The log-SNR range is the schedule's, in place
        of ``log_snr_range``.
    max_epochs : int, default=100
    batch_size : int, default=64
    learning_rate : float, default=1e-3
    weight_decay : float, default=0.0
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling, the training noise and the
        fixed Monte Carlo draws.
    verbose : int, default=0
    checkpoints : list of int, default=None
        Epochs at which :meth:`fit` keeps a snapshot; see
        :class:`~skmem.TorchDensity`.
    precision : {"float32", "tf32", "bfloat16"}, default="float32"

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, on the CPU.
    loss_curve_ : ndarray of shape (`n_iter_`,)
        Mean one-draw negative bound per training sample, per epoch, in nats.
    n_iter_ : int
    noise_seed_ : int
        Seed of the fixed Monte Carlo draws of :meth:`score_samples`.
    device_ : str
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    VAEDensity : The same contract with a variational autoencoder.

    Examples
    --------
    On a Gaussian the exact log-density is known, and the bound lies just
    below it:

    >>> import numpy as np
    >>> from scipy.stats import multivariate_normal
    >>> from skmem import DiffusionDensity
    >>> X = np.random.RandomState(0).normal(size=(500, 2)) * [1.0, 0.5]
    >>> model = DiffusionDensity(hidden_layer_sizes=(32,), max_epochs=10,
    ...                          learning_rate=1e-2, n_mc_samples=4096,
    ...                          random_state=0).fit(X)
    >>> exact = multivariate_normal(cov=np.diag([1.0, 0.25])).logpdf(X).mean()
    >>> gap = exact - model.score(X)  # nats per row, over 2 dimensions
    >>> bool(-0.05 < gap < 0.1)
    True

    Each row's Monte Carlo error, and samples:

    >>> bound, std = model.score_samples(X[:3], return_std=True)
    >>> bool((std < 0.5).all())
    True
    >>> model.sample(4, random_state=0).shape
    (4, 2)
    """

    _parameter_constraints: dict = {
        **{
            name: constraint
            for name, constraint in TorchDensity._parameter_constraints.items()
            if name not in ("module", "module_params")
        },
        "hidden_layer_sizes": ["array-like"],
        "architecture": [StrOptions({"mlp", "unet"})],
        "input_shape": ["array-like", None],
        "n_filters": [Interval(Integral, 1, None, closed="left")],
        "n_levels": [Interval(Integral, 2, None, closed="left"), None],
        "logit_alpha": [Interval(Real, 0, 0.5, closed="neither")],
        "log_snr_range": ["array-like"],
        "likelihood": [StrOptions({"elbo", "ode"})],
        "n_mc_samples": [Interval(Integral, 1, None, closed="left")],
        "ode_tolerance": [Interval(Real, 0, None, closed="neither")],
        "mc_seed": [Interval(Integral, 0, None, closed="left"), None],
        "time_sampling": [StrOptions({"uniform", "learned"})],
        "denoiser": "no_validation",  # checked in _adapted_spec, with a clearer error
        "denoiser_params": [dict, None],
        "schedule": "no_validation",
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        architecture="mlp",
        input_shape=None,
        n_filters=32,
        n_levels=None,
        logit_alpha=0.05,
        log_snr_range=(-10.0, 10.0),
        likelihood="elbo",
        n_mc_samples=256,
        ode_tolerance=1e-5,
        mc_seed=None,
        time_sampling="uniform",
        denoiser=None,
        denoiser_params=None,
        schedule=None,
        max_epochs=100,
        batch_size=64,
        learning_rate=1e-3,
        weight_decay=0.0,
        device="cpu",
        random_state=None,
        verbose=0,
        checkpoints=None,
        precision="float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.architecture = architecture
        self.input_shape = input_shape
        self.n_filters = n_filters
        self.n_levels = n_levels
        self.logit_alpha = logit_alpha
        self.log_snr_range = log_snr_range
        self.likelihood = likelihood
        self.n_mc_samples = n_mc_samples
        self.ode_tolerance = ode_tolerance
        self.mc_seed = mc_seed
        self.time_sampling = time_sampling
        self.denoiser = denoiser
        self.denoiser_params = denoiser_params
        self.schedule = schedule
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoints = checkpoints
        self.precision = precision

    # -- what the module is built from ------------------------------------------
    def _hidden_sizes(self):
        sizes = np.asarray(self.hidden_layer_sizes).ravel()
        if sizes.size == 0 or sizes.dtype.kind not in "iu" or (sizes < 1).any():
            raise ValueError(
                "hidden_layer_sizes must be positive integers, e.g. (256, 256); got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _log_snr_range(self):
        values = np.asarray(self.log_snr_range, dtype=float).ravel()
        if values.size != 2 or not np.isfinite(values).all() or values[0] >= values[1]:
            raise ValueError(
                "log_snr_range must be two finite numbers (noisy end, data end), "
                "the first smaller, e.g. (-10.0, 10.0); got "
                f"{self.log_snr_range!r}."
            )
        return float(values[0]), float(values[1])

    def _input_shape(self, n_features):
        if self.input_shape is None:
            raise ValueError(
                "architecture='unet' needs input_shape=(channels, height, width), "
                "e.g. DiffusionDensity(architecture='unet', input_shape=(1, 8, 8)) "
                "for 8x8 grey images given as rows of 64 pixels."
            )
        from ._unet import check_input_shape

        return check_input_shape(self.input_shape, n_features)

    def _module_options(self):
        return dict(
            log_snr_range=self._log_snr_range(),
            n_levels=self.n_levels,
            logit_alpha=float(self.logit_alpha),
            likelihood=self.likelihood,
            ode_tolerance=float(self.ode_tolerance),
            time_sampling=self.time_sampling,
        )

    def _adapted_spec(self, n_features):
        from ._adapter import AdaptedDenoiserModule, schedule_log_snr

        if self.denoiser is None or self.schedule is None:
            raise ValueError(
                "A denoiser of your own needs both denoiser= (the nn.Module class "
                "of eps(x_t, t)) and schedule= (its noise schedule: a diffusers "
                "scheduler or its alphas_cumprod)."
            )
        import torch

        denoiser = self.denoiser
        if not (isinstance(denoiser, type) and issubclass(denoiser, torch.nn.Module)):
            raise TypeError(
                "denoiser must be a torch.nn.Module subclass (the class, not an "
                f"instance), called as net(x_t, timesteps); got {self.denoiser!r}."
            )
        shape = None
        if self.input_shape is not None:
            shape = tuple(int(s) for s in self.input_shape)
            if int(np.prod(shape)) != n_features:
                raise ValueError(
                    f"input_shape={shape} holds {int(np.prod(shape))} values, but "
                    f"X has {n_features} columns."
                )
        options = self._module_options()
        options.pop("log_snr_range")  # the schedule's
        return AdaptedDenoiserModule, dict(
            denoiser=self.denoiser,
            denoiser_params=dict(self.denoiser_params or {}),
            log_snr=schedule_log_snr(self.schedule),
            n_features=n_features,
            input_shape=shape,
            **options,
        )

    def _module_spec(self, n_features):
        if self.denoiser is not None or self.schedule is not None:
            return self._adapted_spec(n_features)
        if self.architecture == "unet":
            from ._unet import DiffusionUNetModule

            return DiffusionUNetModule, dict(
                input_shape=self._input_shape(n_features),
                n_filters=self.n_filters,
                **self._module_options(),
            )
        from ._mlp import DiffusionMLPModule

        return DiffusionMLPModule, dict(
            n_features=n_features,
            hidden_layer_sizes=self._hidden_sizes(),
            **self._module_options(),
        )

    def _build_module(self, module_class, params, generator):
        import torch

        if "denoiser" in params:  # the user's network initialises itself
            return super()._build_module(module_class, params, generator)
        with torch.device("meta"):  # no initialisation, no random draws
            module = module_class(**params)
        return module.to_empty(device="cpu").reset_parameters(generator)

    def _check_input(self, X):
        self._log_snr_range()
        if self.denoiser is not None or self.schedule is not None:
            self._adapted_spec(X.shape[1])
        elif self.architecture == "unet":
            self._input_shape(X.shape[1])
        else:
            self._hidden_sizes()
        if self.n_levels is not None:
            check_levels(X, self.n_levels, f"{type(self).__name__}(n_levels=...)")
        if self.likelihood == "ode":
            from ._ode import torchdiffeq_odeint

            torchdiffeq_odeint()

    def _eval_noise_seed(self):
        return self.mc_seed

    def _log_likelihood_noise_shape(self, module):
        return (self.n_mc_samples, *module.loss_noise_shape)

    def _module_name(self):
        if self.denoiser is not None:
            return f"the denoiser {getattr(self.denoiser, '__name__', self.denoiser)}"
        return f"the built-in {self.architecture} diffusion module"

    # -- scoring options that may change after fitting ------------------------------
    def _score_with(self, X, module):
        module = _with_scoring_options(module, self)
        return super()._score_with(X, module)

    def score_samples(self, X, return_std=False):
        """The bound on log p(x) of each row (or the ODE's log p(x)), in nats.

        Deterministic: the same ``n_mc_samples`` draws for every row and call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return each estimate's Monte Carlo standard error: the
            standard deviation of the draws over ``sqrt(n_mc_samples)`` (with
            the stratified log-SNR of the bound, an upper bound on it). The
            errors of different rows are correlated, since they share draws.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        std : ndarray of shape (n_samples,)
            With ``return_std`` only.
        """
        if not return_std:
            return super().score_samples(X)
        draws = self._score_draws(self._check_query(X), self.module_)
        n = draws.shape[1]
        return draws.mean(1), draws.std(1, ddof=1) / np.sqrt(n) if n > 1 else 0 * draws[
            :, 0
        ]

    def _score_draws(self, X, module):
        """Each Monte Carlo draw's estimate for each row: (n_samples, n_mc_samples)."""
        training = torch_training()
        torch = training.torch
        module = _with_scoring_options(module, self)
        noise = self._eval_noise(module, [self.noise_seed_])[0]
        module.eval()
        rows = self._rows_per_batch(module, 1, X.shape[1], torch.device("cpu"))
        out = []
        with torch.no_grad(), training.matmul_precision("float32"):
            for start in range(0, len(X), rows):
                x = np.asarray(X[start : start + rows], dtype=np.float32)
                draws = module.log_likelihood_draws(torch.as_tensor(x), noise)
                out.append(draws.numpy())
        return np.concatenate(out)

    def sample(self, n_samples=1, random_state=None, n_steps=200):
        """Draw samples with the model's ancestral sampler.

        ``n_steps`` steps, equally spaced in log-SNR, from the Gaussian at the
        noisy end of ``log_snr_range`` to the data end, each drawn from the
        model's ``q(z_s | z_t, x = x_hat(z_t))``.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
        n_steps : int, default=200

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self)
        torch_training()
        from ._sampling import sample

        return sample(self.module_, int(n_samples), torch_seed(random_state), n_steps)


def _with_scoring_options(module, estimator):
    """``module``, or a shallow copy of it with the estimator's current
    scoring options (``likelihood``, ``ode_tolerance`` and ``time_sampling``
    may change after fitting; the weights are shared, not copied)."""
    options = {
        "likelihood": estimator.likelihood,
        "ode_tolerance": float(estimator.ode_tolerance),
        "time_sampling": estimator.time_sampling,
    }
    if all(getattr(module, k, None) == v for k, v in options.items()):
        return module
    other = copy.copy(module)
    other.__dict__.update(options)
    return other
