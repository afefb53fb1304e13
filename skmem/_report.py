"""What a memorization run reports: the per-sample table, the summary, the page.

One function builds each piece, so that a new column or field is added in one
place: :func:`per_sample_columns` (``scores.csv`` and the top samples),
:func:`summary` (terminal, report and ``scores.json``), :func:`summary_rows` (the
model table).
"""

import base64
import html
import json
from pathlib import Path

import numpy as np

from ._pixels import bits_per_dim
from .baselines import compare_scores

QUANTILES = (0.0, 0.5, 0.9, 0.99, 1.0)
# The paper's figure of memorization over training.
CURVE_QUANTILES = (0.5, 0.95, 0.99)

# What a nat of M means, for a newcomer: the unit is said where M first appears.
NATS = (
    "nats, natural-log units: M = 1 means the models that saw a sample give it "
    "e = 2.7 times the density the models that held it out give it, M = 2.3 ten "
    "times, M = 4.6 a hundred times"
)

EXPLANATION = (
    "Memorization score M (nats) of each training sample: its log-likelihood under "
    "the models trained on it (U) minus under the models that held it out (V), "
    f"in {NATS}, "
    "from cross-validation (van den Burg & Williams, NeurIPS 2021). M near 0: the "
    "model does not care whether it saw the sample. Large M: the model fits the "
    "sample only when it has seen it, i.e. it memorized it; these are often "
    "atypical or unique records. Duplicated rows score low, since each copy "
    "covers for the other. With one repeat the scores of single samples are "
    "noisy: read the tail of the distribution, or use --repeats (3 or more) for "
    "error bars, the reliability of the ranking and significance."
)

SIGNIFICANCE = (
    "Memorized at FDR {alpha:g}: samples whose gap between in-model and "
    "out-model log-likelihood (the mean over repeats of each repeat's mean "
    "in-model minus out-model log-likelihood) exceeds that of the bulk of the "
    "samples by more than their own uncertainty allows, with Benjamini-"
    "Hochberg's false-discovery rate {alpha:g} (about that fraction of them are "
    "false discoveries). A shift shared by all samples (overfitting) is not "
    "memorization. The 95 % interval of M (ci_low, ci_high) uses M's jackknife "
    "standard error (score_std) moderated across samples. Reliability: the "
    "split-half rank correlation of M between two halves of the repeats, "
    "corrected to all of them; near 1 the ranking is signal, near 0 noise."
)

# Both flags and a noisy ranking: how they go together.
FLAGS_AND_NOISE = (
    "Many flags and a ranking that is mostly noise are not at odds: a record is "
    "flagged when its M stands above the bulk by more than its own spread across "
    "repeats allows, which records far out can do however the others fall, "
    "while the reliability asks whether a rerun would put all the records in the "
    "same order, and most records, close to the bulk, trade places from one "
    "rerun to the next. Trust the flagged records; do not read the order of the "
    "others."
)

# A model whose every record is memorized: the audit almost perfect, and the
# median record far above the diagonal.
ALL_MEMORIZED_AUC = 0.99
ALL_MEMORIZED_MEDIAN = 1.0  # nats: the typical record e times likelier once seen


def memorizes_everything(auc, median):
    """Whether a model memorizes every record rather than a few: audit AUC of
    at least 0.99 and a median M of at least 1 nat."""
    return (
        auc is not None
        and median is not None
        and auc >= ALL_MEMORIZED_AUC
        and median >= ALL_MEMORIZED_MEDIAN
    )


def _times(nats):
    """``e ** nats`` in words: "2.7", "3.5e+19", "e^900"."""
    return f"{np.exp(nats):.2g}" if nats < 700 else f"e^{nats:.0f}"


