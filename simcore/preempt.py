"""Preemption policy: who may preempt whom, in which order, how, and what work is lost.

Why separate from the engine: these are pure decisions on per-job arrays (tier, QOS, start time);
the engine only asks "which running jobs may this pending job preempt, best first" and applies the
answer (keep resources until now + GraceTime, then CANCEL or REQUEUE).

Semantics (Slurm 22.05 src/slurmctld/preempt.c and the preempt plugins, preempt.html):
- PreemptType=preempt/partition_prio: a job may preempt running jobs whose partition has a strictly
  lower PriorityTier (equal tiers never preempt). preempt/qos: a job may preempt jobs whose QOS is in
  its QOS's `Preempt` list. preempt/none: never.
- The preemptee's PreemptMode decides what happens (partition PreemptMode for partition_prio, QOS
  PreemptMode for qos; empty or CLUSTER = the global [scheduler] PreemptMode). OFF = not preemptable.
  Supported modes: OFF, CANCEL, REQUEUE (SUSPEND/GANG need gang scheduling, not modelled).
- PreemptExemptTime (global, or the preemptee QOS's): a job that has run less than this is exempt.
- GraceTime (preemptee's partition for partition_prio, its QOS for qos): the job keeps its resources
  until now + GraceTime, then is cancelled or requeued.
- Candidate order: Slurm sorts candidates by (tier or QOS priority) << 16 + node count, ascending:
  lowest tier first, then fewest nodes. Slurm's sort is not stable; ties here go to the most
  recently started job first (the cheapest loss), then the lower job number (as observed on Slurm
  22.05, tests/fidelity preempt_requeue).
- REQUEUE: the job is pending again at the end of the grace period and becomes eligible 120 s later
  (REQUEUE_HOLD_S, reason BeginTime), keeps its id, and restarts from its last checkpoint: with a
  checkpoint interval c > 0, progress p is saved as floor(p / c) * c; c = 0 restarts from scratch.
  Work since the last checkpoint is lost (lost GPU-hours). CANCEL loses the same work and the job
  never returns.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simcore.codes import factorize
from simcore.errors import ConfigError

if TYPE_CHECKING:
    from simcore.engine import Engine

REQUEUE_HOLD_S = 120
PREEMPT_TYPES = ("preempt/none", "preempt/partition_prio", "preempt/qos")
OFF, CANCEL, REQUEUE = 0, 1, 2
_MODES = {"OFF": OFF, "CANCEL": CANCEL, "REQUEUE": REQUEUE}


def _mode(value: object, key: str, inherit: int | None) -> int | None:
    """A PreemptMode value; "" / CLUSTER returns `inherit`."""
    text = str(value or "").strip().upper()
    if text in ("", "CLUSTER"):
        return inherit
    if text not in _MODES:
        raise ConfigError(f"{key}: PreemptMode {value!r} is not supported; allowed: OFF, CANCEL, REQUEUE")
    return _MODES[text]


@dataclass(frozen=True)
class PreemptPolicy:
    """Per-job preemption attributes (arrays indexed by job number) and the QOS preempt matrix.

    Under partition_prio a job's tier, mode and grace are those of the partition it is in: the one
    it runs in as a preemptee, the one it is being tried in as a preemptor. `build` starts every job
    in its first listed partition; `place` moves a job submitted to several partitions (the per-job
    arrays are updated in place, which is why they are arrays and not tuples).
    """

    kind: str
    rank: np.ndarray          # tier (partition_prio) or QOS priority (qos): candidate sort key
    tier: np.ndarray          # partition PriorityTier of each job
    qos: np.ndarray           # QOS index of each job (-1 = none, the last row of qos_preempts)
    qos_preempts: np.ndarray  # bool [preemptor QOS, preemptee QOS]
    mode: np.ndarray          # int8 OFF/CANCEL/REQUEUE as a preemptee
    grace: np.ndarray         # int64 seconds as a preemptee
    exempt: np.ndarray        # int64 PreemptExemptTime seconds as a preemptee
    part_tier: np.ndarray     # per partition: PriorityTier
    part_mode: np.ndarray     # per partition: PreemptMode (inherited from the global one when unset)
    part_grace: np.ndarray    # per partition: GraceTime seconds

    @property
    def enabled(self) -> bool:
        if self.kind == "preempt/none":
            return False
        if self.kind == "preempt/partition_prio":
            return bool((self.part_mode != OFF).any())
        return bool((self.mode != OFF).any())

    def place(self, j: int, p: int) -> None:
        """Job j is in partition p (tried there as a preemptor, or running there)."""
        if self.kind == "preempt/partition_prio":
            self.tier[j] = self.rank[j] = self.part_tier[p]
            self.mode[j] = self.part_mode[p]
            self.grace[j] = self.part_grace[p]

    @classmethod
    def build(
        cls,
        *,
        preempt_type: str,
        preempt_mode: str,
        preempt_exempt_time: int,
        partitions: Sequence[tuple[str, int, str, int]],
        qos: Mapping[str, Mapping[str, object]],
        job_partition: np.ndarray,
        job_qos: Sequence[str],
        source: str = "<scenario>",
    ) -> "PreemptPolicy":
        """`partitions`: (name, PriorityTier, PreemptMode, GraceTime s) in index order;
        `qos`: raw [qos.<name>] tables; `job_partition`: each job's partition index;
        `job_qos`: each job's QOS name ("" = none)."""
        if preempt_type not in PREEMPT_TYPES:
            raise ConfigError(f"{source}: scheduler.PreemptType {preempt_type!r} is not allowed; allowed: {', '.join(PREEMPT_TYPES)}")
        global_mode = _mode(preempt_mode, f"{source}: scheduler.PreemptMode", OFF)
        if preempt_type != "preempt/none" and global_mode == OFF:
            raise ConfigError(
                f"{source}: scheduler.PreemptMode: OFF is only compatible with PreemptType=preempt/none "
                f"(slurm.conf(5)); with {preempt_type} set CANCEL or REQUEUE"
            )
        n = len(job_partition)
        job_partition = np.asarray(job_partition, dtype=np.int64)
        qos_names = sorted(qos)
        qos_index = {name: i for i, name in enumerate(qos_names)}
        distinct, code = factorize(job_qos)
        jq = np.array([qos_index.get(q, -1) if q else -1 for q in distinct], dtype=np.int64)[code]
        part_tier = np.array([p[1] for p in partitions], dtype=np.int64)
        tier = part_tier[job_partition]
        # One extra slot at index -1 stands for "no QOS" so job arrays index without masking.
        nq = len(qos_names) + 1
        matrix = np.zeros((nq, nq), dtype=bool)
        q_prio = np.zeros(nq, dtype=np.int64)
        q_mode = np.full(nq, global_mode, dtype=np.int8)
        q_grace = np.zeros(nq, dtype=np.int64)
        q_exempt = np.full(nq, -1, dtype=np.int64)
        for name, table in qos.items():
            i = qos_index[name]
            where = f"{source}: qos.{name}"
            q_prio[i] = int(table.get("Priority", 0) or 0)
            for target in str(table.get("Preempt", "") or "").split(","):
                target = target.strip().lstrip("+")
                if not target:
                    continue
                if target not in qos_index:
                    raise ConfigError(f"{where}.Preempt: {target!r} is not a [qos.<name>] table (known: {', '.join(qos_names)})")
                matrix[i, qos_index[target]] = True
            q_mode[i] = _mode(table.get("PreemptMode", ""), f"{where}.PreemptMode", global_mode)
            q_grace[i] = _seconds(table.get("GraceTime", 0), f"{where}.GraceTime")
            if "PreemptExemptTime" in table:
                q_exempt[i] = _seconds(table["PreemptExemptTime"], f"{where}.PreemptExemptTime")
        exempt = np.where(q_exempt[jq] >= 0, q_exempt[jq], int(preempt_exempt_time)).astype(np.int64)
        part_mode = np.array(
            [_mode(p[2], f"{source}: partitions.{p[0]}.PreemptMode", global_mode) for p in partitions], dtype=np.int8
        )
        part_grace = np.array([p[3] for p in partitions], dtype=np.int64)
        if preempt_type == "preempt/qos":
            rank, mode, grace = q_prio[jq], q_mode[jq], q_grace[jq]
        else:
            rank, mode, grace = tier.copy(), part_mode[job_partition], part_grace[job_partition]
        if preempt_type == "preempt/none":
            mode = np.zeros(n, dtype=np.int8)
        return cls(preempt_type, rank, tier, jq, matrix, mode, grace.astype(np.int64), exempt,
                   part_tier, part_mode, part_grace)

    def can_preempt(self, preemptor: int, preemptees: np.ndarray) -> np.ndarray:
        """Which of `preemptees` (running job numbers) `preemptor` may preempt, ignoring exempt time."""
        preemptees = np.asarray(preemptees, dtype=np.int64)
        ok = self.mode[preemptees] != OFF
        if self.kind == "preempt/partition_prio":
            return ok & (self.tier[preemptees] < self.tier[preemptor])
        if self.kind == "preempt/qos":
            return ok & self.qos_preempts[self.qos[preemptor], self.qos[preemptees]]
        return np.zeros(len(preemptees), dtype=bool)

    def candidates(self, preemptor: int, running: Sequence[int], start: Sequence[int], nodes: Sequence[int],
                   now: float) -> tuple[np.ndarray, float]:
        """Running jobs `preemptor` may preempt now, in the order they should be tried, and the
        earliest time an exempt one stops being exempt (inf if none).

        `start` and `nodes` are aligned with `running` (start of the current run, node count).
        """
        running = np.asarray(running, dtype=np.int64)
        start = np.asarray(start, dtype=np.int64)
        ok = self.can_preempt(preemptor, running)
        running, start, nodes = running[ok], start[ok], np.asarray(nodes, dtype=np.int64)[ok]
        free_at = start + self.exempt[running]
        exempt = free_at > now
        wake = float(free_at[exempt].min()) if exempt.any() else float("inf")
        cand, start, nodes = running[~exempt], start[~exempt], nodes[~exempt]
        order = np.lexsort((cand, -start, np.minimum(nodes, 0xFFFF), self.rank[cand]))
        return cand[order], wake


