"""A run ends even when some jobs can never start (they stay PENDING with their reason).

Why: with multifactor priority the engine recalculates priorities every PriorityCalcPeriod while
jobs pend; a job held for good (here its own GPUs exceed MaxTRESPerUser) once kept that clock
ticking forever after the last job ended. The alarm turns such a hang into a failure.
"""

from __future__ import annotations

import signal

import pytest
from simhelp import NODE, jobs, run, scenario


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
