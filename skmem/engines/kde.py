"""Exact leave-fold-out log-likelihoods for KernelDensity, without refitting.

A kernel density estimate trained on a set of samples is a normalised sum of
kernels centred on them. The training sets of a split plan are unions of
"atoms": groups of samples that every model either trains on whole or not at
all (for KFold the atoms are the folds). So one pass of pairwise kernel sums,
``log sum_{j in atom} K(x_i, x_j)`` for every sample ``i`` and atom, gives every
model's log-density at every sample:

    log p_k(x_i) = logsumexp_{atoms a in train_k} S[i, a] + log_norm(h_k) - log n_k

All sums are taken in log space with a shift per (row, atom), so isolated points
(whose only large kernel value is their own) and exact duplicates are exact and
nothing is ever subtracted. Work proceeds in row blocks whose size comes from
scikit-learn's ``working_memory``; no n x n matrix is ever held.

LeaveOneOut gets closed forms instead of n models: with ``T_i = sum_j K_ij`` (self
included, ``K_ii = 1`` before normalisation) and ``S_i = T_i - K_ii`` taken as its
own sum,

    out:  log p_i(x_i) = log S_i + c
    in:   logmeanexp_{k != i} log p_k(x_i) = log((n-1) K_ii + (n-2) S_i) - log(n-1) + c

with ``c = log_norm(h) - log(n - 1)``. The full (n x n) matrix is only built when
it fits in the memory budget.
"""

import math
import threading
import time
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.integrate import quad
from scipy.special import gammaln, logsumexp
from sklearn.neighbors import KernelDensity
from sklearn.utils import gen_even_slices
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_array
from threadpoolctl import threadpool_limits

from .._aggregate import CLOSED_FORMS
from .._memory import budget_bytes, rows_per_block
from ._base import Engine, EngineResult, dense_matrix_bytes

_COMPACT = {"tophat", "epanechnikov", "linear", "cosine"}
_SQRT_KERNELS = {"exponential", "linear", "cosine"}
_KERNELS = _COMPACT | {"gaussian", "exponential"}
_EUCLIDEAN = {"euclidean", "l2"}
# A per-row shift keeps every term whose true value is above this exact to
# machine precision; atoms whose sum falls below it are recomputed with a shift
# of their own.
_UNDERFLOW = 1e-280
_FLOOR = -700.0
_MAX_BLOCK_ROWS = 512