def _seconds(value: object, key: str) -> int:
    from simcore.units import parse_duration

    return parse_duration(value, key, bare="s") or 0


def saved_progress(progress_s: np.ndarray | float, checkpoint_s: np.ndarray | float) -> np.ndarray | float:
    """Progress kept after an interruption: the last multiple of the checkpoint interval (0 if none)."""
    p = np.asarray(progress_s, dtype=np.int64)
    c = np.asarray(checkpoint_s, dtype=np.int64)
    out = np.where(c > 0, (p // np.maximum(c, 1)) * c, 0)
    return out if out.ndim else int(out)


EV_PREEMPT, EV_ELIGIBLE = 2, 3   # heap event kinds after the engine's EV_END (0) and EV_OVERRUN (1)


class EnginePreemption:
    """Preemption wired into the engine's main scheduler.

    When a pending job finds no resources in a partition, `attempt` walks its candidates in order,
    counting the resources of jobs already being preempted (in their grace time) and of each
    candidate as free, until the job would fit; the candidates on the nodes it would get are then
    signalled. They keep their resources until now + GraceTime (`release`), then are cancelled or
    requeued; the preemptor stays pending (Resources) and starts at the pass that follows. A job
    signalled once is not signalled again; one that ends by itself during its grace time simply ends.
    """

    def __init__(self, engine: "Engine") -> None:
        e = engine
        sc, J = e.sc, e.jobs
        sp = sc.scheduler
        self.e = e
        first = e.first_part
        self.policy = PreemptPolicy.build(
            preempt_type=sp.preempt_type, preempt_mode=sp.preempt_mode,
            preempt_exempt_time=sp.preempt_exempt_time,
            partitions=[(p.name, p.priority_tier, p.preempt_mode, p.grace_time) for p in sc.partitions],
            qos={name: q.table for name, q in sc.qos.items()}, job_partition=np.asarray(first, dtype=np.int64),
            job_qos=e.limits.job_qos,
            source=sc.source,
        )
        self.enabled = self.policy.enabled
        self.could_preempt = self._could_preempt().tolist()
        self.ckpt = J["checkpoint_s"].tolist()
        self.runtime = J["runtime"].tolist()
        self.saved = [0] * len(J)               # progress kept by checkpoints (s)
        self.signalled: dict[int, int] = {}     # job -> release time
        self.victims: set[int] = set()          # running jobs with a PreemptMode (not OFF)
        self.changes = 0                        # starts, ends and signals so far (see attempt)
        self.futile: dict[int, tuple[int, int, float]] = {}   # partition -> (job, changes, wake)
        self.stale: set[int] = set()            # heap seqs of end/overrun events of preempted runs
        self.wakeups: set[int] = set()          # times already pushed by _wake
        self.segments: list[tuple[int, int, int, int]] = []   # preempted runs: start, end, GPUs, CPUs
        self.end_seq = [-1] * len(J)
        self.over_seq = [-1] * len(J)

    def _could_preempt(self) -> np.ndarray:
        """Per job: whether any job at all could be its preemptee (cheap filter before `attempt`)."""
        pol = self.policy
        n = len(pol.mode)
        if not self.enabled:
            return np.zeros(n, dtype=bool)
        victims = pol.mode != OFF
        if pol.kind == "preempt/partition_prio":
            # a job may be tried in any of its partitions: its highest tier against the lowest
            # tier any job could be preempted in
            lowest = pol.part_tier[pol.part_mode != OFF].min()
            top = np.array([max(pol.part_tier[q] for q in parts) for parts in self.e.jparts_distinct],
                           dtype=np.int64)[self.e.jpart_code]
            return top > lowest
        victim_qos = np.zeros(pol.qos_preempts.shape[0], dtype=bool)
        victim_qos[pol.qos[victims]] = True
        return (pol.qos_preempts & victim_qos).any(axis=1)[pol.qos]

    # ----- choosing -----
    def attempt(self, j: int, p: int, now: int) -> None:
        """Job j found no resources in partition p: signal the preemptees that would make room.

        An attempt that signalled nobody is not repeated for the same job in the same partition
        until a start, an end or a signal (all it depends on), or until the exempt candidate it saw
        first stops being exempt: passes with nothing new ask the same question again and again."""
        if not self.could_preempt[j]:
            return
        self.policy.place(j, p)
        if not self.victims:
            return
        last = self.futile.get(p)
        if last is not None and last[0] == j and last[1] == self.changes and now < last[2]:
            return
        before = self.changes
        wake = self._attempt(j, p, now)
        if self.changes == before:
            self.futile[p] = (j, before, wake)

    def _attempt(self, j: int, p: int, now: int) -> float:
        """`attempt` proper; returns when the first exempt candidate stops being exempt (inf: none)."""
        e, nd = self.e, self.e.nodes
        members = e.pnodes[p]
        # Only running jobs with a PreemptMode can be candidates (`candidates` drops the others
        # before anything else, and its order is total, so the pool's order does not matter).
        signalled, alloc, in_p = self.signalled, e.alloc, e.pnode_set[p]
        pool = [v for v in self.victims if v not in signalled and not in_p.isdisjoint(alloc[v])]
        if not pool:
            return float("inf")
        starts = [e.start_t[v] for v in pool]
        widths = [e.nn[v] for v in pool]
        cands_arr, wake = self.policy.candidates(j, pool, starts, widths, now)
        if wake < float("inf"):                 # look again when the first one stops being exempt
            self._wake(int(wake))
        if not len(cands_arr):
            return wake
        cands = cands_arr.tolist()
        shape = (e.nn[j], e.cpn[j], e.mpn[j], e.gpn[j], e.gt[j], e.excl(j, p))
        lend = self._lend
        lent = 0                                # cands[:lent] are counted as free

        def lend_prefix(k: int) -> list[int] | None:
            nonlocal lent
            for v in cands[lent:k]:
                lend(v, +1)
            for v in cands[k:lent]:
                lend(v, -1)
            lent = k
            return nd.select(members, *shape)

        for v in self.signalled:                # already on their way out: count them as free
            lend(v, +1)
        try:
            if nd.select(members, *shape) is not None:
                return wake                     # the job waits for those already signalled
            # The shortest prefix of `cands` that makes the job fit, as walking them one by one
            # would find it: lending more only frees more, so fitting is monotone in the prefix
            # length and a bisection finds it (all of them first: usually even that is not enough).
            lo, hi = 0, len(cands)              # prefix lo does not fit, prefix hi does
            chosen = lend_prefix(hi)
            if chosen is None:
                return wake
            while hi - lo > 1:
                mid = (lo + hi) // 2
                sel = lend_prefix(mid)
                if sel is None:
                    lo = mid
                else:
                    hi, chosen = mid, sel
        finally:
            for v in self.signalled:
                lend(v, -1)
            for v in cands[:lent]:
                lend(v, -1)
        nodes = set(chosen)
        for v in cands[:hi]:
            if nodes.intersection(e.alloc[v]):
                self._signal(v, now)
        return wake

    def _lend(self, v: int, sign: int) -> None:
        """Temporarily count running job v's resources as free (sign=+1) or give them back (-1)."""
        e, nd = self.e, self.e.nodes
        fc, fm, fg, running = nd.free_cpu, nd.free_mem, nd.free_gpu, nd.running
        ex = e.excl(v, e.ran_part[v])
        c, m, g = sign * e.cpn[v], sign * e.mpn[v], sign * e.gpn[v]
        for i in e.alloc[v]:
            if ex:
                c, m, g = sign * nd.cpus[i], sign * nd.mem[i], sign * nd.gpus[i]
            fc[i] += c
            fm[i] += m
            fg[i] += g
            if sign > 0:                        # an exclusive request needs nodes with no job
                running[i].discard(v)
            else:
                running[i].add(v)

    def _wake(self, t: int) -> None:
        """Make the schedulers run at t (a candidate's PreemptExemptTime runs out then)."""
        if t not in self.wakeups:
            self.wakeups.add(t)
            e = self.e
            e.seq += 1
            heapq.heappush(e.heap, (t, EV_ELIGIBLE, e.seq, -1))

    def _signal(self, v: int, now: int) -> None:
        e = self.e
        release = now + int(self.policy.grace[v])
        if release >= e.end_t[v]:
            return                              # it ends by itself within its grace time
        self.signalled[v] = release
        self.changes += 1
        e.preempt_count[v] += 1
        e.seq += 1
        heapq.heappush(e.heap, (release, EV_PREEMPT, e.seq, v))

    def preempted_usage(self, w0: float, w1: float) -> tuple[float, float]:
        """GPU- and CPU-seconds inside [w0, w1] held by runs that were later preempted (the per-job
        output only has each job's last run)."""
        g = c = 0.0
        for start, end, gpus, cpus in self.segments:
            d = min(end, w1) - max(start, w0)
            if d > 0:
                g += d * gpus
                c += d * cpus
        return g, c

    # ----- events -----
    def started(self, j: int, end_seq: int, over_seq: int) -> None:
        """Job j started (in partition e.ran_part[j]); the engine pushed its end (and overrun) events
        with these heap sequence numbers."""
        self.policy.place(j, self.e.ran_part[j])
        self.end_seq[j] = end_seq
        self.over_seq[j] = over_seq
        if self.policy.mode[j] != OFF:
            self.victims.add(j)
        self.changes += 1

    def ended(self, j: int) -> None:
        """Job j's run is over (it ended, or was cancelled or requeued)."""
        self.victims.discard(j)
        self.changes += 1

    def release(self, v: int, now: int) -> bool:
        """Grace time over: cancel or requeue job v, counting its work since the last checkpoint as lost.
        Returns whether that finished the job (cancelled)."""
        from simcore.engine import PENDING, RUNNING

        e = self.e
        self.changes += 1                       # `signalled` changes
        if self.signalled.pop(v, None) != now or e.state[v] != RUNNING:
            return False

        self.segments.append((e.start_t[v], now, e.alloc_gpus[v], e.alloc_cpus[v]))
        progress = self.saved[v] + (now - e.start_t[v])
        kept = int(saved_progress(progress, self.ckpt[v]))
        e.lost_gpu_s[v] += (progress - kept) * e.alloc_gpus[v]
        self.stale.add(self.end_seq[v])
        if self.over_seq[v] >= 0:
            self.stale.add(self.over_seq[v])
        e.end_t[v] = now
        if self.policy.mode[v] == CANCEL:
            e.end_state[v] = "PREEMPTED"
            e._end(v, now)
            return True
        # REQUEUE: free the resources like an end, without releasing dependents or submit limits.
        self.saved[v] = kept
        deps = e.dependents.pop(v, None)
        e.limits.requeued(v)
        e._end(v, now)
        if deps is not None:
            e.dependents[v] = deps
        e.state[v] = PENDING
        e.end_state[v] = ""
        e.rt[v] = self.runtime[v] - kept
        e.eligible[v] = now + REQUEUE_HOLD_S
        e._set_reason(v, "BeginTime", now)
        e.seq += 1
        heapq.heappush(e.heap, (now + REQUEUE_HOLD_S, EV_ELIGIBLE, e.seq, v))
        return False

    def eligible(self, v: int, now: int) -> None:
        """The 120 s hold after a requeue is over: the job queues again, keeping its id and submit
        time (v < 0: a wake-up for the schedulers only)."""
        from simcore.engine import FUTURE

        e = self.e
        if v < 0:                               # a wake-up from _wake
            self.wakeups.discard(now)
            e.dirty_main = e.dirty_bf = True
            return
        e._set_reason(v, "Priority", now)       # closes the BeginTime interval
        e.state[v] = FUTURE
        e._submit(v, now)
        e.dirty_main = e.dirty_bf = True