def everything_memorized_sentence(auc, median, name=None):
    """What an audit AUC near 1 with a large median M means, in plain words."""
    who = f"{name}: every" if name else "Every"
    return (
        f"{who} record is memorized, not just a few: the audit tells training "
        f"records from held-out ones almost perfectly (AUC {auc:.3f}) and the "
        f"median record scores {median:.3g} nats, so the models that saw a record "
        f"give it about {_times(median)} times the density of those that did not. "
        "The model fits each record by itself rather than the distribution: for a "
        "KDE, a bandwidth smaller than the spacing of the records (try a larger "
        "one, e.g. --param bandwidth=..., chosen by held-out log-likelihood); for "
        "a mixture or a VAE, too many components or too long training. The flags "
        "single out records beyond this bulk, so a record not flagged is "
        "memorized too."
    )


MEANINGS = {
    "+inf": "the models that held these samples out give them zero density (a "
    "compact kernel such as tophat, or too small a bandwidth): they are "
    "explained only by having seen them. Use a smoother kernel or a larger "
    "bandwidth to rank them",
    "-inf": "the models trained on these samples give them zero density, the "
    "held-out ones do not",
    "NaN": "no estimate: no model held these samples out or none trained on "
    "them, or every model gives them zero density",
}


def _flags(scorer, alpha):
    """``scorer.memorized(alpha)``, or None without p-values (fewer than 3 repeats)."""
    pvalues = getattr(scorer, "memorization_pvalues_", None)
    if pvalues is None or not np.isfinite(pvalues).any():
        return None
    return scorer.memorized(alpha=alpha)


def per_sample_columns(scorer, alpha=0.05, index=None):
    """The per-sample table: ``{column name: (values, printf format)}``, in order.

    ``scores.csv`` is written from it and the top samples are shown from it;
    add a column here and it appears in both. With 3 or more repeats it has
    the 95 % interval, the p-value and the flag at false-discovery rate
    ``alpha``. ``index``: each row's number in the user's file (default: its
    position).
    """
    M = scorer.memorization_scores_
    columns = {
        "index": (np.arange(len(M)) if index is None else np.asarray(index), "%d"),
        "score": (M, "%.10g"),
        "in_log_likelihood": (scorer.in_log_likelihood_, "%.10g"),
        "out_log_likelihood": (scorer.out_log_likelihood_, "%.10g"),
    }
    std = getattr(scorer, "memorization_std_", None)
    if std is not None and not np.isnan(std).all():
        columns["score_std"] = (std, "%.10g")
    flags = _flags(scorer, alpha)
    if flags is not None:
        low, high = scorer.memorization_ci_.T
        columns["ci_low"] = (low, "%.10g")
        columns["ci_high"] = (high, "%.10g")
        columns["pvalue"] = (scorer.memorization_pvalues_, "%.6g")
        columns["memorized"] = (flags.astype(int), "%d")
    return columns


def write_scores_csv(path, columns):
    """``columns`` (see :func:`per_sample_columns`) as a plain CSV with a header."""
    names = list(columns)
    values = np.column_stack([columns[c][0] for c in names])
    np.savetxt(
        path,
        values,
        delimiter=",",
        header=",".join(names),
        comments="",
        fmt=[columns[c][1] for c in names],
    )


def summary(scorer, *, top=10, alpha=0.05, index=None):
    """Quantiles, the top samples, the counts of non-finite scores, the
    reliability and the samples memorized at FDR ``alpha``, as a dict.

    Samples are named by ``index`` (each row's number in the user's file),
    by position when it is None.
    """
    M = scorer.memorization_scores_
    label = np.arange(len(M)) if index is None else np.asarray(index)
    finite = M[np.isfinite(M)]
    # Most memorized first (+inf before finite scores, -inf and NaN last).
    order = np.argsort(np.where(np.isnan(M), np.inf, -M), kind="stable")
    counts = {
        "+inf": int(np.sum(M == np.inf)),
        "-inf": int(np.sum(M == -np.inf)),
        "NaN": int(np.isnan(M).sum()),
    }
    flags = _flags(scorer, alpha)
    reliability = getattr(scorer, "reliability_", np.nan)
    return {
        "n_samples": len(M),
        "n_repeats": getattr(scorer, "n_repeats_", None),
        "reliability": None if np.isnan(reliability) else float(reliability),
        "alpha": alpha,
        # None: not tested (fewer than 3 repeats, or no finite p-value); else
        # the flagged samples, most memorized first.
        "memorized": None
        if flags is None
        else [int(label[i]) for i in order if flags[i]],
        "quantiles": {
            f"q{q:g}": float(np.quantile(finite, q)) if finite.size else None
            for q in QUANTILES
        },
        "top": [int(label[i]) for i in order[:top]],
        "non_finite": {k: v for k, v in counts.items() if v},
        "audit": audit_summary(scorer),
        **curve_summary(scorer),
    }


