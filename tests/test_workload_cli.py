"""`sweeps workload ...` and `sweeps import-conf`: round trips, and one-line errors for the bad-input corpus."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from simcore.jobs import read_job_table
from sweeps.cli import cli
from sweeps.workload_io import read_metadata

DATA = Path(__file__).parent / "data" / "workloads"
BAD = DATA / "bad"
LUBLIN = "/work/shared/data/lublin_256.swf"
SCENARIO = """
name = "small"
[[cluster.nodes]]
NodeName = "gpu[01-08]"
CPUs = 64
RealMemory = 512000
Gres = "gpu:a100:4"
[partitions.gpu]
Nodes = "gpu[01-08]"
MaxTime = "1-00:00:00"
Default = true
[partitions.debug]
Nodes = "gpu[07-08]"
MaxTime = "1:00:00"
[workload]
kind = "archetypes"
days = 7
"""


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO)
    return path


def test_generate_writes_parquet_and_describe_reads_it(tmp_path, scenario_file):
    out = tmp_path / "jobs.parquet"
    result = run("workload", "generate", scenario_file, "-o", out, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("wrote ") and "unmet" in result.output
    table = read_job_table(out)
    again = tmp_path / "again.parquet"
    run("workload", "generate", scenario_file, "-o", again, "--seed", 3)
    assert all(np.array_equal(table[k], read_job_table(again)[k]) for k in table.columns)
    assert set(read_metadata(out)["shaping"]) == {"demand_gpu_h", "unmet_demand_gpu_h", "chains"}
    described = run("workload", "describe", out, "--scenario", scenario_file)
    assert described.exit_code == 0, described.output
    assert "cluster         small: 32 GPUs, 512 CPUs" in described.output
    assert "offered load    GPU " in described.output
    assert "shaping" in described.output


def test_import_sacct_keeps_timestamps(tmp_path):
    out = tmp_path / "sacct.parquet"
    result = run("workload", "import", DATA / "sacct_requeue.txt", "-o", out)
    assert result.exit_code == 0, result.output
    assert result.output == (f"wrote 4 jobs to {out} (skipped_never_started 1, skipped_running 1)\n")
    table = read_job_table(out)
    assert table.time_origin == 1776333300
    assert list(table["submit"]) == [0, 300, 600, 1500]
    assert read_metadata(out)["import"]["requeued_jobs"] == 1


def test_import_lublin_with_options(tmp_path):
    out = tmp_path / "lublin.parquet"
    result = run("workload", "import", LUBLIN, "-o", out, "--option", "procs_as=cpus",
                 "--option", "procs_per_node=64", "--option", "synthetic_users=20")
    assert result.exit_code == 0, result.output
    table = read_job_table(out)
    assert len(table) == 10000 and table["gpus"].max() == 0 and len(set(table["user"])) == 20


def test_describe_json_of_a_trace():
    result = run("workload", "describe", LUBLIN, "--json")
    assert result.exit_code == 0, result.output
    assert '"jobs": 10000' in result.output


def test_import_conf_writes_a_valid_scenario(tmp_path):
    out = tmp_path / "scenario.toml"
    result = run("import-conf", DATA / "slurm.conf", "-o", out)
    assert result.exit_code == 0, result.output
    assert "wrote " in result.output and "7 settings not simulated" in result.output
    described = run("workload", "describe", LUBLIN, "--scenario", out)
    assert described.exit_code == 0, described.output
    assert "cluster         unigpu: 48 GPUs, 704 CPUs" in described.output


@pytest.mark.parametrize("args", [("workload",), ("workload", "generate"), ("workload", "import"),
                                  ("workload", "describe"), ("import-conf",)])
def test_help(args):
    result = run(*args, "--help")
    assert result.exit_code == 0 and "Example:" in result.output


BAD_TRACES = [
    ("truncated.swf", "truncated.swf:3: found 8 fields; SWF job lines have 18 whitespace-separated numbers"),
    ("text_field.swf", "text_field.swf:2: field 4 (run time) is '1h'; expected a number (-1 = unknown)"),
    ("negative.swf", "negative.swf:1: field 4 (run time) is -5; expected >= 0 or -1 (unknown)"),
    ("absurd.swf", "absurd.swf:1: field 4 (run time) is 99999999999 s; at most 31622400 s is accepted"),
    ("huge_field.swf", "huge_field.swf:1: field 7 (used memory) is 99999999999999999999; at most 1e+15 is accepted"),
    ("field_count.sacct", "field_count.sacct:3: found 10 '|'-separated fields; the header has 13"),
    ("text_elapsed.sacct", "text_elapsed.sacct:2: ElapsedRaw is 'abc'; expected a whole number"),
    ("negative_elapsed.sacct", "negative_elapsed.sacct:2: ElapsedRaw is '-10'; expected 0 to 31622400 s"),
    ("bad_time.sacct",
     "bad_time.sacct:2: Submit is 'yesterday'; expected a time like 2026-04-16T10:00:00, Unknown or None"),
    ("bad_tres.sacct", "bad_tres.sacct:2: AllocTRES: gres/gpu='two' is not a number"),
    ("huge_cpus.sacct", "huge_cpus.sacct:2: cpus = 100000000000000000000; at most 1e+12 is accepted"),
    ("no_submit.sacct",
     "no_submit.sacct:1: header has no Submit column; run sacct -X -P --format=JobIDRaw,User,Account,"
     "Partition,QOS,Submit,Start,End,ElapsedRaw,TimelimitRaw,ReqTRES,AllocTRES,NNodes,State"),
]


@pytest.mark.parametrize("name, message", BAD_TRACES)
def test_bad_traces(tmp_path, name, message):
    result = run("workload", "import", BAD / name, "-o", tmp_path / "x.parquet")
    assert result.exit_code == 2
    assert result.output == f"Error: {message}\n"
    assert not (tmp_path / "x.parquet").exists()


BAD_CONFS = [
    ("bad_hostlist.conf", "bad_hostlist.conf:1: NodeName: 'gpu[01-04' is not a valid hostlist (unbalanced brackets)"),
    ("bad_number.conf", "bad_number.conf:1: CPUs is 'many'; expected a whole number"),
    ("bad_maxtime.conf", "bad_maxtime.conf:3: MaxTime: 'forever' is not a Slurm duration; allowed: minutes, "
                         "MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, UNLIMITED"),
    ("undefined_node.conf", "undefined_node.conf:2: PartitionName=gpu Nodes=gpu[01-08]: gpu05 is not defined "
                            "by a NodeName line"),
    ("missing_include.conf", f"missing_include.conf:2: include {BAD / 'missing-nodes.conf'}: cannot read "
                             "slurm.conf (No such file or directory)"),
]


@pytest.mark.parametrize("name, message", BAD_CONFS)
def test_bad_slurm_confs(tmp_path, name, message):
    result = run("import-conf", BAD / name, "-o", tmp_path / "x.toml")
    assert result.exit_code == 2
    assert result.output == f"Error: {message}\n"


def test_scenario_with_missing_trace(tmp_path):
    path = BAD / "missing_trace.toml"
    result = run("workload", "generate", path, "-o", tmp_path / "x.parquet")
    assert result.exit_code == 2
    assert result.output == (f"Error: {path}: workload.path 'no-such-trace.swf' not found "
                             f"(looked for {BAD / 'no-such-trace.swf'})\n")


def test_scenario_with_unknown_partition(tmp_path):
    path = BAD / "unknown_partition.toml"
    result = run("workload", "generate", path, "-o", tmp_path / "x.parquet")
    assert result.exit_code == 2
    assert result.output == (f"Error: {path}: workload.archetypes.owner.partition: 'gpu-owners' is not a "
                             "partition of the scenario; have: gpu\n")


def test_workload_with_unknown_partition(scenario_file):
    path = BAD / "unknown_partition.csv"
    result = run("workload", "describe", path, "--scenario", scenario_file)
    assert result.exit_code == 2
    assert result.output == (f"Error: {path}: job 2 (row 2) asks for partition 'gpu-xl', which {scenario_file} "
                             "does not define; have: gpu, debug\n")


def test_bad_option_syntax(tmp_path):
    result = run("workload", "import", LUBLIN, "-o", tmp_path / "x.parquet", "--option", "procs_as")
    assert result.exit_code == 2
    assert result.output == "Error: --option 'procs_as': expected key=value, e.g. procs_as=cpus\n"


def test_missing_scenario_file(tmp_path):
    result = run("workload", "generate", tmp_path / "none.toml", "-o", tmp_path / "x.parquet")
    assert result.exit_code == 2
    assert result.output == f"Error: {tmp_path / 'none.toml'}: scenario file not found\n"
    assert not os.listdir(tmp_path)


def test_describe_a_generated_scenario_by_archetype(scenario_file):
    result = run("workload", "describe", scenario_file, "--seed", 2)
    assert result.exit_code == 0, result.output
    names = next(line for line in result.output.splitlines() if line.startswith("job names"))
    for archetype in ("heavy", "regular", "new", "interactive", "deadline", "owner"):
        assert f" {archetype} " in names


def test_import_checks_partitions_against_a_scenario(tmp_path, scenario_file):
    result = run("workload", "import", DATA / "sacct_requeue.txt", "-o", tmp_path / "x.parquet",
                 "--scenario", scenario_file)
    assert result.exit_code == 2
    assert result.output == (f"Error: {DATA / 'sacct_requeue.txt'}: job 101 (row 3) asks for partition "
                             f"'gpu-preempt', which {scenario_file} does not define; have: gpu, debug\n")


def test_swf_time_origin_survives_parquet(tmp_path):
    out = tmp_path / "small.parquet"
    result = run("workload", "import", DATA / "small.swf", "-o", out, "--option", "queue_map={ 1 = \"gpu\" }")
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote 3 jobs to {out} (skipped_never_started 1, skipped_partial 1)\n"
    table = read_job_table(out)
    assert table.time_origin == 1700000100
    assert list(table["submit"]) == [0, 60, 150]
    assert list(table["partition"]) == ["gpu", "", "gpu"]


def test_native_csv_converts_to_parquet(tmp_path):
    csv = tmp_path / "jobs.csv"
    csv.write_text("job_id,user,partition,submit,runtime,time_limit,gpus\n1,ann,gpu,0,60,120,1\n2,bo,gpu,5,30,60,2\n")
    out = tmp_path / "jobs.parquet"
    assert run("workload", "import", csv, "-o", out).exit_code == 0
    table = read_job_table(out)
    assert list(table["gpus"]) == [1, 2] and table.time_origin is None
    result = run("workload", "import", csv, "-o", out, "--option", "procs_as=cpus")
    assert result.exit_code == 2
    assert result.output == "Error: --option procs_as: native job tables take no import options\n"


def test_describe_a_grid_uses_its_base_scenario(tmp_path, scenario_file):
    grid = tmp_path / "grid.toml"
    grid.write_text(
        '[sweep]\nname = "g"\nseeds = 1\nobjectives = { gpu_util = "max" }\n\n'
        '[base]\ninclude = "scenario.toml"\n\n[axes]\n"partitions.gpu.MaxTime" = ["12:00:00", "2-00:00:00"]\n'
    )
    result = run("workload", "describe", grid, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert "cluster         small: 32 GPUs, 512 CPUs" in result.output
