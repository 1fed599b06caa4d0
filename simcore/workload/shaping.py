"""Shaping: turn policy-independent demand into the jobs users would submit under one scenario.

The rules (docs/workloads.md, "Shaping") in short: each user picks partitions as users do (debug
for short tests, an owner partition for its owners, the default partition, a longer one when the
work needs it, preemptible partitions added only by opted-in users who checkpoint); a job's width
is cut to what partitions and QOS/association limits allow (same GPU-hours, longer wall time); work
longer than the effective time limit becomes a chain of dependent jobs with a restart overhead, or,
for users who cannot checkpoint, is not submitted and counts as unmet demand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from simcore.errors import ConfigError
from simcore.workload.archetypes import HOUR, Demand, WorkloadParams, draw_demand, parse_params

# A checkpointing link stops this long before its limit, as well-behaved chains do (--signal).
LINK_MARGIN = 5 * 60
# Time limits users ask for: round numbers; beyond the last step, whole days.
LIMIT_STEPS = np.array(
    [m * 60 for m in (5, 10, 15, 20, 30, 45)]
    + [int(h * HOUR) for h in (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 20, 24, 36, 48, 72, 96, 120, 144, 168)],
    dtype=np.int64,
)
UNLIMITED = np.iinfo(np.int64).max // 4


@dataclasses.dataclass(frozen=True)
class PartitionView:
    """What a user sees of a partition when choosing where to submit."""

    name: str
    max_time: int            # s; UNLIMITED when none
    gpus_per_node: int
    total_gpus: int
    max_gpus_per_job: int
    node_cpus: int
    node_mem_mb: int
    allow_accounts: tuple[str, ...] | None
    tier: int
    default: bool
    debug: bool
    preemptible: bool
    qos: str


@dataclasses.dataclass(frozen=True)
class Choice:
    """Where one user's jobs of one kind go, and the limits that shape them."""

    partition: str           # Slurm partition list ("gpu" or "gpu,preempt")
    max_time: int            # s, the tightest MaxTime/MaxWall of the list
    gpu_cap: int             # widest job allowed (GPUs)
    gpus_per_node: int
    node_cpus: int
    node_mem_mb: int
    run_gpu_minutes: float   # GrpTRESRunMins-style cap on gres/gpu x time limit (inf = none)
    qos: str


@dataclasses.dataclass(frozen=True)
class Shaped:
    """A generated workload: the jobs, plus the demand the policy left unmet."""

    table: Any                      # simcore.jobs.JobTable
    demand_gpu_h: float             # all production and test work, in GPU-hours
    unmet_demand_gpu_h: float       # work never submitted (no checkpointing, no usable partition)
    chains: int                     # pieces of work split into more than one job
    accounts: Mapping[str, str]     # user -> account (the association the workload assumes)


def shape(scenario: Any, seed: int = 0) -> Shaped:
    """Demand for `seed` under `scenario` (a simcore.config.Scenario) as a job table."""
    from simcore.jobs import JobTable

    params = parse_params(dict(scenario.workload.params), f"{scenario.source}: workload")
    views = partition_views(scenario, params)
    demand = draw_demand(params, seed)
    accounts = assign_accounts(scenario, params, demand, views)
    choices = _user_choices(scenario, params, demand, accounts, views)
    columns, unmet, chains = _jobs(params, demand, accounts, choices)
    table = JobTable.from_columns(columns, source=f"{scenario.source}: workload (archetypes, seed {seed})",
                                  unmet_demand_gpu_h=unmet)
    users = {u: accounts[i] for i, u in enumerate(demand.users)}
    return Shaped(table, float(demand.work_gpu_h.sum()), unmet, chains, users)


