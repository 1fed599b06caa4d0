"""`sweeps simulate`: metrics as text or JSON, per-job Parquet, one-line errors."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from click.testing import CliRunner

from sweeps.cli import cli

SCENARIO = """
name = "tiny"
[[cluster.nodes]]
NodeName = "gpu[1-2]"
CPUs = 32
RealMemory = 256000
Gres = "gpu:a100:4"
[partitions.gpu]
Nodes = "ALL"
MaxTime = "1-00:00:00"
Default = true
[scheduler]
SchedulerParameters = "bf_window=2880,bf_resolution=300"
[workload]
kind = "synthetic"
jobs = 200
days = 2
users = 5
"""


def test_simulate_prints_json_and_writes_jobs(tmp_path):
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO)
    out = tmp_path / "jobs.parquet"
    r = CliRunner().invoke(cli, ["simulate", str(scen), "--json", "--jobs-out", str(out), "--seed", "3"])
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.output)
    assert metrics["jobs_total"] == 200 and 0 < metrics["gpu_util"] <= 1
    table = pq.read_table(out)
    assert table.num_rows == 200
    for col in ("job_id", "user", "account", "partition", "submit", "start", "end", "wait_s", "state",
                "nodes_alloc", "gpus", "started_by"):
        assert col in table.column_names
    assert set(table.column("started_by").to_pylist()) <= {"main", "backfill"}


def test_simulate_with_a_csv_workload_keeps_timestamps(tmp_path):
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO)
    csv = tmp_path / "jobs.csv"
    csv.write_text("job_id,user,submit,runtime,time_limit,gpus,cpus\n"
                   "a,u1,2026-04-16T10:00:00,600,3600,4,8\nb,u1,2026-04-16T10:05:00,600,3600,4,8\n")
    out = tmp_path / "run.parquet"
    r = CliRunner().invoke(cli, ["simulate", str(scen), "--workload", str(csv), "--jobs-out", str(out)])
    assert r.exit_code == 0, r.output
    assert "gpu_util" in r.output
    rows = pq.read_table(out).to_pylist()
    assert str(rows[1]["start"]) == "2026-04-16 10:05:00"


def test_bad_scenario_key_is_a_one_line_error(tmp_path):
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO.replace("MaxTime", "MaxTim"))
    r = CliRunner().invoke(cli, ["simulate", str(scen)])
    assert r.exit_code == 2
    assert "partitions.gpu.MaxTim" in r.output and "did you mean 'MaxTime'" in r.output
    assert "Traceback" not in r.output


def test_a_job_in_an_undefined_partition_is_a_one_line_error(tmp_path):
    """The first job naming a partition the scenario lacks is named (set-up runs per distinct
    partition list, not per job)."""
    scen = tmp_path / "s.toml"
    scen.write_text(SCENARIO)
    csv = tmp_path / "jobs.csv"
    csv.write_text("job_id,user,submit,runtime,time_limit,gpus,cpus,partition\n"
                   "a,u1,0,600,3600,4,8,gpu\nb,u1,5,600,3600,4,8,\"gpu,cpu\"\nc,u1,9,600,3600,4,8,cpu\n")
    r = CliRunner().invoke(cli, ["simulate", str(scen), "--workload", str(csv)])
    assert r.exit_code == 2
    assert "job b names partition 'cpu'; the scenario defines: gpu" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_help():
    r = CliRunner().invoke(cli, ["simulate", "--help"])
    assert r.exit_code == 0 and "--jobs-out" in r.output
