"""Policy metrics on hand-built inputs: water-filling, Jain index, top user's peak daily share, complexity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.policy_metrics import jain_index, top_user_peak_share, water_fill

DAY = 86400.0


def test_water_fill_caps_and_weights():
    assert list(water_fill(10, np.array([2, 10, 10]), np.ones(3))) == [2, 4, 4]
    assert list(water_fill(12, np.array([100, 100]), np.array([1, 3]))) == [3, 9]
    assert list(water_fill(50, np.array([5, 5]), np.ones(2))) == [5, 5]      # more than demanded
    assert list(water_fill(10, np.array([5, 5]), np.array([0, 1]))) == [0, 5]


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=0, max_value=1e6),
    st.lists(st.tuples(st.floats(min_value=0, max_value=1e5), st.floats(min_value=0.01, max_value=10)), min_size=1, max_size=8),
)
def test_water_fill_properties(total, claims):
    demand = np.array([c[0] for c in claims])
    weight = np.array([c[1] for c in claims])
    got = water_fill(total, demand, weight)
    assert (got <= demand + 1e-6).all() and (got >= 0).all()
    assert got.sum() == pytest.approx(min(total, demand.sum()), rel=1e-9, abs=1e-6)


def test_jain_index_perfect_and_skewed():
    # equal entitlements, equal large demand, equal delivery -> 1
    assert jain_index(np.array([5.0, 5.0]), np.array([100.0, 100.0]), np.ones(2)) == pytest.approx(1.0)
    # a user who asked for little and got it all is not an unfairness
    assert jain_index(np.array([1.0, 9.0]), np.array([1.0, 100.0]), np.ones(2)) == pytest.approx(1.0)
    # one user got everything while both wanted plenty: fair share 5/5, x = (2, 0) -> 1/2
    assert jain_index(np.array([10.0, 0.0]), np.array([100.0, 100.0]), np.ones(2)) == pytest.approx(0.5)
    assert math.isnan(jain_index(np.zeros(2), np.ones(2), np.ones(2)))


def test_top_user_peak_share_daily():
    # capacity 10 GPUs over two days; user 0 holds 5 GPUs all of day 0; user 1 holds 8 GPUs for half of day 1
    share = top_user_peak_share(
        np.array([0.0, DAY]), np.array([DAY, 1.5 * DAY]), np.array([5, 8]), np.array([0, 1]),
        capacity=10, window=(0.0, 2 * DAY),
    )
    assert share == pytest.approx(0.5)
    # a segment spanning midnight is split between days; outside the window is ignored
    share = top_user_peak_share(
        np.array([-DAY, 0.5 * DAY]), np.array([0.25 * DAY, 1.5 * DAY]), np.array([10, 10]), np.array([0, 0]),
        capacity=10, window=(0.0, 2 * DAY),
    )
    assert share == pytest.approx(0.75)
    assert math.isnan(top_user_peak_share(np.array([0.0]), np.array([1.0]), np.array([1]), np.array([0]), 0, (0, DAY)))


def test_complexity_counts_user_facing_rules():
    from simcore import Scenario
    from simcore.policy_metrics import complexity

    base = {"cluster": {"nodes": [{"NodeName": "g[1-4]", "CPUs": 8, "RealMemory": 64000, "Gres": "gpu:4"}]}}
    one = Scenario.from_dict({**base, "partitions": {"gpu": {"Nodes": "ALL", "Default": True}}}, source="t")
    assert complexity(one) == 1
    many = Scenario.from_dict({
        **base,
        "partitions": {
            "gpu": {"Nodes": "ALL", "Default": True, "MaxTime": "3-0", "PreemptMode": "REQUEUE"},
            "debug": {"Nodes": "g1", "MaxTime": "30", "MaxNodes": 1, "PriorityTier": 2},
            "owner": {"Nodes": "g[3-4]", "AllowAccounts": "lab", "PriorityTier": 2},
        },
        "scheduler": {"PreemptType": "preempt/partition_prio", "PreemptMode": "REQUEUE"},
        "priority": {"PriorityType": "priority/multifactor", "PriorityWeightFairshare": 100},
        "qos": {"normal": {"MaxTRESPerUser": "gres/gpu=8,cpu=64", "GrpTRESRunMins": "gres/gpu=7200"}},
        "accounts": {"lab": {"GrpTRES": "gres/gpu=8"}}, "users": {"al": {"Account": "lab", "GrpTRES": "gres/gpu=4"}},
    }, source="t")
    # 3 partitions + 2 overlapping pairs + 1 extra tier + (MaxTime) + (MaxTime, MaxNodes) + (AllowAccounts)
    # + 3 QOS limit entries + 1 distinct association entry + preemption 2 + fairshare 1
    assert complexity(many) == 3 + 2 + 1 + 1 + 2 + 1 + 3 + 1 + 2 + 1
