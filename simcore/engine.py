"""The event-driven engine: submits, ends, the main scheduler and the backfill passes.

Design for a million jobs (docs/simulator.md):
- jobs live column-wise in Python lists indexed by job number (the JobTable row);
- submissions are a sorted array walked with a cursor; only job ends (and overrun marks) go into
  one heap of (time, kind, seq, job), so the heap holds running jobs, not the whole workload;
- periodic passes (sched_interval, bf_interval, from controller start at t=0) are computed, not
  pushed, and skipped when nothing changed since the same kind of pass last ran: a skipped pass
  provably starts nothing (tests/test_sim_skip.py checks identical output with skipping off);
- a failed resource test is remembered until resources are freed (an "epoch" bumped at each job
  end): with fewer free resources the job cannot fit either, so the answer is reused;
- limit answers are remembered per limits key the same way: "blocked" until a job ends or a limits
  tick, "not blocked" until a job starts or the next tick; the limit-idle rate is recomputed only
  after a start, an end, a tick or a change of the limit-held jobs.

Order at one timestamp: job ends, then submissions, then a limits tick, then the main scheduler
(a full pass at sched_interval ticks, else a default_queue_depth pass if anything happened), then
backfill at bf_interval ticks.
"""

from __future__ import annotations

import bisect
import heapq
from typing import TYPE_CHECKING

import numpy as np

from simcore.codes import factorize, groups
from simcore.errors import WorkloadError
from simcore.hostlist import collect_hostlist
from simcore.limits import Limits
from simcore.nodes import Nodes
from simcore.preempt import EV_ELIGIBLE, EV_PREEMPT, EnginePreemption
from simcore.priority import EnginePriority
from simcore.stall import StallGuard, job_bounds

if TYPE_CHECKING:
    from simcore.config import Scenario
    from simcore.jobs import JobTable

# Job states.
FUTURE, PENDING, RUNNING, DONE, REJECTED = 0, 1, 2, 3, 4
# End states (sacct spelling).
COMPLETED, TIMEOUT = "COMPLETED", "TIMEOUT"
# Who started a job (sacct Flags SchedMain / SchedBackfill).
MAIN, BACKFILL = "main", "backfill"
# Heap event kinds; lower runs first at equal times.
EV_END, EV_OVERRUN = 0, 1

NEVER = 1 << 62                 # "no such time"
UNLIMITED_TIME = 365 * 86400    # planning horizon for a job whose limit is UNLIMITED
TIMEOUT_CHECK = 30              # slurmctld enforces time limits in a 30 s periodic check
MAX_FIT_SHAPES = 256           # request shapes whose fitting nodes _fitting keeps
LIMIT_REASON_PREFIXES = ("QOS", "Assoc", "Max")   # QOS*, Assoc*, Max*PerAccount (simcore.limits)


