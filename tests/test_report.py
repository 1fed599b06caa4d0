"""`sweeps report` and `sweeps pareto` through the CLI (the browser checks are in test_report_browser.py)."""

from __future__ import annotations

import math

from click.testing import CliRunner

from analysis.db import open_results
from analysis_testdata import build_results
from sweeps.cli import cli


def test_report_without_drilldown_data_says_so(tmp_path):
    folder = build_results(tmp_path / "s")
    result = CliRunner().invoke(cli, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"Report: {folder}/report.html", f"Summary: {folder}/report.md"]
    page = (folder / "report.html").read_text()
    assert 'id="no-drilldown"' in page and "store_jobs = true" in page
    assert "cdn." not in page.split("<script>")[0]  # nothing but inline CSS before the bundle
    assert not list(folder.glob(".*.tmp"))


def test_report_markdown_lists_the_front(tmp_path):
    folder = build_results(tmp_path / "s", jobs=True, timeseries=True)
    assert CliRunner().invoke(cli, ["report", str(folder), "--objectives", "gpu_util:max,wait_p95_h:min"]).exit_code == 0
    text = (folder / "report.md").read_text()
    assert text.startswith("# Trilemma report: maxtime-x-gpucap")
    assert "| knee" in text
    assert "GPU utilisation (%)" in text and "p95 wait (hours)" in text
    assert "GPUs per user at once (QOS normal)" in text and "gpu partition: jobs up to" in text
    page = (folder / "report.html").read_text()
    assert 'id="no-drilldown"' not in page and "Wait by job class" in page


def test_pareto_command_prints_the_front(tmp_path):
    folder = build_results(tmp_path / "s", nan_cell=True)
    result = CliRunner().invoke(cli, ["pareto", str(folder), "--objectives", "gpu_util:max,wait_p95_h:min"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Objectives: GPU utilisation (%): max, p95 wait (hours): min"
    assert lines[1].split()[:2] == ["partitions.gpu.MaxTime", "qos.normal.MaxTRESPerUser"]
    body = [line.split() for line in lines[3:] if line and not line.startswith(("(", "Note"))]
    cells = [
        c for c in open_results(folder).lazy("cells").collect().iter_rows(named=True)
        if c["gpu_util"] is not None and not math.isnan(c["gpu_util"])
    ]
    front = [
        c for c in cells
        if not any(
            d["gpu_util"] >= c["gpu_util"] and d["wait_p95_h"] <= c["wait_p95_h"]
            and (d["gpu_util"] > c["gpu_util"] or d["wait_p95_h"] < c["wait_p95_h"])
            for d in cells
        )
    ]
    expected = sorted((c["partitions.gpu.MaxTime"], c["qos.normal.MaxTRESPerUser"]) for c in front)
    assert sorted((b[0], b[1]) for b in body) == expected and len(expected) >= 2
    assert any(line.startswith("Note: 1 cell(s) left out") for line in lines)


def test_pareto_all_prints_every_ranked_cell(tmp_path):
    folder = build_results(tmp_path / "s")
    result = CliRunner().invoke(cli, ["pareto", str(folder), "--all"])
    assert result.exit_code == 0
    assert "(9 rows)" in result.output and result.output.splitlines()[1].startswith("rank")


def test_unknown_objective_is_a_one_line_error(tmp_path):
    folder = build_results(tmp_path / "s")
    result = CliRunner().invoke(cli, ["pareto", str(folder), "--objectives", "gpu_utilisation:max"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: objective 'gpu_utilisation' is not a metric of this sweep; metrics: gpu_util")


def test_help_for_every_command():
    for name in ("sql", "pareto", "report"):
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output
