"""Tests that the paper compares the memorization score against.

The nearest-neighbour test asks whether generated samples lie closer to the
training samples than held-out data does. van den Burg & Williams (2021) show
it misses memorization: a model can reproduce a training sample's density
without generating anything near it.
"""

from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from scipy.stats import mannwhitneyu, spearmanr
from sklearn import get_config
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import Bunch, check_array, gen_even_slices
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.parallel import Parallel, delayed
from threadpoolctl import threadpool_limits

__all__ = [
    "closest_record_distances",
    "compare_scores",
    "data_copying_test",
    "local_data_copying_test",
    "nearest_neighbor_distance_ratio",
]


def _nearest_distance(queries, reference):
    nn = NearestNeighbors(n_neighbors=1).fit(reference)
    return nn.kneighbors(queries)[0][:, 0]


@validate_params(
    {
        "X_train": ["array-like"],
        "X_generated": ["array-like"],
        "X_validation": ["array-like"],
    },
    prefer_skip_nested_validation=True,
)
def nearest_neighbor_distance_ratio(X_train, X_generated, X_validation):
    """Per training sample, nearest validation distance over nearest generated distance.

    A ratio well above 1 means some generated sample lies much closer to the
    training sample than any held-out sample does: the nearest-neighbour
    signature of copying.

    Parameters
    ----------
    X_train : array-like of shape (n_train, n_features)
    X_generated : array-like of shape (n_generated, n_features)
        Samples drawn from the model, e.g. ``VAEDensity.sample``.
    X_validation : array-like of shape (n_validation, n_features)
        Held-out samples from the same distribution as the training data.

    Returns
    -------
    ratio : ndarray of shape (n_train,)
        ``d(x, nearest validation) / d(x, nearest generated)``; ``inf`` where a
        generated sample equals the training sample.

    Examples
    --------
    >>> import numpy as np
    >>> from skmem.baselines import nearest_neighbor_distance_ratio
    >>> X_train = np.array([[0.0], [10.0]])
    >>> X_generated = np.array([[0.1], [5.0]])
    >>> X_validation = np.array([[1.0], [11.0]])
    >>> nearest_neighbor_distance_ratio(X_train, X_generated, X_validation)
    array([10. ,  0.2])
    """
    X_train = check_array(X_train)
    X_generated = check_array(X_generated)
    X_validation = check_array(X_validation)
    for name, other in (("X_generated", X_generated), ("X_validation", X_validation)):
        if other.shape[1] != X_train.shape[1]:
            raise ValueError(
                f"{name} has {other.shape[1]} features but X_train has "
                f"{X_train.shape[1]}."
            )
    to_validation = _nearest_distance(X_train, X_validation)
    to_generated = _nearest_distance(X_train, X_generated)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = to_validation / to_generated
    return np.where((to_generated == 0) & (to_validation == 0), 1.0, ratio)


