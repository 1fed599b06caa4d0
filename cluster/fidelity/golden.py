"""Golden trace files: the sacct rows and squeue snapshots of one recording on the real Slurm.

Layout (tests/fidelity/golden/<case>/):
- run<k>.sacct: `# key: value` header lines (case hash, Slurm version, controller start, ...), then
  `sacct -X -D -P` output as Slurm printed it (header line first; a requeued job has one row per run);
- run<k>.squeue: `epoch|JobID|State|Reason|StartTime` lines, one block per change of the queue.

Times in the parsed form are integer seconds from the controller start (`controller_start`), the
origin of slurmctld's periodic timers, so a simulation that starts its timers at t=0 is in phase.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from simcore.errors import WorkloadError

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "tests" / "fidelity" / "golden"
SACCT_FORMAT = ("JobIDRaw,JobName,User,Account,Partition,QOS,Submit,Eligible,Start,End,State,Flags,"
                "NodeList,AllocTRES,NNodes,ElapsedRaw,TimelimitRaw,Priority,Reason")
NOT_A_TIME = ("", "Unknown", "None", "N/A")


@dataclass(frozen=True)
class Run:
    """One row of `sacct -D`: one run of a job (times in s from controller start, None if unknown)."""

    slurm_id: str
    name: str
    submit: int | None
    eligible: int | None
    start: int | None
    end: int | None
    state: str
    started_by: str        # "main", "backfill" or ""
    node_list: str
    nnodes: int
    alloc_cpus: int
    alloc_gpus: int
    elapsed: int
    row: dict[str, str] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class Golden:
    """A parsed run<k>.sacct file."""

    path: Path
    header: dict[str, str]
    runs: tuple[Run, ...]

    @property
    def controller_start(self) -> float:
        return float(self.header["controller_start"])

    def by_job(self) -> dict[str, list[Run]]:
        """Runs per case job id (JobName), in time order."""
        out: dict[str, list[Run]] = {}
        for r in self.runs:
            out.setdefault(r.name, []).append(r)
        for runs in out.values():
            runs.sort(key=lambda r: (r.start is None, r.start or 0, r.submit or 0))
        return out


def golden_paths(case: str) -> list[Path]:
    return sorted((GOLDEN_DIR / case).glob("run*.sacct"), key=lambda p: int(p.stem[3:]))


def epoch_of(text: str) -> int | None:
    """sacct local time `2026-11-27T08:00:00` -> UNIX seconds (the recorder runs with TZ=UTC)."""
    if text in NOT_A_TIME:
        return None
    return calendar.timegm(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").timetuple())


def _tres(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if "=" in item)


def read_golden(path: Path) -> Golden:
    header: dict[str, str] = {}
    lines = path.read_text().splitlines()
    body = []
    for line in lines:
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            header[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    if "controller_start" not in header or not body:
        raise WorkloadError(f"{path}: not a golden trace (needs '# controller_start:' and a sacct header line)")
    origin = int(float(header["controller_start"]))  # timers fire at origin + k*period + a fraction
    cols = body[0].split("|")
    runs = []
    for lineno, line in enumerate(body[1:], 2):
        row = dict(zip(cols, line.split("|")))
        rel = lambda key: None if epoch_of(row[key]) is None else int(epoch_of(row[key]) - origin)  # noqa: E731
        flags = row.get("Flags", "")
        tres = _tres(row.get("AllocTRES", ""))
        runs.append(Run(
            slurm_id=row["JobIDRaw"], name=row["JobName"], submit=rel("Submit"), eligible=rel("Eligible"),
            start=rel("Start"), end=rel("End"), state=row["State"].split()[0],
            started_by="backfill" if "SchedBackfill" in flags else "main" if "SchedMain" in flags else "",
            node_list=row.get("NodeList", ""), nnodes=int(row.get("NNodes") or 0),
            alloc_cpus=int(tres.get("cpu", 0)), alloc_gpus=int(tres.get("gres/gpu", 0)),
            elapsed=int(row.get("ElapsedRaw") or 0), row=row,
        ))
    return Golden(path, header, tuple(runs))


def read_squeue(path: Path, origin: float) -> list[tuple[int, str, str, str]]:
    """(t from controller start, slurm job id, state, reason) rows of a run<k>.squeue file."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        t, jid, state, reason = line.split("|")[:4]   # older files lack the 5th field, StartTime
        out.append((int(float(t)) - int(origin), jid, state, reason))
    return out
