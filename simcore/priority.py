"""Job priority: priority/basic and priority/multifactor, and the order jobs are considered in.

Why vectorised: the engine recomputes every pending job's priority each PriorityCalcPeriod; with
hundreds of thousands of pending jobs that must be a handful of numpy operations, not a loop.
Static factors (job size, partition, QOS) are computed once per job; only age and fairshare change.

Semantics (Slurm 22.05, priority_multifactor.c `set_priority_factors` / `_get_priority_internal`):
- P = W_age*age + W_fs*fairshare + W_size*size + W_part*partition + W_qos*qos, truncated to an
  integer and at least 1 (Slurm stores a uint32). PriorityWeightTRES and nice are not modelled.
- age = min(1, (now - eligible) / PriorityMaxAge); eligible = when the job became eligible
  (submit, dependency satisfied, end of the 120 s requeue hold). PriorityFlags=ACCRUE_ALWAYS
  counts from submit instead.
- size = (nodes/cluster nodes + CPUs/cluster CPUs)/2; PriorityFavorSmall=YES gives
  ((N-nodes)/N + (C-CPUs)/C)/2; PriorityFlags=SMALL_RELATIVE_TO_TIME gives
  max(nodes*C/N, CPUs)/time limit in minutes/C (1 minus it when favouring small), clipped to [0, 1].
- partition = PriorityJobFactor / max PriorityJobFactor over partitions (a job submitted to several
  partitions uses the first one listed: simplification).
- qos = QOS Priority / max QOS Priority.
- priority/basic: every job has the same priority, so the order is submit time then job id.
- Order: PriorityTier (higher first), priority (higher first), submit time, job number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simcore.codes import factorize, pairs
from simcore.errors import ConfigError
from simcore.fairshare import RESET_PERIODS, AssocTree, Fairshare, parse_billing_weights

if TYPE_CHECKING:
    from simcore.engine import Engine

PRIORITY_TYPES = ("priority/basic", "priority/multifactor")
PRIORITY_FLAGS = ("NO_FAIR_TREE", "FAIR_TREE", "SMALL_RELATIVE_TO_TIME", "ACCRUE_ALWAYS")
_TIME_RE = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def slurm_minutes(value: object, key: str) -> float:
    """A slurm.conf time value in seconds: minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]; inf if UNLIMITED."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a Slurm time such as \"7-0\" or 5 (minutes), got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{key}: must not be negative, got {value!r}")
        return float(value) * 60.0
    text = str(value).strip()
    if text.upper() in ("UNLIMITED", "INFINITE"):
        return math.inf
    m = _TIME_RE.match(text)
    if not m:
        raise ConfigError(f"{key}: {value!r} is not a Slurm time (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM:SS)")
    days, a, b, c = m.groups()
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        return int(days) * 86400.0 + int(a) * 3600.0 + int(b or 0) * 60.0 + int(c or 0)
    if c is not None:  # HH:MM:SS
        return int(a) * 3600.0 + int(b) * 60.0 + int(c)
    if b is not None:  # MM:SS
        return int(a) * 60.0 + int(b)
    return int(a) * 60.0


def _weight(table: Mapping[str, object], key: str) -> int:
    value = table.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"priority.{key}: must be a non-negative integer, got {value!r}")
    return value


def _billing_weights(value: object) -> str:
    """Validate TRESBillingWeights (kept as text; simcore.fairshare.parse_billing_weights reads it)."""
    text = str(value or "")
    parse_billing_weights(text, "priority.TRESBillingWeights")
    return text


