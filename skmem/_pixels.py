"""Continuous densities of discrete pixels: dequantization, the logit transform,
bits per dimension.

A continuous density evaluated at integer pixel levels is not a likelihood: it
can be made as large as one likes by concentrating on the levels. Image models
are compared instead on the probability of the discrete pixels, as in the
paper's CIFAR-10 and CelebA experiments (after Theis et al., 2016, and Dinh et
al., 2017): add uniform noise to the levels, map them to [0, 1], take the
logit, fit any density there, and carry the density back to the levels with
the change of variables. Nothing here imports torch.
"""

import inspect
import math
from numbers import Integral, Real

import numpy as np
from scipy.special import expit, logsumexp
from sklearn.base import BaseEstimator, DensityMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from ._splits import MAX_SEED


def logit_dequantize(levels, uniform, n_levels, alpha, xp=np):
    """Dequantized logit data and the log-Jacobian back to the levels.

    ``y = logit(alpha + (1 - 2 alpha) (levels + uniform) / n_levels)``, and per
    row (last axis summed) the term that turns a log-density of y into the
    log-probability of the levels: ``log p_Y(y) + log_jacobian``. ``xp`` is
    ``numpy`` or ``torch``: the same formula serves both.
    """
    s = alpha + (1 - 2 * alpha) * (levels + uniform) / n_levels
    log_s, log_1ms = xp.log(s), xp.log1p(-s)
    log_jacobian = s.shape[-1] * (math.log1p(-2 * alpha) - math.log(n_levels)) - (
        log_s + log_1ms
    ).sum(-1)
    return log_s - log_1ms, log_jacobian


def check_levels(X, n_levels, owner):
    """A clear error unless X holds integer levels in [0, n_levels - 1]."""
    if X.size and (X.min() < 0 or X.max() > n_levels - 1 or (X != np.rint(X)).any()):
        raise ValueError(
            f"{owner} needs integer pixel levels in [0, {n_levels - 1}] "
            f"(n_levels={n_levels}); got values in [{X.min():.3g}, {X.max():.3g}]. "
            "Pass the raw levels (for example uint8 images with n_levels=256), "
            "not intensities scaled to [0, 1]."
        )


def bits_per_dim(log_likelihood, n_dims):
    """Nats per sample to bits per dimension: ``-log_likelihood / (n_dims ln 2)``.

    The unit of image papers: the negative log2-probability of an image divided
    by its number of sub-pixels (C x H x W); lower is better. Only meaningful
    for a log-probability of discrete values, such as what
    :class:`DequantizedDensity` reports.

    Parameters
    ----------
    log_likelihood : float or array-like
        Log-likelihood per sample, in nats.
    n_dims : int
        Dimensions of a sample (pixels x channels).

    Returns
    -------
    bits : float or ndarray
        Of the shape of ``log_likelihood``.

    Examples
    --------
    >>> import math
    >>> from skmem import bits_per_dim
    >>> bits_per_dim(-64 * math.log(4), 64)  # 64 uniform 4-level pixels
    2.0
    """
    if isinstance(n_dims, bool) or not isinstance(n_dims, Integral) or n_dims < 1:
        raise ValueError(f"n_dims must be a positive integer; got {n_dims!r}.")
    bits = -np.asarray(log_likelihood, dtype=float) / (n_dims * math.log(2))
    return float(bits) if bits.ndim == 0 else bits


