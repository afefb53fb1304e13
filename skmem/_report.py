"""The report of a memorization run: a comparison table, PNG figures, one HTML page."""

import base64
import html
import io
from pathlib import Path

import numpy as np

from .baselines import compare_scores


def summary_rows(results, nn_ratio=None):
    """One row per model: held-out log-likelihood, quantiles of M, top 10, agreement.

    ``results`` maps a model name to ``{"scorer": fitted MemorizationScorer,
    "X": data}``; ``nn_ratio`` maps a model name to ``(indices, ratio)``.
    """
    rows = []
    names = list(results)
    for name in names:
        scorer = results[name]["scorer"]
        M = scorer.memorization_scores_
        finite = M[np.isfinite(M)]
        row = {
            "model": name,
            "held-out log-lik.": scorer.score(results[name]["X"]),
            "mean M": float(np.mean(finite)),
            "q95 M": float(np.quantile(finite, 0.95)),
            "q99 M": float(np.quantile(finite, 0.99)),
            "top 10": [int(i) for i in np.argsort(np.nan_to_num(-M, nan=np.inf))[:10]],
        }
        for other in names:
            if other == name:
                row[f"rho vs {other}"] = "-"
            else:
                agreement = compare_scores(
                    M, results[other]["scorer"].memorization_scores_
                )
                row[f"rho vs {other}"] = float(agreement.spearman)
        if nn_ratio and name in nn_ratio:
            indices, ratio = nn_ratio[name]
            row["rho vs NN test"] = float(compare_scores(M[indices], ratio).spearman)
        rows.append(row)
    return rows


def _format(value):
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.3e}"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def format_table(rows):
    """The rows as aligned plain text."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_format(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[j]) for r in cells)) for j, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells
    ]
    return "\n".join(lines)


def write_report(out, rows, figures, *, title, notes=()):
    """PNG files and ``index.html`` (images embedded) under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = []
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png", dpi=110)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110)
        images.append((name, base64.b64encode(buffer.getvalue()).decode("ascii")))
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = "<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    table += "</tr>"
    for row in rows:
        table += "<tr>" + "".join(
            f"<td>{html.escape(_format(row.get(c, '')))}</td>" for c in columns
        )
        table += "</tr>"
    table += "</table>"
    body = "".join(f"<p>{html.escape(n)}</p>" for n in notes)
    figures_html = "".join(
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(name)}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for name, data in images
    )
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th {{ background: #f0f0f0; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
{body}
<h2>Comparison</h2>
{table}
<h2>Figures</h2>
{figures_html}
</body></html>
"""
    (out / "index.html").write_text(page)
    return out / "index.html"