class Engine:
    """One simulation run. `run()` fills the per-job state; `job_columns()` returns it."""

    def __init__(self, scenario: "Scenario", jobs: "JobTable", skip_unchanged: bool = True) -> None:
        self.sc = scenario
        self.sp = scenario.scheduler
        self.jobs = jobs
        self.skip_unchanged = skip_unchanged
        self.nodes = Nodes(scenario)
        self._prepare_partitions()
        self.jparts = self._job_partitions()
        self.limits = Limits(scenario, jobs, partition=self.first_part)
        self.limit_keys = self.limits.keys if self.limits.active else None   # None: no limit to check
        self._prepare_jobs()
        self.priority = EnginePriority(self, self.limits.tree, self.limits.assoc)
        self.preempt = EnginePreemption(self)

    # ------------------------------------------------------------ preparation

    def _prepare_partitions(self) -> None:
        nd = self.nodes
        parts = self.sc.partitions
        self.pname = [p.name for p in parts]
        self.pindex = {p.name: k for k, p in enumerate(parts)}
        self.pnodes = [nd.order([nd.index[n] for n in p.nodes]) for p in parts]
        self.pnode_set = [frozenset(x) for x in self.pnodes]
        self.ptier = [p.priority_tier for p in parts]
        self.pexcl = [p.exclusive for p in parts]
        self.pmaxt = [p.max_time for p in parts]
        self.pdeft = [p.default_time for p in parts]
        self.overlaps = [[q for q in range(len(parts)) if self.pnode_set[q] & self.pnode_set[p]]
                         for p in range(len(parts))]
        self.default_part = self.pindex[self.sc.default_partition.name]
        self.pmaxtres = []
        for p in parts:
            caps = dict(p.max_tres_per_job)
            if p.qos:
                caps = {**dict(self.sc.qos[p.qos].limits.get("MaxTRESPerJob", {})), **caps}
            self.pmaxtres.append(caps)

    def _prepare_jobs(self) -> None:
        J = self.jobs
        n = len(J)
        self.n = n
        self.sub = J["submit"].tolist()
        self.rt = J["runtime"].tolist()
        self.tl = J["time_limit"].tolist()
        self.nn = J["nodes"].tolist()
        cpus, gpus, nodes = J["cpus"], J["gpus"], J["nodes"]
        self.cpn = np.maximum(1, -(-cpus // nodes)).tolist()
        self.gpn = (-(-gpus // nodes)).tolist()
        self.mpn = J["mem_mb"].tolist()
        self.gt = J["gpu_type"].tolist()
        self.jexcl = J["exclusive"].tolist()
        self.account = J["account"].tolist()
        self.prio = [0] * n
        # Request shape per job (first partition, per-node CPUs/MB/GPUs, type, exclusive, nodes).
        columns = [self.first_part, self.cpn, self.mpn, self.gpn, self.gt, self.jexcl, self.nn]
        rows, shape_of = groups(columns) if n else (np.zeros(0, dtype=np.int64),) * 2
        self.shape_of = shape_of.tolist()
        self.shapes = list(zip(*(np.asarray(c, dtype=object)[rows].tolist() for c in columns)))
        self.fit_key = [shape[:6] for shape in self.shapes]   # what decides which nodes fit
        self._prepare_dependencies()
        self.state = [FUTURE] * n
        self.start_t = [-1] * n
        self.end_t = [-1] * n
        self.ran_part = [-1] * n
        self.alloc = [None] * n
        self.alloc_flat: tuple[np.ndarray, np.ndarray] | None = None   # simcore.kernel's form of alloc
        self.alloc_cpus = [0] * n
        self.alloc_gpus = [0] * n
        self.limit_used = [0] * n
        self.end_state = [""] * n
        self.started_by = [""] * n
        self.reason = ["None"] * n
        self.reason_t = [0] * n
        self.reason_acc: dict[str, np.ndarray] = {}
        self.preempt_count = np.zeros(n, dtype=np.int64)
        self.lost_gpu_s = np.zeros(n, dtype=np.float64)

    def _job_partitions(self) -> list[list[int]]:
        """Partition indices per job from the comma list ("" = the default partition); the distinct
        lists are `jparts_distinct`, each job's is `jpart_code` into them, its first `first_part`."""
        texts, self.jpart_code = factorize(self.jobs["partition"])
        self.jparts_distinct = []
        for c, text in enumerate(texts):
            parts = []
            for name in (s.strip() for s in text.split(",")) if text else ():
                if name not in self.pindex:
                    j = int(np.argmax(self.jpart_code == c))
                    raise WorkloadError(
                        f"{self.jobs.source}: job {self.jobs['job_id'][j]} names partition {name!r}; "
                        f"the scenario defines: {', '.join(self.pname)}")
                parts.append(self.pindex[name])
            self.jparts_distinct.append(parts or [self.default_part])
        distinct = self.jparts_distinct
        self.first_part = np.array([parts[0] for parts in distinct], dtype=np.int64)[self.jpart_code]
        return [distinct[c] for c in self.jpart_code.tolist()]

    def _prepare_dependencies(self) -> None:
        """afterok/afterany/afternotok/singleton as counts of unresolved conditions per job."""
        n = self.n
        self.dep_wait = [0] * n
        self.dep_never = [False] * n
        self.eligible = list(self.sub)
        self.dependents: dict[int, list[tuple[int, str]]] = {}
        specs = self.jobs["dependency"].tolist()
        if not any(specs):
            return
        id_index = {jid: k for k, jid in enumerate(self.jobs["job_id"].tolist())}
        order = sorted(range(n), key=lambda k: (self.sub[k], k))
        rank = {k: r for r, k in enumerate(order)}
        names = self.jobs["name"].tolist()
        users = self.jobs["user"].tolist()
        groups: dict[tuple[str, str], list[int]] = {}
        for k in order:
            groups.setdefault((users[k], names[k]), []).append(k)
        for j, spec in enumerate(specs):
            if not spec:
                continue
            for cond in spec.split(","):
                cond = cond.strip()
                if cond == "singleton":
                    for d in self._singleton_predecessors(j, groups[(users[j], names[j])], rank, specs):
                        self._add_dep(j, d, "afterany")
                    continue
                kind, _, rest = cond.partition(":")
                if kind not in ("afterok", "afterany", "afternotok") or not rest:
                    raise WorkloadError(
                        f"{self.jobs.source}: job {self.jobs['job_id'][j]} dependency {cond!r}; "
                        "allowed: afterok:ID[:ID...], afterany:ID[:ID...], afternotok:ID[:ID...], singleton")
                for jid in rest.split(":"):
                    d = id_index.get(jid.split("+")[0])
                    if d is not None and d != j:   # unknown ids: treated as satisfied (docs/simulator.md)
                        self._add_dep(j, d, kind)

    @staticmethod
    def _singleton_predecessors(j: int, group: list[int], rank: dict[int, int], specs: list[str]) -> list[int]:
        """Earlier jobs of the same (user, name) back to and including the previous singleton."""
        out = []
        for k in reversed(group[: group.index(j)]):
            out.append(k)
            if "singleton" in specs[k]:
                break
        return out

    def _add_dep(self, j: int, d: int, kind: str) -> None:
        self.dep_wait[j] += 1
        self.dependents.setdefault(d, []).append((j, kind))

    # ------------------------------------------------------------ job helpers

    def queue_key(self, j: int, k: int, p: int) -> tuple:
        """Order jobs are considered in (Slurm's sort_job_queue2): PriorityTier desc, priority desc,
        submit, job number; `k` orders a multi-partition job's entries as it listed them."""
        return (-self.ptier[p], -self.prio[j], self.sub[j], j, k, p)

    def time_limit(self, j: int, p: int) -> int:
        """The job's limit, else the partition's DefaultTime, else its MaxTime (UNLIMITED: a year)."""
        t = self.tl[j]
        if t > 0:
            return t
        d = self.pdeft[p]
        if d is not None:
            return d
        m = self.pmaxt[p]
        return m if m is not None else UNLIMITED_TIME

    def excl(self, j: int, p: int) -> bool:
        return self.jexcl[j] or self.pexcl[p]

    def _static_reason(self, j: int, p: int) -> tuple[str | None, bool]:
        """(reason, is_limit) for a partition the job may never use now: state or a size/time limit."""
        part = self.sc.partitions[p]
        if part.state == "DOWN":
            return "PartitionDown", False
        if part.state == "INACTIVE":
            return "PartitionInactive", False
        mt = self.pmaxt[p]
        if mt is not None and self.time_limit(j, p) > mt:
            return "PartitionTimeLimit", True
        if part.max_nodes is not None and self.nn[j] > part.max_nodes:
            return "PartitionNodeLimit", True
        caps = self.pmaxtres[p]
        if caps:
            gpus = self.gpn[j] * self.nn[j]
            if "gres/gpu" in caps and gpus > caps["gres/gpu"]:
                return "QOSMaxGRESPerJob", True
            if "cpu" in caps and self.cpn[j] * self.nn[j] > caps["cpu"]:
                return "QOSMaxCpuPerJobLimit", True
            if "node" in caps and self.nn[j] > caps["node"]:
                return "QOSMaxNodePerJobLimit", True
        return None, False

    def _admissible(self, j: int, p: int) -> bool:
        """Slurm refuses a partition at submit if the account may not use it, it is draining, or
        no set of its nodes could ever hold the job ("Requested node configuration is not available")."""
        part = self.sc.partitions[p]
        if part.allow_accounts is not None and self.account[j] not in part.allow_accounts:
            return False
        if part.state == "DRAIN":
            return False
        nd = self.nodes
        c, m, g, gt = self.cpn[j], self.mpn[j], self.gpn[j], self.gt[j]
        able = 0
        for i in self.pnodes[p]:
            if nd.could_ever_fit(i, c, m, g, gt):
                able += 1
                if able >= self.nn[j]:
                    return True
        return False

    def limit_reason(self, j: int, now: int) -> str | None:
        """limits.blocking_reason, with "blocked" answers cached by limits.keys until a job ends or
        a limits tick (usage only grows meanwhile, so a held job stays held), and "not blocked"
        ones until a job starts or the next limits tick (usage only shrinks meanwhile; the tick
        bound keeps limits' own tick bookkeeping where it would have happened)."""
        keys = self.limit_keys
        if keys is None:
            return None
        key = keys[j]
        r = self.limit_memo.get(key)
        if r is None and self.limit_ok.get(key, -1) <= now:
            limits = self.limits
            tests = limits.tests.get(key) if now < limits.next_tick else None
            if tests is None:
                r = limits.blocking_reason(j, now)
            else:                               # what blocking_reason would do (see main_pass)
                for row, i, need, lim, why in tests:
                    if row[i] + need > lim:
                        r = why
                        break
            if r is not None:
                self.limit_memo[key] = r
                self.li_unmemo -= self.li_keys.get(key, 0)
            else:
                self.limit_ok[key] = limits.next_tick
        return r

    def _set_reason(self, j: int, r: str, now: int) -> None:
        old = self.reason[j]
        if old != r:
            acc = self.reason_acc.get(old)
            if acc is None:
                acc = self.reason_acc[old] = np.zeros(self.n, dtype=np.int64)
            acc[j] += now - self.reason_t[j]
            self.reason[j] = r
            self.reason_t[j] = now
            if r.startswith(LIMIT_REASON_PREFIXES):
                if j not in self.limit_blocked:
                    self.limit_blocked.add(j)
                    self._li_count(j, +1)
                self.li_dirty = True
            elif old.startswith(LIMIT_REASON_PREFIXES):
                if j in self.limit_blocked:
                    self.limit_blocked.discard(j)
                    self._li_count(j, -1)
                self.li_dirty = True

    def _li_count(self, j: int, d: int) -> None:
        """Job j joins (d=+1) or leaves (-1) the limit-blocked jobs: counts per shape and per limits
        key of those asking for GPUs, and how many of them have no memoised limit answer."""
        if not self.gpn[j] or not self.limits.active:
            return
        s, k = self.shape_of[j], self.limits.keys[j]
        count = self.li_count.get(s, 0) + d
        if count:
            self.li_count[s] = count
        else:
            del self.li_count[s]
        self.li_keys[k] = self.li_keys.get(k, 0) + d
        self.li_total += d
        if k not in self.limit_memo:
            self.li_unmemo += d

    # ------------------------------------------------------------ events

    def _admit(self, j: int) -> tuple[list[tuple[int, int, str | None]], bool]:
        """Job j's queue entries (k, partition, static reason or None) and whether the partition
        limits reject it at submit (EnforcePartLimits); simcore.kernel asks this too."""
        entries = []
        limit_fail = 0
        for k, p in enumerate(self.jparts[j]):
            if not self._admissible(j, p):
                continue
            reason, is_limit = self._static_reason(j, p)
            limit_fail += is_limit
            entries.append((k, p, reason))
        enforce = self.sp.enforce_part_limits
        rejected = (not entries or (enforce == "ALL" and limit_fail > 0)
                    or (enforce == "ANY" and limit_fail == len(entries)))
        return entries, rejected

    def _submit(self, j: int, now: int) -> None:
        admitted, rejected_by_part = self._admit(j)
        entries = []
        for k, p, reason in admitted:
            if reason is not None:
                self.static_reason[(j, p)] = reason
            entries.append((k, p))
        if rejected_by_part:
            self.state[j] = REJECTED
            self.end_state[j] = "REJECTED"
            return
        rejected = self.limits.on_submit(j, now)    # MaxSubmitJobs* / GrpSubmitJobs
        if rejected is not None:
            self.state[j] = REJECTED
            self.end_state[j] = "REJECTED"
            self.reason[j] = rejected
            return
        self.state[j] = PENDING
        self.reason_t[j] = now
        # Until a scheduler reaches the job: waiting on a dependency, else behind higher priority.
        if self.dep_wait[j]:
            self.reason[j] = "DependencyNeverSatisfied" if self.dep_never[j] else "Dependency"
        elif all((j, p) in self.static_reason for _, p in entries):
            self.reason[j] = self.static_reason[(j, entries[0][1])]
        else:
            self.reason[j] = "Priority"
        self.n_pending += 1
        self.prio[j] = self.priority.initial(self, j, now)
        keys = []
        for k, p in entries:
            key = self.queue_key(j, k, p)
            bisect.insort(self.queue, key)
            keys.append(key)
            self.part_pending[p] += 1
        self.qkeys[j] = keys
        self.backfill.new_entries.extend(keys)
        self.admitted[j] = tuple(p for _, p in entries)

    def _start(self, j: int, p: int, chosen: list[int], now: int, by: str) -> None:
        ex = self.excl(j, p)
        cpus, gpus = self.nodes.allocate(j, chosen, self.cpn[j], self.mpn[j], self.gpn[j], ex)
        self.alloc[j] = chosen
        self.alloc_cpus[j] = cpus
        self.alloc_gpus[j] = gpus
        self.used_gpus += gpus
        self.used_cpus += cpus
        self.li_dirty = True
        self.limit_ok.clear()
        self.state[j] = RUNNING
        self.n_pending -= 1
        for q in self.admitted[j]:
            self.part_pending[q] -= 1
        self.started_in_pass.append(j)
        self.start_t[j] = now
        self.ran_part[j] = p
        self.started_by[j] = by
        self._set_reason(j, "None", now)
        L = self.time_limit(j, p)
        self.limit_used[j] = L
        run = self.rt[j]
        kill = now + L + self.sp.over_time_limit
        if now + run <= kill:
            end, self.end_state[j] = now + run, COMPLETED
        else:
            kill = -(-kill // TIMEOUT_CHECK) * TIMEOUT_CHECK
            end, self.end_state[j] = kill, TIMEOUT
        self.end_t[j] = end
        self.seq += 1
        heapq.heappush(self.heap, (end, EV_END, self.seq, j))
        end_seq = self.seq
        if end > now + L:     # runs past its planned end: backfill plans differ until it ends
            self.seq += 1
            heapq.heappush(self.heap, (now + L, EV_OVERRUN, self.seq, j))
        self.preempt.started(j, end_seq, self.seq if self.seq != end_seq else -1)
        self.limits.on_start(j, now)
        self.backfill.resumable = False
        self.priority.on_start(self, j, now)
        if by == MAIN:
            self.dirty_bf = True
        else:
            self.dirty_main = True
        self._nodes_changed(chosen)

    def _end(self, j: int, now: int) -> None:
        p = self.ran_part[j]
        chosen = self.alloc[j]
        self.nodes.release(j, chosen, self.cpn[j], self.mpn[j], self.gpn[j], self.excl(j, p))
        self.used_gpus -= self.alloc_gpus[j]
        self.used_cpus -= self.alloc_cpus[j]
        self.li_dirty = True
        self.state[j] = DONE
        if j in self.overran:        # past its time limit (a preemption can end it exactly there)
            self.overran.discard(j)
            self.overrunning -= 1
        self.limits.on_end(j, now)
        self.priority.on_end(self, j, now)
        self.preempt.ended(j)
        self.epoch += 1
        self.fail_memo.clear()
        self.limit_memo.clear()
        self.li_unmemo = self.li_total
        self.backfill.resumable = False
        self.dirty_main = self.dirty_bf = True
        self._nodes_changed(chosen)
        ok = self.end_state[j] == COMPLETED
        for d, kind in self.dependents.get(j, ()):
            satisfied = kind == "afterany" or (kind == "afterok") == ok
            if satisfied:
                self.dep_wait[d] -= 1
                if self.dep_wait[d] == 0:
                    self.eligible[d] = max(self.sub[d], now)
                    if self.state[d] == PENDING:
                        self._set_reason(d, "Priority", now)
            else:
                self.dep_never[d] = True
                if self.state[d] == PENDING:
                    self._set_reason(d, "DependencyNeverSatisfied", now)

    # ------------------------------------------------------------ main scheduler

    def _runnable(self, j: int, p: int, now: int) -> bool:
        """Dependency and static partition checks (Slurm's build_job_queue / job_limits_check)."""
        if self.dep_wait[j]:
            self._set_reason(j, "DependencyNeverSatisfied" if self.dep_never[j] else "Dependency", now)
            return False
        if self.static_reason and (j, p) in self.static_reason:
            self._set_reason(j, self.static_reason[(j, p)], now)
            return False
        return True

    def main_pass(self, now: int, full: bool) -> None:
        """Strict priority order; once a job in partition P cannot start, no later job starts in P
        nor on P's nodes for the rest of the pass (job_scheduler.c: failed_parts, avail_node_bitmap)."""
        self.passes_main += 1
        depth = NEVER if full else self.sp.default_queue_depth
        examined = 0
        blocked_parts: set[int] = set()
        blocked_nodes: set[int] = set()
        tainted: set[int] = set()
        state, memo, epoch, nodes = self.state, self.fail_memo, self.epoch, self.nodes
        reason, dep_wait, set_reason = self.reason, self.dep_wait, self._set_reason
        # limit_reason inlined (most queue entries are limit-blocked jobs answered by the memo)
        lkeys, limits = self.limit_keys, self.limits
        lmemo, lok, ltests, blocking = self.limit_memo, self.limit_ok, limits.tests, limits.blocking_reason
        untimed = now < limits.next_tick         # no limits tick due (next_tick only grows)
        live = sum(1 for c in self.part_pending if c)
        static = bool(self.static_reason)
        pending = PENDING
        for entry in self.queue:
            j, p = entry[3], entry[5]
            if state[j] != pending or ((dep_wait[j] or static) and not self._runnable(j, p, now)):
                continue
            examined += 1
            if examined > depth:
                break
            if p in blocked_parts:
                if len(blocked_parts) >= live:   # every partition with pending jobs is blocked:
                    examined = 0                 # nothing later can start (reasons: docs/simulator.md)
                    break
                if reason[j] in ("None", "Resources"):
                    set_reason(j, "Priority", now)
                continue
            if lkeys is not None:
                k = lkeys[j]
                lr = lmemo.get(k)
                if lr is None and lok.get(k, -1) <= now:
                    # blocking_reason itself when its checks for this key are at hand and no
                    # limits tick is due (then it would do nothing else)
                    tests = ltests.get(k) if untimed else None
                    if tests is None:
                        lr = blocking(j, now)
                        untimed = now < limits.next_tick
                    else:
                        for row, i, need, lim, why in tests:
                            if row[i] + need > lim:
                                lr = why
                                break
                    if lr is not None:
                        lmemo[k] = lr
                        self.li_unmemo -= self.li_keys.get(k, 0)
                    else:
                        lok[k] = limits.next_tick
                if lr is not None:
                    if reason[j] != lr:
                        set_reason(j, lr, now)
                    continue
            chosen = None
            if p in tainted:
                cands = [i for i in self.pnodes[p] if i not in blocked_nodes]
                chosen = nodes.select(cands, self.nn[j], self.cpn[j], self.mpn[j], self.gpn[j], self.gt[j],
                                      self.excl(j, p))
            elif memo.get((j, p)) != epoch:
                chosen = nodes.select(self.pnodes[p], self.nn[j], self.cpn[j], self.mpn[j], self.gpn[j],
                                      self.gt[j], self.excl(j, p))
                if chosen is None:
                    memo[(j, p)] = epoch
            if chosen is None:
                self.preempt.attempt(j, p, now)
                self._set_reason(j, "Resources", now)
                blocked_parts.add(p)
                blocked_nodes |= self.pnode_set[p]
                tainted.update(self.overlaps[p])
                continue
            self._start(j, p, chosen, now, MAIN)
        if examined <= depth:      # a pass cut short by the depth leaves work for the next
            self.dirty_main = False

    # ------------------------------------------------------------ loop

    def run(self) -> None:
        from simcore.backfill import Backfill

        sp = self.sp
        self.queue: list[tuple] = []
        self.qkeys: list[list[tuple]] = [[] for _ in range(self.n)]
        self.started_in_pass: list[int] = []
        self.admitted: list[tuple[int, ...]] = [()] * self.n
        self.part_pending = [0] * len(self.pname)
        self.static_reason: dict[tuple[int, int], str] = {}
        self.fail_memo: dict[tuple[int, int], int] = {}
        self.limit_memo: dict[int, str] = {}
        self.limit_ok: dict[int, float] = {}   # key -> "not blocked" holds until this time
        self.limit_blocked: set[int] = set()
        self.li_dirty = True
        self.li_fits: dict[tuple, tuple[set[int], set[int]]] = {}
        self.li_count: dict[int, int] = {}     # see _li_count
        self.li_keys: dict[int, int] = {}
        self.li_total = self.li_unmemo = 0
        self.heap: list[tuple[int, int, int, int]] = []
        self.seq = 0
        self.epoch = 0
        self.n_pending = 0
        self.used_gpus = self.used_cpus = 0
        self.overrunning = 0
        self.overran: set[int] = set()      # running jobs past their time limit
        self.dirty_main = self.dirty_bf = False
        self.passes_main = self.passes_bf = 0
        self.backfill = Backfill(self)
        self.li_gpu_s = 0.0
        self.li_rate = 0
        self.li_since = 0
        self.stalled = False                # the stall guard stopped the run (simcore.stall)
        guard = StallGuard(job_bounds(self))
        win0, win1 = self.window

        order = sorted(range(self.n), key=lambda k: (self.sub[k], k))
        sub_times = [self.sub[k] for k in order]
        cursor, n = 0, self.n
        si = sp.sched_interval
        bi = sp.bf_interval if sp.backfill else None
        ns = 0
        nb = 0 if bi else NEVER
        heap = self.heap
        now = 0
        while True:
            t_sub = sub_times[cursor] if cursor < n else NEVER
            t_evt = heap[0][0] if heap else NEVER
            t_lim = self.limits.next_change(now) if self.n_pending else None
            t_lim = NEVER if t_lim is None else t_lim
            # Once nothing runs and nothing is left to submit, a pass on the idle cluster has started
            # every job that could ever start (the rest wait on limits that count running work,
            # dependencies or static reasons), so new priorities change nothing: stop ticking.
            t_prio = (self.priority.next_tick(now) if self.n_pending and self.priority.dynamic
                      and (heap or cursor < n) else NEVER)
            te = min(t_sub, t_evt, t_lim, t_prio)
            bf_dirty = bool(bi) and (self.dirty_bf or self.overrunning > 0)
            if te == NEVER and not self.dirty_main and not bf_dirty:
                break
            if self.skip_unchanged or te == NEVER:
                # Nothing can change before the next event or the next pass that must run, so the
                # clean kind(s) of pass jump to their first tick at or after that moment.
                t_real = min(te, ns if self.dirty_main else NEVER, nb if bf_dirty else NEVER)
                if not self.dirty_main and ns < t_real:
                    ns = -(-t_real // si) * si
                if bi and not bf_dirty and nb < t_real:
                    nb = -(-t_real // bi) * bi
            t = now = min(te, ns, nb)
            if guard.stalled(t, cursor == n, self._unfinished):
                self._stop(t)
                break
            happened = progress = False
            while heap and heap[0][0] == t:
                _, kind, seq, j = heapq.heappop(heap)
                if seq in self.preempt.stale:      # end/overrun of a run that was preempted
                    self.preempt.stale.discard(seq)
                    continue
                if kind == EV_PREEMPT:
                    progress = self.preempt.release(j, t) or progress    # cancelled: finished
                    happened = True
                elif kind == EV_ELIGIBLE:
                    self.preempt.eligible(j, t)
                    happened = True
                elif kind == EV_END:
                    self._end(j, t)
                    happened = progress = True
                else:
                    self.overran.add(j)
                    self.overrunning += 1
                    self.backfill.resumable = False
            while cursor < n and sub_times[cursor] == t:
                self._submit(order[cursor], t)
                cursor += 1
                happened = progress = True
                self.dirty_main = self.dirty_bf = True
            if progress:
                guard.progress(t)
            if t == t_lim:
                self.limit_memo.clear()
                self.li_unmemo = self.li_total
                self.li_dirty = True
                self.dirty_main = self.dirty_bf = True
                self.backfill.resumable = False
                happened = True
            if t == t_prio and self.priority.recalc(self, t):   # PriorityCalcPeriod: new order
                self.dirty_main = self.dirty_bf = True
                self.backfill.resumable = False
            if t == ns:
                self.main_pass(t, full=True)
                ns += si
            elif happened and self.n_pending:
                self.main_pass(t, full=False)
            self._drop_started()
            if t == nb:
                if self.n_pending:
                    self.backfill.run(t)
                    self.passes_bf += 1
                    self._drop_started()
                self.dirty_bf = self.n_pending > 0 and self.backfill.rerun
                nb += bi
            if self.limit_blocked or self.li_rate:
                self._limit_idle(t, win0, win1)
        # The run ends with the last submission or job end (passes after it change nothing).
        # (the stop time, when the stall guard stopped the run)
        self.t_end = max(max(self.end_t, default=0), sub_times[-1] if sub_times else 0)
        for j in range(n):
            if self.state[j] == PENDING:       # close the open pending interval, keep the reason
                r = self.reason[j]
                self.reason_t[j] = min(self.reason_t[j], self.t_end)
                self._set_reason(j, "None", self.t_end)
                self.reason[j] = r

    def _unfinished(self) -> np.ndarray:
        """Jobs not yet finished (the stall guard's exact bound)."""
        state = np.asarray(self.state)
        return (state != DONE) & (state != REJECTED)

    def _stop(self, t: int) -> None:
        """The stall guard stopped the run at t: running jobs end there, still RUNNING."""
        self.stalled = True
        for j in range(self.n):
            if self.state[j] == RUNNING:
                self.end_t[j] = t

    def _drop_started(self) -> None:
        """Remove the queue entries of jobs started in the last pass (deferred: passes iterate the queue)."""
        queue = self.queue
        for j in self.started_in_pass:
            for key in self.qkeys[j]:
                del queue[bisect.bisect_left(queue, key)]
            self.qkeys[j] = []
        self.started_in_pass.clear()

    # ------------------------------------------------------------ limit-idle GPUs

    def _limit_idle(self, now: int, win0: int, win1: int) -> None:
        """Integrate GPUs left idle while a job that would fit them pends only because of a limit.

        The rate is recomputed only after a start, an end, a limits tick or a change of the
        limit-blocked set: nothing else changes free GPUs or limit answers, and a skipped walk
        would only have repeated the limit look-ups (memo hits) of the last one."""
        lo, hi = max(self.li_since, win0), min(now, win1)
        if hi > lo:
            self.li_gpu_s += self.li_rate * (hi - lo)
        self.li_since = now
        if not self.li_dirty:
            return
        self.li_dirty = False
        free = self.nodes.total_gpus - self.used_gpus
        want = 0
        if free and self.limits.active and not self.li_unmemo:
            # Every held job's limit answer is memoised (blocked): the walk below would only add
            # up the GPUs of the held jobs whose shape fits, in some order, so add them per shape.
            for s, count in self.li_count.items():
                shape = self.shapes[s]
                if len(self._fitting(self.fit_key[s])) >= shape[6]:
                    want += count * shape[3] * shape[6]
        elif free and self.limits.active:       # else no job is held by a limit
            state, gpn, nn, blocking = self.state, self.gpn, self.nn, self.limits.blocking_reason
            lkeys, lmemo, shape_of, shapes = self.limits.keys, self.limit_memo, self.shape_of, self.shapes
            seen: dict[int, bool] = {}
            # Asked without remembering: the walk stops early and runs in set order, and a
            # remembered "blocked" keeps its reason until the next end even when a start makes an
            # earlier limit fail first, so remembering here would make pending reasons depend on
            # the walk.
            for j in self.limit_blocked:
                if state[j] != PENDING or not gpn[j]:
                    continue
                if lmemo.get(lkeys[j]) is None and blocking(j, now) is None:
                    continue
                s = shape_of[j]
                fits = seen.get(s)
                if fits is None:
                    fits = seen[s] = len(self._fitting(self.fit_key[s])) >= shapes[s][6]
                if fits:
                    want += gpn[j] * nn[j]
                    if want >= free:
                        break
        self.li_rate = min(free, want)

    def _nodes_changed(self, chosen: list[int]) -> None:
        """A start or end changed these nodes' free resources: both indexes of which nodes fit a
        shape (the limit-idle sets here, the backfill's shape orders) catch up on them when next read."""
        for fit in self.li_fits.values():
            fit[1].update(chosen)
        self.backfill.node_changed(chosen)

    def _fitting(self, shape: tuple) -> set[int]:
        """The nodes of a partition that could take a per-node shape now (nodes.select picks n of
        them, or none if fewer than n), kept up to date from the nodes that starts and ends touched."""
        p, c, m, g, gt, x = shape
        x = x or self.pexcl[p]
        fits = self.nodes.fits
        known = self.li_fits.get(shape)
        if known is None:
            if len(self.li_fits) >= MAX_FIT_SHAPES:
                self.li_fits.clear()
            known = self.li_fits[shape] = ({i for i in self.pnodes[p] if fits(i, c, m, g, gt, x)}, set())
        else:
            fitting, changed = known
            if changed:
                members = self.pnode_set[p]
                for i in changed:
                    if i not in members:
                        continue
                    if fits(i, c, m, g, gt, x):
                        fitting.add(i)
                    else:
                        fitting.discard(i)
                changed.clear()
        return known[0]

    @property
    def window(self) -> tuple[int, int]:
        """Measurement window: from the warm-up to the last submission."""
        last = max(self.sub, default=0)
        w0 = min(self.sc.metrics.warmup, last)
        return w0, last

    # ------------------------------------------------------------ output

    @staticmethod
    def _hostlist(alloc: list[int] | None, names: list[str], seen: dict[tuple[int, ...], str]) -> str:
        """A job's nodes as a hostlist; multi-node sets repeat, so each is collected once."""
        if not alloc:
            return ""
        if len(alloc) == 1:
            return names[alloc[0]]
        key = tuple(alloc)
        text = seen.get(key)
        if text is None:
            text = seen[key] = collect_hostlist([names[i] for i in alloc])
        return text

    def _nodes_alloc(self, started: np.ndarray) -> np.ndarray:
        """Each job's nodes as a hostlist ("" if it never started)."""
        names = self.nodes.names
        seen: dict[tuple[int, ...], str] = {}
        if self.alloc_flat is None:
            return np.array([self._hostlist(a, names, seen) for a in self.alloc], dtype=object)
        off, flat = self.alloc_flat
        nn = np.asarray(self.nn, dtype=np.int64)
        out = np.full(self.n, "", dtype=object)
        single = started & (nn == 1)
        out[single] = np.array(names, dtype=object)[flat[off[single]]]
        for j in np.flatnonzero(started & (nn > 1)).tolist():
            out[j] = self._hostlist(flat[off[j]:off[j] + nn[j]].tolist(), names, seen)
        return out

    def job_columns(self) -> dict[str, np.ndarray]:
        """One row per job (docs/metrics.md, "per-job output")."""
        J = self.jobs
        start = np.array(self.start_t, dtype=np.float64)
        end = np.array(self.end_t, dtype=np.float64)
        started = start >= 0
        start[~started] = np.nan
        end[~started] = np.nan
        sub = np.asarray(self.sub, dtype=np.float64)
        code = np.asarray(self.state, dtype=np.int64)
        state = np.where((code == DONE) | (code == REJECTED), np.asarray(self.end_state, dtype=object),
                         np.where(code == RUNNING, "RUNNING", "PENDING").astype(object))
        ran = np.asarray(self.ran_part, dtype=np.int64)
        part = np.where(ran >= 0, np.array(self.pname + [""], dtype=object)[ran], J["partition"])
        cols: dict[str, np.ndarray] = {
            "job_id": J["job_id"], "user": J["user"], "account": J["account"], "partition": part,
            "qos": J["qos"], "submit": sub, "eligible": np.asarray(self.eligible, dtype=np.float64),
            "start": start, "end": end, "wait_s": start - sub, "run_s": end - start,
            "time_limit": np.array(self.limit_used, dtype=np.int64), "state": state,
            "nodes_alloc": self._nodes_alloc(started),
            "nodes": J["nodes"], "cpus": J["cpus"], "gpus": J["gpus"],
            "alloc_cpus": np.array(self.alloc_cpus, dtype=np.int64),
            "alloc_gpus": np.array(self.alloc_gpus, dtype=np.int64),
            "started_by": np.array(self.started_by, dtype=object),
            "reason": np.where(started, "", np.asarray(self.reason, dtype=object)).astype(object),
            "preemptions": self.preempt_count, "lost_gpu_s": self.lost_gpu_s,
        }
        for r in sorted(self.reason_acc):
            if r != "None":
                cols[f"pending_{r}_s"] = self.reason_acc[r]
        return cols

