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
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from simcore.errors import ConfigError
from simcore.fairshare import RESET_PERIODS, Fairshare

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

    @classmethod
    def from_table(cls, table: Mapping[str, object]) -> "PriorityConfig":
        """Validate the scenario's [priority] table; errors name the dotted key."""
        known = {
            "PriorityType", "PriorityCalcPeriod", "PriorityDecayHalfLife", "PriorityUsageResetPeriod",
            "PriorityMaxAge", "PriorityWeightAge", "PriorityWeightFairshare", "PriorityWeightJobSize",
            "PriorityWeightPartition", "PriorityWeightQOS", "PriorityFlags", "PriorityFavorSmall",
            "FairShareDampeningFactor",
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
    `compute` adds age and fairshare for the jobs asked about.
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
        self.fairshare = fairshare
        if cfg.multifactor:
            size = job_size_factor(cfg, nodes, cpus, time_limit_s, cluster_nodes, cluster_cpus)
            self.static = (
                cfg.PriorityWeightJobSize * size
                + cfg.PriorityWeightPartition * np.asarray(partition_factor, dtype=np.float64)
                + cfg.PriorityWeightQOS * np.asarray(qos_factor, dtype=np.float64)
            )
        else:
            self.static = np.zeros(len(self.assoc))

    def compute(self, jobs: np.ndarray, eligible: np.ndarray, now: float) -> np.ndarray:
        """Priorities (int64) of job numbers `jobs`, eligible since `eligible` (same length)."""
        cfg = self.cfg
        if not cfg.multifactor:
            return np.ones(len(jobs), dtype=np.int64)
        p = self.static[jobs].copy()
        if cfg.PriorityWeightAge:
            waited = np.maximum(now - np.asarray(eligible, dtype=np.float64), 0.0)
            age = np.minimum(waited / cfg.PriorityMaxAge_s, 1.0) if cfg.PriorityMaxAge_s > 0 else np.ones(len(jobs))
            p += cfg.PriorityWeightAge * age
        if cfg.PriorityWeightFairshare and self.fairshare is not None:
            p += cfg.PriorityWeightFairshare * self.fairshare.factors(now)[self.assoc[jobs]]
        return np.maximum(np.floor(p), 1.0).astype(np.int64)


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
