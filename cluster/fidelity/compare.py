"""Replay golden traces in simcore and compare job by job (or with Slurm's own spread).

What the simulator gets is what an sacct import would give, nothing from the outcome: each job's
real submit second (from sacct, relative to the controller start so simcore's timers, which run
from t=0, are in phase with slurmctld's), its time limit, its size, and its runtime (ElapsedRaw of
a run that COMPLETED; the case's sleep otherwise, e.g. for TIMEOUT jobs).

Checks (docs/fidelity.md):
- "exact" cases, per job: start within START_TOL_S of Slurm's (the last run's, for requeued jobs),
  same final state, same started_by (sacct Flags SchedMain/SchedBackfill), same "overtook" (started
  while a job queued before it was pending: backfill decided it), same node count, the
  same number of runs (requeues), and the same QOS/association limit reasons while pending (squeue
  snapshots vs the simulator's pending_<reason>_s columns).
- "spread" cases (fairshare): per job, the simulated wait lies within [min, max] of Slurm's waits
  over the recordings, widened by START_TOL_S; state and node count as above.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from simcore.hostlist import expand_hostlist

from cluster.fidelity.case import MEM_PER_NODE_MB, Case, load_case
from cluster.fidelity.golden import Golden, Run, golden_paths, read_golden, read_squeue

START_TOL_S = 2
CHECKS = ("start", "state", "started_by", "overtook", "nodes", "runs", "limit_reasons")
LIMIT_PREFIXES = ("QOS", "Assoc")
SPREAD_CHECKS = ("wait_spread", "state", "nodes")
EXPECTED_FILE = Path(__file__).resolve().parents[2] / "tests" / "fidelity" / "expected_differences.toml"


@dataclass
class JobDiff:
    job: str
    slurm: dict[str, object]
    sim: dict[str, object]
    failed: list[str] = field(default_factory=list)


@dataclass
class CaseResult:
    """The comparison of one case: per golden run (exact) or over all runs (spread)."""

    case: str
    label: str                      # "run1", ..., or "runs 1-3"
    jobs: list[JobDiff]
    error: str = ""                 # the simulator raised: nothing could be compared

    def failures(self, check: str) -> list[str]:
        if self.error:
            return [f"simulator error: {self.error}"]
        return [f"{d.job}: slurm {d.slurm.get(check)} sim {d.sim.get(check)}" for d in self.jobs if check in d.failed]

    @property
    def start_diffs(self) -> list[float]:
        return [abs(d.sim["start"] - d.slurm["start"]) for d in self.jobs
                if isinstance(d.sim.get("start"), (int, float)) and isinstance(d.slurm.get("start"), (int, float))
                and not math.isnan(d.sim["start"])]


# ------------------------------------------------------------ simulator input


def job_table(case: Case, golden: Golden):
    """The JobTable simcore replays: submit seconds from the controller start (see module doc)."""
    from simcore.jobs import JobTable

    by_job = golden.by_job()
    cols: dict[str, list] = {k: [] for k in ("job_id", "name", "user", "account", "partition", "qos", "submit",
                                             "time_limit", "runtime", "nodes", "cpus", "mem_mb", "gpus",
                                             "requeue")}
    for job in case.jobs:
        runs = by_job.get(job.id)
        if not runs:
            raise ValueError(f"{golden.path}: job {job.id} is missing from the trace")
        submits = [r.submit for r in runs if r.submit is not None]
        last = runs[-1]
        runtime = last.elapsed if last.state == "COMPLETED" else job.sleep_s
        cols["job_id"].append(job.id)
        cols["name"].append(job.id)
        cols["user"].append(job.user)
        cols["account"].append(job.account)
        cols["partition"].append(job.partition)
        cols["qos"].append(job.qos)
        cols["submit"].append(min(submits))
        cols["time_limit"].append(job.limit_min * 60)
        cols["runtime"].append(runtime)
        cols["nodes"].append(job.nodes)
        cols["cpus"].append(job.cpus)
        cols["mem_mb"].append(MEM_PER_NODE_MB)
        cols["gpus"].append(job.gpus)
        cols["requeue"].append(True)
    return JobTable.from_columns(cols, source=str(golden.path))


def simulate_golden(case: Case, golden: Golden) -> dict[str, dict[str, object]]:
    """Per case job id: the simulator's start, end, wait, state, started_by, node count and runs."""
    from simcore import Scenario, simulate

    scenario = Scenario.from_dict(case.scenario_dict(), source=case.source)
    table = job_table(case, golden)
    res = simulate(scenario, seed=0, jobs=table).jobs
    limit_cols = [c for c in res if c.startswith("pending_") and c[len("pending_"):].startswith(LIMIT_PREFIXES)]
    out = {}
    for k, jid in enumerate(res["job_id"].tolist()):
        start = float(res["start"][k])
        alloc = str(res["nodes_alloc"][k])
        preempt = res.get("preemptions")
        out[jid] = {
            "start": start, "end": float(res["end"][k]), "wait": start - float(table["submit"][k]),
            "state": str(res["state"][k]), "started_by": str(res["started_by"][k]),
            "nodes": len(expand_hostlist(alloc, "nodes_alloc")) if alloc else 0, "node_list": alloc,
            "runs": 1 + (int(preempt[k]) if preempt is not None else 0),
            "limit_reasons": sorted(c[len("pending_"):-2] for c in limit_cols if res[c][k] > 0),
        }
    return out