@validate_params(
    {
        "a": ["array-like"],
        "b": ["array-like"],
        "top_k": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def compare_scores(a, b, *, top_k=10):
    """How much two per-sample scores agree: rank correlation and top-k overlap.

    Parameters
    ----------
    a, b : array-like of shape (n_samples,)
        Two scores of the same samples (memorization under two models, or
        memorization and a nearest-neighbour ratio). Samples where either is
        NaN are left out.
    top_k : int, default=10
        Size of the top sets to compare.

    Returns
    -------
    result : Bunch
        ``spearman``: Spearman rank correlation; ``top_k_overlap``: the fraction
        of the ``top_k`` highest samples of ``a`` that are among the ``top_k``
        highest of ``b``; ``n_samples``: samples compared.

    Examples
    --------
    >>> from skmem.baselines import compare_scores
    >>> r = compare_scores([1, 2, 3, 4], [1, 2, 4, 3], top_k=2)
    >>> round(float(r.spearman), 3), float(r.top_k_overlap)
    (0.8, 1.0)
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a and b must score the same samples: {a.shape} != {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    k = min(top_k, len(a))
    top_a = set(np.argsort(-a, kind="stable")[:k])
    top_b = set(np.argsort(-b, kind="stable")[:k])
    return Bunch(
        spearman=spearmanr(a, b)[0] if len(a) > 1 else np.nan,
        top_k_overlap=len(top_a & top_b) / k if k else np.nan,
        n_samples=len(a),
    )


def _check_same_features(X_train, **others):
    for name, other in others.items():
        if other.shape[1] != X_train.shape[1]:
            raise ValueError(
                f"{name} has {other.shape[1]} features but X_train has "
                f"{X_train.shape[1]}."
            )


def _float_tables(X_train, **others):
    """The tables as float arrays for euclidean distances. Numeric inputs are
    kept as they are; when any is a mixed table (text, categorical or boolean
    columns), all go through one encoding fitted on ``X_train``: numbers
    standardized by its median and ``min(std, IQR / 1.349)``, each category
    one-hot over sqrt(2), so that a mismatched category adds 1 to the squared
    distance, as a number one spread away does."""
    from ._mixed import distance_arrays

    arrays = distance_arrays(X_train, **others)
    X_train = arrays.pop("X_train")
    _check_same_features(X_train, **arrays)
    return (X_train, *arrays.values())


def _z_mann_whitney(to_generated, to_test):
    """Meehan et al.'s Z-scored U of generated vs test distances (their ``Zu``).

    ``U`` counts the (generated, test) pairs where the generated sample is the
    farther from the training data (ties count 1/2); it is centred at
    ``n m / 2 - 0.5`` and scaled by ``sqrt(n m (n + m + 1) / 12)`` without tie
    correction, exactly as their released code does. Negative: generated
    samples sit closer to the training data than test data does (copying).
    """
    m, n = len(to_generated), len(to_test)
    u = mannwhitneyu(to_generated, to_test, alternative="less").statistic
    mean = n * m / 2 - 0.5
    std = np.sqrt(n * m * (n + m + 1) / 12)
    return float((u - mean) / std)


@validate_params(
    {
        "X_train": ["array-like"],
        "X_generated": ["array-like"],
        "X_test": ["array-like"],
        "n_cells": [Interval(Integral, 1, None, closed="left")],
        "tau": [Interval(Real, 0, 1, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def data_copying_test(
    X_train, X_generated, X_test, *, n_cells=5, tau=None, random_state=None
):
    """Meehan, Chaudhuri and Dasgupta's (AISTATS 2020) data-copying test, C_T.

    The training data is cut into ``n_cells`` cells by k-means. In each cell,
    the distances of the generated samples and of the test samples to their
    nearest training sample of the cell are compared with a Mann-Whitney U
    test, Z-scored under the null that both come from the same distribution.
    C_T averages the cells' Z, weighted by their share of the test samples,
    over the cells holding more than a fraction ``tau`` of the generated
    samples. C_T well below 0 (say < -3) means the generator copies its
    training data (its samples are closer to it than fresh data is); well
    above 0 means it underfits. This follows their released code
    (``data_copying_tests.C_T``), continuity correction included.

    Numeric arrays are compared as they are; mixed tables (DataFrames with
    text, categorical or boolean columns) through one encoding fitted on
    ``X_train``: standardized numbers, and one-hot categories over sqrt(2)
    (a mismatch adds 1 to the squared distance).

    Parameters
    ----------
    X_train : array-like or DataFrame of shape (n_train, n_features)
        The generator's training data.
    X_generated : array-like or DataFrame of shape (n_generated, n_features)
        Samples from the generator.
    X_test : array-like or DataFrame of shape (n_test, n_features)
        Data from the same distribution that the generator never saw.
    n_cells : int, default=5
        Number of k-means cells. Every cell must hold training and test samples.
    tau : float in [0, 1), default=None
        A cell counts when more than this fraction of the generated samples
        falls in it. None means ``20 / n_generated`` (more than 20 samples), as
        in their experiments.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``statistic``: C_T.
        - ``cell_statistics``: ndarray (n_cells,), the Z of each cell (0 for a
          cell without generated samples).
        - ``cell_weights``: ndarray (n_cells,), each cell's share of the test
          samples (the kept cells' weights are renormalised in C_T).
        - ``kept_cells``: bool ndarray (n_cells,), the cells in C_T.
        - ``cell_counts``: dict of int ndarrays (n_cells,), the ``"train"``,
          ``"generated"`` and ``"test"`` samples per cell.
        - ``cell_labels``: dict of the cell of every training, generated and
          test sample.

    References
    ----------
    C. Meehan, K. Chaudhuri, S. Dasgupta. A Non-Parametric Test to Detect
    Data-Copying in Generative Models. AISTATS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skmem.baselines import data_copying_test
    >>> rng = np.random.RandomState(0)
    >>> X_train, X_test = rng.normal(size=(500, 2)), rng.normal(size=(500, 2))
    >>> copies = X_train[rng.randint(500, size=300)] + 0.01 * rng.normal(size=(300, 2))
    >>> fresh = rng.normal(size=(300, 2))
    >>> data_copying_test(X_train, copies, X_test, random_state=0).statistic < -3
    True
    >>> abs(data_copying_test(X_train, fresh, X_test, random_state=0).statistic) < 3
    True
    """
    X_train, X_generated, X_test = _float_tables(
        X_train, X_generated=X_generated, X_test=X_test
    )
    if n_cells > len(X_train):
        raise ValueError(
            f"n_cells={n_cells} cells need at least as many training samples; "
            f"got {len(X_train)}."
        )
    if tau is None:
        tau = 20 / len(X_generated)
    kmeans = KMeans(n_clusters=n_cells, n_init=10, random_state=random_state)
    # One OpenMP thread: on a busy machine, k-means' threads spin-wait for each
    # other and run a hundred times slower than one thread on these sizes.
    with threadpool_limits(limits=1):
        labels_train = kmeans.fit_predict(X_train)
        labels_gen = kmeans.predict(X_generated)
        labels_test = kmeans.predict(X_test)
    counts = {
        name: np.bincount(labels, minlength=n_cells)
        for name, labels in (
            ("train", labels_train),
            ("generated", labels_gen),
            ("test", labels_test),
        )
    }
    empty = np.flatnonzero(counts["test"] == 0)
    if empty.size:
        raise ValueError(
            f"Cell {int(empty[0])} of the {n_cells} k-means cells has no test "
            "samples; use fewer cells (n_cells) or more test samples."
        )
    z = np.zeros(n_cells)
    for cell in range(n_cells):
        generated = X_generated[labels_gen == cell]
        if not len(generated):
            continue  # left out below: it holds no generated sample
        nn = NearestNeighbors(n_neighbors=1).fit(X_train[labels_train == cell])
        z[cell] = _z_mann_whitney(
            nn.kneighbors(generated)[0][:, 0],
            nn.kneighbors(X_test[labels_test == cell])[0][:, 0],
        )
    weights = counts["test"] / len(X_test)
    kept = counts["generated"] / len(X_generated) > tau
    if not kept.any():
        raise ValueError(
            f"No cell holds more than tau={tau:g} of the generated samples; "
            "lower tau or draw more samples."
        )
    statistic = float(weights[kept] @ z[kept] / weights[kept].sum())
    return Bunch(
        statistic=statistic,
        cell_statistics=z,
        cell_weights=weights,
        kept_cells=kept,
        cell_counts=counts,
        cell_labels={
            "train": labels_train,
            "generated": labels_gen,
            "test": labels_test,
        },
    )


# Tiles of 32 rows x 8192 samples (1 MiB of float32) stay in cache between
# the product and the passes over it.
_TILE_ROWS, _TILE_COLUMNS = 32, 8192


def _tile_nearest_and_count(A, B_t, sq_b, limit, columns, A64, B64, margin):
    """Running nearest column and count below ``limit`` for rows ``A``.

    ``A`` holds the rows times -2, so that one product and one addition give
    ``|b|^2 - 2 a.b``. The float32 values screen; a row whose runner-up in a
    tile lies within ``margin`` (the float32 rounding of a squared distance)
    of its least has all its candidates measured again in float64, so that
    the nearest column and its distance are exact even among near-ties
    (copies a hair apart). Only rows whose least lies below their ``limit``
    are counted. Each pass over a tile is a single reduction: the product
    dominates, as it must.
    """
    n, m = len(A), B_t.shape[1]
    best = np.full(n, np.inf)
    nearest = np.zeros(n, dtype=np.intp)
    n_closer = np.zeros(n, dtype=np.intp)
    product = np.empty((_TILE_ROWS, columns), dtype=np.float32)
    for c0 in range(0, m, columns):
        c1 = min(c0 + columns, m)
        part, sq_part = B_t[:, c0:c1], sq_b[c0:c1]
        for r0 in range(0, n, _TILE_ROWS):
            r1 = min(r0 + _TILE_ROWS, n)
            rows = np.arange(r1 - r0)
            d2 = product[: r1 - r0, : c1 - c0]
            np.matmul(A[r0:r1], part, out=d2)
            d2 += sq_part
            col = d2.argmin(axis=1)
            least = d2[rows, col]
            if limit is not None:
                counted = np.flatnonzero(least < limit[r0:r1])
                if counted.size:
                    n_closer[r0 + counted] += np.count_nonzero(
                        d2[counted] < limit[r0 + counted, None], axis=1
                    )
            # The runner-up of each row says whether float32 can decide.
            d2[rows, col] = np.inf
            tied = np.flatnonzero(d2.min(axis=1) <= least + margin[r0:r1])
            diff = A64[r0:r1] - B64[c0 + col]
            value = np.einsum("ij,ij->i", diff, diff)
            for t in tied:
                d2[t, col[t]] = least[t]
                cols = np.flatnonzero(d2[t] <= least[t] + margin[r0 + t])
                diff = A64[r0 + t] - B64[c0 + cols]
                exact = np.einsum("ij,ij->i", diff, diff)
                pick = int(np.argmin(exact))  # the first of exact ties
                col[t], value[t] = cols[pick], exact[pick]
            better = value < best[r0:r1]
            best[r0:r1][better] = value[better]
            nearest[r0:r1][better] = col[better] + c0
    return nearest, n_closer


def _nearest_and_count(X, Y, radius, working_memory, n_jobs):
    """Per row of X: nearest row of Y, its distance, and (when ``radius`` is
    given) how many rows of Y are strictly closer than ``radius``.

    Squared distances, less ``|x|^2`` (constant per row, folded into the
    threshold), come from float32 matrix products on centred data in
    cache-sized tiles, threads over row blocks; no ``len(X) x len(Y)`` array
    is held. The candidates for the nearest row (within float32 rounding of
    the least) are measured again in float64, so the nearest row and its
    distance are exact.
    """
    center = Y.mean(axis=0)
    A64 = X - center
    B = Y - center
    A = (-2.0 * A64).astype(np.float32)
    sq_b = np.einsum("ij,ij->i", B, B)
    sq_a = np.einsum("ij,ij->i", A64, A64)
    # Twice the float32 rounding of |b|^2 - 2 a.b, with room (it grows with
    # the number of features summed).
    margin = (
        (16 + 2 * X.shape[1])
        * np.finfo(np.float32).eps
        * (sq_a + sq_b.max(initial=0.0) + 1e-300)
    ).astype(np.float32)
    sq_b = sq_b.astype(np.float32)
    B_t = np.ascontiguousarray(B.T, dtype=np.float32)
    limit = None
    if radius is not None:
        limit = (radius**2 - sq_a).astype(np.float32)
    # Each thread holds a tile of float32, and the comparison of the rows it
    # counts.
    columns = int(
        min(_TILE_COLUMNS, max(1, working_memory * 2**20 // (5 * _TILE_ROWS)))
    )
    n_threads = max(1, min(effective_n_jobs(n_jobs), -(-len(A) // _TILE_ROWS)))
    slices = list(gen_even_slices(len(A), n_threads))
    with threadpool_limits(limits=1, user_api="blas"):
        parts = Parallel(n_jobs=n_threads, prefer="threads")(
            delayed(_tile_nearest_and_count)(
                A[sl],
                B_t,
                sq_b,
                None if limit is None else limit[sl],
                columns,
                A64[sl],
                B,
                margin[sl],
            )
            for sl in slices
        )
    nearest = np.concatenate([p[0] for p in parts])
    n_closer = np.concatenate([p[1] for p in parts])
    diff = X - Y[nearest]
    distance = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return nearest, distance, n_closer


@validate_params(
    {
        "X_train": ["array-like"],
        "X_generated": ["array-like"],
        "X_holdout": ["array-like"],
        "working_memory": [Interval(Real, 0, None, closed="neither"), None],
        "n_jobs": [Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def closest_record_distances(
    X_train, X_generated, X_holdout, *, working_memory=None, n_jobs=None
):
    """Per training record: its closest generated sample, and how many generated
    samples lie closer to it than its nearest held-out record does.

    The distance to the closest record (DCR) that synthetic-data audits report,
    kept per record instead of averaged: a record with generated samples closer
    to it than any fresh record is a candidate copy. Put it next to the
    memorization score: copies show up in both, while memorization of a
    record's density need not produce any sample near it.

    Distances are euclidean; mixed tables (DataFrames with text, categorical
    or boolean columns) are encoded as in :func:`data_copying_test`. They are
    screened with float32 matrix products
    in cache-sized tiles (no ``n_train x n_generated`` matrix is ever held,
    so 100,000 records against 100,000 samples take a few MiB), so a sample
    within about 1e-6 of the data's squared scale of the threshold may be
    counted either way; ``distance_to_generated`` is recomputed in float64.

    Parameters
    ----------
    X_train : array-like of shape (n_train, n_features)
        The records the generator trained on.
    X_generated : array-like of shape (n_generated, n_features)
        Samples from the generator.
    X_holdout : array-like of shape (n_holdout, n_features)
        Records from the same distribution that the generator never saw.
    working_memory : float, default=None
        Caps the work array of each thread, in MiB (tiles of about 1 MiB are
        used); None means scikit-learn's ``working_memory`` setting.
    n_jobs : int, default=None
        Threads over blocks of records; None means 1 unless in a joblib
        context, -1 all processors.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``distance_to_generated``: (n_train,), the DCR of each record.
        - ``nearest_generated``: (n_train,) int, the index of that sample.
        - ``distance_to_holdout``: (n_train,), to the nearest held-out record.
        - ``n_closer``: (n_train,) int, generated samples strictly closer to the
          record than its nearest held-out record.
        - ``ratio``: (n_train,), ``distance_to_holdout / distance_to_generated``
          (inf for an exact copy), as in
          :func:`nearest_neighbor_distance_ratio`.

    Examples
    --------
    >>> import numpy as np
    >>> from skmem.baselines import closest_record_distances
    >>> X_train = np.array([[0.0], [10.0]])
    >>> X_generated = np.array([[0.1], [0.2], [5.0]])
    >>> X_holdout = np.array([[1.0], [11.0]])
    >>> result = closest_record_distances(X_train, X_generated, X_holdout)
    >>> result.n_closer.tolist(), result.nearest_generated.tolist()
    ([2, 0], [0, 2])
    """
    X_train, X_generated, X_holdout = _float_tables(
        X_train, X_generated=X_generated, X_holdout=X_holdout
    )
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    _, to_holdout, _ = _nearest_and_count(
        X_train, X_holdout, None, working_memory, n_jobs
    )
    nearest, to_generated, n_closer = _nearest_and_count(
        X_train, X_generated, to_holdout, working_memory, n_jobs
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = to_holdout / to_generated
    ratio = np.where((to_generated == 0) & (to_holdout == 0), 1.0, ratio)
    return Bunch(
        distance_to_generated=to_generated,
        nearest_generated=nearest,
        distance_to_holdout=to_holdout,
        n_closer=n_closer,
        ratio=ratio,
    )


@validate_params(
    {
        "X_train": ["array-like"],
        "X_generated": ["array-like"],
        "lambda_": [Interval(Real, 1, None, closed="neither")],
        "gamma": [Interval(Real, 0, 1, closed="neither")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def local_data_copying_test(
    X_train,
    X_generated,
    *,
    lambda_=20.0,
    gamma=0.01,
    n_neighbors=None,
    random_state=None,
):
    """Bhattacharjee, Dasgupta and Chaudhuri's (ICML 2023) local data copying.

    A generator copies a training record ``x`` when it puts much more mass
    than the data distribution near it: ``q(B(x, r)) >= lambda_ p(B(x, r))``
    for a ball of data mass ``p(B(x, r)) <= gamma``. Its copying rate is the
    generator's mass on the union of those balls. Meehan's C_T
    (:func:`data_copying_test`) averages over cells, so a generator that
    copies one region blatantly and underfits elsewhere can score near 0; this
    test looks at every record's neighbourhood.

    The estimate follows their algorithm. The generated samples are split at
    random into two halves, T and U. The data mass of a small ball comes from
    the local regularity assumption of their analysis,
    ``p(B(x, r)) = (k / n) (r / r_k(x)) ** d`` with ``r_k(x)`` the distance
    from ``x`` to its ``k``-th nearest other training record and ``d`` the
    number of features (of numeric features, for a mixed table: within a
    category a ball grows only along them). For each record, ``r(x)`` is
    the largest distance to a sample of T within the ball of mass ``gamma``
    at which T's share of samples reaches ``lambda_`` times that mass (0
    where none does); the
    copying rate is the share of U's samples within ``r(x)`` of some record.
    U is independent of the radii, so the rate is not inflated by their
    choice. A generator that does not copy has a rate near 0: by chance
    about one record in ``lambda_`` has one sample of T close enough, and
    its ball holds a share of about ``1 / (lambda_ |T|)`` of U.

    Parameters
    ----------
    X_train : array-like or DataFrame of shape (n_train, n_features)
        The generator's training data (mixed tables are encoded as in
        :func:`data_copying_test`).
    X_generated : array-like or DataFrame of shape (n_generated, n_features)
        Samples from the generator, at least 4.
    lambda_ : float, default=20
        How many times the data's mass the generator must put near a record.
    gamma : float in (0, 1), default=0.01
        The largest data mass of a region that counts as local.
    n_neighbors : int, default=None
        ``k`` of the regularity assumption; None means
        ``min(400, max(10, n_train // 10))`` (their ``b = 400`` on large data).
    random_state : int, RandomState instance or None, default=None
        Seeds the split of the samples.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``copying_rate``: U's share of samples in the copied regions.
        - ``radii``: (n_train,), each record's copying radius ``r(x)``.
        - ``copied``: (n_train,) bool, records with a copying ball.
        - ``n_copies``: (n_train,) int, samples of U within ``r(x)``.
        - ``copied_samples``: indices (into ``X_generated``) of the samples
          of U in the copied regions.

    References
    ----------
    R. Bhattacharjee, S. Dasgupta, K. Chaudhuri. Data-Copying in Generative
    Models: A Formal Framework. ICML 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from skmem.baselines import local_data_copying_test
    >>> rng = np.random.RandomState(0)
    >>> X_train = rng.normal(size=(200, 2))
    >>> rows = rng.randint(200, size=4000)
    >>> copies = X_train[rows] + 1e-4 * rng.normal(size=(4000, 2))
    >>> fresh = rng.normal(size=(4000, 2))
    >>> local_data_copying_test(X_train, copies, random_state=0).copying_rate > 0.9
    True
    >>> local_data_copying_test(X_train, fresh, random_state=0).copying_rate < 0.02
    True
    """
    from sklearn.utils import check_random_state

    from ._mixed import TableEncoder, is_mixed

    # A ball narrower than a category mismatch (distance 1) holds records of
    # one category only: the volume grows with the numeric columns alone.
    d = max(1, len(TableEncoder().fit(X_train).numbers_)) if is_mixed(X_train) else None
    X_train, X_generated = _float_tables(X_train, X_generated=X_generated)
    n = len(X_train)
    d = X_train.shape[1] if d is None else d
    m = len(X_generated)
    if m < 4 or n < 3:
        raise ValueError(
            f"The local test needs 3 training records and 4 samples or more; got "
            f"{n} and {m}."
        )
    k = n_neighbors if n_neighbors is not None else min(400, max(10, n // 10))
    k = min(k, n - 1)
    order = check_random_state(random_state).permutation(m)
    T, U = order[: m // 2], order[m // 2 :]
    # r_k(x): the k-th nearest other training record.
    r_k = NearestNeighbors(n_neighbors=k + 1).fit(X_train).kneighbors(X_train)[0][:, -1]
    r_k = np.where(r_k > 0, r_k, np.finfo(np.float64).tiny)
    # The ball of data mass gamma: (k / n) (r / r_k) ** d = gamma.
    r_gamma = r_k * min(1.0, gamma * n / k) ** (1.0 / d)
    distances, _ = (
        NearestNeighbors()
        .fit(X_generated[T])
        .radius_neighbors(X_train, radius=r_gamma, sort_results=True)
    )
    radii = np.zeros(n)
    for i, near in enumerate(distances):
        if not len(near):
            continue
        q_share = np.arange(1, len(near) + 1) / len(T)
        p_mass = (k / n) * (near / r_k[i]) ** d
        ok = np.flatnonzero(lambda_ * p_mass <= q_share)
        if ok.size:
            radii[i] = near[ok[-1]]
    copied = radii > 0
    inside = (
        NearestNeighbors()
        .fit(X_generated[U])
        .radius_neighbors(X_train[copied], radius=radii[copied], return_distance=False)
    )
    n_copies = np.zeros(n, dtype=np.intp)
    n_copies[copied] = [len(a) for a in inside]
    hits = np.unique(np.concatenate([*inside, np.empty(0, dtype=np.intp)]))
    return Bunch(
        copying_rate=len(hits) / len(U),
        radii=radii,
        copied=copied,
        n_copies=n_copies,
        copied_samples=U[hits.astype(np.intp)],
    )
