"""record_risk: the per-record table, against brute force and known truth."""

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

from skmem import MemorizationScorer, SampledDensity, record_risk
from skmem._mixed import TableEncoder
from tests.test_mixed import Copier, _mixed_table


def _wilson(p, n, z=1.959963984540054):
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def _brute_force(train, synthetic, holdout):
    to_synth, to_hold = cdist(train, synthetic), cdist(train, holdout)
    s_train, s_hold = cdist(synthetic, train), cdist(synthetic, holdout)
    return {
        "distance_to_synthetic": to_synth.min(1),
        "nearest_synthetic": to_synth.argmin(1),
        "distance_to_holdout": to_hold.min(1),
        "n_synthetic_closer": (to_synth < to_hold.min(1)[:, None]).sum(1),
        "closer_to_training": int((s_train.min(1) < s_hold.min(1)).sum()),
    }


def test_numeric_table_against_brute_force_and_chunking():
    rng = np.random.RandomState(0)
    train, holdout = rng.normal(size=(300, 3)), rng.normal(size=(150, 3))
    synthetic = np.vstack(
        [train[:40] + 0.01 * rng.normal(size=(40, 3)), rng.normal(size=(500, 3))]
    )
    table = record_risk(train, synthetic, holdout)
    truth = _brute_force(train, synthetic, holdout)
    for column in ("distance_to_synthetic", "distance_to_holdout"):
        np.testing.assert_allclose(table[column], truth[column], rtol=1e-9)
    for column in ("nearest_synthetic", "n_synthetic_closer"):
        np.testing.assert_array_equal(table[column], truth[column])
    synth = table.attrs["synthetic"]
    np.testing.assert_allclose(
        synth["distance_to_training"], cdist(synthetic, train).min(1), rtol=1e-9
    )
    np.testing.assert_allclose(
        synth["distance_to_holdout"], cdist(synthetic, holdout).min(1), rtol=1e-9
    )
    shares = table.attrs["shares"]
    k = truth["closer_to_training"]
    assert synth["closer_to_training"].sum() == k
    row = shares.loc["synthetic_closer_to_training"]
    assert (row["count"], row["of"]) == (k, 540)
    # Wilson's interval on Kish's effective number of synthetic rows, with the
    # rows that share a nearest record weighted together, less the split's
    # finite population (450 records).
    nearest = cdist(synthetic, np.vstack([train, holdout])).argmin(1)
    weight = np.bincount(nearest, minlength=450)
    n_effective = min(540, 1 / ((weight**2).sum() / 540**2 - 1 / 450))
    assert n_effective < 500  # 540 rows on 450 records: they share
    np.testing.assert_allclose(
        [row["low"], row["high"]], _wilson(k / 540, n_effective), rtol=1e-9
    )
    np.testing.assert_array_equal(synth["nearest_record"], nearest)
    k_records = int((truth["n_synthetic_closer"] > 0).sum())
    assert shares.loc["records_with_a_closer_synthetic_row", "count"] == k_records
    # Tiles of any size, and threads, give the same table.
    small = record_risk(train, synthetic, holdout, working_memory=0.01, n_jobs=2)
    pd.testing.assert_frame_equal(small, table)
    # The planted copies are the records with a closer synthetic row.
    assert table["closer_than_holdout"][:40].all()


def test_a_fresh_synthesizer_sits_at_the_null_share():
    rng = np.random.RandomState(1)
    train, holdout = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2))
    fresh = rng.normal(size=(2000, 2))
    row = (
        record_risk(train, fresh, holdout)
        .attrs["shares"]
        .loc["synthetic_closer_to_training"]
    )
    assert row["low"] <= 0.5 <= row["high"]
    # With half as many held-out records the chance share is 2/3.
    table = record_risk(train, fresh, holdout[:1000])
    row = table.attrs["shares"].loc["synthetic_closer_to_training"]
    assert table.attrs["null_share_closer_to_training"] == pytest.approx(2 / 3)
    assert row["low"] <= 2 / 3 <= row["high"]
    copies = train[rng.randint(2000, size=2000)] + 1e-3 * rng.normal(size=(2000, 2))
    row = (
        record_risk(train, copies, holdout)
        .attrs["shares"]
        .loc["synthetic_closer_to_training"]
    )
    assert row["low"] > 0.9


@pytest.mark.parametrize("n_synthetic", [150, 2000])
def test_the_closer_share_interval_covers_the_null(n_synthetic):
    # A synthesizer independent of the records, fewer or many more synthetic
    # rows than records: the 95 % interval covers the chance share 3/5 in 95 %
    # of the runs. Wilson's interval over the rows, as if they were
    # independent, covers it in 80 % of these runs at 2,000 rows (92 % at 150).
    covered = []
    for seed in range(200):
        rng = np.random.RandomState(seed)
        train, holdout = rng.normal(size=(300, 2)), rng.normal(size=(200, 2))
        synthetic = rng.normal(size=(n_synthetic, 2))
        table = record_risk(train, synthetic, holdout)
        row = table.attrs["shares"].loc["synthetic_closer_to_training"]
        covered.append(row["low"] <= 0.6 <= row["high"])
    assert 0.91 <= np.mean(covered) <= 0.985


def test_mixed_table_with_a_scorer():
    X = _mixed_table(150, seed=2)
    holdout = _mixed_table(150, seed=3)
    scorer = MemorizationScorer(
        SampledDensity(Copier(), n_samples=500), cv=3, n_repeats=3, random_state=0
    ).fit(X)
    synthetic = Copier().fit(X).sample(300, random_state=1)
    table = record_risk(X, synthetic, holdout, scorer=scorer)
    np.testing.assert_array_equal(table["memorization"], scorer.memorization_scores_)
    np.testing.assert_array_equal(table["ci_low"], scorer.memorization_ci_[:, 0])
    np.testing.assert_array_equal(table["p_value"], scorer.memorization_pvalues_)
    np.testing.assert_array_equal(table["memorized"], scorer.memorized())
    assert "records_memorized" in table.attrs["shares"].index
    # Distances on the encoding fitted on the training records.
    encoder = TableEncoder().fit(X)
    truth = _brute_force(
        encoder.distance_features(X),
        encoder.distance_features(synthetic),
        encoder.distance_features(holdout),
    )
    np.testing.assert_allclose(
        table["distance_to_synthetic"], truth["distance_to_synthetic"], atol=1e-6
    )
    np.testing.assert_array_equal(
        table["n_synthetic_closer"], truth["n_synthetic_closer"]
    )
    with pytest.raises(ValueError, match="fitted on 150 records and X_train has 100"):
        record_risk(X.iloc[:100], synthetic, holdout, scorer=scorer)
    one_repeat = MemorizationScorer(
        SampledDensity(Copier(), n_samples=200), cv=3, random_state=0
    ).fit(X)
    with pytest.raises(ValueError, match="n_repeats >= 3"):
        record_risk(X, synthetic, holdout, scorer=one_repeat)