def _yes_no(value: object, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().upper()
    if text in ("YES", "TRUE", "1"):
        return True
    if text in ("NO", "FALSE", "0", ""):
        return False
    raise ConfigError(f"{key}: expected YES or NO, got {value!r}")


@dataclass(frozen=True)
class PriorityConfig:
    """The [priority] table, with Slurm's defaults, in seconds."""

    PriorityType: str = "priority/basic"
    PriorityCalcPeriod_s: float = 300.0
    PriorityDecayHalfLife_s: float = 7 * 86400.0
    PriorityUsageResetPeriod: str = "NONE"
    PriorityMaxAge_s: float = 7 * 86400.0
    PriorityWeightAge: int = 0
    PriorityWeightFairshare: int = 0
    PriorityWeightJobSize: int = 0
    PriorityWeightPartition: int = 0
    PriorityWeightQOS: int = 0
    PriorityFlags: frozenset[str] = frozenset()
    PriorityFavorSmall: bool = False
    FairShareDampeningFactor: float = 1.0
    TRESBillingWeights: str = ""

    @classmethod
    def from_table(cls, table: Mapping[str, object]) -> "PriorityConfig":
        """Validate the scenario's [priority] table; errors name the dotted key."""
        known = {
            "PriorityType", "PriorityCalcPeriod", "PriorityDecayHalfLife", "PriorityUsageResetPeriod",
            "PriorityMaxAge", "PriorityWeightAge", "PriorityWeightFairshare", "PriorityWeightJobSize",
            "PriorityWeightPartition", "PriorityWeightQOS", "PriorityFlags", "PriorityFavorSmall",
            "FairShareDampeningFactor", "TRESBillingWeights",
        }
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"priority.{unknown[0]}: unknown key; allowed: {', '.join(sorted(known))}")
        ptype = str(table.get("PriorityType", "priority/basic"))
        if ptype not in PRIORITY_TYPES:
            raise ConfigError(f"priority.PriorityType: {ptype!r} is not one of {', '.join(PRIORITY_TYPES)}")
        flags = frozenset(f.strip().upper() for f in str(table.get("PriorityFlags", "") or "").split(",") if f.strip())
        bad = sorted(flags - set(PRIORITY_FLAGS))
        if bad:
            raise ConfigError(f"priority.PriorityFlags: {bad[0]!r} is not supported; allowed: {', '.join(PRIORITY_FLAGS)}")
        reset = str(table.get("PriorityUsageResetPeriod", "NONE")).upper()
        if reset not in RESET_PERIODS:
            raise ConfigError(f"priority.PriorityUsageResetPeriod: {reset!r} is not one of {', '.join(RESET_PERIODS)}")
        calc = slurm_minutes(table.get("PriorityCalcPeriod", 5), "priority.PriorityCalcPeriod")
        if not 0 < calc < math.inf:
            raise ConfigError(f"priority.PriorityCalcPeriod: must be a positive number of minutes, got {table.get('PriorityCalcPeriod')!r}")
        half = slurm_minutes(table.get("PriorityDecayHalfLife", "7-0"), "priority.PriorityDecayHalfLife")
        max_age = slurm_minutes(table.get("PriorityMaxAge", "7-0"), "priority.PriorityMaxAge")
        damp = table.get("FairShareDampeningFactor", 1)
        if isinstance(damp, bool) or not isinstance(damp, (int, float)) or damp < 1:
            raise ConfigError(f"priority.FairShareDampeningFactor: must be a number >= 1, got {damp!r}")
        return cls(
            PriorityType=ptype,
            PriorityCalcPeriod_s=calc,
            PriorityDecayHalfLife_s=0.0 if math.isinf(half) else half,
            PriorityUsageResetPeriod=reset,
            PriorityMaxAge_s=max_age,
            PriorityWeightAge=_weight(table, "PriorityWeightAge"),
            PriorityWeightFairshare=_weight(table, "PriorityWeightFairshare"),
            PriorityWeightJobSize=_weight(table, "PriorityWeightJobSize"),
            PriorityWeightPartition=_weight(table, "PriorityWeightPartition"),
            PriorityWeightQOS=_weight(table, "PriorityWeightQOS"),
            PriorityFlags=flags,
            PriorityFavorSmall=_yes_no(table.get("PriorityFavorSmall", "NO"), "priority.PriorityFavorSmall"),
            FairShareDampeningFactor=float(damp),
            TRESBillingWeights=_billing_weights(table.get("TRESBillingWeights", "")),
        )

    @property
    def multifactor(self) -> bool:
        return self.PriorityType == "priority/multifactor"

    @property
    def fair_tree(self) -> bool:
        return "NO_FAIR_TREE" not in self.PriorityFlags


