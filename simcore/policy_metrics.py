"""Per-run policy metrics: fairness (Jain index, top user's peak share) and configuration complexity.

Why here and not in the engine: they are pure, vectorised functions of per-job (or per-run-segment)
arrays and of the scenario, so they are unit-testable on hand-built inputs. Definitions, units and
formulas are in docs/metrics.md ("Policy metrics").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from simcore.config import Scenario

DAY = 86400


def water_fill(total: float, demand: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted max-min fair split of `total` among claimants capped at `demand`.

    Each claimant gets min(demand, level * weight) with the level chosen so the shares add up to
    min(total, sum(demand)); zero-weight claimants get nothing.
    """
    demand = np.asarray(demand, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    out = np.zeros_like(demand)
    live = weight > 0
    if not live.any() or total <= 0:
        return out
    d, w = demand[live], weight[live]
    total = min(total, float(d.sum()))
    ratio = d / w                      # level at which each claimant saturates
    order = np.argsort(ratio)
    r, ds, ws = ratio[order], d[order], w[order]
    sat_demand = np.concatenate(([0.0], np.cumsum(ds)))     # demand of the first k saturated
    rest_weight = ws[::-1].cumsum()[::-1]                     # weight of claimants k..end
    # allocation when the level equals r[k]: saturated first k take demand, others r[k]*weight
    alloc_at = sat_demand[:-1] + r * rest_weight
    k = int(np.searchsorted(alloc_at, total, side="left"))
    if k >= len(r):
        share = ds
    else:
        level = (total - sat_demand[k]) / rest_weight[k]
        share = np.minimum(ds, level * ws)
    res = np.empty_like(d)
    res[order] = share
    out[live] = res
    return out


def jain_index(delivered: np.ndarray, demand: np.ndarray, entitlement: np.ndarray) -> float:
    """Jain's index of delivered / fair share over users with a positive fair share.

    The fair share is the weighted max-min split of everything delivered, weighted by each user's
    normalised fairshare entitlement and capped by the user's demand: a perfectly fair run scores 1.
    NaN when nothing was delivered.
    """
    delivered = np.asarray(delivered, dtype=np.float64)
    fair = water_fill(float(delivered.sum()), demand, entitlement)
    ok = fair > 0
    if not ok.any():
        return math.nan
    x = delivered[ok] / fair[ok]
    return float(x.sum() ** 2 / (len(x) * (x**2).sum())) if (x**2).sum() > 0 else math.nan


def per_user_sums(user_codes: np.ndarray, values: np.ndarray, n_users: int) -> np.ndarray:
    """Sum `values` per integer user code."""
    return np.bincount(np.asarray(user_codes, dtype=np.int64), weights=np.asarray(values, dtype=np.float64), minlength=n_users)


def top_user_peak_share(
    seg_start: np.ndarray, seg_end: np.ndarray, seg_amount: np.ndarray, seg_user: np.ndarray,
    capacity: float, window: tuple[float, float],
) -> float:
    """The largest share of capacity any single user held over a calendar day of the window.

    Segments are run intervals [start, end) holding `amount` units (GPUs, or CPUs on a CPU-only
    cluster) for user code `user`; day d covers [window_start + d*86400, ...). NaN when the window
    is shorter than a day's start or capacity is 0.
    """
    w0, w1 = window
    if capacity <= 0 or w1 <= w0:
        return math.nan
    s = np.clip(np.asarray(seg_start, dtype=np.float64), w0, w1)
    e = np.clip(np.asarray(seg_end, dtype=np.float64), w0, w1)
    keep = e > s
    s, e = s[keep], e[keep]
    amount = np.asarray(seg_amount, dtype=np.float64)[keep]
    user = np.asarray(seg_user, dtype=np.int64)[keep]
    if not len(s):
        return 0.0
    n_days = int(math.ceil((w1 - w0) / DAY))
    d0 = ((s - w0) // DAY).astype(np.int64)
    d1 = np.minimum(((e - w0 - 1e-9) // DAY).astype(np.int64), n_days - 1)
    span = d1 - d0 + 1
    rows = np.repeat(np.arange(len(s)), span)
    day = d0[rows] + (np.arange(len(rows)) - np.repeat(np.cumsum(span) - span, span))
    lo = np.maximum(s[rows], w0 + day * DAY)
    hi = np.minimum(e[rows], w0 + (day + 1) * DAY)
    used = (hi - lo) * amount[rows]
    n_users = int(user.max()) + 1
    per = np.bincount(day * n_users + user[rows], weights=used, minlength=n_days * n_users).reshape(n_days, n_users)
    day_len = np.minimum(w0 + (np.arange(n_days) + 1) * DAY, w1) - (w0 + np.arange(n_days) * DAY)
    return float((per.max(axis=1) / (capacity * day_len)).max())


def _limit_entries(limits: Mapping[str, object]) -> list[tuple[str, str]]:
    """(limit key, TRES or "") for every limit set in a parsed limits mapping."""
    out: list[tuple[str, str]] = []
    for key, value in limits.items():
        if isinstance(value, Mapping):
            out.extend((key, tres) for tres in value)
        elif value is not None:
            out.append((key, ""))
    return out


def complexity(scenario: "Scenario") -> int:
    """Number of rules a user must understand to predict where and when a job runs.

    = partitions open to users (State=UP)
    + pairs of those partitions that share nodes
    + distinct PriorityTier values - 1
    + per partition: MaxTime, MaxNodes, AllowAccounts set (each 1) and each MaxTRESPerJob TRES
    + per QOS in use (a partition QOS, or any QOS when jobs may name one): each limit entry
      (one per TRES of a TRES limit; one per job-count or wall-time limit)
    + distinct association limit entries (limit key, TRES) across accounts and users
    + 1 if jobs can be preempted, + 1 more if preempted jobs are requeued (users must checkpoint)
    + 1 if fairshare weighs in the priority (priority/multifactor with PriorityWeightFairshare > 0).
    """
    parts = [p for p in scenario.partitions if p.state == "UP"]
    score = len(parts)
    node_sets = [set(p.nodes) for p in parts]
    score += sum(1 for i in range(len(parts)) for j in range(i + 1, len(parts)) if node_sets[i] & node_sets[j])
    score += len({p.priority_tier for p in parts}) - 1 if parts else 0
    for p in parts:
        score += (p.max_time is not None) + (p.max_nodes is not None) + (p.allow_accounts is not None)
        score += len(p.max_tres_per_job)
    for q in scenario.qos.values():
        score += len(_limit_entries(q.limits))
    assoc_entries: set[tuple[str, str]] = set()
    for a in list(scenario.accounts.values()) + list(scenario.users.values()):
        assoc_entries.update(_limit_entries(a.limits))
    score += len(assoc_entries)
    sched = scenario.scheduler
    if sched.preempt_type != "preempt/none":
        modes = {p.preempt_mode for p in parts} | {sched.preempt_mode}
        modes |= {str(q.table.get("PreemptMode", "")).upper() for q in scenario.qos.values()}
        if modes & {"CANCEL", "REQUEUE"}:
            score += 1
        if "REQUEUE" in modes:
            score += 1
    prio = scenario.priority
    if prio.get("PriorityType") == "priority/multifactor" and int(prio.get("PriorityWeightFairshare", 0) or 0) > 0:
        score += 1
    return int(score)


def user_codes(users: Sequence[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes for user names (sorted names, codes)."""
    names, codes = np.unique(np.asarray(users, dtype=object).astype(str), return_inverse=True)
    return names, codes.astype(np.int64)


def entitlements(scenario: "Scenario", users: np.ndarray, accounts: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Each user's normalised fairshare share S (product of Fairshare ratios down the tree, summed over
    the user's associations), for the sorted user `names`."""
    from simcore.fairshare import AssocTree, Fairshare

    tree = AssocTree.build(
        {k: v.table for k, v in scenario.accounts.items()}, {k: v.table for k, v in scenario.users.items()},
        zip(users.tolist(), accounts.tolist()),
    )
    s_norm = Fairshare(tree, 0.0).s_norm
    index = {str(n): i for i, n in enumerate(names.tolist())}
    out = np.zeros(len(names))
    for (user, _), a in tree.user_assoc.items():
        i = index.get(user)
        if i is not None:
            share = s_norm[a] if not np.isnan(tree.shares[a]) else s_norm[tree.parent[a]]
            out[i] += share
    return out


def run_jain_index(
    scenario: "Scenario", user: np.ndarray, account: np.ndarray, measured: np.ndarray,
    delivered_s: np.ndarray, demand_s: np.ndarray,
) -> float:
    """Jain index over users with measured jobs: delivered (resource-seconds in the window, all of
    the user's jobs) against the weighted max-min fair share of the total, weighted by fairshare
    entitlement and capped by demand (the work of the user's measured jobs, at least what was
    delivered)."""
    if not measured.any():
        return math.nan
    names, codes = user_codes(user)
    n = len(names)
    delivered = per_user_sums(codes, delivered_s, n)
    demand = np.maximum(per_user_sums(codes[measured], np.asarray(demand_s)[measured], n), delivered)
    active = np.bincount(codes[measured], minlength=n) > 0
    ent = entitlements(scenario, np.asarray(user), np.asarray(account), names)
    return jain_index(delivered[active], demand[active], ent[active])
