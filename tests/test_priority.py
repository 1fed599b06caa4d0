"""priority/multifactor and priority/basic: factors, weights, truncation and the job order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simcore.errors import ConfigError
from simcore.fairshare import AssocTree, Fairshare
from simcore.priority import PriorityConfig, Priorities, job_size_factor, normalised, order, slurm_minutes

DAY = 86400.0


def test_slurm_minutes_formats():
    assert slurm_minutes("7-0", "k") == 7 * DAY
    assert slurm_minutes("14-00:00:00", "k") == 14 * DAY
    assert slurm_minutes(5, "k") == 300
    assert slurm_minutes("90", "k") == 5400
    assert slurm_minutes("1:30", "k") == 90
    assert slurm_minutes("2:00:00", "k") == 7200
    assert slurm_minutes("1-2:03", "k") == DAY + 2 * 3600 + 180
    assert slurm_minutes("UNLIMITED", "k") == math.inf
    with pytest.raises(ConfigError, match=r"priority.PriorityMaxAge: 'soon' is not a Slurm time"):
        slurm_minutes("soon", "priority.PriorityMaxAge")


def test_config_defaults_and_errors():
    cfg = PriorityConfig.from_table({})
    assert cfg.PriorityType == "priority/basic" and cfg.PriorityCalcPeriod_s == 300
    assert cfg.PriorityDecayHalfLife_s == 7 * DAY and cfg.fair_tree
    assert not PriorityConfig.from_table({"PriorityFlags": "no_fair_tree"}).fair_tree
    with pytest.raises(ConfigError, match=r"priority.PriorityFlags: 'DEPTH_OBLIVIOUS' is not supported"):
        PriorityConfig.from_table({"PriorityFlags": "DEPTH_OBLIVIOUS"})
    with pytest.raises(ConfigError, match=r"priority.PriorityType: 'priority/fifo'"):
        PriorityConfig.from_table({"PriorityType": "priority/fifo"})
    with pytest.raises(ConfigError, match=r"priority.PriorityWeightAge: must be a non-negative integer"):
        PriorityConfig.from_table({"PriorityWeightAge": -5})
    with pytest.raises(ConfigError, match=r"priority.PriorityWeightAgee: unknown key"):
        PriorityConfig.from_table({"PriorityWeightAgee": 5})


def test_job_size_factor_matches_slurm():
    cfg = PriorityConfig.from_table({})
    js = job_size_factor(cfg, np.array([1, 10]), np.array([16, 640]), np.array([3600, 3600]), 10, 640)
    assert js == pytest.approx([(0.1 + 16 / 640) / 2, 1.0])
    small = PriorityConfig.from_table({"PriorityFavorSmall": "YES"})
    js = job_size_factor(small, np.array([1, 10]), np.array([16, 640]), np.array([3600, 3600]), 10, 640)
    assert js == pytest.approx([(0.9 + 624 / 640) / 2, 0.0])
    rel = PriorityConfig.from_table({"PriorityFlags": "SMALL_RELATIVE_TO_TIME"})
    js = job_size_factor(rel, np.array([1]), np.array([16]), np.array([600]), 10, 640)
    assert js == pytest.approx([64 / 10 / 640])  # max(1 node * 64 CPUs/node, 16) / 10 min / 640


def make(cfg, fairshare=None, n=3):
    return Priorities(
        cfg,
        nodes=np.ones(n), cpus=np.full(n, 64), time_limit_s=np.full(n, 3600),
        partition_factor=np.array([1.0, 0.5, 0.0][:n]), qos_factor=np.array([0.0, 1.0, 0.25][:n]),
        assoc=np.zeros(n, dtype=int), cluster_nodes=10, cluster_cpus=640, fairshare=fairshare,
    )


def test_multifactor_weighted_sum_truncated():
    cfg = PriorityConfig.from_table({
        "PriorityType": "priority/multifactor", "PriorityMaxAge": "1-0",
        "PriorityWeightAge": 1000, "PriorityWeightJobSize": 100, "PriorityWeightPartition": 10000,
        "PriorityWeightQOS": 2000,
    })
    p = make(cfg)
    jobs = np.array([0, 1, 2])
    eligible = np.array([0.0, 0.0, -5 * DAY])
    got = p.compute(jobs, eligible, now=DAY / 4)
    size = (0.1 + 0.1) / 2
    expected = [
        math.floor(1000 * 0.25 + 100 * size + 10000 * 1.0),
        math.floor(1000 * 0.25 + 100 * size + 10000 * 0.5 + 2000 * 1.0),
        math.floor(1000 * 1.0 + 100 * size + 2000 * 0.25),  # age capped at PriorityMaxAge
    ]
    assert list(got) == expected


def test_priority_never_below_one_and_basic_is_flat():
    cfg = PriorityConfig.from_table({"PriorityType": "priority/multifactor"})
    assert list(make(cfg).compute(np.array([0, 1]), np.zeros(2), 0.0)) == [1, 1]
    basic = PriorityConfig.from_table({"PriorityWeightAge": 1000})
    assert list(make(basic).compute(np.array([0, 1, 2]), np.zeros(3), 1e6)) == [1, 1, 1]


def test_fairshare_weight_uses_the_tree():
    tree = AssocTree.build({}, {}, [("heavy", "g"), ("light", "g")])
    fs = Fairshare(tree, 7 * DAY)
    heavy, light = tree.assoc_of("heavy", "g"), tree.assoc_of("light", "g")
    fs.change_rate(heavy, 100.0, 0.0)
    cfg = PriorityConfig.from_table({"PriorityType": "priority/multifactor", "PriorityWeightFairshare": 10000})
    p = Priorities(
        cfg, nodes=np.ones(2), cpus=np.ones(2), time_limit_s=np.ones(2), partition_factor=np.zeros(2),
        qos_factor=np.zeros(2), assoc=np.array([heavy, light]), cluster_nodes=1, cluster_cpus=1, fairshare=fs,
    )
    p.refresh(3600.0)
    assert list(p.compute(np.array([0, 1]), np.zeros(2), 3600.0)) == [5000, 10000]
    assert [p.initial(j, 3600.0, 0.0) for j in (0, 1)] == [5000, 10000]


def test_order_tier_priority_submit_jobid():
    jobs = np.array([0, 1, 2, 3, 4, 5])
    tier = np.array([1, 1, 2, 1, 1, 1])
    prio = np.array([10, 20, 1, 20, 20, 5])
    submit = np.array([0, 50, 99, 10, 50, 0])
    assert list(order(jobs, tier, prio, submit)) == [2, 3, 1, 4, 0, 5]


def test_normalised_factors():
    assert normalised({"gpu": 2, "cpu": 1, "x": 0}) == {"gpu": 1.0, "cpu": 0.5, "x": 0.0}
    assert normalised({"a": 0}) == {"a": 0.0}
