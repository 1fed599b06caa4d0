"""Record a fidelity case on the real local Slurm 22.05 (cluster/localslurm.py) as golden files.

Why this way:
- A fresh cluster per recording (fresh accounting DB, fresh fairshare usage, job ids from 1) and the
  controller's start time recorded, because slurmctld's periodic timers (PriorityCalcPeriod, the
  30 s time-limit check, sched_interval, bf_interval) run from its start (shared/SLURM_NOTES.md).
- Jobs are submitted by sleeping until their offset, then `sbatch --uid --gid`: their real Submit
  second is what sacct records and what the replay feeds the simulator (`--begin` would make them
  eligible only at the next scheduler pass, adding up to a second of noise).
- The local Slurm is shared with other tests: an exclusive flock on LOCK_FILE for the whole
  recording, no foreign pytest running, and interference detection (slurmctld PID or start time
  changed, unknown jobs in the queue or in sacct) which discards the recording.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cluster import localslurm
from cluster.fidelity.case import Case
from cluster.fidelity.golden import GOLDEN_DIR, SACCT_FORMAT

LOCK_FILE = localslurm.LOCK_FILE
SUBMIT_LEAD_S = 3          # first submission this long after the cluster is ready
POLL_S = 1.0               # squeue snapshot period
SACCT_LAG_S = 4            # sacct shows a finished job 1-3 s after it ends
ENV = {**os.environ, "TZ": "UTC"}
SLURM_TEST_WORDS = ("slurm", "cluster", "fidelity")


class Interference(RuntimeError):
    """Someone else used or restarted the local Slurm during the recording."""


@dataclass(frozen=True)
class Recording:
    sacct: str             # full file text (header comments + sacct output)
    squeue: str


def _run(cmd: list[str], check: bool = True) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


@contextmanager
def exclusive_slurm(wait_s: float = 3600.0):
    """Hold the shared Slurm lock (LOCK_FILE, also taken by localslurm.exclusive) with nobody else
    using the cluster: no foreign pytest that may touch Slurm, no foreign jobs queued.

    The lock is never held while waiting for a foreign pytest: that pytest may itself be waiting
    for the lock (tests/test_slurm_cluster.py holds it per module), so we release and retry."""
    LOCK_FILE.touch(exist_ok=True)
    deadline = time.monotonic() + wait_s
    with LOCK_FILE.open("r+") as fh:
        while True:
            busy = _foreign_pytest() or _foreign_jobs()
            if not busy:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    busy = [f"{LOCK_FILE} is locked"]
                else:
                    busy = _foreign_pytest() or _foreign_jobs()
                    if not busy:
                        break
                    fcntl.flock(fh, fcntl.LOCK_UN)
            if time.monotonic() > deadline:
                raise RuntimeError(f"local Slurm still in use after {wait_s:.0f} s: {busy}")
            time.sleep(5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _foreign_pytest() -> list[str]:
    """pytest processes (not our ancestors) that may start/stop the shared Slurm: a run of the whole
    suite (no test paths) or one naming a Slurm/cluster/fidelity test file."""
    out = subprocess.run(["pgrep", "-af", "pytest"], capture_output=True, text=True).stdout
    mine = _ancestors()
    found = []
    for line in out.splitlines():
        words = line.split()
        if not words or int(words[0]) in mine:
            continue
        paths = [w for w in words[2:] if w.startswith("tests") or w.endswith(".py")]
        safe = paths and not any(k in w for w in paths for k in SLURM_TEST_WORDS)
        if not safe:
            found.append(line)
    return found


def _foreign_jobs() -> list[str]:
    """Jobs someone else has queued on the running local cluster (we never destroy them)."""
    if localslurm.running_spec() is None:
        return []
    proc = subprocess.run(["squeue", "-h", "-o", "%i|%u|%T"], capture_output=True, text=True, env=ENV)
    return proc.stdout.split() if proc.returncode == 0 else []


def _ctld_identity() -> tuple[int, float]:
    """(PID, start epoch) of the running slurmctld, from its PID file and /proc."""
    pid = int((localslurm.STATE_DIR / "run" / "slurmctld.pid").read_text().split()[0])
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    start_ticks = int(stat[19])
    btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                 if line.startswith("btime"))
    return pid, btime + start_ticks / os.sysconf("SC_CLK_TCK")


def _ensure_linux_users(users: tuple[str, ...]) -> None:
    for user in users:
        if subprocess.run(["id", user], capture_output=True).returncode != 0:
            _run(["useradd", "--create-home", "--user-group", user])


def _setup_accounting(case: Case) -> None:
    """Case QOS, accounts and users; remove root's associations and the harness account, which the
    case does not define (Fair Tree would rank root among the users)."""
    for args in case.sacctmgr_commands():
        proc = subprocess.run(["sacctmgr", "-i", *args], capture_output=True, text=True, env=ENV)
        if proc.returncode != 0 and "already exists" not in proc.stdout + proc.stderr:
            raise RuntimeError(f"sacctmgr {' '.join(args)}: {proc.stdout.strip()} {proc.stderr.strip()}")
    for account in (localslurm.ACCOUNT, "root"):   # root's associations: the harness's and the default one
        subprocess.run(["sacctmgr", "-i", "delete", "user", "name=root", f"account={account}"],
                       capture_output=True, env=ENV)
    subprocess.run(["sacctmgr", "-i", "delete", "account", localslurm.ACCOUNT], capture_output=True, env=ENV)
    time.sleep(2)  # associations reach slurmctld asynchronously


def _effective_config() -> list[str]:
    keys = ("SchedulerParameters", "SchedulerType", "Priority", "Preempt", "SelectType", "KillWait",
            "OverTimeLimit", "FairShareDampeningFactor", "AccountingStorageEnforce", "SLURM_VERSION")
    out = _run(["scontrol", "show", "config"])
    lines = [" ".join(line.split()) for line in out.splitlines() if line.strip().startswith(keys)]
    # the association tree as the scheduler sees it (root must not appear among the users)
    tree = _run(["sshare", "-a", "-P", "-o", "Account,User,RawShares"], check=False)
    return lines + [f"sshare {line}" for line in tree.splitlines() if line.strip()]


def record(case: Case, log=print) -> Recording:
    """Start a fresh cluster for `case`, run its jobs, and return the golden texts (raises Interference)."""
    spec = localslurm.LocalSlurmSpec(nodes=case.nodes, cpus=case.cpus, real_memory_mb=case.real_memory_mb,
                                     gpus=case.gpus, accounting=True, users=(),
                                     extra_conf=case.slurm_conf_lines())
    _ensure_linux_users(case.users)
    localslurm.down()
    localslurm.up(spec)
    _setup_accounting(case)
    ctld = _ctld_identity()
    config = _effective_config()
    log(f"{case.name}: cluster up, slurmctld pid {ctld[0]} started {ctld[1]:.2f}")
    t0 = int(time.time()) + SUBMIT_LEAD_S
    ids: dict[str, str] = {}
    snapshots: list[str] = []
    last_snapshot: list[str] | None = None
    pending = list(case.jobs)
    next_poll = time.time()
    while True:
        now = time.time()
        if pending and now >= t0 + pending[0].submit_s:
            job = pending.pop(0)
            out = _run(["sbatch", "--parsable", f"--uid={job.user}", f"--gid={job.user}", *job.sbatch_args(),
                        f"--wrap=sleep {job.sleep_s}"])
            ids[out.strip().split(";")[0]] = job.id
            continue
        if now >= next_poll:
            next_poll = now + POLL_S
            if _ctld_identity() != ctld:
                raise Interference("slurmctld was restarted during the recording")
            rows = [r for r in _run(["squeue", "-h", "-o", "%i|%T|%r|%S"]).splitlines() if r.strip()]
            unknown = [r for r in rows if r.split("|")[0] not in ids]
            if unknown:
                raise Interference(f"unknown jobs in squeue: {unknown[:3]}")
            if rows != last_snapshot:
                snapshots += [f"{now:.1f}|{r}" for r in rows] or [f"{now:.1f}|-|EMPTY|-|-"]
                last_snapshot = rows
            if not pending and not rows:
                break
        wake = min(next_poll, t0 + pending[0].submit_s if pending else next_poll)
        time.sleep(max(0.0, wake - time.time()))
    sacct = _collect_sacct(ids, ctld[1])
    if _ctld_identity() != ctld:
        raise Interference("slurmctld was restarted during the recording")
    version = _run(["sinfo", "--version"]).strip()
    header = [
        f"# case: {case.name}",
        f"# case_sha256: {case.sha256}",
        f"# slurm_version: {version}",
        f"# controller_start: {ctld[1]:.2f}",
        f"# first_submit_planned: {t0}",
        f"# recorded_utc: {datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"# sacct: sacct -X -D -P -a --format={SACCT_FORMAT}",
        *(f"# config: {line}" for line in config),
    ]
    squeue_header = [f"# case: {case.name}", f"# controller_start: {ctld[1]:.2f}",
                     "# epoch|JobID|State|Reason|StartTime, one block per change (squeue -h -o '%i|%T|%r|%S'; "
                     "StartTime of a pending job is backfill's planned start)"]
    return Recording("\n".join(header + sacct) + "\n", "\n".join(squeue_header + snapshots) + "\n")


def _collect_sacct(ids: dict[str, str], ctld_start: float) -> list[str]:
    """sacct rows of our jobs once every one shows an End time (the slurmdbd link lags 1-3 s)."""
    since = datetime.fromtimestamp(ctld_start - 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    deadline = time.monotonic() + 120
    while True:
        time.sleep(SACCT_LAG_S)
        out = _run(["sacct", "-X", "-D", "-P", "-a", f"--format={SACCT_FORMAT}", "-S", since]).splitlines()
        cols = out[0].split("|")
        rows = [dict(zip(cols, line.split("|"))) for line in out[1:]]
        unknown = [r["JobIDRaw"] for r in rows if r["JobIDRaw"] not in ids]
        if unknown:
            raise Interference(f"unknown jobs in sacct: {unknown[:3]}")
        seen = {r["JobIDRaw"] for r in rows}
        done = seen == set(ids) and all(r["End"] not in ("Unknown", "") for r in rows)
        if done:
            return out
        if time.monotonic() > deadline:
            raise RuntimeError(f"sacct never showed every job finished: {out[1:]}")


def record_case(case: Case, runs: list[int], log=print, attempts: int = 3) -> list[Path]:
    """Record `runs` (run numbers) of `case` under the shared-Slurm lock; re-record on interference."""
    out_dir = GOLDEN_DIR / case.name
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with exclusive_slurm():
        try:
            for k in runs:
                for attempt in range(1, attempts + 1):
                    try:
                        rec = record(case, log)
                        break
                    except Interference as exc:
                        log(f"{case.name} run{k}: interference ({exc}); discarded, attempt {attempt}/{attempts}")
                else:
                    raise RuntimeError(f"{case.name} run{k}: interference in every attempt")
                (out_dir / f"run{k}.sacct").write_text(rec.sacct)
                (out_dir / f"run{k}.squeue").write_text(rec.squeue)
                written.append(out_dir / f"run{k}.sacct")
                log(f"{case.name} run{k}: written {out_dir / f'run{k}.sacct'}")
        finally:
            localslurm.down()
    return written
