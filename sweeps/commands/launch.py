"""CLI: `sweeps launch`, `sweeps status`, `sweeps compact` (thin layers over sweeps.launch/store)."""

from __future__ import annotations

from pathlib import Path

import click

from cluster.slurm import slurm_options, submit_from_cli
from sweeps.grid import load_grid
from sweeps.launch import DEFAULT_FLUSH_RUNS, DEFAULT_FLUSH_SECONDS, LaunchOptions
from sweeps.launch import dry_run as describe_plan
from sweeps.launch import launch as run_launch
from sweeps.spec import plan
from sweeps.status import status as read_status
from sweeps.store import Store

COMPACT_HINT_PARTS = 100


@click.command()
@click.argument("grid", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Results root; the sweep is written to OUT/<sweep name>/.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Ray workers (CPUs) to use [default: every CPU of this machine or cluster].")
@click.option("--address", help="Existing Ray cluster to use ('auto', or host:port; also "
              "RAY_ADDRESS) instead of an embedded Ray.")
@click.option("--serial", is_flag=True, help="Run in this process without Ray (debugging).")
@click.option("--retry-failed", is_flag=True, help="Run again the runs stored as failed.")
@click.option("--dry-run", is_flag=True,
              help="Validate and print the number of runs and the first cells; run nothing.")
@click.option("--flush-runs", type=click.IntRange(min=1), default=DEFAULT_FLUSH_RUNS,
              show_default=True, help="Store finished runs every this many runs ...")
@click.option("--flush-seconds", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_FLUSH_SECONDS, show_default=True, help="... or this many seconds.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar [default: when stderr is a terminal].")
@slurm_options
@click.pass_context
def launch(ctx: click.Context, grid: Path, out: Path, workers: int | None, address: str | None,
           serial: bool, retry_failed: bool, dry_run: bool, flush_runs: int,
           flush_seconds: float, progress: bool | None, **slurm: object) -> None:
    """Run every run of GRID that is not stored yet and store it under OUT/<sweep>/.

    Relaunching skips stored runs (a changed grid runs only its new runs). Ctrl-C stops
    submitting, stores what finished and prints how to resume.

    \b
    Examples:
        sweeps launch examples/grid.toml
        sweeps launch examples/grid.toml --dry-run
        sweeps launch grid.toml --address auto --out /scratch/results
        sweeps launch grid.toml --slurm --nodes 4 --time 08:00:00 --account lab
    """
    if serial and address:
        raise click.UsageError("--serial runs without Ray; it cannot be combined with --address")
    if dry_run:
        click.echo(describe_plan(grid))
        return
    if slurm["slurm"]:
        if serial or address or workers:
            raise click.UsageError("--slurm starts its own Ray in the allocation; drop "
                                   "--serial, --address and --workers")
        plan(load_grid(grid))  # every run validated here, before anything is submitted
        driver_args = ("--flush-runs", str(flush_runs), "--flush-seconds", str(flush_seconds),
                       *(("--retry-failed",) if retry_failed else ()))
        click.echo(submit_from_cli(grid, out, slurm, driver_args))
        return
    options = LaunchOptions(out=out, workers=workers, address=address, serial=serial,
                            retry_failed=retry_failed, flush_runs=flush_runs,
                            flush_seconds=flush_seconds, progress=progress)
    summary = run_launch(grid, options)
    if summary.planned == summary.already_stored:
        click.echo(f"{summary.root.name}: all {summary.planned} runs are stored; nothing to run")
    else:
        click.echo(f"{summary.root.name}: {summary.planned} runs planned, "
                   f"{summary.already_stored} already stored; ran {summary.ran} ({summary.ok} ok, "
                   f"{summary.failed} failed) in {summary.seconds:.1f} s on {summary.where}")
    click.echo(f"Results: {summary.root}/ (sweeps status {summary.root})")
    if summary.parts > COMPACT_HINT_PARTS:
        click.echo(f"{summary.parts} part files: `sweeps compact {summary.root}` merges them "
                   "for faster queries")
    if summary.signal is not None:
        name = "SIGINT" if summary.signal == 2 else "SIGTERM" if summary.signal == 15 \
            else f"signal {summary.signal}"
        click.echo(f"Interrupted by {name}: {summary.missing} runs not run yet; resume with: "
                   f"sweeps launch {grid} --out {out}", err=True)
        ctx.exit(128 + summary.signal)
    if summary.failed:
        click.echo(f"{summary.failed} runs failed (errors: sweeps status {summary.root}); "
                   f"re-run them with: sweeps launch {grid} --out {out} --retry-failed", err=True)
    click.echo(f"Report:  sweeps report {summary.root}")


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def status(directory: Path) -> None:
    """Show how many runs of the sweep in DIRECTORY are done, failed or missing.

    \b
    Example:
        sweeps status results/maxtime-x-gpucap
    """
    click.echo(read_status(directory).text())


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def compact(directory: Path) -> None:
    """Merge the part files of DIRECTORY's runs, jobs and timeseries tables, atomically.

    \b
    Example:
        sweeps compact results/maxtime-x-gpucap
    """
    Store.open(directory, write=False)  # a results folder, or a clear error
    with Store.open(directory, write=True) as store:
        counts = store.compact()
    click.echo(", ".join(f"{table}: {before} -> {after} files"
                         for table, (before, after) in counts.items()))


COMMANDS = [launch, status, compact]
