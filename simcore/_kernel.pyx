# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled engine: Engine.run over flat C arrays.

Why: the pure-Python engine spends its time on dicts, tuples and lists of Python ints
(docs/performance.md); the same algorithm over typed arrays runs tens of times faster. It covers
every scenario without job dependencies (limits, changing priorities and preemption included;
simcore.kernel decides) and reproduces the Python engine's schedule exactly: the Python engine
stays the reference and the tests compare the two (tests/test_kernel.py). Caches and skips here are the Python engine's, in
the form that suits arrays; every one provably leaves the schedule unchanged.

Inputs are prepared by simcore.kernel (admission, static reasons, queue order, request shapes); the
outputs are the engine's per-job arrays.
"""

from libc.math cimport exp2, expm1, fabs, floor
from libc.stdint cimport int8_t, int16_t, int64_t
from libc.stdlib cimport abort, free, realloc
from libc.string cimport memcpy, memmove

import numpy as np

ctypedef int64_t i64
ctypedef int64_t* arr    # a job, node, entry or shape array

cdef i64 NEVER = (<i64>1) << 62
cdef i64 TIMEOUT_CHECK = 30
# job states (simcore.engine)
cdef i64 PENDING = 1, RUNNING = 2, DONE = 3, REJECTED = 4
# end states and who started a job (simcore.kernel maps them to the engine's strings)
cdef i64 END_COMPLETED = 1, END_TIMEOUT = 2, END_REJECTED = 3, END_PREEMPTED = 4
cdef i64 EV_END = 0, EV_OVERRUN = 1, EV_PREEMPT = 2, EV_ELIGIBLE = 3   # simcore.engine / preempt
cdef i64 P_OFF = 0, P_CANCEL = 1, P_PARTITION_PRIO = 1, P_QOS = 2
cdef i64 REQUEUE_HOLD_S = 120
cdef i64 BY_MAIN = 1, BY_BACKFILL = 2
# reason codes fixed by simcore.kernel; static reasons follow
cdef i64 R_NONE = 0, R_PRIORITY = 1, R_RESOURCES = 2
cdef i64 MAX_CACHED_SHAPES = 4096
cdef i64 CK_TRES = 0, CK_RUN = 1, CK_JOBS = 2     # simcore.limits' check kinds
cdef double EPS = 1e-6                            # simcore.limits._EPS


cdef i64* _ptr(object arr):
    cdef i64[::1] view = arr
    return &view[0]


cdef int8_t* _ptr8(object arr):
    cdef int8_t[::1] view = arr
    return &view[0]


cdef int16_t* _ptr16(object arr):
    cdef int16_t[::1] view = arr
    return &view[0]


cdef double* _dptr(object arr):
    cdef double[::1] view = arr
    return &view[0]


cdef void* _grow(void* p, size_t size) noexcept nogil:
    """realloc, or stop the process: out of memory mid-run there is no schedule to return, and
    stopping here says so where a NULL pointer would fault somewhere later."""
    cdef void* q = realloc(p, size if size else 1)
    if q == NULL:
        abort()
    return q


cdef void _sort_i64(i64* v, i64 lo, i64 hi) noexcept nogil:
    """Sort v[lo:hi] ascending: quicksort (median of three) down to short runs, then insertion
    sort; libc qsort's comparator call per comparison was a seventh of a FIFO run."""
    cdef i64 i, j, x, pivot, a, b, c
    while hi - lo > 16:
        a = v[lo]; b = v[(lo + hi) >> 1]; c = v[hi - 1]
        pivot = b if (a <= b <= c or c <= b <= a) else (a if (b <= a <= c or c <= a <= b) else c)
        i = lo
        j = hi - 1
        while i <= j:
            while v[i] < pivot:
                i += 1
            while v[j] > pivot:
                j -= 1
            if i <= j:
                x = v[i]; v[i] = v[j]; v[j] = x
                i += 1
                j -= 1
        if j - lo < hi - i:          # recurse into the shorter side, loop on the longer
            _sort_i64(v, lo, j + 1)
            lo = i
        else:
            _sort_i64(v, i, hi)
            hi = j + 1
    for i in range(lo + 1, hi):
        x = v[i]
        j = i - 1
        while j >= lo and v[j] > x:
            v[j + 1] = v[j]
            j -= 1
        v[j + 1] = x


cdef double INF = float("inf")


cdef class Usage:
    """simcore.fairshare.Fairshare over C arrays: decayed usage per association, changed at every
    start and end, and the Fair Tree or classic factors at each recalculation.

    Every float operation is Fairshare's, in its order, and the exponentials are libm's exp2 and
    expm1, which Fairshare calls through math: the factors are bit-identical to the Python engine's.
    """

    cdef i64 A, U, D, n_pairs, n_deep
    cdef double h, hl, ln2, damping, t_ref, next_reset
    cdef bint fair_tree, mixed, any_parent
    cdef object next_reset_cb
    cdef double[::1] usage_ref, acc, rate, t_last, usage, lf, s_level, level_shares, raw, s_norm, eff, neg
    cdef i64[::1] parent, parent0, zero_share, use_parent, pair_anc, pair_user, users, path0, pad
    cdef i64[::1] flag, path_len, deep, order, leader

    def __init__(self, dict f):
        i64 = np.int64
        self.A = len(f["usage_ref"]); self.U = len(f["users"]); self.D = f["depth"]
        self.h = f["h"]; self.ln2 = f["ln2"]; self.hl = self.h / self.ln2; self.damping = f["damping"]
        self.t_ref = f["t_ref"]; self.next_reset = f["next_reset"]; self.next_reset_cb = f["next_reset_after"]
        self.fair_tree = f["fair_tree"]; self.mixed = f["mixed_depth"]; self.any_parent = f["any_parent"]
        self.usage_ref = f["usage_ref"].copy(); self.acc = f["acc"].copy(); self.rate = f["rate"].copy()
        self.t_last = f["t_last"].copy()
        self.usage = np.zeros(self.A); self.lf = np.zeros(self.A); self.eff = np.zeros(self.A)
        self.s_level = f["s_level"]; self.level_shares = f["level_shares"]; self.raw = f["raw"]
        self.s_norm = f["s_norm"]
        self.parent = f["parent"].astype(i64); self.parent0 = f["parent0"].astype(i64)
        self.zero_share = f["zero_share"].astype(i64); self.use_parent = f["use_parent"].astype(i64)
        self.pair_anc = f["pair_anc"].astype(i64); self.pair_user = f["pair_user"].astype(i64)
        self.n_pairs = len(f["pair_anc"])
        self.users = f["users"].astype(i64); self.path_len = f["path_len"].astype(i64)
        self.path0 = f["path0"].astype(i64).ravel(); self.pad = f["pad"].astype(i64).ravel()
        self.flag = f["flag"].astype(i64).ravel()
        self.deep = f["deep"].astype(i64); self.n_deep = len(f["deep"])
        self.neg = np.zeros(self.U * self.D)
        self.order = np.arange(self.U, dtype=i64)    # users in Fair Tree order, kept between calls
        self.leader = np.zeros(self.U, dtype=i64)

    cdef double integral(self, double a, double b) noexcept:
        """Fairshare._integral: the integral over [a, b] of 2^((s - t_ref)/h) ds."""
        if self.h <= 0:
            return b - a
        return self.hl * (exp2((b - self.t_ref) / self.h) - exp2((a - self.t_ref) / self.h))

    cdef void change(self, i64 a, double delta, i64 now) noexcept:
        """Fairshare.change_rate."""
        cdef double rate
        if self.h > 0 and <double>now - self.t_ref > 500.0 * self.h:
            self.advance(now)
        rate = self.rate[a]
        if rate != 0:
            self.acc[a] += rate * self.integral(self.t_last[a], <double>now)
        self.t_last[a] = <double>now
        rate = rate + delta
        self.rate[a] = 0.0 if fabs(rate) < 1e-9 else rate

    cdef void advance(self, i64 now) noexcept:
        """Fairshare.advance: every association's usage integrated up to `now`, a due reset applied."""
        cdef i64 a
        cdef double f, tail, d = <double>now
        if d >= self.next_reset:
            for a in range(self.A):
                self.usage_ref[a] = 0.0
            self.next_reset = self.next_reset_cb(d)
        if self.h <= 0:
            for a in range(self.A):
                self.usage_ref[a] = self.usage_ref[a] + self.acc[a]
            for a in range(self.A):
                if self.rate[a] != 0:
                    self.usage_ref[a] = self.usage_ref[a] + self.rate[a] * (d - self.t_last[a])
        else:
            f = exp2(-(d - self.t_ref) / self.h)
            for a in range(self.A):
                self.usage_ref[a] = (self.usage_ref[a] + self.acc[a]) * f
            for a in range(self.A):
                if self.rate[a] != 0:
                    tail = -expm1(-(d - self.t_last[a]) * self.ln2 / self.h)
                    self.usage_ref[a] = self.usage_ref[a] + self.rate[a] * self.hl * tail
        for a in range(self.A):
            self.acc[a] = 0.0
            self.t_last[a] = d
        self.t_ref = d

    cdef void factors(self, i64 now, double* out) noexcept:
        """Fairshare.factors into `out` (one per association)."""
        cdef i64 a, i
        self.advance(now)
        for a in range(self.A):
            self.usage[a] = 0.0
        for i in range(self.n_pairs):        # np.bincount: one pass in pair order
            self.usage[self.pair_anc[i]] += self.usage_ref[self.pair_user[i]]
        for a in range(self.A):
            out[a] = 0.0
        if self.fair_tree:
            self.fair_tree_factors(out)
        else:
            self.classic_factors(out)

    cdef inline bint ft_before(self, i64 r, i64 q) noexcept:
        """np.lexsort's order of user rows: LF paths compared level by level (-LF, then the
        account flag), the row number last."""
        cdef i64 k, x = r * self.D, y = q * self.D
        for k in range(self.D):
            if self.neg[x + k] != self.neg[y + k]:
                return self.neg[x + k] < self.neg[y + k]
            if self.flag[x + k] != self.flag[y + k]:
                return self.flag[x + k] < self.flag[y + k]
        return r < q

    cdef void fair_tree_factors(self, double* out) noexcept:
        """Fairshare._fair_tree."""
        cdef i64 a, k, r, q, i, j, x, y, U = self.U, D = self.D
        cdef double pu, u
        cdef bint tied, same
        if U == 0:
            return
        for a in range(self.A):                 # level_fs
            pu = self.usage[self.parent0[a]]
            u = self.usage[a] / pu if pu > 0 else 0.0
            self.lf[a] = self.s_level[a] / u if u > 0 else INF
            if self.zero_share[a]:
                self.lf[a] = 0.0
            if self.any_parent and self.use_parent[a]:
                self.lf[a] = INF
        for r in range(U * D):
            self.neg[r] = 0.0 if self.pad[r] else -self.lf[self.path0[r]]
        # Insertion sort from the last recalculation's order: usage moves little between two, so
        # the order is mostly unchanged (the row number breaks ties: the order is total, and any
        # sort gives np.lexsort's).
        for i in range(1, U):
            r = self.order[i]
            j = i
            while j > 0 and self.ft_before(r, self.order[j - 1]):
                self.order[j] = self.order[j - 1]
                j -= 1
            self.order[j] = r
        self.leader[0] = 0
        for i in range(1, U):
            r, q = self.order[i - 1], self.order[i]
            x, y = r * D, q * D
            tied = True
            j = 0
            for k in range(D):
                same = self.neg[x + k] == self.neg[y + k] and (not self.mixed or self.flag[x + k] == self.flag[y + k])
                if not same:
                    tied = False
                    j = k
                    break
            if self.mixed and not tied:
                tied = (self.path_len[r] == j + 1 and self.neg[x + j] == self.neg[y + j]
                        and self.flag[x + j] == 0 and self.flag[y + j] == 1)
            self.leader[i] = self.leader[i - 1] if tied else i
        for i in range(U):
            out[self.users[self.order[i]]] = <double>(U - self.leader[i]) / <double>U

    cdef void classic_factors(self, double* out) noexcept:
        """Fairshare._classic."""
        cdef i64 a, x, p, i
        cdef double root = self.usage[0], ls, e, s
        for a in range(self.A):
            self.eff[a] = self.usage[a] / root if root > 0 else 0.0
        for x in range(self.n_deep):            # depth 2 and below, parents first
            a = self.deep[x]
            p = self.parent[a]
            ls = self.level_shares[a]
            if ls > 0:                          # eff[a] is still a's normalised usage here
                self.eff[a] = self.eff[a] + (self.eff[p] - self.eff[a]) * self.raw[a] / ls
            else:
                self.eff[a] = self.eff[p]
        for i in range(self.U):
            a = self.users[i]
            e, s = self.eff[a], self.s_norm[a]
            if self.use_parent[a]:
                e, s = self.eff[self.parent[a]], self.s_norm[self.parent[a]]
            if s > 0:
                out[a] = exp2(-(e / s) / self.damping)


