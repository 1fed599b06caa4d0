"""Small builders for the simulator tests: scenarios and job tables from a few literals."""

from __future__ import annotations

from typing import Any

from simcore import JobTable, Scenario, simulate

NODE = {"CPUs": 64, "RealMemory": 512000, "Gres": "gpu:a100:8"}


def scenario(nodes: list[dict] | None = None, partitions: dict | None = None, **tables: Any) -> Scenario:
    d: dict[str, Any] = {
        "cluster": {"nodes": nodes or [{"NodeName": "n[1-2]", **NODE}]},
        "partitions": partitions or {"gpu": {"Nodes": "ALL", "Default": True}},
    }
    d.update(tables)
    return Scenario.from_dict(d, source="test")


def jobs(*rows: dict) -> JobTable:
    """Rows with defaults: 1 node, 8 CPUs, 1 GPU, limit 1 h, runtime 30 min, user u1."""
    defaults = {"user": "u1", "account": "a", "partition": "", "qos": "", "time_limit": 3600,
                "runtime": 1800, "nodes": 1, "cpus": 8, "mem_mb": 1000, "gpus": 1, "exclusive": False,
                "dependency": "", "name": ""}
    full = [{**defaults, **row} for row in rows]
    cols = {k: [r[k] for r in full] for k in full[0]}
    cols["job_id"] = [str(r.get("job_id", i + 1)) for i, r in enumerate(full)]
    return JobTable.from_columns(cols, source="test")


def run(sc: Scenario, jt: JobTable, **kw: Any) -> dict[str, dict[str, Any]]:
    """job_id -> {start, end, nodes, by, state, reason, part, ...} (start None when never started)."""
    res = simulate(sc, jobs=jt, **kw)
    out = {}
    cols = res.jobs
    for k, jid in enumerate(cols["job_id"]):
        start = cols["start"][k]
        out[jid] = {
            "start": None if start != start else int(start),
            "end": None if start != start else int(cols["end"][k]),
            "nodes": cols["nodes_alloc"][k], "by": cols["started_by"][k], "state": cols["state"][k],
            "reason": cols["reason"][k], "part": cols["partition"][k],
            "alloc_gpus": int(cols["alloc_gpus"][k]),
            "pending": {c[len("pending_"):-2]: int(v[k]) for c, v in cols.items() if c.startswith("pending_")},
        }
    return out