def job_size_factor(
    cfg: PriorityConfig, nodes: np.ndarray, cpus: np.ndarray, time_limit_s: np.ndarray,
    cluster_nodes: int, cluster_cpus: int,
) -> np.ndarray:
    """Slurm's job-size factor in [0, 1] for every job (see module docstring)."""
    n = np.asarray(nodes, dtype=np.float64)
    c = np.asarray(cpus, dtype=np.float64)
    N, C = float(cluster_nodes), float(cluster_cpus)
    if "SMALL_RELATIVE_TO_TIME" in cfg.PriorityFlags:
        minutes = np.maximum(np.asarray(time_limit_s, dtype=np.float64) / 60.0, 1.0)
        js = np.maximum(n * C / N, c) / minutes / C
        if cfg.PriorityFavorSmall:
            js = 1.0 - js
    elif cfg.PriorityFavorSmall:
        js = np.where(c > 0, ((N - n) / N + (C - c) / C) / 2.0, (N - n) / N)
    else:
        js = np.where(c > 0, (n / N + c / C) / 2.0, n / N)
    return np.clip(js, 0.0, 1.0)


class Priorities:
    """Computes every pending job's priority at a recalculation, vectorised.

    `static` holds W_size*size + W_part*partition + W_qos*qos per job (they never change);
    `refresh` caches the fairshare factors of a recalculation; `compute` adds age and fairshare.
    """

    def __init__(
        self,
        cfg: PriorityConfig,
        *,
        nodes: np.ndarray,
        cpus: np.ndarray,
        time_limit_s: np.ndarray,
        partition_factor: np.ndarray,
        qos_factor: np.ndarray,
        assoc: np.ndarray,
        cluster_nodes: int,
        cluster_cpus: int,
        fairshare: Fairshare | None,
    ) -> None:
        self.cfg = cfg
        self.assoc = np.asarray(assoc, dtype=np.int64)
        self.fairshare = fairshare if cfg.multifactor and cfg.PriorityWeightFairshare else None
        self.fs_factor = np.zeros(len(fairshare.tree.names) if fairshare is not None else 1)
        if cfg.multifactor:
            size = job_size_factor(cfg, nodes, cpus, time_limit_s, cluster_nodes, cluster_cpus)
            self.static = (
                cfg.PriorityWeightJobSize * size
                + cfg.PriorityWeightPartition * np.asarray(partition_factor, dtype=np.float64)
                + cfg.PriorityWeightQOS * np.asarray(qos_factor, dtype=np.float64)
            )
        else:
            self.static = np.zeros(len(self.assoc))
        self._static_list = self.static.tolist()

    @property
    def dynamic(self) -> bool:
        """Whether priorities change while jobs wait (age or fairshare weigh in)."""
        return self.cfg.multifactor and bool(self.cfg.PriorityWeightAge or self.fairshare is not None)

    def refresh(self, now: float) -> None:
        """Recompute the fairshare factors (Slurm does this every PriorityCalcPeriod)."""
        if self.fairshare is not None:
            self.fs_factor = self.fairshare.factors(now)

    def compute(self, jobs: np.ndarray, eligible: np.ndarray, now: float) -> np.ndarray:
        """Priorities (int64) of job numbers `jobs`, eligible since `eligible` (same length)."""
        cfg = self.cfg
        jobs = np.asarray(jobs, dtype=np.int64)
        if not cfg.multifactor:
            return np.ones(len(jobs), dtype=np.int64)
        p = self.static[jobs]
        if cfg.PriorityWeightAge:
            waited = np.maximum(now - np.asarray(eligible, dtype=np.float64), 0.0)
            age = np.minimum(waited / cfg.PriorityMaxAge_s, 1.0) if cfg.PriorityMaxAge_s > 0 else np.ones(len(jobs))
            p = p + cfg.PriorityWeightAge * age
        if self.fairshare is not None:
            p = p + cfg.PriorityWeightFairshare * self.fs_factor[self.assoc[jobs]]
        return np.maximum(np.floor(p), 1.0).astype(np.int64)

    def initial(self, j: int, now: float, eligible: float) -> int:
        """One job's priority at submit, with the fairshare factors of the last recalculation."""
        cfg = self.cfg
        if not cfg.multifactor:
            return 1
        p = self._static_list[j]
        if cfg.PriorityWeightAge and cfg.PriorityMaxAge_s > 0:
            p += cfg.PriorityWeightAge * min(max(now - eligible, 0.0) / cfg.PriorityMaxAge_s, 1.0)
        if self.fairshare is not None:
            p += cfg.PriorityWeightFairshare * float(self.fs_factor[self.assoc[j]])
        return max(int(math.floor(p)), 1)


