"""Real faults: kill -9 and SIGTERM of a driver process mid-sweep, a Ray node removed mid-sweep.

Each fault is produced for real in a child process; the checks read the results folder the way a
user would (DuckDB over runs/*.parquet): after a relaunch every planned run is present once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = Path(__file__).parent / "data" / "grids" / "scenario.toml"
CLI = [sys.executable, "-c", "from sweeps.cli import main; main()"]
# 12 cells x 2 seeds; each run simulates enough jobs to take a noticeable fraction of a second
GRID = f"""
[sweep]
name = "faults"
seeds = 2
[base]
include = "{SCENARIO}"
[base.workload]
jobs = 200
days = 1.0
[axes]
"partitions.gpu.MaxTime" = ["2:00:00", "4:00:00", "8:00:00", "12:00:00", "1-00:00:00", "2-00:00:00"]
"qos.normal.MaxTRESPerUser" = ["gres/gpu=4", "gres/gpu=8"]
"""
PLANNED = 24


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAY_AUTH_MODE="disabled",
               RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_ADDRESS", None)
    return env


def _start(grid: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "launch", str(grid), "--out", str(out), "--flush-runs", "1",
                             "--no-progress", *extra], cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stored(out: Path) -> int:
    runs = out / "faults" / "runs"
    if not runs.is_dir():
        return 0
    try:
        return duckdb.sql(f"SELECT count(*) FROM read_parquet('{runs}/*.parquet', "
                          "union_by_name=true)").fetchall()[0][0]
    except duckdb.Error:  # no part file yet
        return 0


def _wait_for(out: Path, stored_at_least: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while _stored(out) < stored_at_least:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.02)


def _each_run_once(out: Path) -> None:
    counts = duckdb.sql(f"SELECT run_id, count(*) AS n, any_value(status) FROM read_parquet("
                        f"'{out}/faults/runs/*.parquet', union_by_name=true) GROUP BY run_id"
                        ).fetchall()
    assert len(counts) == PLANNED
    assert {n for _, n, _ in counts} == {1}
    assert {s for _, _, s in counts} == {"ok"}
    planned = duckdb.sql(f"SELECT count(*) FROM '{out}/faults/plan.parquet'").fetchall()
    assert planned == [(PLANNED,)]


def _finish(grid: Path, out: Path, *extra: str) -> str:
    done = subprocess.run([*CLI, "launch", str(grid), "--out", str(out), "--no-progress",
                           *extra], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    return path


def test_kill_9_of_the_driver_then_relaunch_stores_every_run_once(grid, tmp_path):
    out = tmp_path / "results"
    for stored_before_kill in (2, 7, 13):  # three crashes at different points of the sweep
        process = _start(grid, out, "--serial")
        _wait_for(out, stored_before_kill, process)
        process.kill()
        process.wait()
        assert process.returncode == -signal.SIGKILL
    before = _stored(out)  # a commit cut short by the kill may still be rolled forward
    assert 13 <= before < PLANNED
    stdout = _finish(grid, out, "--serial")
    counts = re.search(r"(\d+) runs planned, (\d+) already stored; ran (\d+) ", stdout)
    planned, stored, ran = map(int, counts.groups())
    assert planned == PLANNED and stored + ran == PLANNED and stored >= before
    _each_run_once(out)


def test_sigterm_stops_cleanly_and_relaunch_completes(grid, tmp_path):
    out = tmp_path / "results"
    process = _start(grid, out, "--serial")
    _wait_for(out, 3, process)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "Interrupted by SIGTERM: " in stderr
    assert f"resume with: sweeps launch {grid} --out {out}" in stderr
    assert "Traceback" not in stderr
    stored = _stored(out)
    assert f"already stored; ran {stored} ({stored} ok, 0 failed)" in stdout
    _finish(grid, out, "--serial")
    _each_run_once(out)


@pytest.mark.slow
def test_sigterm_on_embedded_ray_stops_cleanly_and_relaunch_completes(grid, tmp_path):
    out = tmp_path / "results"
    process = _start(grid, out, "--workers", "2")
    _wait_for(out, 3, process)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=180)
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr
    _finish(grid, out, "--workers", "2")
    _each_run_once(out)


NODE_REMOVAL = textwrap.dedent("""
    import json, os, sys, tempfile, threading, time
    from pathlib import Path
    os.environ["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="rn", dir="/tmp")  # not the shared /tmp/ray
    os.mkdir(os.path.join(os.environ["RAY_TMPDIR"], "ray"))
    import pyarrow.parquet as pq
    from ray.cluster_utils import Cluster
    from sweeps.launch import LaunchOptions, launch

    grid, out = Path(sys.argv[1]), Path(sys.argv[2])
    fast_health = {"health_check_period_ms": 500, "health_check_timeout_ms": 500,
                   "health_check_failure_threshold": 3}
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "_system_config": fast_health})
    doomed = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()

    def remove_when_running():
        runs = out / "faults" / "runs"
        while not (runs.is_dir() and len(list(runs.glob("part-*.parquet"))) >= 2):
            time.sleep(0.02)
        cluster.remove_node(doomed, allow_graceful=False)
        stored = sum(pq.read_metadata(p).num_rows for p in runs.glob("part-*.parquet"))
        print(f"removed with {stored} runs stored", file=sys.stderr)

    threading.Thread(target=remove_when_running, daemon=True).start()
    summary = launch(grid, LaunchOptions(out=out, address=cluster.address, flush_runs=1,
                                         progress=False))
    print(json.dumps({"ok": summary.ok, "failed": summary.failed}))
    cluster.shutdown()
""")


@pytest.mark.slow
def test_ray_worker_node_removed_mid_sweep_the_sweep_completes(grid, tmp_path):
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, "-c", NODE_REMOVAL, str(grid), str(out)], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    removed_at = re.search(r"removed with (\d+) runs stored", done.stderr)
    assert removed_at and int(removed_at.group(1)) < PLANNED - 4  # the sweep was far from done
    summary = json.loads(done.stdout.splitlines()[-1])
    assert (summary["ok"], summary["failed"]) == (PLANNED, 0)
    _each_run_once(out)
