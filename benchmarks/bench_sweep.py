"""Sweep overhead: N short simcore runs through `sweeps launch` serially and on embedded Ray.

Prints, for each mode, wall seconds, runs/s, simulated jobs/s and the overhead over the pure
simulation time (sum of the runs' own wall_s, divided by the workers), plus the driver time per
stored run (serial: wall minus simulation time; Ray: the driver's CPU time) and peak RSS.
On a shared machine the workers' own wall_s grows with contention; compare runs/s too.
Target (issue 6): Ray overhead under 5% of total run time at 2 workers, Ray start excluded.

    python benchmarks/bench_sweep.py [--runs 1000] [--jobs 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sweeps.launch import LaunchOptions, launch  # noqa: E402

SCENARIO = """
name = "bench"
[[cluster.nodes]]
NodeName = "g[01-04]"
CPUs = 32
RealMemory = 256000
Gres = "gpu:4"
[partitions.gpu]
Nodes = "ALL"
MaxTime = "1-00:00:00"
Default = true
[qos.normal]
MaxTRESPerUser = "gres/gpu=8"
[workload]
kind = "synthetic"
jobs = {jobs}
days = 1.0
users = 8
"""


def _grid(directory: Path, runs: int, jobs: int, name: str = "bench") -> Path:
    cells = max(1, runs // 10)
    (directory / "scenario.toml").write_text(SCENARIO.format(jobs=jobs))
    caps = [f"gres/gpu={i + 1}" for i in range(cells)]  # a policy knob: one workload to validate
    path = directory / f"{name}.toml"
    path.write_text(f'[sweep]\nname = "{name}"\nseeds = {runs // cells}\n[base]\n'
                    f'include = "scenario.toml"\n[axes]\n"qos.normal.MaxTRESPerUser" = {caps}\n')
    return path


def _sim_seconds(root: Path) -> tuple[float, int]:
    total, count = duckdb.sql(f"SELECT sum(wall_s), count(*) FROM '{root}/runs/*.parquet'"
                              ).fetchall()[0]
    return total, count


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=60, help="simulated jobs per run")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    grid = _grid(work, args.runs, args.jobs)

    start = time.perf_counter()
    serial = launch(grid, LaunchOptions(out=work / "serial", serial=True, progress=False))
    serial_wall = time.perf_counter() - start
    serial_sim, runs = _sim_seconds(serial.root)

    import ray
    from cluster.ray_backend import RayBackend, RayOptions

    start = time.perf_counter()
    with RayBackend(RayOptions(workers=args.workers)) as backend:  # started once, reused below
        # Ray start and the workers' first tasks (process start, imports) are measured apart:
        # a tiny sweep first, so the timed sweep measures dispatch and storage overhead.
        launch(_grid(work, 4 * args.workers, args.jobs, "warmup"),
               LaunchOptions(out=work / "warmup", progress=False, workers=args.workers))
        ray_start = time.perf_counter() - start
        start, cpu = time.perf_counter(), _cpu_s()
        on_ray = launch(grid, LaunchOptions(out=work / "ray", progress=False,
                                            workers=args.workers))
        ray_wall, driver_cpu = time.perf_counter() - start, _cpu_s() - cpu
        workers = backend.workers
    assert not ray.is_initialized()
    ray_sim, ray_runs = _sim_seconds(on_ray.root)

    jobs = runs * args.jobs
    print(f"runs={runs} jobs_per_run={args.jobs} workers={workers}")
    print(f"serial: wall_s={serial_wall:.2f} runs/s={runs / serial_wall:.1f} "
          f"jobs/s={jobs / serial_wall:.0f} sim_s={serial_sim:.2f} "
          f"overhead={100 * (serial_wall - serial_sim) / serial_sim:.1f}% "
          f"driver_ms_per_stored_run={1000 * (serial_wall - serial_sim) / runs:.2f}")
    ideal = ray_sim / workers
    print(f"ray:    wall_s={ray_wall:.2f} (+{ray_start:.2f} s Ray start and worker warm-up) "
          f"runs/s={ray_runs / ray_wall:.1f} jobs/s={jobs / ray_wall:.0f} sim_s={ray_sim:.2f} "
          f"ideal_s={ideal:.2f} overhead={100 * (ray_wall - ideal) / ideal:.1f}% "
          f"speedup_vs_serial={serial_wall / ray_wall:.2f}x "
          f"driver_cpu_ms_per_stored_run={1000 * driver_cpu / ray_runs:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak_rss_mb={peak:.0f} (driver process)")


if __name__ == "__main__":
    main()
