"""Preemption policy: eligibility, equal tiers, QOS lists, modes, exempt time, candidate order, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.errors import ConfigError
from simcore.preempt import CANCEL, OFF, REQUEUE, PreemptPolicy, saved_progress

PARTS = [("scavenger", 1, "REQUEUE", 0), ("normal", 2, "CANCEL", 300), ("owner", 3, "OFF", 0)]


def policy(kind="preempt/partition_prio", mode="REQUEUE", job_partition=(0, 0, 1, 2, 0), job_qos=None, qos=None, exempt=0):
    job_partition = np.array(job_partition)
    return PreemptPolicy.build(
        preempt_type=kind, preempt_mode=mode, preempt_exempt_time=exempt, partitions=PARTS,
        qos=qos or {}, job_partition=job_partition, job_qos=job_qos or [""] * len(job_partition),
    )


def test_partition_prio_strictly_lower_tier_and_modes():
    p = policy()
    assert list(p.mode) == [REQUEUE, REQUEUE, CANCEL, OFF, REQUEUE]
    assert list(p.grace) == [0, 0, 300, 0, 0]
    # owner job (3) may preempt scavenger and normal jobs; a normal job only scavenger ones
    assert list(p.can_preempt(3, np.array([0, 1, 2, 4]))) == [True, True, True, True]
    assert list(p.can_preempt(2, np.array([0, 1, 3]))) == [True, True, False]
    # equal tiers never preempt
    assert list(p.can_preempt(0, np.array([1, 4]))) == [False, False]


def test_preempt_none_and_off_mode():
    assert not policy(kind="preempt/none", mode="OFF").enabled
    assert not policy(kind="preempt/none", mode="OFF").can_preempt(3, np.array([0])).any()
    with pytest.raises(ConfigError, match="scheduler.PreemptMode: OFF is only compatible with PreemptType=preempt/none"):
        policy(mode="OFF")
    with pytest.raises(ConfigError, match="PreemptMode 'SUSPEND' is not supported"):
        policy(mode="SUSPEND")
    with pytest.raises(ConfigError, match="scheduler.PreemptType 'preempt/job_prio'"):
        policy(kind="preempt/job_prio")


def test_qos_preempt_lists_modes_and_grace():
    qos = {
        "high": {"Priority": 100, "Preempt": "low,scav"},
        "low": {"Priority": 10, "PreemptMode": "CANCEL", "GraceTime": 60},
        "scav": {"Priority": 0, "PreemptMode": "Cluster", "PreemptExemptTime": "10:00"},
    }
    p = policy(kind="preempt/qos", job_partition=(0, 0, 0, 0), job_qos=["high", "low", "scav", ""], qos=qos, exempt=30)
    assert list(p.can_preempt(0, np.array([1, 2, 3]))) == [True, True, False]
    assert not p.can_preempt(1, np.array([2])).any()   # low lists nothing
    assert not p.can_preempt(3, np.array([1])).any()   # no QOS, no preempt list
    assert list(p.mode) == [REQUEUE, CANCEL, REQUEUE, REQUEUE]
    assert list(p.grace) == [0, 60, 0, 0]
    assert list(p.exempt) == [30, 30, 600, 30]
    with pytest.raises(ConfigError, match=r"qos.high.Preempt: 'nope'"):
        policy(kind="preempt/qos", job_partition=(0,), job_qos=["high"], qos={"high": {"Preempt": "nope"}})


def test_candidates_order_exempt_time_and_ties():
    p = policy(job_partition=(2, 0, 0, 1, 0, 0), exempt=100)
    start = np.array([0, 500, 400, 0, 400, 950])
    nodes = np.array([1, 4, 1, 1, 1, 1])
    running = np.array([1, 2, 3, 4, 5])
    got, wake = p.candidates(0, running, start[running], nodes[running], now=1000.0)
    # tier 1 first (fewest nodes first; equal -> youngest, then lower job number), tier 2 last;
    # job 5 started 50 s ago: exempt until 1050
    assert list(got) == [2, 4, 1, 3]
    assert wake == 1050


def test_saved_progress_checkpoints():
    assert saved_progress(3700, 1800) == 3600
    assert saved_progress(3700, 0) == 0
    assert list(saved_progress(np.array([10, 1799, 1800]), np.array([0, 1800, 1800]))) == [0, 0, 1800]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from([0, 1, 2]), min_size=2, max_size=12))
def test_equal_tiers_never_preempt(parts):
    p = policy(job_partition=parts)
    jobs = np.arange(len(parts))
    for j in jobs:
        ok = p.can_preempt(int(j), jobs)
        tiers = np.array([PARTS[i][1] for i in parts])
        assert not (ok & (tiers >= tiers[j])).any()
