"""Results folders built by the analysis tests themselves (docs/results.md layout).

The metrics follow the trilemma's shape so fronts are meaningful: a longer MaxTime raises GPU
utilisation and the p95 wait, a higher per-user GPU cap lowers limit-idle GPU-hours and
raises waits. Seeds add small deterministic noise.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MAXTIMES = ["1-00:00:00", "3-00:00:00", "7-00:00:00"]
GPU_CAPS = ["gres/gpu=4", "gres/gpu=8", "gres/gpu=16"]
AXES = ["partitions.gpu.MaxTime", "qos.normal.MaxTRESPerUser"]
OBJECTIVES = {"gpu_util": "max", "wait_p95_h": "min", "limit_idle_gpu_h": "min"}

GRID_TOML = '''name = "maxtime-x-gpucap"
seeds = [1, 2, 3]

[objectives]
gpu_util = "max"
wait_p95_h = "min"
limit_idle_gpu_h = "min"

[axes]
"partitions.gpu.MaxTime" = ["1-00:00:00", "3-00:00:00", "7-00:00:00"]
"qos.normal.MaxTRESPerUser" = ["gres/gpu=4", "gres/gpu=8", "gres/gpu=16"]

[base]
name = "university-gpu"

[[base.cluster.nodes]]
NodeName = "gpu[01-25]"
CPUs = 64
RealMemory = 512000
Gres = "gpu:a100:4"

[base.partitions.gpu]
Nodes = "ALL"
MaxTime = "3-00:00:00"
DefaultTime = "1:00:00"
Default = true

[base.partitions.debug]
Nodes = "gpu[01-02]"
MaxTime = "00:15:00"
PriorityTier = 2
MaxNodes = 1

[base.qos.normal]
MaxTRESPerUser = "gres/gpu=8"
GrpTRESRunMins = "gres/gpu=7200"

[base.workload]
kind = "synthetic"
'''


def _hash(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _metrics(maxtime_i: int, cap_i: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng([maxtime_i, cap_i, seed])
    noise = rng.normal(0.0, 1.0, 4)
    return {
        "gpu_util": 0.60 + 0.08 * maxtime_i + 0.04 * cap_i + 0.005 * noise[0],
        "cpu_util": 0.40 + 0.05 * maxtime_i + 0.01 * noise[1],
        "wait_p95_h": 2.0 + 3.0 * maxtime_i + 1.5 * cap_i + 0.1 * noise[2],
        "wait_p50_h_debug": 0.05 + 0.01 * cap_i,
        "limit_idle_gpu_h": 400.0 - 150.0 * cap_i + 5.0 * noise[3],
        "started_15min_frac": 0.7 - 0.1 * maxtime_i,
        "jobs_total": 1000,
    }


def build_results(
    root: Path,
    *,
    seeds: tuple[int, ...] = (1, 2, 3),
    jobs: bool = False,
    timeseries: bool = False,
    failed: int = 0,
    nan_cell: bool = False,
    temp_files: bool = True,
) -> Path:
    """Write a 3x3-cell sweep with `seeds` replicates to `root`; return the folder.

    `failed` marks that many runs as failed, `nan_cell` makes gpu_util NaN in one cell,
    `temp_files` adds an unfinished `.tmp` part and a hidden file that readers must skip.
    """
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for (i, maxtime), (j, cap) in itertools.product(enumerate(MAXTIMES), enumerate(GPU_CAPS)):
        cell_id = _hash(maxtime, cap)
        for seed in seeds:
            row = {
                "run_id": _hash(maxtime, cap, seed),
                "cell_id": cell_id,
                "seed": seed,
                "status": "ok",
                "error": None,
                AXES[0]: maxtime,
                AXES[1]: cap,
                **_metrics(i, j, seed),
                "wall_s": 0.5,
                "model_version": "test-1",
            }
            if nan_cell and (i, j) == (0, 0):
                row["gpu_util"] = float("nan")
            rows.append(row)
    for row in rows[:failed]:
        row.update(status="failed", error="ValueError: boom")
        for key in _metrics(0, 0, 0):
            row[key] = None
    table = pa.Table.from_pylist(rows)
    (root / "runs").mkdir(exist_ok=True)
    half = len(rows) // 2
    pq.write_table(table.slice(0, half), root / "runs" / "part-00000.parquet")
    pq.write_table(table.slice(half), root / "runs" / "part-00001.parquet")
    if temp_files:
        pq.write_table(table.slice(0, 3), root / "runs" / "part-00002.parquet.tmp")
        pq.write_table(table.slice(0, 3), root / "runs" / ".part-00003.parquet")
    manifest = {
        "name": "maxtime-x-gpucap",
        "grid_source": GRID_TOML,
        "grid_hash": _hash(GRID_TOML),
        "axes": AXES,
        "objectives": OBJECTIVES,
        "versions": {"model_version": "test-1"},
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if jobs:
        _write_jobs(root, rows)
    if timeseries:
        _write_timeseries(root, rows)
    return root


def _write_jobs(root: Path, rows: list[dict]) -> None:
    """Per-job rows with the columns of docs/metrics.md ("Per-job output"), one part file."""
    reasons = ["Priority", "Resources", "QOSMaxGRESPerUser"]
    parts = []
    for row in rows:
        rng = np.random.default_rng(int(row["run_id"], 16))
        n = 200
        submit = np.sort(rng.integers(0, 86400 * 3, n)).astype(float)
        wait = rng.exponential(3600 * (1 + (row["wait_p95_h"] or 0) / 5), n)
        start = submit + wait
        pending = {f"pending_{r}_s": wait * share for r, share in zip(reasons, rng.dirichlet([1, 1, 1], n).T)}
        parts.append(
            pa.table(
                {
                    "run_id": [row["run_id"]] * n,
                    "job_id": [str(k) for k in range(n)],
                    "user": [f"u{k % 7}" for k in range(n)],
                    "partition": ["gpu"] * n,
                    "submit": submit,
                    "start": start,
                    "end": start + rng.integers(60, 86400, n),
                    "wait_s": wait,
                    "time_limit": rng.choice([900, 3600 * 3, 86400 * 2], n),
                    "gpus": rng.integers(1, 12, n),
                    "state": ["COMPLETED"] * n,
                    **pending,
                }
            )
        )
    (root / "jobs").mkdir(exist_ok=True)
    pq.write_table(pa.concat_tables(parts), root / "jobs" / "part-00000.parquet")


def _write_timeseries(root: Path, rows: list[dict]) -> None:
    """Per-interval rows with the columns of docs/metrics.md ("Time series"), one part file."""
    parts = []
    for row in rows:
        t = np.arange(0, 86400 * 3, 3600, dtype=float)
        phase = np.sin(t / 86400 * 2 * np.pi)
        parts.append(
            pa.table(
                {
                    "run_id": [row["run_id"]] * t.size,
                    "t": t,
                    "gpus_alloc": np.clip(80 + 15 * phase, 0, 100),
                    "cpus_alloc": np.clip(1200 + 200 * phase, 0, 1600),
                    "queue_len": np.clip(20 + 15 * phase, 0, None).astype(np.int64),
                    "running": np.full(t.size, 40, dtype=np.int64),
                }
            )
        )
    (root / "timeseries").mkdir(exist_ok=True)
    pq.write_table(pa.concat_tables(parts), root / "timeseries" / "part-00000.parquet")
