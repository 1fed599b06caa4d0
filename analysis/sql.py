"""Read-only SQL over a results folder (`sweeps sql`).

Two independent guards keep a query from changing anything or reading elsewhere:
1. only one statement, and only a query (SELECT, WITH, FROM-first, VALUES, DESCRIBE,
   SUMMARIZE, SHOW, EXPLAIN) is accepted: COPY, INSERT, CREATE, ATTACH, SET, PRAGMA, ... are
   refused before anything runs;
2. the DuckDB connection may read files under the results folder only
   (`allowed_directories` + `enable_external_access = false`), with its configuration locked,
   so `read_csv('/etc/passwd')` fails even inside a SELECT.
"""

from __future__ import annotations

import io
import json
import math
from typing import BinaryIO

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.db import Results
from simcore.errors import TrilemmaError

ALLOWED_STATEMENTS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
FORMATS = ("table", "csv", "json", "parquet")


class QueryError(TrilemmaError):
    """A query was refused or failed."""


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run_query(results: Results, sql: str) -> pa.Table:
    """Run one read-only query over the results folder's views; return its rows."""
    con = results.connect(read_only=True)
    try:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryError(f"SQL: {_first_line(exc)}") from None
        if len(statements) != 1:
            raise QueryError(f"SQL: expected exactly one statement, found {len(statements)}")
        kind = statements[0].type
        if kind not in ALLOWED_STATEMENTS:
            name = kind.name if hasattr(kind, "name") else str(kind)
            raise QueryError(
                f"SQL: {name} statements are refused: `sweeps sql` is read-only "
                "(allowed: SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN)"
            )
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise QueryError(f"SQL: {_first_line(exc)}") from None
    finally:
        con.close()


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.6g}"
    return str(value)


def format_table(table: pa.Table) -> str:
    """An aligned text table: numbers right-aligned, text left-aligned."""
    names = table.column_names
    columns = [[_cell(v) for v in table.column(i).to_pylist()] for i in range(len(names))]
    numeric = [
        pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
        for f in table.schema
    ]
    widths = [max([len(n), *map(len, col)]) for n, col in zip(names, columns)]

    def line(cells: list[str]) -> str:
        out = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return "  ".join(out).rstrip()

    lines = [line(names), "  ".join("-" * w for w in widths)]
    lines += [line([col[r] for col in columns]) for r in range(table.num_rows)]
    lines.append(f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})")
    return "\n".join(lines) + "\n"


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def write_result(table: pa.Table, fmt: str, text_out: io.TextIOBase | None, binary_out: BinaryIO | None) -> None:
    """Write rows as `table`, `csv`, `json` (a list of objects; NaN as null) or `parquet`."""
    if fmt == "table":
        text_out.write(format_table(table))
    elif fmt == "csv":
        text_out.write(pl.from_arrow(table).write_csv() if table.num_columns else "")
    elif fmt == "json":
        rows = [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
        text_out.write(json.dumps(rows, indent=1, allow_nan=False) + "\n")
    elif fmt == "parquet":
        pq.write_table(table, binary_out)
    else:
        raise QueryError(f"--format {fmt!r}: allowed: {', '.join(FORMATS)}")
