"""Describe a job table: volume, users, GPU-hours, offered load on a cluster, size and runtime quantiles.

Used by `sweeps workload describe` and to check a workload against a scenario before simulating
(jobs naming partitions the scenario does not have are an error, not a silent drop).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simcore.errors import WorkloadError

QUANTILES = (0.1, 0.5, 0.9, 0.99)
HOUR = 3600.0
MAX_NAMES = 20  # job names are summarised only when they are few (archetypes), not one per job


def check_partitions(table: Any, scenario: Any) -> None:
    """Raise if a job asks for a partition the scenario lacks ("" = the default partition)."""
    have = [p.name for p in scenario.partitions]
    known = set(have)
    bad = [name for name in np.unique(table["partition"])
           if any(p and p not in known for p in str(name).split(","))]
    if bad:
        row = int(np.flatnonzero(np.isin(table["partition"], bad))[0])  # the first such job
        unknown = next(p for p in str(table["partition"][row]).split(",") if p and p not in known)
        raise WorkloadError(
            f"{table.source}: job {table['job_id'][row]} (row {row + 1}) asks for partition "
            f"{unknown!r}, which {scenario.source} does not define; have: {', '.join(have)}"
        )


def describe(table: Any, scenario: Any = None) -> dict[str, Any]:
    """Summary figures of a job table; with a scenario also its offered load on that cluster."""
    n = len(table)
    if n == 0:
        raise WorkloadError(f"{table.source}: the workload has no jobs")
    runtime = table["runtime"].astype(float)
    gpus = table["gpus"].astype(float)
    cpus = table["cpus"].astype(float)
    submit = table["submit"]
    span_s = float(submit.max() - submit.min())
    # Offered load spans the arrivals plus the mean runtime, so a one-burst trace is not infinite.
    horizon_h = (span_s + runtime.mean()) / HOUR
    limit = table["time_limit"].astype(float)
    has_limit = limit > 0
    out: dict[str, Any] = {
        "source": table.source,
        "jobs": n,
        "users": int(np.unique(table["user"]).size),
        "accounts": int(np.unique(table["account"]).size),
        "submit_span_days": span_s / 86400,
        "gpu_hours": float((runtime * gpus).sum() / HOUR),
        "cpu_hours": float((runtime * cpus).sum() / HOUR),
        "gpu_jobs": int(np.count_nonzero(gpus > 0)),
        "dependent_jobs": int(np.count_nonzero(table["dependency"] != "")),
        "checkpointing_jobs": int(np.count_nonzero(table["checkpoint_s"] > 0)),
        "time_origin": table.time_origin,
        "partitions": _by_partition(table, runtime, gpus),
        "gpus_per_job": _quantiles(gpus),
        "nodes_per_job": _quantiles(table["nodes"].astype(float)),
        "runtime_h": _quantiles(runtime / HOUR),
        "time_limit_h": _quantiles(limit[has_limit] / HOUR) if has_limit.any() else None,
        "limit_over_runtime": (_quantiles(limit[has_limit] / np.maximum(runtime[has_limit], 1))
                               if has_limit.any() else None),
        "top_user_gpu_share": _top_share(table["user"], runtime * gpus),
        "names": _by_name(table, runtime, gpus),
    }
    if scenario is not None:
        check_partitions(table, scenario)
        cluster_gpus = sum(len(s.names) * s.gpus for s in scenario.nodes)
        cluster_cpus = sum(len(s.names) * s.cpus for s in scenario.nodes)
        out["cluster"] = {"name": scenario.name, "gpus": cluster_gpus, "cpus": cluster_cpus}
        out["offered_gpu_load"] = out["gpu_hours"] / (cluster_gpus * horizon_h) if cluster_gpus else None
        out["offered_cpu_load"] = out["cpu_hours"] / (cluster_cpus * horizon_h) if cluster_cpus else None
    return out


def _quantiles(values: np.ndarray) -> dict[str, float]:
    q = np.quantile(values, QUANTILES)
    out = {f"p{int(p * 100)}": float(v) for p, v in zip(QUANTILES, q)}
    out["max"] = float(values.max())
    out["mean"] = float(values.mean())
    return out


def _by_partition(table: Any, runtime: np.ndarray, gpus: np.ndarray) -> dict[str, dict[str, float]]:
    return _grouped(table["partition"], runtime, gpus)


def _grouped(keys: np.ndarray, runtime: np.ndarray, gpus: np.ndarray) -> dict[str, dict[str, float]]:
    names, inverse = np.unique(keys, return_inverse=True)
    jobs = np.bincount(inverse, minlength=len(names))
    gpu_h = np.bincount(inverse, weights=runtime * gpus, minlength=len(names)) / HOUR
    return {str(name) or "(default)": {"jobs": int(j), "gpu_hours": float(g)}
            for name, j, g in zip(names, jobs, gpu_h)}


def _by_name(table: Any, runtime: np.ndarray, gpus: np.ndarray) -> dict[str, dict[str, float]] | None:
    """Jobs and GPU-hours per job name (archetype workloads name jobs after the archetype)."""
    names = table["name"]
    distinct = np.unique(names)
    if len(distinct) > MAX_NAMES or (len(distinct) == 1 and distinct[0] == ""):
        return None
    return _grouped(names, runtime, gpus)


def _top_share(users: np.ndarray, gpu_s: np.ndarray) -> float | None:
    total = gpu_s.sum()
    if total <= 0:
        return None
    _, inverse = np.unique(users, return_inverse=True)
    return float(np.bincount(inverse, weights=gpu_s).max() / total)


def format_description(d: dict[str, Any]) -> str:
    """Human-readable text of `describe`'s figures (units in the labels)."""
    lines = [
        f"workload        {d['source']}",
        f"jobs            {d['jobs']:,} ({d['gpu_jobs']:,} with GPUs, {d['dependent_jobs']:,} dependent, "
        f"{d['checkpointing_jobs']:,} checkpointing)",
        f"users           {d['users']:,} in {d['accounts']:,} accounts; top user {_pct(d['top_user_gpu_share'])} of GPU-hours",
        f"submit span     {d['submit_span_days']:.2f} days",
        f"GPU-hours       {d['gpu_hours']:,.1f}",
        f"CPU-hours       {d['cpu_hours']:,.1f}",
    ]
    if d.get("time_origin") is not None:
        from datetime import datetime, timezone

        start = datetime.fromtimestamp(d["time_origin"], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(f"time origin     {start} (submit = 0)")
    for key, label in (("import", "import"), ("shaping", "shaping")):
        if key in d:
            lines.append(f"{label:<16}" + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v:,.1f}"
                                                    for k, v in d[key].items()))
    if "cluster" in d:
        c = d["cluster"]
        lines.append(f"cluster         {c['name']}: {c['gpus']:,} GPUs, {c['cpus']:,} CPUs")
        lines.append(f"offered load    GPU {_pct(d['offered_gpu_load'])}, CPU {_pct(d['offered_cpu_load'])}")
    lines.append("partitions      " + "; ".join(
        f"{name} {v['jobs']:,} jobs {v['gpu_hours']:,.0f} GPU-h" for name, v in d["partitions"].items()))
    if d.get("names"):
        lines.append("job names       " + "; ".join(
            f"{name} {v['jobs']:,} jobs {v['gpu_hours']:,.0f} GPU-h" for name, v in d["names"].items()))
    header = "                " + "".join(f"{k:>9}" for k in ("p10", "p50", "p90", "p99", "max", "mean"))
    lines.append(header)
    for key, label in (("gpus_per_job", "GPUs/job"), ("nodes_per_job", "nodes/job"), ("runtime_h", "runtime h"),
                       ("time_limit_h", "limit h"), ("limit_over_runtime", "limit/run")):
        q = d.get(key)
        if q:
            lines.append(f"{label:<16}" + "".join(f"{q[k]:>9.2f}" for k in ("p10", "p50", "p90", "p99", "max", "mean")))
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
