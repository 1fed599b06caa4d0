"""The `sweeps` command line: a thin click layer over the library packages.

Each command lives in its own module under `sweeps/commands/` and calls one library
function; this module only assembles the group and turns `TrilemmaError` into a one-line
message with exit status 2 (click's own usage errors also exit 2).
"""

from __future__ import annotations

import importlib

import click

from simcore.errors import TrilemmaError

# Modules under sweeps/commands/ that each export `COMMANDS`, a list of click commands.
COMMAND_MODULES = ("launch", "simulate", "workload", "analyze", "slurm")


class _Group(click.Group):
    """A click group that reports `TrilemmaError` as a usage-style error (exit 2)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TrilemmaError as exc:
            error = click.ClickException(str(exc))
            error.exit_code = 2
            raise error from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trilemma")
def cli() -> None:
    """Simulate Slurm policies, sweep them with Ray and find the Pareto front.

    \b
    Example:
        sweeps launch examples/grid.toml
        sweeps report results/maxtime-x-gpucap
    """


def _register() -> None:
    for name in COMMAND_MODULES:
        for command in importlib.import_module(f"sweeps.commands.{name}").COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli()
