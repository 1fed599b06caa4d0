"""Seeded benchmark traces and scenarios for a 1,000-GPU cluster (docs/performance.md).

Two scenarios on the same cluster (125 nodes x 8 A100 by default):
- "fifo":   priority/basic, one partition, Slurm's default SchedulerParameters (FIFO + backfill);
- "policy": priority/multifactor with fair-share over 40 accounts, backfill at the defaults, QOS
            limits (MaxTRESPerUser, GrpTRESRunMins on the QOS and on every account) and a
            preemptible "scavenger" partition (PreemptType=preempt/partition_prio, REQUEUE).
Jobs come from simcore's synthetic generator with no time-outs and no CPU-only jobs, so every
runtime fits its time limit and one SWF processor is one GPU: the same 100k trace can be given to
AccaSim, which does not enforce time limits. Arrivals: 1M jobs per simulated year at any size, so
the queue behaves the same and only the simulated period grows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simcore import JobTable, Scenario
from simcore.workload.synthetic import generate

NODES = 125
GPUS_PER_NODE = 8
CPUS_PER_NODE = 64
MEM_PER_NODE_MB = 512_000
JOBS_PER_YEAR = 1_000_000
USERS = 200
SCAVENGER_FRAC = 0.15  # share of jobs submitted to the preemptible partition (policy scenario)
SWF_OPTIONS = {"procs_as": "gpus", "procs_per_node": GPUS_PER_NODE, "cpus_per_gpu": CPUS_PER_NODE // GPUS_PER_NODE,
               "missing_user": "unknown"}


def default_days(jobs: int) -> float:
    """Simulated days for `jobs` at the benchmark's arrival rate (1M jobs a year)."""
    return jobs * 365.0 / JOBS_PER_YEAR


def _base(name: str, jobs: int, days: float | None, nodes: int, load: float) -> dict:
    return {
        "name": name,
        "cluster": {"nodes": [{"NodeName": f"gpu[0001-{nodes:04d}]", "CPUs": CPUS_PER_NODE,
                               "RealMemory": MEM_PER_NODE_MB, "Gres": f"gpu:a100:{GPUS_PER_NODE}"}]},
        "partitions": {"gpu": {"Nodes": "ALL", "MaxTime": "7-00:00:00", "Default": True}},
        "workload": {"kind": "synthetic", "jobs": jobs, "days": days or default_days(jobs), "users": USERS,
                     "load": load, "timeout_frac": 0.0, "cpu_only_frac": 0.0},
        "metrics": {"warmup": str(int(min(1440, (days or default_days(jobs)) * 1440 / 4)))},  # minutes
    }


def fifo_scenario(jobs: int, days: float | None = None, nodes: int = NODES, load: float = 0.9) -> Scenario:
    """FIFO + backfill: priority/basic, sched/backfill with Slurm's default parameters."""
    return Scenario.from_dict(_base(f"bench-fifo-{jobs}", jobs, days, nodes, load), source="bench-fifo")