def frozen_steps(estimator):
    """``(transforms, kde)`` of a pipeline of frozen steps and a KernelDensity.

    A :class:`~sklearn.pipeline.Pipeline` whose steps before its last are
    each a :class:`~sklearn.frozen.FrozenEstimator` (or ``"passthrough"``)
    and whose last step is a :class:`~sklearn.neighbors.KernelDensity` fits
    every fold model on the same transform of the data: fitting it is fitting
    the kernel density to the transformed rows, which this engine does
    exactly. Returns the frozen steps, in order, and the KernelDensity; None
    for any other estimator.
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

    if not isinstance(estimator, Pipeline) or not estimator.steps:
        return None
    *steps, (_, last) = estimator.steps
    if type(last) is not KernelDensity:
        return None
    transforms = [step for _, step in steps if step not in (None, "passthrough")]
    if not all(isinstance(step, FrozenEstimator) for step in transforms):
        return None
    return transforms, last


def apply_steps(steps, X):
    """``X`` through the fitted ``steps`` in order, as a C-ordered float array."""
    import scipy.sparse

    for step in steps:
        X = step.transform(X)
    if scipy.sparse.issparse(X):
        X = X.toarray()
    return check_array(X, order="C", dtype=np.float64)


def _through_steps(steps, ensemble, X):
    """The ensemble density of new rows, taken after the frozen ``steps``."""
    return ensemble(apply_steps(steps, X))


def unsupported_reason(estimator):
    """Why the exact engine cannot stand in for ``estimator``; None if it can."""
    frozen = frozen_steps(estimator)
    if frozen is not None:
        return unsupported_reason(frozen[1])
    if type(estimator) is not KernelDensity:
        steps = getattr(estimator, "steps", None)
        if steps and isinstance(steps[-1][1], KernelDensity):
            return (
                f"{type(estimator).__name__} ends in a KernelDensity, but its other "
                "steps must be refitted per fold, which the generic engine does "
                "(steps fitted once on all rows and wrapped in "
                "sklearn.frozen.FrozenEstimator run on this engine)"
            )
        return f"{type(estimator).__name__} is not a KernelDensity"
    if estimator.metric not in _EUCLIDEAN or estimator.metric_params:
        return (
            f"metric={estimator.metric!r}: the exact engine handles the euclidean "
            "metric only"
        )
    if estimator.kernel not in _KERNELS:
        return f"unknown kernel {estimator.kernel!r}"
    return None


def _log_v(n):
    """Log volume of the unit n-ball."""
    return 0.5 * n * math.log(math.pi) - gammaln(0.5 * n + 1)


def log_kernel_norm(h, d, kernel):
    """Log normalising constant of a kernel, exactly as scikit-learn's trees use.

    ``log_norm + log_kernel(dist)`` is the log of a kernel that integrates to one
    over ``R^d``.
    """
    if kernel == "gaussian":
        factor = 0.5 * d * math.log(2 * math.pi)
    elif kernel == "tophat":
        factor = _log_v(d)
    elif kernel == "epanechnikov":
        factor = _log_v(d) + math.log(2.0 / (d + 2.0))
    elif kernel == "exponential":
        # log S_{d-1} + log Gamma(d), with log S_n = log(2 pi) + log V_{n-1}.
        factor = math.log(2 * math.pi) + _log_v(d - 2) + gammaln(d)
    elif kernel == "linear":
        factor = _log_v(d) - math.log(d + 1.0)
    elif kernel == "cosine":
        # scikit-learn's series for int_0^1 cos(pi r / 2) r^(d-1) dr; it goes
        # non-positive for some even d >= 4, where scikit-learn's densities are
        # NaN: use the integral itself there.
        radial, term = 0.0, 2.0 / math.pi
        for k in range(1, d + 1, 2):
            radial += term
            term *= -(d - k) * (d - k - 1) * (2.0 / math.pi) ** 2
        if not radial > 0:
            radial = quad(
                lambda r: math.cos(0.5 * math.pi * r) * r ** (d - 1),
                0.0,
                1.0,
                epsabs=0.0,
                epsrel=1e-13,
                limit=200,
            )[0]
        factor = math.log(radial) + math.log(2 * math.pi) + _log_v(d - 2)
    else:  # pragma: no cover - guarded by unsupported_reason
        raise ValueError(f"Unknown kernel {kernel!r}")
    return -factor - d * math.log(h)


def resolve_bandwidth(bandwidth, n_train, n_features):
    """The bandwidth KernelDensity would use when fitted on ``n_train`` samples."""
    if bandwidth == "scott":
        return n_train ** (-1 / (n_features + 4))
    if bandwidth == "silverman":
        return (n_train * (n_features + 2) / 4) ** (-1 / (n_features + 4))
    return float(bandwidth)


def _log_kernel(neg_half_u, kernel):
    """Log kernel from ``-u / 2``, with ``u = dist^2 / h^2``; modifies in place."""
    if kernel == "gaussian":
        return neg_half_u
    u = np.maximum(-2.0 * neg_half_u, 0.0, out=neg_half_u)
    if kernel == "exponential":
        return np.negative(np.sqrt(u, out=u), out=u)
    inside = u < 1.0
    with np.errstate(divide="ignore"):
        if kernel == "tophat":
            values = np.zeros_like(u)
        elif kernel == "epanechnikov":
            values = np.log1p(-np.minimum(u, 1.0))
        elif kernel == "linear":
            values = np.log1p(-np.sqrt(np.minimum(u, 1.0)))
        else:  # cosine
            values = np.log(np.cos(0.5 * np.pi * np.sqrt(np.minimum(u, 1.0))))
    values[~inside] = -np.inf
    return values


class _Points:
    """Centred points, augmented so that one matrix product gives ``-u / 2``.

    ``left[i] @ right_t[:, j] = x_i . x_j / h^2 - |x_i|^2 / 2h^2 - |x_j|^2 / 2h^2``,
    with ``u = |x_i - x_j|^2 / h^2``.
    """

    def __init__(self, X, center, h):
        Z = (np.asarray(X, dtype=np.float64) - center) / h
        half_sq = 0.5 * np.einsum("ij,ij->i", Z, Z)
        ones = np.ones((len(Z), 1))
        self.left = np.hstack([Z, -half_sq[:, None], ones])
        self.right_t = np.ascontiguousarray(np.hstack([Z, ones, -half_sq[:, None]]).T)


class _Scratch:
    """One reusable work array per thread, for the duration of one engine call.

    Fresh multi-megabyte arrays cost a page fault per page, as much as the
    arithmetic on them; blocks reuse their thread's array instead.
    """

    def __init__(self):
        self._arrays = {}

    def get(self, shape):
        size = int(np.prod(shape))
        key = threading.get_ident()
        array = self._arrays.get(key)
        if array is None or array.size < size:
            array = self._arrays[key] = np.empty(size)
        return array[:size].reshape(shape)


def _log_kernel_block(rows, columns, kernel, self_columns=None, out=None):
    """``log K`` between ``rows`` (``_Points.left``) and ``columns`` (``_Points``).

    ``self_columns[r]`` is the column of row ``r``'s own point, whose distance is
    set to exactly zero. ``out`` receives the result for the gaussian kernel
    (the other kernels allocate).
    """
    neg_half_u = np.matmul(rows, columns.right_t, out=out)
    if self_columns is not None:
        neg_half_u[np.arange(len(rows)), self_columns] = 0.0
    if kernel in _SQRT_KERNELS:
        # The expanded product loses ~eps * |z|^2 absolutely; harmless for u, but
        # the square root turns it into ~sqrt(eps) * |z| near zero distance.
        # Recompute the few close pairs (duplicates among them) from differences.
        sq_rows, sq_cols = -2.0 * rows[:, -2], -2.0 * columns.right_t[-1]
        limit = -0.5e-6 * (1.0 + sq_rows[:, None] + sq_cols[None, :])
        close_r, close_c = np.nonzero(neg_half_u > limit)
        diff = rows[close_r, :-2] - columns.right_t[:-2, close_c].T
        neg_half_u[close_r, close_c] = -0.5 * np.einsum("ij,ij->i", diff, diff)
    return _log_kernel(neg_half_u, kernel)


def _exp_shifted(log_k, compact, row_max=None):
    """``exp(log_k - row max)`` in place; returns the row shifts, shape (n, 1).

    ``row_max`` may be given when known (rows holding their own point have
    maximum 0), which saves two passes over the block.

    For kernels without zeros, terms more than 700 nats below the row maximum
    are raised to exp(-700): each is then < 1e-304 of the largest term, far
    below rounding, and it keeps ``exp`` off the subnormal range, where it runs
    about ten times slower. Compact kernels keep their exact zeros.
    """
    if row_max is None:
        row_max = log_k.max(axis=1, keepdims=True)
        shift = np.where(np.isfinite(row_max), row_max, 0.0)
        np.subtract(log_k, shift, out=log_k)
    else:
        shift = np.full((len(log_k), 1), float(row_max))
    if not compact:
        np.maximum(log_k, _FLOOR, out=log_k)
    return np.exp(log_k, out=log_k), shift


def _atom_log_sums(log_k, starts, compact, recompute):
    """``log sum exp`` of ``log_k`` over each contiguous column group, exactly.

    Overwrites ``log_k``, whose rows must include their own point. One shift
    per row (its largest value, 0) keeps every term exact unless a whole group
    lies more than ~645 nats below it; those rows (isolated points, tiny
    bandwidths) are recomputed by ``recompute(row_indices)`` and summed with one
    shift per group.
    """
    # Every row holds its own point at distance exactly 0, the largest log K.
    terms, shift = _exp_shifted(log_k, compact, row_max=0.0)
    sums = np.add.reduceat(terms, starts, axis=1)
    with np.errstate(divide="ignore"):
        result = np.log(sums) + shift
    if not compact:
        bad_rows = np.flatnonzero((sums < _UNDERFLOW).any(axis=1))
        if bad_rows.size:
            sub = recompute(bad_rows)
            atom_max = np.maximum.reduceat(sub, starts, axis=1)
            sizes = np.diff(np.append(starts, sub.shape[1]))
            terms = np.exp(sub - np.repeat(atom_max, sizes, axis=1))
            result[bad_rows] = np.log(np.add.reduceat(terms, starts, axis=1)) + atom_max
    return result


def _logsumexp_rows(values, axis):
    with np.errstate(divide="ignore", invalid="ignore"):
        return logsumexp(values, axis=axis)


@dataclass(frozen=True)
class _Fit:
    """What the fold models of one run are: the data, kernel and bandwidths."""

    kernel: str
    center: np.ndarray
    X: np.ndarray
    n_train: np.ndarray
    bandwidths: np.ndarray
    log_norms: np.ndarray
    log_offsets: np.ndarray
    train_masks: np.ndarray


class KernelDensityEngine(Engine):
    """Exact pairwise-kernel engine for :class:`~sklearn.neighbors.KernelDensity`.

    Parameters
    ----------
    n_jobs : int or None
        Threads over row blocks. Blocks do not depend on it, and each uses one
        BLAS thread, so results are identical for every value.
    verbose : int
    aggregate : {"matched", "logmeanexp", "mean"}
        Needed for LeaveOneOut, whose in/out aggregates come in closed form
        (``skmem._aggregate.CLOSED_FORMS``); an aggregate without one gets the
        full matrix, aggregated by the scorer.

    Each row block takes at most a quarter of scikit-learn's ``working_memory``
    (one block per thread is alive at a time).
    """

    name = "kde"

    # ``cache`` (Engine's constructor keeps it): this engine fits no models and
    # has nothing worth caching.

    @classmethod
    def unsupported_reason(cls, estimator, X):
        """Why the exact engine cannot stand in for ``estimator``; None if it can."""
        inner = _dequantized_kde(estimator)
        if inner is not None:
            return unsupported_reason(inner)
        return unsupported_reason(estimator)

    # -- shared set-up ----------------------------------------------------
    def _budget_bytes(self):
        return budget_bytes(0.25)

    def _block_slices(self, n_rows, row_bytes):
        block = rows_per_block(
            row_bytes, min(n_rows, _MAX_BLOCK_ROWS), budget=self._budget_bytes()
        )
        n_blocks = -(-n_rows // block)
        return list(gen_even_slices(n_rows, n_blocks))

    def _run_blocks(self, func, slices, *, progress=False):
        """``func(slice, scratch)`` over row blocks, in ``n_jobs`` threads.

        ``progress``: a tqdm bar over the rows (when verbose), from the first
        block on, with the time left; otherwise one line at the end.
        """
        from .generic import progress_bar

        start = time.perf_counter()
        scratch = _Scratch()
        bar = progress_bar(
            slices[-1].stop if slices else 0,
            self.verbose if progress else 0,
            unit="row",
        )
        results = []
        # BLAS limits are process-wide: one BLAS thread for every block, whatever
        # n_jobs is, so the blocks' products round the same way for every n_jobs.
        with bar, threadpool_limits(limits=1, user_api="blas"):
            for sl, result in zip(
                slices,
                Parallel(n_jobs=self.n_jobs, prefer="threads", return_as="generator")(
                    delayed(func)(sl, scratch) for sl in slices
                ),
                strict=True,
            ):
                results.append(result)
                bar.update(sl.stop - sl.start)
        if self.verbose and not progress:
            print(
                f"[MemorizationScorer] kde engine: {len(slices)} row blocks in "
                f"{time.perf_counter() - start:.1f}s",
                flush=True,
            )
        return results

    # -- the engine interface ---------------------------------------------
    def matrix_bytes(self, n_models, n_samples):
        """What the log-likelihood matrix will take; 0 for a LeaveOneOut plan
        whose matrix exceeds the budget (only its aggregates are computed)."""
        if (
            n_models == n_samples
            and self.aggregate in CLOSED_FORMS
            and 8 * n_samples**2 > self._budget_bytes()
        ):
            return 0
        return dense_matrix_bytes(n_models, n_samples)

    def compute(self, estimator, X, plan):
        if _dequantized_kde(estimator) is not None:
            return self._compute_dequantized(estimator, X, plan)
        frozen = frozen_steps(estimator)
        if frozen is not None:
            # Every fold model sees the same transform of the rows: the exact
            # kernel sums on the transformed rows are the models' densities.
            steps, kde = frozen
            result = self.compute(kde, apply_steps(steps, X), plan)
            result.ensemble = partial(_through_steps, steps, result.ensemble)
            return result
        # This engine stands in for KernelDensity.fit: check what fit checks
        # (parameters, then a finite float array), before any work.
        estimator._validate_params()
        X = check_array(X, order="C", dtype=np.float64)
        n, d = X.shape
        n_train = plan.train_masks.sum(axis=1)
        bandwidths = np.array(
            [resolve_bandwidth(estimator.bandwidth, m, d) for m in n_train]
        )
        log_norms = np.array(
            [log_kernel_norm(h, d, estimator.kernel) for h in bandwidths]
        )
        fit = _Fit(
            kernel=estimator.kernel,
            center=X.mean(axis=0),
            X=X,
            n_train=n_train,
            bandwidths=bandwidths,
            log_norms=log_norms,
            log_offsets=log_norms - np.log(n_train),
            train_masks=plan.train_masks,
        )
        form = CLOSED_FORMS.get(self.aggregate)
        if form is not None and _is_leave_one_out(plan):
            result = self._leave_one_out(fit, plan, form)
        else:
            result = self._atoms(fit, plan)
        # The fold-ensemble density of new rows, from the same kernel sums.
        result.ensemble = partial(self._ensemble_log_likelihood, fit)
        return result

    def _atoms(self, fit, plan):
        X = fit.X
        n = X.shape[0]
        n_models = plan.n_models
        # Atoms: samples with the same pattern of membership in training sets.
        patterns, atom_of = np.unique(plan.train_masks.T, axis=0, return_inverse=True)
        atom_of = atom_of.ravel()
        order = np.argsort(atom_of, kind="stable")
        starts = np.searchsorted(atom_of[order], np.arange(len(patterns)))
        model_atoms = [np.flatnonzero(p) for p in patterns.T]
        unique_h, h_index = np.unique(fit.bandwidths, return_inverse=True)
        points = [_Points(X[order], fit.center, h) for h in unique_h]
        compact = fit.kernel in _COMPACT

        def block(sl, scratch):
            rows = np.arange(sl.start, sl.stop)  # positions in atom order
            out = np.empty((n_models, len(rows)))
            for b, pts in enumerate(points):

                def log_kernel(subset, out=None, pts=pts):
                    return _log_kernel_block(
                        pts.left[subset], pts, fit.kernel, subset, out=out
                    )

                log_k = log_kernel(rows, out=scratch.get((len(rows), n)))
                stats = _atom_log_sums(
                    log_k, starts, compact, lambda bad: log_kernel(rows[bad])
                )
                for k in np.flatnonzero(h_index == b):
                    out[k] = _logsumexp_rows(stats[:, model_atoms[k]], axis=1)
            return out + fit.log_offsets[:, None]

        row_bytes = 8 * (3 * n + 2 * len(patterns) + n_models) * len(unique_h)
        slices = self._block_slices(n, row_bytes)
        blocks = self._run_blocks(block, slices, progress=True)
        log_likelihoods = np.empty((n_models, n))
        log_likelihoods[:, order] = np.hstack(blocks)
        return EngineResult(log_likelihoods=log_likelihoods)

    def _leave_one_out(self, fit, plan, form):
        X = fit.X
        n = X.shape[0]
        held_out = np.argmax(plan.test_masks, axis=1)  # model k holds out sample
        h = fit.bandwidths[0]
        offset = fit.log_offsets[0]  # log_norm(h) - log(n - 1)
        pts = _Points(X, fit.center, h)
        store_matrix = 8 * n * n <= self._budget_bytes()
        mean_in = form.needs_sum
        compact = fit.kernel in _COMPACT

        def block(sl, scratch):
            rows = np.arange(sl.start, sl.stop)
            local = np.arange(len(rows))
            log_k = _log_kernel_block(
                pts.left[rows], pts, fit.kernel, rows, out=scratch.get((len(rows), n))
            )
            # S_i = sum_{j != i} K_ij, shifted by its own largest term: exact for
            # isolated points, whose terms all underflow unshifted.
            log_k[local, rows] = -np.inf
            scaled, shift = _exp_shifted(log_k, compact)  # K_ij / exp(shift_i)
            scaled[local, rows] = 0.0
            with np.errstate(divide="ignore"):
                log_s = np.log(scaled.sum(axis=1)) + shift[:, 0]
            out_ll = log_s + offset
            with np.errstate(divide="ignore"):
                # log mean_{k != i} p_k(x_i)
                #   = log((n - 1) K_ii + (n - 2) S_i) - 2 log(n - 1) + log_norm
                log_mean_density = (
                    np.logaddexp(np.log(n - 1), np.log(n - 2) + log_s)
                    - np.log(n - 1)
                    + offset
                )
            in_matrix = sum_log = None
            if mean_in or store_matrix:
                # log p_k(x_i), k != i: log(K_ii + S_i - K_ik) with K_ii = 1; the
                # difference is at least 1, so nothing cancels.
                kernel = scaled * np.exp(shift)
                with np.errstate(divide="ignore"):
                    in_matrix = np.log1p(np.exp(log_s)[:, None] - kernel) + offset
                in_matrix[local, rows] = 0.0
                if mean_in:
                    sum_log = in_matrix.sum(axis=1)
                in_matrix[local, rows] = out_ll
            in_ll = form.in_aggregate(log_mean_density, sum_log, n - 1)
            return in_ll, out_ll, in_matrix if store_matrix else None

        row_bytes = 8 * 4 * n
        blocks = self._run_blocks(
            block, self._block_slices(n, row_bytes), progress=True
        )
        in_ll = np.concatenate([b[0] for b in blocks])
        out_ll = np.concatenate([b[1] for b in blocks])
        log_likelihoods = None
        if store_matrix:
            # Rows of the blocks are samples i, columns are the held-out sample of
            # each model; the matrix is (n_models, n_samples).
            by_sample = np.vstack([b[2] for b in blocks])
            log_likelihoods = by_sample[:, held_out].T
        elif self.verbose:
            print(
                f"[MemorizationScorer] LeaveOneOut on {n} samples: the {n} x {n} "
                "log-likelihood matrix exceeds the memory budget and is not kept "
                "(log_likelihoods_ is None).",
                flush=True,
            )
        return EngineResult(
            log_likelihoods=log_likelihoods,
            in_log_likelihood=in_ll,
            out_log_likelihood=out_ll,
        )

    def _ensemble_log_likelihood(self, fit, X):
        """``log mean_k p_k(x)`` for new rows, from the same exact kernel sums.

        The mean of the models' densities is one weighted kernel sum: sample
        ``j`` weighs ``(1 / n_models) sum_{k trains on j} 1 / n_k`` under the
        models' bandwidth.
        """
        X = check_array(X, order="C", dtype=np.float64)
        n_models = len(fit.bandwidths)
        compact = fit.kernel in _COMPACT
        unique_h, h_index = np.unique(fit.bandwidths, return_inverse=True)
        terms = []
        for b, h in enumerate(unique_h):
            in_b = h_index == b
            # Models sharing a bandwidth share its kernel norm.
            weight = (1.0 / fit.n_train[in_b]) @ fit.train_masks[in_b]
            with np.errstate(divide="ignore"):
                log_weight = np.log(weight) + fit.log_norms[in_b][0] - np.log(n_models)
            query = _Points(X, fit.center, h)
            train = _Points(fit.X, fit.center, h)

            def block(sl, scratch, query=query, train=train, log_weight=log_weight):
                shape = (sl.stop - sl.start, len(fit.X))
                log_k = _log_kernel_block(
                    query.left[sl], train, fit.kernel, out=scratch.get(shape)
                )
                log_k += log_weight
                terms, shift = _exp_shifted(log_k, compact)
                with np.errstate(divide="ignore"):
                    return np.log(terms.sum(axis=1)) + shift[:, 0]

            row_bytes = 8 * 3 * len(fit.X)
            parts = self._run_blocks(block, self._block_slices(len(X), row_bytes))
            terms.append(np.concatenate(parts))
        return _logsumexp_rows(np.vstack(terms), axis=0)

    # -- DequantizedDensity(KernelDensity) ------------------------------------
    def _compute_dequantized(self, estimator, X, plan):
        """Every fold model of ``DequantizedDensity(KernelDensity(...))``, exactly.

        Each model dequantizes its own training rows with noise drawn from its
        seed, as ``DequantizedDensity.fit`` does under the generic engine (which
        sets the wrapper's ``random_state`` to the model's seed), and scores
        every row with its own fixed noise: so the models share no atoms, and
        each is one kernel sum between its noisy training rows and the noisy
        query rows.
        """
        from .._pixels import check_levels

        estimator._validate_params()
        estimator.estimator._validate_params()
        X = check_array(X, order="C", dtype=np.float64)
        check_levels(X, estimator.n_levels, type(estimator).__name__)
        models = _DequantizedModels(estimator, X, plan.train_masks, plan.seeds)
        return EngineResult(
            log_likelihoods=self._dequantized_matrix(models, X),
            ensemble=partial(self._dequantized_ensemble, models),
        )

    def _dequantized_matrix(self, models, X_query):
        """``log p_k(x)`` of every model ``k`` at every row of ``X_query``."""
        from .._pixels import logit_dequantize

        wrapper, kernel = models.estimator, models.estimator.estimator.kernel
        compact = kernel in _COMPACT
        n_levels, alpha = wrapper.n_levels, wrapper.logit_alpha
        out = np.empty((len(models.seeds), len(X_query)))
        for k in range(len(models.seeds)):
            Y_train, h, log_offset, noise = models.model(k)
            center = Y_train.mean(axis=0)
            train = _Points(Y_train, center, h)
            draws = []
            for e in noise:
                Y, log_jacobian = logit_dequantize(X_query, e, n_levels, alpha)
                query, m = _Points(Y, center, h), len(Y_train)

                def block(sl, scratch, query=query, train=train, m=m):
                    log_k = _log_kernel_block(
                        query.left[sl],
                        train,
                        kernel,
                        out=scratch.get((sl.stop - sl.start, m)),
                    )
                    terms, shift = _exp_shifted(log_k, compact)
                    with np.errstate(divide="ignore"):
                        return np.log(terms.sum(axis=1)) + shift[:, 0]

                slices = self._block_slices(len(Y), 8 * 3 * len(Y_train))
                sums = np.concatenate(self._run_blocks(block, slices))
                draws.append(sums + log_offset + log_jacobian)
            out[k] = _logsumexp_rows(np.vstack(draws), axis=0) - math.log(len(draws))
        return out

    def _dequantized_ensemble(self, models, X):
        """``log mean_k p_k(x)`` for new rows of levels."""
        from .._pixels import check_levels

        X = check_array(X, order="C", dtype=np.float64)
        check_levels(X, models.estimator.n_levels, type(models.estimator).__name__)
        matrix = self._dequantized_matrix(models, X)
        return _logsumexp_rows(matrix, axis=0) - math.log(len(matrix))


def _dequantized_kde(estimator):
    """The KernelDensity inside ``DequantizedDensity(KernelDensity(...))``, or None."""
    from .._pixels import DequantizedDensity

    if type(estimator) is DequantizedDensity and isinstance(
        estimator.estimator, KernelDensity
    ):
        return estimator.estimator
    return None


@dataclass(frozen=True)
class _DequantizedModels:
    """The fold models of a DequantizedDensity(KernelDensity): data and seeds.

    Each model's noise is drawn again from its seed when asked for, as
    ``DequantizedDensity.fit`` draws it: the training noise after the seed
    of the scoring noise, from the same generator.
    """

    estimator: object
    X: np.ndarray
    train_masks: np.ndarray
    seeds: np.ndarray

    def model(self, k):
        """``(Y_train, bandwidth, log_norm - log n_train, scoring noise)``."""
        from .._pixels import logit_dequantize
        from .._splits import MAX_SEED

        wrapper, inner = self.estimator, self.estimator.estimator
        X_train = self.X[self.train_masks[k]]
        n_train, d = X_train.shape
        rng = np.random.RandomState(int(self.seeds[k]))
        noise_seed = int(rng.randint(MAX_SEED))
        Y_train, _ = logit_dequantize(
            X_train,
            rng.uniform(size=X_train.shape),
            wrapper.n_levels,
            wrapper.logit_alpha,
        )
        h = resolve_bandwidth(inner.bandwidth, n_train, d)
        log_offset = log_kernel_norm(h, d, inner.kernel) - math.log(n_train)
        noise = np.random.RandomState(noise_seed).uniform(
            size=(wrapper.n_noise_samples, d)
        )
        return Y_train, h, log_offset, noise


def _is_leave_one_out(plan):
    """Each model holds out one distinct sample and trains on all the others."""
    n = plan.n_samples
    if plan.n_models != n or n < 3:
        return False
    # Train and test masks are disjoint (the split plan checks), so these counts
    # pin the plan down without any n x n temporary.
    return bool(
        (plan.test_masks.sum(axis=1) == 1).all()
        and (plan.test_masks.sum(axis=0) == 1).all()
        and (plan.train_masks.sum(axis=1) == n - 1).all()
    )
