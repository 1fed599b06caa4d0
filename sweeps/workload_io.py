"""Files for the `sweeps workload` commands: scenario loading, trace reading and Parquet writing.

simcore never writes files, so the native job table is written here: atomically (temp name, then
rename), with `submit` as a timestamp when the trace's time origin is known (read_job_table turns
it back into seconds from that origin) and the import/shaping figures in the Parquet metadata.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from pathlib import Path
from typing import Any

from simcore.errors import ConfigError, WorkloadError

METADATA_KEY = b"trilemma.workload"
FORMATS = ("swf", "sacct", "native")


def load_scenario(path: str | Path):
    """A Scenario from a scenario TOML, a grid's base scenario (before its axes) or a slurm.conf.

    Any name not ending in .toml is read as a slurm.conf.
    """
    from simcore.config import Scenario

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: scenario file not found")
    if path.suffix.lower() != ".toml":
        from simcore.slurmconf import load_slurm_conf

        return Scenario.from_dict(load_slurm_conf(path), source=str(path))
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if any(section in doc for section in ("sweep", "base", "axes")):
        from sweeps.grid import load_grid

        doc = copy.deepcopy(dict(load_grid(path).base))  # includes merged, workload path resolved
    workload = doc.get("workload")
    if isinstance(workload, dict) and isinstance(workload.get("path"), str):
        target = Path(workload["path"])
        if not target.is_absolute():
            target = (path.parent / target).resolve()
        if not target.exists():
            raise ConfigError(f"{path}: workload.path {workload['path']!r} not found (looked for {target})")
        workload["path"] = str(target)
    return Scenario.from_dict(doc, source=str(path))


def sniff_format(path: str | Path) -> str:
    """'native' for .parquet/.csv, 'swf' for .swf, 'sacct' for '|'-separated text with a header."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".csv"):
        return "native"
    if suffix == ".swf":
        return "swf"
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            first = next((line for line in handle if line.strip()), "")
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read ({exc.strerror})") from None
    if "|" in first:
        return "sacct"
    if first.lstrip().startswith(";") or first.split()[:1] and first.split()[0].lstrip("-").isdigit():
        return "swf"
    raise WorkloadError(f"{path}: cannot tell the format; pass --format ({', '.join(FORMATS)})")


def read_workload(path: str | Path, fmt: str | None = None, options: dict[str, Any] | None = None):
    """(JobTable, import counts or None) for a trace in any supported format."""
    from simcore.jobs import JobTable, read_job_table

    fmt = fmt or sniff_format(path)
    options = options or {}
    if fmt == "native":
        if options:
            raise ConfigError(f"--option {sorted(options)[0]}: native job tables take no import options")
        return read_job_table(path), None
    if fmt == "swf":
        from simcore.workload.swf import parse_swf as parse
    elif fmt == "sacct":
        from simcore.workload.sacct import parse_sacct as parse
    else:
        raise ConfigError(f"--format: {fmt!r} is not allowed; allowed: {', '.join(FORMATS)}")
    parsed = parse(path, options)
    table = JobTable.from_columns(parsed.columns, source=str(path), time_origin=parsed.epoch)
    return table, parsed.counts.as_dict()


def write_job_table(table: Any, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write the native Parquet file atomically; returns the path written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    arrow = table.to_arrow()
    if table.time_origin is not None:
        stamps = pa.array(table["submit"] + table.time_origin, type=pa.int64()).cast(pa.timestamp("s"))
        arrow = arrow.set_column(arrow.schema.get_field_index("submit"), "submit", stamps)
    info = {"source": table.source, "time_origin": table.time_origin, **(metadata or {})}
    arrow = arrow.replace_schema_metadata({METADATA_KEY: json.dumps(info, sort_keys=True).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(arrow, temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The figures `write_job_table` stored (empty for Parquet files written elsewhere)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[METADATA_KEY]) if METADATA_KEY in meta else {}
