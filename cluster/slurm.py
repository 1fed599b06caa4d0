"""Run a sweep inside a Slurm allocation: render the sbatch script, submit it, and the CLI options.

Why it is shaped like this: rendering is a pure function of (grid path, output folder, options) so
it can be tested against a golden file and with hostile names; every value that reaches the shell
is `shlex.quote`d, and every value on an `#SBATCH` line (read by sbatch, not by the shell, but a
newline there would end the comment and start a shell command) is checked first. The script body
lives in `cluster.sbatch_template`.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import click

from cluster.sbatch_template import TEMPLATE
from simcore.errors import TrilemmaError

# Ray port blocks: above Ray's default worker ports (10002-19999, used by any Ray started without
# our options) and below the Linux ephemeral range (32768+) that outgoing connections take.
PORT_LOW = 20000
PORT_SLOT_SIZE = 128
PORT_SLOTS = (32767 - PORT_LOW) // PORT_SLOT_SIZE
AUTH_MODES = ("disabled", "token")
_SLURM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_MEM = re.compile(r"^[0-9]+[KMGT]?$")
_TIME = re.compile(r"^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$|^[0-9]+-[0-9]+$|^(UNLIMITED|INFINITE)$")
_SIGNAL = re.compile(r"^(B:|R:)?(USR1|USR2|URG|XCPU|SIGUSR1|SIGUSR2|SIGURG|SIGXCPU|10|12|23|24)(@[0-9]+)?$")


class SlurmError(TrilemmaError):
    """Bad Slurm options (names the option and what is allowed) or a failed sbatch."""


@dataclass(frozen=True)
class SlurmOptions:
    """The allocation to request and how Ray is started in it (defaults: Slurm's own, plus requeue)."""

    nodes: int = 2
    cpus_per_task: int | None = None  # Ray --num-cpus per node; None: what Slurm allocates
    mem: str | None = None  # per node, sbatch --mem syntax (e.g. 16G)
    time: str | None = None  # sbatch --time syntax (e.g. 04:00:00)
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gpus_per_node: int = 0  # --gres=gpu:N; Ray --num-gpus comes from SLURM_GPUS_ON_NODE
    extra_sbatch: tuple[str, ...] = ()  # extra sbatch options, one token each ("--exclusive")
    requeue: bool = True
    # B:USR1 (not TERM): the script must tell the time-limit warning (requeue itself) from
    # scancel (stop for good); both make the driver flush and exit.
    signal: str = "B:USR1@120"
    job_name: str | None = None  # default: trilemma-<sweep>
    object_store_max_mb: int = 2048  # Ray object store per node: 30% of the node's memory, at most this
    ray_auth_mode: str = "disabled"
    wait_timeout_s: int = 300  # how long to wait for every node to join Ray
    bin_dir: str | None = None  # where `ray`, `sweeps` and `python3` live; default: this Python's
    driver_args: tuple[str, ...] = ()  # more `sweeps launch` options for the driver (--flush-runs 50)

    def __post_init__(self) -> None:
        _check_options(self)


def _fail(option: str, value: Any, allowed: str) -> SlurmError:
    return SlurmError(f"{option} {value!r}: {allowed}")


def _check_options(o: SlurmOptions) -> None:
    if not isinstance(o.nodes, int) or o.nodes < 1:
        raise _fail("--nodes", o.nodes, "must be a whole number >= 1")
    if o.cpus_per_task is not None and o.cpus_per_task < 1:
        raise _fail("--cpus-per-task", o.cpus_per_task, "must be a whole number >= 1")
    if o.gpus_per_node < 0:
        raise _fail("--gpus-per-node", o.gpus_per_node, "must be a whole number >= 0")
    if o.mem is not None and not _MEM.match(o.mem):
        raise _fail("--mem", o.mem, "use sbatch syntax: a number of megabytes or a number with K, M, G or T")
    if o.time is not None and not _TIME.match(o.time):
        raise _fail("--time", o.time, "use sbatch syntax: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS")
    for option, value in (("--partition", o.partition), ("--account", o.account), ("--qos", o.qos),
                          ("--job-name", o.job_name)):
        if value is not None and not _SLURM_NAME.match(value):
            raise _fail(option, value, "use letters, digits and '_', '.', '+' or '-'")
    if not _SIGNAL.match(o.signal):
        raise _fail("signal", o.signal, "use [B:]USR1|USR2|URG|XCPU[@seconds] (TERM is reserved for "
                                        "scancel and preemption)")
    if o.ray_auth_mode not in AUTH_MODES:
        raise _fail("ray_auth_mode", o.ray_auth_mode, f"allowed: {', '.join(AUTH_MODES)}")
    if o.object_store_max_mb < 80:
        raise _fail("object_store_max_mb", o.object_store_max_mb, "Ray needs at least 80 MB")
    for token in o.extra_sbatch:
        if not token.startswith("-") or _unsafe_for_header(token):
            raise _fail("--extra-sbatch", token, "each item must be one sbatch option such as "
                                                 "--exclusive or --constraint=a100, without newlines")


def _unsafe_for_header(value: str) -> bool:
    return any(c in value for c in "\n\r\0")


def _header_value(value: str) -> str:
    """A value as sbatch reads it from an #SBATCH line: bare if simple, else double-quoted."""
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", value):
        return value
    return '"' + value.replace('"', '\\"') + '"'


def _signal_name(signal: str) -> str:
    name = signal.split(":")[-1].split("@")[0]
    numbers = {"10": "USR1", "12": "USR2", "23": "URG", "24": "XCPU"}
    return numbers.get(name, name.removeprefix("SIG"))


def sbatch_directives(sweep: str, log_dir: Path, options: SlurmOptions) -> list[str]:
    """The #SBATCH options, sorted by name; values are validated, never shell-evaluated."""
    directory = str(log_dir).replace("%", "%%")
    if "\\" in directory or _unsafe_for_header(directory):
        raise SlurmError(f"Slurm log folder {str(log_dir)!r} (from --out and the sweep name): Slurm log paths "
                         "cannot hold a backslash or a newline; choose another output folder")
    log_path = f"{directory}/slurm-%j.out"
    pairs: dict[str, str | None] = {
        "--job-name": options.job_name or _job_name(sweep),
        "--nodes": str(options.nodes),
        "--ntasks-per-node": "1",
        "--open-mode": "append",
        "--output": log_path,
        "--signal": options.signal,
    }
    optional = {"--cpus-per-task": options.cpus_per_task, "--mem": options.mem, "--time": options.time,
                "--partition": options.partition, "--account": options.account, "--qos": options.qos,
                "--gres": f"gpu:{options.gpus_per_node}" if options.gpus_per_node else None}
    pairs.update({k: str(v) for k, v in optional.items() if v is not None})
    if options.requeue:
        pairs["--requeue"] = None
    lines = [f"#SBATCH {k}" if v is None else f"#SBATCH {k}={_header_value(v)}" for k, v in sorted(pairs.items())]
    lines += [f"#SBATCH {_header_value(token)}" for token in options.extra_sbatch]
    return lines


def _job_name(sweep: str) -> str:
    return "trilemma-" + (re.sub(r"[^A-Za-z0-9_.+-]", "_", sweep) or "sweep")


def slurm_dir(out_dir: str | Path, sweep: str) -> Path:
    """Where the script and the Slurm log of a sweep live: <out>/<sweep>/slurm/."""
    return Path(out_dir).absolute() / sweep / "slurm"


def render_sbatch(grid_path: str | Path, out_dir: str | Path, options: SlurmOptions,
                  sweep: str | None = None) -> str:
    """The complete sbatch script (pure: same arguments, same text). `sweep` defaults to the grid's stem."""
    grid = Path(grid_path).absolute()
    out = Path(out_dir).absolute()
    sweep = sweep or grid.stem
    bin_dir = options.bin_dir or str(Path(sys.executable).parent)
    values = {
        "GRID": str(grid),
        "OUT": str(out),
        "NODES": str(options.nodes),
        "WAIT_TIMEOUT": str(options.wait_timeout_s),
        "OBJECT_STORE_MAX_MB": str(options.object_store_max_mb),
        "PORT_LOW": str(PORT_LOW),
        "PORT_SLOTS": str(PORT_SLOTS),
        "PORT_SLOT_SIZE": str(PORT_SLOT_SIZE),
        "RAY_AUTH_MODE": options.ray_auth_mode,
        "BIN_DIR": bin_dir,
        "WARNING_SIGNAL": _signal_name(options.signal),
    }
    driver_args = " ".join(shlex.quote(a) for a in options.driver_args)
    body = TEMPLATE.replace("@@DRIVER_ARGS@@", f"({driver_args})")
    for key, value in values.items():
        body = body.replace(f"@@{key}@@", shlex.quote(value))
    header = [
        "#!/bin/bash",
        f"# Sweep {_job_name(sweep)[len('trilemma-'):]} on Ray in a Slurm allocation; rendered by `sweeps launch --slurm`.",
        "# Resubmit with sbatch; a requeued job resumes the sweep (stored runs are skipped).",
        *sbatch_directives(sweep, slurm_dir(out, sweep), options),
    ]
    return "\n".join(header) + "\n" + body


@dataclass(frozen=True)
class SubmitResult:
    job_id: str
    script: Path
    log: Path


def submit_sweep(grid_path: str | Path, out_dir: str | Path, options: SlurmOptions,
                 sweep: str | None = None, sbatch: str = "sbatch") -> SubmitResult:
    """Write the script under <out>/<sweep>/slurm/ and submit it with `sbatch --parsable`."""
    sweep = sweep or sweep_name(grid_path)
    text = render_sbatch(grid_path, out_dir, options, sweep=sweep)
    directory = slurm_dir(out_dir, sweep)
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "sweep.sbatch"
    script.write_text(text)
    try:
        proc = subprocess.run([sbatch, "--parsable", str(script)], capture_output=True, text=True)
    except FileNotFoundError:
        raise SlurmError(f"'{sbatch}' not found: run `sweeps launch --slurm` on a Slurm login node "
                         f"(the script is at {script})") from None
    if proc.returncode != 0:
        raise SlurmError(f"sbatch rejected {script}: {proc.stderr.strip() or proc.stdout.strip()}")
    job_id = proc.stdout.strip().split(";")[0]
    return SubmitResult(job_id=job_id, script=script, log=directory / f"slurm-{job_id}.out")


def sweep_name(grid_path: str | Path) -> str:
    """The grid's [sweep] name (validated by the grid parser), which names the results folder."""
    from sweeps.grid import load_grid

    return load_grid(grid_path).name


def options_from_cli(params: dict[str, Any], driver_args: tuple[str, ...] = ()) -> SlurmOptions:
    """Pick the `slurm_options` values out of a click command's parameters."""
    extra = tuple(token for item in params.get("extra_sbatch") or () for token in shlex.split(item))
    return SlurmOptions(
        nodes=params["nodes"], cpus_per_task=params["cpus_per_task"], mem=params["mem"],
        time=params["time"], partition=params["partition"], account=params["account"],
        qos=params["qos"], gpus_per_node=params["gpus_per_node"], extra_sbatch=extra,
        driver_args=driver_args,
    )


def submit_from_cli(grid_path: str | Path, out_dir: str | Path, params: dict[str, Any],
                    driver_args: tuple[str, ...] = ()) -> str:
    """`sweeps launch --slurm`: validate, write, submit; returns the text to print.

    `params`: the command's keyword arguments (those of `slurm_options` are picked out);
    `driver_args`: launch options to pass on to the driver (e.g. ("--retry-failed",)).
    """
    sweep = sweep_name(grid_path)
    result = submit_sweep(grid_path, out_dir, options_from_cli(params, driver_args), sweep=sweep)
    return describe_submission(result, out_dir, sweep)


SLURM_PARAMS = ("slurm", "nodes", "cpus_per_task", "mem", "time", "partition", "account", "qos",
                "gpus_per_node", "extra_sbatch")


def slurm_options(command: Callable) -> Callable:
    """Click options for `sweeps launch --slurm` and `sweeps slurm-script` (same names as sbatch)."""
    decorators = [
        click.option("--slurm", is_flag=True, help="Submit the sweep as a Slurm batch job that starts Ray "
                                                   "on the allocated nodes, instead of running it here."),
        click.option("--nodes", type=click.IntRange(min=1), default=SlurmOptions.nodes, show_default=True,
                     help="Nodes to allocate (one Ray node each; the first is the head)."),
        click.option("--cpus-per-task", type=click.IntRange(min=1), default=None,
                     help="CPUs per node, given to Ray as --num-cpus (default: what Slurm allocates)."),
        click.option("--mem", default=None, help="Memory per node, sbatch syntax (e.g. 16G)."),
        click.option("--time", default=None, help="Time limit, sbatch syntax (e.g. 04:00:00). The job "
                                                  "requeues itself 120 s before it and resumes."),
        click.option("--partition", default=None, help="Slurm partition."),
        click.option("--account", default=None, help="Slurm account to charge."),
        click.option("--qos", default=None, help="Slurm QOS."),
        click.option("--gpus-per-node", type=click.IntRange(min=0), default=0, show_default=True,
                     help="GPUs per node (--gres=gpu:N), given to Ray as --num-gpus."),
        click.option("--extra-sbatch", multiple=True,
                     help="More sbatch options, e.g. --extra-sbatch '--exclusive --constraint=a100'."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def describe_submission(result: SubmitResult, out_dir: str | Path, sweep: str) -> str:
    """What `sweeps launch --slurm` prints: the job id, the script, and how to follow the sweep."""
    folder = Path(out_dir) / sweep
    return "\n".join([
        f"Submitted Slurm job {result.job_id}",
        f"  script:   {result.script}",
        f"  log:      {result.log}",
        f"  follow:   squeue -j {result.job_id}; tail -f {shlex.quote(str(result.log))}",
        f"  progress: sweeps status {shlex.quote(str(folder))}",
    ])


__all__ = ["SlurmOptions", "SlurmError", "SubmitResult", "render_sbatch", "submit_sweep", "slurm_options",
           "options_from_cli", "submit_from_cli", "sweep_name", "describe_submission", "slurm_dir", "SLURM_PARAMS"]
