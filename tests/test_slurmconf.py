"""slurm.conf import: nodes, partitions, DEFAULT lines, includes, continuations, unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.config import Scenario
from simcore.errors import ConfigError, TrilemmaError
from simcore.slurmconf import load_slurm_conf, read_slurm_conf

DATA = Path(__file__).parent / "data" / "workloads"


def test_fixture_scenario():
    conf = read_slurm_conf(DATA / "slurm.conf")
    s = conf.scenario
    assert s["name"] == "unigpu"
    assert s["cluster"]["nodes"] == [
        {"NodeName": "gpu[01-08]", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:a100:4", "Weight": 1,
         "Features": "a100,ib"},
        # CPUs from the line's own layout (2 x 24 x 2) win over the DEFAULT line's CPUs=64
        {"NodeName": "own[1-2]", "CPUs": 96, "RealMemory": 512000, "Gres": "gpu:h100:8", "Weight": 10},
    ]
    assert s["partitions"]["debug"] == {
        "State": "UP", "MaxTime": "1:00:00", "DefaultTime": "1:00:00", "Nodes": "gpu[07-08]",
        "PriorityTier": 2, "MaxNodes": 1, "OverSubscribe": "NO",
    }
    assert s["partitions"]["gpu"]["Default"] is True
    assert s["partitions"]["preempt"]["PreemptMode"] == "REQUEUE"
    assert s["partitions"]["preempt"]["GraceTime"] == 120
    assert s["partitions"]["owners"]["AllowAccounts"] == "chem,bio"
    assert s["scheduler"] == {
        "SchedulerType": "sched/backfill",
        "SchedulerParameters": "bf_interval=30,bf_window=4320,bf_resolution=120,default_queue_depth=200",
        "PreemptType": "preempt/partition_prio", "PreemptMode": "REQUEUE", "EnforcePartLimits": "ALL",
        "OverTimeLimit": 5,
    }
    assert s["priority"] == {"PriorityType": "priority/multifactor", "PriorityDecayHalfLife": "14-0",
                             "PriorityWeightFairshare": 10000, "PriorityWeightAge": 1000}
    assert s["qos"] == {"owner": {}}
    assert [str(u) for u in conf.unknown] == [
        "slurm.conf:3: SlurmctldHost=head01",
        "slurm.conf:4: AuthType=auth/munge",
        "slurm.conf:6: SchedulerParameters=bf_hetjob_prio=min",
        "slurm.conf:16: PriorityWeightTRES=GRES/gpu=500",
        "nodes.conf:1: State=UNKNOWN",
        "nodes.conf:3: NodeAddr=10.0.0.[1-2]",
        "nodes.conf:3: Gres=mps:400",
    ]
    assert conf.notes == ("PartitionName QOS=owner: added an empty [qos.owner]; copy its limits from "
                          "`sacctmgr show qos owner`",)


def test_imported_scenario_validates():
    scenario = Scenario.from_dict(load_slurm_conf(DATA / "slurm.conf"), source="slurm.conf")
    assert [p.name for p in scenario.partitions] == ["gpu", "debug", "preempt", "owners"]
    assert sum(len(n.names) * n.gpus for n in scenario.nodes) == 8 * 4 + 2 * 8
    assert scenario.scheduler.bf_window == 4320 * 60


def test_case_insensitive_keys_legacy_priority_and_escaped_hash(tmp_path):
    path = tmp_path / "slurm.conf"
    path.write_text(
        "nodename=n[1-2] cpus=8 gres=gpu:2 feature=big\\#1\n"
        "partitionname=p nodes=n[1-2] priority=5 shared=EXCLUSIVE default=yes  # trailing comment\n"
    )
    s = load_slurm_conf(path)
    assert s["cluster"]["nodes"] == [{"NodeName": "n[1-2]", "CPUs": 8, "Gres": "gpu:2", "Features": "big#1"}]
    assert s["partitions"]["p"] == {"Nodes": "n[1-2]", "PriorityTier": 5, "PriorityJobFactor": 5,
                                    "OverSubscribe": "EXCLUSIVE", "Default": True}
    assert s["name"] == "slurm"


@pytest.mark.parametrize("text, message", [
    ("NodeName=n1 CPUs=4\nPartitionName=p Nodes=n1\nPartitionName=p Nodes=n1\n",
     "slurm.conf:3: PartitionName=p is defined twice"),
    ("NodeName=n[1-2] CPUs=4\nNodeName=n2 CPUs=4\n", "slurm.conf:2: NodeName n2 is defined twice"),
    ("NodeName=n1 CPUs=4 \\\n", "slurm.conf:1: file ends inside a '\\' continuation"),
    ("Foo\n", "slurm.conf:1: found 'Foo' without '='; slurm.conf settings are Key=Value"),
    ("PartitionName=p Nodes=ALL Default=MAYBE\n", "slurm.conf:1: Default is 'MAYBE'; allowed: YES, NO"),
    ("NodeName=n1 CPUs=4\nPartitionName=p Nodes=n1 MaxNodes=lots\n",
     "slurm.conf:2: MaxNodes is 'lots'; expected a number or UNLIMITED, INFINITE"),
    ("ClusterName=x\n", "x: no NodeName lines; a scenario needs nodes"),
])
def test_errors(tmp_path, text, message):
    path = tmp_path / "slurm.conf"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_slurm_conf(path)
    assert str(err.value) == message


def test_billing_weights_and_preempt_exempt_time(tmp_path):
    path = tmp_path / "slurm.conf"
    path.write_text(
        "PreemptExemptTime=00:10:00\nPriorityUsageResetPeriod=MONTHLY\nNodeName=n[1-2] CPUs=8 Gres=gpu:2\n"
        "PartitionName=DEFAULT TRESBillingWeights=CPU=1.0,GRES/gpu=4.0\n"
        "PartitionName=a Nodes=n1\nPartitionName=b Nodes=n2\n"
    )
    conf = read_slurm_conf(path)
    assert conf.scenario["scheduler"] == {"PreemptExemptTime": "00:10:00"}
    assert conf.scenario["priority"] == {"PriorityUsageResetPeriod": "MONTHLY",
                                         "TRESBillingWeights": "CPU=1.0,GRES/gpu=4.0"}
    assert conf.unknown == ()
    Scenario.from_dict(conf.scenario, source="slurm.conf")
    path.write_text(path.read_text() + "PartitionName=c Nodes=n2 TRESBillingWeights=CPU=2.0\n")
    conf = read_slurm_conf(path)
    assert "TRESBillingWeights" not in conf.scenario["priority"]
    assert [str(u) for u in conf.unknown] == [
        "slurm.conf:4: TRESBillingWeights=CPU=1.0,GRES/gpu=4.0",  # where a and b got it: the DEFAULT line
        "slurm.conf:4: TRESBillingWeights=CPU=1.0,GRES/gpu=4.0",
        "slurm.conf:7: TRESBillingWeights=CPU=2.0",
    ]


def test_nodesets(tmp_path):
    path = tmp_path / "slurm.conf"
    path.write_text(
        "NodeName=a[1-2] CPUs=8 Gres=gpu:2 Features=a100\nNodeName=v[1-2] CPUs=8 Gres=gpu:2 Features=v100\n"
        "NodeSet=newgpus Feature=a100\nNodeSet=old Nodes=v[1-2]\n"
        "PartitionName=p Nodes=newgpus,v1\nPartitionName=q Nodes=old\nPartitionName=r Nodes=a[1-2],v[1-2]\n"
    )
    conf = read_slurm_conf(path)
    parts = conf.scenario["partitions"]
    assert (parts["p"]["Nodes"], parts["q"]["Nodes"], parts["r"]["Nodes"]) == ("a[1-2],v1", "v[1-2]", "a[1-2],v[1-2]")
    assert conf.unknown == ()
    Scenario.from_dict(conf.scenario, source="slurm.conf")
    path.write_text("NodeName=a1 CPUs=8\nNodeSet=x Weight=3\n")
    with pytest.raises(ConfigError) as err:
        read_slurm_conf(path)
    assert str(err.value) == "slurm.conf:2: NodeSet=x needs Nodes=<hostlist> or Feature=<feature>"


TOKEN = st.one_of(
    st.sampled_from(["NodeName=n[1-2]", "NodeName=DEFAULT", "CPUs=4", "CPUs=x", "Gres=gpu:2", "Gres=gpu:a:1,mps:2",
                     "PartitionName=p", "PartitionName=DEFAULT", "Nodes=n1", "Nodes=ALL", "Nodes=n[1-", "MaxTime=1-0",
                     "MaxTime=soon", "Default=YES", "Default=x", "MaxNodes=2", "NodeSet=s", "Feature=f", "Nodes=s",
                     "include", "include x.conf", "SchedulerParameters=bf_interval=3,foo=1", "Priority=2", "#c", "\\",
                     "Sockets=2", "CoresPerSocket=x", "ClusterName=c", "Weight=1", "Features=f"]),
    st.text(alphabet="abcN=[]-,:#\\\" 0123", max_size=10),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(TOKEN, min_size=1, max_size=5).map(" ".join), min_size=1, max_size=6))
def test_garbage_gives_one_line_errors_only(tmp_path_factory, lines):
    """Whatever the file holds, the import returns a scenario dict or raises TrilemmaError."""
    path = tmp_path_factory.mktemp("conf") / "slurm.conf"
    path.write_text("\n".join(lines) + "\n")
    try:
        conf = read_slurm_conf(path)
    except TrilemmaError as exc:
        assert "\n" not in str(exc)
    else:
        assert conf.scenario["cluster"]["nodes"]
