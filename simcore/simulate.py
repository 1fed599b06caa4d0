"""`simulate`: one run of a scenario, returning metrics, per-job rows and time series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simcore import kernel
from simcore import metrics as _metrics
from simcore.config import Scenario
from simcore.engine import Engine
from simcore.jobs import JobTable


@dataclass(frozen=True)
class SimResult:
    """What one run produced: `metrics` (docs/metrics.md), `jobs` (one row per job), `timeseries`,
    and which engine ran it ("compiled" or "python"; both give identical results)."""

    metrics: dict[str, float | int]
    jobs: dict[str, np.ndarray]
    timeseries: dict[str, np.ndarray]
    engine: str = "python"


def simulate(scenario: Scenario, seed: int = 0, jobs: JobTable | None = None, *,
             skip_unchanged_passes: bool = True, compiled: bool = True) -> SimResult:
    """Simulate `scenario` on `jobs` (default: built from scenario.workload with `seed`).

    Pure and deterministic. `skip_unchanged_passes=False` runs every periodic pass even when
    nothing changed and searches every backfill candidate at once (slower, identical results;
    used by the tests to prove it). `compiled=False` keeps the run in the pure-Python engine even
    where the compiled one applies (simcore.kernel; identical results, for the tests)."""
    if jobs is None:
        from simcore.workload import build_jobs

        jobs = build_jobs(scenario, seed)
    engine = Engine(scenario, jobs, skip_unchanged=skip_unchanged_passes)
    fast = compiled and kernel.supported(engine)
    if fast:
        kernel.run(engine)
    else:
        engine.run()
    cols = engine.job_columns()
    return SimResult(
        metrics=_metrics.compute(scenario, engine, cols),
        jobs=cols,
        timeseries=_metrics.timeseries(engine, cols, scenario.metrics.timeseries_step),
        engine="compiled" if fast else "python",
    )
