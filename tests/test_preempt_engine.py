"""Preemption in the engine: each PreemptMode, GraceTime, the 120 s requeue hold, checkpoints, exempt time."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore import Scenario, simulate
from simcore.jobs import JobTable

HOUR = 3600


def run(rows, *, mode="REQUEUE", grace=0, exempt=0, kind="preempt/partition_prio", qos=None, gpus_per_node=1, nodes=1,
        metrics=False):
    """rows: dicts(part, submit, runtime, [checkpoint_s, qos, gpus]) of jobs; returns the per-job output
    (and the metrics with `metrics=True`)."""
    sc = Scenario.from_dict({
        "cluster": {"nodes": [{"NodeName": f"g[1-{nodes}]", "CPUs": 8, "RealMemory": 64000, "Gres": f"gpu:{gpus_per_node}"}]},
        "partitions": {
            "low": {"Nodes": "ALL", "MaxTime": "1-0", "Default": True, "PriorityTier": 1, "PreemptMode": mode,
                    "GraceTime": grace},
            "high": {"Nodes": "ALL", "MaxTime": "1-0", "PriorityTier": 2, "PreemptMode": "OFF"},
            "low2": {"Nodes": "ALL", "MaxTime": "1-0", "PriorityTier": 1, "PreemptMode": mode},
        },
        "scheduler": {"PreemptType": kind, "PreemptMode": "REQUEUE" if mode == "OFF" else mode,
                      "PreemptExemptTime": exempt},
        "qos": qos or {"normal": {}},
    }, source="t.toml")
    n = len(rows)
    jobs = JobTable.from_columns({
        "job_id": [str(i + 1) for i in range(n)], "user": [f"u{i}" for i in range(n)],
        "partition": [r["part"] for r in rows], "submit": [r["submit"] for r in rows],
        "runtime": [r["runtime"] for r in rows], "time_limit": [r.get("limit", 4 * HOUR) for r in rows],
        "gpus": [r.get("gpus", 1) for r in rows], "cpus": [1] * n,
        "checkpoint_s": [r.get("checkpoint_s", 0) for r in rows], "qos": [r.get("qos", "") for r in rows],
    }, source="jobs")
    res = simulate(sc, jobs=jobs)
    return (res.jobs, res.metrics) if metrics else res.jobs


def test_requeue_restarts_from_checkpoint_after_the_120s_hold():
    out = run([{"part": "low", "submit": 0, "runtime": 2 * HOUR, "checkpoint_s": 600},
               {"part": "high", "submit": 1000, "runtime": 10}])
    # job 2 preempts job 1 at t=1000 and starts at once (GraceTime 0); job 1 keeps 600 s of progress,
    # is eligible again at 1120 (not at 1010 when the GPU frees) and runs its remaining 6600 s
    assert out["start"].tolist() == [1120, 1000]
    assert out["end"].tolist() == [1120 + 7200 - 600, 1010]
    assert out["preemptions"].tolist() == [1, 0]
    assert out["lost_gpu_s"].tolist() == [400.0, 0.0]
    assert out["state"].tolist() == ["COMPLETED", "COMPLETED"]
    assert out["pending_BeginTime_s"].tolist() == [120, 0]
    assert out["job_id"].tolist() == ["1", "2"]


def test_preempted_runs_count_in_utilisation_and_metrics():
    out, m = run([{"part": "low", "submit": 0, "runtime": 2 * HOUR, "checkpoint_s": 600},
                  {"part": "high", "submit": 1000, "runtime": 10}], metrics=True)
    # window [0, 1000]: the GPU was held by job 1's first (preempted) run all along
    assert m["gpu_util"] == 1.0
    assert m["preempted_frac"] == 0.5
    assert m["lost_gpu_h"] == 400 / 3600


def test_requeue_without_checkpoint_restarts_from_scratch():
    out = run([{"part": "low", "submit": 0, "runtime": 2 * HOUR}, {"part": "high", "submit": 1000, "runtime": 10}])
    assert out["end"].tolist() == [1120 + 7200, 1010]
    assert out["lost_gpu_s"].tolist() == [1000.0, 0.0]


def test_cancel_ends_the_job_as_preempted():
    out = run([{"part": "low", "submit": 0, "runtime": 2 * HOUR}, {"part": "high", "submit": 1000, "runtime": 10}],
              mode="CANCEL")
    assert out["state"].tolist() == ["PREEMPTED", "COMPLETED"]
    assert out["end"].tolist() == [1000, 1010]
    assert out["lost_gpu_s"].tolist() == [1000.0, 0.0]


def test_grace_time_keeps_resources_until_it_ends():
    out = run([{"part": "low", "submit": 0, "runtime": 2 * HOUR, "checkpoint_s": 600},
               {"part": "high", "submit": 1000, "runtime": 10}], grace=300)
    assert out["start"].tolist()[1] == 1300
    assert out["lost_gpu_s"].tolist() == [100.0, 0.0]     # progress 1300 s, checkpoint at 1200 s
    # a preemptee that finishes within its grace time just completes
    out = run([{"part": "low", "submit": 0, "runtime": 1100}, {"part": "high", "submit": 1000, "runtime": 10}],
              grace=300)
    assert out["state"].tolist() == ["COMPLETED", "COMPLETED"]
    assert out["preemptions"].tolist() == [0, 0]
    assert out["start"].tolist() == [0, 1100]


def test_equal_tiers_never_preempt_and_off_is_not_preemptable():
    out = run([{"part": "low", "submit": 0, "runtime": HOUR}, {"part": "low2", "submit": 10, "runtime": 10}])
    assert out["start"].tolist() == [0, HOUR]
    out = run([{"part": "high", "submit": 0, "runtime": HOUR}, {"part": "high", "submit": 10, "runtime": 10}])
    assert out["preemptions"].tolist() == [0, 0]


def test_preempt_exempt_time():
    out = run([{"part": "low", "submit": 0, "runtime": 2 * HOUR}, {"part": "high", "submit": 1000, "runtime": 10}],
              exempt=1800)
    # exempt until it has run 1800 s; the full scheduler pass at t=1800 preempts it
    assert out["start"].tolist()[1] == 1800


def test_preemptee_order_lowest_tier_then_fewest_nodes_then_youngest():
    rows = [{"part": "low", "submit": 0, "runtime": 2 * HOUR}, {"part": "low", "submit": 5, "runtime": 2 * HOUR},
            {"part": "high", "submit": 100, "runtime": 10}]
    out = run(rows, nodes=2)
    assert out["preemptions"].tolist() == [0, 1, 0]      # the younger of two equal candidates


def test_qos_preemption():
    qos = {"normal": {}, "high": {"Priority": 10, "Preempt": "scavenger"}, "scavenger": {"PreemptMode": "CANCEL"}}
    rows = [{"part": "low", "submit": 0, "runtime": 2 * HOUR, "qos": "scavenger"},
            {"part": "low", "submit": 0, "runtime": 2 * HOUR, "qos": "normal"},
            {"part": "low", "submit": 100, "runtime": 10, "qos": "high"}]
    out = run(rows, kind="preempt/qos", qos=qos, nodes=2, mode="REQUEUE")
    assert out["state"].tolist() == ["PREEMPTED", "COMPLETED", "COMPLETED"]
    assert out["start"].tolist()[2] == 100


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["low", "low2", "high"]), st.integers(0, 20), st.integers(1, 12)),
                min_size=2, max_size=14))
def test_equal_tiers_never_preempt_property(spec):
    tier = {"low": 1, "low2": 1, "high": 2}
    rows = [{"part": p, "submit": s * 300, "runtime": r * 600, "checkpoint_s": 900} for p, s, r in spec]
    out = run(rows, nodes=2, gpus_per_node=2)
    parts = [r["part"] for r in rows]
    # a preempted job is always in tier 1, and a tier-2 job was starting when it was signalled
    for j in np.flatnonzero(out["preemptions"] > 0):
        assert tier[parts[j]] == 1
    if all(tier[p] == 1 for p in parts) or all(tier[p] == 2 for p in parts):
        assert out["preemptions"].sum() == 0
    assert (out["state"] == "COMPLETED").all()


def test_a_job_submitted_to_several_partitions_is_preemptable_in_the_one_it_runs_in():
    # Job 2 asks for "other,low"; "other" is full, so it runs in "low" and a "high" job may preempt it
    # there, although its first listed partition never preempts (as in Slurm, the running partition counts).
    sc = Scenario.from_dict({
        "cluster": {"nodes": [{"NodeName": "g[1-2]", "CPUs": 8, "RealMemory": 64000, "Gres": "gpu:1"}]},
        "partitions": {
            "other": {"Nodes": "g2", "MaxTime": "1-0", "PriorityTier": 1, "PreemptMode": "OFF"},
            "low": {"Nodes": "g1", "MaxTime": "1-0", "PriorityTier": 1, "PreemptMode": "REQUEUE"},
            "high": {"Nodes": "g1", "MaxTime": "1-0", "PriorityTier": 2, "PreemptMode": "OFF"},
        },
        "scheduler": {"PreemptType": "preempt/partition_prio", "PreemptMode": "REQUEUE"},
    }, source="t.toml")
    jobs = JobTable.from_columns({
        "partition": ["other", "other,low", "high"], "submit": [0, 1, 100], "runtime": [3 * HOUR, 2 * HOUR, 10],
        "time_limit": [4 * HOUR] * 3, "gpus": [1, 1, 1], "cpus": [1, 1, 1], "user": ["a", "b", "c"],
    }, source="jobs")
    out = simulate(sc, jobs=jobs).jobs
    assert out["preemptions"].tolist() == [0, 1, 0]
    assert out["start"].tolist()[2] == 100
    assert out["partition"].tolist()[1] == "low"


def test_a_partition_without_preemptmode_inherits_the_global_one():
    sc = Scenario.from_dict({
        "cluster": {"nodes": [{"NodeName": "g1", "CPUs": 8, "RealMemory": 64000, "Gres": "gpu:1"}]},
        "partitions": {"low": {"Nodes": "ALL", "MaxTime": "1-0", "PriorityTier": 1},
                       "high": {"Nodes": "ALL", "MaxTime": "1-0", "PriorityTier": 2}},
        "scheduler": {"PreemptType": "preempt/partition_prio", "PreemptMode": "CANCEL"},
    }, source="t.toml")
    jobs = JobTable.from_columns({
        "partition": ["low", "high"], "submit": [0, 100], "runtime": [HOUR, 10], "time_limit": [2 * HOUR] * 2,
        "gpus": [1, 1], "cpus": [1, 1], "user": ["a", "b"],
    }, source="jobs")
    assert simulate(sc, jobs=jobs).jobs["state"].tolist() == ["PREEMPTED", "COMPLETED"]
