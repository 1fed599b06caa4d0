"""Benchmark simcore: synthetic jobs on a 1,000-GPU cluster with Slurm's default backfill.

Prints, per size: jobs, simulated days, wall seconds, CPU seconds of this process, jobs/s (per
wall second), peak RSS (MB, whole process) and the engine that ran (simcore.kernel). On a shared
machine CPU seconds are the steadier figure.
Arrival rate is fixed at 1,000 jobs/day at an offered GPU load of 0.9, so the queue behaves
the same at every size and only the length of the simulated period grows.

    python benchmarks/bench_simcore.py                 # 10k and 100k
    python benchmarks/bench_simcore.py --sizes 10000,100000,1000000
    python benchmarks/bench_simcore.py --engines compiled,python   # both engines and the speed-up
"""

from __future__ import annotations

import argparse
import resource
import time

from simcore import Scenario, simulate
from simcore.workload import build_jobs

JOBS_PER_DAY = 1000


def scenario(jobs: int) -> Scenario:
    """125 nodes x 8 A100 (1,000 GPUs), one partition, default SchedulerParameters."""
    return Scenario.from_dict({
        "name": f"bench-{jobs}",
        "cluster": {"nodes": [{"NodeName": "gpu[001-125]", "CPUs": 64, "RealMemory": 512000,
                               "Gres": "gpu:a100:8"}]},
        "partitions": {"gpu": {"Nodes": "ALL", "MaxTime": "7-00:00:00", "Default": True}},
        "workload": {"kind": "synthetic", "jobs": jobs, "days": jobs / JOBS_PER_DAY, "users": 200,
                     "load": 0.9},
        "metrics": {"warmup": "1-00:00:00"},
    }, source="bench")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated job counts")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engines", default="compiled",
                    help="compiled, python or both (compiled,python: also prints the speed-up)")
    args = ap.parse_args()
    engines = [x.strip() for x in args.engines.split(",")]
    print(f"{'jobs':>9} {'days':>6} {'wall_s':>8} {'cpu_s':>8} {'jobs/s':>9} {'peak_rss_mb':>11}  "
          "gpu_util wait_p95_h backfill_frac engine")
    for n in (int(x) for x in args.sizes.split(",")):
        sc = scenario(n)
        jobs = build_jobs(sc, args.seed)
        cpu_of = {}
        for engine in engines:
            t0, c0 = time.perf_counter(), time.process_time()
            result = simulate(sc, seed=args.seed, jobs=jobs, compiled=engine == "compiled")
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            cpu_of[result.engine] = cpu
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            m = result.metrics
            print(f"{n:>9} {n / JOBS_PER_DAY:>6.0f} {wall:>8.2f} {cpu:>8.2f} {n / wall:>9.0f} {rss:>11.0f}  "
                  f"{m['gpu_util']:.3f}    {m['wait_p95_h']:.3f}      {m['backfill_frac']:.3f}         {result.engine}",
                  flush=True)
        if len(cpu_of) == 2:
            print(f"{n:>9} compiled engine {cpu_of['python'] / cpu_of['compiled']:.1f}x faster (CPU s)", flush=True)


if __name__ == "__main__":
    main()
