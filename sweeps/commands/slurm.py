"""`sweeps slurm-script`: print the sbatch script `sweeps launch --slurm` would submit."""

from __future__ import annotations

import click

from cluster.slurm import options_from_cli, render_sbatch, slurm_options, sweep_name


@click.command("slurm-script")
@click.argument("grid", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", default="results", show_default=True,
              help="Results folder the sweep writes to (the script and log go to <out>/<sweep>/slurm/).")
@slurm_options
def slurm_script(grid: str, out: str, slurm: bool, **params) -> None:
    """Print the sbatch script for GRID without submitting it (review it, edit it, sbatch it).

    \b
    Example:
        sweeps slurm-script examples/grid.toml --nodes 4 --cpus-per-task 16 --time 04:00:00 > sweep.sbatch
        sbatch sweep.sbatch
    """
    click.echo(render_sbatch(grid, out, options_from_cli(params), sweep=sweep_name(grid)), nl=False)


COMMANDS = [slurm_script]