def audit_summary(scorer):
    """The membership audit's AUC, TPR at FPR 1 %, epsilon lower bound and
    precision at priors (FPR 1 %); None without 2 repeats of KFold."""
    try:
        audit = scorer.membership_audit()
    except ValueError:  # fewer than 2 repeats, or no log-likelihood matrix
        return None
    return {
        "auc": audit.auc,
        "tpr_at_fpr_1%": audit.tpr_at_fpr[0.01],
        "epsilon_lower_bound": audit.epsilon_lower_bound,
        "delta": audit.epsilon_audit.delta,
        "precision_at_fpr_1%": {
            f"prior {p:g}": v[0.01] for p, v in audit.precision_at_prior.items()
        },
    }


def curve_summary(scorer):
    """``{"curve": ...}``: quantiles of M per checkpoint; {} without checkpoints."""
    curve = getattr(scorer, "memorization_curve_", None)
    if curve is None:
        return {}
    quantiles = {
        f"q{q:g}": [float(v) for v in np.nanquantile(curve, q, axis=1)]
        for q in CURVE_QUANTILES
    }
    return {
        "curve": {
            "epochs": [int(c) for c in scorer.checkpoints_],
            **quantiles,
            "best_held_out_epoch": scorer.best_checkpoint_,
        }
    }


def curve_lines(curve):
    """The memorization curve of :func:`curve_summary` as terminal lines."""
    names = [k for k in curve if k.startswith("q")]
    lines = [f"  M over training ({' / '.join(names)} quantiles, nats):"]
    for j, epoch in enumerate(curve["epochs"]):
        values = " / ".join(_format(curve[k][j]) for k in names)
        best = (
            "  <- best held-out log-likelihood"
            if (epoch == curve["best_held_out_epoch"])
            else ""
        )
        lines.append(f"    epoch {epoch}: {values}{best}")
    return lines


def format_summary(name, scorer, facts, columns):
    """The summary as lines for the terminal."""
    n = facts["n_samples"]
    quantiles = "  ".join(
        f"{k}={_format(v)}" for k, v in facts["quantiles"].items() if v is not None
    )
    lines = [
        *_wrap(
            [
                f"{name}: memorization score M of {n} samples (higher = more "
                f"memorized), in {NATS}"
            ]
        ),
        f"  quantiles of the finite scores: {quantiles}",
        f"  top {len(facts['top'])} samples:",
    ]
    # The log-likelihoods are in scores.csv; the terminal keeps to 100 columns.
    shown = [c for c in columns if c not in ("index", *_LOG_LIKELIHOODS)]
    table = [["index", *shown]]
    position = {int(v): p for p, v in enumerate(columns["index"][0])}
    for i in facts["top"]:
        p = position[i]
        table.append([str(i)] + [_format(float(columns[c][0][p])) for c in shown])
    widths = [max(len(row[j]) for row in table) for j in range(len(table[0]))]
    lines += [
        "    " + "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True))
        for row in table
    ]
    for kind, count in facts["non_finite"].items():
        lines.append(f"  {count} of {n} scores are {kind}: {MEANINGS[kind]}.")
    if "curve" in facts:
        lines += curve_lines(facts["curve"])
    lines += significance_lines(facts)
    return lines


_LOG_LIKELIHOODS = ("in_log_likelihood", "out_log_likelihood")


def _wrap(lines, width=100):
    """Each line wrapped to ``width`` characters, continued with a deeper indent."""
    import textwrap

    return [
        textwrap.fill(line, width, subsequent_indent="    ", break_on_hyphens=False)
        for line in lines
    ]


