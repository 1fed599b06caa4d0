"""`sweeps status DIR`: which runs of the grid in the manifest are done, failed or missing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from sweeps.store import RUNS, Store


@dataclass(frozen=True)
class Status:
    root: Path
    sweep: str
    grid_path: str
    planned: int
    done: int
    failed: int
    missing: int
    other: int  # stored runs not in the current plan (earlier grids or model versions)
    parts: int
    failures: tuple[tuple[str, str], ...]  # (run_id, error) of failed planned runs

    def text(self, show: int = 5) -> str:
        lines = [f"{self.sweep}: {self.planned} planned runs: {self.done} done, "
                 f"{self.failed} failed, {self.missing} missing ({self.parts} part files)"]
        if self.other:
            lines.append(f"  also stored: {self.other} runs not in the current grid")
        for run_id, error in self.failures[:show]:
            lines.append(f"  failed {run_id}: {error}")
        if self.failed > show:
            lines.append(f"  ... and {self.failed - show} more failed runs")
        if self.missing or self.failed:
            retry = " --retry-failed" if self.failed else ""
            lines.append(f"  to finish: sweeps launch {self.grid_path} --out {self.root.parent}"
                         f"{retry}")
        return "\n".join(lines)


def status(root: str | Path) -> Status:
    store = Store.open(root, write=False)
    manifest = store.manifest()
    planned = set(store.plan_table().column("run_id").to_pylist())
    stored = store.stored()
    failures = []
    for part in store.parts(RUNS):
        table = pq.read_table(part, columns=["run_id", "status", "error"]).to_pydict()
        failures.extend((run, error) for run, state, error
                        in zip(table["run_id"], table["status"], table["error"])
                        if state == "failed" and run in planned)
    done = len(stored.ok() & planned)
    failed = len(stored.failed() & planned)
    return Status(root=Path(root), sweep=manifest["sweep"], grid_path=manifest["grid_path"],
                  planned=len(planned), done=done, failed=failed,
                  missing=len(planned) - done - failed, other=len(set(stored.status) - planned),
                  parts=len(store.parts(RUNS)), failures=tuple(sorted(failures)))
