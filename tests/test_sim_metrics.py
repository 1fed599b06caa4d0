"""Run metrics on hand-built runs whose values can be computed by hand (docs/metrics.md)."""

from __future__ import annotations

import math

import pytest
from simhelp import NODE, jobs, scenario

from simcore import simulate

ONE = [{"NodeName": "n1", **NODE}]


def test_utilisation_waits_backfill_share_and_classes():
    sc = scenario(ONE, scheduler={"SchedulerType": "sched/builtin"})
    res = simulate(sc, jobs=jobs(
        {"submit": 0, "gpus": 8, "time_limit": 3600, "runtime": 3600},
        {"submit": 0, "gpus": 4, "time_limit": 1200, "runtime": 1800},   # debug class, TIMEOUT at 1200
        {"submit": 7200, "gpus": 4, "time_limit": 600, "runtime": 600},
    ))
    m = res.metrics
    # window [0, 7200]: 8 GPUs x 3600 s + 4 GPUs x 1200 s of 8 x 7200 GPU-s
    assert m["gpu_util"] == pytest.approx((8 * 3600 + 4 * 1200) / (8 * 7200))
    assert m["wait_p50_h"] == pytest.approx(0.0)
    assert m["wait_mean_h"] == pytest.approx(1 / 3)           # waits 0, 1 h, 0
    assert m["wait_p50_h_debug"] == pytest.approx(0.5)        # debug: jobs 2 (1 h) and 3 (0)
    assert m["started_15min_frac"] == pytest.approx(2 / 3)
    assert m["backfill_frac"] == 0.0
    assert (m["jobs_total"], m["jobs_completed"], m["jobs_timeout"], m["jobs_never_started"]) == (3, 2, 1, 0)
    assert math.isnan(m["wait_p50_h_long"]) and m["wait_p50_h_large"] == 0.0
    assert m["bounded_slowdown_mean"] == pytest.approx((1 + (3600 + 1200) / 1200 + 1) / 3)
    ts = res.timeseries
    assert list(ts["queue_len"][:2]) == [1, 0] and ts["gpus_alloc"][0] == pytest.approx(8.0)


def test_limit_idle_gpu_hours():
    """u1's third GPU job waits 600 s on its QOS while 6 GPUs are idle: 1 GPU x 600 s."""
    sc = scenario(ONE, qos={"normal": {"MaxTRESPerUser": "gres/gpu=2"}})
    m = simulate(sc, jobs=jobs(
        {"submit": 0, "time_limit": 600, "runtime": 600},
        {"submit": 0, "time_limit": 900, "runtime": 900},
        {"submit": 0, "time_limit": 60, "runtime": 60},
        {"submit": 3600, "user": "u2", "time_limit": 60, "runtime": 60},
    )).metrics
    assert m["limit_idle_gpu_h"] == pytest.approx(600 / 3600)


def test_warmup_excludes_early_jobs_and_unmet_demand_counts_never_started():
    parts = {"gpu": {"Nodes": "ALL", "Default": True, "MaxTime": "1:00:00"}}
    sc = scenario(ONE, parts, metrics={"warmup": "1:00:00"})
    m = simulate(sc, jobs=jobs(
        {"submit": 0, "gpus": 8, "time_limit": 3600, "runtime": 3600},
        {"submit": 3600, "gpus": 2, "time_limit": 7200, "runtime": 1800},   # over MaxTime: never starts
        {"submit": 7200, "gpus": 1, "time_limit": 600, "runtime": 600},
    )).metrics
    assert m["unmet_demand_gpu_h"] == pytest.approx(2 * 1800 / 3600)
    assert m["jobs_never_started"] == 1
    assert m["gpu_util"] == pytest.approx(0.0)          # nothing runs inside [3600, 7200]
    assert m["started_15min_frac"] == pytest.approx(0.5)