def slurm_limit_reasons(golden: Golden) -> dict[str, list[str]]:
    """Per case job id: the QOS/association limit reasons squeue showed while it was pending."""
    path = golden.path.with_suffix(".squeue")
    names = {r.slurm_id: r.name for r in golden.runs}
    out: dict[str, set[str]] = {name: set() for name in names.values()}
    if path.exists():
        for _, jid, state, reason in read_squeue(path, golden.controller_start):
            if state == "PENDING" and reason.startswith(LIMIT_PREFIXES) and jid in names:
                out[names[jid]].add(reason)
    return {k: sorted(v) for k, v in out.items()}


def slurm_view(golden: Golden) -> dict[str, dict[str, object]]:
    """Per case job id: Slurm's last-run start, end, wait (from first submit), state, started_by, nodes,
    runs and the limit reasons it pended with."""
    reasons = slurm_limit_reasons(golden)
    out = {}
    for jid, runs in golden.by_job().items():
        last: Run = runs[-1]
        first_submit = min(r.submit for r in runs if r.submit is not None)
        start = float(last.start) if last.start is not None else math.nan
        out[jid] = {
            "start": start, "end": float(last.end) if last.end is not None else math.nan,
            "wait": start - first_submit, "state": last.state, "started_by": last.started_by,
            "nodes": last.nnodes, "node_list": last.node_list, "runs": len(runs),
            "first_start": math.nan if runs[0].start is None else float(runs[0].start), "limit_reasons": reasons.get(jid, []),
        }
    return out


# ------------------------------------------------------------ comparisons


def _exact(case: Case, golden: Golden, label: str) -> CaseResult:
    slurm = slurm_view(golden)
    try:
        sim = simulate_golden(case, golden)
    except Exception as exc:  # noqa: BLE001 - a simulator crash is reported as the comparison's result
        return CaseResult(case.name, label, [], error=f"{type(exc).__name__}: {exc}")
    table = job_table(case, golden)
    submit = dict(zip(table["job_id"].tolist(), table["submit"].tolist()))
    _mark_overtaking(case, submit, slurm)
    _mark_overtaking(case, submit, sim)
    diffs = []
    for job in case.jobs:
        s, m = slurm[job.id], sim[job.id]
        d = JobDiff(job.id, s, m)
        if math.isnan(m["start"]) or abs(m["start"] - s["start"]) > START_TOL_S:
            d.failed.append("start")
        for check in ("state", "started_by", "nodes", "runs", "limit_reasons", "overtook"):
            if m[check] != s[check]:
                d.failed.append(check)
        diffs.append(d)
    return CaseResult(case.name, label, diffs)


