"""MemorizationScorer: per-sample memorization of any density estimator."""

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.neighbors import KernelDensity
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._aggregate import (
    _AGGREGATES,
    in_out_log_likelihoods,
    scores_from_in_out,
    warn_missing,
)
from ._cache import ModelCache
from ._memory import available_bytes
from ._reliability import repeat_error_bars
from ._rows import mean_over_matching_rows
from ._splits import make_split_plan, resolve_cv
from .engines import ENGINES, select_engine

_REQUIRED_METHODS = ("fit", "score_samples")


class MemorizationScorer(BaseEstimator):
    """Per-sample memorization score of a density estimator, by cross-validation.

    For every training sample ``x_i`` the score is the log-likelihood that models
    trained on ``x_i`` give it, minus the log-likelihood that models which held
    it out give it (van den Burg & Williams, NeurIPS 2021)::

        M_i = logmeanexp {log p_k(x_i) : k trained on x_i}
            - logmeanexp {log p_k(x_i) : k held x_i out}

    One model is fitted per split of ``cv``. ``M_i`` is in nats: 0 means the
    model does not care whether it saw the sample; large positive values mean
    the model memorized it. Preprocessing belongs inside ``estimator`` (a
    :class:`~sklearn.pipeline.Pipeline`) so that it is refitted per split and a
    held-out sample does not leak into its own "out" model.

    Parameters
    ----------
    estimator : estimator object, default=None
        Any object with ``fit(X)`` and ``score_samples(X)`` returning
        log-densities, such as :class:`~sklearn.neighbors.KernelDensity`,
        :class:`~sklearn.mixture.GaussianMixture`, :class:`skmem.VAEDensity` or a
        pipeline ending in one. None means ``KernelDensity(bandwidth="scott")``.
    cv : int or cross-validation splitter, default=10
        An int gives shuffled :class:`~sklearn.model_selection.KFold` with that
        many folds (:class:`~sklearn.model_selection.RepeatedKFold` when
        ``n_repeats > 1``). Any splitter works: ``RepeatedKFold`` (less noise),
        ``ShuffleSplit`` (random subsets), ``LeaveOneOut`` (the exact definition),
        group splitters with ``groups`` passed to :meth:`fit`.
    n_repeats : int, default=1
        Number of repeats of an int ``cv``, each with a new shuffle. More repeats
        make the score less noisy.
    aggregate : {"logmeanexp", "mean"}, default="logmeanexp"
        How the in- and out-models' log-likelihoods are combined; see
        :func:`skmem.memorization_scores`.
    engine : {"auto", "generic", "kde", "torch"}, default="auto"
        ``"generic"`` clones and fits the estimator once per split, and works
        for any estimator. ``"kde"``: for
        :class:`~sklearn.neighbors.KernelDensity` with the euclidean metric, exact
        leave-fold-out densities from one pass of pairwise kernel sums (no refit,
        and exact where scikit-learn's tree evaluation is approximate).
        ``"torch"``: for :class:`~skmem.TorchDensity` (and
        :class:`~skmem.VAEDensity`), all models trained together with
        ``torch.func``, one batched group per worker. ``"auto"`` takes the first
        of these fast engines that applies, otherwise the generic engine;
        ``verbose`` says why a fast engine was not used. Naming an engine that
        does not apply is an error that says why.
    n_jobs : int, default=None
        Number of models fitted in parallel with joblib (for the batched VAE
        engine on a CPU, the number of batched ensembles trained at once).
        ``None`` means 1 unless in a :obj:`joblib.parallel_backend` context;
        ``-1`` means all processors. Results do not depend on it.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling of an int ``cv`` and the seed of every model
        (written into each clone's ``random_state`` parameters, nested ones
        included). Pass an int for reproducible results.
    verbose : int, default=0
        Print progress over the models when positive.
    memory : str, joblib.Memory or None, default=None
        Where to cache each model's fitted estimator and log-likelihoods, as a
        path or a :class:`joblib.Memory` (like :class:`~sklearn.pipeline.Pipeline`).
        Entries are keyed by the estimator and its parameters, the data, the
        model's training rows and its seed, so a run that was interrupted fits
        only the missing models when started again and gives the same scores.
        Writes are atomic; an unreadable entry is recomputed. The exact
        KernelDensity engine fits no models and does not use it.

    Attributes
    ----------
    memorization_scores_ : ndarray of shape (n_samples,)
        ``M_i`` for every training sample, in nats; higher means more
        memorized. NaN for samples with no in- or no out-model.
    in_log_likelihood_ : ndarray of shape (n_samples,)
        ``U_i``, the aggregated log-likelihood under models trained on ``x_i``.
    memorization_std_ : ndarray of shape (n_samples,)
        Standard error of each score across repeats (``n_repeats > 1`` or a
        repeated splitter): the standard deviation of M computed repeat by
        repeat, over sqrt(n_repeats). NaN with a single repeat.
    reliability_ : float
        Split-half reliability of the ranking of samples: the Spearman
        correlation between M from the first and from the second half of the
        repeats, Spearman-Brown corrected to all repeats (``2r / (1 + r)``).
        Near 1, the ranking is signal; near 0, noise. NaN with a single repeat.
    out_log_likelihood_ : ndarray of shape (n_samples,)
        ``V_i``, the aggregated log-likelihood under models that held ``x_i``
        out.
    log_likelihoods_ : ndarray of shape (n_models, n_samples) or None
        ``log p_k(x_i)`` for every model and training sample. None when the
        exact KernelDensity engine ran LeaveOneOut on more samples than its
        memory budget holds as an n x n matrix; the scores are still exact.
    train_masks_ : ndarray of bool, shape (n_models, n_samples)
        True where model ``k`` was trained on sample ``i``.
    test_masks_ : ndarray of bool, shape (n_models, n_samples)
        True where model ``k`` held sample ``i`` out.
    seeds_ : ndarray of shape (n_models,)
        The seed given to each model.
    estimators_ : list of estimators
        The fitted models, when the engine fits separate models.
    engine_ : str
        Name of the engine that computed the log-likelihoods.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string column
        names.

    See Also
    --------
    memorization_scores : The score from log-likelihoods you computed yourself.

    References
    ----------
    G. J. J. van den Burg and C. K. I. Williams, "On Memorization in
    Probabilistic Deep Generative Models", NeurIPS 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.mixture import GaussianMixture
    >>> from skmem import MemorizationScorer
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(60, 2)), [[8.0, 8.0]]])
    >>> scorer = MemorizationScorer(GaussianMixture(2), cv=5, random_state=0).fit(X)
    >>> scorer.memorization_scores_.shape
    (61,)
    >>> int(np.argmax(scorer.memorization_scores_))  # the isolated point
    60
    """

    _parameter_constraints: dict = {
        "estimator": "no_validation",
        "cv": [Interval(Integral, 2, None, closed="left"), "cv_object"],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "aggregate": [StrOptions(set(_AGGREGATES))],
        "engine": [StrOptions({"auto", *ENGINES})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "memory": [None, str, HasMethods(["cache"])],
    }

    def __init__(
        self,
        estimator=None,
        *,
        cv=10,
        n_repeats=1,
        aggregate="logmeanexp",
        engine="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
        memory=None,
    ):
        self.estimator = estimator
        self.cv = cv
        self.n_repeats = n_repeats
        self.aggregate = aggregate
        self.engine = engine
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.memory = memory

    def _base_estimator(self):
        if self.estimator is None:
            return KernelDensity(bandwidth="scott")
        missing = [
            name
            for name in _REQUIRED_METHODS
            if not callable(getattr(self.estimator, name, None))
        ]
        if missing:
            raise TypeError(
                f"The estimator {self.estimator!r} has no {' or '.join(missing)} "
                "method. MemorizationScorer needs a density estimator with fit(X) "
                "and score_samples(X) returning log-densities, such as "
                "KernelDensity or GaussianMixture."
            )
        return self.estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            allow_nan = get_tags(self._base_estimator()).input_tags.allow_nan
        except (TypeError, AttributeError):  # not a scikit-learn estimator
            allow_nan = False
        tags.input_tags.allow_nan = allow_nan
        return tags

    @_fit_context(
        # The wrapped estimator is validated when each clone is fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, groups=None):
        """Fit one model per split and compute every sample's memorization score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data. Integer input is converted to float64; float32 is
            kept.
        y : None
            Ignored; present for API consistency.
        groups : array-like of shape (n_samples,), default=None
            Group labels for group splitters such as
            :class:`~sklearn.model_selection.GroupKFold`.

        Returns
        -------
        self : MemorizationScorer
            The fitted scorer.
        """
        estimator = self._base_estimator()
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2,
            ensure_all_finite=not get_tags(self).input_tags.allow_nan,
        )
        n_samples = X.shape[0]
        rng = check_random_state(self.random_state)
        splitter = resolve_cv(self.cv, self.n_repeats, n_samples, rng)
        engine = select_engine(
            estimator,
            self.engine,
            X,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            aggregate=self.aggregate,
            cache=ModelCache.from_memory(self.memory),
        )
        _check_fits_in_memory(engine, splitter.get_n_splits(X, y, groups), n_samples)
        plan = make_split_plan(
            splitter, n_samples, X=X, y=y, groups=groups, random_state=rng
        )
        if self.verbose:
            print(
                f"[MemorizationScorer] fitting {plan.n_models} models of "
                f"{type(estimator).__name__} on {n_samples} samples with the "
                f"{engine.name} engine",
                flush=True,
            )
        result = engine.compute(estimator, X, plan)

        if result.in_log_likelihood is None:
            in_ll, out_ll, n_missing = in_out_log_likelihoods(
                result.log_likelihoods,
                plan.train_masks,
                plan.test_masks,
                aggregate=self.aggregate,
            )
            warn_missing(n_missing, n_samples)
        else:
            in_ll, out_ll = result.in_log_likelihood, result.out_log_likelihood
        std, reliability, reason = repeat_error_bars(
            result.log_likelihoods,
            plan.train_masks,
            plan.test_masks,
            aggregate=self.aggregate,
        )
        if reason and self.verbose:
            print(
                "[MemorizationScorer] memorization_std_ and reliability_ are NaN: "
                f"{reason}.",
                flush=True,
            )

        self.log_likelihoods_ = result.log_likelihoods
        self.in_log_likelihood_ = in_ll
        self.out_log_likelihood_ = out_ll
        self.memorization_scores_ = scores_from_in_out(in_ll, out_ll)
        self.memorization_std_ = std
        self.reliability_ = reliability
        self.train_masks_ = plan.train_masks
        self.test_masks_ = plan.test_masks
        self.seeds_ = plan.seeds
        if result.estimators is not None:
            self.estimators_ = result.estimators
        self.engine_ = engine.name
        self._engine = engine
        self._fit_X = X
        return self

    def _validate_query(self, X):
        check_is_fitted(self)
        return validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            ensure_all_finite=not get_tags(self).input_tags.allow_nan,
        )

    def score_samples(self, X):
        """Memorization score of each row of ``X``.

        Rows that were in the training data get their ``memorization_scores_``
        (matched by value; equal rows share the mean of their scores). Rows that
        were not get 0.0, since a sample outside the training set cannot have
        been memorized, and one warning counts them.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)

        Returns
        -------
        scores : ndarray of shape (n_rows,)
            Memorization scores in nats; higher means more memorized.
        """
        X = self._validate_query(X)
        scores, seen = mean_over_matching_rows(
            self._fit_X, self.memorization_scores_, X
        )
        n_unseen = int((~seen).sum())
        if n_unseen:
            warnings.warn(
                f"{n_unseen} of {len(X)} rows were not in the training data; their "
                "memorization score is 0.0 by definition (a model cannot have "
                "memorized a sample it was not trained on).",
                UserWarning,
                stacklevel=2,
            )
        return np.where(seen, scores, 0.0)

    def score(self, X, y=None):
        """Mean held-out log-likelihood of ``X``, for model selection.

        Training rows contribute ``out_log_likelihood_`` (the density from the
        models that held them out); other rows the fold-ensemble density
        ``logmeanexp_k log p_k(x)``. A model that memorizes is never rewarded.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
            Mean held-out log-likelihood in nats; rows without a held-out
            estimate are left out.
        """
        X = self._validate_query(X)
        held_out, seen = mean_over_matching_rows(
            self._fit_X, self.out_log_likelihood_, X
        )
        if not seen.all():
            held_out[~seen] = self._engine.ensemble_log_likelihood(X[~seen])
        held_out = held_out[~np.isnan(held_out)]
        return float(held_out.mean()) if held_out.size else float("nan")


def _check_fits_in_memory(engine, n_models, n_samples):
    """Refuse, before allocating anything, a plan whose arrays exceed free memory."""
    need = 2 * n_models * n_samples + engine.matrix_bytes(n_models, n_samples)
    free = available_bytes()
    if free is not None and need > free:
        raise MemoryError(
            f"{n_models} models x {n_samples} samples need {need / 2**30:.1f} GiB "
            f"for the split masks and log-likelihoods, more than the "
            f"{free / 2**30:.1f} GiB of free memory. Use fewer splits (KFold "
            "instead of LeaveOneOut), or a subsample."
        )
