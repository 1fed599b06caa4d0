"""The compiled engine (simcore._kernel): when it applies, its inputs, and its outputs as the engine's.

Why a second engine: a run of the pure-Python engine costs interpreter overhead on every queue
entry and node (docs/performance.md); the compiled kernel runs the same algorithm over flat C
arrays. It covers every scenario without job dependencies: limits, multifactor priorities with
age and fair-share (the kernel's Usage, started from `Fairshare.flat()`) and preemption included. The Python engine stays the reference: tests/test_kernel.py checks that both
give identical per-job output.

The work that depends only on the job and the configuration (admission, static pending reasons,
the static queue order, request shapes, time limits, limit check lists, the preemption policy) is
done here with the Python engine's own objects.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from simcore.codes import codes, groups
from simcore.engine import BACKFILL, COMPLETED, LIMIT_REASON_PREFIXES, MAIN, TIMEOUT, UNLIMITED_TIME
from simcore.stall import job_bounds

if TYPE_CHECKING:
    from simcore.engine import Engine

try:
    from simcore import _kernel
except ImportError:          # not built (no C compiler at install): the Python engine runs everything
    _kernel = None

AVAILABLE = _kernel is not None
BASE_REASONS = ("None", "Priority", "Resources")     # codes 0, 1, 2 in the kernel
END_STATES = ("", COMPLETED, TIMEOUT, "REJECTED", "PREEMPTED")
STARTED_BY = ("", MAIN, BACKFILL)


def supported(e: "Engine") -> bool:
    """Whether the kernel reproduces this run: only what it implements is configured."""
    return AVAILABLE and e.skip_unchanged and not e.dependents


def run(e: "Engine") -> None:
    """Engine.run in the kernel; fills the engine's per-job state so job_columns() works unchanged."""
    a, reasons = _inputs(e)
    k = _kernel.Kernel(a)
    k.run()
    _outputs(e, k, a, reasons)


def _time_limits(e: "Engine", jobs: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Engine.time_limit for each (job, partition) pair."""
    tl = np.asarray(e.tl, dtype=np.int64)[jobs]
    fallback = np.array([d if d is not None else (m if m is not None else UNLIMITED_TIME)
                         for d, m in zip(e.pdeft, e.pmaxt)], dtype=np.int64)
    return np.where(tl > 0, tl, fallback[parts]) if len(parts) else tl


def _entries(e: "Engine", reasons: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per job, its queue entries as Engine._submit admits them: (entry offsets per job, then per
    entry k, partition and static reason code or -1), whether it is rejected at submit, and its
    reason until a scheduler reaches it. Admission and static reasons depend only on the fields
    grouped on here, so they are asked once per group with the Python engine's own methods."""
    n = e.n
    # the time limit matters to Engine._static_reason only through "over the partition's MaxTime"
    over = np.zeros(n, dtype=np.int64)
    if len(e.pname) > 62:                # too many for a bitmask: the time limit itself
        over = np.asarray(e.tl, dtype=np.int64)
    else:
        for p, mt in enumerate(e.pmaxt):
            if mt is not None:
                over |= (_time_limits(e, np.arange(n), np.full(n, p)) > mt).astype(np.int64) << p
    first, group = groups([e.account, over, e.nn, e.cpn, e.mpn, e.gpn, e.gt, e.jpart_code])
    flat: list[tuple[int, int, int]] = []
    g_off = [0]
    g_reject, g_init = [], []
    for j in first.tolist():
        admitted, rejected = e._admit(j)
        entries = [] if rejected else [(k, p, -1 if r is None else reasons.setdefault(r, len(reasons)))
                                       for k, p, r in admitted]
        flat.extend(entries)
        g_off.append(len(flat))
        g_reject.append(rejected)
        g_init.append(entries[0][2] if entries and all(r >= 0 for _, _, r in entries) else reasons["Priority"])
    g_start = np.asarray(g_off[:-1], dtype=np.int64)
    counts = np.diff(np.asarray(g_off, dtype=np.int64))[group]
    ent_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=ent_off[1:])
    # entry x of job j is flat[g_start[group[j]] + (x - ent_off[j])]
    pick = np.repeat(g_start[group] - ent_off[:-1], counts) + np.arange(ent_off[-1], dtype=np.int64)
    table = np.asarray(flat, dtype=np.int64).reshape(-1, 3)[pick]
    return (ent_off, table, np.asarray(g_reject, dtype=np.int64)[group],
            np.asarray(g_init, dtype=np.int64)[group])


