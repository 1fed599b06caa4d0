"""Per-run metrics and time series, computed vectorised from the per-job arrays at the end.

Every metric is defined, with its unit, in docs/metrics.md. A metric that cannot be computed for a
run (no jobs in a class, no GPUs in the cluster) is NaN, never a stand-in value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from simcore.config import Scenario
    from simcore.engine import Engine

CLASSES = ("debug", "short", "long", "large", "newuser")
NAN = float("nan")
BSLD_TAU_S = 10.0       # bounded-slowdown threshold (Feitelson's tau)
STARTED_SOON_S = 900    # "started within 15 minutes"


def _overlap(start: np.ndarray, end: np.ndarray, w0: float, w1: float) -> np.ndarray:
    return np.clip(np.minimum(end, w1) - np.maximum(start, w0), 0.0, None)


def _cum_usage(start: np.ndarray, end: np.ndarray, weight: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Integral of sum(weight over running jobs) from -inf to each edge (resource-seconds)."""
    def relu_sum(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        xs, ws = x[order], weight[order]
        cw = np.concatenate(([0.0], np.cumsum(ws)))
        cwx = np.concatenate(([0.0], np.cumsum(ws * xs)))
        k = np.searchsorted(xs, edges, side="right")
        return edges * cw[k] - cwx[k]
    return relu_sum(start) - relu_sum(end)


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if len(x) else NAN


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else NAN


def job_classes(scenario: "Scenario", cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Boolean mask per job class (docs/metrics.md, "Job classes"); classes may overlap."""
    ms = scenario.metrics
    limit = cols["time_limit"]
    gpus = cols["gpus"]
    users = cols["user"]
    submit = cols["submit"]
    # newuser: the first `newuser_jobs` jobs of users whose first job comes after the warm-up.
    order = np.lexsort((np.arange(len(submit)), submit))
    _, inverse = np.unique(users[order].astype(str), return_inverse=True)
    rank = np.zeros(len(submit), dtype=np.int64)
    first = np.zeros(len(submit), dtype=np.float64)
    if len(submit):
        pos_in_user = np.zeros(len(submit), dtype=np.int64)
        counts: dict[int, int] = {}
        first_seen: dict[int, float] = {}
        for k, u in enumerate(inverse.tolist()):
            pos_in_user[k] = counts.get(u, 0)
            counts[u] = pos_in_user[k] + 1
            first_seen.setdefault(u, float(submit[order[k]]))
        rank[order] = pos_in_user
        first[order] = np.array([first_seen[u] for u in inverse.tolist()])
    return {
        "debug": limit <= ms.debug_max_time,
        "short": (limit > ms.debug_max_time) & (limit <= ms.short_max_time),
        "long": limit >= ms.long_min_time,
        "large": gpus >= ms.large_min_gpus,
        "newuser": (first > ms.warmup) & (rank < ms.newuser_jobs),
    }


def compute(scenario: "Scenario", engine: "Engine", cols: dict[str, np.ndarray]) -> dict[str, float | int]:
    """All metrics of one run (names and units: docs/metrics.md)."""
    w0, w1 = (float(x) for x in engine.window)
    span = w1 - w0
    start, end, submit = cols["start"], cols["end"], cols["submit"]
    started = ~np.isnan(start)
    s0, e0 = np.where(started, start, 0.0), np.where(started, end, 0.0)
    total_gpus, total_cpus = engine.nodes.total_gpus, engine.nodes.total_cpus
    m: dict[str, float | int] = {}
    gsec = cols["alloc_gpus"] * _overlap(s0, e0, w0, w1)
    csec = cols["alloc_cpus"] * _overlap(s0, e0, w0, w1)
    m["gpu_util"] = float(gsec.sum() / (total_gpus * span)) if total_gpus and span > 0 else NAN
    m["cpu_util"] = float(csec.sum() / (total_cpus * span)) if total_cpus and span > 0 else NAN

    state = cols["state"]
    measured = (submit >= w0) & (submit <= w1) & (state != "REJECTED")
    ms = measured & started
    wait_h = (start - submit) / 3600.0
    w = wait_h[ms]
    m["wait_mean_h"] = _mean(w)
    m["wait_p50_h"] = _pct(w, 50)
    m["wait_p95_h"] = _pct(w, 95)
    m["wait_p99_h"] = _pct(w, 99)
    for name, mask in job_classes(scenario, cols).items():
        wc = wait_h[ms & mask]
        m[f"wait_p50_h_{name}"] = _pct(wc, 50)
        m[f"wait_p95_h_{name}"] = _pct(wc, 95)
    n_meas = int(measured.sum())
    soon = ms & ((start - submit) <= STARTED_SOON_S)
    m["started_15min_frac"] = float(soon.sum() / n_meas) if n_meas else NAN
    run = (end - start)[ms]
    wait_s = (start - submit)[ms]
    m["bounded_slowdown_mean"] = _mean(np.maximum(1.0, (wait_s + run) / np.maximum(run, BSLD_TAU_S)))
    n_ms = int(ms.sum())
    m["backfill_frac"] = float((cols["started_by"][ms] == "backfill").sum() / n_ms) if n_ms else NAN
    m["jobs_total"] = int(len(submit))
    m["jobs_completed"] = int((state == "COMPLETED").sum())
    m["jobs_timeout"] = int((state == "TIMEOUT").sum())
    m["jobs_never_started"] = int((~started).sum())
    m["jobs_rejected"] = int((state == "REJECTED").sum())
    m["limit_idle_gpu_h"] = float(engine.li_gpu_s / 3600.0) if total_gpus else NAN
    m["preempted_frac"] = float((cols["preemptions"][measured] > 0).sum() / n_meas) if n_meas else NAN
    m["lost_gpu_h"] = float(cols["lost_gpu_s"].sum() / 3600.0)
    m["jain_index"] = _jain(scenario, cols, measured, gsec if total_gpus else csec)
    m["top_user_peak_share"] = _top_user_peak(cols, started, total_gpus, total_cpus, w0, w1,
                                              scenario.metrics.timeseries_step)
    unmet = measured & ~started
    m["unmet_demand_gpu_h"] = float((cols["gpus"][unmet] * engine.jobs["runtime"][unmet]).sum() / 3600.0)
    m["complexity"] = complexity(scenario)
    return m


def _jain(scenario: "Scenario", cols, measured: np.ndarray, used: np.ndarray) -> float:
    """Jain's index of usage/entitlement over users with measured jobs (entitlement = Fairshare)."""
    users = cols["user"][measured]
    if not len(users):
        return NAN
    names, inv = np.unique(users.astype(str), return_inverse=True)
    usage = np.bincount(inv, weights=used[measured], minlength=len(names))
    shares = np.array([_shares(scenario, u) for u in names], dtype=np.float64)
    x = usage / (shares / shares.sum())
    sq = float((x * x).sum())
    return float(x.sum() ** 2 / (len(x) * sq)) if sq > 0 else NAN


def _shares(scenario: "Scenario", user: str) -> float:
    u = scenario.users.get(user)
    value = u.table.get("Fairshare", 1) if u is not None else 1
    return float(value) if isinstance(value, (int, float)) and value > 0 else 1.0


def _top_user_peak(cols, started, total_gpus: int, total_cpus: int, w0: float, w1: float, step: int) -> float:
    """Largest share of the cluster's GPUs (CPUs if none) one user held, averaged per time step."""
    cap = total_gpus or total_cpus
    weight = cols["alloc_gpus"] if total_gpus else cols["alloc_cpus"]
    if not cap or w1 <= w0 or not started.any():
        return NAN
    edges = np.append(np.arange(w0, w1, step, dtype=np.float64), w1)
    widths = np.diff(edges)
    users = cols["user"][started].astype(str)
    s, e, g = cols["start"][started], cols["end"][started], weight[started].astype(np.float64)
    names, inv = np.unique(users, return_inverse=True)
    peak = 0.0
    for k in range(len(names)):
        sel = inv == k
        per_bin = np.diff(_cum_usage(s[sel], e[sel], g[sel], edges)) / (cap * widths)
        peak = max(peak, float(per_bin.max(initial=0.0)))
    return peak


def complexity(scenario: "Scenario") -> int:
    """Configuration-complexity count (docs/metrics.md): partitions, their non-default settings,
    every QOS/association limit entry, and every pair of overlapping partitions."""
    count = 0
    parts = scenario.partitions
    for p in parts:
        count += 1
        count += sum([p.max_time is not None, p.default_time is not None, p.max_nodes is not None,
                      p.priority_tier != 1, p.priority_job_factor != 1, p.allow_accounts is not None,
                      p.exclusive, bool(p.qos), p.preempt_mode != "OFF", p.grace_time != 0])
        count += len(p.max_tres_per_job)
    for spec in [*scenario.qos.values(), *scenario.accounts.values(), *scenario.users.values()]:
        for value in spec.limits.values():
            count += len(value) if hasattr(value, "keys") else 1
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            if set(parts[a].nodes) & set(parts[b].nodes):
                count += 1
    return count


def timeseries(engine: "Engine", cols: dict[str, np.ndarray], step: int) -> dict[str, np.ndarray]:
    """Per step from t=0 to the end: mean GPUs/CPUs allocated, queue length and running jobs at the step start."""
    t_end = max(float(engine.t_end), 1.0)
    edges = np.append(np.arange(0.0, t_end, step), t_end)
    start, end = cols["start"], cols["end"]
    started = ~np.isnan(start)
    s, e = start[started], end[started]
    widths = np.diff(edges)
    gpu = np.diff(_cum_usage(s, e, cols["alloc_gpus"][started].astype(np.float64), edges)) / widths
    cpu = np.diff(_cum_usage(s, e, cols["alloc_cpus"][started].astype(np.float64), edges)) / widths
    t0 = edges[:-1]
    submitted = np.searchsorted(np.sort(cols["submit"][cols["state"] != "REJECTED"]), t0, side="right")
    began = np.searchsorted(np.sort(s), t0, side="right")
    ended = np.searchsorted(np.sort(e), t0, side="right")
    return {"t": t0, "gpus_alloc": gpu, "cpus_alloc": cpu,
            "queue_len": (submitted - began).astype(np.int64), "running": (began - ended).astype(np.int64)}
