"""What the report says in words: the unit, whole-set memorization, flags
beside a noisy ranking, and the nearest-neighbour ratio."""

import numpy as np
import pytest
from sklearn.neighbors import KernelDensity

from skmem import MemorizationScorer
from skmem._report import (
    FLAGS_AND_NOISE,
    format_summary,
    memorizes_everything,
    per_sample_columns,
    significance_lines,
    summary,
    summary_rows,
    takeaway,
)


@pytest.fixture(scope="module")
def kde_runs():
    """The same 150 rows under a KDE of tiny bandwidth and one of a fair one."""
    X = np.random.RandomState(0).normal(size=(150, 2))
    fit = {
        bandwidth: MemorizationScorer(
            KernelDensity(bandwidth=bandwidth), cv=5, n_repeats=3, random_state=0
        ).fit(X)
        for bandwidth in (0.02, 0.5)
    }
    return X, fit


def test_the_unit_is_explained_where_M_first_appears(kde_runs):
    X, fit = kde_runs
    scorer = fit[0.5]
    rows = summary_rows({"kde": {"scorer": scorer, "X": X}})
    first = takeaway(rows, len(X))[0]
    assert "in nats (natural-log units" in first and "e = 2.7 times" in first
    facts = summary(scorer)
    first = format_summary("kde", scorer, facts, per_sample_columns(scorer))[0]
    assert all(len(line) <= 100 for line in first.splitlines())  # a terminal's
    words = " ".join(first.split())
    assert "in nats, natural-log units" in words and "e = 2.7 times" in words


def test_a_kde_of_tiny_bandwidth_is_said_to_memorize_every_record(kde_runs):
    X, fit = kde_runs
    tiny, fair = fit[0.02], fit[0.5]
    facts = summary(tiny)
    # The premise, measured: the audit is almost perfect, the median M large.
    assert facts["audit"]["auc"] >= 0.99 and facts["quantiles"]["q0.5"] >= 1.0
    text = " ".join(significance_lines(facts))
    assert "record is memorized, not just a few" in text and "bandwidth" in text
    rows = summary_rows(
        {"tiny": {"scorer": tiny, "X": X}, "fair": {"scorer": fair, "X": X}}
    )
    sentences = takeaway(rows, len(X))
    said = [s for s in sentences if "record is memorized, not just a few" in s]
    assert len(said) == 1 and said[0].startswith("tiny: every record")
    # A fair bandwidth memorizes a few records, and is not said to memorize all.
    facts = summary(fair)
    assert not memorizes_everything(facts["audit"]["auc"], facts["quantiles"]["q0.5"])
    assert "not just a few" not in " ".join(significance_lines(facts))


@pytest.mark.parametrize(
    "auc, median, expected",
    [(0.99, 1.0, True), (1.0, 45.0, True), (0.98, 45.0, False), (1.0, 0.9, False)],
)
def test_memorizes_everything_thresholds(auc, median, expected):
    assert memorizes_everything(auc, median) is expected
    assert memorizes_everything(None, median) is False


def test_many_flags_beside_a_noisy_ranking_are_explained():
    facts = {"n_samples": 500, "n_repeats": 3, "alpha": 0.05}
    noisy = significance_lines(
        {**facts, "reliability": 0.3, "memorized": list(range(22))}
    )
    assert "mostly noise" in noisy[0] and "22 of 500" in noisy[1]
    assert " ".join(noisy).count("are not at odds") == 1
    for other in ({"reliability": 0.9, "memorized": [1, 2]}, {"reliability": 0.3}):
        lines = significance_lines({**facts, "memorized": [], **other})
        assert "are not at odds" not in " ".join(lines)
    row = {"model": "kde", "reliability": 0.3, "memorized (FDR 5%)": 22}
    assert FLAGS_AND_NOISE in takeaway([row], 500)[1]
    assert FLAGS_AND_NOISE not in takeaway([{**row, "reliability": 0.9}], 500)[1]


def test_the_nn_distance_ratio_is_defined_in_the_caption(kde_runs, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from skmem._cli.figures import ReportRun, scores_figure

    X, fit = kde_runs
    ratio = np.random.RandomState(1).uniform(0.5, 2.0, len(X))
    filename, caption = scores_figure(
        ReportRun("kde", fit[0.5], X, nn_ratio=ratio), tmp_path
    )
    assert (tmp_path / filename).exists()
    assert "distance to the nearest validation sample" in caption
    assert "divided by its distance to the nearest" in caption
    assert "(validation / generated)" in caption and "Above 1" in caption


@pytest.mark.parametrize("model", ["Copier", "Marginals"])
def test_per_record_risk_in_the_report_of_a_table_with_text(model, tmp_path):
    # A copier and an honest column sampler on a table with text columns: the
    # report's records table is the top of scores.csv with its distances, the
    # models' closer-to-training shares are near 1 for the copier, near
    # chance for the sampler, and
    # the copying lines show the records' text values.
    import html
    import re

    from skmem import SampledDensity
    from skmem._cli.records import record_columns
    from skmem._report import (
        closer_share_table,
        copies_lines,
        records_table,
        write_report,
    )
    from tests import test_mixed

    df = test_mixed._mixed_table(300, seed=4)
    generator = getattr(test_mixed, model)(random_state=0)
    scorer = MemorizationScorer(
        SampledDensity(generator, n_samples=1000), cv=3, n_repeats=3, random_state=0
    ).fit(df)
    columns = per_sample_columns(scorer)
    risk, copies = record_columns(scorer)
    columns.update(risk)
    heading, text, header, rows = records_table(columns, top=12)
    assert header == [
        "record", "score", "ci_low", "ci_high", "pvalue", "memorized",
        "distance_to_synthetic", "distance_to_holdout", "n_synthetic_closer",
    ]  # fmt: skip
    order = np.argsort(-scorer.memorization_scores_, kind="stable")[:12]
    assert [row[0] for row in rows] == order.tolist()
    np.testing.assert_array_equal(
        [row[6] for row in rows], copies.distance_to_generated[order]
    )
    shares = closer_share_table(copies)
    values = np.array([row[1] for row in shares[3]])
    assert len(values) == 9
    np.testing.assert_allclose(copies.closer_to_training_chance, 2 / 3, atol=0.01)
    page = write_report(
        tmp_path,
        [{"model": model}],
        [],
        title="t",
        tables=[records_table(columns), shares],
    ).read_text()
    page = html.unescape(page)
    cells = re.findall(r"<tr><td>(\d+)</td>", page[page.index("<h2>Records</h2>") :])
    assert [int(c) for c in cells[:12]] == order.tolist()
    above = int(re.search(r"(\d+) of 9 models lie above it", page).group(1))
    # The text columns' values are in the copying lines.
    line = next(line for line in copies_lines(scorer) if "record [" in line)
    assert re.search(r"record \[[-0-9.e]+, [-0-9.e]+, [a-e], (True|False)", line)
    if model == "Copier":
        assert values.min() > 0.95 and above == 9
    else:
        # Trained on the rows, its columns' kernels lean a little towards
        # them (0.61 to 0.73 here, 3 of 9 models above chance), far from a copy.
        assert abs(values.mean() - 2 / 3) < 0.05 and values.max() < 0.8
