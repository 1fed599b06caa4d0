"""Scenario validation: Slurm spelling, defaults, canonical form, one-line errors."""

import pytest

from simcore import Scenario
from simcore.errors import ConfigError

BASE = {
    "cluster": {"nodes": [{"NodeName": "gpu[01-04]", "CPUs": 64, "RealMemory": "500G", "Gres": "gpu:a100:4"}]},
    "partitions": {"gpu": {"Nodes": "gpu[01-04]", "MaxTime": "3-00:00:00", "Default": True},
                   "debug": {"Nodes": "gpu01", "MaxTime": 30, "PriorityTier": 2}},
}


def make(**over):
    d = {**BASE, **over}
    return Scenario.from_dict(d, source="s.toml")


def test_parsed_values():
    sc = make(scheduler={"SchedulerParameters": "bf_window=2880,bf_resolution=300", "bf_interval": 60})
    gpu, debug = sc.partitions
    assert gpu.max_time == 3 * 86400 and debug.max_time == 1800 and debug.priority_tier == 2
    assert sc.nodes[0].gpus == 4 and sc.nodes[0].gpu_type == "a100" and sc.nodes[0].real_memory == 512000
    assert sc.scheduler.bf_window == 2880 * 60 and sc.scheduler.bf_resolution == 300
    assert sc.scheduler.bf_interval == 60 and sc.scheduler.bf_max_job_test == 500
    assert sc.default_partition.name == "gpu"


def test_canonical_dict_is_stable_and_round_trips():
    a = make(scheduler={"SchedulerParameters": "bf_window=1440"})
    b = make(scheduler={})
    assert a.to_dict() == b.to_dict()
    again = Scenario.from_dict(a.to_dict(), source="again")
    assert again.to_dict() == a.to_dict()


@pytest.mark.parametrize("over,match", [
    ({"partitions": {"gpu": {"Nodes": "ALL", "MaxTme": "1:00:00"}}}, "partitions.gpu.MaxTme.*did you mean 'MaxTime'"),
    ({"scheduler": {"SchedulerParameters": "bf_windw=10"}}, "bf_windw.*did you mean 'bf_window'"),
    ({"partitions": {"gpu": {"Nodes": "gpu[09]"}}}, "partitions.gpu.Nodes.*gpu09"),
    ({"partitions": {"gpu": {"Nodes": "ALL", "MaxTime": "soon"}}}, "partitions.gpu.MaxTime"),
    ({"qos": {"normal": {"MaxTRESPerUsr": "gres/gpu=8"}}}, "qos.normal.MaxTRESPerUsr.*MaxTRESPerUser"),
    ({"clustr": {}}, "unknown key 'clustr'.*did you mean 'cluster'"),
    ({"workload": {"kind": "magic"}}, "workload.kind"),
    ({"partitions": {"gpu": {"Nodes": "ALL", "OverSubscribe": "FORCE"}}}, "OverSubscribe"),
])
def test_errors_are_one_line_and_name_the_key(over, match):
    with pytest.raises(ConfigError, match=match) as info:
        make(**over)
    assert "\n" not in str(info.value) and str(info.value).startswith("s.toml")


def test_qos_and_associations_are_parsed_data():
    sc = make(qos={"normal": {"Priority": 10, "MaxTRESPerUser": "gres/gpu=8", "GrpTRESRunMins": "gres/gpu=7200",
                              "MaxWall": "1-0", "MaxJobsPerUser": 5}},
              accounts={"physics": {"Parent": "root", "Fairshare": 10, "GrpTRES": "gres/gpu=16"}},
              users={"alice": {"Account": "physics", "Fairshare": 1}})
    q = sc.qos["normal"]
    assert q.priority == 10 and q.limits["MaxTRESPerUser"] == {"gres/gpu": 8}
    assert q.limits["MaxWall"] == 86400 and q.limits["MaxJobsPerUser"] == 5
    assert sc.accounts["physics"].limits["GrpTRES"] == {"gres/gpu": 16}
    assert sc.users["alice"].table["Account"] == "physics"
