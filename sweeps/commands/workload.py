"""`sweeps workload generate|import|describe` and `sweeps import-conf`: workloads and slurm.conf as files.

Each command calls one library function (simcore.workload.*, simcore.slurmconf) and writes
through sweeps.workload_io; bad input raises TrilemmaError, which the CLI prints on one line
with exit status 2.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import click

from simcore.errors import ConfigError
from sweeps import workload_io


def _options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`--option key=value` pairs; values are TOML literals (2.5, true, "x") or else plain strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {pair!r}: expected key=value, e.g. procs_as=cpus")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value
    return out


def _shaping(shaped: Any) -> dict[str, Any]:
    return {"demand_gpu_h": shaped.demand_gpu_h, "unmet_demand_gpu_h": shaped.unmet_demand_gpu_h,
            "chains": shaped.chains}


@click.group("workload")
def workload() -> None:
    """Generate, import and describe workloads (native job tables in Parquet).

    \b
    Example:
        sweeps workload generate examples/scenario.toml -o jobs.parquet --seed 1
        sweeps workload import trace.swf -o jobs.parquet --option procs_as=gpus
        sweeps workload describe jobs.parquet --scenario examples/scenario.toml
    """


@workload.command("generate")
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
@click.option("--seed", default=0, show_default=True, help="Random seed of the workload.")
def generate(scenario: str, output: str, seed: int) -> None:
    """Write the jobs of SCENARIO's [workload] (any kind) as a native Parquet job table.

    \b
    Example:
        sweeps workload generate examples/scenario.toml -o jobs.parquet --seed 1
    """
    spec = workload_io.load_scenario(scenario)
    metadata: dict[str, Any] = {"scenario": scenario, "seed": seed, "kind": spec.workload.kind}
    if spec.workload.kind == "archetypes":
        from simcore.workload.shaping import shape

        shaped = shape(spec, seed)
        table = shaped.table
        metadata["shaping"] = _shaping(shaped)
        note = (f"; demand {shaped.demand_gpu_h:,.1f} GPU-h, unmet {shaped.unmet_demand_gpu_h:,.1f} GPU-h, "
                f"{shaped.chains:,} chains")
    else:
        from simcore.workload import build_jobs

        table = build_jobs(spec, seed)
        note = ""
    workload_io.write_job_table(table, output, metadata)
    click.echo(f"wrote {len(table):,} jobs to {output}{note}")


@workload.command("import")
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
@click.option("--format", "fmt", type=click.Choice(workload_io.FORMATS), default=None,
              help="Trace format; guessed from the name and first line when omitted.")
@click.option("--option", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Import option (docs/workloads.md), e.g. procs_as=cpus; repeatable.")
@click.option("--scenario", type=click.Path(dir_okay=False), default=None,
              help="Check the jobs' partitions against this scenario or slurm.conf.")
def import_(trace: str, output: str, fmt: str | None, pairs: tuple[str, ...], scenario: str | None) -> None:
    """Convert an SWF trace or sacct -P output (TRACE) into a native Parquet job table.

    \b
    Example:
        sacct -X -P -D -a -S 2026-01-01 --format=JobIDRaw,User,Account,Partition,QOS,Submit,Start,End,ElapsedRaw,TimelimitRaw,ReqTRES,AllocTRES,NNodes,State > jobs.sacct
        sweeps workload import jobs.sacct -o jobs.parquet
    """
    table, counts = workload_io.read_workload(trace, fmt, _options(pairs))
    if scenario:
        from simcore.workload.describe import check_partitions

        check_partitions(table, workload_io.load_scenario(scenario))
    workload_io.write_job_table(table, output, {"import": counts or {}})
    skipped = ", ".join(f"{k} {v:,}" for k, v in (counts or {}).items() if k.startswith("skipped") and v)
    click.echo(f"wrote {len(table):,} jobs to {output}" + (f" ({skipped})" if skipped else ""))


@workload.command("describe")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--scenario", type=click.Path(dir_okay=False), default=None,
              help="Scenario TOML or slurm.conf: adds the offered load on that cluster.")
@click.option("--seed", default=0, show_default=True, help="Seed, when PATH is a scenario to generate.")
@click.option("--format", "fmt", type=click.Choice(workload_io.FORMATS), default=None,
              help="Trace format; guessed when omitted.")
@click.option("--option", "pairs", multiple=True, metavar="KEY=VALUE", help="Import option; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def describe(path: str, scenario: str | None, seed: int, fmt: str | None, pairs: tuple[str, ...],
             as_json: bool) -> None:
    """Summarise a workload: jobs, users, GPU-hours, offered load, size and runtime quantiles.

    PATH is a job table (.parquet/.csv), a trace (SWF, sacct -P) or a scenario TOML whose
    workload is generated with --seed and described against its own cluster.

    \b
    Example:
        sweeps workload describe ../shared/data/lublin_256.swf --scenario examples/scenario.toml
    """
    from simcore.workload.describe import describe as summarise
    from simcore.workload.describe import format_description

    extra: dict[str, Any] = {}
    cluster = workload_io.load_scenario(scenario) if scenario else None
    if Path(path).suffix.lower() == ".toml":
        from simcore.workload import build_jobs

        spec = workload_io.load_scenario(path)
        cluster = cluster or spec
        if spec.workload.kind == "archetypes":
            from simcore.workload.shaping import shape

            shaped = shape(spec, seed)
            table = shaped.table
            extra["shaping"] = _shaping(shaped)
        else:
            table = build_jobs(spec, seed)
    else:
        table, counts = workload_io.read_workload(path, fmt, _options(pairs))
        if counts:
            extra["import"] = counts
        elif Path(path).suffix.lower() == ".parquet":
            stored = workload_io.read_metadata(path)
            extra.update({k: stored[k] for k in ("import", "shaping") if stored.get(k)})
    figures = {**summarise(table, cluster), **extra}
    click.echo(json.dumps(figures, indent=2, sort_keys=True) if as_json else format_description(figures))


@click.command("import-conf")
@click.argument("slurm_conf", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Scenario TOML to write.")
def import_conf(slurm_conf: str, output: str) -> None:
    """Turn a slurm.conf (with its includes) into a scenario TOML; lists the keys not simulated.

    \b
    Example:
        sweeps import-conf /etc/slurm/slurm.conf -o scenario.toml
    """
    import tomli_w

    from simcore.config import Scenario
    from simcore.slurmconf import read_slurm_conf

    conf = read_slurm_conf(slurm_conf)
    Scenario.from_dict(conf.scenario, source=slurm_conf)  # refuse to write what cannot be simulated
    Path(output).write_text(tomli_w.dumps(conf.scenario))
    click.echo(f"wrote {output}: {len(conf.scenario['cluster']['nodes'])} NodeName lines, "
               f"{len(conf.scenario['partitions'])} partitions")
    for note in conf.notes:
        click.echo(f"note: {note}", err=True)
    if conf.unknown:
        click.echo(f"{len(conf.unknown)} settings not simulated (kept out of the scenario):", err=True)
        for item in conf.unknown:
            click.echo(f"  {item}", err=True)


COMMANDS = [workload, import_conf]
