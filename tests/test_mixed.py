"""Mixed tables in SampledDensity: the product kernel density, and copiers and
honest samplers told apart on numeric, mixed synthetic and a real table."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from sklearn.base import BaseEstimator
from sklearn.datasets import load_diabetes

from skmem import MemorizationScorer, SampledDensity
from skmem._mixed import ProductKernelDensity, TableEncoder
from skmem.baselines import closest_record_distances, data_copying_test


def _frame(X):
    return X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))


class Copier(BaseEstimator):
    """Returns its training rows, numbers with noise of ``noise`` spreads."""

    def __init__(self, noise=1e-3, random_state=None):
        self.noise = noise
        self.random_state = random_state

    def fit(self, X):
        self.was_frame_ = isinstance(X, pd.DataFrame)
        self.data_ = _frame(X).reset_index(drop=True)
        return self

    def sample(self, n_samples, random_state=None):
        rng = np.random.RandomState(random_state)
        rows = rng.randint(len(self.data_), size=n_samples)
        out = self.data_.iloc[rows].reset_index(drop=True)
        for column in out.columns:
            if pd.api.types.is_float_dtype(out[column].dtype):
                noise = self.noise * out[column].std() * rng.normal(size=n_samples)
                out[column] = out[column] + noise
        return out if self.was_frame_ else out.to_numpy()


class Marginals(Copier):
    """Each column drawn on its own: numbers from a gaussian KDE of the column
    (Silverman's width), categories and integers from their frequencies."""

    def sample(self, n_samples, random_state=None):
        rng = np.random.RandomState(random_state)
        columns = {}
        for column in self.data_.columns:
            values = self.data_[column]
            draw = values.iloc[rng.randint(len(values), size=n_samples)]
            draw = draw.reset_index(drop=True)
            if pd.api.types.is_float_dtype(values.dtype):
                width = 1.06 * values.std() * len(values) ** -0.2
                draw = draw + width * rng.normal(size=n_samples)
            columns[column] = draw
        out = pd.DataFrame(columns)
        return out if self.was_frame_ else out.to_numpy()


def _mixed_table(n=400, seed=0):
    rng = np.random.RandomState(seed)
    z = rng.normal(size=n)
    city = np.where(z > 0, rng.choice(list("ab"), n), rng.choice(list("cde"), n))
    return pd.DataFrame(
        {
            "x": z + 0.3 * rng.normal(size=n),
            "y": rng.gamma(2.0, size=n),
            "city": pd.Categorical(city),
            "owner": rng.rand(n) > 0.3,
            "job": rng.choice(["u", "v", "w"], n),
        }
    )


def _diabetes():
    """scikit-learn's bundled diabetes table, raw units, sex as a category."""
    frame = load_diabetes(as_frame=True, scaled=False).frame.drop(columns="target")
    frame["sex"] = frame["sex"].map({1.0: "one", 2.0: "two"}).astype("category")
    return frame.iloc[:400].reset_index(drop=True)


def _brute_force_log_density(queries, samples, train, h, r):
    numbers = ["x", "y"]
    center = train[numbers].median().to_numpy()
    q75, q25 = np.percentile(train[numbers], [75, 25], axis=0)
    scale = np.minimum(train[numbers].std(ddof=0).to_numpy(), (q75 - q25) / 1.349)
    zq = (queries[numbers].to_numpy() - center) / scale
    zs = (samples[numbers].to_numpy() - center) / scale
    log_k = -0.5 * ((zq[:, None] - zs[None]) ** 2).sum(-1) / h**2
    log_k -= 2 * np.log(h * np.sqrt(2 * np.pi)) + np.log(scale).sum()
    for column in ["city", "owner", "job"]:
        n_levels = train[column].nunique()
        same = queries[column].to_numpy()[:, None] == samples[column].to_numpy()[None]
        log_k += np.where(same, 0.0, np.log(r)) - np.log1p((n_levels - 1) * r)
    return logsumexp(log_k, axis=1) - np.log(len(samples))


def test_product_kernel_density_against_brute_force(monkeypatch):
    train = _mixed_table(200, seed=1)
    samples = _mixed_table(300, seed=2)
    queries = _mixed_table(30, seed=3)
    queries.loc[0, "job"] = "never seen"  # a category outside the table
    queries.loc[1, "x"] = 50.0  # far from every sample
    encoder = TableEncoder().fit(train)
    kde = ProductKernelDensity(0.3, 0.2, encoder=encoder).fit(samples)
    expected = _brute_force_log_density(queries, samples, train, 0.3, 0.2)
    np.testing.assert_allclose(kde.score_samples(queries), expected, rtol=1e-10)
    # Wide categories are compared column by column: the same density.
    monkeypatch.setattr("skmem._mixed._ONE_HOT_WIDTH", 0)
    wide = ProductKernelDensity(0.3, 0.2, encoder=encoder).fit(samples)
    np.testing.assert_allclose(wide.score_samples(queries), expected, rtol=1e-10)
    # The order of the samples does not matter.
    shuffled = samples.sample(frac=1.0, random_state=0)
    again = ProductKernelDensity(0.3, 0.2, encoder=encoder).fit(shuffled)
    np.testing.assert_allclose(again.score_samples(queries), expected, rtol=1e-10)


def test_aitchison_aitken_kernel_sums_to_one_over_the_categories():
    rng = np.random.RandomState(4)
    table = pd.DataFrame({"a": rng.choice(list("pqrs"), 200), "b": rng.rand(200) > 0.7})
    for r in (0.01, 0.3, 1.0):
        kde = ProductKernelDensity(category_bandwidth=r).fit(table)
        grid = pd.DataFrame(
            [(a, b) for a in "pqrs" for b in (False, True)], columns=["a", "b"]
        )
        assert np.exp(kde.score_samples(grid)).sum() == pytest.approx(1.0)
    # r = 1 ignores the categories: every cell gets 1 / (4 * 2).
    np.testing.assert_allclose(np.exp(kde.score_samples(grid)), 1 / 8)
    # Chosen by leave-one-out likelihood (brute force over the grid; 200
    # samples, so all are queries).
    from skmem._mixed import _R_GRID

    a, b = table["a"].to_numpy(), table["b"].to_numpy()
    mismatches = (a[:, None] != a[None]).astype(float) + (b[:, None] != b[None])

    def loo(r):
        log_k = np.log(r) * mismatches - np.log1p(3 * r) - np.log1p(r)
        np.fill_diagonal(log_k, -np.inf)
        return (logsumexp(log_k, axis=1) - np.log(199)).mean()

    best = _R_GRID[np.argmax([loo(r) for r in _R_GRID])]
    assert ProductKernelDensity().fit(table).category_bandwidth_ == best


def _audit(X, generator, n_samples=2000, **params):
    scorer = MemorizationScorer(
        SampledDensity(generator, n_samples=n_samples, **params),
        cv=5,
        n_repeats=3,
        random_state=0,
    ).fit(X)
    return scorer, scorer.membership_audit()


TABLES = {
    "numeric": lambda: np.random.RandomState(0).normal(size=(400, 2)),
    "mixed": _mixed_table,
    "diabetes": _diabetes,
}


@pytest.mark.parametrize("table", list(TABLES))
def test_a_copier_is_seen(table):
    scorer, audit = _audit(TABLES[table](), Copier())
    assert audit.auc >= 0.9
    assert audit.epsilon_lower_bound > 0
    assert np.median(scorer.memorization_scores_) > 1


@pytest.mark.parametrize("table", list(TABLES))
def test_a_sampler_of_independent_marginals_is_not_flagged(table):
    X = TABLES[table]()
    scorer, audit = _audit(X, Marginals())
    assert abs(audit.auc - 0.5) <= 0.05
    assert audit.epsilon_lower_bound == 0
    assert scorer.memorized().mean() <= 0.01


def test_scotts_rule_smooths_the_copies_away():
    # The case: Scott's width, from the data's spread, cannot tell the
    # copier from an honest sampler; the leave-one-out width can.
    X = TABLES["numeric"]()
    _, scott = _audit(X, Copier(), bandwidth="scott")
    assert scott.auc < 0.75
    _, chosen = _audit(X, Copier())
    assert chosen.auc > scott.auc + 0.2


def test_mixed_tables_in_the_data_copying_test_and_closest_records():
    train, test = _mixed_table(300, seed=5), _mixed_table(300, seed=6)
    copies = Copier(noise=1e-2).fit(train).sample(300, random_state=0)
    fresh = _mixed_table(300, seed=7)  # from the same distribution
    assert data_copying_test(train, copies, test, random_state=0).statistic < -3
    assert abs(data_copying_test(train, fresh, test, random_state=0).statistic) < 3
    # The distance: standardized numbers, and 1 per mismatched category in the
    # squared distance (brute force).
    result = closest_record_distances(train, fresh, test)
    numbers = ["x", "y"]
    center = train[numbers].median().to_numpy()
    q75, q25 = np.percentile(train[numbers], [75, 25], axis=0)
    scale = np.minimum(train[numbers].std(ddof=0).to_numpy(), (q75 - q25) / 1.349)

    def d2(a, b):
        za, zb = (
            (a[numbers].to_numpy() - center) / scale,
            (b[numbers].to_numpy() - center) / scale,
        )
        out = ((za[:, None] - zb[None]) ** 2).sum(-1)
        for column in ["city", "owner", "job"]:
            out += a[column].to_numpy()[:, None] != b[column].to_numpy()[None]
        return out

    to_fresh, to_test = np.sqrt(d2(train, fresh)), np.sqrt(d2(train, test))
    np.testing.assert_allclose(result.distance_to_generated, to_fresh.min(1), rtol=1e-9)
    np.testing.assert_allclose(result.distance_to_holdout, to_test.min(1), rtol=1e-9)
    np.testing.assert_array_equal(
        result.n_closer, (to_fresh < to_test.min(1)[:, None]).sum(1)
    )
    with pytest.raises(ValueError, match="X_holdout has 4 features but X_train has 5"):
        closest_record_distances(train, fresh, test.iloc[:, :4])
    ids = train.assign(job=[f"id{i}" for i in range(300)])
    ids = pd.concat([ids] * 4, ignore_index=True)
    ids["job"] = [f"id{i}" for i in range(1200)]
    with pytest.raises(ValueError, match="'job' has 1200 categories: an identifier"):
        closest_record_distances(ids, fresh, test)


def test_scorer_data_copying_on_a_mixed_table():
    X = _mixed_table(200, seed=8)
    scorer = MemorizationScorer(
        SampledDensity(Copier(), n_samples=500), cv=2, random_state=0
    ).fit(X)
    result = scorer.data_copying(n_generated=400)
    assert (result.statistics < -3).all()
    # The closest samples are rows of the table, copies of the records.
    assert result.closest_generated.shape == X.shape
    same_city = result.closest_generated[:, 2] == X["city"].to_numpy()
    assert same_city.mean() > 0.9


def test_a_numeric_dataframe_scores_as_its_array():
    X = TABLES["numeric"]()[:120]
    frame = pd.DataFrame(X, columns=["a", "b"])
    from sklearn.mixture import GaussianMixture

    est = SampledDensity(GaussianMixture(2), n_samples=300)
    a = MemorizationScorer(est, cv=3, random_state=0).fit(X)
    b = MemorizationScorer(est, cv=3, random_state=0).fit(frame)
    np.testing.assert_allclose(a.log_likelihoods_, b.log_likelihoods_, rtol=1e-12)
