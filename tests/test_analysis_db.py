"""Results folders as DuckDB views and Polars LazyFrames."""

from __future__ import annotations

import math

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.db import open_results, t975
from analysis_testdata import AXES, build_results


def test_temp_and_hidden_files_are_ignored(tmp_path):
    results = open_results(build_results(tmp_path / "s", temp_files=True))
    assert [f.name for f in results.files("runs")] == ["part-00000.parquet", "part-00001.parquet"]
    con = results.connect()
    assert con.execute("SELECT count(*) FROM runs").fetchall() == [(27,)]


def test_knobs_and_metrics_come_from_manifest_and_types(tmp_path):
    results = open_results(build_results(tmp_path / "s"))
    assert results.knobs == AXES
    assert "gpu_util" in results.metrics and "seed" not in results.metrics and "wall_s" not in results.metrics


def test_cells_mean_std_ci_against_numpy(tmp_path):
    results = open_results(build_results(tmp_path / "s", failed=1, nan_cell=True))
    runs = results.lazy("runs").filter(pl.col("status") == "ok").collect()
    cells = results.lazy("cells").collect()
    for cell in cells.iter_rows(named=True):
        values = runs.filter(pl.col("cell_id") == cell["cell_id"])["wait_p95_h"].to_numpy()
        assert cell["wait_p95_h"] == __import__("pytest").approx(values.mean())
        assert cell["wait_p95_h_n"] == len(values)
        half = t975(len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
        assert cell["wait_p95_h_ci95"] == __import__("pytest").approx(half)
    nan_cell = cells.filter(pl.col("gpu_util_n") == 0)
    assert nan_cell.height == 1 and nan_cell["gpu_util"][0] is None  # NaN runs are not averaged
    assert cells["n_failed"].sum() == 1 and cells["n_runs"].sum() == 26


def test_runs_view_follows_the_plan(tmp_path):
    folder = build_results(tmp_path / "s")
    runs = pq.read_table(folder / "runs" / "part-00000.parquet")
    pq.write_table(pa.table({"run_id": runs.column("run_id").slice(0, 5)}), folder / "plan.parquet")
    con = open_results(folder).connect()
    assert con.execute("SELECT count(*) FROM runs").fetchall() == [(5,)]
    assert con.execute("SELECT count(*) FROM all_runs").fetchall() == [(27,)]


def test_lazy_frames_for_every_table(tmp_path):
    results = open_results(build_results(tmp_path / "s", jobs=True, timeseries=True))
    assert results.lazy("runs").collect().height == 27
    assert results.lazy("jobs").select(pl.col("run_id").n_unique()).collect().item() == 27
    assert {"t", "gpus_alloc", "queue_len"} <= set(results.lazy("timeseries").collect_schema().names())
    assert results.lazy("cells").collect().height == 9


def test_t975_table():
    assert t975(1) == 12.706 and t975(2) == 4.303 and t975(200) == 1.96
