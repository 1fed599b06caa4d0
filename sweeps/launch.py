"""`sweeps launch`: validate a grid, skip stored runs, run the rest, store them as they finish.

Runs go through Ray (`cluster.ray_backend`) or, with `serial`, a plain loop in this process.
Finished runs are buffered and stored every `flush_runs` runs or `flush_seconds` seconds, one
atomic commit each (sweeps.store). SIGINT/SIGTERM stop submitting; what finished is stored and
the summary says how to resume (the CLI then exits 128 + signal number).
"""

from __future__ import annotations

import platform
import signal
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from tqdm import tqdm

from sweeps.grid import load_grid
from sweeps.runner import FAILED, RunOutput, SimulateFn, failed, run_batch, simulate_with_simcore
from sweeps.spec import Plan, RunSpec, describe, plan
from sweeps.store import Store

DEFAULT_FLUSH_RUNS = 200
DEFAULT_FLUSH_SECONDS = 30.0
FLUSH_BYTES = 256 * 2**20


@dataclass(frozen=True)
class LaunchOptions:
    out: Path = Path("results")
    workers: int | None = None
    address: str | None = None
    serial: bool = False
    retry_failed: bool = False
    flush_runs: int = DEFAULT_FLUSH_RUNS
    flush_seconds: float = DEFAULT_FLUSH_SECONDS
    progress: bool | None = None  # None: show the bar when stderr is a terminal


@dataclass(frozen=True)
class LaunchSummary:
    root: Path
    grid_path: Path
    planned: int
    already_stored: int
    ran: int
    ok: int
    failed: int
    seconds: float
    where: str
    parts: int
    signal: int | None = None

    @property
    def missing(self) -> int:
        return self.planned - self.already_stored - self.ok - self.failed


