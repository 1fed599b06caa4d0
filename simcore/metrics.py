"""Per-run metrics and time series, computed vectorised from the per-job arrays at the end.

Every metric is defined, with its unit, in docs/metrics.md. A metric that cannot be computed for a
run (no jobs in a class, no GPUs in the cluster) is NaN, never a stand-in value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simcore import policy_metrics

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
    n = len(submit)
    order = np.lexsort((np.arange(n), submit))
    _, inverse = np.unique(users[order].astype(str), return_inverse=True)
    inverse = inverse.reshape(-1)
    by_user = np.argsort(inverse, kind="stable")       # positions in submit order, grouped by user
    heads = np.ones(n, dtype=bool)
    heads[1:] = inverse[by_user[1:]] != inverse[by_user[:-1]]
    head_at = np.maximum.accumulate(np.where(heads, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)
    pos_in_user = np.empty(n, dtype=np.int64)
    pos_in_user[by_user] = np.arange(n) - head_at
    first_sub = np.empty(n, dtype=np.float64)
    first_sub[by_user] = submit[order][by_user[head_at]] if n else submit[:0]
    rank = np.zeros(n, dtype=np.int64)
    first = np.zeros(n, dtype=np.float64)
    rank[order] = pos_in_user
    first[order] = first_sub
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
    pre_g, pre_c = engine.preempt.preempted_usage(w0, w1)   # runs later preempted held resources too
    m["gpu_util"] = float((gsec.sum() + pre_g) / (total_gpus * span)) if total_gpus and span > 0 else NAN
    m["cpu_util"] = float((csec.sum() + pre_c) / (total_cpus * span)) if total_cpus and span > 0 else NAN

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
    m["jobs_over_limit"] = int(sum(1 for j, r in enumerate(engine.limits.over_limit)
                                   if r is not None and state[j] != "REJECTED"))
    m["jobs_rejected"] = int((state == "REJECTED").sum())
    m["jobs_stalled"] = int(((state == "PENDING") | (state == "RUNNING")).sum()) if engine.stalled else 0
    m["limit_idle_gpu_h"] = float(engine.li_gpu_s / 3600.0) if total_gpus else NAN
    m["preempted_frac"] = float((cols["preemptions"][measured] > 0).sum() / n_meas) if n_meas else NAN
    m["lost_gpu_h"] = float(cols["lost_gpu_s"].sum() / 3600.0)
    demand = (cols["gpus"] if total_gpus else cols["cpus"]) * engine.jobs["runtime"]
    m["jain_index"] = policy_metrics.run_jain_index(scenario, cols["user"], cols["account"], measured,
                                                    gsec if total_gpus else csec, demand)
    m["top_user_peak_share"] = policy_metrics.top_user_peak_share(
        s0[started], e0[started], (cols["alloc_gpus"] if total_gpus else cols["alloc_cpus"])[started],
        policy_metrics.user_codes(cols["user"])[1][started], total_gpus or total_cpus, (w0, w1))
    unmet = measured & ~started
    m["unmet_demand_gpu_h"] = float((cols["gpus"][unmet] * engine.jobs["runtime"][unmet]).sum() / 3600.0
                                    + engine.jobs.unmet_demand_gpu_h)
    m["complexity"] = policy_metrics.complexity(scenario)
    return m


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
