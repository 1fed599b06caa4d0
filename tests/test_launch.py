"""`sweeps launch`: run ids, resume, changed grids, failures and retries, the CLI on Ray."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cluster.ray_backend import RayConnectError, check_reachable
from sweeps.cli import cli
from sweeps.grid import load_grid
from sweeps.launch import LaunchOptions, dry_run, launch
from sweeps.runner import simulate_with_simcore
from sweeps.spec import plan
from sweeps.status import status
from sweeps.store import Store

DATA = Path(__file__).parent / "data" / "grids"
SCENARIO = DATA / "scenario.toml"


def write_grid(tmp_path: Path, axes: str, sweep: str = "seeds = 2") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "grid.toml"
    path.write_text(f'[sweep]\nname = "t"\n{sweep}\n[base]\ninclude = "{SCENARIO}"\n'
                    f"[axes]\n{axes}\n")
    return path


def rows(root: Path) -> list[tuple]:
    return duckdb.sql(f"SELECT run_id, status FROM read_parquet('{root}/runs/*.parquet', "
                      "union_by_name=true) ORDER BY run_id").fetchall()


def serial(out: Path, **kw) -> LaunchOptions:
    return LaunchOptions(out=out, serial=True, progress=False, **kw)


def test_run_ids_are_stable_and_ignore_spelling(tmp_path):
    first = plan(load_grid(write_grid(tmp_path / "a", '"partitions.gpu.MaxTime" = ["4:00:00"]')))
    again = plan(load_grid(write_grid(tmp_path / "a", '"partitions.gpu.MaxTime" = ["4:00:00"]')))
    spelled = plan(load_grid(write_grid(tmp_path / "b", '"partitions.gpu.MaxTime" = ["240"]')))
    ids = [s.run_id for s in first.specs]
    assert ids == [s.run_id for s in again.specs] == [s.run_id for s in spelled.specs]
    assert len(set(ids)) == 2 and len({s.cell_id for s in first.specs}) == 1
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_run_ids_change_with_the_model_version(tmp_path, monkeypatch):
    import simcore

    grid = load_grid(write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00"]'))
    before = {s.run_id for s in plan(grid).specs}
    monkeypatch.setattr(simcore, "MODEL_VERSION", simcore.MODEL_VERSION + "-next")
    assert not before & {s.run_id for s in plan(grid).specs}


def test_duplicate_cells_are_rejected(tmp_path):
    grid = load_grid(write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["1:00:00", "60"]'))
    with pytest.raises(Exception, match=r"cells \(partitions.gpu.MaxTime='1:00:00'\) and "
                                        r"\(partitions.gpu.MaxTime='60'\) simulate the same"):
        plan(grid)


def test_relaunch_skips_stored_runs_and_a_changed_grid_runs_only_new_ones(tmp_path):
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00", "1-00:00:00"]')
    first = launch(grid, serial(tmp_path / "results"))
    assert (first.planned, first.ran, first.ok) == (4, 4, 4)
    again = launch(grid, serial(tmp_path / "results"))
    assert (again.already_stored, again.ran) == (4, 0)
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00", "1-00:00:00", "2:00:00"]')
    grown = launch(grid, serial(tmp_path / "results"))
    assert (grown.planned, grown.already_stored, grown.ran) == (6, 4, 2)
    stored = rows(tmp_path / "results" / "t")
    assert len(stored) == len({r for r, _ in stored}) == 6
    report = status(tmp_path / "results" / "t")
    assert (report.planned, report.done, report.failed, report.missing) == (6, 6, 0, 0)


def _fails_for_short_maxtime(scenario, seed, source):
    """Test-only run function: a real simulation, except one cell raises."""
    if scenario["partitions"]["gpu"]["MaxTime"] == "4:00:00":
        raise RuntimeError("simulated crash in a run")
    return simulate_with_simcore(scenario, seed, source)


def test_failed_runs_are_recorded_and_retry_replaces_them(tmp_path):
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00", "1-00:00:00"]')
    out = tmp_path / "results"
    first = launch(grid, serial(out), simulate_fn=_fails_for_short_maxtime)
    assert (first.ok, first.failed) == (2, 2)
    errors = duckdb.sql(f"SELECT DISTINCT error FROM '{out}/t/runs/*.parquet' "
                        "WHERE status = 'failed'").fetchall()
    assert errors == [("RuntimeError: simulated crash in a run",)]
    assert launch(grid, serial(out)).ran == 0  # failed runs are not retried unless asked
    retried = launch(grid, serial(out, retry_failed=True))
    assert (retried.ran, retried.ok) == (2, 2)
    assert [s for _, s in rows(out / "t")] == ["ok"] * 4


def test_dry_run_prints_counts_and_the_first_scenario(tmp_path):
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00", "1-00:00:00"]')
    text = dry_run(grid)
    assert text.splitlines()[0] == "t: 2 cells x 2 seeds = 4 runs (nothing is run with --dry-run)"
    assert "cell 2 (cell_id " in text and 'MaxTime = "4:00:00"' in text


def test_cli_launch_on_the_session_ray(ray_session, tmp_path):
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00", "1-00:00:00"]')
    out = tmp_path / "results"
    result = CliRunner().invoke(cli, ["launch", str(grid), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("t: 4 runs planned, 0 already stored; ran 4 (4 ok, 0 failed) in ")
    assert lines[0].endswith("on the Ray already running in this process")
    assert lines[-1] == f"Report:  sweeps report {out / 't'}"
    assert ray_session.is_initialized()  # launch reused the session's Ray and left it running
    assert len(rows(out / "t")) == 4
    result = CliRunner().invoke(cli, ["status", str(out / "t")])
    assert result.output.startswith("t: 4 planned runs: 4 done, 0 failed, 0 missing")
    again = CliRunner().invoke(cli, ["launch", str(grid), "--out", str(out)])
    assert again.output.splitlines()[0] == "t: all 4 runs are stored; nothing to run"


def test_slurm_validates_the_grid_before_submitting(tmp_path):
    bad = DATA / "bad" / "leaf_typo.toml"
    result = CliRunner().invoke(cli, ["launch", str(bad), "--slurm", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {bad} (partitions.gpu.MaxTim='1:00:00'): unknown key")
    assert not list(tmp_path.iterdir())  # no script written, nothing submitted


def test_slurm_refuses_local_execution_options(tmp_path):
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00"]')
    result = CliRunner().invoke(cli, ["launch", str(grid), "--slurm", "--serial"])
    assert result.exit_code == 2
    assert "--slurm starts its own Ray in the allocation; drop --serial, --address and --workers" \
        in result.output


@pytest.mark.parametrize("command", ["launch", "status", "compact"])
def test_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output


def test_an_objective_that_is_not_a_metric_is_reported_once(tmp_path, capsys):
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00"]',
                      sweep='seeds = 2\nobjectives = { gpu_utilisation = "max", gpu_util = "max" }')
    assert launch(grid, serial(tmp_path / "results")).ok == 2
    warnings = [line for line in capsys.readouterr().err.splitlines() if "Warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("Warning: objective 'gpu_utilisation' is not a metric of these "
                                  "runs (metrics: ")


def test_jobs_and_timeseries_tables_are_stored_with_run_ids(tmp_path):
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00", "1-00:00:00"]',
                      sweep="seeds = 1\nstore_jobs = true\nstore_timeseries = true")
    out = tmp_path / "results" / "t"
    launch(grid, serial(tmp_path / "results", flush_runs=1))
    per_run = duckdb.sql(
        f"SELECT r.run_id, r.jobs_total, count(*) FROM '{out}/runs/*.parquet' r "
        f"JOIN '{out}/jobs/*.parquet' j USING (run_id) GROUP BY ALL").fetchall()
    assert len(per_run) == 2 and all(total == n for _, total, n in per_run)
    series = duckdb.sql(f"SELECT count(DISTINCT run_id) FROM '{out}/timeseries/*.parquet'")
    assert series.fetchall() == [(2,)]


def test_status_and_compact_commands(tmp_path):
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["4:00:00", "1-00:00:00"]')
    out = tmp_path / "results"
    launch(grid, serial(out, flush_runs=1), simulate_fn=_fails_for_short_maxtime)
    root = out / "t"
    result = CliRunner().invoke(cli, ["status", str(root)])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "t: 4 planned runs: 2 done, 2 failed, 0 missing (4 part files)",
        *sorted(f"  failed {run}: RuntimeError: simulated crash in a run"
                for run, state in rows(root) if state == "failed"),
        f"  to finish: sweeps launch {grid.resolve()} --out {out} --retry-failed"]
    with Store.open(root, write=True):  # a launch in progress: status still reads
        assert CliRunner().invoke(cli, ["status", str(root)]).exit_code == 0
    result = CliRunner().invoke(cli, ["compact", str(root)])
    assert result.output == "runs: 4 -> 1 files, jobs: 0 -> 0 files, timeseries: 0 -> 0 files\n"
    assert len(rows(root)) == 4
    assert CliRunner().invoke(cli, ["compact", str(tmp_path)]).output.startswith(
        f"Error: {tmp_path}: not a results folder (no manifest.json)")


def test_layouts_zips_and_excludes_plan_through_simcore(tmp_path):
    grid = write_grid(tmp_path, '''
layout = ["single", "split"]
[layouts.single.partitions.gpu]
Nodes = "ALL"
MaxTime = "2-00:00:00"
Default = true
[layouts.split.partitions.gpu]
Nodes = "g1"
MaxTime = "2-00:00:00"
Default = true
[layouts.split.partitions.debug]
Nodes = "g2"
MaxTime = "1:00:00"
PriorityTier = 2
[[zip]]
"workload.load" = [0.6, 0.9]
"workload.users" = [5, 10]
[[exclude]]
layout = "split"
"workload.load" = 0.6
''')
    the_plan = plan(load_grid(grid))
    assert the_plan.grid.knob_names == ("layout", "workload.load", "workload.users")
    assert [s.knob_dict for s in the_plan.specs[::2]] == [
        {"layout": "single", "workload.load": 0.6, "workload.users": 5},
        {"layout": "single", "workload.load": 0.9, "workload.users": 10},
        {"layout": "split", "workload.load": 0.9, "workload.users": 10}]
    summary = launch(grid, serial(tmp_path / "results"))
    assert (summary.planned, summary.ok) == (6, 6)
    knobs = duckdb.sql(f"SELECT DISTINCT layout, \"workload.load\", \"workload.users\" FROM "
                       f"'{tmp_path}/results/t/runs/*.parquet' ORDER BY ALL").fetchall()
    assert knobs == [("single", 0.6, 5), ("single", 0.9, 10), ("split", 0.9, 10)]


def test_an_address_without_a_ray_head_fails_fast_with_one_line():
    with pytest.raises(RayConnectError) as error:
        check_reachable("127.0.0.1:1")
    assert str(error.value) == ("--address 127.0.0.1:1: no Ray head answers there (Connection "
                                "refused); start one with `ray start --head`, or omit --address "
                                "for an embedded Ray")


def _kills_its_worker_for_one_cell(scenario, seed, source):
    """Test-only run function: one cell takes its Ray worker process down (like an OOM kill)."""
    if scenario["partitions"]["gpu"]["MaxTime"] == "1-00:00:00" and seed == 0:
        os._exit(1)
    return simulate_with_simcore(scenario, seed, source)


@pytest.mark.slow
def test_a_run_that_kills_its_worker_is_isolated_from_its_batch(ray_session, tmp_path):
    ray_session.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    grid = write_grid(tmp_path, '"partitions.gpu.MaxTime" = ["2:00:00", "1-00:00:00"]',
                      sweep="seeds = 40")  # the culprit is run 41 of 80: batched with others
    summary = launch(grid, LaunchOptions(out=tmp_path / "results", progress=False),
                     simulate_fn=_kills_its_worker_for_one_cell)
    assert (summary.ok, summary.failed) == (79, 1)
    failed = duckdb.sql(f"SELECT seed, \"partitions.gpu.MaxTime\", error FROM "
                        f"'{tmp_path}/results/t/runs/*.parquet' WHERE status = 'failed'").fetchall()
    assert [(seed, maxtime) for seed, maxtime, _ in failed] == [(0, "1-00:00:00")]
    assert failed[0][2].startswith("lost by Ray: ")  # WorkerCrashedError, as a rule
