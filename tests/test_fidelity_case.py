"""Fidelity case sources render the same cluster for Slurm and for simcore; goldens parse."""

from __future__ import annotations

import textwrap

import pytest

from cluster.fidelity.case import case_names, load_case
from cluster.fidelity.compare import job_table, slurm_view
from cluster.fidelity.golden import golden_paths, read_golden
from simcore import Scenario
from simcore.errors import ConfigError

CASE = textwrap.dedent('''
    jobs = """
    # id user  account qos partition submit_s limit_min sleep_s nodes cpus gpus
    x1   alice physics gpu  batch,hi  0        2         30      2     16   4
    x2   bob   physics gpu  hi        5        1         10      1     4    0
    """
    [case]
    compare = "exact"
    [scenario]
    [[scenario.cluster.nodes]]
    NodeName = "n[1-2]"
    CPUs = 8
    RealMemory = 64000
    Gres = "gpu:2"
    [scenario.partitions.batch]
    Nodes = "n[1-2]"
    MaxTime = "30"
    Default = true
    [scenario.partitions.hi]
    Nodes = "n2"
    PriorityTier = 2
    GraceTime = 30
    [scenario.scheduler]
    SchedulerParameters = "bf_interval=1,bf_resolution=1"
    PreemptType = "preempt/partition_prio"
    [scenario.priority]
    PriorityType = "priority/multifactor"
    PriorityCalcPeriod = 1
    [scenario.qos.gpu]
    MaxTRESPerUser = "gres/gpu=4"
    [scenario.accounts.sub]
    Parent = "physics"
    [scenario.accounts.physics]
    Parent = "root"
    GrpTRESRunMins = "cpu=320"
    [scenario.users.alice]
    Account = "physics"
    [scenario.users.bob]
    Account = "physics"
    GrpTRES = "gres/gpu=2"
''')


def _write(tmp_path, text: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_slurm_rendering(tmp_path) -> None:
    case = load_case(_write(tmp_path, CASE))
    assert case.slurm_conf_lines() == (
        "SchedulerParameters=bf_interval=1,bf_resolution=1", "PreemptType=preempt/partition_prio",
        "PriorityType=priority/multifactor", "PriorityCalcPeriod=1",
        "PartitionName=batch Nodes=n[1-2] MaxTime=30",
        "PartitionName=hi Nodes=n2 PriorityTier=2 GraceTime=30",
    )
    cmds = case.sacctmgr_commands()
    assert cmds[:2] == [["add", "qos", "gpu"], ["modify", "qos", "where", "name=gpu", "set", "MaxTRESPerUser=gres/gpu=4"]]
    # parents before children, whatever the file order
    assert [c[2] for c in cmds if c[1] == "account"] == ["physics", "sub"]
    assert ["add", "user", "bob", "Account=physics", "DefaultAccount=physics", "GrpTRES=gres/gpu=2",
            "QOS=gpu,normal", "DefaultQOS=normal"] in cmds
    x1 = case.jobs[0]
    assert x1.sbatch_args()[-1] == "--gres=gpu:2"          # per node, as sbatch takes it
    assert "--cpus-per-task=8" in x1.sbatch_args() and "--nodes=2" in x1.sbatch_args()
    assert case.users == ("alice", "bob") and (case.nodes, case.cpus, case.gpus) == (2, 8, 2)


def test_scenario_rendering_is_valid_for_simcore(tmp_path) -> None:
    case = load_case(_write(tmp_path, CASE))
    sc = Scenario.from_dict(case.scenario_dict(), source="c.toml")
    assert [p.name for p in sc.partitions] == ["batch", "hi"]
    assert sc.scheduler.bf_interval == 1 and sc.partitions[1].grace_time == 30


@pytest.mark.parametrize(("old", "new", "message"), [
    ('NodeName = "n[1-2]"', 'NodeName = "gpu[1-2]"', "the harness names its nodes n[1-N]"),
    ('Gres = "gpu:2"', 'Gres = "gpu:a100:2"', "untyped gpu:N"),
    ("x2   bob   physics gpu  hi        5 ", "x2   bob   physics gpu  nope      5 ", "partition 'nope'"),
    ("x2   bob   physics gpu  hi        5 ", "x2   bob   physics gpu  hi        x ", "must be integers"),
    ("x2   bob   physics gpu  hi        5 ", "x2   bob   physics gpu  hi       -1 ", "submit order"),
    ("2     16   4", "2     15   4", "divisible by nodes"),
    ('compare = "exact"', 'compare = "spread"', "at least 3 recordings"),
    ("[scenario.partitions.hi]", "[scenario.partitions.debug]", "harness already defines it"),
])
def test_bad_cases_name_the_problem(tmp_path, old: str, new: str, message: str) -> None:
    assert old in CASE
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_case(_write(tmp_path, CASE.replace(old, new)))


def test_every_committed_case_loads_and_is_a_valid_scenario() -> None:
    assert len(case_names()) >= 7
    for name in case_names():
        case = load_case(name)
        Scenario.from_dict(case.scenario_dict(), source=case.source)
        assert 5 <= len(case.jobs) <= 20


def test_goldens_belong_to_their_case_source() -> None:
    """A golden recorded from an older case file would compare against the wrong jobs."""
    for name in case_names():
        case = load_case(name)
        for path in golden_paths(name):
            golden = read_golden(path)
            assert golden.header["case_sha256"] == case.sha256, f"{path}: recorded from another version of {name}"
            assert golden.header["slurm_version"].endswith("22.05.8")
            assert {r.name for r in golden.runs} == {j.id for j in case.jobs}


def test_job_table_from_golden_uses_real_submits_and_runtimes() -> None:
    case = load_case("fifo_backfill")
    golden = read_golden(golden_paths("fifo_backfill")[0])
    table = job_table(case, golden)
    view = slurm_view(golden)
    first = float(golden.header["first_submit_planned"]) - int(float(golden.header["controller_start"]))
    for k, job in enumerate(case.jobs):
        assert abs(table["submit"][k] - (first + job.submit_s)) <= 1     # submitted on time
        assert table["time_limit"][k] == job.limit_min * 60
        assert view[job.id]["state"] == "COMPLETED" and abs(table["runtime"][k] - job.sleep_s) <= 1


def test_slurm_view_of_committed_goldens() -> None:
    """Known answers read off the goldens by hand (docs/fidelity.md): queue jumpers, the
    End-to-start latencies, and a requeued job's two runs."""
    from cluster.fidelity.compare import _mark_overtaking, start_latencies

    case = load_case("fifo_backfill")
    golden = read_golden(golden_paths("fifo_backfill")[0])
    view = slurm_view(golden)
    table = job_table(case, golden)
    _mark_overtaking(case, dict(zip(table["job_id"].tolist(), table["submit"].tolist())), view)
    assert sorted(j for j in view if view[j]["overtook"]) == ["a04", "a06", "a09", "a11", "a12"]
    assert start_latencies(golden) == [1, 0, 1, 0, 1, 1, 1, 1, 1, 1]
    pre = slurm_view(read_golden(golden_paths("preempt_requeue")[0]))
    assert (pre["r01"]["runs"], pre["r01"]["first_start"], pre["r01"]["start"]) == (2, 13.0, 182.0)
    assert pre["r02"]["state"] == "TIMEOUT"   # ended after the end time its preemption set
