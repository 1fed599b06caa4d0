"""The results store: commits, crash recovery at every step, retry replacement, compaction."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sweeps import store as store_module
from sweeps.runner import FAILED, OK, RunOutput
from sweeps.spec import RunSpec
from sweeps.store import Store, StoreError, knob_type

KNOBS = {"partitions.gpu.MaxTime": "string", "seeded": "int64"}


def _output(n: int, status: str = OK, with_jobs: bool = False) -> RunOutput:
    spec = RunSpec(run_id=f"r{n:04d}", cell_id=f"c{n // 2:04d}", seed=n % 2,
                   knobs=(("partitions.gpu.MaxTime", f"{n}:00:00"), ("seeded", n)))
    if status == FAILED:
        return RunOutput(spec=spec, status=FAILED, error="ValueError: boom", wall_s=0.1,
                         model_version="t1")
    jobs = pa.table({"run_id": [spec.run_id] * 3, "wait_s": [1.0, 2.0, float(n)]}) \
        if with_jobs else None
    return RunOutput(spec=spec, status=OK, error=None, wall_s=0.1, model_version="t1",
                     metrics={"gpu_util": n / 100, "jobs_total": n}, jobs=jobs)


def _rows(root) -> list[tuple[str, str]]:
    return sorted(duckdb.sql(f"SELECT run_id, status FROM read_parquet('{root}/runs/*.parquet', "
                             "union_by_name=true)").fetchall())


def test_append_writes_one_row_per_run_with_knob_and_metric_columns(tmp_path):
    with Store.open(tmp_path / "s", write=True) as store:
        store.append([_output(i) for i in range(3)], KNOBS)
        store.append([_output(3, FAILED)], KNOBS)
    tables = [pq.read_table(p) for p in (tmp_path / "s" / "runs").glob("part-*.parquet")]
    table = next(t for t in tables if t.num_rows == 3)
    assert table.column_names[:7] == ["run_id", "cell_id", "seed", "status", "error",
                                      "partitions.gpu.MaxTime", "seeded"]
    assert table.schema.field("jobs_total").type == pa.int64()
    assert table.schema.field("gpu_util").type == pa.float64()
    assert _rows(tmp_path / "s") == [("r0000", OK), ("r0001", OK), ("r0002", OK),
                                     ("r0003", FAILED)]
    assert not list((tmp_path / "s").rglob("*.tmp"))
    assert not (tmp_path / "s" / "_commit.json").exists()


def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    with Store.open(tmp_path / "s", write=True):
        with pytest.raises(StoreError, match=r"another sweeps process \(pid \d+\) is writing"):
            Store.open(tmp_path / "s", write=True)


class _Crash(Exception):
    pass


def _crash_on_replace(monkeypatch, call: int) -> None:
    """Make the `call`-th os.replace in sweeps.store raise, as if the driver died right there."""
    real, count = store_module.os.replace, [0]

    def replace(src, dst):
        count[0] += 1
        if count[0] == call:
            raise _Crash(f"crash before replace #{call}")
        return real(src, dst)

    monkeypatch.setattr(store_module.os, "replace", replace)


@pytest.mark.parametrize("call", [1, 2, 3, 4])
def test_crash_at_any_rename_of_a_commit_leaves_each_run_once_or_not_at_all(
        tmp_path, monkeypatch, call):
    root = tmp_path / "s"
    with Store.open(root, write=True) as store:
        store.append([_output(0, with_jobs=True)], KNOBS)
    _crash_on_replace(monkeypatch, call)  # 1 journal, 2 jobs part, 3 runs part, 4 next journal
    store = Store.open(root, write=True)
    with pytest.raises(_Crash):
        store.append([_output(1, with_jobs=True), _output(2, with_jobs=True)], KNOBS)
        store.append([_output(3, with_jobs=True)], KNOBS)
    store.close()
    monkeypatch.undo()
    with Store.open(root, write=True) as store:  # recovery happens here
        stored = set(store.stored().status)
    # crash before the journal existed: the batch is gone; after: it was rolled forward
    expected = {"r0000"} if call == 1 else {"r0000", "r0001", "r0002"}
    assert stored == expected
    assert [r for r, _ in _rows(root)] == sorted(expected)
    jobs = duckdb.sql(f"SELECT run_id, count(*) FROM read_parquet('{root}/jobs/*.parquet') "
                      "GROUP BY run_id ORDER BY run_id").fetchall()
    assert jobs == [(r, 3) for r in sorted(expected)]
    assert not list(root.rglob("*.tmp")) and not (root / "_commit.json").exists()


def test_drop_replaces_failed_rows_without_touching_the_others(tmp_path):
    root = tmp_path / "s"
    with Store.open(root, write=True) as store:
        store.append([_output(0), _output(1, FAILED), _output(2, FAILED)], KNOBS)
        assert store.drop({"r0001"}) == 1
        store.append([_output(1)], KNOBS)
    assert _rows(root) == [("r0000", OK), ("r0001", OK), ("r0002", FAILED)]


@pytest.mark.parametrize("call", [1, 2])
def test_crash_during_drop_never_duplicates(tmp_path, monkeypatch, call):
    root = tmp_path / "s"
    with Store.open(root, write=True) as store:
        store.append([_output(0), _output(1, FAILED)], KNOBS)
    _crash_on_replace(monkeypatch, call)
    with Store.open(root, write=True) as store, pytest.raises(_Crash):
        store.drop({"r0001"})
    monkeypatch.undo()
    with Store.open(root, write=True) as store:
        assert store.stored().status == ({"r0000": OK, "r0001": FAILED} if call == 1
                                         else {"r0000": OK})


def test_compact_merges_parts_with_different_columns(tmp_path):
    root = tmp_path / "s"
    with Store.open(root, write=True) as store:
        for i in range(4):
            store.append([_output(i, with_jobs=True)], KNOBS)
        store.append([_output(9, FAILED)], {"partitions.gpu.MaxTime": "string"})  # fewer columns
        assert len(store.parts()) == 5
        counts = store.compact()
        assert counts == {"runs": (5, 1), "jobs": (4, 1), "timeseries": (0, 0)}
        assert len(store.parts()) == 1 and len(store.parts("jobs")) == 1
        assert store.compact() == {"runs": (1, 1), "jobs": (1, 1), "timeseries": (0, 0)}
    assert [r for r, _ in _rows(root)] == ["r0000", "r0001", "r0002", "r0003", "r0009"]
    assert duckdb.sql(f"SELECT count(*) FROM '{root}/jobs/*.parquet'").fetchall() == [(12,)]


def test_recovery_removes_orphan_temp_files(tmp_path):
    root = tmp_path / "s"
    with Store.open(root, write=True) as store:
        store.append([_output(0)], KNOBS)
    (root / "runs" / ".part-deadbeef.parquet.tmp").write_bytes(b"half a file")
    with Store.open(root, write=True) as store:
        assert list(store.stored().status) == ["r0000"]
    assert not list(root.rglob("*.tmp"))


def test_journal_is_rolled_forward(tmp_path):
    root = tmp_path / "s"
    (root / "runs").mkdir(parents=True)
    table = store_module.runs_table([_output(5)], KNOBS)
    pq.write_table(table, root / "runs" / ".part-x.parquet.tmp")
    (root / "_commit.json").write_text(json.dumps(
        {"add": [["runs/.part-x.parquet.tmp", "runs/part-x.parquet"]], "remove": []}))
    with Store.open(root, write=True) as store:
        assert list(store.stored().status) == ["r0005"]


@pytest.mark.parametrize("values, kind", [
    ([True, False], "bool"), ([1, 2], "int64"), ([1, 2.5], "double"), (["a", "b"], "string"),
    (["1-0", 60], "string"), ([{"a": 1}], "string"), ([True, 1], "string")])
def test_knob_types_are_fixed_per_axis(values, kind):
    assert knob_type(values) == kind


def test_an_unwritable_results_folder_is_a_one_line_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match=r"/file/s: cannot write the results folder: Not a directory"):
        Store.open(tmp_path / "file" / "s", write=True)
