"""Run specs: every run of a grid with a stable id, checked by simcore before anything runs.

A run id is the first 16 hex digits of sha256 over the canonical JSON of the validated scenario
(`Scenario.to_dict()`), the replicate seed and `simcore.MODEL_VERSION`; the cell id is the same
without the seed. Ids therefore do not depend on how a grid spells a value, on axis order, or on
anything but what is simulated: relaunching a grid finds its stored runs, and a new simulator
version makes every run new.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping

from sweeps.grid import Grid, GridError


@dataclass(frozen=True)
class RunSpec:
    """One run: ids, replicate seed and the knob values of its cell (the scenario is rebuilt
    from the grid with `Grid.scenario(spec.knob_dict)`, so specs stay small)."""

    run_id: str
    cell_id: str
    seed: int
    knobs: tuple[tuple[str, Any], ...]

    @property
    def knob_dict(self) -> dict[str, Any]:
        return dict(self.knobs)


@dataclass(frozen=True)
class Plan:
    """All runs of a grid, in expansion order (cells in odometer order, seeds innermost)."""

    grid: Grid
    model_version: str
    specs: tuple[RunSpec, ...]

    @property
    def cells(self) -> int:
        return len(self.specs) // len(self.grid.seeds)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal dicts give equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def cell_id(canonical_scenario: Mapping[str, Any], model_version: str) -> str:
    return _digest(canonical_json(canonical_scenario), model_version)


def run_id(canonical_scenario: Mapping[str, Any], seed: int, model_version: str) -> str:
    return _digest(canonical_json(canonical_scenario), str(seed), model_version)


def describe(knobs: Mapping[str, Any]) -> str:
    """`k=v, ...` as a user reads a cell in errors and dry runs."""
    return ", ".join(f"{key}={value!r}" for key, value in knobs.items())


def plan(grid: Grid) -> Plan:
    """Expand the grid and validate every cell's scenario with `Scenario.from_dict`, and each
    distinct workload by building its jobs once (so a typo in a generator parameter fails here,
    not in every run)."""
    from simcore import MODEL_VERSION, Scenario
    from simcore.workload import build_jobs

    specs: list[RunSpec] = []
    seen: dict[str, dict[str, Any]] = {}
    workloads: set[str] = set()
    for knobs in grid.cells():
        source = f"{grid.path} ({describe(knobs)})" if knobs else str(grid.path)
        scenario = Scenario.from_dict(grid.scenario(knobs), source=source)
        canonical = scenario.to_dict()
        workload = canonical_json(canonical["workload"])
        if workload not in workloads:  # generator parameters are checked when jobs are built
            build_jobs(scenario, grid.seeds[0])
            workloads.add(workload)
        cid = cell_id(canonical, MODEL_VERSION)
        if cid in seen:
            raise GridError(f"{grid.path}: cells ({describe(seen[cid])}) and ({describe(knobs)}) "
                            "simulate the same scenario; drop one with [[exclude]]")
        seen[cid] = knobs
        items = tuple(knobs.items())
        specs.extend(RunSpec(run_id=run_id(canonical, seed, MODEL_VERSION), cell_id=cid,
                             seed=seed, knobs=items) for seed in grid.seeds)
    if not specs:
        raise GridError(f"{grid.path}: [[exclude]] rules remove every cell; nothing to run")
    return Plan(grid=grid, model_version=MODEL_VERSION, specs=tuple(specs))