def _inputs(e: "Engine") -> tuple[dict, list[str]]:
    nd, sp, n = e.nodes, e.sp, e.n
    N, P = len(nd.names), len(e.pname)
    reasons = {name: code for code, name in enumerate(BASE_REASONS)}
    ent_off, table, reject, init = _entries(e, reasons)
    types: dict[str, int] = {"": 0}       # job GPU type 0: any type
    ngt = [types.setdefault(t, len(types)) if t else 0 for t in nd.gtype]
    jgt = np.array([types.setdefault(t, len(types)) if t else 0 for t in e.gt], dtype=np.int64)
    pn_off = np.zeros(P + 1, dtype=np.int64)
    pn_off[1:] = np.cumsum([len(x) for x in e.pnodes])
    local = np.full(P * N, -1, dtype=np.int64)
    for p, members in enumerate(e.pnodes):
        local[p * N + np.asarray(members, dtype=np.int64)] = np.arange(len(members))
    overlap = np.zeros((P, P), dtype=np.int64)
    for p, qs in enumerate(e.overlaps):
        overlap[p, qs] = 1
    ejob = np.repeat(np.arange(n, dtype=np.int64), np.diff(ent_off))
    ek, epart, estatic = table[:, 0], table[:, 1], table[:, 2]
    # the queue order while priorities are fixed (changing ones are compared as they change)
    prio = e.priority.calc.compute(np.arange(n), np.zeros(n), 0.0)
    sub = np.asarray(e.sub, dtype=np.int64)
    ptier = np.asarray(e.ptier, dtype=np.int64)
    # Engine.queue_key: PriorityTier desc, priority desc, submit, job, k, partition
    rank_entry = np.lexsort((epart, ek, ejob, sub[ejob], -prio[ejob], -ptier[epart])).astype(np.int64)
    erank = np.empty(len(ejob), dtype=np.int64)
    erank[rank_entry] = np.arange(len(ejob))
    cpn, mpn, gpn = (np.asarray(x, dtype=np.int64) for x in (e.cpn, e.mpn, e.gpn))
    eexcl = (np.asarray(e.jexcl, dtype=bool)[ejob] | np.asarray(e.pexcl, dtype=bool)[epart]).astype(np.int64)
    shape_cols = [epart, cpn[ejob], mpn[ejob], gpn[ejob], jgt[ejob], eexcl]
    limits = e.limits.flat(lambda r: reasons.setdefault(r, len(reasons)))
    if limits["active"]:
        # the limit-idle metric's shapes: the job's first listed partition (Engine.shape_of)
        p0 = e.first_part
        x0 = (np.asarray(e.jexcl, dtype=bool) | np.asarray(e.pexcl, dtype=bool)[p0]).astype(np.int64)
        shape_cols = [np.concatenate([a, b]) for a, b in zip(shape_cols, [p0, cpn, mpn, gpn, jgt, x0])]
    first_of_shape, shape_of = groups(shape_cols) if len(shape_cols[0]) else (np.zeros(0, dtype=np.int64),) * 2
    eshape, jshape = shape_of[:len(ejob)], shape_of[len(ejob):]
    shapes = np.column_stack(shape_cols).astype(np.int64)[first_of_shape].reshape(-1, 6)
    li_first, lishape = (groups([jshape, np.asarray(e.nn, dtype=np.int64)]) if len(jshape)
                         else (np.zeros(0, dtype=np.int64),) * 2)
    users = codes(e.jobs["user"])
    ereq = groups([eshape, np.asarray(e.nn, dtype=np.int64)[ejob]])[1] if len(ejob) else eshape
    bounds = job_bounds(e)
    a = {
        "n": n, "N": N, "P": P, "U": int(users.max()) + 1 if n else 0,
        "sched_interval": sp.sched_interval, "bf_interval": sp.bf_interval if sp.backfill else 0,
        "bf_window": sp.bf_window, "bf_resolution": sp.bf_resolution, "bf_max_job_test": sp.bf_max_job_test,
        "bf_max_job_user": sp.bf_max_job_user, "default_queue_depth": sp.default_queue_depth,
        "over_time_limit": sp.over_time_limit, "bounds": bounds, "longest": int(bounds.max(initial=0)),
        "ncpu": np.asarray(nd.cpus, dtype=np.int64), "nmem": np.asarray(nd.mem, dtype=np.int64),
        "ngpu": np.asarray(nd.gpus, dtype=np.int64), "ngt": np.asarray(ngt, dtype=np.int64),
        "nweight": np.asarray(nd.weight, dtype=np.int64),
        "pn_off": pn_off, "pn_list": np.concatenate([np.asarray(x, dtype=np.int64) for x in e.pnodes]),
        "local": local, "ptier": ptier, "overlap": overlap.ravel(),
        "sub": sub, "rt": np.asarray(e.rt, dtype=np.int64), "nn": np.asarray(e.nn, dtype=np.int64),
        "cpn": cpn, "mpn": mpn, "gpn": gpn, "jgt": jgt, "user": users.astype(np.int64),
        "ent_off": ent_off, "order": np.argsort(sub, kind="stable").astype(np.int64),
        "reject": reject, "init_reason": init,
        "ejob": ejob, "epart": epart, "erank": erank, "etl": _time_limits(e, ejob, epart),
        "eshape": eshape.astype(np.int64), "estatic": estatic, "eexcl": eexcl,
        "ereq": ereq, "n_req": int(ereq.max()) + 1 if len(ereq) else 0,
        "sp": shapes[:, 0].copy(), "sc": shapes[:, 1].copy(), "sm": shapes[:, 2].copy(),
        "sg": shapes[:, 3].copy(), "sgt": shapes[:, 4].copy(), "sx": shapes[:, 5].copy(),
        "limits": limits, "lishape": lishape.astype(np.int64), "li_s": jshape[li_first].astype(np.int64),
        "li_n": np.asarray(e.nn, dtype=np.int64)[li_first] if len(li_first) else li_first,
        "win0": e.window[0], "win1": e.window[1], "priority": _priority(e, prio),
        "preempt": _preempt(e, reasons.setdefault("BeginTime", len(reasons))),
    }
    a["R"] = len(reasons)           # the kernel keeps reason codes in int16
    assert a["R"] < 1 << 15
    names = [""] * len(reasons)
    for name, code in reasons.items():
        names[code] = name
    a["rlimit"] = np.array([name.startswith(LIMIT_REASON_PREFIXES) for name in names], dtype=np.int64)
    return a, names