def significance_lines(facts):
    """What the repeats say: the reliability and the samples memorized.

    Each line is wrapped to 100 columns (a long one holds newlines).
    """
    return _wrap(_significance_lines(facts))


def _significance_lines(facts):
    rate = f"FDR {100 * facts['alpha']:g} %"
    repeats = facts["n_repeats"]
    if facts["reliability"] is None:
        return [
            "  reliability and significance need repeats: run with --repeats 3 "
            "(or more) to learn which samples are memorized beyond chance."
        ]
    reliability = facts["reliability"]
    verdict = (
        "the ranking is mostly noise: read only the significant samples"
        if reliability < 0.5
        else "the ranking is partly noise"
        if reliability < 0.8
        else "the ranking is reliable"
    )
    lines = [
        f"  ranking reliability {reliability:.2f} from {repeats} repeats: {verdict}."
    ]
    flagged = facts["memorized"]
    if flagged is None and repeats is not None and repeats >= 3:
        lines.append(
            "  no p-values: the scores' standard errors are zero or undefined (the "
            "scores do not vary between repeats), so significance cannot be tested."
        )
    elif flagged is None:
        lines.append("  significance needs 3 repeats or more (--repeats 3).")
    elif not flagged:
        lines.append(
            f"  no sample is memorized beyond chance at {rate} "
            f"(of {facts['n_samples']})."
        )
    else:
        shown = " ".join(str(i) for i in flagged[:20])
        more = f" and {len(flagged) - 20} more" if len(flagged) > 20 else ""
        lines.append(
            f"  {len(flagged)} of {facts['n_samples']} samples memorized beyond "
            f"chance at {rate}: {shown}{more}."
            if len(flagged) > 1
            else f"  1 of {facts['n_samples']} samples is memorized beyond chance "
            f"at {rate}: {shown}."
        )
    if flagged and facts["reliability"] < 0.5:
        lines.append("  " + FLAGS_AND_NOISE)
    audit = facts.get("audit")
    if audit:
        precision = ", ".join(
            f"{k} {v:.2f}" for k, v in audit["precision_at_fpr_1%"].items()
        )
        lines.append(
            f"  membership audit: AUC {audit['auc']:.3f}, TPR "
            f"{audit['tpr_at_fpr_1%']:.3f} at FPR 1 %; epsilon >= "
            f"{audit['epsilon_lower_bound']:.2f} (95 % lower bound, delta "
            f"{audit['delta']:g}); precision at FPR 1 %: {precision}."
        )
        median = facts.get("quantiles", {}).get("q0.5")
        if memorizes_everything(audit["auc"], median):
            lines.append("  " + everything_memorized_sentence(audit["auc"], median))
    return lines


def summary_rows(results, nn_ratio=None, alpha=0.05, discrete=False):
    """One row per model: held-out log-likelihood, quantiles of M, top 10, agreement.

    ``results`` maps a model name to ``{"scorer": fitted MemorizationScorer,
    "X": data}`` (and optionally ``"index"``, each row's number in the user's
    file); ``nn_ratio`` maps a model name to a per-sample
    nearest-neighbour ratio (NaN where there is none). Agreement columns
    (Spearman rho between models) appear only when there is another model.
    ``discrete``: the log-likelihoods are log-probabilities of discrete values
    (pixel levels), so the held-out one is also given in bits per dimension.
    """
    rows = []
    names = list(results)
    for name in names:
        scorer = results[name]["scorer"]
        M = scorer.memorization_scores_
        facts = summary(scorer, alpha=alpha, index=results[name].get("index"))
        held_out = scorer.score(results[name]["X"])
        row = {"model": name, "held-out log-lik.": held_out}
        if discrete:
            row["bits/dim"] = bits_per_dim(held_out, scorer.n_features_in_)
        row |= {
            "median M": facts["quantiles"]["q0.5"],
            "q99 M": facts["quantiles"]["q0.99"],
            "non-finite M": sum(facts["non_finite"].values()),
            "reliability": facts["reliability"],
            f"memorized (FDR {100 * alpha:g}%)": None
            if facts["memorized"] is None
            else len(facts["memorized"]),
            "top 10": facts["top"],
        }
        if facts["audit"]:
            row["audit AUC"] = facts["audit"]["auc"]
            row["epsilon >= (audit)"] = facts["audit"]["epsilon_lower_bound"]
        for other in names if len(names) > 1 else ():
            if other == name:
                row[f"rho vs {other}"] = "-"
            else:
                agreement = compare_scores(
                    M, results[other]["scorer"].memorization_scores_
                )
                row[f"rho vs {other}"] = float(agreement.spearman)
        if nn_ratio and name in nn_ratio:
            ratio = nn_ratio[name]
            keep = np.isfinite(ratio) & np.isfinite(M)
            row["rho vs NN test"] = float(compare_scores(M[keep], ratio[keep]).spearman)
        rows.append(row)
    return rows