def policy_scenario(jobs: int, days: float | None = None, nodes: int = NODES, load: float = 0.9) -> Scenario:
    """The full policy: multifactor + fair-share, QOS/association limits, a preemptible partition."""
    d = _base(f"bench-policy-{jobs}", jobs, days, nodes, load)
    gpus = nodes * GPUS_PER_NODE
    d["partitions"] = {
        "gpu": {"Nodes": "ALL", "MaxTime": "7-00:00:00", "Default": True, "PriorityTier": 2,
                "PreemptMode": "OFF"},
        "scavenger": {"Nodes": "ALL", "MaxTime": "7-00:00:00", "PriorityTier": 1, "PreemptMode": "REQUEUE"},
    }
    d["scheduler"] = {"PreemptType": "preempt/partition_prio", "PreemptMode": "REQUEUE"}
    d["priority"] = {"PriorityType": "priority/multifactor", "PriorityWeightFairshare": 10000,
                     "PriorityWeightAge": 1000, "PriorityWeightJobSize": 500, "PriorityWeightQOS": 1000,
                     "PriorityDecayHalfLife": "7-0", "PriorityCalcPeriod": 5, "PriorityMaxAge": "7-0"}
    # QOS: a per-user GPU cap and a cluster-wide cap on running GPU-minutes (about 60% of the
    # cluster for 3 days); every account also has its own GrpTRESRunMins (a tenth of the cluster
    # for 3 days), so the heavy accounts are held back and limit-blocked jobs are common.
    d["qos"] = {
        "normal": {"Priority": 10, "MaxTRESPerUser": f"gres/gpu={gpus // 4}",
                   "GrpTRESRunMins": f"gres/gpu={int(gpus * 0.6) * 3 * 1440}"},
        "scavenger": {"Priority": 0},
    }
    accounts = sorted({f"acct{u // 5 + 1:02d}" for u in range(USERS)})
    per_account = max(gpus // 10, 32) * 3 * 1440  # >= a 32-GPU job at MaxTime (7 days): none over limit
    d["accounts"] = {a: {"Parent": "root", "Fairshare": 1 + (i % 4) * 3,
                         "GrpTRESRunMins": f"gres/gpu={per_account}"} for i, a in enumerate(accounts)}
    return Scenario.from_dict(d, source="bench-policy")


def fifo_jobs(scenario: Scenario, seed: int) -> JobTable:
    """The synthetic trace of `scenario` (every runtime within its limit)."""
    return generate(scenario, seed)


def policy_jobs(scenario: Scenario, seed: int) -> JobTable:
    """The same trace with SCAVENGER_FRAC of the jobs moved to the preemptible partition.

    Scavenger jobs use QOS scavenger and are requeued on preemption; half of them checkpoint
    hourly. Other jobs use QOS normal."""
    base = generate(scenario, seed)
    n = len(base)
    rng = np.random.default_rng([seed, 0xBE4C])
    scav = rng.uniform(size=n) < SCAVENGER_FRAC
    ckpt = np.where(scav & (rng.uniform(size=n) < 0.5), 3600, 0)
    cols = dict(base.columns)
    cols["partition"] = np.where(scav, "scavenger", "gpu").astype(object)
    cols["qos"] = np.where(scav, "scavenger", "normal").astype(object)
    cols["requeue"] = scav
    cols["checkpoint_s"] = ckpt
    return JobTable.from_columns(cols, source=f"bench-policy(seed={seed})")


def write_swf(jobs: JobTable, path: str | Path) -> Path:
    """Write `jobs` as a Standard Workload Format trace: one SWF processor = one GPU.

    Fields written: job number, submit, wait -1, run time, allocated = requested processors,
    requested time (the time limit), status 1, user and group (account) numbers, queue 1;
    everything else -1. simcore reads it back with SWF_OPTIONS (tests/test_benchmarks.py)."""
    path = Path(path)
    users = {u: i + 1 for i, u in enumerate(sorted(set(jobs["user"].tolist())))}
    groups = {a: i + 1 for i, a in enumerate(sorted(set(jobs["account"].tolist())))}
    uid = np.array([users[u] for u in jobs["user"]], dtype=np.int64)
    gid = np.array([groups[a] for a in jobs["account"]], dtype=np.int64)
    n = len(jobs)
    fields = np.full((n, 18), -1, dtype=np.int64)
    fields[:, 0] = np.arange(1, n + 1)
    fields[:, 1] = jobs["submit"]
    fields[:, 3] = jobs["runtime"]
    fields[:, 4] = jobs["gpus"]
    fields[:, 7] = jobs["gpus"]
    fields[:, 8] = jobs["time_limit"]
    fields[:, 10] = 1
    fields[:, 11] = uid
    fields[:, 12] = gid
    fields[:, 14] = 1
    with path.open("w") as f:
        f.write(f"; Trilemma benchmark trace: {n} jobs, {NODES} nodes x {GPUS_PER_NODE} GPUs; one processor = one GPU\n")
        f.write("; UnixStartTime: 0\n")
        np.savetxt(f, fields, fmt="%d", delimiter=" ")
    return path
