"""Per-run detail for front configurations: waits by job class, usage over time, pending reasons.

Reads the optional `jobs` and `timeseries` tables (docs/results.md, docs/metrics.md) of one
representative run per cell. Job classes follow docs/metrics.md ("Job classes") with the
thresholds of the scenario's [metrics] table (defaults: debug <= 30 min, short <= 4 h,
long >= 1 day, large >= 8 GPUs, newuser = first 5 jobs of a user first seen after warm-up).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from analysis.units import parse_duration_s

CLASS_ORDER = ("debug", "short", "long", "large", "newuser", "all")


@dataclass(frozen=True)
class RunDetail:
    """What the report draws for one run; each part is None when its table is absent."""

    run_id: str
    waits_h: dict[str, np.ndarray] | None  # job class -> waits (hours) of started jobs
    timeline: pl.DataFrame | None  # t_h, gpus_alloc, queue_len
    pending_h: dict[str, float] | None  # Slurm pending reason -> job-hours spent pending


def _seconds(metrics: dict, key: str, default: str) -> float:
    value = parse_duration_s(metrics.get(key, default))
    return float(value if value is not None else parse_duration_s(default))


def job_classes(jobs: pl.DataFrame, metrics_cfg: dict) -> dict[str, pl.Series]:
    """Boolean masks of each job class over `jobs` (docs/metrics.md, "Job classes")."""
    debug_max = _seconds(metrics_cfg, "debug_max_time", "30")
    short_max = _seconds(metrics_cfg, "short_max_time", "4:00:00")
    long_min = _seconds(metrics_cfg, "long_min_time", "1-00:00:00")
    large_min = float(metrics_cfg.get("large_min_gpus", 8))
    newuser_jobs = int(metrics_cfg.get("newuser_jobs", 5))
    warmup = _seconds(metrics_cfg, "warmup", "0")
    limit = jobs["time_limit"].cast(pl.Float64) if "time_limit" in jobs.columns else None
    out: dict[str, pl.Series] = {}
    if limit is not None:
        out["debug"] = limit <= debug_max
        out["short"] = (limit > debug_max) & (limit <= short_max)
        out["long"] = limit >= long_min
    if "gpus" in jobs.columns:
        out["large"] = jobs["gpus"].cast(pl.Float64) >= large_min
    if {"user", "submit"} <= set(jobs.columns):
        order = jobs.with_row_index("_i").sort(["submit", "_i"])
        order = order.with_columns(
            pl.col("submit").min().over("user").alias("_first"),
            pl.int_range(pl.len()).over("user").alias("_nth"),
        )
        flagged = order.filter((pl.col("_first") >= warmup) & (pl.col("_nth") < newuser_jobs))["_i"]
        out["newuser"] = pl.Series(np.isin(np.arange(jobs.height), flagged.to_numpy()))
    return out


def _waits(jobs: pl.DataFrame, metrics_cfg: dict) -> dict[str, np.ndarray] | None:
    if "wait_s" in jobs.columns:
        wait = jobs["wait_s"].cast(pl.Float64)
    elif {"start", "submit"} <= set(jobs.columns):
        wait = jobs["start"].cast(pl.Float64) - jobs["submit"].cast(pl.Float64)
    else:
        return None
    started = wait.is_not_null() & wait.is_not_nan()
    out = {"all": (wait.filter(started) / 3600.0).to_numpy()}
    for name, mask in job_classes(jobs, metrics_cfg).items():
        out[name] = (wait.filter(started & mask) / 3600.0).to_numpy()
    return {k: out[k] for k in CLASS_ORDER if k in out and out[k].size}


def _pending(jobs: pl.DataFrame) -> dict[str, float] | None:
    columns = [c for c in jobs.columns if c.startswith("pending_") and c.endswith("_s")]
    if not columns:
        return None
    sums = jobs.select([pl.col(c).cast(pl.Float64).fill_nan(None).sum() for c in columns]).row(0)
    out = {c[len("pending_") : -2]: float(v or 0.0) / 3600.0 for c, v in zip(columns, sums)}
    return dict(sorted(((k, v) for k, v in out.items() if v > 0), key=lambda kv: -kv[1]))


def run_detail(con: duckdb.DuckDBPyConnection, run_id: str, metrics_cfg: dict, has_jobs: bool, has_series: bool) -> RunDetail:
    """The drill-down data of one run from a connection made by Results.connect()."""
    waits = pending = timeline = None
    if has_jobs:
        jobs = con.sql("SELECT * FROM jobs WHERE run_id = ?", params=[run_id]).pl()
        if jobs.height:
            waits = _waits(jobs, metrics_cfg)
            pending = _pending(jobs)
    if has_series:
        series = con.sql("SELECT * FROM timeseries WHERE run_id = ? ORDER BY t", params=[run_id]).pl()
        if series.height and "t" in series.columns:
            keep = [c for c in ("gpus_alloc", "queue_len", "running", "cpus_alloc") if c in series.columns]
            timeline = series.select((pl.col("t").cast(pl.Float64) / 3600.0).alias("t_h"), *keep)
    return RunDetail(run_id, waits, timeline, pending)
