"""Workloads: `build_jobs` turns a scenario's [workload] table into a native JobTable.

Readers and generators are imported lazily so a scenario only pays for the kind it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simcore.errors import ConfigError

if TYPE_CHECKING:
    from simcore.config import Scenario
    from simcore.jobs import JobTable


def build_jobs(scenario: "Scenario", seed: int) -> "JobTable":
    """Jobs for `scenario.workload`: generated from `seed` (synthetic, archetypes) or read (file, swf, sacct)."""
    kind = scenario.workload.kind
    params = dict(scenario.workload.params)
    if kind == "synthetic":
        from simcore.workload.synthetic import generate

        return generate(scenario, seed)
    if kind == "archetypes":
        from simcore.workload.archetypes import generate

        return generate(scenario, seed)
    path = params.pop("path", None)
    if not path:
        raise ConfigError(f"{scenario.source}: workload.path is required for kind = {kind!r}")
    if kind == "file":
        from simcore.jobs import read_job_table

        if params:
            raise ConfigError(f"{scenario.source}: unknown key 'workload.{sorted(params)[0]}' for kind = 'file'; allowed: path")
        return read_job_table(path)
    if kind == "swf":
        from simcore.workload.swf import read_swf

        return read_swf(path, params)
    if kind == "sacct":
        from simcore.workload.sacct import read_sacct

        return read_sacct(path, params)
    raise ConfigError(f"{scenario.source}: workload.kind {kind!r} is not allowed")
