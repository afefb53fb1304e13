"""Tabular data of any type through the scorer: DataFrames, sparse, missing cells."""

import numpy as np
import pytest
from scipy import sparse
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.decomposition import TruncatedSVD
from sklearn.impute import SimpleImputer
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import KFold
from sklearn.neighbors import KernelDensity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import InvalidParameterError

from skmem import MemorizationScorer
from skmem._rows import check_no_missing, row_groups
from skmem.engines.generic import failed_model

pd = pytest.importorskip("pandas")


def _table(n=60, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n) * 10 + 100,
            "c": rng.choice(["red", "green", "blue"], n),
        }
    )


def _mixed_pipeline():
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["c"]),
            (StandardScaler(), ["a", "b"]),
        ),
        GaussianMixture(2, reg_covar=1e-3),
    )


def _reference(estimator, X, cv, seeds):
    """The cross_validate-style loop: _safe_indexing per fold, logmeanexp."""
    n = len(X)
    ins, outs = [[] for _ in range(n)], [[] for _ in range(n)]
    for k, (train, test) in enumerate(cv.split(X)):
        model = clone(estimator).set_params(gaussianmixture__random_state=seeds[k])
        ll = model.fit(_safe_indexing(X, train)).score_samples(X)
        for i in train:
            ins[i].append(ll[i])
        for i in test:
            outs[i].append(ll[i])
    agg = [np.array([logsumexp(v) - np.log(len(v)) for v in s]) for s in (ins, outs)]
    return agg[0] - agg[1]


def test_dataframe_with_string_column_matches_the_cross_validate_loop():
    df = _table()
    cv = KFold(4, shuffle=True, random_state=0)
    scorer = MemorizationScorer(
        _mixed_pipeline(), cv=cv, aggregate="logmeanexp", random_state=0
    ).fit(df)
    expected = _reference(_mixed_pipeline(), df, cv, scorer.seeds_)
    np.testing.assert_allclose(scorer.memorization_scores_, expected, rtol=1e-10)
    assert list(scorer.feature_names_in_) == ["a", "b", "c"]
    assert scorer.n_features_in_ == 3


def test_rows_of_a_dataframe_are_matched_by_value_object_columns_included():
    df = _table()
    scorer = MemorizationScorer(_mixed_pipeline(), cv=3, random_state=0).fit(df)
    M = scorer.memorization_scores_
    order = np.random.RandomState(1).permutation(len(df))
    np.testing.assert_array_equal(scorer.score_samples(df.iloc[order]), M[order])
    # Same numbers, another category: a new row, with score 0 and a warning.
    changed = df.iloc[:2].copy()
    changed["c"] = ["purple", "purple"]
    with pytest.warns(UserWarning, match="2 of 2 rows were not in the training"):
        np.testing.assert_array_equal(scorer.score_samples(changed), [0.0, 0.0])
    # score: training rows give V, new rows the fold-ensemble density.
    assert scorer.score(df) == pytest.approx(np.mean(scorer.out_log_likelihood_))
    expected = logsumexp(
        [m.score_samples(changed) for m in scorer.estimators_], axis=0
    ) - np.log(len(scorer.estimators_))
    assert scorer.score(changed) == pytest.approx(expected.mean())


def test_row_groups_compare_values_not_objects():
    train = pd.DataFrame({"x": [0.0, -0.0, 1.0, np.nan], "s": ["a", "a", "b", None]})
    query = pd.DataFrame({"x": [-0.0, 1.0, np.nan, 1.0], "s": ["a", "a", None, "b"]})
    train_groups, query_groups = row_groups(train, query)
    assert train_groups[0] == train_groups[1]  # 0.0 == -0.0
    assert query_groups[0] == train_groups[0]
    assert query_groups[1] not in train_groups  # 1.0 with "a" was never seen
    assert query_groups[2] == train_groups[3]  # NaN and None match themselves
    assert query_groups[3] == train_groups[2]
    objects = np.array([[1.5, "a"], [1.5, "b"]], dtype=object)
    groups, again = row_groups(objects, objects[::-1])
    np.testing.assert_array_equal(again, groups[::-1])
    assert groups[0] != groups[1]


def test_sparse_input_where_the_estimator_takes_it():
    rng = np.random.RandomState(0)
    dense = rng.normal(size=(50, 6)) * (rng.uniform(size=(50, 6)) < 0.4)
    dense[:, 0] = rng.normal(size=50)  # no two rows equal
    X = sparse.csr_matrix(dense)
    pipe = make_pipeline(TruncatedSVD(3, random_state=0), GaussianMixture(1))
    scorer = MemorizationScorer(pipe, cv=3, random_state=0).fit(X)
    on_dense = MemorizationScorer(pipe, cv=3, random_state=0).fit(dense)
    np.testing.assert_allclose(
        scorer.memorization_scores_, on_dense.memorization_scores_, rtol=1e-7
    )
    np.testing.assert_array_equal(
        scorer.score_samples(X[::-1]), scorer.memorization_scores_[::-1]
    )


