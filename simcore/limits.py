"""QOS and association limits checked before a job may start (acct_policy in Slurm).

Interface used by the engine (keep it small; the policy code extends what is checked):
- `Limits(scenario, jobs)`: built once per run from the scenario and the JobTable;
- `on_submit(j, now) -> str | None`: a reason if a submit limit rejects the job (it never queues);
- `blocking_reason(j, now) -> str | None`: Slurm's pending reason if a limit keeps job j waiting;
- `on_start(j, now)` / `on_end(j, now)`: the job's resources join / leave the usage counters;
- `next_change(now) -> int | None`: the next time a limit may loosen with no job ending (None: never);
- `active`: False when no limit is configured (the engine then skips every check);
- `keys[j]`: jobs with equal keys (same limits, and same TRES and time limit as far as those
  limits count them) get the same answer from
  `blocking_reason` at the same moment. The engine caches "blocked" answers by key until a job
  ends or `next_change` passes (usage only grows in between), so thousands of held jobs of one
  user cost one check, and "not blocked" ones until a job starts or `next_tick`;
- `tests[key]` / `next_tick`: what `blocking_reason` evaluates for a key, valid while now <
  next_tick (the engine evaluates it inline on its hot paths);
- `requeued(j)`: the next on_end/on_submit of j are a requeue (it stays submitted);
- `over_limit[j]`: the reason when job j alone exceeds a limit and can never start (else None).
A limit-blocked job is skipped by both schedulers and gets no backfill reservation (as in Slurm).

What is checked (sacctmgr spelling; docs/policy.md has the details and simplifications):
- QOS: MaxTRESPerJob, MaxTRESMinsPerJob, MaxWall, GrpTRES, GrpTRESRunMins, GrpJobs,
  MaxTRESPerUser, MaxJobsPerUser, MaxTRESPerAccount, MaxJobsPerAccount; at submit GrpSubmitJobs,
  MaxSubmitJobsPerUser, MaxSubmitJobsPerAccount. Flags=DenyOnLimit rejects at submit a job that
  alone exceeds a per-job limit; Flags=OverPartQOS lets the job QOS win over the partition QOS. A job's QOS is its `qos` column, else its
  association's DefaultQOS, else "normal"; a QOS without a [qos.<name>] table has no limits. A
  partition QOS (partitions.<p>.QOS) applies too; where both set the same limit, the partition
  QOS's value wins (Slurm's default).
- Associations (the account tree of simcore.fairshare): GrpTRES, GrpTRESRunMins, GrpJobs,
  GrpSubmitJobs count every job in the subtree; MaxTRESPerJob, MaxTRESMinsPerJob,
  MaxWall(DurationPerJob), MaxJobs, MaxSubmitJobs apply per user association and are inherited
  from the nearest account that sets them.
- TRES: cpu, mem (MB, job total), node, billing (TRESBillingWeights), gres/gpu, gres/gpu:<type>.
- GrpTRESRunMins as Slurm: usage = sum over running jobs of TRES x remaining time limit; a job may
  start only if usage + its TRES x its time limit <= the limit; the remaining time of running jobs
  shrinks only at PriorityCalcPeriod ticks (t = k x PriorityCalcPeriod), so a blocked job starts at
  the first tick (or job end) after which it fits.
- Order of checks, as acct_policy.c (the first failing one is the reason): a job that alone exceeds
  a limit reports that limit; then the partition QOS, the job QOS (GrpJobs, MaxJobsPerAccount,
  MaxJobsPerUser, GrpTRES, GrpTRESRunMins, MaxTRESPerAccount, MaxTRESPerUser), then the user
  association (MaxJobs) and every association up to root (GrpJobs, GrpTRES, GrpTRESRunMins);
  TRES in Slurm's order cpu, mem, node, billing, gres.
- Simplifications: limits count requested TRES (an exclusive job's whole nodes are not counted);
  a job listing several partitions is checked against its first one's QOS and time limit.
"""

from __future__ import annotations

import heapq
import math
import itertools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from simcore.codes import factorize, groups, pairs
from simcore.errors import ConfigError
from simcore.fairshare import AssocTree, billing, parse_billing_weights
from simcore.priority import PriorityConfig

if TYPE_CHECKING:
    from simcore.config import Scenario
    from simcore.jobs import JobTable

BASE_TRES = ("cpu", "mem", "node", "billing", "gres/gpu")
QOS_LIMITS = ("GrpTRES", "GrpTRESRunMins", "GrpJobs", "GrpSubmitJobs", "MaxTRESPerJob", "MaxTRESMinsPerJob",
              "MaxTRESPerUser", "MaxJobsPerUser", "MaxSubmitJobsPerUser", "MaxTRESPerAccount",
              "MaxJobsPerAccount", "MaxSubmitJobsPerAccount", "MaxWall", "MaxWallDurationPerJob")