def partition_views(scenario: Any, params: WorkloadParams) -> dict[str, PartitionView]:
    """Classify the scenario's UP partitions that have GPUs (debug, preemptible, owner-restricted)."""
    nodes = {name: spec for spec in scenario.nodes for name in spec.names}
    sched = scenario.scheduler
    views: dict[str, PartitionView] = {}
    for p in scenario.partitions:
        specs = [nodes[n] for n in p.nodes]
        gpus = [s.gpus for s in specs]
        if p.state != "UP" or not any(gpus):
            continue
        gpn = max(gpus)
        total = sum(gpus)
        cap = total if p.max_nodes is None else min(total, p.max_nodes * gpn)
        if "gres/gpu" in p.max_tres_per_job:
            cap = min(cap, int(p.max_tres_per_job["gres/gpu"]))
        max_time = UNLIMITED if p.max_time is None else p.max_time
        preemptible = sched.preempt_type == "preempt/partition_prio" and _mode(p, sched) != "OFF" and any(
            q.priority_tier > p.priority_tier and q.state == "UP" and set(q.nodes) & set(p.nodes)
            for q in scenario.partitions
        )
        gpu_nodes = [s for s in specs if s.gpus]
        views[p.name] = PartitionView(
            name=p.name, max_time=max_time, gpus_per_node=gpn, total_gpus=total,
            max_gpus_per_job=max(cap, 0), node_cpus=min(s.cpus for s in gpu_nodes),
            node_mem_mb=min(s.real_memory for s in gpu_nodes), allow_accounts=p.allow_accounts,
            tier=p.priority_tier, default=p.default, preemptible=preemptible,
            debug=max_time <= params.debug_max_time and p.allow_accounts is None and not preemptible,
            qos=p.qos,
        )
    if not views:
        raise ConfigError(f"{scenario.source}: workload.kind = \"archetypes\" needs an UP partition with GPUs")
    for a in params.archetypes:
        for name in filter(None, a.partition.split(",")):
            if name not in {p.name for p in scenario.partitions}:
                have = ", ".join(p.name for p in scenario.partitions)
                raise ConfigError(
                    f"{scenario.source}: workload.archetypes.{a.name}.partition: {name!r} is not a partition "
                    f"of the scenario; have: {have}"
                )
            if name not in views:
                raise ConfigError(
                    f"{scenario.source}: workload.archetypes.{a.name}.partition: {name!r} is not UP or has no GPUs"
                )
    return views


def _mode(p: Any, sched: Any) -> str:
    """The partition's PreemptMode, else the global one (as Slurm inherits it)."""
    return (p.preempt_mode or sched.preempt_mode).upper()


def assign_accounts(scenario: Any, params: WorkloadParams, demand: Demand,
                    views: Mapping[str, PartitionView]) -> list[str]:
    """Each generated user's account (docs/workloads.md, "Accounts and the fairshare tree").

    A user listed in [users.<name>] keeps its Account. Otherwise the archetype's `account` list
    is used round-robin; without one, owners get the accounts their partitions allow, everyone
    else the scenario's leaf accounts round-robin, or an account named after the archetype.
    """
    known = set(scenario.accounts)
    parents = {str(a.table.get("Parent", "root")) for a in scenario.accounts.values()}
    leaves = sorted(known - parents - {"root"})
    owner_accounts = sorted({a for v in views.values() if v.allow_accounts for a in v.allow_accounts})
    open_leaves = [a for a in leaves if a not in owner_accounts] or leaves
    pools: dict[int, list[str]] = {}
    for index, a in enumerate(params.archetypes):
        for account in a.account:
            if known and account not in known:
                raise ConfigError(
                    f"{scenario.source}: workload.archetypes.{a.name}.account: {account!r} is not an "
                    f"[accounts.<name>] table; have: {', '.join(sorted(known))}"
                )
        if a.account:
            pools[index] = list(a.account)
        elif a.base == "owner" and owner_accounts:
            pools[index] = owner_accounts
        else:
            pools[index] = open_leaves or [a.name]
    out: list[str] = []
    seen: dict[int, int] = {}
    for user, index in zip(demand.users, demand.user_archetype.tolist()):
        nth = seen[index] = seen.get(index, -1) + 1
        assoc = scenario.users.get(user)
        if assoc is not None and "Account" in assoc.table:
            out.append(str(assoc.table["Account"]))
        else:
            out.append(pools[index][nth % len(pools[index])])
    return out


def _user_choices(scenario: Any, params: WorkloadParams, demand: Demand, accounts: list[str],
                  views: Mapping[str, PartitionView]) -> list[tuple[Choice | None, Choice | None, Choice | None]]:
    """Per user: (production choice, longer-MaxTime choice, test choice); None = nowhere to go."""
    cache: dict[tuple, tuple] = {}
    out = []
    for u, user in enumerate(demand.users):
        a = params.archetypes[demand.user_archetype[u]]
        # Users with their own association (limits) get their own entry; the rest share by group.
        key = (demand.user_archetype[u], accounts[u], bool(demand.user_preemptible[u]),
               user if user in scenario.users else None)
        if key not in cache:
            cache[key] = _choices_for(scenario, a, accounts[u], user, bool(demand.user_preemptible[u]), views)
        out.append(cache[key])
    return out