def _format(value):
    if value is None:
        return ""
    if isinstance(value, float):
        if not np.isfinite(value):
            return str(value)
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.3e}"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def format_table(rows, width=100):
    """The rows as plain text for a terminal ``width`` characters wide.

    One line per quantity, one column per model (``rows`` holds one dict per
    model, its name under ``"model"``), so that many columns of figures stay
    readable; models beyond the width go on to a further block. Lists (the
    top samples) are left out here: ``scores.json`` and the report have them.
    """
    names = [_format(row["model"]) for row in rows]
    keys = [
        k
        for k in dict.fromkeys(key for row in rows for key in row)
        if k != "model" and not any(isinstance(row.get(k), list) for row in rows)
    ]
    cells = [[_format(row.get(k, "")) for row in rows] for k in keys]
    label = max([len(k) for k in keys] + [0])
    widths = [
        max(len(name), *(len(line[j]) for line in cells))
        for j, name in enumerate(names)
    ]
    blocks, block, used = [], [], label
    for j, w in enumerate(widths):
        if block and used + 2 + w > width:
            blocks.append(block)
            block, used = [], label
        block.append(j)
        used += 2 + w
    blocks.append(block)
    lines = []
    for block in blocks:
        if lines:
            lines.append("")
        lines.append(
            "model".ljust(label)
            + "".join("  " + names[j].rjust(widths[j]) for j in block)
        )
        for k, line in zip(keys, cells, strict=True):
            lines.append(
                k.ljust(label) + "".join("  " + line[j].rjust(widths[j]) for j in block)
            )
    return "\n".join(line.rstrip() for line in lines)


def write_settings(path, settings, summaries):
    """The run's settings and each model's summary as JSON (``scores.json``)."""
    Path(path).write_text(
        json.dumps({"settings": settings, "summary": summaries}, indent=2) + "\n"
    )


