"""SWF import: field mapping, fallbacks for unknown fields, skipped lines, the shared Lublin trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.errors import ConfigError, WorkloadError
from simcore.workload import swf
from simcore.workload.swf import parse_swf, read_swf

DATA = Path(__file__).parent / "data" / "workloads"
LUBLIN = Path("/work/shared/data/lublin_256.swf")


def test_small_trace_default_options():
    parsed = parse_swf(DATA / "small.swf")
    c = parsed.columns
    assert list(c["job_id"]) == ["1", "2", "4"]
    assert list(c["submit"]) == [0, 60, 150]
    assert parsed.epoch == 1700000100
    assert list(c["runtime"]) == [3600, 60, 1000]
    # requested time when known, else runtime x 2 rounded up to 15 minutes
    assert list(c["time_limit"]) == [7200, 900, 2700]
    assert list(c["gpus"]) == [8, 2, 1]
    assert list(c["nodes"]) == [2, 1, 1]
    assert list(c["cpus"]) == [64, 16, 8]
    assert list(c["mem_mb"]) == [8, 0, 0]  # 2048 KB per processor x 4 per node
    assert list(c["user"]) == ["u3", "u4", "unknown"]
    assert list(c["account"]) == ["g7", "g7", ""]
    assert list(c["partition"]) == ["", "", ""]
    assert list(c["dependency"]) == ["", "", ""]
    counts = parsed.counts
    assert (counts.rows, counts.jobs, counts.skipped_never_started, counts.skipped_partial) == (5, 3, 1, 1)


def test_small_trace_options():
    parsed = parse_swf(DATA / "small.swf", {
        "procs_as": "cpus", "procs_per_node": 2, "missing_time_limit": "default",
        "queue_map": {"1": "gpu"}, "preceding_as_dependency": True, "missing_user": "anon",
    })
    c = parsed.columns
    assert list(c["gpus"]) == [0, 0, 0]
    assert list(c["cpus"]) == [8, 2, 1]
    assert list(c["nodes"]) == [4, 1, 1]
    assert list(c["time_limit"]) == [7200, 0, 0]
    assert list(c["partition"]) == ["gpu", "", "gpu"]
    assert list(c["dependency"]) == ["", "afterany:1", ""]
    assert list(c["user"]) == ["u3", "u4", "anon"]


def test_synthetic_users_are_deterministic_and_bounded():
    a = parse_swf(LUBLIN, {"synthetic_users": 40}).columns["user"]
    b = parse_swf(LUBLIN, {"synthetic_users": 40}).columns["user"]
    assert (a == b).all()
    assert len(set(a)) == 40
    assert set(a) <= {f"user{i:02d}" for i in range(40)}


def test_lublin_reads_as_job_table():
    table = read_swf(LUBLIN)
    assert len(table) == 10000
    assert table.time_origin is None  # the file has no UnixStartTime
    assert table["submit"][0] == 0 and (np.diff(table["submit"]) >= 0).all()
    assert set(table["user"]) == {"unknown"}
    runtime, limit = table["runtime"], table["time_limit"]
    assert (limit >= runtime).all() and (limit % 900 == 0).all()
    assert table["gpus"].max() == 256 and table["nodes"].max() == 64


@pytest.mark.parametrize("options, message", [
    ({"procs_as": "tpus"}, "workload.procs_as: found 'tpus'; allowed: gpus, cpus"),
    ({"procs_per_node": 0}, "workload.procs_per_node: found 0; must be >= 1"),
    ({"time_limit_factor": 0.5}, "workload.time_limit_factor: found 0.5; must be >= 1"),
    ({"queue_map": {"x": "gpu"}}, "workload.queue_map.x: SWF queue numbers are integers"),
    ({"procs_per_node": "4"}, "workload.procs_per_node: expected an integer, found '4'"),
])
def test_option_errors(options, message):
    with pytest.raises(ConfigError) as err:
        parse_swf(DATA / "small.swf", options)
    assert str(err.value) == message


def test_unknown_option_lists_allowed():
    with pytest.raises(ConfigError) as err:
        parse_swf(DATA / "small.swf", {"procs": 4})
    assert str(err.value).startswith("workload.procs: unknown option; allowed: cpus_per_gpu, missing_time_limit")


def test_missing_file():
    with pytest.raises(WorkloadError, match=r"nope.swf: cannot read SWF file \(No such file or directory\)"):
        parse_swf(DATA / "nope.swf")


row = st.tuples(
    st.integers(0, 10**7),                      # submit
    st.one_of(st.just(-1), st.integers(0, 10**6)),  # run time
    st.one_of(st.just(-1), st.integers(0, 512)),    # allocated processors
    st.one_of(st.just(-1), st.integers(1, 10**6)),  # requested time
    st.sampled_from([-1, 0, 1, 2, 3, 4, 5]),        # status
)


@settings(max_examples=40, deadline=None)
@given(st.lists(row, min_size=1, max_size=40), st.sampled_from(["scaled", "default"]))
def test_every_line_is_a_job_or_counted(tmp_path_factory, rows, fallback):
    path = tmp_path_factory.mktemp("swf") / "h.swf"
    path.write_text("".join(
        f"{i + 1} {s} -1 {r} {p} -1 -1 {p} {q} -1 {st_} -1 -1 -1 -1 -1 -1 -1\n"
        for i, (s, r, p, q, st_) in enumerate(rows)))
    ran = [x for x in rows if x[4] not in (2, 3, 4) and x[1] > 0 and x[2] > 0]
    if not ran:
        with pytest.raises(WorkloadError):
            parse_swf(path, {"missing_time_limit": fallback})
        return
    parsed = parse_swf(path, {"missing_time_limit": fallback})
    counts = parsed.counts
    assert counts.jobs + counts.skipped_never_started + counts.skipped_partial == counts.rows == len(rows)
    c = parsed.columns
    assert counts.jobs == len(ran) and (c["runtime"] > 0).all() and c["submit"].min() == 0
    assert (np.diff(c["submit"]) >= 0).all()
    unknown = c["time_limit"] == 0
    assert fallback == "default" or not unknown.any()


# Plain decimals (tabs, padding, fractions, -0, -1.0) that the bulk reader takes, and lines it
# leaves to float(): an exponent, a '+' sign, comments and a blank line.
MIXED = """\
; Version: 2.2
; UnixStartTime: 1700000000