@pytest.mark.parametrize("kind", ["dataframe", "array", "sparse"])
def test_nan_error_names_row_and_column(kind):
    X = np.random.RandomState(0).normal(size=(10, 3))
    X[6, 2] = np.nan
    X[8, 0] = np.inf
    if kind == "dataframe":
        X, column = pd.DataFrame(X, columns=["p", "q", "r"]), "'r'"
    elif kind == "sparse":
        X, column = sparse.csr_matrix(X), "2"
    else:
        column = "2"
    with pytest.raises(ValueError, match=f"NaN at row 6, column {column} \\(2 "):
        check_no_missing(X)
    if kind != "sparse":
        with pytest.raises(ValueError, match=f"row 6, column {column}.*impute"):
            MemorizationScorer(GaussianMixture(1), cv=2).fit(X)


def test_missing_cells_of_a_string_column_are_named():
    df = _table(10)
    df.loc[4, "c"] = None
    with pytest.raises(ValueError, match="NaN at row 4, column 'c'"):
        MemorizationScorer(_mixed_pipeline(), cv=2).fit(df)


def test_nan_goes_through_to_an_estimator_that_takes_it():
    X = np.random.RandomState(0).normal(size=(40, 2))
    X[3, 1] = np.nan
    pipe = make_pipeline(SimpleImputer(), GaussianMixture(1))
    scorer = MemorizationScorer(pipe, cv=4, random_state=0).fit(X)
    assert np.isfinite(scorer.memorization_scores_).all()


def test_cv_error_states_the_int_range_once():
    with pytest.raises(InvalidParameterError) as info:
        MemorizationScorer(cv=1).fit(np.ones((5, 1)))
    assert str(info.value).count("an int in the range [2, inf)") == 1


@pytest.mark.parametrize("bandwidth", [-1.0, 0.0])
def test_kde_engine_checks_parameters_as_fit_does(bandwidth):
    X = np.random.RandomState(0).normal(size=(20, 2))
    for engine in ("auto", "generic"):
        with pytest.raises(InvalidParameterError, match="'bandwidth' parameter"):
            MemorizationScorer(
                KernelDensity(bandwidth=bandwidth), cv=2, engine=engine
            ).fit(X)


def test_kde_engine_takes_a_numeric_dataframe_and_refuses_strings():
    X = np.random.RandomState(0).normal(size=(30, 2))
    df = pd.DataFrame(X, columns=["a", "b"])
    kde = KernelDensity(bandwidth=0.5)
    on_df = MemorizationScorer(kde, cv=3, random_state=0).fit(df)
    assert on_df.engine_ == "kde"
    on_array = MemorizationScorer(kde, cv=3, random_state=0).fit(X)
    np.testing.assert_array_equal(
        on_df.memorization_scores_, on_array.memorization_scores_
    )
    with pytest.raises(ValueError, match="could not convert string to float"):
        MemorizationScorer(kde, cv=3).fit(_table(30))


def test_failed_fit_is_named_across_processes():
    X = np.random.RandomState(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="n_components") as info:
        MemorizationScorer(GaussianMixture(19), cv=4, n_jobs=2).fit(X)
    model_index, n_train = failed_model(info.value)
    assert n_train == 15 and 0 <= model_index < 4


# -- the command line's tables (skmem/_cli/tables.py) ---------------------------


def test_a_first_line_of_numbers_is_data_not_a_header(tmp_path):
    from skmem._cli.tables import load_data

    (tmp_path / "plain.csv").write_text("1,2\n3,4.5\n5,6\n")
    table = load_data(tmp_path / "plain.csv")
    np.testing.assert_array_equal(table.X, [[1, 2], [3, 4.5], [5, 6]])
    assert table.names == ["column 0", "column 1"] and table.categorical == []
    (tmp_path / "named.csv").write_text("a,b,flag\n1,x,True\n2,y,False\n")
    table = load_data(tmp_path / "named.csv")
    assert table.names == ["a", "b", "flag"] and table.categorical == [1]
    assert table.X[:, 2].tolist() == [1.0, 0.0]  # booleans are numbers


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("r.npz", b"\x00" * 64, r"is not a NumPy .npz file \(not a zip archive\)"),
        ("r.npy", b"garbage" * 9, "is not a NumPy .npy file"),
        ("o.npy", None, "holds Python objects, not numbers"),
    ],
)
def test_numpy_files_that_are_not_numbers(tmp_path, name, content, message):
    from skmem._cli.errors import UsageError
    from skmem._cli.tables import load_data

    path = tmp_path / name
    if content is None:
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message) as info:
        load_data(path)
    assert "allow_pickle" not in str(info.value)


def test_missing_cells_dropped_or_kept_for_imputing():
    from skmem._cli.errors import UsageError
    from skmem._cli.tables import Table, handle_missing

    X = np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, np.inf], [4.0, 5.0]])
    table = Table(X, ["a", "b"])
    message = r"NaN at row 1 \(rows counted from 0\), column 'a'.*--missing drop"
    with pytest.raises(UsageError, match=message):
        handle_missing(table, "error")
    dropped, note = handle_missing(table, "drop")
    np.testing.assert_array_equal(dropped.rows, [0, 3])
    np.testing.assert_array_equal(dropped.X, X[[0, 3]])
    assert "2 rows with missing cells left out (rows 1 2, counted from 0" in note
    kept, note = handle_missing(table, "impute")
    assert kept.X.shape == X.shape and np.isnan(kept.X[2, 1])  # inf is missing too
    assert "2 missing cells" in note
    with pytest.raises(UsageError, match="leaves 1 rows"):
        handle_missing(Table(X[:3], ["a", "b"]), "drop")
