"""sched/backfill: plan pending jobs with running jobs' time limits and start those that fit now.

Behaviour reproduced from Slurm's backfill.c (docs/simulator.md, "Backfill"):
- every bf_interval, pending jobs are walked in priority order, at most bf_max_job_test of them
  (and bf_max_job_user per user); limit-blocked jobs are skipped and get no reservation;
- a job's earliest start is the first time at which enough of its partition's nodes both have
  the free resources (running jobs release theirs at start + time limit, not at their true end)
  and are not reserved for a higher-priority job over [start, start + time limit);
- a job whose earliest start is now starts now (started_by = backfill); otherwise, if that start is
  inside bf_window, its nodes are reserved - whole nodes - from the start to the end of its time
  limit rounded up to bf_resolution, so no lower-priority job may use them in that interval.

Why the caches: the earliest time a node can hold a request shape only changes when a job starts
or ends on that node, so per shape (and partition) the nodes are kept sorted by that time and
only the nodes in the shared log of changes since that order was last read are re-sorted.
Within a pass each reserved node keeps a summary (first start, last end, longest gap between
its reservations), which answers most "when is this node clear for L seconds" questions
without walking its reservations (docs/performance.md).
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simcore.engine import Engine

NEVER = 1 << 62
MAX_SHAPE_CACHES = 256


class _ShapeCache:
    """Nodes of one partition sorted by the raw time they could hold one request shape.

    raw = -1: fits now; otherwise the planned end of the running job after which it fits."""

    __slots__ = ("raw", "order", "synced")

    def __init__(self) -> None:
        self.raw: dict[int, int] = {}
        self.order: list[tuple[int, int]] = []
        self.synced = -1      # Backfill.n_changes this order reflects; -1: build from scratch


class Backfill:
    """Backfill state that survives between passes (per-shape node orders, release timelines)."""

    def __init__(self, engine: "Engine") -> None:
        self.e = engine
        self.nodes = engine.nodes
        self.caches: dict[tuple, _ShapeCache] = {}
        # Nodes started or ended on, in order (n_changes counts all ever; the list keeps the tail
        # from changes_base on): each shape order catches up from its own position when next read.
        self.changes: list[int] = []
        self.changes_base = 0
        self.n_changes = 0
        self.rel: list[list[tuple[int, int, int, int]] | None] = [None] * len(engine.nodes.names)
        self.top_reservation: dict[int, int] = {}   # job -> earliest start planned while it was first
        self.summary: dict[int, tuple[int, int, int]] = {}   # node -> (first start, last end, longest gap)
        self.beyond: dict[tuple, int] = {}     # this pass: request -> shortest limit found not to fit
        self.saved: tuple | None = None        # the plan the last pass left (see run)
        self.resumable = False
        self.new_entries: list[tuple] = []
        self.rerun = False      # the last pass started a job while bf_max_job_test/_user cut it short
        self.parts_of: list[tuple[int, ...] | None] = [None] * engine.n   # usable partitions
        self.fits_memo: dict[tuple, bool] = {}  # this pass, since its last start: (shape, partitions) -> fits now

    def node_changed(self, chosen: list[int]) -> None:
        """A job started or ended on these nodes: their release timelines and shape times change."""
        rel = self.rel
        for i in chosen:
            rel[i] = None
        self.n_changes += len(chosen)
        # Keep a few times the node count: an order further behind than its partition's size is
        # rebuilt from scratch anyway (see _order), so older entries are dropped.
        if len(self.changes) > 8 * len(rel):
            self.changes_base = self.n_changes
            self.changes = []
        else:
            self.changes.extend(chosen)

    # ------------------------------------------------------------ per-node times

    def _releases(self, i: int) -> list[tuple[int, int, int, int]]:
        """(planned end, CPUs, MB, GPUs) freed on node i by each running job, by planned end."""
        r = self.rel[i]
        if r is None:
            e = self.e
            nd = self.nodes
            r = []
            for j in nd.running[i]:
                if e.excl(j, e.ran_part[j]):
                    r.append((e.start_t[j] + e.limit_used[j], nd.cpus[i], nd.mem[i], nd.gpus[i]))
                else:
                    r.append((e.start_t[j] + e.limit_used[j], e.cpn[j], e.mpn[j], e.gpn[j]))
            r.sort()
            self.rel[i] = r
        return r

    def _raw_time(self, i: int, c: int, m: int, g: int, gt: str, ex: bool) -> int:
        nd = self.nodes
        if not nd.could_ever_fit(i, c, m, g, gt):
            return NEVER
        if ex:
            if not nd.running[i]:
                return -1
            return self._releases(i)[-1][0]
        fc, fm, fg = nd.free_cpu[i], nd.free_mem[i], nd.free_gpu[i]
        if fc >= c and fm >= m and fg >= g:
            return -1
        for pe, cc, mm, gg in self._releases(i):
            fc += cc
            fm += mm
            fg += gg
            if fc >= c and fm >= m and fg >= g:
                return pe
        return NEVER

    def _order(self, p: int, c: int, m: int, g: int, gt: str, ex: bool) -> list[tuple[int, int]]:
        key = (p, c, m, g, gt, ex)
        cache = self.caches.get(key)
        if cache is None:
            if len(self.caches) >= MAX_SHAPE_CACHES:
                self.caches.clear()
            cache = self.caches[key] = _ShapeCache()
        n_changes = self.n_changes
        if cache.synced == n_changes:
            return cache.order
        members = self.e.pnode_set[p]
        behind = n_changes - cache.synced
        if cache.synced < self.changes_base or behind > len(members):
            cache.raw = {i: self._raw_time(i, c, m, g, gt, ex) for i in self.e.pnodes[p]}
            cache.order = sorted((t, i) for i, t in cache.raw.items())
        else:
            order, raw = cache.order, cache.raw
            for i in set(self.changes[cache.synced - self.changes_base:]):
                if i not in members:
                    continue
                new = self._raw_time(i, c, m, g, gt, ex)
                old = raw[i]
                if new != old:
                    del order[bisect.bisect_left(order, (old, i))]
                    bisect.insort(order, (new, i))
                    raw[i] = new
        cache.synced = n_changes
        return cache.order

    # ------------------------------------------------------------ reservations

    @staticmethod
    def _clear(res: dict[int, list[tuple[int, int]]], i: int, t: int, length: int) -> int:
        """Earliest time >= t at which node i is unreserved for `length` seconds."""
        lst = res.get(i)
        if not lst:
            return t
        for s, e in lst:
            if e <= t:
                continue
            if s >= t + length:
                break
            t = e
        return t

    @staticmethod
    def _summarise(lst: list[tuple[int, int]]) -> tuple[int, int, int]:
        """(first start, last end, longest gap between reservations) of a node's reservations:
        a limit longer than every gap can only start before the first or after the last, so
        most clear-time questions need no walk (same answers as _clear)."""
        last = lst[0][1]
        longest = -1
        for s, e in lst[1:]:
            if s >= last and s - last > longest:
                longest = s - last
            if e > last:
                last = e
        return lst[0][0], last, longest

    def _earliest(self, j: int, p: int, now: int, horizon: int, res) -> tuple[int, list[int]]:
        """(earliest start, candidate nodes at that start) of job j in partition p.

        Within a pass nodes only fill up and reservations only accumulate, so once a request
        (partition, nodes, per-node share) with limit L cannot start inside bf_window, no later
        one with a limit >= L can: those answers are known without a search (`beyond`)."""
        e = self.e
        n, c, m, g, gt, ex = e.nn[j], e.cpn[j], e.mpn[j], e.gpn[j], e.gt[j], e.excl(j, p)
        L = e.time_limit(j, p)
        request = (p, n, c, m, g, gt, ex)
        shortest = self.beyond.get(request)
        if shortest is not None and L >= shortest:
            return NEVER, []
        order = self._order(p, c, m, g, gt, ex)
        t, sel = (self._earliest_multi(order, n, L, now, horizon, res) if n > 1
                  else self._earliest_one(order, L, now, horizon, res))
        if t >= horizon and (shortest is None or L < shortest):
            self.beyond[request] = L
        return t, sel

    def _earliest_one(self, order: list[tuple[int, int]], L: int, now: int, horizon: int,
                      res: dict[int, list[tuple[int, int]]]) -> tuple[int, list[int]]:
        """Single node: the first node in fit order with the least clear time."""
        summary, clear = self.summary, self._clear
        best_t, best = NEVER, -1
        for raw, i in order:
            a = raw if raw > now else (now if raw < 0 else now + 1)
            if a >= best_t or a >= horizon:
                break
            sm = summary.get(i)
            if sm is None or a + L <= sm[0] or a >= sm[1]:
                t = a
            elif L > sm[2]:
                t = sm[1]
            else:
                t = clear(res, i, a, L)
            if t < best_t:
                best_t, best = t, i
                if t == now:
                    break
        return best_t, ([best] if best >= 0 else [])

    def _earliest_multi(self, order: list[tuple[int, int]], n: int, L: int, now: int, horizon: int,
                        res: dict[int, list[tuple[int, int]]]) -> tuple[int, list[int]]:
        """Sweep over the windows in which each node could start the job (from its time on,
        between reservations); the first time n windows overlap is the earliest start. Once n
        nodes are free for good from their own time (the last at U), the answer is at most U and
        nodes later in the order (a >= U) cannot make it earlier."""
        clear = self._clear
        events: list[tuple[int, int]] = []
        open_from, stop = 0, horizon
        for raw, i in order:
            a = raw if raw > now else (now if raw < 0 else now + 1)
            if a >= stop:
                break
            lst = res.get(i)
            t = a
            if lst:
                for s, en in lst:
                    if en <= t:
                        continue
                    if s >= t + L:
                        events.append((t, 1))
                        events.append((s - L + 1, -1))
                    t = en
            events.append((t, 1))
            if t == a:
                open_from += 1
                if open_from == n:
                    stop = a
        if len(events) < n:
            return NEVER, []
        events.sort()
        count = 0
        for t, d in events:
            count += d
            if d > 0 and count >= n:
                if t >= horizon:
                    break
                sel = []
                for raw, i in order:
                    a = raw if raw > now else (now if raw < 0 else now + 1)
                    if a > t:
                        break
                    if i not in res or clear(res, i, t, L) == t:
                        sel.append(i)
                return t, sel
        return NEVER, []

    # ------------------------------------------------------------ the pass

    def run(self, now: int) -> None:
        """One backfill pass. If since the last pass only jobs that sort after everything it
        examined were submitted (no start, end, priority or limit change), the plan it left is
        still exact and only the new jobs are tested against it (docs/simulator.md). A pass that
        started a job leaves no such plan.

        A job that fits nowhere now (ignoring reservations) cannot start in this pass: its only
        effect is the reservation later jobs must respect, so its search is deferred until a job
        that fits now comes up, and skipped if none does. Nothing starts between a deferral and
        its search, so the searches see exactly the state they would have seen in order."""
        e = self.e
        sp = e.sp
        horizon = now + sp.bf_window
        self.beyond = {}
        self.fits_memo = {}
        new, self.new_entries = self.new_entries, []
        saved = self.saved if (self.resumable and e.skip_unchanged) else None
        if saved is not None and all(k > saved[5] for k in new):
            res, tested, per_user, seen, first, _, deferred = saved
            entries = sorted(new)
        else:
            res, tested, per_user, seen, first, deferred = {}, 0, {}, set(), True, []
            self.summary = {}
            entries = e.queue
        # A start in this pass (Engine._start clears the flag) leaves a plan made partly before it,
        # with the started job counted in tested and per_user: the next pass must replan.
        self.resumable = True
        users = e.jobs["user"]
        max_user = sp.bf_max_job_user
        max_test = sp.bf_max_job_test
        state, dep_wait, admitted, static = e.state, e.dep_wait, e.admitted, e.static_reason
        parts_of = self.parts_of
        limit_keys = e.limit_keys    # None: no limits; a memoised key is a held job (Engine.limit_reason)
        fits_now, plan = self._fits_now, self._plan
        lazy = e.skip_unchanged     # off: every job searched at once (the reference the tests compare)
        last_key: tuple = entries[-1] if entries else (saved[5] if saved is not None else ())
        cut, starts = False, len(e.started_in_pass)
        for entry in entries:
            j = entry[3]
            if state[j] != 1 or j in seen:        # 1 = PENDING
                continue
            seen.add(j)
            if dep_wait[j]:
                continue
            parts = parts_of[j]     # static reasons depend only on the job and the configuration
            if parts is None:
                parts = parts_of[j] = tuple(p for p in admitted[j] if (j, p) not in static) if static else admitted[j]
            if not parts:
                continue
            if limit_keys is not None and (limit_keys[j] in e.limit_memo or e.limit_reason(j, now) is not None):
                continue
            if tested >= max_test:
                last_key = entry
                cut = True
                break
            if max_user:
                u = users[j]
                if per_user.get(u, 0) >= max_user:
                    cut = True
                    continue
                per_user[u] = per_user.get(u, 0) + 1
            tested += 1
            if first:
                plan(j, parts, now, horizon, res, True)
                first = False
            elif lazy and not fits_now(j, parts):
                deferred.append(j)
            else:
                for d in deferred:
                    plan(d, parts_of[d], now, horizon, res, False)
                deferred = []
                plan(j, parts, now, horizon, res, False)
        self.saved = (res, tested, per_user, seen, first, last_key, deferred)
        # A start frees a place among the jobs tested (or the user's), so the next pass may test,
        # and start, a job this one did not reach: it must run even if nothing else changes.
        self.rerun = cut and len(e.started_in_pass) > starts

    def _fits_now(self, j: int, parts) -> bool:
        """Whether enough nodes of one of j's partitions have its share free now, reservations aside
        (the head of the shape order, raw -1): the necessary condition for starting now. Within a
        pass only a start changes the answer, so it is kept per request until then."""
        e = self.e
        key = (e.shape_of[j], parts)
        fits = self.fits_memo.get(key)
        if fits is None:
            n, c, m, g, gt = e.nn[j], e.cpn[j], e.mpn[j], e.gpn[j], e.gt[j]
            fits = False
            for p in parts:
                order = self._order(p, c, m, g, gt, e.excl(j, p))
                if len(order) >= n and order[n - 1][0] < 0:
                    fits = True
                    break
            self.fits_memo[key] = fits
        return fits

    def _plan(self, j: int, parts, now: int, horizon: int, res, first: bool) -> None:
        """Search j's earliest start over its partitions: start it now, or reserve its nodes."""
        e = self.e
        earliest = self._earliest
        if len(parts) == 1:
            best_p = parts[0]
            best_t, best_nodes = earliest(j, best_p, now, horizon, res)
        else:
            best_t, best_p, best_nodes = NEVER, -1, []
            for p in parts:
                t, sel = earliest(j, p, now, horizon, res)
                if t < best_t:
                    best_t, best_p, best_nodes = t, p, sel
        if best_t == now:
            chosen = self._choose_now(j, best_p, now, res)
            e._start(j, best_p, chosen, now, "backfill")
            self.fits_memo.clear()
        elif best_t < horizon:
            L = e.time_limit(j, best_p)
            r = e.sp.bf_resolution
            end = -(-(best_t + L) // r) * r
            if len(best_nodes) > e.nn[j]:
                best_nodes = sorted(best_nodes, key=lambda i: (self.nodes.weight[i], i))[: e.nn[j]]
            for i in best_nodes:
                lst = res.setdefault(i, [])
                bisect.insort(lst, (best_t, end))
                self.summary[i] = self._summarise(lst)
            if first:
                prev = self.top_reservation.get(j)
                self.top_reservation[j] = best_t if prev is None else min(prev, best_t)

    def _choose_now(self, j: int, p: int, now: int, res) -> list[int]:
        """Nodes for a job starting now: the main scheduler's node choice among unreserved nodes."""
        e = self.e
        L = e.time_limit(j, p)
        c, m, g, gt, ex = e.cpn[j], e.mpn[j], e.gpn[j], e.gt[j], e.excl(j, p)
        order = self._order(p, c, m, g, gt, ex)
        # Only nodes the shape fits now (raw -1, the head of its order) can be chosen; select
        # reads them in the partition's (Weight, node) order.
        weight = self.nodes.weight
        fit = sorted((i for raw, i in order[:bisect.bisect_left(order, (0, -1))]), key=lambda i: (weight[i], i))
        cands = [i for i in fit if i not in res or self._clear(res, i, now, L) == now]
        chosen = self.nodes.select(cands, e.nn[j], c, m, g, gt, ex)
        assert chosen is not None, f"backfill planned job {j} now but no nodes fit"
        return chosen
