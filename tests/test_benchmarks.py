"""Smoke tests of the benchmark suite (benchmarks/), at ~1k jobs, so the scripts cannot rot."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import accasim_bench  # noqa: E402
import run_all  # noqa: E402
import traces  # noqa: E402

from simcore import simulate  # noqa: E402
from simcore.workload.swf import read_swf  # noqa: E402

N = 1000


def test_fifo_trace_is_seeded_and_fits_its_limits():
    sc = traces.fifo_scenario(N)
    a, b, c = traces.fifo_jobs(sc, 1), traces.fifo_jobs(sc, 1), traces.fifo_jobs(sc, 2)
    assert len(a) == N
    assert all(np.array_equal(a[k], b[k]) for k in a.columns)
    assert not np.array_equal(a["runtime"], c["runtime"])
    assert (a["runtime"] <= a["time_limit"]).all()  # AccaSim does not enforce limits
    assert (a["gpus"] >= 1).all()  # one SWF processor = one GPU
    assert sc.workload.params["days"] == pytest.approx(N * 365 / traces.JOBS_PER_YEAR)


def test_policy_trace_moves_a_share_to_the_preemptible_partition():
    sc = traces.policy_scenario(N)
    base, jobs = traces.fifo_jobs(sc, 1), traces.policy_jobs(sc, 1)
    scav = jobs["partition"] == "scavenger"
    assert 0.05 < scav.mean() < 0.3
    assert (jobs["qos"][scav] == "scavenger").all() and (jobs["qos"][~scav] == "normal").all()
    assert (jobs["requeue"] == scav).all()
    assert np.array_equal(jobs["runtime"], base["runtime"])


def test_swf_export_reads_back_as_the_same_jobs(tmp_path):
    jobs = traces.fifo_jobs(traces.fifo_scenario(N), 1)
    back = read_swf(traces.write_swf(jobs, tmp_path / "t.swf"), traces.SWF_OPTIONS)
    assert len(back) == N
    assert np.array_equal(back["submit"], jobs["submit"] - jobs["submit"].min())  # the importer starts at 0
    for col in ("runtime", "time_limit", "gpus", "nodes", "cpus"):
        assert np.array_equal(back[col], jobs[col]), col


def test_accasim_system_matches_the_cluster():
    cfg = accasim_bench.sys_config(traces.NODES)
    group = cfg["groups"]["a100"]
    assert group["gpu"] * cfg["resources"]["a100"] == traces.NODES * traces.GPUS_PER_NODE == 1000
    assert cfg["equivalence"]["processor"]["gpu"] == 1
    assert cfg["equivalence"]["processor"]["core"] * traces.GPUS_PER_NODE == traces.CPUS_PER_NODE


def test_digest_sees_one_changed_value():
    sc = traces.fifo_scenario(200)
    cols = simulate(sc, 1, traces.fifo_jobs(sc, 1)).jobs
    changed = dict(cols)
    changed["start"] = cols["start"].copy()
    changed["start"][5] += 1
    assert run_all.digest(cols) == run_all.digest(dict(cols))
    assert run_all.digest(changed) != run_all.digest(cols)


@pytest.mark.parametrize("case", ["fifo", "policy"])
def test_measure_runs_a_child_and_reports(case):
    row = run_all.measure(case, N, seed=3)
    again = run_all.measure(case, N, seed=3)
    assert row["jobs"] == N and row["case"] == case
    assert row["sim_cpu_s"] > 0 and row["peak_rss_mb"] > 10
    assert 0 < row["metrics"]["gpu_util"] <= 1
    assert row["digest"] == again["digest"]  # deterministic: same seed, same schedule
    if case == "policy":
        assert row["metrics"]["preempted_frac"] >= 0 and row["queue_len_mean"] >= 0


def test_measure_reads_the_swf_trace(tmp_path):
    swf = traces.write_swf(traces.fifo_jobs(traces.fifo_scenario(N), 1), tmp_path / "t.swf")
    row = run_all.measure("fifo", N, swf=swf)
    assert row["source"] == "swf" and row["jobs"] == N and row["load_s"] > 0