1 0 -1 3600.5 8 12.25 -1 8 7200 2048.1 1 3 7 -1 1 -1 -1 -1
2\t60\t-1\t59.001\t2\t-1\t-1\t2\t-1\t-1\t0\t-1\t7\t-1\t2\t-1\t1\t30
   3 90 -1 .5 1 -1 -1 1 5. -1 1 4 -1 -1 1 -1 -1 -1   
; a comment between jobs 1 2 3
4 120 -1 1e3 4 -1 -1 4 -1 -1 1 -1 -1 -1 1 -1 -1 -1
5 150 -0 100 4 -1.0 -1 4 900 -1 3 5 -1 -1 1 -1 -1 -1
6 150 -1 100 4 -1 -1 4 900 -1 1 +5 -1 -1 1 -1 -1 -1
"""


def _read_nothing(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Stands in for the bulk reader so every line takes the per-line path (the reference)."""
    return np.zeros((len(lines), swf.N_FIELDS), dtype=np.int64), np.zeros(len(lines), dtype=bool)


@pytest.mark.parametrize("options", [
    {}, {"procs_as": "cpus", "preceding_as_dependency": True, "synthetic_users": 3},
])
def test_bulk_and_per_line_paths_give_identical_columns(tmp_path, monkeypatch, options):
    path = tmp_path / "mixed.swf"
    path.write_text(MIXED)
    _, read = swf._read_plain(MIXED.splitlines())
    assert list(read) == [False, False, False, True, True, True, False, False, True, False]
    bulk = read_swf(path, options)
    monkeypatch.setattr(swf, "_read_plain", _read_nothing)
    per_line = read_swf(path, options)
    assert bulk.columns.keys() == per_line.columns.keys()
    for name, column in bulk.columns.items():
        assert column.dtype == per_line[name].dtype and np.array_equal(column, per_line[name]), name
    assert bulk.time_origin == per_line.time_origin == 1700000000
    assert list(bulk["runtime"]) == [3601, 60, 1, 1000, 100]  # fractions round up; job 5 is partial


GOOD = "7 0 -1 60 1 -1 -1 1 -1 -1 1 -1 -1 -1 1 -1 -1 -1"


@pytest.mark.parametrize("field, token, message", [
    (4, "x", "field 4 (run time) is 'x'; expected a number (-1 = unknown)"),
    (4, "1h", "field 4 (run time) is '1h'; expected a number (-1 = unknown)"),
    (3, "1.2.3", "field 3 (wait time) is '1.2.3'; expected a number (-1 = unknown)"),
    (3, "--1", "field 3 (wait time) is '--1'; expected a number (-1 = unknown)"),
    (3, "-", "field 3 (wait time) is '-'; expected a number (-1 = unknown)"),
    (4, "-5", "field 4 (run time) is -5; expected >= 0 or -1 (unknown)"),
    (6, "-0.5", "field 6 (average CPU time) is -0.5; expected >= 0 or -1 (unknown)"),
    (6, "nan", "field 6 (average CPU time) is nan; expected >= 0 or -1 (unknown)"),
    (7, "2000000000000000", "field 7 (used memory) is 2000000000000000; at most 1e+15 is accepted"),
    (7, "1000000000000000.5", "field 7 (used memory) is 1000000000000000.5; at most 1e+15 is accepted"),
    (7, "inf", "field 7 (used memory) is inf; at most 1e+15 is accepted"),
    (18, "1 2", "found 19 fields; SWF job lines have 18 whitespace-separated numbers"),
    (18, "", "found 17 fields; SWF job lines have 18 whitespace-separated numbers"),
])
def test_bad_token_in_line_n_reports_the_same_error(tmp_path, monkeypatch, field, token, message):
    fields = GOOD.split()
    fields[field - 1] = token
    later_bad = GOOD.replace(" 60 ", " -7 ")  # would be read in bulk, so must not be reported first
    path = tmp_path / "bad.swf"
    path.write_text("\n".join(["; UnixStartTime: 0", GOOD, "", " ".join(fields), later_bad, GOOD]))
    expected = f"bad.swf:4: {message}"
    with pytest.raises(WorkloadError) as bulk:
        parse_swf(path)
    monkeypatch.setattr(swf, "_read_plain", _read_nothing)
    with pytest.raises(WorkloadError) as per_line:
        parse_swf(path)
    assert str(bulk.value) == str(per_line.value) == expected
