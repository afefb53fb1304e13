"""SampledDensity: a density for generators that can sample but give no likelihood.

GANs, table synthesizers and diffusion samplers run as black boxes have
``fit`` and ``sample`` but no ``score_samples``. :class:`SampledDensity` trains
the generator, draws ``n_samples`` from it, and scores rows under a density
fitted on those samples, so that :class:`~skmem.MemorizationScorer` can compare
models that trained on a record with models that held it out.

The default density is a product kernel density of the samples
(:class:`~skmem._mixed.ProductKernelDensity`: gaussian on standardized numbers,
Aitchison-Aitken on categories and booleans), so tables of mixed types are
scored as they are. Its widths are chosen by the leave-one-out likelihood of
the samples, and under :class:`~skmem.MemorizationScorer` once, from a pilot
model trained on all the rows, so that every fold model uses the same ones.
"""

import importlib
import inspect
import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils import Bunch, _safe_indexing, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._memory import budget_bytes, rows_per_block
from ._mixed import (
    ProductKernelDensity,
    TableEncoder,
    is_mixed,
)
from ._rows import categoricals_as_objects
from ._splits import MAX_SEED
from .engines.generic import set_random_states
from .engines.kde import _exp_shifted, _log_kernel_block, _Points, log_kernel_norm

__all__ = [
    "GaussianKDE",
    "SampledDensity",
    "draw_samples",
    "resolve_model",
    "robust_scale",
    "with_fixed_bandwidth",
]


def robust_scale(X):
    """One scale for an isotropic kernel: the median over features of
    ``min(std, IQR / 1.349)`` (Silverman's robust spread), 1.0 when it is 0.

    A handful of outliers move it by O(1/n), whichever fold they are in.
    """
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=0)
    q75, q25 = np.percentile(X, [75, 25], axis=0)
    iqr = (q75 - q25) / 1.349
    spread = np.where(iqr > 0, np.minimum(std, iqr), std)
    scale = float(np.median(spread)) if spread.size else 0.0
    return scale if scale > 0 and math.isfinite(scale) else 1.0


def scott_bandwidth(X, n_samples):
    """Scott's rule for an isotropic gaussian KDE on ``n_samples`` points in
    the space of ``X``: ``robust_scale(X) * n_samples ** (-1 / (d + 4))``."""
    d = np.asarray(X).shape[1]
    return robust_scale(X) * n_samples ** (-1.0 / (d + 4))


def draw_samples(generator, n_samples, seed):
    """``generator.sample(n_samples)`` as a float array, seeded by ``seed``.

    ``seed`` is passed as ``random_state`` when ``sample`` takes one (scikit-learn's
    KernelDensity, skmem's VAEDensity); otherwise the generator samples from its
    own state (GaussianMixture uses its ``random_state`` parameter). A tuple
    ``(X, labels)`` (GaussianMixture) gives its first element.
    """
    try:
        takes_seed = "random_state" in inspect.signature(generator.sample).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signature
        takes_seed = False
    if takes_seed:
        samples = generator.sample(n_samples, random_state=int(seed))
    else:
        samples = generator.sample(n_samples)
    if isinstance(samples, tuple):
        samples = samples[0]
    if not is_mixed(samples):
        samples = check_array(samples, dtype=np.float64, input_name="generated samples")
    if len(samples) != n_samples:
        raise ValueError(
            f"{type(generator).__name__}.sample({n_samples}) returned "
            f"{len(samples)} rows; it must return n_samples rows."
        )
    return samples