def _mark_overtaking(case: Case, submit: dict[str, int], view: dict[str, dict[str, object]]) -> None:
    """view[job]["overtook"]: the job started while a job queued before it (same partition list,
    earlier submit or same second and listed earlier) had not yet started its last run, i.e. it
    jumped the queue (the simulator reports only a job's last start, so both sides use that).
    Meaningful where the queue order is submit order (every priority weight 0): unlike sacct's
    SchedMain/SchedBackfill flag, which for a job that can start at once is a race between the two
    schedulers, this says whether backfill semantics decided the job's start."""
    order = {job.id: k for k, job in enumerate(case.jobs)}
    for job in case.jobs:
        start = view[job.id]["start"]
        view[job.id]["overtook"] = any(
            other.partition == job.partition and (submit[other.id], order[other.id]) < (submit[job.id], order[job.id])
            and not view[other.id]["start"] <= start for other in case.jobs)


def _spread(case: Case, goldens: list[Golden]) -> CaseResult:
    views = [slurm_view(g) for g in goldens]
    label = f"runs 1-{len(goldens)}"
    try:
        sims = [simulate_golden(case, g) for g in goldens]
    except Exception as exc:  # noqa: BLE001
        return CaseResult(case.name, label, [], error=f"{type(exc).__name__}: {exc}")
    diffs = []
    for job in case.jobs:
        waits = [v[job.id]["wait"] for v in views]
        lo, hi = min(waits) - START_TOL_S, max(waits) + START_TOL_S
        sim_waits = [s[job.id]["wait"] for s in sims]
        d = JobDiff(job.id, {"wait_spread": f"[{min(waits):.0f}, {max(waits):.0f}]", "state": views[0][job.id]["state"],
                             "nodes": views[0][job.id]["nodes"], "start": views[0][job.id]["start"]},
                    {"wait_spread": "/".join(f"{w:.0f}" for w in sim_waits), "state": sims[0][job.id]["state"],
                     "nodes": sims[0][job.id]["nodes"], "start": sims[0][job.id]["start"]})
        if any(math.isnan(w) or not lo <= w <= hi for w in sim_waits):
            d.failed.append("wait_spread")
        if any(s[job.id]["state"] != v[job.id]["state"] for s, v in zip(sims, views)):
            d.failed.append("state")
        if any(s[job.id]["nodes"] != v[job.id]["nodes"] for s, v in zip(sims, views)):
            d.failed.append("nodes")
        diffs.append(d)
    return CaseResult(case.name, label, diffs)


def compare_case(case: Case) -> list[CaseResult]:
    """Exact cases: one result per golden run; spread cases: one result over all runs."""
    goldens = [read_golden(p) for p in golden_paths(case.name)]
    if not goldens:
        return []
    if case.compare == "spread":
        return [_spread(case, goldens)]
    return [_exact(case, g, g.path.stem) for g in goldens]


def checks_for(case: Case) -> tuple[str, ...]:
    return SPREAD_CHECKS if case.compare == "spread" else CHECKS


def expected_differences() -> dict[tuple[str, str, str | None], str]:
    """(case, check, golden run or None for every run) -> reason, from
    tests/fidelity/expected_differences.toml (docs/fidelity.md)."""
    if not EXPECTED_FILE.exists():
        return {}
    data = tomllib.loads(EXPECTED_FILE.read_text())
    return {(e["case"], e["check"], e.get("run")): e["reason"] for e in data.get("difference", [])}


def expected_reason(expected: dict, case: str, check: str, label: str) -> str | None:
    return expected.get((case, check, label)) or expected.get((case, check, None))


