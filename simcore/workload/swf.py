"""Read Standard Workload Format traces (Parallel Workloads Archive) into native job columns.

SWF has no GPUs, often no requested times and no users; every gap is filled by a documented
option (docs/workloads.md, "SWF import") rather than guessed silently.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np

from simcore.errors import ConfigError, WorkloadError
from simcore.workload.importing import (
    MAX_SECONDS,
    ImportCounts,
    ParsedTrace,
    options_from_mapping,
    read_trace_text,
)

# SWF field numbers (1-based, as in the format's definition) and their names for error messages.
FIELD_NAMES = (
    "job number", "submit time", "wait time", "run time", "allocated processors",
    "average CPU time", "used memory", "requested processors", "requested time",
    "requested memory", "status", "user id", "group id", "application", "queue",
    "partition", "preceding job", "think time",
)
N_FIELDS = 18
MAX_SUBMIT = 100 * 365 * 86400
MAX_VALUE = 1e15  # any field: beyond this it is corrupt (and would not fit the 64-bit columns)
# Status 2, 3, 4 are partial executions of a checkpointed or swapped job; the job itself
# appears once more with its summary status (0, 1, 5), so partial lines are skipped.
PARTIAL_STATUS = (2, 3, 4)
_PLAIN = r"-?(?:\d+(?:\.\d*)?|\.\d+)"  # a decimal that Arrow and float() read alike
_PLAIN_LINE = rf"^[ \t]*(?:{_PLAIN}[ \t]+){{{N_FIELDS - 1}}}{_PLAIN}[ \t]*$"
_UNIX_START = re.compile(r";\s*UnixStartTime:\s*(-?\d+)")


@dataclasses.dataclass(frozen=True)
class SwfOptions:
    """How SWF fields map onto Slurm jobs (docs/workloads.md lists each with its fallback)."""

    procs_as: str = "gpus"            # "gpus" or "cpus": what one SWF processor becomes
    procs_per_node: int = 4           # SWF processors one node holds: nodes = ceil(procs / this)
    cpus_per_gpu: int = 8             # CPUs requested per GPU when procs_as = "gpus"
    missing_time_limit: str = "scaled"  # "scaled" (runtime x factor, rounded up) or "default"
    time_limit_factor: float = 2.0
    time_limit_round: int = 900       # seconds; scaled limits are rounded up to a multiple
    missing_user: str = "unknown"     # user name for jobs whose user id is -1
    synthetic_users: int = 0          # > 0: spread unknown users over this many names instead
    partition: str = ""               # partition for all jobs; "" = the default partition
    queue_map: tuple = ()             # SWF queue number -> partition name (overrides `partition`)
    preceding_as_dependency: bool = False  # field 17 becomes "afterany:<job>"
    qos: str = ""

    def check(self, source: str) -> None:
        if self.procs_as not in ("gpus", "cpus"):
            raise ConfigError(f"{source}.procs_as: found {self.procs_as!r}; allowed: gpus, cpus")
        if self.procs_per_node < 1:
            raise ConfigError(f"{source}.procs_per_node: found {self.procs_per_node}; must be >= 1")
        if self.cpus_per_gpu < 0:
            raise ConfigError(f"{source}.cpus_per_gpu: found {self.cpus_per_gpu}; must be >= 0")
        if self.missing_time_limit not in ("scaled", "default"):
            raise ConfigError(
                f"{source}.missing_time_limit: found {self.missing_time_limit!r}; "
                "allowed: scaled, default"
            )
        if not self.time_limit_factor >= 1.0:
            raise ConfigError(
                f"{source}.time_limit_factor: found {self.time_limit_factor}; must be >= 1"
            )
        if self.time_limit_round < 1:
            raise ConfigError(f"{source}.time_limit_round: found {self.time_limit_round}; must be >= 1")
        if self.synthetic_users < 0:
            raise ConfigError(f"{source}.synthetic_users: found {self.synthetic_users}; must be >= 0")
        for queue, _ in self.queue_map:
            if not queue.lstrip("-").isdigit():
                raise ConfigError(f"{source}.queue_map.{queue}: SWF queue numbers are integers")


def parse_swf(path: str | Path, options: SwfOptions | Mapping[str, Any] | None = None,
               *, where: str = "workload") -> ParsedTrace:
    """Parse an SWF file; errors name the file, line and field.

    `where` prefixes errors in the options (a scenario passes "<file>: workload").
    """
    path = Path(path)
    opts = options_from_mapping(SwfOptions, options, where)
    text = read_trace_text(path, "SWF")
    lines = text.splitlines()
    values, job = _read_plain(lines)
    unix_start: int | None = None
    # Comments, blank lines and job lines that are not plain decimals, in file order (so the
    # first bad line is the one reported and the last UnixStartTime counts).
    for k in np.flatnonzero(~job):
        line = lines[k].strip()
        if line.startswith(";"):
            match = _UNIX_START.match(line)
            if match:
                unix_start = int(match.group(1))
        elif line:
            values[k] = _parse_line(line, path.name, k + 1)
            job[k] = True
    values, linenos = values[job], np.flatnonzero(job) + 1
    ran = ~np.isin(values[:, 10], PARTIAL_STATUS)
    if not ran.any():
        raise WorkloadError(f"{path}: no job lines found (SWF lines have {N_FIELDS} numeric fields)")
    n_rows = len(values)
    partial = n_rows - int(np.count_nonzero(ran))
    return _to_columns(values[ran], linenos[ran], opts, path.name, unix_start, n_rows, partial)


def read_swf(path: str | Path, options: SwfOptions | Mapping[str, Any] | None = None,
              *, where: str = "workload"):
    """Read an SWF trace as a native `JobTable` (see parse_swf for the columns and counts)."""
    from simcore.jobs import JobTable

    parsed = parse_swf(path, options, where=where)
    return JobTable.from_columns(parsed.columns, source=str(path), time_origin=parsed.epoch)


def _parse_line(line: str, name: str, lineno: int) -> list[int]:
    parts = line.split()
    if len(parts) != N_FIELDS:
        raise WorkloadError(
            f"{name}:{lineno}: found {len(parts)} fields; SWF job lines have {N_FIELDS} "
            "whitespace-separated numbers"
        )
    values = []
    for i, token in enumerate(parts):
        try:
            number = float(token)
        except ValueError:
            raise WorkloadError(
                f"{name}:{lineno}: field {i + 1} ({FIELD_NAMES[i]}) is {token!r}; expected a number "
                "(-1 = unknown)"
            ) from None
        if number > MAX_VALUE:
            raise WorkloadError(
                f"{name}:{lineno}: field {i + 1} ({FIELD_NAMES[i]}) is {token}; at most {MAX_VALUE:.0e} is accepted"
            )
        if not math.isfinite(number) or (number < 0 and number != -1):
            raise WorkloadError(
                f"{name}:{lineno}: field {i + 1} ({FIELD_NAMES[i]}) is {token}; expected >= 0 or -1 "
                "(unknown)"
            )
        values.append(math.ceil(number))  # fractional seconds/KB round up
    return values


def _read_plain(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read job lines of plain decimals in bulk: (lines x N_FIELDS) int64 values and a mask of lines read.

    One float() per field made a 100k-job import take seconds. A line is read here only if it is
    N_FIELDS plain decimals (digits, at most one '.', a leading '-') separated by spaces or tabs, so it
    splits and parses exactly as in `_parse_line` (Arrow's and Python's float parsing both round
    correctly), and only if `_parse_line` would accept every value. Every other line (comments,
    blank lines, exponents, '+', non-ASCII, a wrong field count, a value out of range) is left
    unread, for the caller to read with `_parse_line` or report.
    """
    import pyarrow as pa              # lazily, as in simcore.jobs: most runs read no SWF file
    import pyarrow.compute as pc

    plain_line = pc.match_substring_regex(pa.array(lines, type=pa.large_string()), _PLAIN_LINE)
    read = plain_line.to_numpy(zero_copy_only=False, writable=True)
    raw = np.frombuffer(("\n" + "\n".join(compress(lines, read)) + "\n").encode(), dtype=np.uint8)
    word = raw > 32  # only digits, '.', '-', ' ', tab and newline are left
    lengths = np.flatnonzero(word[:-1] & ~word[1:])  # each token's last byte ...
    lengths -= np.flatnonzero(word[1:] & ~word[:-1])  # ... less the byte just before it
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = pa.LargeStringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(raw[word]))
    numbers = pc.cast(tokens, pa.float64()).to_numpy().reshape(-1, N_FIELDS)
    accepted = ((numbers <= MAX_VALUE) & ((numbers >= 0) | (numbers == -1))).all(axis=1)
    rows = np.flatnonzero(read)
    read[rows[~accepted]] = False
    values = np.zeros((len(lines), N_FIELDS), dtype=np.int64)
    values[rows[accepted]] = np.ceil(numbers)[accepted]  # fractions round up; exact as int64
    return values, read