def gaussian_kde_log_density(X, centers, bandwidth, *, n_jobs=None):
    """Exact ``log (1/m) sum_j N(x; c_j, h^2 I)`` for every row of ``X``.

    Kernel sums in log space with a shift per row (so isolated rows are exact),
    in row blocks within a quarter of scikit-learn's ``working_memory``; no
    ``len(X) x m`` matrix is held.
    """
    X = np.asarray(X, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    m, d = centers.shape
    center = centers.mean(axis=0)
    query = _Points(X, center, bandwidth)
    train = _Points(centers, center, bandwidth)
    offset = log_kernel_norm(bandwidth, d, "gaussian") - math.log(m)
    block = rows_per_block(8 * m, len(X), budget=budget_bytes(0.25))
    out = np.empty(len(X))
    for start in range(0, len(X), block):
        stop = min(start + block, len(X))
        log_k = _log_kernel_block(query.left[start:stop], train, "gaussian")
        terms, shift = _exp_shifted(log_k, compact=False)
        with np.errstate(divide="ignore"):
            out[start:stop] = np.log(terms.sum(axis=1)) + shift[:, 0] + offset
    return out


class GaussianKDE(BaseEstimator):
    """Gaussian kernel density with a fixed bandwidth, by exact kernel sums.

    The default density of :class:`SampledDensity`; unlike scikit-learn's
    tree-based :class:`~sklearn.neighbors.KernelDensity` it keeps the tiny
    densities of rows far from every sample exact.

    Parameters
    ----------
    bandwidth : float
    """

    _parameter_constraints: dict = {
        "bandwidth": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, bandwidth=1.0):
        self.bandwidth = bandwidth

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Keep the samples ``X`` as the kernel centres."""
        self.samples_ = validate_data(self, X, dtype=np.float64)
        return self

    def score_samples(self, X):
        """Exact log-density of each row of ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return gaussian_kde_log_density(X, self.samples_, self.bandwidth)


def pilot_seed(plan):
    """The seed of the pilot model that fixes the widths for a split plan."""
    return int(np.random.RandomState(int(plan.seeds[0])).randint(MAX_SEED))


def with_fixed_bandwidth(estimator, X, *, random_state=0):
    """``estimator`` (a SampledDensity with its default density) with the
    density's encoder and widths fixed once from all of ``X``.

    The encoder (which columns are numbers, their centres and scales, the
    categories) comes from ``X``. Widths left to ``"likelihood"`` come from a
    pilot: a clone trained on all of ``X`` with seed ``random_state``, its
    widths chosen by the leave-one-out likelihood of its samples. Every fold
    model then uses the same encoder and widths.
    """
    encoder = TableEncoder().fit(X)
    h, r = estimator.bandwidth, estimator.category_bandwidth
    if not encoder.categories_idx_:
        r = 1.0
    if not encoder.numbers_:
        h = 1.0
    if "likelihood" in (h, r):
        pilot = clone(estimator).set_params(random_state=random_state)
        pilot.fit(X)
        h, r = pilot.density_.bandwidth_, pilot.density_.category_bandwidth_
    density = ProductKernelDensity(bandwidth=h, category_bandwidth=r, encoder=encoder)
    return clone(estimator).set_params(density=density)


class SampledDensity(BaseEstimator):
    """Density of a generator that can only sample, from its samples.

    ``fit`` trains ``generator`` on X, draws ``n_samples`` rows from it, and
    fits ``density`` on them; :meth:`score_samples` is that density. Any
    generator with ``fit(X)`` and ``sample(n_samples)`` works:
    :class:`~sklearn.mixture.GaussianMixture`,
    :class:`~sklearn.neighbors.KernelDensity`, :class:`skmem.VAEDensity`, or a
    GAN or synthetic-data library's model behind an adapter of a few lines (a
    class with ``fit`` and ``sample`` that returns a numeric array). Wrapped in
    :class:`~skmem.MemorizationScorer`, it gives every record a memorization
    score from samples alone.

    Parameters
    ----------
    generator : object with ``fit`` and ``sample``
        Cloned and trained in :meth:`fit`. ``sample(n)`` must return an array of
        ``n`` rows (or a tuple whose first element is one); it is passed
        ``random_state`` when it accepts one.
    n_samples : int, default=10_000
        Samples drawn from the trained generator. The density of the samples
        differs from the generator's by sampling noise of relative size about
        ``1 / sqrt(n_samples * density * h^d)``, so rare regions need many.
    density : estimator with ``fit`` and ``score_samples``, default=None
        Fitted on the samples. None means a product kernel density
        (:class:`~skmem._mixed.ProductKernelDensity`): a gaussian kernel of
        width ``bandwidth`` on the numbers, standardized by their median and
        ``min(std, IQR / 1.349)`` in the training data, times an
        Aitchison-Aitken kernel of mismatch weight ``category_bandwidth`` on
        each text, categorical or boolean column; its log-density is computed
        by exact kernel sums. Models that trained on a record and models that
        held it out must use the same widths (widths chosen per model would
        differ between them and bias the score): under
        :class:`~skmem.MemorizationScorer` the ``"sampled"`` engine fixes them
        once, from a pilot model trained on all the rows, and gives every
        fold model those widths and that standardization. Fitted alone (or
        with ``engine="generic"``) they come from the rows passed to ``fit``
        and the model's own samples. For a density of your own pass, e.g.,
        ``KernelDensity(bandwidth=h)`` (numeric data only).
    bandwidth : float or {"likelihood", "scott"}, default="likelihood"
        The default density's gaussian width in standardized units.
        ``"likelihood"`` maximises the leave-one-out likelihood of the
        samples: the kernel becomes as narrow as the samples' own clumps, so
        a generator that copies its training rows is seen (Scott's rule,
        ``"scott"``, ``n_samples ** (-1 / (d + 4))``, smooths copies away).
    category_bandwidth : float in (0, 1] or "likelihood", default="likelihood"
        The default density's weight of a mismatched category relative to a
        matching one (1 ignores categories); ``"likelihood"`` as above.
    random_state : int, RandomState instance or None, default=None
        Seeds the generator's training (every ``random_state`` parameter of a
        clone of it is set from it; None leaves the generator's own) and its
        sampling. Under :class:`~skmem.MemorizationScorer` each fold model gets
        its own seed, so its generator and its samples depend only on it.

    Attributes
    ----------
    generator_ : object
        The trained generator.
    samples_ : ndarray of shape (n_samples, n_features)
        The samples the density was fitted on.
    density_ : estimator
        The fitted density of the samples.
    bandwidth_ : float or None
        The density's gaussian width (``bandwidth_`` of the default density,
        ``bandwidth`` of a given one), where it has one.
    n_features_in_ : int

    Notes
    -----
    The score of a record under this density is smoothed twice: by the
    generator, and by the kernel. A generator that copies a record puts a
    spike on it, and the kernel spreads the spike over a width ``h``: the
    memorization score is then about ``log(1 + c / (n_samples * p_out(x) *
    (2 pi h^2)^(d/2)))`` for ``c`` copies, large where the record is atypical
    (``p_out`` small) and lower than the generator's own likelihood would give,
    a bias towards 0 that shrinks with ``n_samples``. A generator that ignores
    its data gives in- and out-models the same density and scores near 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from skmem import SampledDensity
    >>> X = np.random.RandomState(0).normal(size=(200, 2))
    >>> model = SampledDensity(GaussianMixture(2), n_samples=2000, random_state=0)
    >>> model.fit(X).samples_.shape
    (2000, 2)
    >>> bool(model.score_samples(np.zeros((1, 2)))[0] > model.score_samples(
    ...     np.full((1, 2), 5.0))[0])
    True
    """

    _parameter_constraints: dict = {
        "generator": [HasMethods(["fit", "sample"])],
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "density": [HasMethods(["fit", "score_samples"]), None],
        # Passed on to the default density, and checked as it checks them.
        "bandwidth": ProductKernelDensity._parameter_constraints["bandwidth"],
        "category_bandwidth": ProductKernelDensity._parameter_constraints[
            "category_bandwidth"
        ],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        generator,
        *,
        n_samples=10_000,
        density=None,
        bandwidth="likelihood",
        category_bandwidth="likelihood",
        random_state=None,
    ):
        self.generator = generator
        self.n_samples = n_samples
        self.density = density
        self.bandwidth = bandwidth
        self.category_bandwidth = category_bandwidth
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Train the generator on X, sample from it, and fit the density.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : SampledDensity
        """
        X = self._validate(X, reset=True)
        rng = check_random_state(self.random_state)
        fit_seed, sample_seed = rng.randint(MAX_SEED, size=2)
        generator = clone(self.generator, safe=False)
        if self.random_state is not None:
            generator = set_random_states(generator, int(fit_seed))
        generator.fit(X)
        if "random_state" not in _sample_parameters(generator):
            # It samples from its own state; seed it for the samples too.
            if self.random_state is not None:
                set_random_states(generator, int(sample_seed))
        samples = draw_samples(generator, self.n_samples, sample_seed)
        if samples.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{type(generator).__name__}.sample returned rows of "
                f"{samples.shape[1]} features; the data has {self.n_features_in_}."
            )
        self.generator_ = generator
        self.samples_ = samples
        density = self.density
        if density is None:
            density = ProductKernelDensity(
                bandwidth=self.bandwidth,
                category_bandwidth=self.category_bandwidth,
                encoder=TableEncoder().fit(X),
            )
        elif is_mixed(samples) and not isinstance(density, ProductKernelDensity):
            raise ValueError(
                f"The samples have text or categorical columns, which "
                f"{type(density).__name__} cannot score; leave density=None for the "
                "product kernel density of mixed tables."
            )
        self.density_ = clone(density).fit(samples)
        self.bandwidth_ = getattr(
            self.density_, "bandwidth_", getattr(self.density_, "bandwidth", None)
        )
        return self

    def _validate(self, X, *, reset):
        """Shape, names and finiteness checked; a mixed table is kept as it
        is (for the generator and the product kernel), numbers become a float
        array, as before."""
        if is_mixed(X):
            validate_data(self, categoricals_as_objects(X), dtype=None, reset=reset)
            return X
        return validate_data(self, X, dtype=np.float64, reset=reset)

    def score_samples(self, X):
        """Log-density of each row of X under the density of the samples.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_rows,)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return np.asarray(self.density_.score_samples(X), dtype=np.float64)

    def score(self, X, y=None):
        """Mean log-density of the rows of X."""
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None):
        """Draw new samples from the trained generator.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            Passed on when the generator's ``sample`` takes it.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        seed = check_random_state(random_state).randint(MAX_SEED)
        return draw_samples(self.generator_, n_samples, seed)


def _sample_parameters(generator):
    try:
        return inspect.signature(generator.sample).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return {}


def _parse_value(text):
    """A ``--param`` value: Python literal where it is one, else the string."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def resolve_model(spec, params=(), *, sampled=None):
    """Build the estimator named by an import path, ``package.module:Class``.

    Parameters
    ----------
    spec : str
        ``"package.module:Class"`` (a class or a factory function).
    params : iterable of str or dict
        ``"key=value"`` strings (values are read as Python literals where they
        are one: ``epochs=10``, ``lr=1e-3``, ``hidden=(64, 64)``, else kept as
        strings) or a dict, passed as keyword arguments.
    sampled : bool or None, default=None
        Wrap the model in :class:`SampledDensity`. None wraps it when it has
        ``sample`` but no ``score_samples``.

    Returns
    -------
    estimator : object

    Examples
    --------
    >>> from skmem._sampled import resolve_model
    >>> resolve_model("sklearn.mixture:GaussianMixture", ["n_components=3"])
    GaussianMixture(n_components=3)
    >>> resolve_model("sklearn.mixture:GaussianMixture", sampled=True)
    SampledDensity(generator=GaussianMixture())
    """
    module_name, sep, attr = str(spec).partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(
            f"--model {spec!r} is not an import path; write it as "
            "package.module:Class, e.g. sklearn.mixture:GaussianMixture."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"--model {spec!r}: cannot import {module_name!r} ({exc}). Is the "
            "package installed, or its directory on PYTHONPATH?"
        ) from exc
    target = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(f"--model {spec!r}: {module_name!r} has no {attr!r}.")
        target = getattr(target, part)
    if isinstance(params, dict):
        kwargs = dict(params)
    else:
        kwargs = {}
        for item in params:
            key, eq, value = str(item).partition("=")
            if not eq or not key.strip():
                raise ValueError(f"--param {item!r} must be key=value, e.g. epochs=10.")
            kwargs[key.strip()] = _parse_value(value.strip())
    try:
        model = target(**kwargs)
    except TypeError as exc:
        raise ValueError(f"--model {spec!r} with {kwargs}: {exc}") from exc
    has_score = hasattr(model, "score_samples")
    has_sample = hasattr(model, "sample")
    if sampled is None:
        sampled = has_sample and not has_score
    if sampled:
        if not (hasattr(model, "fit") and has_sample):
            raise ValueError(
                f"--sampled needs a model with fit and sample; {spec} has "
                f"{'no fit' if not hasattr(model, 'fit') else 'no sample'}."
            )
        return SampledDensity(model)
    if not (hasattr(model, "fit") and has_score):
        raise ValueError(
            f"{spec} has no fit and score_samples (or fit and sample, for "
            "--sampled); it cannot be scored."
        )
    return model


