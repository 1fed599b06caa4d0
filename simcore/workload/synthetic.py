"""A seeded synthetic GPU workload that makes queues form (docs/scenario.md, "synthetic workload").

Shape, chosen to resemble university GPU clusters: Poisson arrivals with a daily cycle, mostly
small GPU jobs with a heavy tail of large ones, lognormal runtimes scaled so that the offered GPU
load equals `load` x cluster GPUs, Zipf-skewed users (a few heavy users), some users who only
arrive later (new users), and time limits that overestimate the runtime (a few jobs time out).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from simcore.errors import ConfigError
from simcore.jobs import JobTable
from simcore.units import parse_duration

if TYPE_CHECKING:
    from simcore.config import Scenario

DEFAULTS: dict[str, Any] = {
    "jobs": 1000,            # number of jobs
    "days": 7.0,             # submissions spread over this many days
    "users": 50,             # number of users
    "load": 0.9,             # offered GPU-seconds / (cluster GPUs x days)
    "user_skew": 1.0,        # Zipf exponent of per-user job counts (higher: fewer heavier users)
    "newuser_frac": 0.2,     # share of users whose first job comes after a uniform random day
    "daily_amplitude": 0.5,  # arrival rate varies as 1 + a*sin(daily phase)
    "runtime_sigma": 1.5,    # lognormal sigma of runtimes
    "gpu_sizes": [1, 2, 4, 8, 16, 32],
    "gpu_weights": [0.55, 0.17, 0.13, 0.09, 0.04, 0.02],
    "cpu_only_frac": 0.05,   # share of jobs requesting no GPU
    "overestimate": 3.0,     # median time limit / runtime
    "timeout_frac": 0.03,    # share of jobs whose runtime exceeds their limit
    "partition": "",         # "" = the default partition
    "max_runtime": "7-00:00:00",
}


def _params(scenario: "Scenario") -> dict[str, Any]:
    p = dict(DEFAULTS)
    for key, value in scenario.workload.params.items():
        if key not in DEFAULTS:
            import difflib

            close = difflib.get_close_matches(key, list(DEFAULTS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(DEFAULTS)}"
            raise ConfigError(f"{scenario.source}: unknown key 'workload.{key}' for kind = 'synthetic'{hint}")
        p[key] = value
    for key in ("jobs", "users"):
        if isinstance(p[key], bool) or not isinstance(p[key], int) or p[key] < 1:
            raise ConfigError(f"{scenario.source}: workload.{key} must be an integer >= 1, got {p[key]!r}")
    for key in ("days", "load", "runtime_sigma", "overestimate"):
        if isinstance(p[key], bool) or not isinstance(p[key], (int, float)) or p[key] <= 0:
            raise ConfigError(f"{scenario.source}: workload.{key} must be a number > 0, got {p[key]!r}")
    for key in ("newuser_frac", "daily_amplitude", "cpu_only_frac", "timeout_frac"):
        if isinstance(p[key], bool) or not isinstance(p[key], (int, float)) or not 0 <= p[key] <= 1:
            raise ConfigError(f"{scenario.source}: workload.{key} must be between 0 and 1, got {p[key]!r}")
    if len(p["gpu_sizes"]) != len(p["gpu_weights"]) or not p["gpu_sizes"]:
        raise ConfigError(f"{scenario.source}: workload.gpu_sizes and workload.gpu_weights must have the same length")
    p["max_runtime"] = parse_duration(p["max_runtime"], f"{scenario.source}: workload.max_runtime") or 365 * 86400
    return p


def generate(scenario: "Scenario", seed: int) -> JobTable:
    """Jobs for `scenario` from `seed`; identical seeds give identical tables."""
    p = _params(scenario)
    rng = np.random.default_rng([seed, 0x5EED])
    n, horizon = p["jobs"], float(p["days"]) * 86400.0
    part = scenario.default_partition if not p["partition"] else _partition(scenario, p["partition"])
    node_specs = [s for s in scenario.nodes if set(s.names) & set(part.nodes)]
    gpn = max((s.gpus for s in node_specs), default=0)
    cpn = max(s.cpus for s in node_specs)
    mpn = max(s.real_memory for s in node_specs)
    total_gpus = sum(s.gpus * len(set(s.names) & set(part.nodes)) for s in node_specs)
    total_cpus = sum(s.cpus * len(set(s.names) & set(part.nodes)) for s in node_specs)

    # Arrivals: order statistics of a Poisson process with rate ~ 1 + a*sin(2*pi*(t/day - 0.375)),
    # peaking mid-afternoon; drawn by thinning until n arrivals are accepted.
    amp = float(p["daily_amplitude"])
    times: list[np.ndarray] = []
    have = 0
    while have < n:
        cand = rng.uniform(0.0, horizon, size=2 * (n - have) + 16)
        keep = rng.uniform(0.0, 1.0 + amp, size=len(cand)) < 1.0 + amp * np.sin(2 * np.pi * (cand / 86400.0 - 0.375))
        times.append(cand[keep])
        have += int(keep.sum())
    submit = np.sort(np.concatenate(times)[:n]).astype(np.int64)

    # Sizes: GPUs from the heavy-tailed size distribution, capped at the partition's GPUs.
    sizes = np.asarray(p["gpu_sizes"], dtype=np.int64)
    weights = np.asarray(p["gpu_weights"], dtype=np.float64)
    if gpn == 0:
        gpus = np.zeros(n, dtype=np.int64)
    else:
        gpus = np.minimum(rng.choice(sizes, size=n, p=weights / weights.sum()), total_gpus)
        gpus[rng.uniform(size=n) < p["cpu_only_frac"]] = 0
    if gpn:
        nodes = np.maximum(1, -(-gpus // gpn))
        cpu_per_gpu = max(1, cpn // gpn)
        cpus = np.where(gpus > 0, gpus * cpu_per_gpu, rng.integers(1, max(2, cpn // 4), size=n))
        mem = np.where(gpus > 0, np.minimum(gpus, gpn) * (mpn // gpn) // 2, cpus * (mpn // cpn) // 2)
    else:
        cores = np.minimum(rng.choice(sizes, size=n, p=weights / weights.sum()), total_cpus)
        nodes = np.maximum(1, -(-cores // cpn))
        cpus = cores
        mem = np.minimum(cores, cpn) * (mpn // cpn) // 2

    # Runtimes: lognormal, scaled so that sum(gpus x runtime) = load x GPUs x horizon.
    sigma = float(p["runtime_sigma"])
    raw = rng.lognormal(0.0, sigma, size=n)
    weight = np.where(gpus > 0, gpus, cpus / max(1, cpu_per_gpu if gpn else 1)).astype(np.float64)
    capacity = total_gpus if gpn else total_cpus
    scale = float(p["load"]) * capacity * horizon / max(1e-9, float((weight * raw).sum()))
    runtime = np.clip(np.rint(raw * scale), 60, p["max_runtime"]).astype(np.int64)

    # Time limits: overestimates rounded up to 15 minutes, capped by MaxTime; a few too short.
    over = np.exp(rng.normal(math.log(p["overestimate"]), 0.5, size=n))
    limit = np.ceil(runtime * np.maximum(over, 1.05) / 900.0) * 900
    short = rng.uniform(size=n) < p["timeout_frac"]
    limit = np.where(short, np.maximum(300, np.floor(runtime * rng.uniform(0.3, 0.9, size=n) / 300.0) * 300), limit)
    if part.max_time is not None:
        limit = np.minimum(limit, part.max_time)
    limit = limit.astype(np.int64)

    # Users: Zipf weights; new users become active from a random time.
    nu = p["users"]
    w = 1.0 / np.arange(1, nu + 1) ** float(p["user_skew"])
    w /= w.sum()
    user = rng.choice(nu, size=n, p=w)
    active_from = np.where(rng.uniform(size=nu) < p["newuser_frac"], rng.uniform(0, horizon, size=nu), 0.0)
    active_from[0] = 0.0
    early = submit < active_from[user]
    if early.any():
        veterans = np.flatnonzero(active_from == 0.0)
        vw = w[veterans] / w[veterans].sum()
        user[early] = rng.choice(veterans, size=int(early.sum()), p=vw)
    width = len(str(nu))
    users = np.array([f"u{u + 1:0{width}d}" for u in range(nu)], dtype=object)[user]
    accounts = np.array([f"acct{u // 5 + 1:02d}" for u in range(nu)], dtype=object)[user]

    return JobTable.from_columns({
        "job_id": [str(i + 1) for i in range(n)],
        "user": users, "account": accounts,
        "partition": np.full(n, part.name, dtype=object),
        "submit": submit, "time_limit": limit, "runtime": runtime,
        "nodes": nodes, "cpus": cpus, "mem_mb": mem, "gpus": gpus,
    }, source=f"synthetic(seed={seed})")


def _partition(scenario: "Scenario", name: str):
    for p in scenario.partitions:
        if p.name == name:
            return p
    raise ConfigError(f"{scenario.source}: workload.partition {name!r} is not a [partitions.<name>] table")