def _check_range(column: np.ndarray, limit: int, field: int, name: str, lines: np.ndarray) -> None:
    bad = np.flatnonzero(column > limit)
    if bad.size:
        i = bad[0]
        raise WorkloadError(
            f"{name}:{lines[i]}: field {field} ({FIELD_NAMES[field - 1]}) is {column[i]} s; "
            f"at most {limit} s is accepted"
        )


def _to_columns(
    data: np.ndarray, lines: np.ndarray, opts: SwfOptions, name: str,
    unix_start: int | None, n_rows: int, partial: int,
) -> ParsedTrace:
    _check_range(data[:, 1], MAX_SUBMIT, 2, name, lines)
    _check_range(data[:, 3], MAX_SECONDS, 4, name, lines)
    _check_range(data[:, 8], MAX_SECONDS, 9, name, lines)
    runtime = data[:, 3]
    procs = np.where(data[:, 4] > 0, data[:, 4], data[:, 7])  # allocated, else requested
    started = (runtime > 0) & (procs > 0) & (data[:, 1] >= 0)
    never = int(np.count_nonzero(~started))
    data, lines, runtime, procs = data[started], lines[started], runtime[started], procs[started]
    if data.shape[0] == 0:
        raise WorkloadError(f"{name}: no job ran (every line has run time or processors <= 0 or -1)")
    order = np.argsort(data[:, 1], kind="stable")
    data, runtime, procs = data[order], runtime[order], procs[order]

    submit0 = int(data[0, 1])
    submit = data[:, 1] - submit0
    nodes = -(-procs // opts.procs_per_node)
    if opts.procs_as == "gpus":
        gpus = procs
        cpus = procs * opts.cpus_per_gpu
    else:
        gpus = np.zeros_like(procs)
        cpus = procs
    # Requested memory is KB per processor; the native column is MB per node.
    per_proc_kb = data[:, 9]
    mem_mb = np.where(per_proc_kb > 0, -(-(per_proc_kb * np.minimum(procs, opts.procs_per_node)) // 1024), 0)

    requested = data[:, 8]
    if opts.missing_time_limit == "scaled":
        step = opts.time_limit_round
        scaled = np.ceil(runtime * opts.time_limit_factor / step).astype(np.int64) * step
        fallback = scaled
    else:
        fallback = np.zeros_like(runtime)  # 0 = the partition's DefaultTime
    time_limit = np.where(requested > 0, requested, fallback)

    job_id = _named("", data[:, 0])
    user = _users(data[:, 11], data[:, 0], opts)
    account = np.where(data[:, 12] >= 0, _named("g", data[:, 12]), "")
    partition = _partitions(data[:, 14], opts)
    if opts.preceding_as_dependency:
        dependency = np.where(data[:, 16] > 0, _named("afterany:", data[:, 16]), "")
    else:
        dependency = np.full(len(data), "", dtype=object)
    n = len(data)
    columns = {
        "job_id": job_id,
        "user": user,
        "account": account,
        "partition": partition,
        "qos": np.full(n, opts.qos, dtype=object),
        "submit": submit.astype(np.int64),
        "time_limit": time_limit.astype(np.int64),
        "runtime": runtime.astype(np.int64),
        "nodes": nodes.astype(np.int64),
        "cpus": cpus.astype(np.int64),
        "mem_mb": mem_mb.astype(np.int64),
        "gpus": gpus.astype(np.int64),
        "gpu_type": np.full(n, "", dtype=object),
        "exclusive": np.zeros(n, dtype=bool),
        "dependency": np.asarray(dependency, dtype=object),
        "requeue": np.ones(n, dtype=bool),
        "checkpoint_s": np.zeros(n, dtype=np.int64),
    }
    counts = ImportCounts(
        rows=n_rows, jobs=n, skipped_never_started=never, skipped_partial=partial
    )
    epoch = unix_start + submit0 if unix_start is not None else None
    return ParsedTrace(columns=columns, counts=counts, epoch=epoch)


def _named(prefix: str, numbers: np.ndarray) -> np.ndarray:
    """`prefix` + each number, as Python strings made once per distinct number.

    Ids repeat (users, groups), and the job table stores Python strings: building them here,
    shared, is much cheaper than numpy string arrays converted element by element.
    """
    distinct, index = np.unique(numbers, return_inverse=True)
    return np.array([f"{prefix}{number}" for number in distinct.tolist()], dtype=object)[index]


def _users(user_ids: np.ndarray, job_ids: np.ndarray, opts: SwfOptions) -> np.ndarray:
    named = _named("u", user_ids)
    if opts.synthetic_users > 0:
        # Deterministic spread by job number, so the same trace always gets the same names.
        width = len(str(opts.synthetic_users))
        slot = (job_ids * 2654435761) % opts.synthetic_users
        synthetic = np.char.add("user", np.char.zfill(slot.astype(str), width))
    else:
        synthetic = np.full(len(user_ids), opts.missing_user)
    return np.where(user_ids >= 0, named, synthetic).astype(object)


def _partitions(queues: np.ndarray, opts: SwfOptions) -> np.ndarray:
    out = np.full(len(queues), opts.partition, dtype=object)
    for queue, partition in opts.queue_map:
        out[queues == int(queue)] = partition
    return out
