"""`sweeps report`: one self-contained HTML page and a Markdown summary of a sweep.

report.html works offline: plotly.js is inlined once in the page, every figure is a div plus
a call to it, and nothing is fetched (no CDN, fonts, images or MathJax). report.md holds the
front table and the policy texts for pasting into a ticket.
"""

from __future__ import annotations

import html
from pathlib import Path

import plotly.offline
import polars as pl

from analysis.db import Results
from analysis.drilldown import run_detail
from analysis.labels import DIRECTION_WORDS, format_value, label
from analysis.pareto import ParetoResult, pareto
from analysis.plots import drilldown, front_scatter, knob_effects
from analysis.policy_text import Phrase, base_scenario, describe, summary
from analysis.units import humanize

MAX_DRILLDOWN = 6  # front cells drawn in detail (knee first, then by crowding)
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png"}}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937;
       margin: 0; background: #f6f7f9; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 19px; margin: 34px 0 8px; }
p.lead { color: #4b5563; margin-top: 0; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 10px; padding: 8px 20px 16px;
          margin-top: 18px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #eef0f3; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; border-radius: 9px; padding: 1px 7px; font-size: 11px; margin-right: 3px; }
.knee { background: #fef3c7; color: #92400e; } .robust { background: #dcfce7; color: #166534; }
.fragile { background: #fee2e2; color: #991b1b; }
.policy b { color: #1d4ed8; font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 12px; }
.note { background: #eff6ff; border-left: 4px solid #2563eb; padding: 8px 12px; margin: 10px 0;
        font-size: 14px; }
ul.notes li { margin: 4px 0; }
code { background: #f3f4f6; padding: 0 4px; border-radius: 4px; }
"""


def _fig_html(fig) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config=PLOT_CONFIG)


def _policy_html(phrases: list[Phrase], only_varying: bool = False) -> str:
    if only_varying:
        return "; ".join(html.escape(p.short or p.text) for p in phrases if p.varies)
    return "; ".join(f"<b>{html.escape(p.text)}</b>" if p.varies else html.escape(p.text) for p in phrases)


def _shared_policy(phrases: dict[str, list[Phrase]]) -> str:
    """The phrases no knob changes (the same for every configuration)."""
    first = next(iter(phrases.values()), [])
    return "; ".join(html.escape(p.text) for p in first if not p.varies)


def _badges(row: dict) -> str:
    out = []
    if row["knee"]:
        out.append('<span class="badge knee">knee</span>')
    if row["robust"] is True:
        out.append('<span class="badge robust">robust</span>')
    elif row["robust"] is False:
        out.append('<span class="badge fragile">within noise</span>')
    return "".join(out)


def _front_table(result: ParetoResult, phrases: dict[str, list[Phrase]]) -> str:
    head = ["", *result.knobs, *(label(o) for o in result.objectives), "seeds", "what users are told"]
    rows = []
    for row in result.front.iter_rows(named=True):
        cells = [f"<td>{_badges(row)}</td>"]
        cells += [f"<td>{html.escape(humanize(row[k]))}</td>" for k in result.knobs]
        cells += [f'<td class="num">{format_value(o, row[o], row.get(f"{o}_ci95"))}</td>' for o in result.objectives]
        cells.append(f'<td class="num">{row.get("n_runs", "")}</td>')
        cells.append(f'<td class="policy">{_policy_html(phrases[row["cell_id"]], only_varying=True)}</td>')
        rows.append(f'<tr data-cell="{html.escape(row["cell_id"])}">' + "".join(cells) + "</tr>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table id="front-table"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _notes(result: ParetoResult) -> list[str]:
    notes = list(result.notes)
    notes.append(
        "Each configuration (cell) is the mean over its replicate seeds; ± is the half-width of "
        "the 95% Student-t interval of that mean."
    )
    notes.append(
        "<i>robust</i>: the cell stays on the front even with each of its objectives at the worse end "
        "of its interval and every other cell at the better end of its own. <i>within noise</i>: a "
        "plausible replicate spread could put another cell ahead of it."
    )
    notes.append(
        "<i>knee</i>: the front configuration closest to the ideal point, with every objective scaled "
        "to 0-1 over the front: the most balanced compromise."
    )
    return notes


def _drilldown_html(results: Results, result: ParetoResult, base: dict, phrases: dict[str, list[Phrase]]) -> str:
    has_jobs, has_series = results.has("jobs"), results.has("timeseries")
    if not (has_jobs or has_series):
        return (
            '<div class="note" id="no-drilldown">This sweep did not store per-job data (<code>jobs/</code>) '
            "or time series (<code>timeseries/</code>), so there is no per-configuration detail. "
            "Set <code>store_jobs = true</code> and <code>store_timeseries = true</code> in the grid's "
            "<code>[sweep]</code> table and launch again to get wait distributions by job class, GPUs in use "
            "and queue length over time, and pending reasons.</div>"
        )
    parts = []
    missing = [name for name, present in (("jobs/", has_jobs), ("timeseries/", has_series)) if not present]
    if missing:
        parts.append(f'<div class="note">This sweep did not store {" or ".join(missing)}; those panels are empty.</div>')
    con = results.connect()
    try:
        metrics_cfg = base.get("metrics", {}) if isinstance(base.get("metrics"), dict) else {}
        for row in result.front.head(MAX_DRILLDOWN).iter_rows(named=True):
            found = con.execute(
                "SELECT run_id, seed FROM runs WHERE cell_id = ? AND status = 'ok' ORDER BY seed LIMIT 1",
                [row["cell_id"]],
            ).fetchall()
            if not found:
                continue
            run = found[0]
            detail = run_detail(con, run[0], metrics_cfg, has_jobs, has_series)
            knobs = ", ".join(f"{k} = {humanize(row[k])}" for k in result.knobs)
            title = f"{knobs} (seed {run[1]})" + ("  \u2605 knee" if row["knee"] else "")
            parts.append(_fig_html(drilldown(detail, title)))
    finally:
        con.close()
    if result.front.height > MAX_DRILLDOWN:
        parts.append(f"<p>{result.front.height - MAX_DRILLDOWN} more front configurations are not drawn.</p>")
    return "\n".join(parts)


def _markdown(results: Results, result: ParetoResult, phrases: dict[str, list[Phrase]], counts: dict) -> str:
    name = results.manifest.name or results.path.name
    lines = [f"# Trilemma report: {name}", ""]
    if results.manifest.raw.get("description"):
        lines += [str(results.manifest.raw["description"]), ""]
    lines.append(
        f"{counts['cells']} configurations x {counts['seeds']} seeds = {counts['ok']} successful runs"
        + (f" ({counts['failed']} failed)" if counts["failed"] else "")
        + f". **{result.front.height}** configurations are on the Pareto front"
        + f" ({int(result.front['robust'].fill_null(False).sum())} robust to seed noise)."
    )
    lines += ["", "Objectives: " + "; ".join(f"{label(o)}, {DIRECTION_WORDS[d]}" for o, d in result.objectives.items()), ""]
    head = ["", *result.knobs, *(label(o) for o in result.objectives), "policy as users read it"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for row in result.front.iter_rows(named=True):
        flags = " ".join(f for f, on in (("knee", row["knee"]), ("robust", row["robust"] is True)) if on)
        cells = [flags, *(humanize(row[k]) for k in result.knobs)]
        cells += [format_value(o, row[o], row.get(f"{o}_ci95")) for o in result.objectives]
        cells.append(summary(phrases[row["cell_id"]]).replace("|", "/"))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"- {n}" for n in result.notes), "", f"Full report with plots: {results.path / 'report.html'}", ""]
    return "\n".join(lines)


def write_report(results: Results, objectives: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Write DIR/report.html and DIR/report.md; return their paths."""
    result = pareto(results, objectives)
    base = base_scenario(results.manifest.raw)
    phrases = {
        row["cell_id"]: describe(base, {k: row[k] for k in result.knobs})
        for row in result.front.iter_rows(named=True)
    }
    con = results.connect()
    try:
        runs = con.sql("SELECT * FROM runs WHERE status = 'ok'").pl()
        counts = dict(zip(("ok", "failed", "cells", "seeds"), con.execute(
            "SELECT count(*) FILTER (WHERE status = 'ok'), count(*) FILTER (WHERE status IS DISTINCT FROM 'ok'), "
            "count(DISTINCT cell_id), count(DISTINCT seed) FROM runs").fetchall()[0]))
    finally:
        con.close()
    names = list(result.objectives)
    name = results.manifest.name or results.path.name
    description = results.manifest.raw.get("description") or ""
    scatters = [
        _fig_html(front_scatter(result.cells, names[i], names[j], result.objectives, result.knobs))
        for i in range(len(names)) for j in range(i + 1, len(names))
    ]
    effects = [_fig_html(knob_effects(runs, k, names)) for k in result.knobs if runs.height]
    robust = int(result.front["robust"].fill_null(False).sum())
    knee = result.front.filter(pl.col("knee"))
    knee_text = _policy_html(phrases[knee["cell_id"][0]]) if knee.height else ""
    objectives_html = "".join(
        f"<li>{html.escape(label(o))}: {DIRECTION_WORDS[d]} <code>{html.escape(o)}</code></li>"
        for o, d in result.objectives.items()
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trilemma report: {html.escape(name)}</title>
<style>{CSS}</style>
<script>{plotly.offline.get_plotlyjs()}</script>
</head><body><main>
<h1>Trilemma report: {html.escape(name)}</h1>
<p class="lead">{html.escape(description)}</p>
<section id="summary"><h2>Summary</h2>
<p>{counts['cells']} configurations &times; {counts['seeds']} replicate seeds = {counts['ok']} successful runs{f" ({counts['failed']} failed)" if counts['failed'] else ""}.
<b>{result.front.height}</b> configurations are on the Pareto front (no other configuration is at least as good
on every objective and better on one); {robust} of them are robust to seed noise.</p>
<p>Objectives:</p><ul>{objectives_html}</ul>
{f'<p>Most balanced compromise (knee): <span class="policy">{knee_text}</span></p>' if knee_text else ''}
</section>
<section id="front"><h2>The front</h2>{_front_table(result, phrases)}
{f'<p>Every configuration also has: {_shared_policy(phrases)}.</p>' if _shared_policy(phrases) else ''}</section>
<section id="tradeoffs"><h2>The trade-offs</h2>
<p>Each point is one configuration (mean over seeds). Blue points are on the front, grey ones are dominated;
bars are 95% intervals. Hover a point for its knob values.</p>
<div class="grid">{''.join(f'<div>{s}</div>' for s in scatters)}</div></section>
<section id="effects"><h2>What each knob does</h2>
<p>Mean of each objective over all runs with that knob value (averaged over the other knobs and seeds),
with 95% intervals.</p>{''.join(effects)}</section>
<section id="drilldown"><h2>Front configurations in detail</h2>
{_drilldown_html(results, result, base, phrases)}</section>
<section id="notes"><h2>Notes</h2><ul class="notes">{''.join(f'<li>{n}</li>' for n in _notes(result))}</ul>
<p>Generated by <code>sweeps report</code> from {html.escape(str(results.path))}.</p></section>
</main></body></html>
"""
    html_path = results.path / "report.html"
    md_path = results.path / "report.md"
    _atomic_write(html_path, page)
    _atomic_write(md_path, _markdown(results, result, phrases, counts))
    return html_path, md_path


def _atomic_write(path: Path, text: str) -> None:
    """Write via a hidden temp file and rename, so readers never see half a report."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text, encoding="utf-8")
    temp.replace(path)
