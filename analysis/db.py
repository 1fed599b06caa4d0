"""A results folder opened for questions: DuckDB views and Polars LazyFrames.

Views (docs/analysis.md):
- `runs`: the rows of runs/*.parquet that belong to the current grid (run_id in
  plan.parquet, when the folder has one; docs/results.md); `all_runs`: every stored row.
- `jobs`, `timeseries`: the optional per-job and per-interval tables, when recorded.
- `cells`: the `ok` runs aggregated over replicate seeds, one row per cell_id and knob values,
  with each metric's mean (named as the metric), `<metric>_std`, `<metric>_n` and
  `<metric>_ci95` (half-width of the 95% t-interval of the mean).
Only files the store has finished writing are read: names ending `.tmp` or starting with `.`
are skipped anywhere in the path, so a sweep still running can be analysed safely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from simcore.errors import TrilemmaError

TABLES = ("runs", "jobs", "timeseries")
# Columns of `runs` that are neither knobs nor metrics (docs/results.md).
RESERVED_COLUMNS = ("run_id", "cell_id", "seed", "status", "error", "wall_s", "model_version")

# Two-sided 95% Student t quantiles t(0.975, df) for df = 1..30; beyond 30 the normal 1.96
# differs by under 4%, and sweeps rarely have more than a few replicate seeds.
T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)


def t975(df: int) -> float:
    """The 95% two-sided Student t quantile for `df` degrees of freedom (df >= 1)."""
    return T975[df - 1] if df <= len(T975) else 1.96


class ResultsError(TrilemmaError):
    """A results folder is missing, empty or has an unreadable manifest."""


@dataclass(frozen=True)
class Manifest:
    """The parts of manifest.json analysis relies on (docs/results.md)."""

    axes: tuple[str, ...]
    objectives: dict[str, str]
    raw: dict

    @property
    def name(self) -> str:
        return str(self.raw.get("name") or self.raw.get("sweep") or "")


def _is_temp(path: Path, root: Path) -> bool:
    return any(
        part.startswith(".") or part.endswith(".tmp") for part in path.relative_to(root).parts
    )


def q(name: str) -> str:
    """A SQL identifier, double-quoted (knob columns contain dots)."""
    return '"' + name.replace('"', '""') + '"'


class Results:
    """One results folder: its manifest, its finished Parquet files, and views over them."""

    def __init__(self, path: str | Path):
        self.path = Path(path).resolve()
        if not self.path.is_dir():
            raise ResultsError(f"{path}: not a results folder (expected a directory with runs/ and manifest.json)")
        self.manifest = self._read_manifest()
        if not self.files("runs"):
            raise ResultsError(
                f"{path}/runs: no finished Parquet files; run `sweeps launch GRID.toml` first"
            )
        self._columns: dict[str, str] | None = None

    def _read_manifest(self) -> Manifest:
        file = self.path / "manifest.json"
        if not file.exists():
            raise ResultsError(f"{file}: missing; a results folder written by `sweeps launch` has one")
        try:
            raw = json.loads(file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ResultsError(f"{file}: not valid JSON ({exc})") from None
        axes = raw.get("axes", [])
        objectives = raw.get("objectives", {}) or {}
        if not isinstance(axes, list) or not all(isinstance(a, str) for a in axes):
            raise ResultsError(f"{file}: key 'axes' must be a list of knob column names, found {axes!r}")
        if not isinstance(objectives, dict) or any(
            v not in ("min", "max") for v in objectives.values()
        ):
            raise ResultsError(
                f"{file}: key 'objectives' must map metric names to 'min' or 'max', found {objectives!r}"
            )
        return Manifest(tuple(axes), dict(objectives), raw)

    def files(self, table: str) -> list[Path]:
        """The finished Parquet files of `table` (runs, jobs or timeseries), sorted."""
        folder = self.path / table
        if not folder.is_dir():
            return []
        return sorted(
            p for p in folder.rglob("*.parquet") if p.is_file() and not _is_temp(p, self.path)
        )

    def has(self, table: str) -> bool:
        return bool(self.files(table))

    def _hive(self, table: str) -> bool:
        return any("=" in part for f in self.files(table) for part in f.relative_to(self.path).parts[1:-1])

    def _scan_sql(self, table: str) -> str:
        files = ", ".join("'" + str(f).replace("'", "''") + "'" for f in self.files(table))
        hive = "true" if self._hive(table) else "false"
        return f"read_parquet([{files}], union_by_name = true, hive_partitioning = {hive})"

    # --- schema -------------------------------------------------------------------------
    def columns(self) -> dict[str, str]:
        """Column name -> DuckDB type of the runs table."""
        if self._columns is None:
            con = duckdb.connect(":memory:")
            rows = con.execute(f"DESCRIBE SELECT * FROM {self._scan_sql('runs')}").fetchall()
            con.close()
            self._columns = {name: dtype for name, dtype, *_ in rows}
        return self._columns

    @property
    def knobs(self) -> list[str]:
        """Knob columns: the manifest's axes that are present in runs."""
        return [a for a in self.manifest.axes if a in self.columns()]

    @property
    def metrics(self) -> list[str]:
        """Numeric columns of runs that are neither knobs nor bookkeeping."""
        numeric = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "UBIGINT", "UINTEGER", "DECIMAL")
        skip = set(self.manifest.axes) | set(RESERVED_COLUMNS)
        return [
            name
            for name, dtype in self.columns().items()
            if name not in skip and dtype.split("(")[0] in numeric
        ]

    def cells_sql(self) -> str:
        """SQL of the `cells` view (runs aggregated over replicate seeds)."""
        keys = ["cell_id", *self.knobs]
        select = [q(k) for k in keys]
        select.append("count(*) AS n_runs")
        for m in self.metrics:
            x = f"CAST({q(m)} AS DOUBLE)"
            # isnan() keeps NaN metrics (not computable for a run) out of mean and n.
            valid = f"CASE WHEN isnan({x}) THEN NULL ELSE {x} END"
            select += [
                f"avg({valid}) AS {q(m)}",
                f"stddev_samp({valid}) AS {q(m + '_std')}",
                f"count({valid}) AS {q(m + '_n')}",
                f"t975(count({valid}) - 1) * stddev_samp({valid}) / sqrt(count({valid})) AS {q(m + '_ci95')}",
            ]
        group = ", ".join(q(k) for k in keys)
        failed = (
            f"(SELECT {group}, count(*) AS n_failed FROM runs WHERE status IS DISTINCT FROM 'ok' GROUP BY ALL)"
        )
        ok = f"(SELECT {', '.join(select)} FROM runs WHERE status = 'ok' GROUP BY {group})"
        # Cells whose every run failed still appear, with n_runs = 0 and NULL metrics.
        return (
            f"SELECT * EXCLUDE (n_runs, n_failed), coalesce(n_runs, 0) AS n_runs, "
            f"coalesce(n_failed, 0) AS n_failed FROM {ok} AS ok "
            f"FULL OUTER JOIN {failed} AS bad USING ({group}) ORDER BY cell_id"
        )

    # --- DuckDB ---------------------------------------------------------------------------
    def connect(self, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB with views runs, cells and (when present) jobs, timeseries.

        With `read_only` the connection can read files under this folder only: external
        access is switched off except for the folder, and the configuration is locked so
        SQL cannot switch it back (statement types are checked in analysis.sql).
        """
        con = duckdb.connect(":memory:")
        cases = " ".join(f"WHEN df = {df} THEN {t}" for df, t in enumerate(T975, start=1))
        con.execute(f"CREATE MACRO t975(df) AS CASE WHEN df < 1 THEN NULL {cases} ELSE 1.96 END")
        for table in TABLES:
            if self.has(table):
                name = "all_runs" if table == "runs" else table
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM {self._scan_sql(table)}")
        plan = self.path / "plan.parquet"
        if plan.is_file():
            # Rows of earlier grids stay in runs/; the current grid is the plan's run ids.
            path = str(plan).replace("'", "''")
            con.execute(
                "CREATE VIEW runs AS SELECT * FROM all_runs "
                f"WHERE run_id IN (SELECT run_id FROM read_parquet('{path}'))"
            )
        else:
            con.execute("CREATE VIEW runs AS SELECT * FROM all_runs")
        con.execute(f"CREATE VIEW cells AS {self.cells_sql()}")
        if read_only:
            folder = str(self.path).replace("'", "''") + "/"
            con.execute(f"SET allowed_directories = ['{folder}']")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        return con

    # --- Polars ---------------------------------------------------------------------------
    def lazy(self, table: str) -> pl.LazyFrame:
        """A Polars LazyFrame of runs, jobs, timeseries or cells (for notebooks)."""
        if table in ("cells", "runs"):
            con = self.connect(read_only=False)
            frame = con.sql(f"SELECT * FROM {table}").pl()
            con.close()
            return frame.lazy()
        if table == "all_runs":
            table = "runs"
        if table not in TABLES:
            raise ResultsError(f"unknown table {table!r}; allowed: runs, jobs, timeseries, cells, all_runs")
        files = self.files(table)
        if not files:
            raise ResultsError(f"{self.path / table}: no finished Parquet files in this results folder")
        if self._hive(table):
            return pl.scan_parquet([str(f) for f in files], hive_partitioning=True)
        # Batches written at different times may differ in columns: union them by name.
        return pl.concat([pl.scan_parquet(str(f)) for f in files], how="diagonal_relaxed")


def open_results(path: str | Path) -> Results:
    """Open a results folder written by `sweeps launch`."""
    return Results(path)