def order(jobs: np.ndarray, tier: np.ndarray, priority: np.ndarray, submit: np.ndarray) -> np.ndarray:
    """`jobs` sorted as Slurm considers them: PriorityTier desc, priority desc, submit, job number.

    `tier`, `priority` and `submit` are aligned with `jobs`; job numbers break the last ties.
    """
    jobs = np.asarray(jobs)
    idx = np.lexsort((jobs, submit, -np.asarray(priority), -np.asarray(tier)))
    return jobs[idx]


def normalised(values: Mapping[str, float]) -> dict[str, float]:
    """value / max(values) for PriorityJobFactor and QOS Priority (all 0 when the max is 0)."""
    top = max(values.values(), default=0)
    return {k: (v / top if top > 0 else 0.0) for k, v in values.items()}


def _per_job(values: Sequence[str], value_of: Callable[[str], float]) -> np.ndarray:
    """value_of(v) for every row, evaluated once per distinct v."""
    distinct, code = factorize(values)
    return np.array([value_of(v) for v in distinct], dtype=np.float64)[code]


class EnginePriority:
    """priority/multifactor wired into the engine: a priority at submit, a recalculation every
    PriorityCalcPeriod while jobs pend, and fairshare usage fed by job starts and ends.

    Recalculation ticks are at multiples of PriorityCalcPeriod from t=0 (controller start). After
    one, the queue is re-sorted only if some pending job's priority changed.
    """

    def __init__(self, engine: "Engine", tree: AssocTree | None = None, assoc: np.ndarray | None = None) -> None:
        sc, J = engine.sc, engine.jobs
        cfg = PriorityConfig.from_table(sc.priority)
        self.cfg = cfg
        self.period = int(cfg.PriorityCalcPeriod_s)
        if tree is None:
            tree = AssocTree.build(
                {k: v.table for k, v in sc.accounts.items()}, {k: v.table for k, v in sc.users.items()},
                pairs(J["user"], J["account"])[0],
            )
        if assoc is None:
            assoc = tree.job_assocs(J["user"], J["account"])
        self.assoc = assoc
        self._assoc_list = assoc.tolist()
        first = engine.first_part
        n = len(J)
        part_factor = normalised({p.name: p.priority_job_factor for p in sc.partitions})
        qos_factor = normalised({name: q.priority for name, q in sc.qos.items()})
        qos = tree.job_qos(J["qos"], assoc)
        fairshare = None
        if cfg.multifactor and cfg.PriorityWeightFairshare:
            fairshare = Fairshare(tree, cfg.PriorityDecayHalfLife_s, cfg.fair_tree, cfg.FairShareDampeningFactor,
                                  cfg.PriorityUsageResetPeriod)
        self.fairshare = fairshare
        self.calc = Priorities(
            cfg,
            nodes=J["nodes"], cpus=J["cpus"],
            time_limit_s=np.array([engine.time_limit(j, first[j]) for j in range(n)], dtype=np.float64)
            if "SMALL_RELATIVE_TO_TIME" in cfg.PriorityFlags else np.ones(n),
            partition_factor=np.array([part_factor[name] for name in engine.pname], dtype=np.float64)[first],
            qos_factor=_per_job(qos, lambda q: qos_factor.get(q, 0.0)),
            assoc=assoc, cluster_nodes=len(engine.nodes.names), cluster_cpus=engine.nodes.total_cpus,
            fairshare=fairshare,
        )
        self.dynamic = self.calc.dynamic
        if fairshare is not None:
            w = parse_billing_weights(cfg.TRESBillingWeights, "priority.TRESBillingWeights")
            self._w = (w.get("cpu", 0.0), w.get("mem", 0.0), w.get("node", 0.0), w.get("gres/gpu", 0.0))
            self._typed = {name.split(":", 1)[1]: v for name, v in w.items() if name.startswith("gres/gpu:")}
            self._billing_default = not w
            factors = {name: float(q.table.get("UsageFactor", 1.0)) for name, q in sc.qos.items()}
            self._usage_factor = _per_job(qos, lambda q: factors.get(q, 1.0)).tolist()
            self._rate = [0.0] * n
            self.calc.refresh(0.0)
            self._refreshed = 0

    def initial(self, e: "Engine", j: int, now: int) -> int:
        """The priority a job gets at submit, with the fairshare factors of the latest tick (ticks
        with no job pending are skipped, so they are brought up to date here when stale)."""
        if self.fairshare is not None:
            tick = now // self.period * self.period
            if tick > self._refreshed:
                self.refresh(tick)
        return self.calc.initial(j, now, e.eligible[j])

    def refresh(self, now: int) -> np.ndarray:
        """New fair-share factors (each recalculation, and at a submit after skipped ticks)."""
        self.calc.refresh(now)
        self._refreshed = now
        return self.calc.fs_factor

    def next_tick(self, now: int) -> int:
        return (now // self.period + 1) * self.period

    def on_start(self, e: "Engine", j: int, now: int) -> None:
        if self.fairshare is not None:
            self._started(e, j, e.alloc_cpus[j], e.alloc_gpus[j], now)

    def _started(self, e: "Engine", j: int, cpus: int, gpus: int, now: int) -> None:
        """Billable TRES of the allocation (allocated CPUs/GPUs, requested memory) x QOS UsageFactor."""
        nodes = e.nn[j]
        if self._billing_default:
            bill = float(cpus)
        else:
            wc, wm, wn, wg = self._w
            bill = wc * cpus + wm * e.mpn[j] * nodes + wn * nodes + wg * gpus
            if self._typed and e.gt[j] in self._typed:
                bill += self._typed[e.gt[j]] * gpus
        rate = bill * self._usage_factor[j]
        self._rate[j] = rate
        if rate:
            self.fairshare.change_rate(self._assoc_list[j], rate, now)

    def billing(self, e: "Engine") -> dict:
        """_started's weights and per-job factors as arrays, for simcore's compiled engine."""
        return {"bill_cpus": self._billing_default, "weights": self._w,
                "typed": _per_job(e.gt, lambda t: self._typed.get(t, 0.0)),
                "usage_factor": np.asarray(self._usage_factor, dtype=np.float64)}

    def on_end(self, e: "Engine", j: int, now: int) -> None:
        if self.fairshare is not None and self._rate[j]:
            self.fairshare.change_rate(self._assoc_list[j], -self._rate[j], now)
            self._rate[j] = 0.0

    def recalc(self, e: "Engine", now: int) -> bool:
        """Recompute pending jobs' priorities and re-key the queue; True if the order changed
        (a uniform age increase changes every priority but not the order: no new pass needed)."""
        from simcore.engine import PENDING

        self.refresh(now)
        state = e.state
        live = [entry for entry in e.queue if state[entry[3]] == PENDING]
        if not live:
            return False
        pend = list(dict.fromkeys(entry[3] for entry in live))
        new = self.calc.compute(np.asarray(pend), np.asarray([e.eligible[j] for j in pend]), now).tolist()
        prio = e.prio
        if all(prio[j] == p for j, p in zip(pend, new)):
            return False
        qkeys = e.qkeys
        for j, p in zip(pend, new):
            prio[j] = p
            qkeys[j] = []
        queue = []
        for entry in live:
            key = (entry[0], -prio[entry[3]]) + entry[2:]
            queue.append(key)
            qkeys[entry[3]].append(key)
        queue.sort()
        e.queue = queue
        return any(a[3:] != b[3:] for a, b in zip(live, queue))