ASSOC_LIMITS = ("GrpTRES", "GrpTRESRunMins", "GrpJobs", "GrpSubmitJobs", "MaxTRESPerJob", "MaxTRESMinsPerJob",
                "MaxJobs", "MaxSubmitJobs", "MaxWall", "MaxWallDurationPerJob")
# Per-TRES pending reasons, as slurmctld names them (src/common/slurm_protocol_defs.c).
_TRES_REASONS: dict[tuple[str, str], dict[str, str]] = {
    ("QOS", "GrpTRES"): {"cpu": "QOSGrpCpuLimit", "mem": "QOSGrpMemLimit", "node": "QOSGrpNodeLimit",
                         "billing": "QOSGrpBilling", "gres": "QOSGrpGRES"},
    ("QOS", "GrpTRESRunMins"): {"cpu": "QOSGrpCPURunMinutesLimit", "mem": "QOSGrpMemoryRunMinutes",
                                "node": "QOSGrpNodeRunMinutes", "billing": "QOSGrpBillingRunMinutes",
                                "gres": "QOSGrpGRESRunMinutes"},
    ("QOS", "MaxTRESPerJob"): {"cpu": "QOSMaxCpuPerJobLimit", "mem": "QOSMaxMemoryPerJob",
                               "node": "QOSMaxNodePerJobLimit", "billing": "QOSMaxBillingPerJob",
                               "gres": "QOSMaxGRESPerJob"},
    ("QOS", "MaxTRESMinsPerJob"): {"cpu": "QOSMaxCpuMinutesPerJobLimit", "mem": "QOSMaxMemoryMinutesPerJob",
                                   "node": "QOSMaxNodeMinutesPerJob", "billing": "QOSMaxBillingMinutesPerJob",
                                   "gres": "QOSMaxGRESMinutesPerJob"},
    ("QOS", "MaxTRESPerUser"): {"cpu": "QOSMaxCpuPerUserLimit", "mem": "QOSMaxMemoryPerUser",
                                "node": "QOSMaxNodePerUserLimit", "billing": "QOSMaxBillingPerUser",
                                "gres": "QOSMaxGRESPerUser"},
    ("QOS", "MaxTRESPerAccount"): {"cpu": "MaxCpuPerAccount", "mem": "MaxMemoryPerAccount",
                                   "node": "MaxNodePerAccount", "billing": "MaxBillingPerAccount",
                                   "gres": "MaxGRESPerAccount"},
    ("Assoc", "GrpTRES"): {"cpu": "AssocGrpCpuLimit", "mem": "AssocGrpMemLimit", "node": "AssocGrpNodeLimit",
                           "billing": "AssocGrpBilling", "gres": "AssocGrpGRES"},
    ("Assoc", "GrpTRESRunMins"): {"cpu": "AssocGrpCPURunMinutesLimit", "mem": "AssocGrpMemRunMinutes",
                                  "node": "AssocGrpNodeRunMinutes", "billing": "AssocGrpBillingRunMinutes",
                                  "gres": "AssocGrpGRESRunMinutes"},
    ("Assoc", "MaxTRESPerJob"): {"cpu": "AssocMaxCpuPerJobLimit", "mem": "AssocMaxMemPerJob",
                                 "node": "AssocMaxNodePerJobLimit", "billing": "AssocMaxBillingPerJob",
                                 "gres": "AssocMaxGRESPerJob"},
    ("Assoc", "MaxTRESMinsPerJob"): {"cpu": "AssocMaxCpuMinutesPerJobLimit", "mem": "AssocMaxMemMinutesPerJob",
                                     "node": "AssocMaxNodeMinutesPerJob", "billing": "AssocMaxBillingMinutesPerJob",
                                     "gres": "AssocMaxGRESMinutesPerJob"},
}
_COUNT_REASONS = {
    ("QOS", "GrpJobs"): "QOSGrpJobsLimit", ("QOS", "MaxJobsPerUser"): "QOSMaxJobsPerUserLimit",
    ("QOS", "MaxJobsPerAccount"): "MaxJobsPerAccount", ("Assoc", "GrpJobs"): "AssocGrpJobsLimit",
    ("Assoc", "MaxJobs"): "AssocMaxJobsLimit", ("QOS", "MaxWall"): "QOSMaxWallDurationPerJobLimit",
    ("Assoc", "MaxWall"): "AssocMaxWallDurationPerJobLimit", ("QOS", "GrpSubmitJobs"): "QOSGrpSubmitJobsLimit",
    ("QOS", "MaxSubmitJobsPerUser"): "QOSMaxSubmitJobPerUserLimit",
    ("QOS", "MaxSubmitJobsPerAccount"): "MaxSubmitJobsPerAccount",
    ("Assoc", "GrpSubmitJobs"): "AssocGrpSubmitJobsLimit", ("Assoc", "MaxSubmitJobs"): "AssocMaxSubmitJobLimit",
}
POLICY_REASONS = frozenset(r for d in _TRES_REASONS.values() for r in d.values()) | frozenset(_COUNT_REASONS.values())
_TRES_CHECK, _RUN_CHECK, _JOBS_CHECK = 0, 1, 2
UNLIMITED_TIME = 365 * 86400   # the engine's planning horizon for an UNLIMITED time limit
_EPS = 1e-6
MAX_CACHED_TESTS = 1 << 16     # keys whose checks are kept pre-baked (bounds memory at 1M jobs)


