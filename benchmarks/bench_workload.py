"""Workload speed: archetype generation (demand + shaping) at ~1M jobs, and SWF/sacct import.

Prints jobs/s, wall seconds and peak RSS (resource.getrusage). Run: python benchmarks/bench_workload.py
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from simcore.config import Scenario
from simcore.workload.sacct import parse_sacct
from simcore.workload.shaping import shape
from simcore.workload.swf import parse_swf

LUBLIN = Path("/work/shared/data/lublin_256.swf")
SCENARIO = {
    "name": "bench",
    "cluster": {"nodes": [{"NodeName": "gpu[001-256]", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:a100:4"},
                          {"NodeName": "own[01-16]", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:8"}]},
    "partitions": {
        "gpu": {"Nodes": "gpu[001-256]", "MaxTime": "1-00:00:00", "Default": True},
        "debug": {"Nodes": "gpu[249-256]", "MaxTime": "1:00:00", "PriorityTier": 2},
        "preempt": {"Nodes": "gpu[001-256],own[01-16]", "MaxTime": "7-0", "PriorityTier": 0, "PreemptMode": "REQUEUE"},
        "owners": {"Nodes": "own[01-16]", "AllowAccounts": "chem", "PriorityTier": 3},
    },
    "scheduler": {"PreemptType": "preempt/partition_prio", "PreemptMode": "REQUEUE"},
    "accounts": {"physics": {"Parent": "root"}, "chem": {"Parent": "root"}, "bio": {"Parent": "root"}},
    "workload": {"kind": "archetypes", "days": 365, "scale": 56},
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(label: str, jobs: int, seconds: float, cpu: float) -> None:
    """Wall and CPU seconds: on a shared 2-core machine CPU time is the steadier figure."""
    print(f"{label:<28} {jobs:>10,} jobs {seconds:>7.2f} s wall {cpu:>7.2f} s CPU {jobs / seconds:>10,.0f} jobs/s "
          f"peak RSS {peak_rss_mb():,.0f} MB")


def main() -> None:
    scenario = Scenario.from_dict(SCENARIO, source="bench")
    start, cpu = time.perf_counter(), cpu_s()
    shaped = shape(scenario, seed=1)
    report("archetypes generate (1 y)", len(shaped.table), time.perf_counter() - start, cpu_s() - cpu)
    print(f"{'':<28} demand {shaped.demand_gpu_h:,.0f} GPU-h, unmet {shaped.unmet_demand_gpu_h:,.0f} GPU-h, "
          f"{shaped.chains:,} chains, {len(shaped.accounts):,} users")

    start, cpu = time.perf_counter(), cpu_s()
    parsed = parse_swf(LUBLIN)
    report("SWF import (lublin_256)", parsed.counts.jobs, time.perf_counter() - start, cpu_s() - cpu)

    t = shaped.table
    n = min(len(t), 200_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sacct"
        lines = ["JobIDRaw|User|Account|Partition|QOS|Submit|Start|End|ElapsedRaw|TimelimitRaw|AllocTRES|NNodes|State"]
        origin = 1_767_225_600  # 2026-01-01T00:00:00
        for i in range(n):
            submit = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(origin + int(t["submit"][i])))
            lines.append(f"{t['job_id'][i]}|{t['user'][i]}|{t['account'][i]}|gpu|normal|{submit}|{submit}|{submit}|"
                         f"{t['runtime'][i]}|{t['time_limit'][i] // 60}|cpu={t['cpus'][i]},gres/gpu={t['gpus'][i]},"
                         f"mem={t['mem_mb'][i]}M,node={t['nodes'][i]}|{t['nodes'][i]}|COMPLETED")
        path.write_text("\n".join(lines) + "\n")
        start, cpu = time.perf_counter(), cpu_s()
        parsed = parse_sacct(path)
        report("sacct import (synthetic)", parsed.counts.jobs, time.perf_counter() - start, cpu_s() - cpu)


if __name__ == "__main__":
    sys.exit(main())
