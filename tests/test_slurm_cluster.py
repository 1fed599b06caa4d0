"""A sweep on the real local Slurm 22.05 (.ci/slurm-up): Ray across 2 fake nodes, and a requeue.

These submit real batch jobs: the script starts a Ray head and a worker with srun, waits for both,
runs `sweeps launch --address`, and stops Ray. The cluster is shared (fidelity recordings use it
too), so the module holds `localslurm.exclusive()` and (re)starts the default cluster shape.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cluster import localslurm
from cluster.slurm import SlurmOptions, submit_sweep

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SCENARIO = Path(__file__).parent / "data" / "grids" / "scenario.toml"
CLI = [sys.executable, "-c", "from sweeps.cli import main; main()"]


@pytest.fixture(scope="module")
def slurm():
    if shutil.which("sbatch") is None:
        pytest.fail("no sbatch on PATH: run .ci/slurm-up first (it installs and starts the local Slurm)")
    with localslurm.exclusive():
        localslurm.up(localslurm.running_spec() if _usable(localslurm.running_spec())
                      else localslurm.LocalSlurmSpec(accounting=True))
        yield


def _usable(spec: localslurm.LocalSlurmSpec | None) -> bool:
    """A running cluster of the default shape (extra_conf-free, >= 2 nodes) is reused as it is."""
    return spec is not None and spec.nodes >= 2 and not spec.extra_conf


def write_grid(directory: Path, name: str, jobs: int, maxtimes: list[str], seeds: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "grid.toml"
    values = ", ".join(f'"{m}"' for m in maxtimes)
    path.write_text(f'[sweep]\nname = "{name}"\nseeds = {seeds}\n[base]\ninclude = "{SCENARIO}"\n'
                    f'[base.workload]\nkind = "synthetic"\njobs = {jobs}\ndays = 5.0\nusers = 10\n'
                    f'[axes]\n"partitions.gpu.MaxTime" = [{values}]\n')
    return path


def job_field(job_id: str, field: str) -> str:
    out = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True).stdout
    match = re.search(rf"\b{field}=(\S+)", out)
    return match.group(1) if match else ""


def wait_state(job_id: str, states: set[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = job_field(job_id, "JobState")
        if state in states:
            return state
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} not in {states} after {timeout:.0f} s (state {state})")


def release_requeued(job_id: str, timeout: float = 90) -> None:
    """Start a requeued job now instead of after Slurm's 120 s hold, once its previous run has gone.

    The hold is what protects a real requeue from two races that a test releasing at once meets:
    the previous run's batch step may still be exiting (its status is then booked on the new run),
    and slurmd revokes the job's credential at the requeue with one-second resolution, so a run
    launched in the same second is killed ("Job credential revoked"). So: wait until no slurmstepd
    of the job is left and until the clock has passed the second after the job became PENDING.
    """
    wait_state(job_id, {"PENDING"}, timeout)
    pending_at = time.time()
    deadline = time.monotonic() + timeout
    while subprocess.run(["pgrep", "-f", rf"slurmstepd: \[{job_id}\."], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, f"job {job_id}'s previous run still has steps after {timeout:.0f} s"
        time.sleep(0.3)
    time.sleep(max(0.0, math.floor(pending_at) + 2 - time.time()))
    subprocess.run(["scontrol", "update", f"jobid={job_id}", "starttime=now"], check=True)


def stored(root: Path) -> list[tuple[str, str]]:
    if not list((root / "runs").glob("part-*.parquet")):
        return []
    pattern = str(root / "runs" / "part-*.parquet").replace("'", "''")
    return duckdb.sql(f"SELECT run_id, status FROM read_parquet('{pattern}', union_by_name=true)").fetchall()


def test_sweep_with_slurm_on_two_nodes_stores_every_run_and_ray_saw_two_nodes(slurm, tmp_path):
    # Spaces, double quotes and `$` in the paths: sbatch must read the quoted --output line, bash the rest.
    grid = write_grid(tmp_path / "my grids", "two-nodes", jobs=150, maxtimes=["4:00:00", "12:00:00", "1-00:00:00"],
                      seeds=2)
    out = tmp_path / 'results "q" $HOME'

    proc = subprocess.run([*CLI, "launch", str(grid), "--slurm", "--nodes", "2", "--cpus-per-task", "1",
                           "--mem", "2G", "--time", "10", "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    job_id = re.search(r"Submitted Slurm job (\d+)", proc.stdout).group(1)
    assert wait_state(job_id, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}, 300) == "COMPLETED"
    log = (out / "two-nodes" / "slurm" / f"slurm-{job_id}.out").read_text()
    assert re.search(r"trilemma: \S+ ray cluster ready: nodes=2 CPU=2 ", log), log
    assert "6 runs planned, 0 already stored; ran 6 (6 ok, 0 failed)" in log, log
    rows = stored(out / "two-nodes")
    assert len(rows) == len({r for r, _ in rows}) == 6 and {s for _, s in rows} == {"ok"}
    assert not list(Path("/tmp").glob(f"ray-{job_id}-*")), "a node left its Ray temp dir behind"


def test_requeued_sweep_resumes_and_stores_every_run_exactly_once(slurm, tmp_path):
    grid = write_grid(tmp_path, "requeued", jobs=600,
                      maxtimes=["2:00:00", "4:00:00", "8:00:00", "12:00:00", "1-00:00:00", "2-00:00:00"], seeds=4)
    out = tmp_path / "results"
    root = out / "requeued"
    options = SlurmOptions(nodes=2, cpus_per_task=1, mem="2G", time="15",
                           driver_args=("--flush-runs", "1", "--flush-seconds", "0.5"))
    job = submit_sweep(grid, out, options)
    deadline = time.monotonic() + 240
    while not stored(root):
        assert time.monotonic() < deadline, job.log.read_text() if job.log.exists() else "no log"
        assert job_field(job.job_id, "JobState") in {"PENDING", "RUNNING", "CONFIGURING"}, job.log.read_text()
        time.sleep(0.3)
    subprocess.run(["scontrol", "requeue", job.job_id], check=True)
    first_attempt = len(stored(root))
    assert 0 < first_attempt < 24, "the sweep finished before it could be requeued: make runs longer"
    # Slurm holds a requeued job for 120 s (Reason=BeginTime); release it now.
    release_requeued(job.job_id)
    assert wait_state(job.job_id, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}, 360) == "COMPLETED"
    assert job_field(job.job_id, "Restarts") == "1"
    rows = stored(root)
    assert len(rows) == len({r for r, _ in rows}) == 24, "every run exactly once"
    assert {s for _, s in rows} == {"ok"}
    log = job.log.read_text()
    assert len(re.findall(r"trilemma: \S+ ray cluster ready: nodes=2 ", log)) == 2, log
    assert "restart 1" in log
    resumed = re.search(r"24 runs planned, (\d+) already stored", log.split("restart 1", 1)[1])
    assert resumed and int(resumed.group(1)) >= first_attempt, log


def test_time_limit_warning_makes_the_job_requeue_itself_and_finish(slurm, tmp_path):
    grid = write_grid(tmp_path, "warned", jobs=600,
                      maxtimes=["2:00:00", "4:00:00", "8:00:00", "12:00:00", "1-00:00:00", "2-00:00:00"], seeds=3)
    out = tmp_path / "results"
    root = out / "warned"
    options = SlurmOptions(nodes=2, cpus_per_task=1, mem="2G", time="15",
                           driver_args=("--flush-runs", "1", "--flush-seconds", "0.5"))
    job = submit_sweep(grid, out, options)
    deadline = time.monotonic() + 240
    while not stored(root):
        assert time.monotonic() < deadline, job.log.read_text() if job.log.exists() else "no log"
        time.sleep(0.3)
    # What Slurm does 120 s before the time limit (--signal=B:USR1@120), sent now.
    subprocess.run(["scancel", "--batch", "--signal=USR1", job.job_id], check=True)
    release_requeued(job.job_id)
    assert wait_state(job.job_id, {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}, 360) == "COMPLETED"
    log = job.log.read_text()
    assert "time limit near: stopping the driver, then requeueing job" in log, log
    assert job_field(job.job_id, "Restarts") == "1"
    rows = stored(root)
    assert len(rows) == len({r for r, _ in rows}) == 18 and {s for _, s in rows} == {"ok"}