def _offsets(lists: list[list]) -> np.ndarray:
    """CSR offsets of a list of lists (item x of list c is at offsets[c] + x in the flattened values)."""
    off = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=off[1:])
    return off


def _ints(lists: list[list[int]]) -> np.ndarray:
    """The values of a list of lists, flattened (their offsets: _offsets)."""
    return np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64)


def tres_reason(kind: str, limit: str, tres: str) -> str:
    """Slurm's pending reason for a TRES limit (e.g. QOS, MaxTRESPerUser, gres/gpu -> QOSMaxGRESPerUser)."""
    return _TRES_REASONS[(kind, limit)]["gres" if tres.startswith("gres/") else tres]


def is_policy_reason(reason: str | None) -> bool:
    """Whether a pending reason is a QOS/association limit (the limit-idle metric's condition)."""
    return reason in POLICY_REASONS


def _flags(spec: object) -> set[str]:
    """A QOS's Flags (sacctmgr: comma list), upper case."""
    return {f.strip().upper() for f in str(spec.table.get("Flags", "") or "").split(",") if f.strip()}


def _check_supported(table_limits: Mapping[str, object], allowed: tuple[str, ...], where: str) -> None:
    for key in table_limits:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: this limit is not modelled; supported: {', '.join(allowed)}")


