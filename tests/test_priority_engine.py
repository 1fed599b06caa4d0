"""Multifactor priority and fairshare inside the engine: known orders on a one-GPU cluster."""

from __future__ import annotations

import numpy as np

from simcore import Scenario, simulate
from simcore.jobs import JobTable

HOUR = 3600


def run(priority: dict, rows: list[tuple[str, int, int]], partitions: dict | None = None, parts=None,
        qos: dict | None = None, job_qos=None):
    """rows: (user, submit, runtime) of 1-GPU jobs with a 2 h limit; returns start times by job id."""
    sc = Scenario.from_dict({
        "cluster": {"nodes": [{"NodeName": "g1", "CPUs": 8, "RealMemory": 64000, "Gres": "gpu:1"}]},
        "partitions": partitions or {"gpu": {"Nodes": "ALL", "MaxTime": "1-0", "Default": True}},
        "priority": priority,
        "qos": qos or {},
    }, source="t.toml")
    n = len(rows)
    jobs = JobTable.from_columns({
        "job_id": [str(i + 1) for i in range(n)], "user": [r[0] for r in rows], "account": ["a"] * n,
        "submit": [r[1] for r in rows], "runtime": [r[2] for r in rows], "time_limit": [2 * HOUR] * n,
        "gpus": [1] * n, "cpus": [1] * n, "partition": parts or [""] * n, "qos": job_qos or [""] * n,
    }, source="jobs")
    res = simulate(sc, jobs=jobs)
    return dict(zip(res.jobs["job_id"].tolist(), res.jobs["start"].tolist()))


ROWS = [("heavy", 0, HOUR), ("heavy", 10, HOUR), ("light", 20, HOUR)]


def test_fifo_without_weights():
    starts = run({"PriorityType": "priority/multifactor"}, ROWS)
    assert starts == {"1": 0, "2": HOUR, "3": 2 * HOUR}


def test_fairshare_puts_the_light_user_first_after_a_recalculation():
    starts = run({"PriorityType": "priority/multifactor", "PriorityWeightFairshare": 1000,
                  "PriorityCalcPeriod": 5}, ROWS)
    assert starts == {"1": 0, "3": HOUR, "2": 2 * HOUR}


def test_usage_factor_zero_makes_usage_free():
    qos = {"normal": {}, "free": {"UsageFactor": 0.0}}
    starts = run({"PriorityType": "priority/multifactor", "PriorityWeightFairshare": 1000},
                 ROWS, qos=qos, job_qos=["free", "free", "normal"])
    assert starts == {"1": 0, "2": HOUR, "3": 2 * HOUR}      # heavy's free usage costs it nothing


def test_qos_priority_factor():
    qos = {"normal": {"Priority": 0}, "high": {"Priority": 100}}
    starts = run({"PriorityType": "priority/multifactor", "PriorityWeightQOS": 1000},
                 ROWS, qos=qos, job_qos=["normal", "normal", "high"])
    assert starts == {"1": 0, "3": HOUR, "2": 2 * HOUR}


def test_age_breaks_the_fairshare_order_with_enough_weight():
    # age weight dominates: the heavy user's older job wins again
    starts = run({"PriorityType": "priority/multifactor", "PriorityWeightFairshare": 10,
                  "PriorityWeightAge": 100000, "PriorityMaxAge": "1:00:00"}, ROWS)
    assert starts == {"1": 0, "2": HOUR, "3": 2 * HOUR}


def test_partition_priority_tier_before_priority():
    parts = {"low": {"Nodes": "ALL", "Default": True, "PriorityTier": 1, "PriorityJobFactor": 10},
             "high": {"Nodes": "ALL", "PriorityTier": 2, "PriorityJobFactor": 1}}
    starts = run({"PriorityType": "priority/multifactor", "PriorityWeightPartition": 1000},
                 ROWS, partitions=parts, parts=["low", "low", "high"])
    assert starts == {"1": 0, "3": HOUR, "2": 2 * HOUR}


def test_basic_priority_results_identical_to_multifactor_without_weights():
    rows = [(f"u{i % 3}", i * 600, (i % 4 + 1) * 1800) for i in range(12)]
    a = run({}, rows)
    b = run({"PriorityType": "priority/multifactor", "PriorityWeightAge": 0}, rows)
    assert a == b
    assert np.all(np.isfinite(list(a.values())))
