"""MemorizationScorer: per-sample memorization of any density estimator."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.neighbors import KernelDensity
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _num_samples,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._aggregate import _AGGREGATES
from ._audit import DELTA, PRIORS, membership_audit
from ._cache import MemoryModelCache, ModelCache
from ._inference import fdr_mask
from ._memory import available_bytes
from ._reliability import repeat_groups, split_half_reliability
from ._result import MIN_REPEATS_FOR_TESTS, _why_no_tests, build_result
from ._rows import (
    categoricals_as_objects,
    check_no_missing,
    mean_over_matching_rows,
)
from ._splits import make_split_plan, resolve_cv
from .engines import ENGINES, select_engine
from .engines._base import estimator_checkpoints

_REQUIRED_METHODS = ("fit", "score_samples")


class MemorizationScorer(BaseEstimator):
    """Per-sample memorization score of a density estimator, by cross-validation.

    For every training sample ``x_i`` the score is the log-likelihood that models
    trained on ``x_i`` give it, minus the log-likelihood that models which held
    it out give it (van den Burg & Williams, NeurIPS 2021)::

        M_i = logmeanexp {log p_k(x_i) : k trained on x_i}
            - logmeanexp {log p_k(x_i) : k held x_i out}

    By default both log-mean-exps run over the same number of models
    (``aggregate="matched"``), so that their small-sample biases cancel.
    With repeats, every score comes with a standard error, an interval and a
    p-value, and :meth:`memorized` says which samples are memorized beyond
    chance at a chosen false-discovery rate.

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
    n_repeats : int or "auto", default=1
        Number of repeats of an int ``cv``, each with a new shuffle. More repeats
        make the score less noisy; 3 or more give per-sample intervals and
        p-values. ``"auto"`` adds repeats, from 3, until the split-half
        reliability of the ranking reaches ``target_reliability`` or
        ``max_repeats`` repeats have run; the models of earlier repeats are
        reused, and the result equals a run with ``n_repeats=n_repeats_``.
    target_reliability : float, default=0.8
        The reliability at which ``n_repeats="auto"`` stops.
    max_repeats : int, default=10
        The most repeats ``n_repeats="auto"`` runs, at least 3.
    aggregate : {"matched", "logmeanexp", "mean"}, default="matched"
        How the in- and out-models' log-likelihoods are combined; see
        :func:`skmem.memorization_scores`. ``"logmeanexp"`` is the paper's
        estimator, biased upwards most for the samples whose log-likelihood
        varies most between models; ``"matched"`` removes that bias.
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
        Number of models fitted in parallel with joblib (for the torch engine
        on a CPU, the number of batched groups trained at once).
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
    early_stopping : bool, default=False
        Needs an estimator with ``checkpoints`` (:class:`~skmem.TorchDensity`,
        :class:`~skmem.VAEDensity`). When True, the scores, error bars, tests
        and :meth:`score` are those of the models at ``best_checkpoint_``, the
        checkpoint with the best mean held-out log-likelihood: what early
        stopping on held-out data gives, picked from the curve at no extra
        cost. When False they are those of the final models
        (``max_epochs``). Either way ``estimators_`` are the final models;
        ``score_samples_at(X, best_checkpoint_)`` scores with the stopped ones.
        With ``n_repeats="auto"`` the number of repeats is chosen on the final
        models' ranking, so ``reliability_`` (of the stopped models) can fall
        below ``target_reliability``.

    Attributes
    ----------
    memorization_scores_ : ndarray of shape (n_samples,)
        ``M_i`` for every training sample, in nats; higher means more
        memorized. NaN for samples with no in- or no out-model.
    in_log_likelihood_ : ndarray of shape (n_samples,)
        ``U_i``, the aggregated log-likelihood under models trained on ``x_i``.
    memorization_std_ : ndarray of shape (n_samples,)
        Standard error of each score across repeats (``n_repeats > 1`` or a
        repeated splitter): the delete-one-repeat jackknife, which for
        ``aggregate="mean"`` is the standard deviation of M computed repeat by
        repeat over sqrt(n_repeats). NaN with a single repeat.
    memorization_ci_ : ndarray of shape (n_samples, 2)
        A 95 % interval for each score: ``M_i`` plus or minus a t quantile
        times its moderated standard error (the jackknife variances shrunk
        towards a trend fitted to all samples). NaN with fewer than 3 repeats.
    memorization_pvalues_ : ndarray of shape (n_samples,)
        One-sided p-value that sample ``i`` is memorized beyond the bulk of
        the samples (a shift shared by all samples, such as overfitting, is not
        memorization): a moderated t test of the mean per-repeat contrast and
        an exact within-repeat rank test, combined. NaN with fewer than 3
        repeats, and where neither test is possible. See :meth:`memorized` and
        the user guide.
    reliability_ : float
        Split-half reliability of the ranking of samples: the Spearman
        correlation between M from the first and from the second half of the
        repeats, Spearman-Brown corrected to all repeats (``2r / (1 + r)`` for
        equal halves; the general formula when the number of repeats is odd).
        Near 1, the ranking is signal; near 0, noise. NaN with a single repeat.
    n_repeats_ : int or None
        Number of repeats that ran (the one ``n_repeats="auto"`` chose); None
        when the splits are not repeated partitions of the data (ShuffleSplit).
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
    checkpoints_ : ndarray of shape (n_checkpoints,) or None
        The epochs of the curves below: the estimator's ``checkpoints``. None
        (and so are the curves) when the estimator keeps no checkpoints.
    memorization_curve_ : ndarray of shape (n_checkpoints, n_samples) or None
        ``M_i`` of every sample at each checkpoint, with the scorer's
        ``aggregate``, from the same training runs (same folds and seeds) as
        the final scores. The row of epoch ``c`` equals the scores of a run with
        ``max_epochs=c``.
    log_likelihood_curve_ : ndarray or None
        Shape (n_checkpoints, n_models, n_samples): ``log p_k(x_i)`` of every
        model and sample at each checkpoint. With
        ``train_masks_`` and ``test_masks_`` it gives every model's training
        and held-out log-likelihood curves.
    score_curve_ : ndarray of shape (n_checkpoints,) or None
        The mean held-out log-likelihood of the training samples (the mean of
        ``V_i``, what :meth:`score` gives on the training data) at each
        checkpoint.
    best_checkpoint_ : int or None
        The checkpoint with the highest ``score_curve_``: where early stopping
        on held-out data stops.
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
        # "cv_object" covers ints >= 2 and splitters.
        "cv": ["cv_object"],
        "n_repeats": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "target_reliability": [Interval(Real, 0, 1, closed="neither")],
        "max_repeats": [Interval(Integral, 3, None, closed="left")],
        "aggregate": [StrOptions(set(_AGGREGATES))],
        "engine": [StrOptions({"auto", *ENGINES})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "memory": [None, str, HasMethods(["cache"])],
        "early_stopping": ["boolean"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        cv=10,
        n_repeats=1,
        target_reliability=0.8,
        max_repeats=10,
        aggregate="matched",
        engine="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
        memory=None,
        early_stopping=False,
    ):
        self.estimator = estimator
        self.cv = cv
        self.n_repeats = n_repeats
        self.target_reliability = target_reliability
        self.max_repeats = max_repeats
        self.aggregate = aggregate
        self.engine = engine
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.memory = memory
        self.early_stopping = early_stopping

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
            estimator = self._base_estimator()
        except TypeError:
            return tags
        tags.input_tags.allow_nan = _input_tag(estimator, "allow_nan")
        tags.input_tags.sparse = _input_tag(estimator, "sparse")
        return tags

    @_fit_context(
        # The wrapped estimator is validated when each clone is fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, groups=None):
        """Fit one model per split and compute every sample's memorization score.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Training data, passed to the estimator as it is: DataFrames of any
            dtypes (a pipeline with a
            :class:`~sklearn.compose.ColumnTransformer` encodes them), sparse
            matrices where the estimator takes them. Each model gets its
            training rows the way :func:`~sklearn.model_selection.cross_validate`
            indexes them. NaN or infinite cells are refused unless the
            estimator allows NaN.
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
        if self.early_stopping and not estimator_checkpoints(estimator):
            raise ValueError(
                "early_stopping=True picks the best of the estimator's checkpoints, "
                "and this estimator keeps none. Set checkpoints on a TorchDensity "
                "or VAEDensity, e.g. VAEDensity(max_epochs=50, checkpoints=[10, "
                "20, 30, 40, 50])."
            )
        X = self._validate_table(X, reset=True, estimator=estimator)
        n_samples = _num_samples(X)
        rng = check_random_state(self.random_state)
        auto = self.n_repeats == "auto"
        if auto and not isinstance(self.cv, Integral):
            raise ValueError(
                "n_repeats='auto' needs an integer cv (the number of folds); got "
                f"cv={self.cv!r}. Pass cv=10, or a fixed n_repeats."
            )
        splitter = resolve_cv(
            self.cv, self.max_repeats if auto else self.n_repeats, n_samples, rng
        )
        cache = ModelCache.from_memory(self.memory)
        if auto and cache is None:
            # Each added repeat reuses the models fitted so far.
            cache = MemoryModelCache()
        engine = select_engine(
            estimator,
            self.engine,
            X,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            aggregate=self.aggregate,
            cache=cache,
        )
        _check_fits_in_memory(
            engine,
            splitter.get_n_splits(X, y, groups),
            n_samples,
            n_matrices=len(estimator_checkpoints(estimator)) + 1,
            estimator=estimator,
            X=X,
        )
        plan = make_split_plan(
            splitter, n_samples, X=X, y=y, groups=groups, random_state=rng
        )
        if self.verbose:
            print(
                f"[MemorizationScorer] fitting {plan.n_models} models of "
                f"{type(estimator).__name__} on {n_samples} samples with the "
                f"{engine.name} engine"
                + (" (at most; n_repeats='auto')" if auto else ""),
                flush=True,
            )
        if auto:
            result, plan = self._fit_until_reliable(engine, estimator, X, plan)
        else:
            result = engine.compute(estimator, X, plan)
        result = build_result(
            result,
            plan,
            aggregate=self.aggregate,
            early_stopping=self.early_stopping,
            verbose=self.verbose,
        )
        for note in result.notes:
            print(f"[MemorizationScorer] {note}", flush=True)
        # The one place a fit writes its results on the scorer.
        for name in result.fitted_attributes():
            value = getattr(result, name)
            if name != "estimators" or value is not None:
                setattr(self, f"{name}_", value)
        self._result = result
        self._inference = result.inference
        self._ensemble = result.ensemble
        self.engine_ = engine.name
        self._fit_X = X
        return self

    def _fit_until_reliable(self, engine, estimator, X, plan):
        """Run the first 3, 4, ... repeats of ``plan`` until the ranking is reliable."""
        n_folds = self.cv
        for n_repeats in range(MIN_REPEATS_FOR_TESTS, self.max_repeats + 1):
            head = plan.head(n_repeats * n_folds)
            result = engine.compute(estimator, X, head)
            groups = repeat_groups(head.test_masks)
            reliability = split_half_reliability(
                result.log_likelihoods,
                head.train_masks,
                head.test_masks,
                groups,
                self.aggregate,
            )
            if self.verbose:
                print(
                    f"[MemorizationScorer] {n_repeats} repeats: reliability "
                    f"{reliability:.2f} (target {self.target_reliability:g})",
                    flush=True,
                )
            if reliability >= self.target_reliability:
                return result, head
        warnings.warn(
            f"The ranking's reliability is {reliability:.2f} after max_repeats="
            f"{self.max_repeats} repeats, below target_reliability="
            f"{self.target_reliability:g}: the ranking of the bulk of the samples "
            "is noisy (strongly memorized samples can still be found with "
            "memorized()). Raise max_repeats, or train a less noisy model.",
            UserWarning,
            # _fit_until_reliable < fit < scikit-learn's fit wrapper < caller
            stacklevel=4,
        )
        return result, head

    def memorized(self, alpha=0.05, threshold=None):
        """Which training samples are memorized, at false-discovery rate ``alpha``.

        By default a sample is memorized when its score exceeds the bulk of the
        samples' scores by more than its own uncertainty allows
        (``memorization_pvalues_``): a model that fits every training sample
        equally better (overfitting) memorizes none of them. With
        ``threshold=t``, the test is instead whether the sample's mean
        in-model log-likelihood exceeds its mean out-model log-likelihood by
        more than ``t`` nats. Either way the p-values are corrected with
        Benjamini-Hochberg, so that about ``alpha`` of the flagged samples are
        false discoveries. Needs at least 3 repeats.

        Parameters
        ----------
        alpha : float, default=0.05
            The false-discovery rate, in (0, 1).
        threshold : float, default=None
            None tests "beyond the bulk"; a number ``t`` of nats tests that the
            sample's mean in-model log-likelihood exceeds its mean out-model
            log-likelihood by more than ``t``.

        Returns
        -------
        mask : ndarray of bool, shape (n_samples,)
            True for the samples memorized at that rate; False where the score
            is not finite (those samples cannot be tested).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.neighbors import KernelDensity
        >>> from skmem import MemorizationScorer
        >>> rng = np.random.RandomState(0)
        >>> X = np.vstack([rng.normal(size=(200, 2)), [[6.0, 6.0], [-6.0, 6.0]]])
        >>> scorer = MemorizationScorer(
        ...     KernelDensity(bandwidth=1.0), cv=5, n_repeats=5, random_state=0
        ... ).fit(X)
        >>> np.flatnonzero(scorer.memorized(alpha=0.05))
        array([200, 201])
        """
        check_is_fitted(self)
        if not (isinstance(alpha, Real) and 0 < alpha < 1):
            raise ValueError(f"alpha must be a number in (0, 1); got {alpha!r}.")
        if threshold is not None and not isinstance(threshold, Real):
            raise TypeError(f"threshold must be a number of nats; got {threshold!r}.")
        if self._inference is None:
            raise ValueError(
                "memorized() needs per-sample p-values, and "
                f"{_why_no_tests(self.log_likelihoods_, self.n_repeats_)}."
            )
        if threshold is None:
            pvalues = self.memorization_pvalues_
        else:
            pvalues = self._inference.threshold_pvalues(float(threshold))
        if not np.isfinite(pvalues).any():
            warnings.warn(
                "No sample could be tested: the scores' standard errors are zero "
                "or undefined (the scores do not vary between repeats), so no "
                "sample is flagged.",
                UserWarning,
                stacklevel=2,
            )
        return fdr_mask(pvalues, alpha)

    def membership_audit(self, *, priors=PRIORS, delta=DELTA):
        """How well membership in each model's training set can be inferred.

        From the log-likelihoods this run already computed, with no extra
        training: for every (model, sample) pair, a likelihood-ratio attack in
        the manner of LiRA (Carlini et al., 2022) decides whether the sample
        was in that model's training set from ``log p_k(x_i)``, comparing it
        with the sample's log-likelihoods under the models of the *other*
        repeats that trained on it and that held it out (so that members and
        non-members are judged against references of the same size, and the
        AUC is 0.5 when nothing is memorized). This is the privacy number that
        audits of synthetic data report. Needs at least 2 repeats of KFold
        (each sample must be held out by two models or more).

        The lower bound on epsilon follows privacy-auditing papers (Jagielski
        et al., 2020; Nasr et al., 2021, 2023): an (epsilon, delta)-DP
        training algorithm forces every attack to keep
        ``FPR + exp(epsilon) FNR >= 1 - delta`` and
        ``FNR + exp(epsilon) FPR >= 1 - delta``, so upper confidence bounds on
        the attack's FPR and FNR at one threshold give
        ``epsilon >= log((1 - delta - FPR_upper) / FNR_upper)`` or the
        symmetric form. Here:

        - the threshold, and which form, are **chosen on a random half of the
          samples** (fixed seed) and the rates are **counted on the other
          half**, so the choice does not inflate the bound (choosing on the
          same pairs would);
        - the trials are the **samples**, not the pairs: a sample's pairs
          share its reference models and are not independent, so each rate
          is the mean over samples of the sample's own rate, and its
          Clopper-Pearson upper bound counts one trial per sample (a
          sample's rate lies in [0, 1], so its variance is at most a
          Bernoulli trial's). Counting pairs would claim as many times more
          trials as a sample has pairs of a kind (3 and 27 at 10 folds and 3
          repeats);
        - each upper bound is one-sided at 2.5 %, so that both hold together
          with probability 95 %.

        It bounds the epsilon of replace-one DP of the learning algorithm on
        the folds' training sets, from this attack only: a valid audit says
        "the algorithm is not DP with a smaller epsilon", never that it is DP.
        Effects shared by all samples of one model (a lucky seed) are not
        modelled: in a simulated null where they were 5 times the per-sample
        noise the bound stayed 0, but with few models they can make it less
        reliable. The split depends on the samples' row positions, so
        reordering the rows moves the bound within its noise.

        Parameters
        ----------
        priors : tuple of float, default=(0.01, 0.1, 0.5)
            Shares of members among the records an attacker tests, at which
            ``precision_at_prior`` is given.
        delta : float, default=1e-5
            The delta of (epsilon, delta)-DP the bound is for (0: pure DP).

        Returns
        -------
        audit : :class:`~sklearn.utils.Bunch`
            - ``auc``: area under the ROC curve over all pairs; 0.5 means
              membership cannot be told, 1 means every member is exposed.
            - ``tpr_at_fpr``: dict, the true-positive rate at false-positive
              rates 0.1 % and 1 %.
            - ``precision_at_prior``: dict ``{prior: {fpr: precision}}``,
              the share of true members among the records the attack calls
              members, ``prior TPR / (prior TPR + (1 - prior) FPR)`` at the
              operating points of ``tpr_at_fpr``, with FPR taken as the
              nominal rate (the empirical one is at most that, and an
              empirical 0 on finitely many pairs is no proof of 0). Point
              estimates: 0.5 at prior 0.5 means a guess.
            - ``epsilon_lower_bound``: float, the 95 % one-sided lower bound
              on epsilon (0 when the attack shows nothing).
            - ``epsilon_audit``: Bunch, how it was found: ``threshold``,
              ``fpr``, ``fnr`` and their upper bounds ``fpr_upper``,
              ``fnr_upper`` on the counting half, ``n_trials`` and
              ``counted`` (its samples), ``delta``, ``confidence``.
            - ``fpr``, ``tpr``: the ROC curve.
            - ``scores``: ndarray (n_models, n_samples), the attack score of
              each pair (higher means "member"); NaN where not computed
              (``verbose`` says how many, and why).
            - ``sample_scores``: ndarray (n_samples,), per sample the mean
              attack score when it was a member minus when it was not: how
              exposed the sample is.
            - ``n_pairs``: the number of pairs scored.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.neighbors import KernelDensity
        >>> from skmem import MemorizationScorer
        >>> X = np.random.RandomState(0).normal(size=(100, 2))
        >>> scorer = MemorizationScorer(
        ...     KernelDensity(bandwidth=0.05), cv=5, n_repeats=3, random_state=0
        ... ).fit(X)
        >>> audit = scorer.membership_audit()
        >>> bool(audit.auc > 0.95), bool(audit.epsilon_lower_bound > 1)
        (True, True)
        >>> bool(audit.precision_at_prior[0.5][0.01] > 0.9)
        True
        """
        check_is_fitted(self)
        priors = tuple(priors) if np.iterable(priors) else (priors,)
        if not all(isinstance(p, Real) and 0 < p < 1 for p in priors):
            raise ValueError(
                f"priors must be shares of members in (0, 1); got {priors!r}."
            )
        if not (isinstance(delta, Real) and 0 <= delta < 1):
            raise ValueError(f"delta must be a number in [0, 1); got {delta!r}.")
        if self.log_likelihoods_ is None:
            raise ValueError(
                "The membership audit needs the log-likelihood matrix, which this "
                "run did not keep (LeaveOneOut on many samples). Use KFold with "
                "n_repeats >= 2."
            )
        groups = repeat_groups(self.test_masks_)
        if groups is None or len(groups) < 2:
            raise ValueError(
                "The membership audit judges each model against the models of the "
                "other repeats, so it needs n_repeats >= 2 of KFold; "
                f"{_why_no_tests(self.log_likelihoods_, self.n_repeats_)}."
            )
        return membership_audit(
            self.log_likelihoods_,
            self.train_masks_,
            self.test_masks_,
            groups,
            priors=priors,
            delta=float(delta),
            verbose=self.verbose,
        )

    def data_copying(self, n_generated=1000, *, n_cells=5, tau=None, random_state=None):
        """Meehan et al.'s data-copying test and the closest records, per model.

        Each fold model draws ``n_generated`` samples; its C_T
        (:func:`skmem.baselines.data_copying_test`) compares them with its own
        training rows and its held-out rows, and
        :func:`skmem.baselines.closest_record_distances` finds, for each of its
        training records, the closest sample and how many samples lie closer
        than the record's nearest held-out row. The models need a ``sample``
        method (:class:`~skmem.SampledDensity`,
        :class:`~sklearn.neighbors.KernelDensity`,
        :class:`~sklearn.mixture.GaussianMixture`, :class:`~skmem.VAEDensity`);
        models the engine did not keep are refitted from their seeds.

        Parameters
        ----------
        n_generated : int, default=1000
            Samples drawn from each model.
        n_cells, tau
            Passed to :func:`~skmem.baselines.data_copying_test`.
        random_state : int, RandomState instance or None, default=None
            Seeds the samples and the cells; None derives them from each
            model's seed (``seeds_``).

        Returns
        -------
        result : :class:`~sklearn.utils.Bunch`
            - ``statistic``: the mean of the models' C_T (below about -3:
              the models copy their training data).
            - ``statistics``: ndarray (n_models,), each model's C_T.
            - ``cells``: each model's full test result.
            - ``distance_to_generated``, ``distance_to_holdout``,
              ``n_closer``: ndarray (n_samples,), per record the distance to
              the closest sample, to the closest of the model's held-out
              rows, and the number of samples closer than that held-out row,
              averaged over the models that trained on it; to read next to
              ``memorization_scores_``.
            - ``closest_generated``, ``closest_distance``: per record, the
              closest sample of all the models that trained on it, and its
              distance.
            - ``closer_to_training``, ``closer_to_training_ci``,
              ``closer_to_training_chance``: ndarrays (n_models,),
              (n_models, 2) and (n_models,): each model's share of samples
              closer to its training rows than to its held-out rows, its 95 %
              interval and the share a model that never saw the rows gets
              (see :func:`~skmem.record_risk`).

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.neighbors import KernelDensity
        >>> from skmem import MemorizationScorer
        >>> X = np.random.RandomState(0).normal(size=(500, 2))
        >>> scorer = MemorizationScorer(
        ...     KernelDensity(bandwidth=0.01), cv=5, random_state=0
        ... ).fit(X)
        >>> bool(scorer.data_copying(n_generated=500).statistic < -3)
        True
        """
        from ._sampled import fold_data_copying

        return fold_data_copying(
            self, n_generated, n_cells=n_cells, tau=tau, random_state=random_state
        )

    def _validate_table(self, X, *, reset, estimator):
        """Check ``X``'s shape and cells without converting it; record its features.

        ``X`` reaches the estimator unchanged, except that inputs without a
        ``shape`` (lists) become arrays. Sparse input is refused, with
        scikit-learn's message, where the estimator's tags do not accept it.
        """
        checked = check_array(
            categoricals_as_objects(X),
            accept_sparse=_input_tag(estimator, "sparse"),
            dtype=None,
            ensure_all_finite=False,
            ensure_min_samples=2 if reset else 1,
        )
        if not hasattr(X, "shape"):
            X = checked
        if not _input_tag(estimator, "allow_nan"):
            check_no_missing(
                X,
                hint=" The estimator does not accept missing values: impute them "
                "(e.g. SimpleImputer inside a pipeline) or drop those rows.",
            )
        validate_data(self, X, reset=reset, skip_check_array=True)
        return X

    def _validate_query(self, X):
        check_is_fitted(self)
        return self._validate_table(X, reset=False, estimator=self._base_estimator())

    def score_samples(self, X):
        """Memorization score of each row of ``X``.

        Rows that were in the training data get their ``memorization_scores_``
        (matched by value; equal rows share the mean of their scores). Rows that
        were not get 0.0, since a sample outside the training set cannot have
        been memorized, and one warning counts them.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_rows, n_features)
            Rows of the same kind as the training data; they are compared with
            the training rows by value, column by column (strings and
            categories included).

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
                f"{n_unseen} of {len(seen)} rows were not in the training data; their "
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
        X : {array-like, sparse matrix, DataFrame} of shape (n_rows, n_features)
            Rows of the same kind as the training data.
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
            unseen = _safe_indexing(X, np.flatnonzero(~seen))
            held_out[~seen] = self._ensemble(unseen)
        held_out = held_out[~np.isnan(held_out)]
        return float(held_out.mean()) if held_out.size else float("nan")


def _input_tag(estimator, name):
    """An input tag of ``estimator``; a pipeline's is its first step's.

    A pipeline hands X to its first step only (an imputer takes NaN, a
    vectorizer sparse input, whatever comes after); scikit-learn's own pipeline
    tags are stricter than that.
    """
    steps = getattr(estimator, "steps", None)
    if steps:
        first = next((s for _, s in steps if s not in (None, "passthrough")), None)
        if first is not None:
            return _input_tag(first, name)
    try:
        return bool(getattr(get_tags(estimator).input_tags, name))
    except (TypeError, AttributeError):  # not a scikit-learn estimator
        return False


def _check_fits_in_memory(
    engine, n_models, n_samples, n_matrices=1, estimator=None, X=None
):
    """Refuse, before allocating anything, a plan whose arrays exceed free memory.

    ``n_matrices``: log-likelihood matrices kept, one per checkpoint and one for
    the final models. With ``estimator`` and ``X``, an engine that knows them
    adds the fitted models it keeps (``fitted_bytes``) and checks a GPU's
    memory (``check_device_memory``).
    """
    kept = getattr(engine, "fitted_bytes", None)
    kept = 0 if kept is None or estimator is None else kept(estimator, X, n_models)
    need = (
        2 * n_models * n_samples
        + n_matrices * engine.matrix_bytes(n_models, n_samples)
        + kept
    )
    free = available_bytes()
    if free is not None and need > free:
        raise MemoryError(
            f"{n_models} models x {n_samples} samples need {need / 2**30:.1f} GiB "
            f"for the split masks, log-likelihoods and fitted models, more than the "
            f"{free / 2**30:.1f} GiB of free memory. Use fewer splits (KFold "
            "instead of LeaveOneOut), fewer checkpoints, or a subsample."
        )
    check_device = getattr(engine, "check_device_memory", None)
    if check_device is not None and estimator is not None:
        check_device(estimator, X, n_models)