class Limits:
    """Usage counters per limit holder (a QOS, a QOS x user, a QOS x account, an association)."""

    def __init__(
        self,
        scenario: "Scenario",
        jobs: "JobTable",
        *,
        tree: AssocTree | None = None,
        partition: np.ndarray | None = None,
        time_limit: np.ndarray | None = None,
    ) -> None:
        """`partition` (index into scenario.partitions) and `time_limit` (s) default to the job's first
        listed partition (else the default one) and its time_limit column (else DefaultTime, else MaxTime)."""
        n = len(jobs)
        self.period = PriorityConfig.from_table(scenario.priority).PriorityCalcPeriod_s
        if tree is None:
            tree = AssocTree.build(
                {k: v.table for k, v in scenario.accounts.items()}, {k: v.table for k, v in scenario.users.items()},
                pairs(jobs["user"], jobs["account"])[0],
            )
        part_names = [p.name for p in scenario.partitions]
        if partition is None:
            index = {name: k for k, name in enumerate(part_names)}
            default = index[scenario.default_partition.name]
            # An unknown name falls back to the default here; the engine reports it as an error.
            partition = np.array(
                [index.get(p.split(",")[0].strip(), default) if p else default for p in jobs["partition"].tolist()],
                dtype=np.int64,
            )
        if time_limit is None:
            fallback = np.array(
                [p.default_time if p.default_time is not None else
                 (p.max_time if p.max_time is not None else UNLIMITED_TIME) for p in scenario.partitions],
                dtype=np.float64,
            )
            tl = jobs["time_limit"].astype(np.float64)
            time_limit = np.where(tl > 0, tl, fallback[partition])
        self.time_limit = np.asarray(time_limit, dtype=np.float64)
        assoc = tree.job_assocs(jobs["user"], jobs["account"])
        qos_names = tree.job_qos(jobs["qos"], assoc)
        self.job_qos = qos_names
        self.tree, self.assoc = tree, assoc

        # TRES per job: cpu, mem (MB total), node, billing, gres/gpu, then typed GPUs named in limits.
        limit_tables: list[tuple[str, str, Mapping[str, object], tuple[str, ...]]] = []
        for name, q in scenario.qos.items():
            limit_tables.append((f"qos.{name}", q.limits, QOS_LIMITS))
        for name, a in scenario.accounts.items():
            limit_tables.append((f"accounts.{name}", a.limits, ASSOC_LIMITS))
        for name, u in scenario.users.items():
            limit_tables.append((f"users.{name}", u.limits, ASSOC_LIMITS))
        typed: set[str] = set()
        for where, limits, allowed in limit_tables:
            where = f"{scenario.source}: {where}"
            _check_supported(limits, allowed, where)
            for value in limits.values():
                if isinstance(value, Mapping):
                    for tres in value:
                        if tres.startswith("gres/gpu:"):
                            typed.add(tres)
                        elif tres not in BASE_TRES:
                            raise ConfigError(f"{where}: TRES {tres!r} is not modelled; supported: {', '.join(BASE_TRES)}, gres/gpu:<type>")
        self.tres_names = BASE_TRES + tuple(sorted(typed))
        T = len(self.tres_names)
        req = np.zeros((n, T))
        nodes = jobs["nodes"].astype(np.float64)
        mem_total = jobs["mem_mb"].astype(np.float64) * nodes
        gpus = jobs["gpus"].astype(np.float64)
        weights = parse_billing_weights(str(scenario.priority.get("TRESBillingWeights", "") or ""), f"{scenario.source}: priority.TRESBillingWeights")
        req[:, 0] = jobs["cpus"]
        req[:, 1] = mem_total
        req[:, 2] = nodes
        req[:, 3] = billing(weights, jobs["cpus"], mem_total, nodes, gpus, jobs["gpu_type"])
        req[:, 4] = gpus
        gtype = jobs["gpu_type"]
        for i, name in enumerate(self.tres_names[5:], start=5):
            req[:, i] = np.where(gtype == name.split(":", 1)[1], gpus, 0.0)
        self.req = req
        self._tres_index = {name: i for i, name in enumerate(self.tres_names)}

        # Holders and per-combination check lists.
        self._holder_key: dict[tuple, int] = {}
        self.used: list[list[float]] = []
        self.run: list[list[float]] = []
        self.rate: list[list[float]] = []   # TRES of running jobs still counting down, per holder
        self.comp: list[list[float]] = []   # TRES x (start - last tick) of jobs started since that tick
        self.running_jobs: list[int] = []
        self.submitted: list[int] = []
        self._scenario = scenario
        self._tree = tree
        # One check list per distinct (association, QOS, partition QOS): user and account follow
        # from the association.
        qos_list, qos_code = factorize(qos_names)
        pq_names = list(dict.fromkeys(p.qos for p in scenario.partitions))
        pq_of_part = np.array([pq_names.index(p.qos) for p in scenario.partitions], dtype=np.int64)
        key = (assoc * len(qos_list) + qos_code) * len(pq_names)
        key += pq_of_part[partition]
        uniq, combo_of = np.unique(key, return_inverse=True)
        combos: dict[tuple, int] = {}
        for c, k in enumerate(uniq.tolist()):
            rest, p = divmod(k, len(pq_names))
            a, q = divmod(rest, len(qos_list))
            user = tree.names[a].rsplit("@", 1)[0]
            combos[(a, qos_list[q], pq_names[p], user, tree.names[tree.parent[a]])] = c
        self.combo = combo_of
        self._combo = combo_of.tolist()
        self._tl = self.time_limit.tolist()
        self._req_cache: dict[int, list[float]] = {}
        self._checks: list[list[tuple]] = [[] for _ in combos]
        self._static: list[list[tuple]] = [[] for _ in combos]
        self._submit: list[list[tuple[int, int, str]]] = [[] for _ in combos]
        self._deny: list[bool] = [False] * len(combos)
        self._count_holders: list[list[int]] = [[] for _ in combos]
        self._run_holders: list[list[int]] = [[] for _ in combos]
        self._submit_holders: list[list[int]] = [[] for _ in combos]
        self._run_tres: dict[int, set[int]] = {}   # run-minute holder -> the TRES it limits
        for key, c in combos.items():
            self._build_combo(c, *key)
        self._all_run_holders = sorted(self._run_tres)
        # Run-minute usage is kept only for the TRES a GrpTRESRunMins limits (nothing reads the rest).
        self._run_k: list[list[int]] = [sorted(self._run_tres.get(h, ())) for h in range(len(self.used))]
        self._requeued: set[int] = set()
        self._last_tick = 0.0
        self.next_tick = self.period          # usage is exact until this PriorityCalcPeriod tick
        self._running_tracked: dict[int, float] = {}   # job -> start of the run being tracked
        self._expiry: list[tuple[float, int, float]] = []
        self.over_limit: list[str | None] = self._never_runnable()
        self.active = any(self._checks) or any(r is not None for r in self.over_limit)
        self.keys: list[int] = []                   # see the module docstring
        self._key_first = np.zeros(min(n, 1), dtype=np.int64)   # a job of each key (all key 0 when inactive)
        self.tests: dict[int, list[tuple]] = {}     # key -> its jobs' checks (_job_tests); only for
        # keys whose jobs have checks and are not over a limit alone (blocking_reason evaluates
        # these, after a due tick, and nothing else)
        if self.active:
            self._key_first, keys = self._keys()
            self.keys = keys.tolist()

    def _keys(self) -> tuple[np.ndarray, np.ndarray]:
        """(a job of each key, `keys`): what blocking_reason reads of a job is its combination, its over-limit reason,
        the TRES its combination's checks count and, if one counts run-minutes, its time limit.
        Jobs equal in those share a key whatever else they request, so a memoised answer covers
        as many held jobs as possible."""
        counted = np.zeros((len(self._checks), len(self.tres_names)))
        timed = np.zeros(len(self._checks))
        for c, checks in enumerate(self._checks):
            for kind, _, k, _, _ in checks:
                if kind != _JOBS_CHECK:
                    counted[c, k] = 1.0
                timed[c] = timed[c] or kind == _RUN_CHECK
        over = factorize(["" if r is None else r for r in self.over_limit])[1]
        columns = [self.combo, over, self.time_limit * timed[self.combo]]
        columns += [self.req[:, k] * counted[self.combo, k] for k in np.flatnonzero(counted.any(axis=0))]
        return groups(columns)

    def _key_tests(self, over: np.ndarray, ck_off: np.ndarray, ck_kind: np.ndarray,
                   ck_tres: np.ndarray) -> dict[str, np.ndarray]:
        """Per key: its combination, over-limit reason and what the job adds in each of the
        combination's checks (TRES, or TRES x time limit; NaN where the job does not request
        the TRES: every comparison with NaN is false, so the check passes, as blocking_reason
        skips it). One block per key is what the compiled engine reads for a held job."""
        rep = self._key_first
        combo = np.asarray(self.combo, dtype=np.int64)[rep]
        sizes = ck_off[combo + 1] - ck_off[combo]
        k_off = np.zeros(len(rep) + 1, dtype=np.int64)
        np.cumsum(sizes, out=k_off[1:])
        check = np.repeat(ck_off[combo] - k_off[:-1], sizes) + np.arange(k_off[-1], dtype=np.int64)
        job = np.repeat(rep, sizes)
        v = self.req[job, ck_tres[check]]
        need = np.where(ck_kind[check] == _RUN_CHECK, v * self.time_limit[job], v)
        need[v == 0] = np.nan
        return {"k_combo": combo, "k_over": over[rep], "k_off": k_off, "k_need": need}

    @property
    def configured(self) -> bool:
        """Whether any limit applies at all: submit, start or run counts included (when not,
        every hook of the engine's is a no-op and simcore.kernel may run the scenario)."""
        return (self.active or any(self._submit) or any(self._deny) or any(self._count_holders)
                or any(self._run_holders) or any(self._submit_holders))

    def flat(self, code: Callable[[str], int]) -> dict[str, object]:
        """What the hooks below evaluate, as flat arrays for the compiled engine (simcore.kernel):
        per combination its checks, counted, run-minute and submit holders (offsets + values), per
        holder its run-minute TRES; reasons as `code(reason)`, -1 for none."""
        checks = [x for c in self._checks for x in c]
        submit = [x for c in self._submit for x in c]
        over = np.array([-1 if r is None else code(r) for r in self.over_limit], dtype=np.int64)
        ck_off, ck_kind = _offsets(self._checks), np.array([x[0] for x in checks], dtype=np.int64)
        ck_k = np.array([x[2] for x in checks], dtype=np.int64)
        return {
            "active": self.active, "configured": self.configured, "T": len(self.tres_names), "H": len(self.used), "period": self.period,
            "key": np.asarray(self.keys if self.active else np.zeros(len(self._combo)), dtype=np.int64),
            "over": over, **self._key_tests(over, ck_off, ck_kind, ck_k),
            "combo": np.asarray(self.combo, dtype=np.int64),
            "req": np.ascontiguousarray(self.req, dtype=np.float64).ravel(),
            "tl": np.asarray(self.time_limit, dtype=np.float64),
            "ck_off": ck_off, "ck_kind": ck_kind,
            "ck_h": np.array([x[1] for x in checks], dtype=np.int64),
            "ck_k": ck_k,
            "ck_lim": np.array([x[3] for x in checks], dtype=np.float64),
            "ck_reason": np.array([code(x[4]) for x in checks], dtype=np.int64),
            "cn_off": _offsets(self._count_holders), "cn_h": _ints(self._count_holders),
            "rh_off": _offsets(self._run_holders), "rh_h": _ints(self._run_holders),
            "rk_off": _offsets(self._run_k), "rk_k": _ints(self._run_k),
            "arh": np.array(self._all_run_holders, dtype=np.int64),
            "sb_off": _offsets(self._submit), "sb_h": np.array([x[0] for x in submit], dtype=np.int64),
            "sb_lim": np.array([x[1] for x in submit], dtype=np.int64),
            "sb_reason": np.array([code(x[2]) for x in submit], dtype=np.int64),
            "sh_off": _offsets(self._submit_holders),
            "sh_h": _ints(self._submit_holders),
            "deny": np.array(self._deny, dtype=np.int64),
        }

    # ----- construction -----
    def _holder(self, key: tuple) -> int:
        h = self._holder_key.get(key)
        if h is None:
            h = self._holder_key[key] = len(self.used)
            T = len(self.tres_names)
            self.used.append([0.0] * T)
            self.run.append([0.0] * T)
            self.rate.append([0.0] * T)
            self.comp.append([0.0] * T)
            self.running_jobs.append(0)
            self.submitted.append(0)
        return h

    def _build_combo(self, c: int, assoc: int, qos: str, part_qos: str, user: str, account: str) -> None:
        checks, static, submit = self._checks[c], self._static[c], self._submit[c]
        counted: list[int] = []
        runs: list[int] = []
        subs: list[int] = []
        tix = self._tres_index
        qos_specs = self._scenario.qos
        # Both QOS apply; where both set a limit the partition QOS wins, unless the job QOS has the
        # OverPartQOS flag (then the job QOS wins).
        first, second = part_qos, qos
        if qos in qos_specs and "OVERPARTQOS" in _flags(qos_specs[qos]):
            first, second = qos, part_qos
        qos_layers: list[tuple[str, Mapping[str, object]]] = []
        if first and first in qos_specs:
            qos_layers.append((first, qos_specs[first].limits))
        if second and second in qos_specs and second != first:
            overridden = qos_layers[0][1] if qos_layers else {}
            own = {}
            for key, value in qos_specs[second].limits.items():
                if isinstance(value, Mapping):
                    rest = {t: v for t, v in value.items() if t not in overridden.get(key, {})}
                    if rest:
                        own[key] = rest
                elif key not in overridden:
                    own[key] = value
            qos_layers.append((second, own))
        deny = any("DENYONLIMIT" in _flags(qos_specs[name]) for name, _ in qos_layers)
        self._deny[c] = deny
        for name, limits in qos_layers:
            grp = self._holder(("qos", name))
            per_user = self._holder(("qos-user", name, user))
            per_acct = self._holder(("qos-account", name, account))
            wall = limits.get("MaxWall", limits.get("MaxWallDurationPerJob"))
            if wall is not None:
                static.append(("wall", 0, float(wall), _COUNT_REASONS[("QOS", "MaxWall")]))
            for tres, lim in limits.get("MaxTRESPerJob", {}).items():
                static.append(("tres", tix[tres], float(lim), tres_reason("QOS", "MaxTRESPerJob", tres)))
            for tres, lim in limits.get("MaxTRESMinsPerJob", {}).items():
                static.append(("mins", tix[tres], float(lim) * 60, tres_reason("QOS", "MaxTRESMinsPerJob", tres)))
            for key, h in (("GrpJobs", grp), ("MaxJobsPerAccount", per_acct), ("MaxJobsPerUser", per_user)):
                if limits.get(key) is not None:
                    checks.append((_JOBS_CHECK, h, 0, float(limits[key]), _COUNT_REASONS[("QOS", key)]))
                    counted.append(h)
            for tres, lim in limits.get("GrpTRES", {}).items():
                checks.append((_TRES_CHECK, grp, tix[tres], float(lim), tres_reason("QOS", "GrpTRES", tres)))
                counted.append(grp)
            for tres, lim in limits.get("GrpTRESRunMins", {}).items():
                checks.append((_RUN_CHECK, grp, tix[tres], float(lim) * 60, tres_reason("QOS", "GrpTRESRunMins", tres)))
                runs.append(grp)
                self._run_tres.setdefault(grp, set()).add(tix[tres])
            for key, h in (("MaxTRESPerAccount", per_acct), ("MaxTRESPerUser", per_user)):
                for tres, lim in limits.get(key, {}).items():
                    checks.append((_TRES_CHECK, h, tix[tres], float(lim), tres_reason("QOS", key, tres)))
                    counted.append(h)
            for key, h in (("GrpSubmitJobs", grp), ("MaxSubmitJobsPerUser", per_user), ("MaxSubmitJobsPerAccount", per_acct)):
                if limits.get(key) is not None:
                    submit.append((h, int(limits[key]), _COUNT_REASONS[("QOS", key)]))
                    subs.append(h)
        # Associations: Grp* over the subtree at every level; Max* per user association, inherited.
        tree = self._tree
        chain = tree.ancestors(assoc)
        inherited: dict[str, object] = {}
        for node in chain:
            limits = self._assoc_limits(node)
            for key in ("MaxJobs", "MaxSubmitJobs", "MaxWall", "MaxTRESPerJob", "MaxTRESMinsPerJob"):
                value = limits.get(key, limits.get("MaxWallDurationPerJob") if key == "MaxWall" else None)
                if key not in inherited and value is not None:
                    inherited[key] = value
        user_h = self._holder(("assoc", assoc))
        if inherited.get("MaxWall") is not None:
            static.append(("wall", 0, float(inherited["MaxWall"]), _COUNT_REASONS[("Assoc", "MaxWall")]))
        for tres, lim in dict(inherited.get("MaxTRESPerJob", {})).items():
            static.append(("tres", tix[tres], float(lim), tres_reason("Assoc", "MaxTRESPerJob", tres)))
        for tres, lim in dict(inherited.get("MaxTRESMinsPerJob", {})).items():
            static.append(("mins", tix[tres], float(lim) * 60, tres_reason("Assoc", "MaxTRESMinsPerJob", tres)))
        if inherited.get("MaxJobs") is not None:
            checks.append((_JOBS_CHECK, user_h, 0, float(inherited["MaxJobs"]), _COUNT_REASONS[("Assoc", "MaxJobs")]))
            counted.append(user_h)
        if inherited.get("MaxSubmitJobs") is not None:
            submit.append((user_h, int(inherited["MaxSubmitJobs"]), _COUNT_REASONS[("Assoc", "MaxSubmitJobs")]))
            subs.append(user_h)
        for node in chain:
            limits = self._assoc_limits(node)
            if not limits:
                continue
            h = self._holder(("assoc", node))
            if limits.get("GrpJobs") is not None:
                checks.append((_JOBS_CHECK, h, 0, float(limits["GrpJobs"]), _COUNT_REASONS[("Assoc", "GrpJobs")]))
                counted.append(h)
            for tres, lim in limits.get("GrpTRES", {}).items():
                checks.append((_TRES_CHECK, h, tix[tres], float(lim), tres_reason("Assoc", "GrpTRES", tres)))
                counted.append(h)
            for tres, lim in limits.get("GrpTRESRunMins", {}).items():
                checks.append((_RUN_CHECK, h, tix[tres], float(lim) * 60, tres_reason("Assoc", "GrpTRESRunMins", tres)))
                runs.append(h)
                self._run_tres.setdefault(h, set()).add(tix[tres])
            if limits.get("GrpSubmitJobs") is not None:
                submit.append((h, int(limits["GrpSubmitJobs"]), _COUNT_REASONS[("Assoc", "GrpSubmitJobs")]))
                subs.append(h)
        self._count_holders[c] = sorted(set(counted))
        self._run_holders[c] = sorted(set(runs))
        self._submit_holders[c] = sorted(set(subs))

    def _assoc_limits(self, node: int) -> Mapping[str, object]:
        """The limits set on one association: a user's [users.<name>] table, or an account's."""
        tree = self._tree
        name = tree.names[node]
        if tree.is_user[node]:
            spec = self._scenario.users.get(name.split("@", 1)[0])
        else:
            spec = self._scenario.accounts.get(name)
        return spec.limits if spec is not None else {}

    def _never_runnable(self) -> list[str | None]:
        """Per job: the reason if it alone exceeds a limit (per-job, Grp, per-user, run-minutes, 0 jobs)."""
        out: list[str | None] = [None] * len(self.combo)
        req, tl = self.req, self.time_limit
        by_combo = np.argsort(self.combo, kind="stable")
        bounds = np.searchsorted(self.combo[by_combo], np.arange(len(self._checks) + 1))
        for c in range(len(self._checks)):
            tests = list(self._static[c])
            for kind, h, k, lim, reason in self._checks[c]:
                tests.append(("jobs" if kind == _JOBS_CHECK else ("mins" if kind == _RUN_CHECK else "tres"), k, lim, reason))
            if not tests:
                continue
            members = by_combo[bounds[c]:bounds[c + 1]]
            bad = np.zeros(len(members), dtype=bool)
            why = np.full(len(members), None, dtype=object)
            for kind, k, lim, reason in tests:
                if kind == "wall":
                    over = tl[members] > lim
                elif kind == "tres":
                    over = req[members, k] > lim + _EPS
                elif kind == "mins":
                    over = req[members, k] * tl[members] > lim + _EPS
                else:
                    over = np.full(len(members), lim < 1)
                new = over & ~bad
                why[new] = reason
                bad |= over
            for j, r in zip(members[bad].tolist(), why[bad].tolist()):
                out[j] = r
        return out

    # ----- time -----
    def _sync(self, now: float) -> None:
        """Apply the PriorityCalcPeriod ticks up to `now` to GrpTRESRunMins usage.

        At a tick T every running job's booking shrinks by TRES x (T - max(last tick, its start)),
        i.e. rate x (T - last tick) minus what `comp` recorded for jobs started since; a job whose
        time limit ended before T only by TRES x (its limit end - ...): the rest is given back."""
        tick = math.floor(now / self.period) * self.period
        self.next_tick = tick + self.period
        if tick <= self._last_tick:
            return
        if self._running_tracked:
            dt = tick - self._last_tick
            run, rate, comp = self.run, self.rate, self.comp
            for h in self._all_run_holders:      # only these ever have a count-down rate
                h_run, h_rate, h_comp = run[h], rate[h], comp[h]
                for k in self._run_k[h]:
                    r = h_rate[k]
                    if r or h_comp[k]:
                        h_run[k] -= r * dt - h_comp[k]
                        h_comp[k] = 0.0
            while self._expiry and self._expiry[0][0] <= tick:
                end, j, start = heapq.heappop(self._expiry)
                if self._running_tracked.get(j) != start:
                    continue
                del self._running_tracked[j]
                self._book(j, -1.0, run=tick - end, comp=0.0)
        self._last_tick = tick

    def _book(self, j: int, sign: float, run: float, comp: float) -> None:
        """Job j's TRES join (sign=+1) or leave (-1) the count-down rate of its run-minute holders,
        with `run` and `comp` seconds of its TRES added to their usage and start compensation."""
        req = self._req_of(j)
        for h in self._run_holders[self._combo[j]]:
            h_run, h_rate, h_comp = self.run[h], self.rate[h], self.comp[h]
            for k in self._run_k[h]:
                v = req[k]
                if v:
                    h_rate[k] += sign * v
                    h_run[k] += v * run
                    h_comp[k] += v * comp
                    if abs(h_rate[k]) < _EPS:
                        h_rate[k] = 0.0

    def next_change(self, now: float) -> float | None:
        """The next PriorityCalcPeriod tick while run-minute usage is booked (it shrinks then)."""
        if not self._running_tracked:
            return None
        return (math.floor(now / self.period) + 1) * self.period

    # ----- the engine's hooks -----
    def requeued(self, j: int) -> None:
        """Job j is being requeued: it stays submitted (its next on_end and on_submit are not counted)."""
        self._requeued.add(j)

    def on_submit(self, j: int, now: float) -> str | None:
        """Count the job as submitted, or return the reason a submit limit rejects it."""
        if j in self._requeued:
            self._requeued.discard(j)
            return None
        c = self._combo[j]
        if self._deny[c] and self.over_limit[j] is not None:
            return self.over_limit[j]           # QOS Flags=DenyOnLimit: rejected, not left pending
        for h, lim, reason in self._submit[c]:
            if self.submitted[h] + 1 > lim:
                return reason
        for h in self._submit_holders[c]:
            self.submitted[h] += 1
        return None

    def blocking_reason(self, j: int, now: float) -> str | None:
        reason = self.over_limit[j]
        if reason is not None:
            return reason
        checks = self._checks[self._combo[j]]
        if not checks:
            return None
        if now >= self.next_tick:
            self._sync(now)
        tests = self.tests.get(self.keys[j])
        if tests is None:
            if len(self.tests) >= MAX_CACHED_TESTS:
                self.tests.clear()
            tests = self.tests[self.keys[j]] = self._job_tests(j, checks)
        for row, i, need, lim, reason in tests:
            if row[i] + need > lim:
                return reason
        return None

    def _job_tests(self, j: int, checks: list[tuple]) -> list[tuple]:
        """Job j's checks as (counter list, index, what the job adds, limit, reason), the same float
        operations as the checks spelled out, shared by its key (limit-blocked jobs are asked about
        at every pass). A TRES the job does not request cannot block it."""
        req = self.req[j].tolist()
        tl = self._tl[j]
        tests = []
        for kind, h, k, lim, reason in checks:
            if kind == _JOBS_CHECK:
                tests.append((self.running_jobs, h, 1, lim, reason))
            elif not req[k]:
                continue
            elif kind == _TRES_CHECK:
                tests.append((self.used[h], k, req[k], lim + _EPS, reason))
            else:
                tests.append((self.run[h], k, req[k] * tl, lim + _EPS, reason))
        return tests

    def _req_of(self, j: int) -> list[float]:
        """Job j's TRES as a list (cached from its start to its end)."""
        req = self._req_cache.get(j)
        if req is None:
            req = self._req_cache[j] = self.req[j].tolist()
        return req

    def on_start(self, j: int, now: float) -> None:
        c = self._combo[j]
        if self._count_holders[c]:
            req = self._req_of(j)
            for h in self._count_holders[c]:
                self.running_jobs[h] += 1
                used = self.used[h]
                for k, v in enumerate(req):
                    if v:
                        used[k] += v
        if self._run_holders[c]:
            self._sync(now)
            # Book TRES x the whole time limit; the next tick counts down only from the start.
            self._book(j, +1.0, run=self._tl[j], comp=now - self._last_tick)
            self._running_tracked[j] = now
            heapq.heappush(self._expiry, (now + self._tl[j], j, now))

    def on_end(self, j: int, now: float) -> None:
        """The job left its resources (for good, unless `requeued` was called first)."""
        c = self._combo[j]
        if self._count_holders[c]:
            req = self._req_of(j)
            for h in self._count_holders[c]:
                self.running_jobs[h] -= 1
                used = self.used[h]
                for k, v in enumerate(req):
                    if v:
                        used[k] -= v
        if self._run_holders[c]:
            self._sync(now)
            start = self._running_tracked.pop(j, None)
            if start is not None:
                if start > self._last_tick:     # no tick since its start: the whole booking goes
                    self._book(j, -1.0, run=-self._tl[j], comp=-(start - self._last_tick))
                else:                           # what the ticks since its start left of it
                    self._book(j, -1.0, run=-(self._tl[j] - (self._last_tick - start)), comp=0.0)
        if j not in self._requeued:
            for h in self._submit_holders[c]:
                self.submitted[h] -= 1
        self._req_cache.pop(j, None)