# ------------------------------------------------------------ reports


def format_details(result: CaseResult) -> str:
    lines = [f"== {result.case} {result.label}"]
    if result.error:
        return "\n".join(lines + [f"   simulator error: {result.error}"])
    for d in result.jobs:
        mark = "ok " if not d.failed else "XX "
        if "wait_spread" in d.slurm:
            lines.append(f" {mark}{d.job}: slurm waits {d.slurm['wait_spread']} {d.slurm['state']} n={d.slurm['nodes']} | "
                         f"sim waits {d.sim['wait_spread']} {d.sim['state']} n={d.sim['nodes']}"
                         + (f"  [{', '.join(d.failed)}]" if d.failed else ""))
            continue
        lines.append(
            f" {mark}{d.job}: slurm start {_fmt(d.slurm.get('start'))} {d.slurm.get('state')} "
            f"{d.slurm.get('started_by', '')} n={d.slurm.get('nodes')} runs={d.slurm.get('runs', '')} "
            f"{d.slurm.get('node_list', d.slurm.get('wait_spread', ''))} | sim start {_fmt(d.sim.get('start'))} "
            f"{d.sim.get('state')} {d.sim.get('started_by', '')} n={d.sim.get('nodes')} runs={d.sim.get('runs', '')} "
            f"{d.sim.get('node_list', d.sim.get('wait_spread', ''))}"
            + (f" limits slurm {d.slurm['limit_reasons']} sim {d.sim['limit_reasons']}"
               if d.slurm.get("limit_reasons") or d.sim.get("limit_reasons") else "")
            + (f"  [{', '.join(d.failed)}]" if d.failed else ""))
    return "\n".join(lines)


def _fmt(v: object) -> str:
    return f"{v:.0f}" if isinstance(v, float) and not math.isnan(v) else str(v)


def agreement_table(names: list[str]) -> str:
    """Markdown: per case/run, jobs within 2 s (or within Slurm's spread), mean and max |start diff|."""
    rows = ["| case | golden | jobs | start within 2 s | mean / max diff (s) | state | started_by | overtook | nodes "
            "| runs | limit reasons |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        case = load_case(name)
        results = compare_case(case)
        if not results:
            rows.append(f"| {name} | none recorded | {len(case.jobs)} | | | | | | | | |")
        for r in results:
            n = len(case.jobs)
            if r.error:
                rows.append(f"| {name} | {r.label} | {n} | simulator error: {r.error[:80]} | | | | | | | |")
                continue
            ok = lambda check: f"{sum(check not in d.failed for d in r.jobs)}/{n}"  # noqa: E731
            diffs = r.start_diffs
            mean = f"{sum(diffs) / len(diffs):.1f} / {max(diffs):.0f}" if diffs else "n/a"
            if case.compare == "spread":
                rows.append(f"| {name} | {r.label} | {n} | {ok('wait_spread')} within spread | "
                            f"{mean} (vs run1) | {ok('state')} | - | - | {ok('nodes')} | - | - |")
            else:
                rows.append(f"| {name} | {r.label} | {n} | {ok('start')} | {mean} | {ok('state')} | "
                            f"{ok('started_by')} | {ok('overtook')} | {ok('nodes')} | {ok('runs')} | {ok('limit_reasons')} |")
    return "\n".join(rows)


def start_latencies(golden: Golden) -> list[int]:
    """For every run that waited: its start minus the latest End (of any run) or Submit at or before
    it, i.e. how long after the event that freed it Slurm started it (docs/fidelity.md)."""
    events = sorted({r.end for r in golden.runs if r.end is not None}
                    | {r.submit for r in golden.runs if r.submit is not None})
    out = []
    for r in golden.runs:
        if r.start is None or r.submit is None or r.start <= r.submit:
            continue
        before = [t for t in events if t <= r.start]
        if before:
            out.append(r.start - before[-1])
    return out
