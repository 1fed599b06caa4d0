"""`sweeps sql`, `sweeps pareto` and `sweeps report`: questions asked of a results folder."""

from __future__ import annotations

import math

import click

from analysis.db import open_results
from analysis.labels import format_value, label
from analysis.pareto import ParetoResult, parse_objectives, pareto
from analysis.sql import FORMATS, QueryError, format_table, run_query, write_result

_DIR = click.Path(exists=True, file_okay=False)


@click.command("sql")
@click.argument("results_dir", type=_DIR)
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write to FILE instead of standard output (needed for parquet on a terminal).")
def sql_command(results_dir: str, query: str, fmt: str, output: str | None) -> None:
    """Run one read-only DuckDB query over a results folder.

    Views: runs, cells (runs averaged over seeds: <metric>, <metric>_std, <metric>_n,
    <metric>_ci95), and jobs, timeseries when recorded. Knob columns contain dots: quote them.

    \b
    Example:
        sweeps sql results/maxtime-x-gpucap \\
          'SELECT "partitions.gpu.MaxTime", gpu_util, wait_p95_h FROM cells ORDER BY gpu_util DESC'
    """
    table = run_query(open_results(results_dir), query)
    if output:
        mode = "wb" if fmt == "parquet" else "w"
        with open(output, mode) as handle:
            write_result(table, fmt, handle if mode == "w" else None, handle if mode == "wb" else None)
        return
    if fmt == "parquet":
        stream = click.get_binary_stream("stdout")
        if stream.isatty():
            raise QueryError("--format parquet: refusing to write binary Parquet to a terminal; use --output FILE or redirect")
        write_result(table, fmt, None, stream)
        stream.flush()
        return
    write_result(table, fmt, click.get_text_stream("stdout"), None)


def front_rows(result: ParetoResult, all_cells: bool = False) -> list[dict[str, str]]:
    """Rows of the printed front table: knob values, objectives (mean ± 95% CI), flags."""
    frame = result.cells if all_cells else result.front
    rows = []
    for cell in frame.iter_rows(named=True):
        row = {"rank": str(cell["rank"])} if all_cells else {}
        row.update({knob: str(cell.get(knob)) for knob in result.knobs})
        for name in result.objectives:
            row[label(name)] = format_value(name, cell[name], cell.get(f"{name}_ci95"))
        row["seeds"] = str(cell.get("n_runs", ""))
        robust = cell["robust"]
        row["robust"] = "?" if robust is None else ("yes" if robust else "no")
        row["knee"] = "knee" if cell["knee"] else ""
        crowd = cell["crowding"]
        row["crowding"] = "inf" if math.isinf(crowd) else f"{crowd:.3g}"
        rows.append(row)
    return rows


@click.command("pareto")
@click.argument("results_dir", type=_DIR)
@click.option("--objectives", help="METRIC:max|min,... (default: the objectives in manifest.json).")
@click.option("--all", "all_cells", is_flag=True, help="Print every cell with its front rank, not only front 1.")
def pareto_command(results_dir: str, objectives: str | None, all_cells: bool) -> None:
    """Print the Pareto front of a results folder: knob values and objectives.

    Objectives are cell means over replicate seeds, shown as mean ± 95% CI half-width.
    `robust` = yes when the cell stays on the front with its objectives at the worse end of
    its interval and every other cell at the better end of its own (docs/analysis.md).

    \b
    Example:
        sweeps pareto results/maxtime-x-gpucap --objectives gpu_util:max,wait_p95_h:min
    """
    chosen = parse_objectives(objectives) if objectives else None
    result = pareto(open_results(results_dir), chosen)
    rows = front_rows(result, all_cells)
    import pyarrow as pa

    names = list(rows[0]) if rows else []
    table = pa.table({n: [r[n] for r in rows] for n in names}) if rows else pa.table({})
    directions = ", ".join(f"{label(o)}: {d}" for o, d in result.objectives.items())
    click.echo(f"Objectives: {directions}")
    click.echo(format_table(table), nl=False)
    for note in result.notes:
        click.echo(f"Note: {note}")


@click.command("report")
@click.argument("results_dir", type=_DIR)
@click.option("--objectives", help="METRIC:max|min,... (default: the objectives in manifest.json).")
def report_command(results_dir: str, objectives: str | None) -> None:
    """Write DIR/report.html (self-contained, works offline) and DIR/report.md.

    \b
    Example:
        sweeps report results/maxtime-x-gpucap
    """
    from analysis.report import write_report

    chosen = parse_objectives(objectives) if objectives else None
    html_path, md_path = write_report(open_results(results_dir), chosen)
    click.echo(f"Report: {html_path}")
    click.echo(f"Summary: {md_path}")


COMMANDS = [sql_command, pareto_command, report_command]
