"""The results folder (docs/results.md): manifest, plan, run parts, optional jobs/timeseries parts.

Only the driver writes. Every change is one *commit*: new files are written under temporary
names (`.<name>.tmp`, which `*.parquet` globs never match) and fsynced; then a journal
(`_commit.json`) naming the renames and deletions is written atomically; then the renames and
deletions are applied and the journal removed. Opening the store for writing replays a journal
left by a crash (roll forward: the files it names are complete) and deletes temporary files no
journal names (roll back). So a crash at any instant leaves each run stored once or not at all;
a reader never has to deduplicate. A lock file keeps two drivers from writing one folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from simcore.errors import TrilemmaError
from sweeps.runner import FAILED, OK, RunOutput
from sweeps.spec import Plan

MANIFEST, PLAN, JOURNAL, LOCK = "manifest.json", "plan.parquet", "_commit.json", ".lock"
RUNS, JOBS, TIMESERIES = "runs", "jobs", "timeseries"
FIXED_COLUMNS = ("run_id", "cell_id", "seed", "status", "error")
TRAILING_COLUMNS = ("wall_s", "model_version")


class StoreError(TrilemmaError):
    """The results folder cannot be used (locked by another driver, missing, not a results folder)."""


@dataclass(frozen=True)
class StoredRuns:
    """What the runs table holds: status per run id (a run id appears in exactly one row)."""

    status: Mapping[str, str]

    def ok(self) -> set[str]:
        return {run for run, status in self.status.items() if status == OK}

    def failed(self) -> set[str]:
        return {run for run, status in self.status.items() if status == FAILED}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp")


def _write_parquet(table: pa.Table, final: Path) -> Path:
    temp = _temp_name(final)
    temp.parent.mkdir(parents=True, exist_ok=True)
    with open(temp, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())
    return temp


def _write_text(text: str, final: Path) -> Path:
    temp = _temp_name(final)
    with open(temp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return temp


def knob_type(values: Sequence[Any]) -> str:
    """One Parquet type per knob column, the same in every part: bool, int64, double or string
    (arrays and tables, and axes mixing types, are stored as their JSON text)."""
    kinds = {type(v) for v in values}
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "int64"
    if kinds <= {int, float}:
        return "double"
    return "string"


def _knob_array(values: list[Any], kind: str) -> pa.Array:
    if kind == "string":
        values = [v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in values]
    return pa.array(values, type=pa.type_for_alias(kind))


def _metric_array(values: list[Any]) -> pa.Array:
    present = [v for v in values if v is not None]
    integral = present and all(isinstance(v, int) or hasattr(v, "dtype") and v.dtype.kind in "iu"
                               for v in present)
    if integral and not any(isinstance(v, bool) for v in present):
        return pa.array([None if v is None else int(v) for v in values], pa.int64())
    return pa.array([None if v is None else float(v) for v in values], pa.float64())


def runs_table(outputs: Sequence[RunOutput], knob_types: Mapping[str, str]) -> pa.Table:
    """One row per run: ids, status, knobs (named by dotted key), metrics, timing, model version."""
    columns: dict[str, pa.Array] = {
        "run_id": pa.array([o.spec.run_id for o in outputs], pa.string()),
        "cell_id": pa.array([o.spec.cell_id for o in outputs], pa.string()),
        "seed": pa.array([o.spec.seed for o in outputs], pa.int64()),
        "status": pa.array([o.status for o in outputs], pa.string()),
        "error": pa.array([o.error for o in outputs], pa.string()),
    }
    for knob, kind in knob_types.items():
        columns[knob] = _knob_array([o.spec.knob_dict.get(knob) for o in outputs], kind)
    metric_names = list(dict.fromkeys(name for o in outputs for name in o.metrics))
    for name in metric_names:
        columns[name] = _metric_array([o.metrics.get(name) for o in outputs])
    columns["wall_s"] = pa.array([o.wall_s for o in outputs], pa.float64())
    columns["model_version"] = pa.array([o.model_version for o in outputs], pa.string())
    return pa.table(columns)


def _part_name(table: pa.Table) -> str:
    """Parts are named by their content: the sorted (run id, status) pairs they hold."""
    pairs = sorted(zip(table.column("run_id").to_pylist(), table.column("status").to_pylist()))
    digest = hashlib.sha256("\n".join(f"{r}:{s}" for r, s in pairs).encode()).hexdigest()
    return f"part-{digest[:16]}.parquet"


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="permissive")


class Store:
    """A results folder `results/<sweep>/`; open with `Store.open(root, write=...)`."""

    def __init__(self, root: Path, lock_handle: Any | None) -> None:
        self.root = root
        self._lock = lock_handle

    # -- opening, locking, recovery ---------------------------------------------------------

    @classmethod
    def open(cls, root: str | Path, *, write: bool) -> "Store":
        """Writers take the folder's lock (or fail) and recover from a crash. Readers recover
        too when no writer holds the lock; otherwise the live writer finishes its own commit."""
        root = Path(root)
        if not write:
            if not (root / MANIFEST).is_file():
                raise StoreError(f"{root}: not a results folder (no {MANIFEST}); "
                                 "create it with `sweeps launch GRID.toml`")
            try:
                cls.open(root, write=True).close()
            except StoreError:
                pass
            return cls(root, None)
        try:
            root.mkdir(parents=True, exist_ok=True)
            handle = open(root / LOCK, "a+")
        except OSError as exc:
            raise StoreError(f"{root}: cannot write the results folder: {exc.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise StoreError(f"{root}: another sweeps process (pid {holder}) is writing this "
                             "folder; wait for it to finish or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        store = cls(root, handle)
        store.recover()
        return store

    def close(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def recover(self) -> None:
        """Finish a commit whose journal was written; delete temp files of unfinished ones."""
        journal = self.root / JOURNAL
        if journal.is_file():
            self._apply(json.loads(journal.read_text()))
        for directory in (self.root, self.root / RUNS, self.root / JOBS, self.root / TIMESERIES):
            if directory.is_dir():
                for temp in directory.glob(".*.tmp"):
                    temp.unlink()

    # -- the commit protocol ----------------------------------------------------------------

    def _commit(self, adds: Iterable[tuple[Path, Path]], removes: Iterable[Path]) -> None:
        """Apply renames (temp -> final) and deletions all or nothing, across a crash."""
        entry = {"add": [[str(t.relative_to(self.root)), str(f.relative_to(self.root))]
                         for t, f in adds],
                 "remove": [str(p.relative_to(self.root)) for p in removes]}
        if not entry["add"] and not entry["remove"]:
            return
        temp = _write_text(json.dumps(entry), self.root / JOURNAL)
        os.replace(temp, self.root / JOURNAL)
        _fsync_dir(self.root)
        self._apply(entry)

    def _apply(self, entry: Mapping[str, Any]) -> None:
        touched = {self.root}
        for temp, final in entry["add"]:
            if (self.root / temp).exists():
                os.replace(self.root / temp, self.root / final)
            touched.add((self.root / final).parent)
        for name in entry["remove"]:
            (self.root / name).unlink(missing_ok=True)
            touched.add((self.root / name).parent)
        for directory in touched:
            _fsync_dir(directory)
        (self.root / JOURNAL).unlink()
        _fsync_dir(self.root)

    # -- manifest and plan ------------------------------------------------------------------

    def write_plan(self, plan: Plan, versions: Mapping[str, str]) -> dict[str, Any]:
        """Record the grid being launched: manifest.json plus plan.parquet (every planned run)."""
        grid = plan.grid
        previous = self.manifest() if (self.root / MANIFEST).is_file() else {}
        history = [h for h in previous.get("grid_history", []) if h["grid_hash"] != grid.hash]
        history.append({"grid_hash": grid.hash, "runs": len(plan.specs)})
        knob_types = {k: knob_type(grid.knob_values(k)) for k in grid.knob_names}
        manifest = {
            "sweep": grid.name,
            "description": grid.description,
            "grid_path": str(grid.path.resolve()),
            "grid_hash": grid.hash,
            "grid_source": grid.source,
            "axes": list(grid.knob_names),
            "knob_types": knob_types,
            "objectives": dict(grid.objectives),
            "seeds": list(grid.seeds),
            "runs": len(plan.specs),
            "cells": plan.cells,
            "store_jobs": grid.store_jobs,
            "store_timeseries": grid.store_timeseries,
            "model_version": plan.model_version,
            "versions": dict(versions),
            "grid_history": history,
        }
        columns: dict[str, pa.Array] = {
            "run_id": pa.array([s.run_id for s in plan.specs], pa.string()),
            "cell_id": pa.array([s.cell_id for s in plan.specs], pa.string()),
            "seed": pa.array([s.seed for s in plan.specs], pa.int64()),
        }
        for knob, kind in knob_types.items():
            columns[knob] = _knob_array([s.knob_dict[knob] for s in plan.specs], kind)
        plan_temp = _write_parquet(pa.table(columns), self.root / PLAN)
        manifest_temp = _write_text(json.dumps(manifest, indent=2) + "\n", self.root / MANIFEST)
        self._commit([(plan_temp, self.root / PLAN), (manifest_temp, self.root / MANIFEST)], [])
        return manifest

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.root / MANIFEST).read_text())

    def plan_table(self) -> pa.Table:
        return pq.read_table(self.root / PLAN)

    # -- runs -------------------------------------------------------------------------------

    def parts(self, table: str = RUNS) -> list[Path]:
        return sorted((self.root / table).glob("part-*.parquet"))

    def stored(self) -> StoredRuns:
        status: dict[str, str] = {}
        for part in self.parts():
            columns = pq.read_table(part, columns=["run_id", "status"]).to_pydict()
            status.update(zip(columns["run_id"], columns["status"]))
        return StoredRuns(status=status)

    def append(self, outputs: Sequence[RunOutput], knob_types: Mapping[str, str]) -> None:
        """Store finished runs (and their jobs/timeseries tables) in one commit."""
        if not outputs:
            return
        runs = runs_table(outputs, knob_types)
        name = _part_name(runs)
        adds = []
        for directory, tables in ((JOBS, [o.jobs for o in outputs if o.jobs is not None]),
                                  (TIMESERIES, [o.timeseries for o in outputs
                                                if o.timeseries is not None])):
            if tables:
                final = self.root / directory / name
                adds.append((_write_parquet(_concat(tables), final), final))
        final = self.root / RUNS / name
        adds.append((_write_parquet(runs, final), final))
        self._commit(adds, [])

    def drop(self, run_ids: set[str]) -> int:
        """Remove these runs' rows (failed runs about to be retried) in one commit."""
        adds, removes, dropped = [], [], 0
        for part in self.parts():
            ids = pq.read_table(part, columns=["run_id"]).column("run_id").to_pylist()
            hits = sum(run in run_ids for run in ids)
            if not hits:
                continue
            dropped += hits
            table = pq.read_table(part)
            keep = table.filter(pa.array([run not in run_ids for run in ids]))
            removes.append(part)
            if keep.num_rows:
                final = part.with_name(_part_name(keep))
                adds.append((_write_parquet(keep, final), final))
        self._commit(adds, [p for p in removes if p not in {f for _, f in adds}])
        return dropped

    def compact(self) -> dict[str, tuple[int, int]]:
        """Merge the part files of each table into one, in one commit; returns (before, after)."""
        parts = {t: self.parts(t) for t in (RUNS, JOBS, TIMESERIES)}
        if all(len(p) < 2 for p in parts.values()):
            return {t: (len(p), len(p)) for t, p in parts.items()}
        ids = _concat([pq.read_table(p, columns=["run_id", "status"]) for p in parts[RUNS]])
        name = _part_name(ids)
        adds, removes = [], []
        for directory, files in parts.items():
            if files:
                final = self.root / directory / name
                adds.append((_merge_parquet(files, final), final))
                removes.extend(p for p in files if p != final)
        self._commit(adds, removes)
        return {t: (len(p), min(len(p), 1)) for t, p in parts.items()}


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Give a table the unified schema: cast present columns, add missing ones as nulls."""
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names
               else pa.nulls(table.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _merge_parquet(files: Sequence[Path], final: Path) -> Path:
    """Stream part files into one temp file under their unified schema (bounded memory)."""
    schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    schema = schema.remove_metadata()
    temp = _temp_name(final)
    with open(temp, "wb") as handle:
        with pq.ParquetWriter(handle, schema, compression="zstd") as writer:
            for file in files:
                for batch in pq.ParquetFile(file).iter_batches(batch_size=65536):
                    writer.write_table(_conform(pa.Table.from_batches([batch]), schema))
        handle.flush()
        os.fsync(handle.fileno())
    return temp