def _fold_models(scorer):
    """The scorer's fitted fold models, refitted from their seeds where the
    engine kept none (the exact KDE engine)."""
    models = getattr(scorer, "estimators_", None)
    if models is not None:
        return models
    base = scorer._base_estimator()
    X = scorer._fit_X
    return [
        set_random_states(clone(base, safe=False), int(seed)).fit(
            _safe_indexing(X, np.flatnonzero(train))
        )
        for train, seed in zip(scorer.train_masks_, scorer.seeds_, strict=True)
    ]


def fold_data_copying(
    scorer, n_generated, *, n_cells=5, tau=None, random_state=None, with_test=True
):
    """The data-copying test and the closest records of every fold model.

    Model ``k`` gives its training rows, ``n_generated`` of its samples and its
    held-out rows to :func:`~skmem.baselines.data_copying_test` and to
    :func:`~skmem.baselines.closest_record_distances`; per record, the
    closest-record figures are averaged over the models that trained on it.
    ``with_test=False`` skips the test (its statistics are NaN), for the
    closest records alone: the test needs every k-means cell to hold
    held-out rows, which small folds may not.
    """
    from sklearn import get_config

    from ._risk import closer_share_ci, synthetic_side
    from .baselines import closest_record_distances, data_copying_test

    check_is_fitted(scorer)
    models = _fold_models(scorer)
    missing = [type(m).__name__ for m in models if not hasattr(m, "sample")]
    if missing:
        raise ValueError(
            f"The data-copying test needs samples; {missing[0]} has no sample "
            "method. Wrap a generator in SampledDensity, or use an estimator that "
            "samples (KernelDensity, GaussianMixture, VAEDensity)."
        )
    data = scorer._fit_X
    mixed = is_mixed(data)
    if mixed:
        # One encoding of every model's rows and samples, fixed from all rows.
        encoder = TableEncoder().fit(data)
        X = encoder.distance_features(data)
    else:
        X = check_array(data, dtype=np.float64)
    if random_state is None:
        seeds = scorer.seeds_
    else:
        seeds = check_random_state(random_state).randint(MAX_SEED, size=len(models))
    n, d = len(X), _safe_indexing(data, [0]).shape[1]
    statistics = np.empty(len(models))
    cells = []
    distance = np.zeros(n)
    to_holdout = np.zeros(n)
    n_closer = np.zeros(n)
    closest = np.full(
        (n, d), None if mixed else np.nan, dtype=object if mixed else None
    )
    closest_distance = np.full(n, np.inf)
    closer_share = np.empty(len(models))
    closer_ci = np.empty((len(models), 2))
    chance = np.empty(len(models))
    for k, model in enumerate(models):
        # A seed for the samples other than the model's own training seed.
        seed = np.random.RandomState(seeds[k]).randint(MAX_SEED)
        raw = draw_samples(model, n_generated, seed)
        generated = encoder.distance_features(raw) if mixed else raw
        train, test = scorer.train_masks_[k], scorer.test_masks_[k]
        if with_test:
            result = data_copying_test(
                X[train],
                generated,
                X[test],
                n_cells=n_cells,
                tau=tau,
                random_state=seed,
            )
            statistics[k] = result.statistic
            cells.append(result)
        else:  # the closest records only
            statistics[k] = np.nan
        records = closest_record_distances(X[train], generated, X[test])
        synth = synthetic_side(
            np.asarray(generated, dtype=np.float64),
            X[train],
            X[test],
            get_config()["working_memory"],
            None,
        )
        closer_share[k] = synth.closer.mean()
        closer_ci[k] = closer_share_ci(synth, 0.95)
        chance[k] = synth.chance
        distance[train] += records.distance_to_generated
        to_holdout[train] += records.distance_to_holdout
        n_closer[train] += records.n_closer
        # The closest sample over the models that trained on each record.
        rows = np.flatnonzero(train)
        closer = records.distance_to_generated < closest_distance[rows]
        closest_distance[rows[closer]] = records.distance_to_generated[closer]
        closest[rows[closer]] = np.asarray(
            _safe_indexing(raw, records.nearest_generated[closer]), dtype=closest.dtype
        )
    n_in = scorer.train_masks_.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        distance /= n_in
        to_holdout /= n_in
        n_closer /= n_in
    return Bunch(
        statistic=float(np.mean(statistics)),
        statistics=statistics,
        cells=cells,
        distance_to_generated=distance,
        distance_to_holdout=to_holdout,
        n_closer=n_closer,
        closest_generated=closest,
        closest_distance=closest_distance,
        closer_to_training=closer_share,
        closer_to_training_ci=closer_ci,
        closer_to_training_chance=chance,
    )
