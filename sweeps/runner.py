"""Executing runs: the code a worker (Ray task or the serial loop) calls; no files, no Ray.

`run_batch` is idempotent: it only computes and returns rows and Arrow tables, so a task that
Ray retries after losing a node produces the same output and only the driver writes. A run that
raises is returned as a failed row carrying the exception text; it never stops the batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import pyarrow as pa

from sweeps.grid import Grid
from sweeps.spec import RunSpec

OK, FAILED = "ok", "failed"

# (scenario dict, seed, source for error messages) -> object with .metrics, .jobs, .timeseries
SimulateFn = Callable[[dict[str, Any], int, str], Any]


@dataclass(frozen=True)
class RunOutput:
    """What one run produced: its `runs` row and, if the grid asks, per-job and per-interval tables."""

    spec: RunSpec
    status: str
    error: str | None
    wall_s: float
    model_version: str
    metrics: dict[str, Any] = field(default_factory=dict)
    jobs: pa.Table | None = None
    timeseries: pa.Table | None = None


def simulate_with_simcore(scenario: dict[str, Any], seed: int, source: str) -> Any:
    from simcore import Scenario, simulate

    return simulate(Scenario.from_dict(scenario, source=source), seed=seed)


def _with_run_id(columns: dict[str, Any], run_id: str) -> pa.Table:
    table = pa.table(dict(columns))
    return table.add_column(0, "run_id", pa.array([run_id] * table.num_rows, pa.string()))


def execute(grid: Grid, spec: RunSpec, model_version: str,
            simulate_fn: SimulateFn = simulate_with_simcore) -> RunOutput:
    """Run one spec; any exception becomes a failed output with the error text."""
    start = time.perf_counter()
    try:
        result = simulate_fn(grid.scenario(spec.knob_dict), spec.seed, str(grid.path))
        jobs = _with_run_id(result.jobs, spec.run_id) if grid.store_jobs else None
        series = _with_run_id(result.timeseries, spec.run_id) if grid.store_timeseries else None
        return RunOutput(spec=spec, status=OK, error=None, wall_s=time.perf_counter() - start,
                         model_version=model_version, metrics=dict(result.metrics),
                         jobs=jobs, timeseries=series)
    except Exception as exc:  # noqa: BLE001 - a failing run is data, not a crash of the sweep
        return failed(spec, model_version, f"{type(exc).__name__}: {exc}",
                      time.perf_counter() - start)


def failed(spec: RunSpec, model_version: str, error: str, wall_s: float = 0.0) -> RunOutput:
    return RunOutput(spec=spec, status=FAILED, error=error, wall_s=wall_s,
                     model_version=model_version)


def run_batch(specs: Sequence[RunSpec], grid: Grid, model_version: str,
              simulate_fn: SimulateFn = simulate_with_simcore) -> list[RunOutput]:
    """The unit of work of a Ray task: several runs, one output each."""
    return [execute(grid, spec, model_version, simulate_fn) for spec in specs]