def versions(model_version: str) -> dict[str, str | None]:
    """Versions recorded in the manifest, so results can be traced to the code that made them."""
    found: dict[str, str | None] = {"python": platform.python_version(),
                                    "simcore_model": model_version}
    for package in ("trilemma", "ray", "polars", "duckdb", "pyarrow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def dry_run(grid_path: str | Path, show: int = 3) -> str:
    """The number of runs, the first few cells and the first expanded scenario, as text."""
    import tomli_w  # only --dry-run prints TOML

    the_plan = plan(load_grid(grid_path))
    grid = the_plan.grid
    lines = [f"{grid.name}: {the_plan.cells} cells x {len(grid.seeds)} seeds = "
             f"{len(the_plan.specs)} runs (nothing is run with --dry-run)"]
    for axis in grid.axes:
        lines.append(f"  axis {' + '.join(axis.keys)}: {len(axis.points)} values")
    if grid.objectives:
        lines.append("  objectives: " + ", ".join(f"{m} {d}" for m, d in grid.objectives))
    cells = [s for s in the_plan.specs if s.seed == grid.seeds[0]][:show]
    for number, spec in enumerate(cells, 1):
        lines.append(f"cell {number} (cell_id {spec.cell_id}): {describe(spec.knob_dict) or 'base'}")
    lines.append(f"scenario of cell 1:\n{tomli_w.dumps(grid.scenario(cells[0].knob_dict))}")
    return "\n".join(lines)


class _StopOnSignal:
    """Turns SIGINT/SIGTERM into a flag the run loop checks; a second signal stops at once."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signal is not None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> "_StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class _Writer:
    """Buffers finished runs and stores them every `flush_runs` runs or `flush_seconds`, or
    sooner when their jobs/timeseries tables reach `FLUSH_BYTES` (bounds driver memory)."""

    def __init__(self, store: Store, knob_types: Mapping[str, str], options: LaunchOptions):
        self.store, self.knob_types, self.options = store, knob_types, options
        self.buffer: list[RunOutput] = []
        self.buffered_bytes = 0
        self.last_flush = time.monotonic()
        self.ok = self.failed = 0

    def add(self, outputs: Sequence[RunOutput]) -> None:
        self.buffer.extend(outputs)
        for output in outputs:
            if output.status == FAILED:
                self.failed += 1
            else:
                self.ok += 1
            self.buffered_bytes += sum(t.nbytes for t in (output.jobs, output.timeseries)
                                       if t is not None)
        if (len(self.buffer) >= self.options.flush_runs or self.buffered_bytes >= FLUSH_BYTES
                or self.buffer and time.monotonic() - self.last_flush >= self.options.flush_seconds):
            self.flush()

    def flush(self) -> None:
        self.store.append(self.buffer, self.knob_types)
        self.buffer, self.buffered_bytes = [], 0
        self.last_flush = time.monotonic()


def _serial(todo: Sequence[RunSpec], the_plan: Plan, simulate_fn: SimulateFn,
            stop: _StopOnSignal) -> Iterator[list[RunOutput]]:
    for spec in todo:
        if stop():
            return
        yield run_batch([spec], the_plan.grid, the_plan.model_version, simulate_fn)


def _on_ray(backend: Any, todo: Sequence[RunSpec], the_plan: Plan, simulate_fn: SimulateFn,
            stop: _StopOnSignal) -> Iterator[list[RunOutput]]:
    shared = (the_plan.grid, the_plan.model_version, simulate_fn)
    for outcome in backend.map(run_batch, todo, shared, stop):
        if outcome.results is not None:  # [] while waiting: lets the writer flush on time
            yield outcome.results
        elif not stop():  # a task lost while stopping is missing, not failed
            yield [failed(spec, the_plan.model_version, f"lost by Ray: {outcome.error}")
                   for spec in outcome.items]


def launch(grid_path: str | Path, options: LaunchOptions = LaunchOptions(),
           simulate_fn: SimulateFn = simulate_with_simcore) -> LaunchSummary:
    """Validate the grid, record it in the results folder and run every run not stored yet."""
    started = time.monotonic()
    the_plan = plan(load_grid(grid_path))
    grid = the_plan.grid
    root = Path(options.out) / grid.name
    with Store.open(root, write=True) as store, ExitStack() as stack:
        manifest = store.write_plan(the_plan, versions(the_plan.model_version))
        stored = store.stored()
        planned_ids = {s.run_id for s in the_plan.specs}
        retry = stored.failed() & planned_ids if options.retry_failed else set()
        todo = [s for s in the_plan.specs if s.run_id not in stored.status or s.run_id in retry]
        if retry:
            store.drop(retry)
        writer = _Writer(store, manifest["knob_types"], options)
        objectives = [metric for metric, _ in grid.objectives]
        backend = None
        where = "this process (--serial)"
        if todo and not options.serial:
            from cluster.ray_backend import RayBackend, RayOptions

            backend = stack.enter_context(RayBackend(RayOptions(options.address,
                                                                options.workers)))
            where = backend.description
        stop = stack.enter_context(_StopOnSignal())  # after ray.init, which sets its own handlers
        show = sys.stderr.isatty() if options.progress is None else options.progress
        bar = stack.enter_context(tqdm(total=len(todo), unit="run", disable=not show,
                                       desc=grid.name, dynamic_ncols=True))
        try:
            if backend is None:
                _drain(_serial(todo, the_plan, simulate_fn, stop), writer, bar, objectives)
            else:
                _drain(_on_ray(backend, todo, the_plan, simulate_fn, stop), writer, bar,
                       objectives)
        finally:
            writer.flush()
        parts = len(store.parts())
    return LaunchSummary(root=root, grid_path=Path(grid_path), planned=len(the_plan.specs),
                         already_stored=len(the_plan.specs) - len(todo),
                         ran=writer.ok + writer.failed, ok=writer.ok, failed=writer.failed,
                         seconds=time.monotonic() - started, where=where, parts=parts,
                         signal=stop.signal)


def _drain(batches: Iterator[list[RunOutput]], writer: _Writer, bar: tqdm,
           objectives: Sequence[str]) -> None:
    unchecked = bool(objectives)
    for outputs in batches:
        writer.add(outputs)  # an empty list is a heartbeat: time to check flush_seconds
        bar.update(len(outputs))
        bar.set_postfix(failed=writer.failed, refresh=False)
        first_ok = next((o for o in outputs if o.status != FAILED), None)
        if unchecked and first_ok is not None:
            unchecked = False
            missing = [m for m in objectives if m not in first_ok.metrics]
            if missing:  # objectives only steer the report; fixing them re-runs nothing
                tqdm.write(f"Warning: objective {', '.join(map(repr, missing))} is not a metric "
                           f"of these runs (metrics: {', '.join(first_ok.metrics)}); fix "
                           "[sweep] objectives and relaunch: no run is repeated", file=sys.stderr)