def _choices_for(scenario: Any, a: Any, account: str, user: str, preemptible: bool,
                 views: Mapping[str, PartitionView]) -> tuple[Choice | None, Choice | None, Choice | None]:
    allowed = [v for v in views.values() if v.allow_accounts is None or account in v.allow_accounts]
    if a.partition:
        fixed = [views[n] for n in a.partition.split(",") if n]
        for v in fixed:
            if v.allow_accounts is not None and account not in v.allow_accounts:
                raise ConfigError(
                    f"{scenario.source}: workload.archetypes.{a.name}.partition: {v.name!r} does not allow "
                    f"account {account!r} of user {user} (AllowAccounts={','.join(v.allow_accounts)})"
                )
        primary = _choice(scenario, fixed, a, account, user)
        return primary, None, primary
    owned = [v for v in allowed if v.allow_accounts is not None]
    general = [v for v in allowed if v.allow_accounts is None and not v.debug and not v.preemptible]
    pool = owned if a.base == "owner" and owned else general
    extra = [v for v in allowed if v.preemptible] if preemptible else []
    if not pool:
        pool, extra = extra, []
    if not pool:
        return None, None, None
    first = next((v for v in pool if v.default), max(pool, key=lambda v: (v.total_gpus, -_order(views, v))))
    longest = max(pool, key=lambda v: (v.max_time, -_order(views, v)))
    primary = _choice(scenario, [first, *extra], a, account, user)
    longer = _choice(scenario, [longest, *extra], a, account, user) if longest.max_time > first.max_time else None
    debug = [v for v in allowed if v.debug]
    test = (_choice(scenario, [max(debug, key=lambda v: (v.tier, v.max_time, -_order(views, v)))], a, account, user)
            if debug else primary)
    return primary, longer, test


def _order(views: Mapping[str, PartitionView], view: PartitionView) -> int:
    return list(views).index(view.name)


def _choice(scenario: Any, parts: list[PartitionView], a: Any, account: str, user: str) -> Choice:
    """Combine the partitions' and the applicable QOS/association limits into one choice."""
    qos_name = a.qos or next((p.qos for p in parts if p.qos), "") or ("normal" if "normal" in scenario.qos else "")
    limit_sets = []
    if qos_name in scenario.qos:
        limit_sets.append(scenario.qos[qos_name].limits)
    for p in parts:
        if p.qos and p.qos != qos_name and p.qos in scenario.qos:
            limit_sets.append(scenario.qos[p.qos].limits)
    if user in scenario.users:
        limit_sets.append(scenario.users[user].limits)
    if account in scenario.accounts:
        limit_sets.append(scenario.accounts[account].limits)
    cap = min(p.max_gpus_per_job for p in parts)
    max_time = min(p.max_time for p in parts)
    run_minutes = float("inf")
    for limits in limit_sets:
        for key in ("MaxTRESPerJob", "MaxTRESPerUser", "GrpTRES", "MaxTRESPerAccount"):
            if "gres/gpu" in limits.get(key, {}):
                cap = min(cap, int(limits[key]["gres/gpu"]))
        for key in ("GrpTRESRunMins", "MaxTRESRunMinsPerUser", "MaxTRESRunMins", "MaxTRESMinsPerJob"):
            if "gres/gpu" in limits.get(key, {}):
                run_minutes = min(run_minutes, float(limits[key]["gres/gpu"]))
        for key in ("MaxWall", "MaxWallDurationPerJob"):
            if limits.get(key) is not None:
                max_time = min(max_time, int(limits[key]))
    return Choice(
        partition=",".join(p.name for p in parts), max_time=max_time, gpu_cap=cap,
        gpus_per_node=min(p.gpus_per_node for p in parts), node_cpus=min(p.node_cpus for p in parts),
        node_mem_mb=min(p.node_mem_mb for p in parts), run_gpu_minutes=run_minutes, qos=a.qos,
    )


