"""Read Slurm accounting (`sacct -X -P [-D] --format=...` with its header) into native job columns.

One job per JobIDRaw: with `-D` a requeued job has one row per run; it keeps its original
submit time and the runtime and resources of its final run. Jobs that never started (Start is
Unknown/None) and jobs still running are skipped and counted. Timestamps become seconds from the
earliest submit; that submit's Unix time is kept as the trace's epoch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from simcore.errors import ConfigError, TrilemmaError, WorkloadError
from simcore.units import parse_duration, parse_tres
from simcore.workload.importing import (
    MAX_SECONDS,
    ImportCounts,
    ParsedTrace,
    options_from_mapping,
    read_trace_text,
)

# Columns the importer reads; every other header column is ignored.
ID_FIELDS = ("JobIDRaw", "JobID")
ELAPSED_FIELDS = ("ElapsedRaw", "Elapsed")
RESOURCE_FIELDS = ("AllocTRES", "ReqTRES", "NNodes", "NCPUS", "AllocCPUS")
LIMIT_FIELDS = ("TimelimitRaw", "Timelimit")
MAX_COUNT = 1e12  # nodes, CPUs, MB or GPUs of one job beyond this are corrupt
NOT_A_TIME = ("", "Unknown", "None", "N/A")
# Timelimit values meaning "no limit of the job's own": the partition's limit applies.
PARTITION_LIMIT = ("UNLIMITED", "Partition_Limit", "INFINITE", "")


@dataclasses.dataclass(frozen=True)
class SacctOptions:
    """Choices the sacct importer makes (docs/workloads.md, "sacct import")."""

    tres: str = "alloc"     # "alloc": AllocTRES (ReqTRES if empty) or "req": ReqTRES (AllocTRES if empty)
    requeue: bool = True    # the jobs' requeue flag (Slurm's JobRequeue=1 default)
    submit: str = "Submit"  # "Submit", or "Eligible": held and --begin jobs arrive when they became eligible

    def check(self, source: str) -> None:
        if self.tres not in ("alloc", "req"):
            raise ConfigError(f"{source}.tres: found {self.tres!r}; allowed: alloc, req")
        if self.submit not in ("Submit", "Eligible"):
            raise ConfigError(f"{source}.submit: found {self.submit!r}; allowed: Submit, Eligible")


@dataclasses.dataclass
class _Job:
    """The rows of one JobIDRaw, reduced as they are read."""

    first_line: int
    submit: int
    runs: int = 0
    final: dict[str, str] | None = None
    final_line: int = 0
    final_start: int = -(2**62)
    last_state: str = ""
    last_submit: int = -(2**62)


def parse_sacct(path: str | Path, options: SacctOptions | Mapping[str, Any] | None = None,
               *, where: str = "workload") -> ParsedTrace:
    """Parse sacct output; errors name the file, line and column.

    `where` prefixes errors in the options (a scenario passes "<file>: workload").
    """
    path = Path(path)
    opts = options_from_mapping(SacctOptions, options, where)
    text = read_trace_text(path, "sacct")
    name = path.name
    lines = text.splitlines()
    # '#' lines are annotations around the sacct output (recordings note the command and config).
    header_no = next((i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), None)
    if header_no is None:
        raise WorkloadError(f"{name}: empty file; expected a sacct -P header line such as JobIDRaw|User|...")
    header, trailing = _split(lines[header_no])
    _check_header(header, name, header_no + 1)
    if opts.submit == "Eligible" and "Eligible" not in header:
        raise WorkloadError(f"{name}:{header_no + 1}: option submit = \"Eligible\" needs an Eligible column")
    index = {column: i for i, column in enumerate(header)}
    id_field = next(f for f in ID_FIELDS if f in index)
    jobs: dict[str, _Job] = {}
    rows = steps = 0
    for lineno in range(header_no + 2, len(lines) + 1):
        line = lines[lineno - 1]
        if not line.strip() or line.startswith("#"):
            continue
        values, _ = _split(line, trailing)
        if values == header:
            continue  # concatenated sacct outputs repeat the header
        if len(values) != len(header):
            raise WorkloadError(
                f"{name}:{lineno}: found {len(values)} '|'-separated fields; the header has {len(header)}"
            )
        rows += 1
        row = dict(zip(header, values))
        job_id = row[id_field].strip()
        if not job_id:
            raise WorkloadError(f"{name}:{lineno}: {id_field} is empty")
        if "." in job_id:
            steps += 1  # a job step (123.batch, 123.0): run without -X
            continue
        submit = _timestamp(row["Submit"], name, lineno, "Submit")
        if submit is None:
            raise WorkloadError(f"{name}:{lineno}: Submit is {row['Submit']!r}; expected a time like 2026-04-16T10:00:00")
        if opts.submit == "Eligible":
            submit = _timestamp(row.get("Eligible", ""), name, lineno, "Eligible") or submit
        job = jobs.get(job_id)
        if job is None:
            job = jobs[job_id] = _Job(first_line=lineno, submit=submit)
        job.submit = min(job.submit, submit)
        job.runs += 1
        if submit >= job.last_submit:  # the latest run decides whether the job has finished
            job.last_submit = submit
            job.last_state = row["State"].split()[0] if row["State"].strip() else ""
        start = _timestamp(row.get("Start", ""), name, lineno, "Start")
        if start is not None and start >= job.final_start:  # the latest run is the final one
            job.final, job.final_line, job.final_start = row, lineno, start
    if not jobs:
        raise WorkloadError(f"{name}: no job rows after the header")
    return _to_columns(jobs, opts, name, rows, steps)


def read_sacct(path: str | Path, options: SacctOptions | Mapping[str, Any] | None = None,
              *, where: str = "workload"):
    """Read sacct output as a native `JobTable` (see parse_sacct for the rules)."""
    from simcore.jobs import JobTable

    parsed = parse_sacct(path, options, where=where)
    return JobTable.from_columns(parsed.columns, source=str(path), time_origin=parsed.epoch)


def _split(line: str, trailing: bool | None = None) -> tuple[list[str], bool]:
    """Split a -P line; `sacct -p` ends every line with '|', `-P` does not."""
    values = line.rstrip("\r\n").split("|")
    if trailing is None:
        trailing = len(values) > 1 and values[-1] == ""
    if trailing and values and values[-1] == "":
        values = values[:-1]
    return values, trailing


def _check_header(header: list[str], name: str, lineno: int) -> None:
    needs = [("JobIDRaw or JobID", ID_FIELDS), ("Submit", ("Submit",)), ("Start", ("Start",)),
             ("State", ("State",)), ("ElapsedRaw or Elapsed", ELAPSED_FIELDS)]
    for label, options in needs:
        if not any(o in header for o in options):
            raise WorkloadError(
                f"{name}:{lineno}: header has no {label} column; run sacct -X -P "
                "--format=JobIDRaw,User,Account,Partition,QOS,Submit,Start,End,ElapsedRaw,"
                "TimelimitRaw,ReqTRES,AllocTRES,NNodes,State"
            )


def _timestamp(text: str, name: str, lineno: int, column: str) -> int | None:
    text = text.strip()
    if text in NOT_A_TIME:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WorkloadError(
            f"{name}:{lineno}: {column} is {text!r}; expected a time like 2026-04-16T10:00:00, Unknown or None"
        ) from None
    # sacct prints local time without a zone; it is read as UTC so differences are exact.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def _seconds(row: dict[str, str], fields: tuple[str, str], raw_unit: int, name: str, lineno: int) -> int | None:
    """A duration from the Raw column (in `raw_unit` seconds) or the formatted one; None = no limit."""
    raw, formatted = fields
    if raw in row:
        text = row[raw].strip()
        if text in PARTITION_LIMIT:
            return None
        if not text.lstrip("-").isdigit():
            raise WorkloadError(f"{name}:{lineno}: {raw} is {text!r}; expected a whole number")
        value = int(text) * raw_unit
        column = raw
    else:
        text = row[formatted].strip()
        if text in PARTITION_LIMIT:
            return None
        try:
            value = parse_duration(text, f"{name}:{lineno}: {formatted}")
        except TrilemmaError as exc:
            raise WorkloadError(str(exc)) from None
        if value is None:
            return None
        column = formatted
    if value < 0 or value > MAX_SECONDS:
        raise WorkloadError(
            f"{name}:{lineno}: {column} is {text!r}; expected 0 to {MAX_SECONDS} s"
        )
    return value


def _resources(row: dict[str, str], opts: SacctOptions, name: str, lineno: int) -> tuple[int, int, int, int, str]:
    """(nodes, cpus, mem_mb per node, gpus, gpu_type) from the TRES columns, else NNodes/NCPUS."""
    order = ("AllocTRES", "ReqTRES") if opts.tres == "alloc" else ("ReqTRES", "AllocTRES")
    tres: dict[str, float] = {}
    for column in order:
        text = row.get(column, "").strip()
        if text:
            try:
                tres = parse_tres(text, f"{name}:{lineno}: {column}")
            except TrilemmaError as exc:
                raise WorkloadError(str(exc)) from None
            break
    nodes = int(tres.get("node", 0)) or _count(row, "NNodes", name, lineno) or 1
    cpus = (int(tres.get("cpu", 0)) or _count(row, "NCPUS", name, lineno) or _count(row, "AllocCPUS", name, lineno)
            or nodes)  # unknown: one CPU per node
    mem_total = float(tres.get("mem", 0))
    gpus = int(tres.get("gres/gpu", 0))
    gpu_type = ""
    for key, count in sorted(tres.items()):
        if key.startswith("gres/gpu:"):
            gpu_type = key.split(":", 1)[1]
            gpus = gpus or int(count)
            break
    mem_mb = int(math.ceil(mem_total / nodes))
    for label, value in (("nodes", nodes), ("cpus", cpus), ("memory (MB)", mem_mb), ("GPUs", gpus)):
        if value > MAX_COUNT:
            raise WorkloadError(f"{name}:{lineno}: {label} = {value}; at most {MAX_COUNT:.0e} is accepted")
    return nodes, cpus, mem_mb, gpus, gpu_type


def _count(row: dict[str, str], column: str, name: str, lineno: int) -> int:
    text = row.get(column, "").strip()
    if not text:
        return 0
    if not text.isdigit():
        raise WorkloadError(f"{name}:{lineno}: {column} is {text!r}; expected a whole number")
    return int(text)


def _to_columns(jobs: dict[str, _Job], opts: SacctOptions, name: str, rows: int, steps: int) -> ParsedTrace:
    never = running = requeued = 0
    kept: list[tuple[str, _Job]] = []
    for job_id, job in jobs.items():
        if job.final is None:
            never += 1
        elif job.last_state in ("RUNNING", "PENDING", "SUSPENDED", "REQUEUED", "RESIZING"):
            running += 1
        else:
            kept.append((job_id, job))
            requeued += job.runs > 1
    if not kept:
        raise WorkloadError(f"{name}: no finished job in the file ({never} never started, {running} still running)")
    kept.sort(key=lambda item: (item[1].submit, item[1].first_line))
    epoch = kept[0][1].submit
    resource_cache: dict[tuple[str, ...], tuple[int, int, int, int, str]] = {}
    out: dict[str, list] = {key: [] for key in (
        "job_id", "user", "account", "partition", "qos", "submit", "time_limit", "runtime",
        "nodes", "cpus", "mem_mb", "gpus", "gpu_type", "name")}
    for job_id, job in kept:
        row, lineno = job.final, job.final_line
        elapsed = _seconds(row, ELAPSED_FIELDS, 1, name, lineno)
        limit = _seconds(row, LIMIT_FIELDS, 60, name, lineno) if _has_any(row, LIMIT_FIELDS) else None
        # Traces repeat a few hundred resource shapes over many rows: work each out once.
        shape = tuple(row.get(c, "") for c in RESOURCE_FIELDS)
        resources = resource_cache.get(shape)
        if resources is None:
            resources = resource_cache[shape] = _resources(row, opts, name, lineno)
        nodes, cpus, mem_mb, gpus, gpu_type = resources
        out["job_id"].append(job_id)
        out["user"].append(row.get("User", "").strip())
        out["account"].append(row.get("Account", "").strip())
        out["partition"].append(row.get("Partition", "").strip())
        out["qos"].append(row.get("QOS", "").strip())
        out["submit"].append(job.submit - epoch)
        out["time_limit"].append(limit or 0)
        out["runtime"].append(elapsed or 0)
        out["nodes"].append(nodes)
        out["cpus"].append(cpus)
        out["mem_mb"].append(mem_mb)
        out["gpus"].append(gpus)
        out["gpu_type"].append(gpu_type)
        out["name"].append(row.get("JobName", "").strip())
    n = len(kept)
    columns: dict[str, np.ndarray] = {}
    for key, values in out.items():
        is_text = key in ("job_id", "user", "account", "partition", "qos", "gpu_type", "name")
        columns[key] = np.asarray(values, dtype=object if is_text else np.int64)
    columns["exclusive"] = np.zeros(n, dtype=bool)
    columns["dependency"] = np.full(n, "", dtype=object)
    columns["requeue"] = np.full(n, opts.requeue, dtype=bool)
    columns["checkpoint_s"] = np.zeros(n, dtype=np.int64)
    counts = ImportCounts(
        rows=rows, jobs=n, skipped_never_started=never, skipped_running=running,
        skipped_steps=steps, requeued_jobs=requeued,
    )
    return ParsedTrace(columns=columns, counts=counts, epoch=epoch)


def _has_any(row: dict[str, str], fields: tuple[str, str]) -> bool:
    return any(f in row for f in fields)