cdef class Kernel:
    """One run. Arrays are numpy int64 held in `keep`; the C pointers below point into them."""

    cdef list keep
    # scalars
    cdef i64 n, N, P, U, R, n_ent, n_shapes
    cdef i64 si, bi, bf_window, bf_res, max_test, max_user, depth, otl
    # nodes
    cdef arr ncpu, nmem, ngpu, ngt, nweight, fcpu, fmem, fgpu, run_off, run_cnt, run_list
    cdef i64 *stamp
    cdef i64 nchg
    # partitions
    cdef arr pn_off, pn_list, local, ptier, overlap, part_pending
    # jobs
    cdef arr sub, rt, nn, cpn, mpn, gpn, jgt, user, ent_off, order, reject, init_reason
    # entries (a job's partitions, in the order it listed them)
    cdef arr ejob, epart, erank, etl, eshape, estatic, eexcl, efail, ereq
    # per request (shape and node count), this backfill call: the shortest limit found not to fit
    cdef arr bey_call, bey_L
    cdef i64 call_id
    # shapes: (partition, CPUs, MB, GPUs per node, GPU type, exclusive) of entries
    cdef arr sp, sc, sm, sg, sgt, sx
    cdef i64 **c_raw  # per shape, by position in the partition: raw time (see raw_time)
    cdef i64 **c_ord  # per shape: 2 x size, (raw, node) sorted
    cdef i64 *c_synced
    cdef i64 n_cached
    # job outputs
    cdef public object state_a, start_a, end_a, ran_a, limit_a, endst_a, by_a, reason_a, reason_t_a
    cdef public object alloc_off_a, alloc_nodes_a, acpu_a, agpu_a, acc_a, used_a
    cdef int8_t *state
    cdef int16_t *reason
    cdef arr start_t, end_t, ran_e, limit_used, end_code, started_by, reason_t
    cdef arr alloc_off, alloc_nodes, alloc_cpus, alloc_gpus, acc, rused, run_excl
    cdef i64 n_alloc
    # queue of entries, sorted by Engine.queue_key (ranks while priorities are fixed)
    cdef i64 *queue
    cdef i64 *q_p       # scratch: sort keys' priorities
    cdef i64 *q_tmp
    cdef i64 *q_tmp_p
    cdef i64 *q_runs
    cdef i64 qlen
    cdef i64 *started
    cdef i64 n_started
    # heap of (time, kind, seq, job)
    cdef i64 *h_t
    cdef i64 *h_k
    cdef i64 *h_s
    cdef i64 *h_j
    cdef i64 hlen, h_cap, seq
    # loop state
    cdef i64 epoch, n_pending, overrunning, dirty_main, dirty_bf
    cdef public i64 t_end, passes_main, passes_bf
    cdef arr bounds             # simcore.stall: per job, the longest it can take once started
    cdef i64 longest, g_last, g_check
    cdef public bint stalled
    # main-pass scratch
    cdef arr blocked_part, blocked_node, bnodes, tainted, cand, chosen, feas
    # backfill scratch
    cdef i64 **res_s
    cdef i64 **res_e
    cdef arr res_n, res_cap, res_touched
    cdef arr sum_first, sum_last, sum_gap     # per reserved node: first start, last end, longest gap
    cdef i64 n_touched
    cdef arr seen, ucnt, deferred, sel_a, sel_b, ev
    cdef i64 ev_cap, pass_id
    # the plan the last pass left (Backfill.saved): still exact while `resumable`
    cdef arr new_e, new_p      # entries submitted since the last pass, with their priority then
    cdef i64 n_new, resumable, saved, s_tested, s_first, s_nd, s_last, s_last_p
    # changing priorities (simcore.priority.EnginePriority): age, and fair-share (Usage)
    cdef bint dyn, fs_on, multifactor
    cdef arr prio, jassoc
    cdef Usage fsu
    cdef double bw_cpu, bw_mem, bw_node, bw_gpu
    cdef bint bill_cpus
    cdef double *bw_typed    # per job: the TRESBillingWeights of its GPU type (0: none)
    cdef double *ufactor     # per job: its QOS UsageFactor
    cdef double *fs_rate     # per job: the billable rate its running job adds to its association
    cdef double *pstatic
    cdef double *fs
    cdef double w_age, max_age, w_fs
    cdef i64 p_period, refreshed
    # preemption (simcore.preempt.EnginePreemption): the policy's per-job arrays, as `place` moves them
    cdef bint pre_on
    cdef i64 r_begin        # the BeginTime reason's code
    cdef i64 pkind, nq, changes, n_vict, n_sig, n_wake, alloc_cap, mark_id
    cdef arr p_rank, p_tier, p_mode, p_grace, p_exempt, p_qos, p_qmat, pp_tier, pp_mode, pp_grace, p_could
    cdef arr overran
    cdef arr ckpt, rt0, saved_p, preempt_n, elig, sig_rel, sig_list, vict_pos, vict_list, cur_end, cur_over
    cdef arr requeued, fut_j, fut_ch, fut_wake, pc, pc_tmp, psel_a, psel_b, pmark
    cdef i64 *wake_list
    cdef i64 wake_cap
    cdef double *lost
    cdef public object lost_a, preempt_a, elig_a
    cdef public list segments
    # QOS/association limits (simcore.limits.Limits.flat): l_on = start checks, l_conf = any hook
    cdef bint l_on, l_conf
    cdef i64 T, period, last_tick, next_tick, n_tracked, memo_ep, ok_ep, n_arh
    cdef arr lkey, lover, lcombo, ck_off, ck_kind, ck_h, ck_k, ck_reason, cn_off, cn_h, rh_off, rh_h
    cdef arr rk_off, rk_k, arh, sb_off, sb_h, sb_lim, sb_reason, sh_off, sh_h, deny, submitted, tracked
    cdef arr lmemo, lmemo_ep, lok, lok_ep     # per limits key: Engine.limit_memo, limit_ok
    cdef arr k_combo, k_over, k_off           # per limits key: Limits._key_tests
    cdef double *k_need
    cdef double *lreq
    cdef double *ltl
    cdef double *ck_lim
    cdef double *l_used
    cdef double *l_run
    cdef double *l_rate
    cdef double *l_comp
    cdef double *l_jobs
    cdef double *x_end       # heap of run-minute bookings' expiry: (end, job, start)
    cdef i64 *x_j
    cdef i64 *x_s
    cdef i64 xlen, x_cap
    # limit-idle GPUs (Engine._limit_idle): limit-held jobs, their counts per shape and per key
    cdef arr rlimit, lishape, li_s, li_n, lb_pos, lb_list, li_cnt, li_act, li_apos, li_keys, li_seen, li_fit
    cdef i64 n_lb, n_act, li_total, li_unmemo, li_rate, li_since, win0, win1, total_gpus, used_gpus, li_call
    cdef bint li_dirty
    cdef public double li_gpu_s

    def __init__(self, dict a):
        self.keep = []
        self.n = a["n"]; self.N = a["N"]; self.P = a["P"]; self.U = a["U"]; self.R = a["R"]
        self.n_ent = len(a["ejob"]); self.n_shapes = len(a["sp"])
        self.si = a["sched_interval"]; self.bi = a["bf_interval"]; self.bf_window = a["bf_window"]
        self.bf_res = a["bf_resolution"]; self.max_test = a["bf_max_job_test"]
        self.max_user = a["bf_max_job_user"]; self.depth = a["default_queue_depth"]
        self.otl = a["over_time_limit"]
        self.bounds = self._in(a["bounds"]); self.longest = a["longest"]
        self.g_last = 0; self.g_check = self.longest; self.stalled = False
        self.ncpu = self._in(a["ncpu"]); self.nmem = self._in(a["nmem"]); self.ngpu = self._in(a["ngpu"])
        self.ngt = self._in(a["ngt"]); self.nweight = self._in(a["nweight"])
        cdef i64 s, i, n = self.n, N = self.N
        self.fcpu = self._in(a["ncpu"].copy()); self.fmem = self._in(a["nmem"].copy())
        self.fgpu = self._in(a["ngpu"].copy())
        # a node holds at most one job per CPU (every job takes at least one CPU per node)
        off = np.zeros(N + 1, dtype=np.int64)
        off[1:] = np.cumsum(a["ncpu"])
        self.run_off = self._in(off); self.run_cnt = self._zeros(N); self.run_list = self._zeros(int(off[N]) + 1)
        self.stamp = self._zeros(N); self.nchg = 0
        self.pn_off = self._in(a["pn_off"]); self.pn_list = self._in(a["pn_list"]); self.local = self._in(a["local"])
        self.ptier = self._in(a["ptier"]); self.overlap = self._in(a["overlap"])
        self.part_pending = self._zeros(self.P)
        self.sub = self._in(a["sub"])
        self.rt = self._in(a["rt"])
        self.nn = self._in(a["nn"])
        self.cpn = self._in(a["cpn"])
        self.mpn = self._in(a["mpn"])
        self.gpn = self._in(a["gpn"])
        self.jgt = self._in(a["jgt"])
        self.user = self._in(a["user"])
        self.ent_off = self._in(a["ent_off"])
        self.order = self._in(a["order"])
        self.reject = self._in(a["reject"])
        self.init_reason = self._in(a["init_reason"])
        self.ejob = self._in(a["ejob"])
        self.epart = self._in(a["epart"])
        self.erank = self._in(a["erank"])
        self.etl = self._in(a["etl"])
        self.eshape = self._in(a["eshape"])
        self.estatic = self._in(a["estatic"])
        self.eexcl = self._in(a["eexcl"])
        self.ereq = self._in(a["ereq"])
        self.bey_call = self._in(np.full(a["n_req"] + 1, -1, dtype=np.int64))
        self.bey_L = self._zeros(a["n_req"] + 1)
        self.call_id = 0
        self.sp = self._in(a["sp"])
        self.sc = self._in(a["sc"])
        self.sm = self._in(a["sm"])
        self.sg = self._in(a["sg"])
        self.sgt = self._in(a["sgt"])
        self.sx = self._in(a["sx"])
        self.efail = self._in(np.full(self.n_ent, -1, dtype=np.int64))
        self.c_raw = <i64**>_grow(NULL, max(self.n_shapes, 1) * sizeof(i64*))
        self.c_ord = <i64**>_grow(NULL, max(self.n_shapes, 1) * sizeof(i64*))
        for s in range(self.n_shapes):
            self.c_raw[s] = NULL
            self.c_ord[s] = NULL
        self.c_synced = self._zeros(self.n_shapes)
        self.n_cached = 0
        # one byte per job: passes over a long queue read every entry's state, and a small array
        # stays in cache
        self.state_a = np.zeros(n, dtype=np.int8); self.state = _ptr8(self.state_a)
        self.start_a = np.full(n, -1, dtype=np.int64); self.start_t = _ptr(self.start_a)
        self.end_a = np.full(n, -1, dtype=np.int64); self.end_t = _ptr(self.end_a)
        self.ran_a = np.full(n, -1, dtype=np.int64); self.ran_e = _ptr(self.ran_a)
        self.limit_a = np.zeros(n, dtype=np.int64); self.limit_used = _ptr(self.limit_a)
        self.endst_a = np.zeros(n, dtype=np.int64); self.end_code = _ptr(self.endst_a)
        self.by_a = np.zeros(n, dtype=np.int64); self.started_by = _ptr(self.by_a)
        self.reason_a = np.zeros(n, dtype=np.int16); self.reason = _ptr16(self.reason_a)   # as state
        self.reason_t_a = np.zeros(n, dtype=np.int64); self.reason_t = _ptr(self.reason_t_a)
        self.alloc_off_a = np.zeros(n + 1, dtype=np.int64); self.alloc_off = _ptr(self.alloc_off_a)
        self.alloc_nodes_a = np.zeros(int(np.sum(a["nn"])) + 1, dtype=np.int64)
        self.alloc_nodes = _ptr(self.alloc_nodes_a)
        self.n_alloc = 0
        self.acpu_a = np.zeros(n, dtype=np.int64); self.alloc_cpus = _ptr(self.acpu_a)
        self.agpu_a = np.zeros(n, dtype=np.int64); self.alloc_gpus = _ptr(self.agpu_a)
        self.acc_a = np.zeros(self.R * n + 1, dtype=np.int64); self.acc = _ptr(self.acc_a)
        self.used_a = np.zeros(self.R, dtype=np.int64); self.rused = _ptr(self.used_a)
        self.run_excl = self._zeros(n)
        self.queue = self._zeros(self.n_ent + 1); self.qlen = 0
        self.started = self._zeros(n + 1); self.n_started = 0
        self.h_cap = 2 * n + 16
        self.h_t = <i64*>_grow(NULL, self.h_cap * sizeof(i64)); self.h_k = <i64*>_grow(NULL, self.h_cap * sizeof(i64))
        self.h_s = <i64*>_grow(NULL, self.h_cap * sizeof(i64)); self.h_j = <i64*>_grow(NULL, self.h_cap * sizeof(i64))
        self.hlen = 0; self.seq = 0
        self.blocked_part = self._zeros(self.P); self.tainted = self._zeros(self.P)
        self.blocked_node = self._zeros(N); self.bnodes = self._zeros(N); self.cand = self._zeros(N)
        self.chosen = self._zeros(N); self.feas = self._zeros(N)
        self.res_s = <i64**>_grow(NULL, N * sizeof(i64*))
        self.res_e = <i64**>_grow(NULL, N * sizeof(i64*))
        for i in range(N):
            self.res_s[i] = NULL
            self.res_e[i] = NULL
        self.res_n = self._zeros(N); self.res_cap = self._zeros(N); self.res_touched = self._zeros(N)
        self.sum_first = self._zeros(N); self.sum_last = self._zeros(N); self.sum_gap = self._zeros(N)
        self.n_touched = 0
        self.seen = self._in(np.full(n, -1, dtype=np.int64)); self.ucnt = self._zeros(self.U + 1)
        self.deferred = self._zeros(n + 1); self.sel_a = self._zeros(N); self.sel_b = self._zeros(N)
        self.ev_cap = 4 * N + 16
        self.ev = <i64*>_grow(NULL, self.ev_cap * sizeof(i64))
        self.pass_id = 0
        self.new_e = self._zeros(self.n_ent + 1); self.new_p = self._zeros(self.n_ent + 1)
        self.q_p = self._zeros(self.n_ent + 1); self.q_tmp = self._zeros(self.n_ent + 1)
        self.q_tmp_p = self._zeros(self.n_ent + 1)
        self.q_runs = self._zeros(self.n_ent + 2)
        self.n_new = 0; self.resumable = 0; self.saved = 0; self.s_last = -1; self.s_last_p = 0
        self.elig_a = a["sub"].copy(); self.elig = _ptr(self.elig_a)
        self._priority_in(a["priority"])
        self._preempt_in(a["preempt"])
        self._limits_in(a)

    def _priority_in(self, dict a):
        self.dyn = a["dynamic"]; self.fs_on = a["fairshare"] is not None; self.multifactor = a["multifactor"]
        self.prio = self._in(a["initial"])
        self.pstatic = self._din(a["static"]); self.jassoc = self._in(a["assoc"])
        self.fs = self._din(a["fs_factor"])
        self.w_age = a["w_age"]; self.max_age = a["max_age"]; self.w_fs = a["w_fs"]
        self.p_period = a["period"]; self.refreshed = 0
        if self.fs_on:
            f = a["fairshare"]
            self.fsu = Usage(f)
            self.bill_cpus = f["bill_cpus"]
            self.bw_cpu, self.bw_mem, self.bw_node, self.bw_gpu = f["weights"]
            self.bw_typed = self._din(f["typed"]); self.ufactor = self._din(f["usage_factor"])
            self.fs_rate = self._dzeros(self.n)

    def _preempt_in(self, dict a):
        cdef i64 n = self.n
        self.pre_on = a["on"]; self.pkind = a["kind"]; self.nq = a["nq"]; self.r_begin = a["r_begin"]
        self.p_rank = self._in(a["rank"].copy()); self.p_tier = self._in(a["tier"].copy())
        self.p_mode = self._in(a["mode"].copy()); self.p_grace = self._in(a["grace"].copy())
        self.p_exempt = self._in(a["exempt"]); self.p_qos = self._in(a["qos"]); self.p_qmat = self._in(a["qmat"])
        self.pp_tier = self._in(a["part_tier"]); self.pp_mode = self._in(a["part_mode"])
        self.pp_grace = self._in(a["part_grace"]); self.p_could = self._in(a["could"])
        self.ckpt = self._in(a["ckpt"]); self.rt0 = self._in(a["runtime"])
        self.saved_p = self._zeros(n); self.requeued = self._zeros(n); self.overran = self._zeros(n)
        self.preempt_a = np.zeros(n, dtype=np.int64); self.preempt_n = _ptr(self.preempt_a)
        self.lost_a = np.zeros(max(n, 1), dtype=np.float64); self.lost = _dptr(self.lost_a)
        self.sig_rel = self._in(np.full(n, -1, dtype=np.int64)); self.sig_list = self._zeros(n); self.n_sig = 0
        self.vict_pos = self._in(np.full(n, -1, dtype=np.int64)); self.vict_list = self._zeros(n); self.n_vict = 0
        self.cur_end = self._in(np.full(n, -1, dtype=np.int64)); self.cur_over = self._in(np.full(n, -1, dtype=np.int64))
        self.fut_j = self._in(np.full(self.P, -1, dtype=np.int64)); self.fut_ch = self._zeros(self.P)
        self.fut_wake = self._zeros(self.P)
        self.wake_cap = 16; self.wake_list = <i64*>_grow(NULL, self.wake_cap * sizeof(i64)); self.n_wake = 0
        self.pc = self._zeros(n); self.pc_tmp = self._zeros(n)
        self.psel_a = self._zeros(self.N); self.psel_b = self._zeros(self.N)
        self.pmark = self._zeros(self.N); self.mark_id = 0
        self.changes = 0
        self.segments = []
        self.alloc_cap = len(self.alloc_nodes_a)

    def _limits_in(self, dict a):
        cdef dict L = a["limits"]
        cdef i64 n = self.n, K, S
        self.l_on = L["active"]; self.l_conf = L["configured"]
        self.T = L["T"]; self.period = L["period"]
        self.last_tick = 0; self.next_tick = self.period; self.n_tracked = 0
        self.memo_ep = 0; self.ok_ep = 0
        self.lkey = self._in(L["key"]); self.lover = self._in(L["over"]); self.lcombo = self._in(L["combo"])
        self.lreq = self._din(L["req"]); self.ltl = self._din(L["tl"])
        self.k_combo = self._in(L["k_combo"]); self.k_over = self._in(L["k_over"]); self.k_off = self._in(L["k_off"])
        self.k_need = self._din(L["k_need"])
        self.ck_off = self._in(L["ck_off"]); self.ck_kind = self._in(L["ck_kind"]); self.ck_h = self._in(L["ck_h"])
        self.ck_k = self._in(L["ck_k"]); self.ck_reason = self._in(L["ck_reason"]); self.ck_lim = self._din(L["ck_lim"])
        self.cn_off = self._in(L["cn_off"]); self.cn_h = self._in(L["cn_h"])
        self.rh_off = self._in(L["rh_off"]); self.rh_h = self._in(L["rh_h"])
        self.rk_off = self._in(L["rk_off"]); self.rk_k = self._in(L["rk_k"])
        self.arh = self._in(L["arh"]); self.n_arh = len(L["arh"])
        self.sb_off = self._in(L["sb_off"]); self.sb_h = self._in(L["sb_h"]); self.sb_lim = self._in(L["sb_lim"])
        self.sb_reason = self._in(L["sb_reason"])
        self.sh_off = self._in(L["sh_off"]); self.sh_h = self._in(L["sh_h"]); self.deny = self._in(L["deny"])
        self.submitted = self._zeros(L["H"])
        self.l_used = self._dzeros(L["H"] * self.T); self.l_run = self._dzeros(L["H"] * self.T)
        self.l_rate = self._dzeros(L["H"] * self.T); self.l_comp = self._dzeros(L["H"] * self.T)
        self.l_jobs = self._dzeros(L["H"])
        self.tracked = self._in(np.full(n, -1, dtype=np.int64))
        self.x_cap = n + 16
        self.x_end = <double*>_grow(NULL, self.x_cap * sizeof(double))
        self.x_j = <i64*>_grow(NULL, self.x_cap * sizeof(i64)); self.x_s = <i64*>_grow(NULL, self.x_cap * sizeof(i64))
        self.xlen = 0
        K = int(L["key"].max()) + 1 if n else 1
        self.lmemo = self._zeros(K); self.lmemo_ep = self._in(np.full(K, -1, dtype=np.int64))
        self.lok = self._zeros(K); self.lok_ep = self._in(np.full(K, -1, dtype=np.int64))
        self.rlimit = self._in(a["rlimit"]); self.lishape = self._in(a["lishape"])
        self.li_s = self._in(a["li_s"]); self.li_n = self._in(a["li_n"])
        S = len(a["li_s"])
        self.lb_pos = self._in(np.full(n, -1, dtype=np.int64)); self.lb_list = self._zeros(n); self.n_lb = 0
        self.li_cnt = self._zeros(S); self.li_act = self._zeros(S); self.n_act = 0
        self.li_apos = self._in(np.full(S, -1, dtype=np.int64))
        self.li_keys = self._zeros(K); self.li_seen = self._in(np.full(S, -1, dtype=np.int64))
        self.li_fit = self._zeros(S); self.li_call = 0
        self.li_total = 0; self.li_unmemo = 0; self.li_rate = 0; self.li_since = 0
        self.win0 = a["win0"]; self.win1 = a["win1"]; self.total_gpus = int(np.sum(a["ngpu"])); self.used_gpus = 0
        self.li_dirty = True; self.li_gpu_s = 0.0

    def __dealloc__(self):
        cdef i64 s, i
        if self.c_raw != NULL:
            for s in range(self.n_shapes):
                free(self.c_raw[s])
                free(self.c_ord[s])
            free(self.c_raw)
            free(self.c_ord)
        if self.res_s != NULL:
            for i in range(self.N):
                free(self.res_s[i])
                free(self.res_e[i])
            free(self.res_s)
            free(self.res_e)
        free(self.ev)
        free(self.h_t); free(self.h_k); free(self.h_s); free(self.h_j)
        free(self.x_end); free(self.x_j); free(self.x_s); free(self.wake_list)

    cdef object _kept(self, object arr, object dtype):
        """arr as a contiguous array of dtype (at least one element), held for the run."""
        arr = np.ascontiguousarray(arr, dtype=dtype)
        if len(arr) == 0:
            arr = np.zeros(1, dtype=dtype)
        self.keep.append(arr)
        return arr

    cdef i64* _in(self, object arr):
        return _ptr(self._kept(arr, np.int64))

    cdef i64* _zeros(self, i64 size):
        return self._in(np.zeros(max(size, 1), dtype=np.int64))

    cdef double* _din(self, object arr):
        return _dptr(self._kept(arr, np.float64))

    cdef double* _dzeros(self, i64 size):
        return self._din(np.zeros(max(size, 1), dtype=np.float64))

    # ------------------------------------------------------------ indexed sets (list + position)

    cdef inline void set_add(self, i64* lst, i64* pos, i64* n, i64 x) noexcept:
        """Add x (pos[x] = -1 when absent) to the unordered list lst[:n]."""
        pos[x] = n[0]
        lst[n[0]] = x
        n[0] += 1

    cdef inline void set_remove(self, i64* lst, i64* pos, i64* n, i64 x) noexcept:
        """Remove x from lst[:n]: the last member takes its place."""
        cdef i64 at = pos[x]
        n[0] -= 1
        lst[at] = lst[n[0]]
        pos[lst[at]] = at
        pos[x] = -1

    # ------------------------------------------------------------ reasons

    cdef inline void set_reason(self, i64 j, i64 r, i64 now) noexcept:
        cdef i64 old = self.reason[j]
        if old != r:
            self.acc[old * self.n + j] += now - self.reason_t[j]
            self.rused[old] = 1
            self.reason[j] = r
            self.reason_t[j] = now
            if self.rlimit[r]:
                if self.lb_pos[j] < 0:
                    self.set_add(self.lb_list, self.lb_pos, &self.n_lb, j)
                    self.li_count(j, 1)
                self.li_dirty = True
            elif self.rlimit[old]:
                if self.lb_pos[j] >= 0:
                    self.set_remove(self.lb_list, self.lb_pos, &self.n_lb, j)
                    self.li_count(j, -1)
                self.li_dirty = True

    # ------------------------------------------------------------ preemption (simcore.preempt)

    cdef inline void place(self, i64 j, i64 p) noexcept:
        """PreemptPolicy.place: under partition_prio a job takes its partition's tier, mode, grace."""
        if self.pkind == P_PARTITION_PRIO:
            self.p_tier[j] = self.pp_tier[p]
            self.p_rank[j] = self.pp_tier[p]
            self.p_mode[j] = self.pp_mode[p]
            self.p_grace[j] = self.pp_grace[p]

    cdef void p_started(self, i64 j, i64 p) noexcept:
        self.place(j, p)
        if self.p_mode[j] != P_OFF and self.vict_pos[j] < 0:
            self.set_add(self.vict_list, self.vict_pos, &self.n_vict, j)
        self.changes += 1

    cdef void p_ended(self, i64 j) noexcept:
        if self.vict_pos[j] >= 0:
            self.set_remove(self.vict_list, self.vict_pos, &self.n_vict, j)
        self.changes += 1

    cdef inline bint cand_before(self, i64 a, i64 b) noexcept:
        """PreemptPolicy.candidates' order: rank, fewest nodes, latest start, job number."""
        cdef i64 na, nb
        if self.p_rank[a] != self.p_rank[b]:
            return self.p_rank[a] < self.p_rank[b]
        na = self.nn[a] if self.nn[a] < 0xFFFF else 0xFFFF
        nb = self.nn[b] if self.nn[b] < 0xFFFF else 0xFFFF
        if na != nb:
            return na < nb
        if self.start_t[a] != self.start_t[b]:
            return self.start_t[a] > self.start_t[b]
        return a < b

    cdef void sort_cands(self, i64 n) noexcept:
        """Merge sort of pc[:n] by cand_before."""
        cdef i64 width = 1, lo, mid, hi, a, b, k
        cdef i64* src = self.pc
        cdef i64* dst = self.pc_tmp
        cdef i64* t
        while width < n:
            lo = 0
            while lo < n:
                mid = lo + width if lo + width < n else n
                hi = lo + 2 * width if lo + 2 * width < n else n
                a = lo; b = mid; k = lo
                while a < mid and b < hi:
                    if self.cand_before(src[b], src[a]):
                        dst[k] = src[b]; b += 1
                    else:
                        dst[k] = src[a]; a += 1
                    k += 1
                while a < mid:
                    dst[k] = src[a]; a += 1; k += 1
                while b < hi:
                    dst[k] = src[b]; b += 1; k += 1
                lo = hi
            t = src; src = dst; dst = t
            width *= 2
        if src != self.pc:
            memcpy(self.pc, src, n * sizeof(i64))

    cdef void lend(self, i64 v, i64 sign) noexcept:
        """EnginePreemption._lend: count running job v's resources as free (+1) or give them back."""
        cdef i64 x, i, off = self.alloc_off[v], c, m, g
        for x in range(self.nn[v]):
            i = self.alloc_nodes[off + x]
            self.share(v, i, self.run_excl[v], &c, &m, &g)
            self.fcpu[i] += sign * c
            self.fmem[i] += sign * m
            self.fgpu[i] += sign * g
            self.run_cnt[i] -= sign         # an exclusive request needs nodes with no job

    cdef i64 lend_prefix(self, i64* lent, i64 k, i64 j, i64 e, i64* out) noexcept:
        """Lend exactly pc[:k]; the preemptor's node choice in its partition then, or -1."""
        cdef i64 x, p = self.epart[e], a = self.pn_off[p]
        for x in range(lent[0], k):
            self.lend(self.pc[x], 1)
        for x in range(k, lent[0]):
            self.lend(self.pc[x], -1)
        lent[0] = k
        return self.select(&self.pn_list[a], self.pn_off[p + 1] - a, self.nn[j], self.cpn[j], self.mpn[j],
                           self.gpn[j], self.jgt[j], self.eexcl[e], out)

    cdef void attempt(self, i64 j, i64 e, i64 now) noexcept:
        """EnginePreemption.attempt: job j found no resources in entry e's partition; signal the
        preemptees that would make room. A futile attempt is not repeated until something changes."""
        cdef i64 p = self.epart[e], before, wake
        if not self.p_could[j]:
            return
        self.place(j, p)
        if self.n_vict == 0:
            return
        if self.fut_j[p] == j and self.fut_ch[p] == self.changes and now < self.fut_wake[p]:
            return
        before = self.changes
        wake = self.attempt_now(j, e, now)
        if self.changes == before:
            self.fut_j[p] = j
            self.fut_ch[p] = before
            self.fut_wake[p] = wake

    cdef i64 attempt_now(self, i64 j, i64 e, i64 now) noexcept:
        """EnginePreemption._attempt; returns when the first exempt candidate stops being exempt."""
        cdef i64 p = self.epart[e], a = self.pn_off[p], x, y, v, nc = 0, wake = NEVER, free_at, k, lo, hi, mid
        cdef i64 lent = 0, nsel
        cdef bint ok, inside
        cdef i64* chosen = self.psel_a
        cdef i64* cur = self.psel_b
        cdef i64* tmp
        for x in range(self.n_vict):
            v = self.vict_list[x]
            if self.sig_rel[v] >= 0:
                continue
            inside = False
            for y in range(self.nn[v]):
                if self.local[p * self.N + self.alloc_nodes[self.alloc_off[v] + y]] >= 0:
                    inside = True
                    break
            if not inside:
                continue
            # PreemptPolicy.can_preempt, then PreemptExemptTime
            if self.p_mode[v] == P_OFF:
                continue
            if self.pkind == P_PARTITION_PRIO:
                ok = self.p_tier[v] < self.p_tier[j]
            else:
                ok = self.p_qmat[self.p_qos[j] * self.nq + self.p_qos[v]] != 0
            if not ok:
                continue
            free_at = self.start_t[v] + self.p_exempt[v]
            if free_at > now:
                if free_at < wake:
                    wake = free_at
                continue
            self.pc[nc] = v
            nc += 1
        if wake < NEVER:
            self.p_wake(wake)
        if nc == 0:
            return wake
        self.sort_cands(nc)
        for x in range(self.n_sig):               # already on their way out: count them as free
            self.lend(self.sig_list[x], 1)
        k = self.select(&self.pn_list[a], self.pn_off[p + 1] - a, self.nn[j], self.cpn[j], self.mpn[j],
                        self.gpn[j], self.jgt[j], self.eexcl[e], cur)
        hi = -1
        if k < 0:
            # the shortest prefix of the candidates that makes the job fit (fitting is monotone
            # in the prefix length, so a bisection finds what walking them one by one would)
            lo = 0
            hi = nc
            nsel = self.lend_prefix(&lent, hi, j, e, chosen)
            if nsel < 0:
                hi = -1
            while hi > 0 and hi - lo > 1:
                mid = (lo + hi) // 2
                k = self.lend_prefix(&lent, mid, j, e, cur)
                if k < 0:
                    lo = mid
                else:
                    hi = mid
                    nsel = k
                    tmp = chosen; chosen = cur; cur = tmp
        for x in range(self.n_sig):
            self.lend(self.sig_list[x], -1)
        for x in range(lent):
            self.lend(self.pc[x], -1)
        if hi < 0:
            return wake
        self.mark_id += 1
        for x in range(nsel):
            self.pmark[chosen[x]] = self.mark_id
        for x in range(hi):
            v = self.pc[x]
            for y in range(self.nn[v]):
                if self.pmark[self.alloc_nodes[self.alloc_off[v] + y]] == self.mark_id:
                    self.signal(v, now)
                    break
        return wake

    cdef void p_wake(self, i64 t) noexcept:
        """EnginePreemption._wake: the schedulers run at t (an exempt candidate's time runs out)."""
        cdef i64 x
        for x in range(self.n_wake):
            if self.wake_list[x] == t:
                return
        if self.n_wake == self.wake_cap:
            self.wake_cap *= 2
            self.wake_list = <i64*>_grow(self.wake_list, self.wake_cap * sizeof(i64))
        self.wake_list[self.n_wake] = t
        self.n_wake += 1
        self.seq += 1
        self.h_push(t, EV_ELIGIBLE, self.seq, -1)

    cdef void signal(self, i64 v, i64 now) noexcept:
        cdef i64 release = now + self.p_grace[v]
        if release >= self.end_t[v]:
            return                              # it ends by itself within its grace time
        self.sig_rel[v] = release
        self.sig_list[self.n_sig] = v
        self.n_sig += 1
        self.changes += 1
        self.preempt_n[v] += 1
        self.seq += 1
        self.h_push(release, EV_PREEMPT, self.seq, v)

    cdef int release(self, i64 v, i64 now) except -1:
        """EnginePreemption.release: grace time over, cancel or requeue job v; 1 if cancelled."""
        cdef i64 x, rel = self.sig_rel[v], progress, kept
        self.changes += 1
        if rel >= 0:
            self.sig_rel[v] = -1
            for x in range(self.n_sig):          # in signal order, as the Python dict keeps them
                if self.sig_list[x] == v:
                    self.n_sig -= 1
                    memmove(&self.sig_list[x], &self.sig_list[x + 1], (self.n_sig - x) * sizeof(i64))
                    break
        if rel != now or self.state[v] != RUNNING:
            return 0
        self.segments.append((self.start_t[v], now, self.alloc_gpus[v], self.alloc_cpus[v]))
        progress = self.saved_p[v] + (now - self.start_t[v])
        kept = progress // self.ckpt[v] * self.ckpt[v] if self.ckpt[v] > 0 else 0
        self.lost[v] += <double>((progress - kept) * self.alloc_gpus[v])
        self.cur_end[v] = -1                     # its end and overrun events are stale
        self.cur_over[v] = -1
        self.end_t[v] = now
        if self.p_mode[v] == P_CANCEL:
            self.end(v, now)
            self.end_code[v] = END_PREEMPTED
            return 1
        # REQUEUE: free the resources like an end, the job stays submitted
        self.saved_p[v] = kept
        self.requeued[v] = 1
        self.end(v, now)
        self.state[v] = PENDING
        self.end_code[v] = 0
        self.rt[v] = self.rt0[v] - kept
        self.elig[v] = now + REQUEUE_HOLD_S
        self.set_reason(v, self.r_begin, now)
        self.seq += 1
        self.h_push(now + REQUEUE_HOLD_S, EV_ELIGIBLE, self.seq, v)
        return 0

    cdef int p_eligible(self, i64 v, i64 now) except -1:
        """EnginePreemption.eligible: the requeue hold is over (v < 0: a wake-up only)."""
        cdef i64 x
        if v < 0:
            for x in range(self.n_wake):
                if self.wake_list[x] == now:
                    self.n_wake -= 1
                    self.wake_list[x] = self.wake_list[self.n_wake]
                    break
            self.dirty_main = 1
            self.dirty_bf = 1
            return 0
        self.set_reason(v, R_PRIORITY, now)
        self.state[v] = 0
        self.submit(v, now)
        self.dirty_main = 1
        self.dirty_bf = 1
        return 0

    # ------------------------------------------------------------ limits (simcore.limits.Limits)

    cdef void li_count(self, i64 j, i64 d) noexcept:
        """Engine._li_count: job j joins (d=+1) or leaves (-1) the limit-held jobs."""
        cdef i64 s, k
        if not self.gpn[j] or not self.l_on:
            return
        s = self.lishape[j]
        k = self.lkey[j]
        self.li_cnt[s] += d
        if self.li_cnt[s] == d and d > 0:
            self.set_add(self.li_act, self.li_apos, &self.n_act, s)
        elif self.li_cnt[s] == 0:
            self.set_remove(self.li_act, self.li_apos, &self.n_act, s)
        self.li_keys[k] += d
        self.li_total += d
        if self.lmemo_ep[k] != self.memo_ep:
            self.li_unmemo += d

    cdef inline bint x_less(self, i64 a, i64 b) noexcept:
        if self.x_end[a] != self.x_end[b]:
            return self.x_end[a] < self.x_end[b]
        if self.x_j[a] != self.x_j[b]:
            return self.x_j[a] < self.x_j[b]
        return self.x_s[a] < self.x_s[b]

    cdef inline void x_swap(self, i64 a, i64 b) noexcept:
        cdef double t = self.x_end[a]
        self.x_end[a] = self.x_end[b]; self.x_end[b] = t
        self.x_j[a], self.x_j[b] = self.x_j[b], self.x_j[a]
        self.x_s[a], self.x_s[b] = self.x_s[b], self.x_s[a]

    cdef void x_push(self, double end, i64 j, i64 start) noexcept:
        cdef i64 k = self.xlen, parent
        if k == self.x_cap:       # a requeued job books again; stale bookings wait for their tick
            self.x_cap *= 2
            self.x_end = <double*>_grow(self.x_end, self.x_cap * sizeof(double))
            self.x_j = <i64*>_grow(self.x_j, self.x_cap * sizeof(i64))
            self.x_s = <i64*>_grow(self.x_s, self.x_cap * sizeof(i64))
        self.x_end[k] = end; self.x_j[k] = j; self.x_s[k] = start
        self.xlen += 1
        while k > 0:
            parent = (k - 1) >> 1
            if not self.x_less(k, parent):
                break
            self.x_swap(k, parent)
            k = parent

    cdef void x_pop(self) noexcept:
        cdef i64 k = 0, c
        self.xlen -= 1
        self.x_swap(0, self.xlen)
        while True:
            c = 2 * k + 1
            if c >= self.xlen:
                break
            if c + 1 < self.xlen and self.x_less(c + 1, c):
                c += 1
            if not self.x_less(c, k):
                break
            self.x_swap(c, k)
            k = c

    cdef void l_sync(self, i64 now) noexcept:
        """Limits._sync: apply the PriorityCalcPeriod ticks up to now to run-minute usage."""
        cdef i64 tick = now // self.period * self.period, dt, x, y, h, idx, j, st
        cdef double r, end
        self.next_tick = tick + self.period
        if tick <= self.last_tick:
            return
        if self.n_tracked:
            dt = tick - self.last_tick
            for x in range(self.n_arh):
                h = self.arh[x]
                for y in range(self.rk_off[h], self.rk_off[h + 1]):
                    idx = h * self.T + self.rk_k[y]
                    r = self.l_rate[idx]
                    if r != 0 or self.l_comp[idx] != 0:
                        self.l_run[idx] -= r * <double>dt - self.l_comp[idx]
                        self.l_comp[idx] = 0.0
            while self.xlen and self.x_end[0] <= <double>tick:
                end = self.x_end[0]; j = self.x_j[0]; st = self.x_s[0]
                self.x_pop()
                if self.tracked[j] != st:
                    continue
                self.tracked[j] = -1
                self.n_tracked -= 1
                self.l_book(j, -1.0, <double>tick - end, 0.0)
        self.last_tick = tick

    cdef void l_book(self, i64 j, double sign, double run, double comp) noexcept:
        """Limits._book: job j's TRES join (+1) or leave (-1) its run-minute holders' count-down."""
        cdef i64 c = self.lcombo[j], x, y, h, idx
        cdef double v
        for x in range(self.rh_off[c], self.rh_off[c + 1]):
            h = self.rh_h[x]
            for y in range(self.rk_off[h], self.rk_off[h + 1]):
                v = self.lreq[j * self.T + self.rk_k[y]]
                if v != 0:
                    idx = h * self.T + self.rk_k[y]
                    self.l_rate[idx] += sign * v
                    self.l_run[idx] += v * run
                    self.l_comp[idx] += v * comp
                    if fabs(self.l_rate[idx]) < EPS:
                        self.l_rate[idx] = 0.0

    cdef i64 l_submit(self, i64 j) noexcept:
        """Limits.on_submit: the rejecting reason, or -1 (then the job counts as submitted)."""
        cdef i64 c = self.lcombo[j], x
        if self.requeued[j]:                # a requeued job stays submitted
            self.requeued[j] = 0
            return -1
        if self.deny[c] and self.lover[j] >= 0:
            return self.lover[j]
        for x in range(self.sb_off[c], self.sb_off[c + 1]):
            if self.submitted[self.sb_h[x]] + 1 > self.sb_lim[x]:
                return self.sb_reason[x]
        for x in range(self.sh_off[c], self.sh_off[c + 1]):
            self.submitted[self.sh_h[x]] += 1
        return -1

    cdef void l_count(self, i64 j, double sign) noexcept:
        """Job j's TRES and job count join (+1) or leave (-1) its counted holders' usage."""
        cdef i64 c = self.lcombo[j], x, h, k
        cdef double v
        for x in range(self.cn_off[c], self.cn_off[c + 1]):
            h = self.cn_h[x]
            self.l_jobs[h] += sign
            for k in range(self.T):
                v = self.lreq[j * self.T + k]
                if v != 0:
                    self.l_used[h * self.T + k] += sign * v

    cdef void l_start(self, i64 j, i64 now) noexcept:
        cdef i64 c = self.lcombo[j]
        self.l_count(j, 1.0)
        if self.rh_off[c] != self.rh_off[c + 1]:
            self.l_sync(now)
            # the whole time limit is booked; the next tick counts down only from the start
            self.l_book(j, 1.0, self.ltl[j], <double>(now - self.last_tick))
            self.tracked[j] = now
            self.n_tracked += 1
            self.x_push(<double>now + self.ltl[j], j, now)

    cdef void l_end(self, i64 j, i64 now) noexcept:
        cdef i64 c = self.lcombo[j], x, st
        self.l_count(j, -1.0)
        if self.rh_off[c] != self.rh_off[c + 1]:
            self.l_sync(now)
            st = self.tracked[j]
            if st >= 0:
                self.tracked[j] = -1
                self.n_tracked -= 1
                if st > self.last_tick:     # no tick since its start: the whole booking goes
                    self.l_book(j, -1.0, -self.ltl[j], -<double>(st - self.last_tick))
                else:                       # what the ticks since its start left of it
                    self.l_book(j, -1.0, -(self.ltl[j] - <double>(self.last_tick - st)), 0.0)
        if not self.requeued[j]:
            for x in range(self.sh_off[c], self.sh_off[c + 1]):
                self.submitted[self.sh_h[x]] -= 1

    cdef i64 blocking(self, i64 key, i64 now) noexcept:
        """Limits.blocking_reason for the jobs of a limits key: the first limit that keeps them
        waiting, or -1 (k_need is NaN for a TRES they do not request: that comparison fails)."""
        cdef i64 c, x, h, kind, y
        if self.k_over[key] >= 0:
            return self.k_over[key]
        c = self.k_combo[key]
        if self.ck_off[c] == self.ck_off[c + 1]:
            return -1
        if now >= self.next_tick:
            self.l_sync(now)
        y = self.k_off[key]
        for x in range(self.ck_off[c], self.ck_off[c + 1]):
            h = self.ck_h[x]
            kind = self.ck_kind[x]
            if kind == CK_JOBS:
                if self.l_jobs[h] + 1 > self.ck_lim[x]:
                    return self.ck_reason[x]
            elif kind == CK_TRES:
                if self.l_used[h * self.T + self.ck_k[x]] + self.k_need[y] > self.ck_lim[x] + EPS:
                    return self.ck_reason[x]
            elif self.l_run[h * self.T + self.ck_k[x]] + self.k_need[y] > self.ck_lim[x] + EPS:
                return self.ck_reason[x]
            y += 1
        return -1

    cdef i64 limit_reason(self, i64 j, i64 now) noexcept:
        """Engine.limit_reason: blocking() remembered per limits key, "blocked" until a job ends or
        a limits tick, "not blocked" until a job starts or the next tick."""
        cdef i64 key = self.lkey[j], r
        if self.lmemo_ep[key] == self.memo_ep:
            return self.lmemo[key]
        if self.lok_ep[key] == self.ok_ep and self.lok[key] > now:
            return -1
        r = self.blocking(key, now)
        if r >= 0:
            self.lmemo[key] = r
            self.lmemo_ep[key] = self.memo_ep
            self.li_unmemo -= self.li_keys[key]
        else:
            self.lok[key] = self.next_tick
            self.lok_ep[key] = self.ok_ep
        return r

    cdef bint li_fits(self, i64 s) noexcept:
        """Whether li_n[s] nodes of the shape's partition take its per-node share now."""
        cdef i64 ks = self.li_s[s], n = self.li_n[s], p = self.sp[ks]
        if self.pn_off[p + 1] - self.pn_off[p] < n:
            return False
        return self.shape_order(ks)[2 * (n - 1)] < 0

    cdef void limit_idle(self, i64 now) noexcept:
        """Engine._limit_idle: integrate GPUs left idle while a job that would fit them pends only
        because of a limit; the rate is recomputed only when something it depends on changed."""
        cdef i64 lo = self.li_since if self.li_since > self.win0 else self.win0
        cdef i64 hi = now if now < self.win1 else self.win1, free, want = 0, x, s, j
        if hi > lo:
            self.li_gpu_s += <double>(self.li_rate * (hi - lo))
        self.li_since = now
        if not self.li_dirty:
            return
        self.li_dirty = False
        free = self.total_gpus - self.used_gpus
        if free and self.l_on and not self.li_unmemo:
            for x in range(self.n_act):      # every held job's answer is memoised: per shape
                s = self.li_act[x]
                if self.li_fits(s):
                    want += self.li_cnt[s] * self.sg[self.li_s[s]] * self.li_n[s]
        elif free and self.l_on:
            self.li_call += 1
            for x in range(self.n_lb):
                j = self.lb_list[x]
                if self.state[j] != PENDING or not self.gpn[j]:
                    continue
                # asked without remembering the answer (see Engine._limit_idle)
                if self.lmemo_ep[self.lkey[j]] != self.memo_ep and self.blocking(self.lkey[j], now) < 0:
                    continue
                s = self.lishape[j]
                if self.li_seen[s] != self.li_call:
                    self.li_seen[s] = self.li_call
                    self.li_fit[s] = self.li_fits(s)
                if self.li_fit[s]:
                    want += self.gpn[j] * self.nn[j]
                    if want >= free:
                        break
        self.li_rate = free if want > free else want

    # ------------------------------------------------------------ heap of ends and overrun marks

    cdef inline bint h_less(self, i64 a, i64 b) noexcept:
        if self.h_t[a] != self.h_t[b]:
            return self.h_t[a] < self.h_t[b]
        if self.h_k[a] != self.h_k[b]:
            return self.h_k[a] < self.h_k[b]
        return self.h_s[a] < self.h_s[b]

    cdef inline void h_swap(self, i64 a, i64 b) noexcept:
        self.h_t[a], self.h_t[b] = self.h_t[b], self.h_t[a]
        self.h_k[a], self.h_k[b] = self.h_k[b], self.h_k[a]
        self.h_s[a], self.h_s[b] = self.h_s[b], self.h_s[a]
        self.h_j[a], self.h_j[b] = self.h_j[b], self.h_j[a]

    cdef void h_push(self, i64 t, i64 kind, i64 s, i64 j) noexcept:
        cdef i64 k = self.hlen, parent
        if k == self.h_cap:       # preemption adds events beyond a start's two
            self.h_cap *= 2
            self.h_t = <i64*>_grow(self.h_t, self.h_cap * sizeof(i64))
            self.h_k = <i64*>_grow(self.h_k, self.h_cap * sizeof(i64))
            self.h_s = <i64*>_grow(self.h_s, self.h_cap * sizeof(i64))
            self.h_j = <i64*>_grow(self.h_j, self.h_cap * sizeof(i64))
        self.hlen += 1
        self.h_t[k] = t; self.h_k[k] = kind; self.h_s[k] = s; self.h_j[k] = j
        while k > 0:
            parent = (k - 1) >> 1
            if not self.h_less(k, parent):
                break
            self.h_swap(k, parent)
            k = parent

    cdef void h_pop(self) noexcept:
        cdef i64 k = 0, c, last
        self.hlen -= 1
        last = self.hlen
        if last == 0:
            return
        self.h_t[0] = self.h_t[last]; self.h_k[0] = self.h_k[last]
        self.h_s[0] = self.h_s[last]; self.h_j[0] = self.h_j[last]
        while True:
            c = 2 * k + 1
            if c >= last:
                break
            if c + 1 < last and self.h_less(c + 1, c):
                c += 1
            if not self.h_less(c, k):
                break
            self.h_swap(k, c)
            k = c

    # ------------------------------------------------------------ nodes

    cdef inline bint could_ever_fit(self, i64 i, i64 c, i64 m, i64 g, i64 gt) noexcept:
        return ((gt == 0 or self.ngt[i] == gt) and self.ncpu[i] >= c and self.nmem[i] >= m
                and self.ngpu[i] >= g)

    cdef inline bint fits(self, i64 i, i64 c, i64 m, i64 g, i64 gt, i64 ex) noexcept:
        if gt != 0 and self.ngt[i] != gt:
            return False
        if ex:
            return self.run_cnt[i] == 0 and self.ncpu[i] >= c and self.nmem[i] >= m and self.ngpu[i] >= g
        return self.fcpu[i] >= c and self.fmem[i] >= m and self.fgpu[i] >= g

    cdef inline bint sel_before(self, i64 a, i64 b) noexcept:
        """nodes.select's multi-node order: Weight, free CPUs, node."""
        if self.nweight[a] != self.nweight[b]:
            return self.nweight[a] < self.nweight[b]
        if self.fcpu[a] != self.fcpu[b]:
            return self.fcpu[a] < self.fcpu[b]
        return a < b

    cdef i64 select(self, i64* cands, i64 nc, i64 n, i64 c, i64 m, i64 g, i64 gt, i64 ex, i64* out) noexcept:
        """nodes.select: n nodes of `cands` (in Weight order) into out; returns n, or -1."""
        cdef i64 k, i, best = -1, best_key = 0, level = 0, have_level = 0, nf = 0, x, y
        if n == 1:
            for k in range(nc):
                i = cands[k]
                if have_level and self.nweight[i] != level:
                    break
                if not self.fits(i, c, m, g, gt, ex):
                    continue
                if best < 0 or self.fcpu[i] < best_key:
                    best = i
                    best_key = self.fcpu[i]
                    level = self.nweight[i]
                    have_level = 1
            if best < 0:
                return -1
            out[0] = best
            return 1
        for k in range(nc):
            i = cands[k]
            if self.fits(i, c, m, g, gt, ex):
                self.feas[nf] = i
                nf += 1
        if nf < n:
            return -1
        for x in range(1, nf):          # insertion sort: candidate lists are short
            i = self.feas[x]
            y = x - 1
            while y >= 0 and self.sel_before(i, self.feas[y]):
                self.feas[y + 1] = self.feas[y]
                y -= 1
            self.feas[y + 1] = i
        for k in range(n):
            out[k] = self.feas[k]
        return n

    cdef void touch(self, i64* nodes, i64 k) noexcept:
        cdef i64 x
        for x in range(k):
            self.nchg += 1
            self.stamp[nodes[x]] = self.nchg

    # ------------------------------------------------------------ events

    cdef inline bint before(self, i64 a, i64 pa, i64 b, i64 pb) noexcept:
        """Engine.queue_key(a) < queue_key(b) with priorities pa, pb: PriorityTier desc, priority
        desc, submit, job, then the order the job listed its partitions (its entries' order)."""
        cdef i64 ja, jb, ta, tb
        if not self.dyn:
            return self.erank[a] < self.erank[b]
        ta = self.ptier[self.epart[a]]
        tb = self.ptier[self.epart[b]]
        if ta != tb:
            return ta > tb
        if pa != pb:
            return pa > pb
        ja = self.ejob[a]
        jb = self.ejob[b]
        if self.sub[ja] != self.sub[jb]:
            return self.sub[ja] < self.sub[jb]
        return a < b           # entries are numbered by job, then by the job's partition order

    cdef inline i64 queue_pos(self, i64 e) noexcept:
        """Where entry e is, or goes, in the sorted queue (at its job's current priority)."""
        cdef i64 lo = 0, hi = self.qlen, mid, x, p = self.prio[self.ejob[e]]
        while lo < hi:
            mid = (lo + hi) >> 1
            x = self.queue[mid]
            if self.before(x, self.prio[self.ejob[x]], e, p):
                lo = mid + 1
            else:
                hi = mid
        return lo

    cdef bint sort_entries(self, i64* es, i64* ps, i64 n) noexcept:
        """Stable natural merge sort of entries es (priorities ps) by before(); whether the order
        changed (before() is a strict total order, so only an unsorted input changes). A queue
        re-keyed by a recalculation is mostly in order already, so it is a few runs to merge
        (O(n log runs), as Python's sort of the Python engine's queue)."""
        cdef i64 nr = 0, x, r, lo, mid, hi, a, b, k, out
        cdef i64* bound = self.q_runs     # run r is [bound[r], bound[r + 1])
        cdef i64* src_e = es
        cdef i64* src_p = ps
        cdef i64* dst_e = self.q_tmp
        cdef i64* dst_p = self.q_tmp_p
        cdef i64* t
        bound[0] = 0
        for x in range(1, n):
            if self.before(es[x], ps[x], es[x - 1], ps[x - 1]):
                nr += 1
                bound[nr] = x
        nr += 1
        bound[nr] = n
        if nr == 1:
            return False
        while nr > 1:
            out = 0
            for r in range(0, nr, 2):
                lo = bound[r]
                if r + 1 == nr:              # an odd run out: copied over as it is
                    memcpy(&dst_e[lo], &src_e[lo], (n - lo) * sizeof(i64))
                    memcpy(&dst_p[lo], &src_p[lo], (n - lo) * sizeof(i64))
                    bound[out] = lo
                    out += 1
                    break
                mid = bound[r + 1]
                hi = bound[r + 2]
                a = lo; b = mid; k = lo
                while a < mid and b < hi:
                    if self.before(src_e[b], src_p[b], src_e[a], src_p[a]):
                        dst_e[k] = src_e[b]; dst_p[k] = src_p[b]; b += 1
                    else:
                        dst_e[k] = src_e[a]; dst_p[k] = src_p[a]; a += 1
                    k += 1
                if a < mid:
                    memcpy(&dst_e[k], &src_e[a], (mid - a) * sizeof(i64))
                    memcpy(&dst_p[k], &src_p[a], (mid - a) * sizeof(i64))
                if b < hi:
                    memcpy(&dst_e[k], &src_e[b], (hi - b) * sizeof(i64))
                    memcpy(&dst_p[k], &src_p[b], (hi - b) * sizeof(i64))
                bound[out] = lo
                out += 1
            bound[out] = n
            nr = out
            t = src_e; src_e = dst_e; dst_e = t
            t = src_p; src_p = dst_p; dst_p = t
        if src_e != es:
            memcpy(es, src_e, n * sizeof(i64))
            memcpy(ps, src_p, n * sizeof(i64))
        return True

    # ------------------------------------------------------------ changing priorities

    cdef int fs_refresh(self, i64 now) except -1:
        """EnginePriority.refresh: the fair-share factors at `now`."""
        self.fsu.factors(now, self.fs)
        self.refreshed = now
        return 0

    cdef void fs_start(self, i64 j, i64 now) noexcept:
        """EnginePriority._started: the billable TRES of the allocation (allocated CPUs and GPUs,
        requested memory) x QOS UsageFactor start counting for the job's association."""
        cdef double bill, nodes = <double>self.nn[j], gpus = <double>self.alloc_gpus[j]
        if self.bill_cpus:
            bill = <double>self.alloc_cpus[j]
        else:
            bill = (self.bw_cpu * <double>self.alloc_cpus[j] + self.bw_mem * <double>self.mpn[j] * nodes
                    + self.bw_node * nodes + self.bw_gpu * gpus)
            if self.bw_typed[j] != 0:
                bill = bill + self.bw_typed[j] * gpus
        self.fs_rate[j] = bill * self.ufactor[j]
        if self.fs_rate[j] != 0:
            self.fsu.change(self.jassoc[j], self.fs_rate[j], now)

    cdef void fs_end(self, i64 j, i64 now) noexcept:
        """EnginePriority.on_end."""
        if self.fs_rate[j] != 0:
            self.fsu.change(self.jassoc[j], -self.fs_rate[j], now)
            self.fs_rate[j] = 0.0

    cdef i64 compute(self, i64 j, i64 now, bint at_submit) noexcept:
        """Priorities.compute for one job (the same float operations as its numpy form), or
        Priorities.initial at submit: that one adds no age when PriorityMaxAge is 0."""
        cdef double p = self.pstatic[j], w, age
        if not self.multifactor:
            return 1
        if self.w_age != 0 and (self.max_age > 0 or not at_submit):
            if self.max_age > 0:
                w = <double>now - <double>self.elig[j]
                if w < 0:
                    w = 0.0
                age = w / self.max_age
                if age > 1.0:
                    age = 1.0
            else:
                age = 1.0
            p = p + self.w_age * age
        if self.fs_on:
            p = p + self.w_fs * self.fs[self.jassoc[j]]
        p = floor(p)
        return <i64>p if p > 1.0 else 1

    cdef int recalc(self, i64 now) except -1:
        """EnginePriority.recalc: new priorities for the pending jobs, the queue re-sorted; 1 if its
        order changed (a uniform rise by age changes priorities, not the order)."""
        cdef i64 q, e, j
        cdef bint changed = False
        if self.fs_on:
            self.fs_refresh(now)
        if self.qlen == 0:
            return 0
        for q in range(self.qlen):
            j = self.ejob[self.queue[q]]
            self.q_p[q] = self.compute(j, now, False)
            if self.q_p[q] != self.prio[j]:
                changed = True
        if not changed:
            return 0
        for q in range(self.qlen):
            self.prio[self.ejob[self.queue[q]]] = self.q_p[q]
        return self.sort_entries(self.queue, self.q_p, self.qlen)

    cdef int submit(self, i64 j, i64 now) except -1:
        cdef i64 e, r, lo, tick
        if self.reject[j]:
            self.state[j] = REJECTED
            self.end_code[j] = END_REJECTED
            return 0
        if self.l_conf:
            r = self.l_submit(j)
            if r >= 0:                      # a submit limit (or DenyOnLimit) rejects it
                self.state[j] = REJECTED
                self.end_code[j] = END_REJECTED
                self.reason[j] = r
                return 0
        self.state[j] = PENDING
        self.reason_t[j] = now
        self.reason[j] = self.init_reason[j]
        self.n_pending += 1
        if self.dyn:
            tick = now // self.p_period * self.p_period
            if self.fs_on and tick > self.refreshed:
                self.fs_refresh(tick)
            self.prio[j] = self.compute(j, now, True)
        for e in range(self.ent_off[j], self.ent_off[j + 1]):
            lo = self.queue_pos(e)
            memmove(&self.queue[lo + 1], &self.queue[lo], (self.qlen - lo) * sizeof(i64))
            self.queue[lo] = e
            self.qlen += 1
            self.part_pending[self.epart[e]] += 1
            if self.n_new == self.n_ent:      # requeued jobs queue again: more entries than there
                self.n_new = 0                # are can come between passes; the next one replans
                self.resumable = 0            # (the same plan: resuming is exact, not different)
            self.new_e[self.n_new] = e
            self.new_p[self.n_new] = self.prio[j]
            self.n_new += 1
        return 0

    cdef inline void share(self, i64 j, i64 i, i64 ex, i64* c, i64* m, i64* g) noexcept:
        """Job j's CPUs, MB and GPUs on node i: the whole node when it runs exclusive."""
        if ex:
            c[0] = self.ncpu[i]; m[0] = self.nmem[i]; g[0] = self.ngpu[i]
        else:
            c[0] = self.cpn[j]; m[0] = self.mpn[j]; g[0] = self.gpn[j]

    cdef void start(self, i64 j, i64 e, i64* chosen, i64 k, i64 now, i64 by) noexcept:
        cdef i64 x, i, cc, mm, gg, cpus = 0, gpus = 0, L, run, kill, end, end_seq
        cdef i64 ex = self.eexcl[e]
        if self.n_alloc + k > self.alloc_cap:      # a requeued job's next run needs a new block
            self.alloc_cap = 2 * self.alloc_cap + k
            grown = np.zeros(self.alloc_cap, dtype=np.int64)
            grown[:self.n_alloc] = self.alloc_nodes_a[:self.n_alloc]
            self.alloc_nodes_a = grown
            self.alloc_nodes = _ptr(grown)
        for x in range(k):
            i = chosen[x]
            self.share(j, i, ex, &cc, &mm, &gg)
            self.fcpu[i] -= cc
            self.fmem[i] -= mm
            self.fgpu[i] -= gg
            self.run_list[self.run_off[i] + self.run_cnt[i]] = j
            self.run_cnt[i] += 1
            cpus += cc
            gpus += gg
            self.alloc_nodes[self.n_alloc + x] = i
        self.alloc_off[j] = self.n_alloc
        self.n_alloc += k
        self.alloc_cpus[j] = cpus
        self.alloc_gpus[j] = gpus
        self.used_gpus += gpus
        self.li_dirty = True
        self.ok_ep += 1                     # limit_ok.clear()
        self.run_excl[j] = ex
        self.state[j] = RUNNING
        self.n_pending -= 1
        for x in range(self.ent_off[j], self.ent_off[j + 1]):
            self.part_pending[self.epart[x]] -= 1
        self.started[self.n_started] = j
        self.n_started += 1
        self.start_t[j] = now
        self.ran_e[j] = e
        self.started_by[j] = by
        self.set_reason(j, R_NONE, now)
        L = self.etl[e]
        self.limit_used[j] = L
        run = self.rt[j]
        kill = now + L + self.otl
        if now + run <= kill:
            end = now + run
            self.end_code[j] = END_COMPLETED
        else:
            end = (kill + TIMEOUT_CHECK - 1) // TIMEOUT_CHECK * TIMEOUT_CHECK
            self.end_code[j] = END_TIMEOUT
        self.end_t[j] = end
        self.seq += 1
        self.h_push(end, EV_END, self.seq, j)
        self.cur_end[j] = self.seq
        self.cur_over[j] = -1
        if end > now + L:
            self.seq += 1
            self.h_push(now + L, EV_OVERRUN, self.seq, j)
            self.cur_over[j] = self.seq
        if self.pre_on:
            self.p_started(j, self.epart[e])
        if self.l_conf:
            self.l_start(j, now)
        if self.fs_on:
            self.fs_start(j, now)
        self.resumable = 0
        if by == BY_MAIN:
            self.dirty_bf = 1
        else:
            self.dirty_main = 1
        self.touch(chosen, k)

    cdef void end(self, i64 j, i64 now) noexcept:
        cdef i64 x, i, y, cc, mm, gg, k = self.nn[j], off = self.alloc_off[j], base
        cdef i64 ex = self.run_excl[j]
        for x in range(k):
            i = self.alloc_nodes[off + x]
            self.share(j, i, ex, &cc, &mm, &gg)
            self.fcpu[i] += cc
            self.fmem[i] += mm
            self.fgpu[i] += gg
            base = self.run_off[i]
            for y in range(self.run_cnt[i]):
                if self.run_list[base + y] == j:
                    self.run_cnt[i] -= 1
                    self.run_list[base + y] = self.run_list[base + self.run_cnt[i]]
                    break
        self.used_gpus -= self.alloc_gpus[j]
        self.li_dirty = True
        self.state[j] = DONE
        if self.overran[j]:          # past its time limit (a preemption can end it exactly there)
            self.overran[j] = 0
            self.overrunning -= 1
        if self.l_conf:
            self.l_end(j, now)
        if self.fs_on:
            self.fs_end(j, now)
        if self.pre_on:
            self.p_ended(j)
        self.epoch += 1
        self.memo_ep += 1                   # limit_memo.clear()
        self.li_unmemo = self.li_total
        self.resumable = 0
        self.dirty_main = 1
        self.dirty_bf = 1
        self.touch(&self.alloc_nodes[off], k)

    cdef void drop_started(self) noexcept:
        cdef i64 x, j, e, lo
        for x in range(self.n_started):
            j = self.started[x]
            for e in range(self.ent_off[j], self.ent_off[j + 1]):
                lo = self.queue_pos(e)
                memmove(&self.queue[lo], &self.queue[lo + 1], (self.qlen - lo - 1) * sizeof(i64))
                self.qlen -= 1
        self.n_started = 0

    # ------------------------------------------------------------ main scheduler

    cdef void main_pass(self, i64 now, bint full) noexcept:
        cdef i64 depth = NEVER if full else self.depth
        cdef i64 examined = 0, n_blocked = 0, live = 0, q, e, j, p, r, k, nc, x, i, a, b
        cdef i64 n_bnodes = 0
        self.passes_main += 1
        for p in range(self.P):
            self.blocked_part[p] = 0
            self.tainted[p] = 0
            if self.part_pending[p]:
                live += 1
        for q in range(self.qlen):
            e = self.queue[q]
            j = self.ejob[e]
            if self.state[j] != PENDING:
                continue
            if self.estatic[e] >= 0:
                self.set_reason(j, self.estatic[e], now)
                continue
            examined += 1
            if examined > depth:
                break
            p = self.epart[e]
            if self.blocked_part[p]:
                if n_blocked >= live:
                    examined = 0
                    break
                r = self.reason[j]
                if r == R_NONE or r == R_RESOURCES:
                    self.set_reason(j, R_PRIORITY, now)
                continue
            if self.l_on:
                r = self.limit_reason(j, now)
                if r >= 0:
                    if self.reason[j] != r:
                        self.set_reason(j, r, now)
                    continue
            k = -1
            a = self.pn_off[p]
            b = self.pn_off[p + 1]
            if self.tainted[p]:
                nc = 0
                for x in range(a, b):
                    i = self.pn_list[x]
                    if not self.blocked_node[i]:
                        self.cand[nc] = i
                        nc += 1
                k = self.select(self.cand, nc, self.nn[j], self.cpn[j], self.mpn[j], self.gpn[j],
                                self.jgt[j], self.eexcl[e], self.chosen)
            elif self.efail[e] != self.epoch:
                k = self.select(&self.pn_list[a], b - a, self.nn[j], self.cpn[j], self.mpn[j], self.gpn[j],
                                self.jgt[j], self.eexcl[e], self.chosen)
                if k < 0:
                    self.efail[e] = self.epoch
            if k < 0:
                if self.pre_on:
                    self.attempt(j, e, now)
                self.set_reason(j, R_RESOURCES, now)
                self.blocked_part[p] = 1
                n_blocked += 1
                for x in range(a, b):
                    i = self.pn_list[x]
                    if not self.blocked_node[i]:
                        self.blocked_node[i] = 1
                        self.bnodes[n_bnodes] = i
                        n_bnodes += 1
                for x in range(self.P):
                    if self.overlap[p * self.P + x]:
                        self.tainted[x] = 1
                continue
            self.start(j, e, self.chosen, k, now, BY_MAIN)
        for x in range(n_bnodes):
            self.blocked_node[self.bnodes[x]] = 0
        if examined <= depth:
            self.dirty_main = 0

    # ------------------------------------------------------------ backfill: per-shape node orders

    cdef i64 raw_time(self, i64 i, i64 s) noexcept:
        """-1: shape s fits on node i now; else the planned end after which it fits; NEVER."""
        cdef i64 c = self.sc[s], m = self.sm[s], g = self.sg[s], gt = self.sgt[s]
        cdef i64 x, y, jj, base, cnt, best, fc, fm, fg, t, pe, lo
        if not self.could_ever_fit(i, c, m, g, gt):
            return NEVER
        base = self.run_off[i]
        cnt = self.run_cnt[i]
        if self.sx[s]:
            if cnt == 0:
                return -1
            best = -1
            for x in range(cnt):
                jj = self.run_list[base + x]
                t = self.start_t[jj] + self.limit_used[jj]
                if t > best:
                    best = t
            return best
        fc = self.fcpu[i]
        fm = self.fmem[i]
        fg = self.fgpu[i]
        if fc >= c and fm >= m and fg >= g:
            return -1
        # add releases in planned-end order; the answer is the end at which it first fits
        lo = -1
        while True:
            pe = NEVER
            for x in range(cnt):
                jj = self.run_list[base + x]
                t = self.start_t[jj] + self.limit_used[jj]
                if t > lo and t < pe:
                    pe = t
            if pe == NEVER:
                return NEVER
            for x in range(cnt):
                jj = self.run_list[base + x]
                if self.start_t[jj] + self.limit_used[jj] == pe:
                    if self.run_excl[jj]:
                        fc += self.ncpu[i]; fm += self.nmem[i]; fg += self.ngpu[i]
                    else:
                        fc += self.cpn[jj]; fm += self.mpn[jj]; fg += self.gpn[jj]
            if fc >= c and fm >= m and fg >= g:
                return pe
            lo = pe

    cdef i64* shape_order(self, i64 s) noexcept:
        """Nodes of shape s's partition as (raw, node) pairs sorted, brought up to date."""
        cdef i64 p = self.sp[s], a = self.pn_off[p], size = self.pn_off[p + 1] - a, x, y, i, r, ni
        cdef i64* raw = self.c_raw[s]
        cdef i64* order
        if raw == NULL:
            if self.n_cached >= MAX_CACHED_SHAPES:
                for x in range(self.n_shapes):
                    free(self.c_raw[x]); self.c_raw[x] = NULL
                    free(self.c_ord[x]); self.c_ord[x] = NULL
                self.n_cached = 0
            self.n_cached += 1
            raw = self.c_raw[s] = <i64*>_grow(NULL, size * sizeof(i64))
            order = self.c_ord[s] = <i64*>_grow(NULL, 2 * size * sizeof(i64))
            for x in range(size):
                i = self.pn_list[a + x]
                raw[x] = self.raw_time(i, s)
                order[2 * x] = raw[x]
                order[2 * x + 1] = i
            self.sort_pairs(order, size)
            self.c_synced[s] = self.nchg
            return order
        order = self.c_ord[s]
        if self.c_synced[s] == self.nchg:
            return order
        cdef i64 synced = self.c_synced[s]
        cdef bint changed = False
        for x in range(size):
            i = self.pn_list[a + x]
            if self.stamp[i] > synced:
                r = self.raw_time(i, s)
                if r != raw[x]:
                    raw[x] = r
                    changed = True
        if changed:
            for x in range(size):
                order[2 * x] = raw[self.local[p * self.N + order[2 * x + 1]]]
            self.sort_pairs(order, size)
        self.c_synced[s] = self.nchg
        return order

    cdef void sort_pairs(self, i64* order, i64 size) noexcept:
        """Insertion sort of (raw, node) pairs: after a change few are out of place."""
        cdef i64 x, y, r, i
        for x in range(1, size):
            r = order[2 * x]
            i = order[2 * x + 1]
            y = x - 1
            while y >= 0 and (order[2 * y] > r or (order[2 * y] == r and order[2 * y + 1] > i)):
                order[2 * y + 2] = order[2 * y]
                order[2 * y + 3] = order[2 * y + 1]
                y -= 1
            order[2 * y + 2] = r
            order[2 * y + 3] = i

    # ------------------------------------------------------------ backfill: reservations

    cdef inline i64 clear(self, i64 i, i64 t, i64 length) noexcept:
        """Earliest time >= t at which node i is unreserved for `length` seconds. The node's
        summary answers most questions: a window before the first reservation or after the last
        is clear, and one longer than every gap can only start after the last."""
        cdef i64 x, n = self.res_n[i]
        if n == 0 or t + length <= self.sum_first[i] or t >= self.sum_last[i]:
            return t
        if length > self.sum_gap[i]:
            return self.sum_last[i]
        cdef i64* s = self.res_s[i]
        cdef i64* e = self.res_e[i]
        for x in range(n):
            if e[x] <= t:
                continue
            if s[x] >= t + length:
                break
            t = e[x]
        return t

    cdef void reserve(self, i64 i, i64 s, i64 e) noexcept:
        cdef i64 n = self.res_n[i], x
        if n == 0:
            self.res_touched[self.n_touched] = i
            self.n_touched += 1
        if n == self.res_cap[i]:
            self.res_cap[i] = 2 * n + 4
            self.res_s[i] = <i64*>_grow(self.res_s[i], self.res_cap[i] * sizeof(i64))
            self.res_e[i] = <i64*>_grow(self.res_e[i], self.res_cap[i] * sizeof(i64))
        cdef i64* rs = self.res_s[i]
        cdef i64* re = self.res_e[i]
        x = n
        while x > 0 and (rs[x - 1] > s or (rs[x - 1] == s and re[x - 1] > e)):
            rs[x] = rs[x - 1]
            re[x] = re[x - 1]
            x -= 1
        rs[x] = s
        re[x] = e
        n += 1
        self.res_n[i] = n
        cdef i64 last = re[0], gap = -1
        for x in range(1, n):
            if rs[x] >= last and rs[x] - last > gap:
                gap = rs[x] - last
            if re[x] > last:
                last = re[x]
        self.sum_first[i] = rs[0]
        self.sum_last[i] = last
        self.sum_gap[i] = gap

    # ------------------------------------------------------------ backfill: searches

    cdef inline i64 avail(self, i64 raw, i64 now) noexcept:
        if raw > now:
            return raw
        return now if raw < 0 else now + 1

    cdef i64 earliest(self, i64 j, i64 e, i64 now, i64 horizon, i64* sel, i64* nsel) noexcept:
        """Backfill._earliest. Within one call nodes only fill up and reservations only accumulate,
        so once a request cannot start inside bf_window with limit L, none with a limit >= L can."""
        cdef i64 req = self.ereq[e], L = self.etl[e], t
        nsel[0] = 0
        if self.bey_call[req] == self.call_id and L >= self.bey_L[req]:
            return NEVER
        t = self.earliest_search(j, e, now, horizon, sel, nsel)
        if t >= horizon and (self.bey_call[req] != self.call_id or L < self.bey_L[req]):
            self.bey_call[req] = self.call_id
            self.bey_L[req] = L
        return t

    cdef i64 earliest_search(self, i64 j, i64 e, i64 now, i64 horizon, i64* sel, i64* nsel) noexcept:
        cdef i64* order = self.shape_order(self.eshape[e])
        cdef i64 p = self.epart[e], size = self.pn_off[p + 1] - self.pn_off[p]
        cdef i64 n = self.nn[j], L = self.etl[e], x, a, t, i, best_t = NEVER, best = -1
        if n == 1:
            for x in range(size):
                a = self.avail(order[2 * x], now)
                if a >= best_t or a >= horizon:
                    break
                i = order[2 * x + 1]
                t = self.clear(i, a, L) if self.res_n[i] else a
                if t < best_t:
                    best_t = t
                    best = i
                    if t == now:
                        break
            if best >= 0:
                sel[0] = best
                nsel[0] = 1
            return best_t
        return self.earliest_multi(order, size, n, L, now, horizon, sel, nsel)

    cdef i64 earliest_multi(self, i64* order, i64 size, i64 n, i64 L, i64 now, i64 horizon,
                            i64* sel, i64* nsel) noexcept:
        """Backfill._earliest_multi: a sweep over the windows each node could start the job in."""
        cdef i64 x, y, a, t, i, nev = 0, open_from = 0, stop = horizon, count = 0, need, k
        cdef i64* rs
        cdef i64* re
        for x in range(size):
            a = self.avail(order[2 * x], now)
            if a >= stop:
                break
            i = order[2 * x + 1]
            need = nev + 2 * self.res_n[i] + 1
            if need > self.ev_cap:
                self.ev_cap = 2 * need
                self.ev = <i64*>_grow(self.ev, self.ev_cap * sizeof(i64))
            t = a
            rs = self.res_s[i]
            re = self.res_e[i]
            for y in range(self.res_n[i]):
                if re[y] <= t:
                    continue
                if rs[y] >= t + L:
                    self.ev[nev] = 2 * t + 1
                    self.ev[nev + 1] = 2 * (rs[y] - L + 1)
                    nev += 2
                t = re[y]
            self.ev[nev] = 2 * t + 1
            nev += 1
            if t == a:
                open_from += 1
                if open_from == n:
                    stop = a
        if nev < n:
            return NEVER
        _sort_i64(self.ev, 0, nev)
        for x in range(nev):
            if self.ev[x] & 1:
                count += 1
                if count >= n:
                    t = self.ev[x] >> 1
                    if t >= horizon:
                        return NEVER
                    k = 0
                    for y in range(size):
                        a = self.avail(order[2 * y], now)
                        if a > t:
                            break
                        i = order[2 * y + 1]
                        if self.res_n[i] == 0 or self.clear(i, t, L) == t:
                            sel[k] = i
                            k += 1
                    nsel[0] = k
                    return t
            else:
                count -= 1
        return NEVER

    cdef bint fits_now(self, i64 j) noexcept:
        cdef i64 e, p, n = self.nn[j]
        cdef i64* order
        for e in range(self.ent_off[j], self.ent_off[j + 1]):
            if self.estatic[e] >= 0:
                continue
            p = self.epart[e]
            if self.pn_off[p + 1] - self.pn_off[p] < n:
                continue
            order = self.shape_order(self.eshape[e])
            if order[2 * (n - 1)] < 0:
                return True
        return False

    cdef void plan(self, i64 j, i64 now, i64 horizon):
        """Backfill._plan: start j now, or reserve its nodes from its earliest start."""
        cdef i64 e, t, best_t = NEVER, best_e = -1, nbest = 0, ncur = 0, L, end, x, y, i, k
        cdef i64* best_sel = self.sel_a
        cdef i64* cur = self.sel_b
        cdef i64* tmp
        for e in range(self.ent_off[j], self.ent_off[j + 1]):
            if self.estatic[e] >= 0:
                continue
            t = self.earliest(j, e, now, horizon, cur, &ncur)
            if best_e < 0 or t < best_t:     # the first partition listed wins ties
                best_t = t
                best_e = e
                nbest = ncur
                tmp = best_sel; best_sel = cur; cur = tmp
        if best_t == now:
            k = self.choose_now(j, best_e, now)
            self.start(j, best_e, self.chosen, k, now, BY_BACKFILL)
        elif best_t < horizon:
            L = self.etl[best_e]
            end = (best_t + L + self.bf_res - 1) // self.bf_res * self.bf_res
            if nbest > self.nn[j]:
                for x in range(1, nbest):     # by (Weight, node)
                    i = best_sel[x]
                    y = x - 1
                    while y >= 0 and (self.nweight[best_sel[y]] > self.nweight[i] or
                                      (self.nweight[best_sel[y]] == self.nweight[i] and best_sel[y] > i)):
                        best_sel[y + 1] = best_sel[y]
                        y -= 1
                    best_sel[y + 1] = i
                nbest = self.nn[j]
            for x in range(nbest):
                self.reserve(best_sel[x], best_t, end)

    cdef i64 choose_now(self, i64 j, i64 e, i64 now):
        """Backfill._choose_now: the main scheduler's node choice among unreserved nodes that fit now."""
        cdef i64 s = self.eshape[e], p = self.epart[e], L = self.etl[e], a = self.pn_off[p], x, i, nc = 0
        cdef i64* raw
        self.shape_order(s)
        raw = self.c_raw[s]
        for x in range(self.pn_off[p + 1] - a):
            if raw[x] < 0:
                i = self.pn_list[a + x]
                if self.res_n[i] == 0 or self.clear(i, now, L) == now:
                    self.cand[nc] = i
                    nc += 1
        k = self.select(self.cand, nc, self.nn[j], self.sc[s], self.sm[s], self.sg[s], self.sgt[s], self.sx[s],
                        self.chosen)
        if k < 0:
            raise AssertionError(f"backfill planned job {j} now but no nodes fit")
        return k

    cdef bint backfill(self, i64 now) except? -1:
        """Backfill.run; True if it started a job while bf_max_job_test/_user cut it short (the
        next pass may then reach, and start, a job this one did not: it must run).

        If nothing but submissions of jobs that sort after everything the last pass examined
        happened since, its plan is still exact and only the new jobs are tested against it."""
        cdef i64 horizon = now + self.bf_window, x, q, e, j, u, tested, nd, usable, walk
        cdef i64 starts = self.n_started, last, last_p
        cdef i64* entries
        cdef bint first, cut = False, resume = self.resumable and self.saved
        # keys as Python's Backfill compares them: new entries at their priority when submitted,
        # the last examined one at its priority then (-1: none, before everything)
        if resume and self.s_last >= 0:
            for x in range(self.n_new):
                if not self.before(self.s_last, self.s_last_p, self.new_e[x], self.new_p[x]):
                    resume = False
                    break
        if resume:
            self.sort_entries(self.new_e, self.new_p, self.n_new)
            entries, walk = self.new_e, self.n_new
            tested, first, nd = self.s_tested, self.s_first, self.s_nd
            last, last_p = self.s_last, self.s_last_p
            if walk:
                last, last_p = entries[walk - 1], self.new_p[walk - 1]
        else:
            entries, walk = self.queue, self.qlen
            tested, first, nd = 0, True, 0
            last, last_p = -1, 0
            if walk:
                last, last_p = entries[walk - 1], self.prio[self.ejob[entries[walk - 1]]]
            elif self.saved:
                last, last_p = self.s_last, self.s_last_p
            self.pass_id += 1
            for x in range(self.n_touched):
                self.res_n[self.res_touched[x]] = 0
            self.n_touched = 0
            if self.max_user:
                for x in range(self.U + 1):
                    self.ucnt[x] = 0
        self.n_new = 0
        self.call_id += 1
        self.resumable = 1            # a start in this pass clears it
        for q in range(walk):
            e = entries[q]
            j = self.ejob[e]
            if self.state[j] != PENDING or self.seen[j] == self.pass_id:
                continue
            self.seen[j] = self.pass_id
            usable = 0
            for x in range(self.ent_off[j], self.ent_off[j + 1]):
                if self.estatic[x] < 0:
                    usable += 1
            if usable == 0:
                continue
            if self.l_on and self.limit_reason(j, now) >= 0:
                continue
            if tested >= self.max_test:
                last, last_p = e, (self.new_p[q] if resume else self.prio[j])
                cut = True
                break
            if self.max_user:
                u = self.user[j]
                if self.ucnt[u] >= self.max_user:
                    cut = True
                    continue
                self.ucnt[u] += 1
            tested += 1
            if first:
                self.plan(j, now, horizon)
                first = False
            elif not self.fits_now(j):
                self.deferred[nd] = j
                nd += 1
            else:
                for x in range(nd):
                    self.plan(self.deferred[x], now, horizon)
                nd = 0
                self.plan(j, now, horizon)
        self.saved = 1
        self.s_tested, self.s_first, self.s_nd, self.s_last, self.s_last_p = tested, first, nd, last, last_p
        return cut and self.n_started > starts

    # ------------------------------------------------------------ loop

    cdef bint stall(self, i64 t) noexcept:
        """simcore.stall.StallGuard.stalled past its cheap bound; stopping ends running jobs at t."""
        cdef i64 j, left = 0
        for j in range(self.n):
            if self.state[j] != DONE and self.state[j] != REJECTED:
                left += self.bounds[j]
        self.g_check = self.g_last + left
        if t <= self.g_check:
            return False
        self.stalled = True
        for j in range(self.n):
            if self.state[j] == RUNNING:
                self.end_t[j] = t
        return True

    def run(self):
        """Engine.run: ends, submissions, main passes and backfill passes in the engine's order."""
        cdef i64 n = self.n, cursor = 0, si = self.si, bi = self.bi, ns = 0, nb, now = 0, t
        cdef i64 t_sub, t_evt, t_lim, t_prio, te, t_real, j, kind, x
        cdef bint happened, bf_dirty, rerun, progress
        nb = 0 if bi else NEVER
        while True:
            t_sub = self.sub[self.order[cursor]] if cursor < n else NEVER
            t_evt = self.h_t[0] if self.hlen else NEVER
            te = t_sub if t_sub < t_evt else t_evt
            # Limits.next_change: run-minute usage shrinks at the next PriorityCalcPeriod tick
            t_lim = (now // self.period + 1) * self.period if self.n_pending and self.n_tracked else NEVER
            if t_lim < te:
                te = t_lim
            # PriorityCalcPeriod: new priorities while jobs pend and something may still change
            t_prio = NEVER
            if self.dyn and self.n_pending and (self.hlen or cursor < n):
                t_prio = (now // self.p_period + 1) * self.p_period
                if t_prio < te:
                    te = t_prio
            bf_dirty = bi != 0 and (self.dirty_bf or self.overrunning > 0)
            if te == NEVER and not self.dirty_main and not bf_dirty:
                break
            t_real = te
            if self.dirty_main and ns < t_real:
                t_real = ns
            if bf_dirty and nb < t_real:
                t_real = nb
            if not self.dirty_main and ns < t_real:
                ns = (t_real + si - 1) // si * si
            if bi and not bf_dirty and nb < t_real:
                nb = (t_real + bi - 1) // bi * bi
            t = te
            if ns < t:
                t = ns
            if nb < t:
                t = nb
            now = t
            if cursor == n and t > self.g_check and self.stall(t):
                break
            happened = progress = False
            while self.hlen and self.h_t[0] == t:
                kind = self.h_k[0]
                j = self.h_j[0]
                x = self.h_s[0]
                self.h_pop()
                if kind == EV_END:
                    if x != self.cur_end[j]:      # the end of a run that was preempted
                        continue
                    self.end(j, t)
                    happened = progress = True
                elif kind == EV_OVERRUN:
                    if x != self.cur_over[j]:
                        continue
                    self.overran[j] = 1
                    self.overrunning += 1
                    self.resumable = 0
                elif kind == EV_PREEMPT:
                    if self.release(j, t):
                        progress = True
                    happened = True
                else:
                    self.p_eligible(j, t)
                    happened = True
            while cursor < n and self.sub[self.order[cursor]] == t:
                self.submit(self.order[cursor], t)
                cursor += 1
                happened = progress = True
                self.dirty_main = 1
                self.dirty_bf = 1
            if progress:
                self.g_last = t
                self.g_check = t + self.longest
            if t == t_lim:
                self.memo_ep += 1
                self.li_unmemo = self.li_total
                self.li_dirty = True
                self.dirty_main = 1
                self.dirty_bf = 1
                self.resumable = 0
                happened = True
            if t == t_prio and self.recalc(t):
                self.dirty_main = 1
                self.dirty_bf = 1
                self.resumable = 0
            if t == ns:
                self.main_pass(t, True)
                ns += si
            elif happened and self.n_pending:
                self.main_pass(t, False)
            self.drop_started()
            if t == nb:
                rerun = False
                if self.n_pending:
                    rerun = self.backfill(t)
                    self.passes_bf += 1
                    self.drop_started()
                self.dirty_bf = rerun and self.n_pending > 0
                nb += bi
            if self.n_lb or self.li_rate:
                self.limit_idle(t)
        self.t_end = 0
        for j in range(n):
            if self.end_t[j] > self.t_end:
                self.t_end = self.end_t[j]
        if n and self.sub[self.order[n - 1]] > self.t_end:
            self.t_end = self.sub[self.order[n - 1]]
        for j in range(n):
            if self.state[j] == PENDING:     # close the open pending interval, keep the reason
                x = self.reason[j]
                if self.t_end < self.reason_t[j]:
                    self.reason_t[j] = self.t_end
                self.set_reason(j, R_NONE, self.t_end)
                self.reason[j] = x
