"""sacct import: -X -P and -D output, TRES parsing, requeued jobs, skipped rows and their counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.errors import ConfigError, TrilemmaError, WorkloadError
from simcore.workload.sacct import parse_sacct, read_sacct

DATA = Path(__file__).parent / "data" / "workloads"
HEADER = "JobIDRaw|User|Account|Partition|QOS|Submit|Start|End|ElapsedRaw|TimelimitRaw|ReqTRES|AllocTRES|NNodes|State"


def test_requeued_cancelled_running_and_never_started():
    parsed = parse_sacct(DATA / "sacct_requeue.txt")
    c = parsed.columns
    # ordered by original submit; 102 never started (CANCELLED by 1001, Start=None), 104 still running
    assert list(c["job_id"]) == ["105", "100", "101", "103"]
    assert list(c["submit"]) == [0, 300, 600, 1500]
    assert parsed.epoch == 1776333300  # 2026-04-16T09:55:00 read as UTC
    # 101 was preempted and requeued: original submit, its final run's runtime
    assert list(c["runtime"]) == [3630, 3600, 7200, 1800]
    assert list(c["time_limit"]) == [3600, 7200, 86400, 0]  # UNLIMITED -> partition's limit
    assert list(c["gpus"]) == [1, 2, 4, 0]
    assert list(c["gpu_type"]) == ["", "", "a100", ""]
    assert list(c["cpus"]) == [4, 8, 16, 64]
    assert list(c["nodes"]) == [1, 1, 1, 2]
    assert list(c["mem_mb"]) == [16384, 65536, 128000, 102400]  # per node: 200G over 2 nodes
    assert list(c["partition"]) == ["gpu", "gpu", "gpu-preempt", "cpu"]
    assert list(c["user"]) == ["frank", "alice", "bob", "dave"]
    counts = parsed.counts.as_dict()
    assert counts == {"rows": 7, "jobs": 4, "skipped_never_started": 1, "skipped_running": 1,
                      "skipped_partial": 0, "skipped_steps": 0, "requeued_jobs": 1}


def test_formatted_times_and_steps():
    parsed = parse_sacct(DATA / "sacct_formatted.txt")
    c = parsed.columns
    assert list(c["job_id"]) == ["7", "8"]
    assert list(c["runtime"]) == [93784, 300]  # 1-02:03:04, 00:05:00
    assert list(c["time_limit"]) == [172800, 1800]  # 2-00:00:00, 30:00
    assert list(c["gpus"]) == [1, 0]
    assert parsed.counts.skipped_steps == 1
    assert list(c["name"]) == ["train", "eval"]


def test_parsable_with_trailing_bar_and_req_tres(tmp_path):
    path = tmp_path / "p.sacct"
    path.write_text(
        HEADER + "|\n"
        "9|ann|phys|gpu|normal|2026-01-01T00:00:00|2026-01-01T00:01:00|2026-01-01T00:11:00|600|20|"
        "cpu=2,gres/gpu:h100=1,mem=2G,node=1|cpu=4,gres/gpu=2,mem=4G,node=1|1|COMPLETED|\n"
    )
    alloc = parse_sacct(path).columns
    req = parse_sacct(path, {"tres": "req"}).columns
    assert (alloc["cpus"][0], alloc["gpus"][0], alloc["mem_mb"][0]) == (4, 2, 4096)
    assert (req["cpus"][0], req["gpus"][0], req["gpu_type"][0], req["mem_mb"][0]) == (2, 1, "h100", 2048)
    assert alloc["time_limit"][0] == 1200
    assert alloc["name"][0] == ""  # no JobName column


def test_read_sacct_keeps_time_origin():
    table = read_sacct(DATA / "sacct_requeue.txt")
    assert len(table) == 4 and table.time_origin == 1776333300
    assert list(table["requeue"]) == [True] * 4


def test_no_finished_jobs(tmp_path):
    path = tmp_path / "none.sacct"
    path.write_text(HEADER + "\n1|a|b|gpu|normal|2026-01-01T00:00:00|Unknown|Unknown|0|60||cpu=1,node=1|1|PENDING\n")
    with pytest.raises(WorkloadError) as err:
        parse_sacct(path)
    assert str(err.value) == "none.sacct: no finished job in the file (1 never started, 0 still running)"


def test_bad_tres_option():
    with pytest.raises(ConfigError) as err:
        parse_sacct(DATA / "sacct_requeue.txt", {"tres": "both"})
    assert str(err.value) == "workload.tres: found 'both'; allowed: alloc, req"


def test_requeued_rows_in_any_order_and_zoned_times(tmp_path):
    path = tmp_path / "d.sacct"
    run = "|cpu=4,gres/gpu=1,mem=4G,node=1|1|"
    path.write_text(
        HEADER + "\n"
        f"5|a|p|gpu|normal|2026-01-01T01:00:00|2026-01-01T01:02:00|2026-01-01T02:02:00|3600|120|{run}COMPLETED\n"
        f"5|a|p|gpu|normal|2026-01-01T00:00:00|2026-01-01T00:00:10|2026-01-01T00:30:10|1800|120|{run}PREEMPTED\n"
        f"6|a|p|gpu|normal|2026-01-01T00:10:00+01:00|2026-01-01T00:10:00+01:00|2026-01-01T00:20:00+01:00|600|20|"
        f"{run}COMPLETED\n"
        f"7|a|p|gpu|normal|2026-01-01T00:20:00|2026-01-01T00:21:00|2026-01-01T00:31:00|600|20|{run}REQUEUED\n"
        f"7|a|p|gpu|normal|2026-01-01T00:33:00|None|Unknown|0|20|{run}PENDING\n"
    )
    parsed = parse_sacct(path)
    c = parsed.columns
    assert list(c["job_id"]) == ["6", "5"]  # 6 submitted 23:10 UTC the day before; 7 waits to rerun
    assert list(c["submit"]) == [0, 3000]
    assert list(c["runtime"]) == [600, 3600]
    assert parsed.counts.requeued_jobs == 1 and parsed.counts.skipped_running == 1


def test_real_slurm_22_05_output():
    """Captured from the local Slurm 22.05.8: completed, running and pending jobs."""
    parsed = parse_sacct(DATA / "sacct_real_22.05.txt")
    c = parsed.columns
    assert parsed.counts.as_dict() == {"rows": 12, "jobs": 6, "skipped_never_started": 3, "skipped_running": 3,
                                       "skipped_partial": 0, "skipped_steps": 0, "requeued_jobs": 0}
    assert list(c["job_id"]) == ["1", "2", "3", "4", "6", "7"]
    assert list(c["runtime"]) == [60, 90, 40, 30, 45, 15]
    assert list(c["time_limit"]) == [120, 180, 60, 60, 60, 120]
    assert list(c["nodes"]) == [2, 2, 4, 1, 1, 2]
    assert list(c["cpus"]) == [64, 64, 128, 32, 32, 64]
    assert list(c["mem_mb"]) == [1000] * 6
    assert list(c["user"][:3]) == ["alice", "bob", "carol"]


def test_comment_lines_around_the_output(tmp_path):
    path = tmp_path / "annotated.sacct"
    path.write_text(
        "# recorded on the local Slurm\n# sacct -X -P ...\n" + HEADER + "\n"
        "# a note between rows\n"
        "1|a|p|gpu|normal|2026-01-01T00:00:00|2026-01-01T00:00:05|2026-01-01T00:01:05|60|2||cpu=1,node=1|1|COMPLETED\n"
    )
    parsed = parse_sacct(path)
    assert parsed.counts.rows == 1 and list(parsed.columns["runtime"]) == [60]


def test_minimal_format_without_resources(tmp_path):
    path = tmp_path / "min.sacct"
    path.write_text("JobID|Submit|Start|ElapsedRaw|State\n3|2026-01-01T00:00:00|2026-01-01T00:00:01|5|COMPLETED\n")
    c = parse_sacct(path).columns
    assert (c["nodes"][0], c["cpus"][0], c["gpus"][0], c["mem_mb"][0], c["time_limit"][0]) == (1, 1, 0, 0, 0)


FIELD = st.one_of(
    st.sampled_from(["", "Unknown", "None", "UNLIMITED", "2026-01-01T00:00:00", "COMPLETED", "CANCELLED by 5",
                     "cpu=2,gres/gpu=1,mem=1G,node=1", "cpu=x", "gres/gpu:a100=2", "1-00:00:00", "12.batch"]),
    st.integers(-5, 10**6).map(str),
    st.text(alphabet="0123456789-:T=,/GMK.abc|", max_size=12),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(FIELD, min_size=13, max_size=14), min_size=1, max_size=6))
def test_garbage_gives_one_line_errors_only(tmp_path_factory, rows):
    """Whatever the rows hold, the importer returns jobs or raises TrilemmaError (no traceback)."""
    path = tmp_path_factory.mktemp("fuzz") / "f.sacct"
    path.write_text(HEADER + "\n" + "\n".join("|".join(r) for r in rows) + "\n")
    try:
        parsed = parse_sacct(path)
    except TrilemmaError as exc:
        assert "\n" not in str(exc)
    else:
        assert parsed.counts.jobs == len(parsed.columns["job_id"]) > 0


def test_submit_from_eligible(tmp_path):
    path = tmp_path / "held.sacct"
    path.write_text(
        "JobIDRaw|Submit|Eligible|Start|ElapsedRaw|State\n"
        "1|2026-01-01T00:00:00|2026-01-01T00:00:00|2026-01-01T00:00:01|5|COMPLETED\n"
        "2|2026-01-01T00:00:10|2026-01-01T01:00:00|2026-01-01T01:00:01|5|COMPLETED\n"
        "3|2026-01-01T00:00:20|Unknown|2026-01-01T00:00:21|5|COMPLETED\n"
    )
    assert list(parse_sacct(path).columns["submit"]) == [0, 10, 20]
    assert list(parse_sacct(path, {"submit": "Eligible"}).columns["submit"]) == [0, 20, 3600]
    with pytest.raises(ConfigError) as err:
        parse_sacct(path, {"submit": "Start"})
    assert str(err.value) == "workload.submit: found 'Start'; allowed: Submit, Eligible"