def _html_table(header, rows):
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_format(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.4; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
td { overflow-wrap: anywhere; }
th { background: #f0f0f0; }
table.settings td { text-align: left; max-width: 60em; }
pre { overflow-x: auto; white-space: pre; background: #f8f8f8; padding: 0.5em; }
p.takeaway { font-size: 1.1em; }
figure { margin: 1.5em 0; } img { max-width: 100%; height: auto; }
figcaption { font-size: 0.95em; color: #444; }
"""


def write_report(
    out,
    rows,
    figures,
    *,
    title,
    takeaway=(),
    notes=(),
    settings=None,
    details=(),
    tables=(),
):
    """``index.html`` under ``out``, with the figures' PNG files embedded.

    ``figures``: ``(filename, caption)`` pairs of PNG files already in ``out``
    (see :mod:`skmem._cli.figures`). ``takeaway``: plain sentences shown first;
    ``notes``: paragraphs of method, shown after the results; ``settings`` a
    dict shown as a table; ``details`` lines shown after the model table;
    ``tables``: ``(heading, paragraph, header, rows)`` shown after them (see
    :func:`records_table`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = _html_table(columns, [[row.get(c, "") for c in columns] for row in rows])
    takeaway_html = "".join(
        f'<p class="takeaway">{html.escape(t)}</p>' for t in takeaway
    )
    method_html = ""
    if notes:
        method_html = "<h2>Method</h2>" + "".join(
            f"<p>{html.escape(n)}</p>" for n in notes
        )
    settings_html = ""
    if settings:
        settings_html = (
            '<h2>Settings</h2><div class="scroll">'
            + _html_table(["setting", "value"], list(settings.items())).replace(
                "<table>", '<table class="settings">', 1
            )
            + "</div>"
        )
    details_html = ""
    if details:
        details_html = "<pre>" + html.escape("\n".join(details)) + "</pre>"
    tables_html = "".join(
        f"<h2>{html.escape(heading)}</h2><p>{html.escape(text)}</p>"
        f'<div class="scroll">{_html_table(header, body)}</div>'
        for heading, text, header, body in tables
    )
    figures_html = ""
    for filename, caption in figures:
        data = base64.b64encode((out / filename).read_bytes()).decode("ascii")
        figures_html += (
            f'<figure><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}'
            "</figcaption></figure>"
        )
    if figures_html:
        figures_html = "<h2>Figures</h2>" + figures_html
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
{takeaway_html}
<h2>Models</h2>
<div class="scroll">{table}</div>
{details_html}
{tables_html}
{figures_html}
{method_html}
{settings_html}
</body></html>
"""
    (out / "index.html").write_text(page)
    return out / "index.html"


# The per-record columns of scores.csv that the report's table shows.
RECORD_COLUMNS = (
    "index",
    "score",
    "ci_low",
    "ci_high",
    "pvalue",
    "memorized",
    "distance_to_synthetic",
    "distance_to_holdout",
    "n_synthetic_closer",
)


def records_table(columns, *, top=20):
    """The report's per-record risk table: ``(heading, paragraph, header,
    rows)`` for the ``top`` records by memorization score (NaN last), from
    the columns of ``scores.csv`` (:func:`per_sample_columns` and the distance
    columns of sampled generators), which hold every record."""
    names = [c for c in RECORD_COLUMNS if c in columns]
    M = np.asarray(columns["score"][0], dtype=float)
    order = np.argsort(np.where(np.isnan(M), np.inf, -M), kind="stable")[:top]
    rows = [[columns[c][0][i] for c in names] for i in order]
    header = ["record" if c == "index" else c for c in names]
    text = (
        f"The {len(rows)} records with the highest memorization score "
        f"(of {len(M)}); scores.csv has every record. "
    )
    if "distance_to_synthetic" in columns:
        text += (
            "distance_to_synthetic and distance_to_holdout: to the closest "
            "sample of a model trained on the record and to the closest of "
            "that model's held-out rows; n_synthetic_closer: the samples "
            "closer than that held-out row (each a mean over the models that "
            "trained on the record). A record with samples closer than any "
            "fresh record is a candidate copy."
        )
    return "Records", text, header, rows


def closer_share_table(copies):
    """The report's table of each fold model's share of samples closer to its
    training rows than to its held-out rows, from
    :meth:`~skmem.MemorizationScorer.data_copying`."""
    share = copies.closer_to_training
    ci, chance = copies.closer_to_training_ci, copies.closer_to_training_chance
    above = int(np.sum(ci[:, 0] > chance))
    text = (
        "Each fold model's samples: the share closer to its training rows than "
        "to its held-out rows, with its 95 % interval (samples that share a "
        "nearest record counted together), beside the share a model that "
        f"never saw the rows gets. {above} of {len(share)} models lie above "
        "it; a copier's share is near 1."
    )
    rows = [
        [k, float(share[k]), f"{ci[k, 0]:.3f} to {ci[k, 1]:.3f}", float(chance[k])]
        for k in range(len(share))
    ]
    header = ["model", "closer to training", "95 % interval", "chance"]
    return "Samples closer to training", text, header, rows


def _short(row, width=4):
    values = ", ".join(_cell(v) for v in row[:width])
    return f"[{values}{', ...' if len(row) > width else ''}]"


def _cell(value):
    """A record's value as the copying lines show it: 3 digits for numbers."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.number)
    ):
        return str(value)
    return f"{value:.3g}"


def copies_lines(scorer, *, top=5, n_generated=1000, index=None):
    """Report lines: the data-copying test per fold model, and the most
    memorized records beside the closest sample of a model trained on them.

    Empty when the scorer's models cannot sample (a pipeline, a density
    without ``sample``). ``index``: the records' numbers in the user's file.
    """
    if not hasattr(scorer._base_estimator(), "sample"):
        return []
    try:
        copies = scorer.data_copying(n_generated=n_generated)
    except ValueError as exc:
        return ["", f"Data-copying test not run: {str(exc).splitlines()[0]}"]
    M = scorer.memorization_scores_
    order = np.argsort(np.where(np.isnan(M), np.inf, -M), kind="stable")[:top]
    X = np.asarray(scorer._fit_X, dtype=object)
    stats = ", ".join(f"{s:.1f}" for s in copies.statistics)
    lines = [
        "",
        f"Data copying (Meehan et al. 2020): C_T = {copies.statistic:.2f}, the mean "
        f"over the fold models ({stats}); below about -3 a model's samples sit "
        "closer to its training rows than its held-out rows do.",
        f"Most memorized records beside the closest of the {n_generated} samples "
        "of each model trained on them (closer: samples nearer than the "
        "record's nearest held-out row, mean over its models):",
    ]
    rows = np.arange(len(M)) if index is None else np.asarray(index)
    for i in order:
        lines.append(
            f"  {rows[i]:>6}  M {M[i]:8.3g}  record {_short(X[i])}  closest "
            f"{_short(copies.closest_generated[i])}  distance "
            f"{copies.closest_distance[i]:.3g}  closer {copies.n_closer[i]:.3g}"
        )
    return lines


def takeaway(rows, n_samples, *, alpha=0.05, nn=False):
    """Plain sentences a newcomer should read first, from the model rows: what M
    is (in nats), what the flags and the reliability say, whether a model
    memorizes every record, and where to look."""
    names = [row["model"] for row in rows]
    key = f"memorized (FDR {100 * alpha:g}%)"
    counts = [row.get(key) for row in rows]
    first = (
        f"Every one of the {n_samples} training samples has a memorization score M "
        "in nats (natural-log units of likelihood): how much more likely a model "
        "finds the sample when trained on it than when not, M = 1 meaning e = 2.7 "
        "times as likely and M = 2.3 ten times (0: not memorized; higher: more)."
    )
    if all(c is None for c in counts):
        second = (
            "With one repeat of the folds the scores are noisy: rerun with "
            "--repeats 3 or more to learn which samples are memorized beyond chance."
        )
    else:
        found = ", ".join(
            f"{name} {'-' if c is None else c}"
            for name, c in zip(names, counts, strict=True)
        )
        reliability = ", ".join(
            f"{row['model']} "
            + ("-" if row["reliability"] is None else f"{row['reliability']:.2f}")
            for row in rows
        )
        second = (
            f"Samples memorized beyond chance (false-discovery rate {alpha:g}): "
            f"{found}; the ranking's reliability (1: a rerun ranks the samples the "
            f"same; below 0.5: mostly noise): {reliability}."
        )
        if any(
            c and row["reliability"] is not None and row["reliability"] < 0.5
            for row, c in zip(rows, counts, strict=True)
        ):
            second += " " + FLAGS_AND_NOISE
    everything = [
        everything_memorized_sentence(
            row["audit AUC"], row["median M"], row["model"] if len(rows) > 1 else None
        )
        for row in rows
        if memorizes_everything(row.get("audit AUC"), row.get("median M"))
    ]
    rhos = [row["rho vs NN test"] for row in rows if "rho vs NN test" in row]
    if nn and rhos:
        third = (
            "The nearest-neighbour test, the usual check for copied training data, "
            f"agrees only weakly with M (Spearman rho {min(rhos):.2f} to "
            f"{max(rhos):.2f}), so it misses what M finds; the figures show the most "
            "memorized samples."
        )
    else:
        third = (
            "The most memorized samples are listed below (scores.csv has every "
            "sample); they are often atypical or unique records worth a look."
        )
    return [first, second, *everything, third]
