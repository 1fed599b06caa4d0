"""Pieces shared by the trace importers (SWF, sacct): typed options, import counts, parsed traces.

Importers read foreign traces into the native column set (docs/workloads.md). Their options come
from the scenario's `[workload]` table or the CLI, so they are validated here the same way the
scenario is: unknown keys and wrong types are one-line errors naming the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from simcore.errors import ConfigError, WorkloadError

T = TypeVar("T")

# Keys of the [workload] table that belong to the dispatcher, not to an importer's options.
DISPATCH_KEYS = frozenset({"kind", "path"})
# Run and requested times beyond a year are corrupt rather than jobs (no PWA trace has one).
MAX_SECONDS = 366 * 86400


def options_from_mapping(cls: type[T], values: Mapping[str, Any] | T | None, source: str) -> T:
    """Build the frozen options dataclass `cls` from a mapping, checking names and types.

    `source` names where the mapping came from ("scenario.toml: workload"); errors read
    "<source>.<key>: ...". Dispatcher keys (kind, path) are ignored so a whole [workload]
    table can be passed.
    """
    if values is None:
        return cls()
    if isinstance(values, cls):
        return values
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key in DISPATCH_KEYS:
            continue
        if key not in fields:
            allowed = ", ".join(sorted(fields))
            raise ConfigError(f"{source}.{key}: unknown option; allowed: {allowed}")
        default = fields[key].default
        kwargs[key] = _coerce(value, default, f"{source}.{key}")
    options = cls(**kwargs)
    check = getattr(options, "check", None)
    if check is not None:
        check(source)
    return options


def read_trace_text(path: Path, kind: str) -> str:
    """A trace file's text (undecodable bytes replaced: one bad byte must not hide the rest)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot read {kind} file ({exc.strerror})") from None


def _coerce(value: Any, default: Any, where: str) -> Any:
    """Accept `value` if it has the type of the field's default (ints are accepted as floats)."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, found {value!r}")
    if isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, found {value!r}")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, found {value!r}")
    if isinstance(default, str):
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, found {value!r}")
    if isinstance(default, tuple):  # mapping stored as sorted (key, value) pairs
        if isinstance(value, Mapping):
            return tuple(sorted((str(k), str(v)) for k, v in value.items()))
        raise ConfigError(f"{where}: expected a table of name = value, found {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class ImportCounts:
    """What an importer read and what it left out, so `describe` can say why jobs are missing."""

    rows: int = 0
    jobs: int = 0
    skipped_never_started: int = 0
    skipped_running: int = 0
    skipped_partial: int = 0
    skipped_steps: int = 0
    requeued_jobs: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ParsedTrace:
    """Native job columns read from a trace, with what was skipped and the trace's epoch."""

    columns: dict[str, np.ndarray]
    counts: ImportCounts
    epoch: int | None  # Unix time of submit = 0, when the trace says
