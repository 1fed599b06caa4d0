"""`sweeps sql`: read-only queries, refusals, output formats."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from analysis_testdata import build_results
from sweeps.cli import cli


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return build_results(tmp_path_factory.mktemp("sql") / "sweep", jobs=True)


def run(*args):
    return CliRunner().invoke(cli, ["sql", *map(str, args)])


@pytest.mark.parametrize(
    "query",
    [
        "COPY runs TO '{dir}/copy.csv'",
        "INSERT INTO runs SELECT * FROM runs",
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "DROP VIEW runs",
        "ATTACH '{dir}/other.duckdb' AS other",
        "SET enable_external_access = true",
        "PRAGMA enable_profiling",
        "INSTALL httpfs",
        "EXPORT DATABASE '{dir}/export'",
        "SELECT 1; SELECT 2",
    ],
)
def test_writes_and_settings_are_refused(folder, query):
    before = sorted(p.name for p in folder.rglob("*"))
    result = run(folder, query.format(dir=folder))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: SQL: ") and result.output.count("\n") == 1
    assert sorted(p.name for p in folder.rglob("*")) == before


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_csv('{dir}/../../../../etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('{dir}/../*/runs/*.parquet')",
    ],
)
def test_files_outside_the_folder_are_refused(folder, query):
    result = run(folder, query.format(dir=folder))
    assert result.exit_code == 2, result.output
    assert "Permission Error" in result.output and result.output.count("\n") == 1


def test_table_output_is_aligned(folder):
    result = run(folder, 'SELECT "partitions.gpu.MaxTime" AS maxtime, count(*) AS runs FROM runs GROUP BY 1 ORDER BY 1')
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["maxtime", "runs"]
    assert lines[2].split() == ["1-00:00:00", "9"]
    assert len({line.index("9") for line in lines[2:5]}) == 1  # numbers right-aligned in one column
    assert lines[-1] == "(3 rows)"


def test_cells_view_aggregates_seeds(folder):
    result = run(folder, "SELECT count(*) AS cells, min(n_runs) AS lo, max(gpu_util_n) AS hi FROM cells", "--format", "json")
    assert json.loads(result.output) == [{"cells": 9, "lo": 3, "hi": 3}]


def test_csv_and_json_formats(folder):
    csv = run(folder, "SELECT seed, status FROM runs ORDER BY run_id LIMIT 2", "--format", "csv").output
    assert csv.splitlines()[0] == "seed,status"
    rows = json.loads(run(folder, "SELECT 'nan'::DOUBLE AS x, 1 AS y", "--format", "json").output)
    assert rows == [{"x": None, "y": 1}]


def test_parquet_to_file_and_stdout(folder, tmp_path):
    out = tmp_path / "cells.parquet"
    assert run(folder, "SELECT * FROM cells", "--format", "parquet", "--output", out).exit_code == 0
    assert pq.read_table(out).num_rows == 9
    result = CliRunner().invoke(cli, ["sql", str(folder), "SELECT 42 AS answer", "--format", "parquet"])
    assert pq.read_table(io.BytesIO(result.stdout_bytes)).to_pylist() == [{"answer": 42}]


def test_jobs_view_and_bad_sql(folder):
    assert run(folder, "SELECT count(DISTINCT run_id) FROM jobs", "--format", "csv").output.splitlines()[1] == "27"
    result = run(folder, "SELEC 1")
    assert result.exit_code == 2 and "Parser Error" in result.output


def test_not_a_results_folder(tmp_path):
    result = run(tmp_path, "SELECT 1")
    assert result.exit_code == 2 and "manifest.json" in result.output