def nice_limit(seconds: np.ndarray) -> np.ndarray:
    """Round requested limits up to the round numbers users type (15:00, 4:00:00, 2-00:00:00)."""
    index = np.searchsorted(LIMIT_STEPS, seconds, side="left")
    beyond = -(-seconds // 86400) * 86400
    return np.where(index < len(LIMIT_STEPS), LIMIT_STEPS[np.minimum(index, len(LIMIT_STEPS) - 1)], beyond)


def _limit(use: np.ndarray, gpus: np.ndarray, lookup) -> np.ndarray:
    """The longest time limit a job may have: MaxTime/MaxWall, and GPU run-minute caps / width."""
    limit = np.minimum(lookup("max_time", use, 0), lookup("run_gpu_minutes", use, np.inf) * 60 / gpus)
    # Slurm time limits are whole minutes.
    return (np.floor(np.minimum(limit, UNLIMITED) / 60) * 60).astype(np.int64)


def _widen(params: WorkloadParams, arch: np.ndarray, widen: np.ndarray, gpus: np.ndarray, cap: np.ndarray,
           work_gpu_h: np.ndarray, use: np.ndarray, lookup) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give work that would overrun its limit the smallest listed width that makes it fit, if any."""
    gpus = gpus.copy()
    for index, a in enumerate(params.archetypes):
        rows = np.flatnonzero(widen & (arch == index))
        for width in sorted(a.gpus):
            if rows.size == 0:
                break
            candidate = np.full(rows.size, width)
            fits = ((width > gpus[rows]) & (width <= cap[rows])
                    & (work_gpu_h[rows] * HOUR / width <= _limit(use[rows], candidate, lookup)))
            gpus[rows[fits]] = width
            rows = rows[~fits]
    wall = np.maximum(np.ceil(work_gpu_h * HOUR / gpus).astype(np.int64), 60)
    return gpus, wall, _limit(use, gpus, lookup)


def _jobs(params: WorkloadParams, demand: Demand, accounts: list[str],
          choices: list[tuple[Choice | None, Choice | None, Choice | None]]) -> tuple[dict, float, int]:
    """Vectorised shaping of every piece of work into jobs; returns (columns, unmet GPU-h, chains)."""
    # Distinct choices become small lookup arrays indexed per piece of work.
    table: list[Choice | None] = []
    ids: dict[int, int] = {}

    def code(choice: Choice | None) -> int:
        if id(choice) not in ids:
            ids[id(choice)] = len(table)
            table.append(choice)
        return ids[id(choice)]

    per_user = np.array([[code(c) for c in triple] for triple in choices], dtype=np.int64)
    u = demand.user
    arch = demand.user_archetype[u]
    ckpt = demand.user_checkpoint[u]
    # Tests go to the debug partition; one too long for it goes where production work goes.
    use = np.where(demand.is_test, per_user[u, 2], per_user[u, 0])
    longer = np.where(demand.is_test, per_user[u, 0], per_user[u, 1])

    def lookup(field: str, codes: np.ndarray, missing: float) -> np.ndarray:
        values = np.array([missing if c is None else getattr(c, field) for c in table], dtype=float)
        return values[codes]

    gpus = demand.gpus.astype(np.int64)
    # Work too long for the primary partition (at the width it allows) moves to the longer one,
    # if the user has one.
    wall = demand.work_gpu_h * HOUR / np.maximum(1, np.minimum(gpus, lookup("gpu_cap", use, 1)))
    fits = wall <= lookup("max_time", use, 0)
    has_longer = np.array([c is not None for c in table])[longer]
    use = np.where(~fits & has_longer, longer, use)
    present = np.array([c is not None for c in table])[use]
    cap = lookup("gpu_cap", use, 0).astype(np.int64)
    present &= cap >= 1
    gpus = np.maximum(1, np.minimum(gpus, cap))
    wall = np.ceil(demand.work_gpu_h * HOUR / gpus).astype(np.int64)
    wall = np.maximum(wall, 60)
    limit = _limit(use, gpus, lookup)
    restart = np.array([a.restart_overhead for a in params.archetypes], dtype=np.int64)[arch]
    first_cap = limit - LINK_MARGIN
    next_cap = limit - LINK_MARGIN - restart
    # Users who cannot checkpoint widen work that would not fit, to the archetype's next width.
    widen = ~ckpt & (wall > limit) & ~demand.is_test
    if widen.any():
        gpus, wall, limit = _widen(params, arch, widen, gpus, cap, demand.work_gpu_h, use, lookup)
    single = wall <= limit
    chainable = ~single & ckpt & (next_cap > 0) & ~demand.is_test
    ok = present & (single | chainable)
    unmet = float(demand.work_gpu_h[~ok].sum())

    links = np.ones(len(wall), dtype=np.int64)
    extra = np.where(chainable, np.maximum(wall - first_cap, 0), 0)
    links[chainable] += -(-extra[chainable] // next_cap[chainable])
    links[~ok] = 0
    n_jobs = int(links.sum())
    item = np.repeat(np.arange(len(wall)), links)
    start = np.cumsum(links) - links
    link = np.arange(n_jobs) - start[item]
    # Links are submitted together (sbatch --dependency), one second apart to keep their order;
    # job ids follow submit order, so every array below is built already in that order.
    order = np.lexsort((link, item, demand.submit[item] + link))
    rank = np.empty(n_jobs, dtype=np.int64)
    rank[order] = np.arange(n_jobs)
    item, link = item[order], link[order]
    previous = rank[np.maximum(order - 1, 0)] + 1  # the previous link is the previous unsorted row
    submit = demand.submit[item] + link

    is_chain = chainable[item]
    done_before = np.where(link == 0, 0, first_cap[item] + (link - 1) * next_cap[item])
    remaining = wall[item] - done_before
    chain_runtime = np.where(link == 0, np.minimum(remaining, first_cap[item]),
                             restart[item] + np.minimum(remaining, next_cap[item]))
    runtime = np.where(is_chain, chain_runtime, wall[item])
    asked = nice_limit(np.ceil(wall * demand.limit_factor).astype(np.int64))
    single_limit = np.minimum(np.maximum(asked, 60), limit)[item]
    time_limit = np.where(is_chain, limit[item], np.where(demand.no_time_limit[item], 0, single_limit))
    dependency = np.full(n_jobs, "", dtype=object)
    linked = np.flatnonzero(link > 0)
    dependency[linked] = [f"{params.chain_dependency}:{p}" for p in previous[linked].tolist()]

    codes = use[item]
    g = gpus[item]
    gpn = lookup("gpus_per_node", codes, 1).astype(np.int64)
    nodes = -(-g // gpn)
    per_node = -(-g // nodes)
    arch_item = arch[item]
    cpg = np.array([a.cpus_per_gpu for a in params.archetypes], dtype=np.int64)[arch_item]
    mpg = np.array([a.mem_mb_per_gpu for a in params.archetypes], dtype=np.int64)[arch_item]
    cpus = np.maximum(1, np.minimum(per_node * cpg, lookup("node_cpus", codes, 1).astype(np.int64))) * nodes
    mem = np.minimum(per_node * mpg, lookup("node_mem_mb", codes, 0).astype(np.int64))
    interval = np.array([a.checkpoint_interval for a in params.archetypes], dtype=np.int64)[arch_item]
    users = np.asarray(demand.users, dtype=object)
    user_of = u[item]
    partition_names = np.array([c.partition if c else "" for c in table], dtype=object)
    qos_names = np.array([c.qos if c else "" for c in table], dtype=object)
    columns = {
        "job_id": np.array([str(n) for n in range(1, n_jobs + 1)], dtype=object),
        "user": users[user_of],
        "account": np.asarray(accounts, dtype=object)[user_of],
        "partition": partition_names[codes],
        "qos": qos_names[codes],
        "submit": submit,
        "time_limit": time_limit,
        "runtime": runtime,
        "nodes": nodes,
        "cpus": cpus,
        "mem_mb": mem,
        "gpus": g,
        "exclusive": np.zeros(n_jobs, dtype=bool),
        "dependency": dependency,
        "requeue": np.ones(n_jobs, dtype=bool),
        "checkpoint_s": np.where(ckpt[item], interval, 0),
        "name": np.array([a.name for a in params.archetypes], dtype=object)[arch_item],
    }
    return columns, unmet, int(np.count_nonzero(chainable & ok & (links > 1)))