class DequantizedDensity(DensityMixin, BaseEstimator):
    """A continuous density of discrete pixel levels, reported on the levels.

    Pixels take ``n_levels`` integer values v. :meth:`fit` dequantizes them,
    ``u = (v + e) / n_levels`` with e ~ U[0, 1) drawn from ``random_state``,
    applies the logit transform of the paper (after Dinh et al., 2017),
    ``y = logit(alpha + (1 - 2 alpha) u)`` with ``alpha = logit_alpha``, and
    fits ``estimator`` to y.
    :meth:`score_samples` reports the log-probability of the discrete levels,
    with the change of variables accounted for::

        log P(v) ~ log p_Y(y) + sum_d [log(1 - 2 alpha) - log s_d - log(1 - s_d)]
                   - D log(n_levels),      s = alpha + (1 - 2 alpha) u,

    estimated with ``n_noise_samples`` draws of e, combined by log-mean-exp:
    ``exp`` of the estimate is an unbiased estimate of P(v), and its log a
    lower bound in expectation that tightens as draws are added. Scores of
    KDE, GMM and VAE models wrapped this way are in the same unit, nats per
    image of discrete pixels, and :func:`bits_per_dim` turns them into the
    bits per dimension of image papers.

    Wrap the model, not the data: inside :class:`~skmem.MemorizationScorer`
    each fold model draws its own noise from its own seed (the scorer sets
    ``random_state`` and the nested ``estimator__random_state``), so results are
    reproducible. :meth:`score_samples` is deterministic: one noise matrix,
    drawn from the seed at fit time, is shared by every row (common random
    numbers, as :class:`~skmem.VAEDensity` does), so a row's score depends
    neither on the other rows nor on their order.

    Parameters
    ----------
    estimator : estimator object
        A density with ``fit`` and ``score_samples`` (a pipeline ending in one
        works), fitted in logit space. A :class:`~skmem.VAEDensity` needs
        ``likelihood="gaussian"`` there.
    n_levels : int, default=256
        Number of pixel levels; X holds integers in [0, n_levels - 1] (256 for
        8-bit images, 17 for scikit-learn's digits).
    logit_alpha : float, default=0.05
        The paper's lambda: the logit is taken of ``alpha + (1 - 2 alpha) u`` so
        that it stays finite at the ends (0.05 for CIFAR-10 in the paper, 1e-6
        for MNIST).
    n_noise_samples : int, default=1
        Dequantization draws per row in :meth:`score_samples`; may be changed
        after fitting. Each costs one call of the inner ``score_samples``.
    random_state : int, RandomState instance or None, default=None
        Seeds the training noise and the fixed scoring noise.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted inner density, on logit-space data.
    noise_seed_ : int
        Seed of the fixed noise shared by every row in :meth:`score_samples`.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.

    See Also
    --------
    bits_per_dim : Nats per image to bits per dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from skmem import DequantizedDensity, bits_per_dim
    >>> from skmem.datasets import load_digits
    >>> X = np.rint(load_digits() * 16)  # the original levels 0..16
    >>> model = DequantizedDensity(GaussianMixture(4, random_state=0), n_levels=17,
    ...                            random_state=0).fit(X)
    >>> log_p = model.score_samples(X[:5])  # log-probabilities of the levels
    >>> bool((log_p < 0).all())
    True
    >>> bits = bits_per_dim(log_p.mean(), X.shape[1])  # below log2(17) = 4.09
    >>> bool(0 < bits < np.log2(17))
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"])],
        "n_levels": [Interval(Integral, 2, None, closed="left")],
        "logit_alpha": [Interval(Real, 0, 0.5, closed="neither")],
        "n_noise_samples": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        n_levels=256,
        logit_alpha=0.05,
        n_noise_samples=1,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_levels = n_levels
        self.logit_alpha = logit_alpha
        self.n_noise_samples = n_noise_samples
        self.random_state = random_state

    def _logit(self, X, noise):
        return logit_dequantize(X, noise, self.n_levels, self.logit_alpha)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the inner density to the dequantized, logit-transformed levels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Integer pixel levels in [0, n_levels - 1].
        y : None
            Ignored.

        Returns
        -------
        self : DequantizedDensity
        """
        X = validate_data(self, X, dtype=np.float64)
        check_levels(X, self.n_levels, type(self).__name__)
        rng = check_random_state(self.random_state)
        self.noise_seed_ = int(rng.randint(MAX_SEED))
        Y, _ = self._logit(X, rng.uniform(size=X.shape))
        self.estimator_ = clone(self.estimator).fit(Y)
        return self

    def score_samples(self, X):
        """Log-probability of each row's discrete levels, in nats.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Integer pixel levels in [0, n_levels - 1].

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        check_levels(X, self.n_levels, type(self).__name__)
        noise = np.random.RandomState(self.noise_seed_).uniform(
            size=(self.n_noise_samples, X.shape[1])
        )
        draws = []
        for e in noise:
            Y, log_jacobian = self._logit(X, e)
            draws.append(self.estimator_.score_samples(Y) + log_jacobian)
        return logsumexp(draws, axis=0) - math.log(len(draws))

    @available_if(lambda self: hasattr(self.estimator, "sample"))
    def sample(self, n_samples=1, random_state=None):
        """Draw images of levels: y from the inner density, back through the logit.

        Available when the inner estimator has ``sample``; ``random_state`` is
        passed on where its ``sample`` takes one.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            Integer levels in [0, n_levels - 1], as floats.
        """
        check_is_fitted(self)
        sample = self.estimator_.sample
        if "random_state" in inspect.signature(sample).parameters:
            Y = sample(n_samples, random_state=random_state)
        else:
            Y = sample(n_samples)
        if isinstance(Y, tuple):  # GaussianMixture also returns the components
            Y = Y[0]
        u = (expit(np.asarray(Y)) - self.logit_alpha) / (1 - 2 * self.logit_alpha)
        return np.clip(np.floor(u * self.n_levels), 0, self.n_levels - 1)

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
