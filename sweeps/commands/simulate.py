"""`sweeps simulate`: one simulation run of a scenario, its metrics printed, its jobs optionally saved."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import click

from sweeps import workload_io

TIME_COLUMNS = ("submit", "eligible", "start", "end")


@click.command("simulate")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--workload", "workload", type=click.Path(dir_okay=False), default=None,
              help="Job table (Parquet/CSV), SWF or sacct file instead of the scenario's [workload].")
@click.option("--jobs-out", type=click.Path(dir_okay=False), default=None,
              help="Write one row per job to this Parquet file.")
@click.option("--seed", default=0, show_default=True, help="Seed of the synthetic workload.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
def simulate_cmd(scenario: str, workload: str | None, jobs_out: str | None, seed: int, as_json: bool) -> None:
    """Simulate SCENARIO once and print its metrics (docs/metrics.md).

    \b
    Example:
        sweeps simulate examples/scenario.toml --seed 1
        sweeps simulate examples/scenario.toml --workload jobs.parquet --jobs-out run.parquet --json
    """
    from simcore import simulate

    spec = workload_io.load_scenario(scenario)
    table = workload_io.read_workload(workload)[0] if workload else None
    if table is None:
        from simcore.workload import build_jobs

        table = build_jobs(spec, seed)
    result = simulate(spec, seed=seed, jobs=table)
    if jobs_out:
        _write_jobs(result.jobs, Path(jobs_out), table.time_origin)
    metrics = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in result.metrics.items()}
    if as_json:
        click.echo(json.dumps(metrics, sort_keys=True))
        return
    width = max(len(k) for k in metrics)
    for key, value in metrics.items():
        shown = "NaN" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))
        click.echo(f"{key:<{width}}  {shown}")
    if jobs_out:
        click.echo(f"jobs written to {jobs_out}")


def _write_jobs(cols: dict, path: Path, time_origin: int | None) -> None:
    """Per-job Parquet, atomically; times become timestamps when the input had timestamps."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for name, col in cols.items():
        if name in TIME_COLUMNS and time_origin is not None:
            secs = pa.array(col + time_origin, from_pandas=True).cast(pa.int64())
            arrays[name] = secs.cast(pa.timestamp("s"))
        elif col.dtype == object:
            arrays[name] = pa.array(col.tolist(), type=pa.string())
        else:
            arrays[name] = pa.array(col, from_pandas=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(pa.table(arrays), temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


COMMANDS = [simulate_cmd]
