"""The native job table: one row per job, stored column-wise as numpy arrays.

Why columnar: a million jobs as Python objects cost ~1 GB and slow every pass; arrays indexed by
job number are compact, vectorise the metrics, and map 1:1 onto Parquet. Columns are documented in
docs/scenario.md ("Native job table"). simcore reads tables here and never writes files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simcore.errors import WorkloadError

# name -> (numpy dtype, default when the column is absent; None = required)
COLUMNS: dict[str, tuple[Any, Any]] = {
    "job_id": (object, None),
    "user": (object, "user"),
    "account": (object, ""),
    "partition": (object, ""),
    "qos": (object, ""),
    "submit": (np.int64, None),
    "time_limit": (np.int64, 0),
    "runtime": (np.int64, None),
    "nodes": (np.int64, 1),
    "cpus": (np.int64, 1),
    "mem_mb": (np.int64, 0),
    "gpus": (np.int64, 0),
    "gpu_type": (object, ""),
    "exclusive": (np.bool_, False),
    "dependency": (object, ""),
    "requeue": (np.bool_, False),
    "checkpoint_s": (np.int64, 0),
    "name": (object, ""),
}
OPTIONAL_DEFAULT_ID = "job_id"


@dataclass(frozen=True, eq=False)
class JobTable:
    """Columns of equal length (see COLUMNS); `time_origin` is the UNIX time of submit=0, if known.

    `unmet_demand_gpu_h` is work a workload generator never submitted as jobs (users who cannot
    checkpoint facing a MaxTime shorter than their work): it has no rows, but it is demand the
    policy left unmet, so the metrics add it to the never-started jobs' GPU-hours.
    """

    columns: Mapping[str, np.ndarray]
    source: str = "<jobs>"
    time_origin: int | None = None
    unmet_demand_gpu_h: float = 0.0

    def __len__(self) -> int:
        return len(self.columns["submit"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @classmethod
    def from_columns(cls, columns: Mapping[str, Sequence | np.ndarray], source: str = "<jobs>",
                     time_origin: int | None = None, unmet_demand_gpu_h: float = 0.0) -> "JobTable":
        """Validate and convert; errors name `source`, the column and the first bad row."""
        unknown = sorted(set(columns) - set(COLUMNS))
        if unknown:
            raise WorkloadError(f"{source}: unknown column {unknown[0]!r}; allowed: {', '.join(COLUMNS)}")
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            raise WorkloadError(f"{source}: columns have different lengths: {lengths}")
        n = next(iter(lengths.values()), 0)
        out: dict[str, np.ndarray] = {}
        for name, (dtype, default) in COLUMNS.items():
            if name in columns:
                out[name] = _convert(columns[name], dtype, name, source)
            elif name == "job_id":
                out[name] = np.array([str(i + 1) for i in range(n)], dtype=object)
            elif default is None:
                raise WorkloadError(f"{source}: required column {name!r} is missing")
            else:
                out[name] = np.full(n, default, dtype=dtype)
        _validate(out, source)
        for arr in out.values():
            arr.setflags(write=False)
        return cls(out, source, time_origin, float(unmet_demand_gpu_h))

    def to_arrow(self):
        """A pyarrow Table of the columns (the sweeps layer writes it; simcore writes no files)."""
        import pyarrow as pa

        return pa.table({name: pa.array(list(col) if col.dtype == object else col)
                         for name, col in self.columns.items()})


def _texts(values: Any, name: str) -> np.ndarray | None:
    """A column of strings (None as "") converted in Arrow, or None if it holds anything else.
    Every distinct value but job_id's becomes one shared str (~50 B/row saved at 1M rows)."""
    import pyarrow as pa

    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    arr = arr.fill_null("")
    if name == "job_id":
        return arr.to_numpy(zero_copy_only=False)
    coded = arr.dictionary_encode()
    words = np.array(coded.dictionary.to_pylist(), dtype=object)
    return words[coded.indices.to_numpy(zero_copy_only=False)]


def _convert(values: Any, dtype: Any, name: str, source: str) -> np.ndarray:
    if dtype is object:
        fast = _texts(values, name)
        if fast is not None:
            return fast
        texts = ("" if v is None else str(v) for v in values)
        if name != "job_id":      # few distinct values: one shared str each (~50 B/row at 1M rows)
            shared: dict[str, str] = {}
            texts = (shared.setdefault(t, t) for t in texts)
        return np.array(list(texts), dtype=object)
    try:
        arr = np.asarray(values)
        if dtype is np.bool_ and arr.dtype.kind in "OUS":
            arr = np.array([str(v).strip().lower() in ("1", "true", "yes") for v in arr])
        if arr.dtype.kind == "f":
            if np.isnan(arr).any():
                row = int(np.flatnonzero(np.isnan(arr))[0])
                raise WorkloadError(f"{source}: column {name!r} row {row + 1} is empty")
            arr = np.rint(arr)
        return arr.astype(dtype)
    except (TypeError, ValueError):
        raise WorkloadError(f"{source}: column {name!r} must be numeric ({np.dtype(dtype).name})") from None


def _validate(c: Mapping[str, np.ndarray], source: str) -> None:
    checks = (("submit", 0), ("time_limit", 0), ("runtime", 0), ("nodes", 1), ("cpus", 1),
              ("mem_mb", 0), ("gpus", 0), ("checkpoint_s", 0))
    for name, minimum in checks:
        bad = np.flatnonzero(c[name] < minimum)
        if len(bad):
            row = int(bad[0])
            raise WorkloadError(f"{source}: column {name!r} row {row + 1} is {c[name][row]}; must be >= {minimum}")
    ids = c["job_id"]
    if len(set(ids.tolist())) != len(ids):
        raise WorkloadError(f"{source}: column 'job_id' has duplicate values")


def read_job_table(path: str | Path) -> JobTable:
    """Read a native job table from Parquet or CSV (pyarrow). Timestamp submits become seconds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    if not path.exists():
        raise WorkloadError(f"{path}: file not found")
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        elif path.suffix.lower() == ".csv":
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
                column_types={k: pa.string() for k, (t, _) in COLUMNS.items() if t is object and k != "submit"},
                strings_can_be_null=False))
        else:
            raise WorkloadError(f"{path}: unknown extension {path.suffix!r}; allowed: .parquet, .csv")
    except pa.ArrowInvalid as exc:
        raise WorkloadError(f"{path}: cannot read ({str(exc).splitlines()[0]})") from None
    columns: dict[str, Any] = {}
    origin: int | None = None
    for name in table.column_names:
        col = table.column(name)
        if name == "submit" and (pa.types.is_timestamp(col.type) or pa.types.is_string(col.type)):
            if pa.types.is_string(col.type):
                col = pc.strptime(col, format="%Y-%m-%dT%H:%M:%S", unit="s")
            secs = pc.cast(pc.cast(col, pa.timestamp("s")), pa.int64()).to_numpy(zero_copy_only=False)
            origin = int(secs.min()) if len(secs) else 0
            columns[name] = secs - origin
        else:
            columns[name] = col.to_numpy(zero_copy_only=False)
    return JobTable.from_columns(columns, source=str(path), time_origin=origin)
