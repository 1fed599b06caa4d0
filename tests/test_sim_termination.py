"""A run ends even when some jobs can never start (they stay PENDING with their reason).

Why: with multifactor priority the engine recalculates priorities every PriorityCalcPeriod while
jobs pend; a job held for good (here its own GPUs exceed MaxTRESPerUser) once kept that clock
ticking forever after the last job ended. The alarm turns such a hang into a failure.
"""

from __future__ import annotations

import signal

import numpy as np
import pytest
from simhelp import NODE, jobs, run, scenario

from simcore import simulate


@pytest.fixture
def alarm():
    def expire(signum, frame):
        raise TimeoutError("the simulation did not end")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_run_ends_with_a_job_held_for_good(alarm):
    sc = scenario([{"NodeName": "n1", **NODE}], qos={"normal": {"MaxTRESPerUser": "gres/gpu=2"}},
                  priority={"PriorityType": "priority/multifactor", "PriorityWeightFairshare": 1000,
                            "PriorityWeightAge": 1000})
    out = run(sc, jobs({"gpus": 1, "submit": 0}, {"gpus": 4, "submit": 60}, {"gpus": 2, "submit": 120}))
    assert out["1"]["state"] == "COMPLETED" and out["3"]["state"] == "COMPLETED"
    assert out["2"]["start"] is None and out["2"]["state"] == "PENDING"
    assert out["2"]["reason"] == "QOSMaxGRESPerUser"


def _livelock(priority: dict | None = None):
    """User u1's two jobs may run one at a time (MaxJobs=1); u2's high-QOS job preempts whichever
    runs once its PreemptExemptTime is over, but the other u1 job is older, so under priority/basic
    it takes the freed GPUs first: without checkpoints nobody ever finishes (Slurm would thrash the
    same way; simcore.stall)."""
    sc = scenario(qos={"high": {"Preempt": "normal", "Priority": 100}, "normal": {}},
                  accounts={"a": {"MaxJobs": 1}},
                  scheduler={"PreemptType": "preempt/qos", "PreemptMode": "REQUEUE", "PreemptExemptTime": 300},
                  **({"priority": priority} if priority else {}))
    whole = {"nodes": 2, "cpus": 16, "gpus": 16, "runtime": 3000, "time_limit": 3600}
    jt = jobs({**whole, "submit": 0}, {**whole, "submit": 10},
              {"user": "u2", "qos": "high", "gpus": 8, "submit": 600, "runtime": 1000})
    return sc, jt


@pytest.mark.parametrize("compiled", [False, True])
def test_a_preemption_livelock_is_stopped_and_reported(alarm, compiled):
    sc, jt = _livelock()
    res = simulate(sc, jobs=jt, compiled=compiled)
    assert res.metrics["jobs_stalled"] == 3
    assert sorted(res.jobs["state"].tolist()) == ["PENDING", "PENDING", "RUNNING"]
    assert res.jobs["reason"][2] == "Resources"
    assert res.jobs["preemptions"][:2].sum() > 20       # many rounds before the guard stopped it
    # the job still running ends at the stop, the last moment of the run
    assert res.jobs["end"][res.jobs["state"] == "RUNNING"][0] == np.nanmax(res.jobs["end"])


def test_both_engines_stop_a_livelock_at_the_same_point(alarm):
    sc, jt = _livelock()
    a, b = simulate(sc, jobs=jt, compiled=False), simulate(sc, jobs=jt, compiled=True)
    for col in a.jobs:
        assert np.array_equal(a.jobs[col], b.jobs[col], equal_nan=a.jobs[col].dtype.kind == "f"), col


def test_a_preemptor_ahead_in_priority_order_ends_the_livelock(alarm):
    sc, jt = _livelock({"PriorityType": "priority/multifactor", "PriorityWeightQOS": 1000})
    res = simulate(sc, jobs=jt)
    assert res.metrics["jobs_stalled"] == 0
    assert res.jobs["state"].tolist() == ["COMPLETED"] * 3