def _priority(e: "Engine", fixed: np.ndarray) -> dict:
    """EnginePriority for the kernel: the fixed factors, the weights, and the fair-share state."""
    pr, cfg = e.priority, e.priority.cfg
    return {
        "dynamic": bool(pr.dynamic), "multifactor": cfg.multifactor,
        "fairshare": {**pr.fairshare.flat(), **pr.billing(e)} if pr.fairshare is not None else None,
        "initial": fixed if not pr.dynamic else np.zeros(e.n, dtype=np.int64),
        "static": pr.calc.static, "assoc": np.asarray(pr.assoc, dtype=np.int64),
        "fs_factor": pr.calc.fs_factor, "w_age": float(cfg.PriorityWeightAge),
        "max_age": float(cfg.PriorityMaxAge_s), "w_fs": float(cfg.PriorityWeightFairshare), "period": pr.period,
    }


def _preempt(e: "Engine", begin_code: int) -> dict:
    """EnginePreemption's policy arrays (the kernel moves them as PreemptPolicy.place does)."""
    pe, pol = e.preempt, e.preempt.policy
    nq = pol.qos_preempts.shape[0]
    as_i64 = partial(np.asarray, dtype=np.int64)
    return {
        "on": bool(pe.enabled), "kind": {"preempt/partition_prio": 1, "preempt/qos": 2}.get(pol.kind, 0),
        "nq": nq, "r_begin": begin_code, "rank": as_i64(pol.rank), "tier": as_i64(pol.tier),
        "mode": as_i64(pol.mode), "grace": as_i64(pol.grace), "exempt": as_i64(pol.exempt),
        "qos": as_i64(pol.qos) % nq, "qmat": as_i64(pol.qos_preempts).ravel(),
        "part_tier": as_i64(pol.part_tier), "part_mode": as_i64(pol.part_mode), "part_grace": as_i64(pol.part_grace),
        "could": as_i64(pe.could_preempt), "ckpt": as_i64(pe.ckpt), "runtime": as_i64(pe.runtime),
    }


def _outputs(e: "Engine", k, a: dict, reasons: list[str]) -> None:
    """The kernel's arrays as the engine's per-job state (arrays where job_columns takes them)."""
    n = e.n
    e.state = k.state_a
    e.start_t = k.start_a
    e.end_t = k.end_a
    ran = k.ran_a
    e.ran_part = np.where(ran >= 0, a["epart"][np.maximum(ran, 0)] if len(a["epart"]) else -1, -1)
    e.alloc_flat = (k.alloc_off_a[:n], k.alloc_nodes_a)
    e.alloc_cpus = k.acpu_a
    e.alloc_gpus = k.agpu_a
    e.limit_used = k.limit_a
    e.end_state = np.array(END_STATES, dtype=object)[k.endst_a]
    e.started_by = np.array(STARTED_BY, dtype=object)[k.by_a]
    e.reason = np.array(reasons, dtype=object)[k.reason_a]
    e.reason_t = k.reason_t_a
    acc = k.acc_a[: len(reasons) * n].reshape(len(reasons), n)
    e.reason_acc = {reasons[c]: acc[c].copy() for c in np.flatnonzero(k.used_a).tolist()}
    e.t_end = k.t_end
    e.stalled = k.stalled
    e.passes_main, e.passes_bf = k.passes_main, k.passes_bf
    e.li_gpu_s = k.li_gpu_s
    e.eligible = k.elig_a
    e.preempt_count = k.preempt_a
    e.lost_gpu_s = k.lost_a[:n]
    e.preempt.segments = k.segments
