"""sql, pareto and report on a results folder written by the real `sweeps launch` (serial, tiny)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sweeps.cli import cli

GRID = """
[sweep]
name = "tiny"
seeds = 2
store_jobs = true
store_timeseries = true
objectives = { gpu_util = "max", wait_p95_h = "min" }

[base]
name = "tiny"

[[base.cluster.nodes]]
NodeName = "gpu[01-04]"
CPUs = 32
RealMemory = 256000
Gres = "gpu:4"

[base.partitions.gpu]
Nodes = "ALL"
MaxTime = "3-00:00:00"
DefaultTime = "1:00:00"
Default = true

[base.qos.normal]
MaxTRESPerUser = "gres/gpu=16"

[base.workload]
kind = "synthetic"
jobs = 150
days = 2.0
users = 8
load = 0.9

[axes]
"partitions.gpu.MaxTime" = ["12:00:00", "2-00:00:00"]
"qos.normal.MaxTRESPerUser" = ["gres/gpu=4", "gres/gpu=16"]
"""


def test_launch_then_sql_pareto_report(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    runner = CliRunner()
    launched = runner.invoke(cli, ["launch", str(grid), "--serial", "--out", str(tmp_path / "results"), "--no-progress"])
    assert launched.exit_code == 0, launched.output
    folder = tmp_path / "results" / "tiny"

    cells = runner.invoke(cli, ["sql", str(folder), "SELECT count(*) AS cells, min(n_runs) AS seeds FROM cells", "--format", "json"])
    assert json.loads(cells.output) == [{"cells": 4, "seeds": 2}]
    jobs = runner.invoke(cli, ["sql", str(folder), "SELECT count(DISTINCT run_id) AS runs FROM jobs", "--format", "csv"])
    assert jobs.output.splitlines() == ["runs", "8"]

    front = runner.invoke(cli, ["pareto", str(folder)])
    assert front.exit_code == 0, front.output
    rows = [line for line in front.output.splitlines()[3:] if line and not line.startswith(("(", "Note"))]
    assert 1 <= len(rows) <= 4

    report = runner.invoke(cli, ["report", str(folder)])
    assert report.exit_code == 0, report.output
    page = (folder / "report.html").read_text()
    assert page.count('<tr data-cell="') == len(rows)
    assert 'id="no-drilldown"' not in page and "Time pending, by reason" in page
    assert "gpu partition: jobs up to" in (folder / "report.md").read_text()
