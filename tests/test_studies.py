"""The university-gpu studies (examples/university-gpu/): every grid validates at its default size
and runs end to end at a tiny size (4 days, scale 0.6, one seed) through `sweeps launch` and the
figure generator; the generator's own figures and Pareto front give known answers."""

from __future__ import annotations

import importlib.util
import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sweeps.grid import load_grid
from sweeps.spec import plan

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "university-gpu"
GRIDS = sorted(p.name for p in FOLDER.glob("q*.toml"))
CONTRACT_METRICS = (
    "gpu_util", "cpu_util", "wait_mean_h", "wait_p50_h", "wait_p95_h", "wait_p99_h",
    *(f"wait_{p}_h_{c}" for c in ("debug", "short", "long", "large", "newuser") for p in ("p50", "p95")),
    "started_15min_frac", "bounded_slowdown_mean", "backfill_frac", "jobs_total", "jobs_completed",
    "jobs_timeout", "jobs_never_started", "limit_idle_gpu_h", "preempted_frac", "lost_gpu_h",
    "jain_index", "top_user_peak_share", "unmet_demand_gpu_h", "complexity",
)
FAST = {"q1b", "q2", "q6"}  # a few cells each; the others are marked slow


def _load_generator():
    spec = importlib.util.spec_from_file_location("ug_make_figures", FOLDER / "make_figures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


mf = _load_generator()


def test_every_grid_is_a_study():
    assert GRIDS == sorted(s.grid for s in mf.STUDIES)
    assert [s.key for s in mf.STUDIES] == ["q1", "q1b", *(f"q{k}" for k in range(2, 8))]


@pytest.mark.parametrize("grid", GRIDS)
def test_grid_validates_at_default_size(grid):
    the_plan = plan(load_grid(FOLDER / grid))
    assert the_plan.cells >= 3
    assert len(the_plan.specs) <= 40  # each must finish in minutes on 2 cores


def test_shrink_grid_overrides_workload_and_seeds(tmp_path):
    small = mf.shrink_grid(FOLDER / "q5-preemptible.toml", tmp_path, days=2.0, scale=0.5)
    grid = tomllib.loads(small.read_text())
    assert grid["sweep"]["seeds"] == 1
    assert grid["base"]["workload"]["days"] == 2.0 and grid["base"]["workload"]["scale"] == 0.5
    assert grid["base"]["workload"]["archetypes"]["heavy"]["preemptible_frac"] == 1.0  # kept
    scenario = load_grid(small).base
    assert scenario["metrics"]["warmup"] == "12:00:00"
    assert scenario["partitions"]["preempt"]["PreemptMode"] == "REQUEUE"


def _end_to_end(key: str, tmp_path: Path) -> None:
    study = next(s for s in mf.STUDIES if s.key == key)
    grid = mf.shrink_grid(FOLDER / study.grid, tmp_path)
    results, figures = tmp_path / "results", tmp_path / "figures"
    cells = mf.run_study(study, grid, results, figures, serial=True)
    folder = results / load_grid(grid).name
    runs = pl.read_parquet(folder / "runs" / "*.parquet")
    assert runs.height == len(plan(load_grid(grid)).specs)
    assert runs["status"].to_list() == ["ok"] * runs.height
    assert set(CONTRACT_METRICS) <= set(runs.columns)
    assert set(study.objectives) <= set(cells.columns)
    assert cells.height == plan(load_grid(grid)).cells and cells["front"].any()
    svg = (figures / f"{key}.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<circle") >= cells.height
    table = (figures / f"{key}.md").read_text()
    assert table.count("\n| ") == cells.height + 1  # header + one row per cell


@pytest.mark.parametrize("key", sorted(FAST))
def test_tiny_study_end_to_end(key, tmp_path):
    _end_to_end(key, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted({s.key for s in mf.STUDIES} - FAST))
def test_tiny_study_end_to_end_slow(key, tmp_path):
    _end_to_end(key, tmp_path)


def test_front_mask_known_answer():
    values = np.array([[0.9, 5.0], [0.8, 1.0], [0.7, 2.0], [0.9, 6.0], [np.nan, 0.0]])
    assert mf.front_mask(values, ["max", "min"]).tolist() == [True, True, False, False, False]


def _jobs(rows, partition="gpu"):
    df = pl.DataFrame(rows, schema=["user", "submit", "start", "end"], orient="row")
    return df.with_columns((pl.col("start") - pl.col("submit")).alias("wait_s"),
                           pl.col("user").str.replace(r"\d+$", "").alias("arch"),
                           pl.lit(partition).alias("partition"))


def test_burst_figures_known_answer():
    h = 3600.0
    jobs = _jobs([
        ("deadline1", 10 * h, 10 * h, 20 * h),
        ("deadline1", 30 * h, 31 * h, 40 * h),          # burst of deadline1: 10 h .. 30 h, ends at 40 h
        ("heavy1", 12 * h, 14 * h, 50 * h),             # inside the burst: waits 2 h
        ("new1", 29 * h, 29.5 * h, 30 * h),             # inside: 0.5 h
        ("new1", 31 * h, 41 * h, 42 * h),               # after the burst: waits 10 h
        ("new1", 30 * h + 3 * 86400, 31 * h + 3 * 86400, 0.0),  # 3 days after the last submit: waits 1 h
        ("new1", 31 * h + 3 * 86400, 40 * h + 3 * 86400, 0.0),  # more than 3 days after: not counted
    ])
    out = mf.burst_figures(jobs)
    assert out["burst_span_h_deadline"] == pytest.approx(30.0)
    assert out["wait_p95_h_others_in_burst"] == pytest.approx(0.5 + 0.95 * 1.5)
    assert out["wait_p95_h_others_after_burst"] == pytest.approx(1.0 + 0.95 * 9.0)


def test_burst_figures_nan_when_a_burst_job_never_started():
    jobs = _jobs([("deadline1", 0.0, float("nan"), float("nan")), ("heavy1", 0.0, 0.0, 1.0)])
    assert math.isnan(mf.burst_figures(jobs)["burst_span_h_deadline"])
    assert math.isnan(mf.burst_figures(_jobs([("heavy1", 0.0, 0.0, 1.0)]))["burst_span_h_deadline"])


def test_archetype_and_preemptible_figures_skip_warmup_and_unstarted():
    h = 3600.0
    jobs = _jobs([
        ("owner1", 0.0, 5 * h, 6 * h),                  # in the warm-up: ignored
        ("owner1", 10 * h, 11 * h, 12 * h),
        ("owner2", 10 * h, 13 * h, 14 * h),
        ("owner2", 10 * h, float("nan"), float("nan")),  # never started: ignored
        ("heavy1", 10 * h, 10 * h, 20 * h),
    ])
    out = mf.archetype_figures(jobs, warmup=5 * h)
    assert out["wait_p50_h_owner"] == pytest.approx(2.0)
    assert out["wait_p50_h_heavy"] == pytest.approx(0.0)
    assert math.isnan(out["wait_p95_h_new"])
    pre = mf.preemptible_figures(jobs, warmup=5 * h, opted_in={"owner2", "heavy1"})
    assert pre["wait_p95_h_nonpreemptible"] == pytest.approx(1.0)


def test_knob_labels():
    assert mf.gpu_hours("gres/gpu=7200") == "120 GPU-h"
    assert mf.gpu_hours("gres/gpu=-1") == "none"
    assert mf.gpu_cap("gres/gpu=16") == "16 GPUs"
    assert mf.days("14-00:00:00") == "14 d"
    assert mf.set_aside("v100[03-04],a100[01-06],h100[01-02]") == "8 GPUs aside"


def test_partition_figures_by_where_jobs_ran():
    h = 3600.0
    jobs = pl.concat([
        _jobs([("new1", 10 * h, 10.5 * h, 11 * h), ("new1", 0.0, 9 * h, 10 * h)], partition="gpu-debug"),
        _jobs([("heavy1", 10 * h, 14 * h, 20 * h)], partition="gpu"),
    ])
    out = mf.partition_figures(jobs, warmup=5 * h, partitions=["gpu", "gpu-debug", "vision"])
    assert out["wait_p95_h_in_gpu-debug"] == pytest.approx(0.5)  # the warm-up job is left out
    assert out["wait_p50_h_in_gpu"] == pytest.approx(4.0)
    assert math.isnan(out["wait_p95_h_in_vision"])
