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
  recently started job first, then the higher job number (deterministic, and the cheapest loss).
- REQUEUE: the job is pending again at the end of the grace period and becomes eligible 120 s later
  (REQUEUE_HOLD_S, reason BeginTime), keeps its id, and restarts from its last checkpoint: with a
  checkpoint interval c > 0, progress p is saved as floor(p / c) * c; c = 0 restarts from scratch.
  Work since the last checkpoint is lost (lost GPU-hours). CANCEL loses the same work and the job
  never returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simcore.errors import ConfigError

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
    """Per-job preemption attributes (arrays indexed by job number) and the QOS preempt matrix."""

    kind: str
    rank: np.ndarray          # tier (partition_prio) or QOS priority (qos): candidate sort key
    tier: np.ndarray          # partition PriorityTier of each job
    qos: np.ndarray           # QOS index of each job (-1 = none, the last row of qos_preempts)
    qos_preempts: np.ndarray  # bool [preemptor QOS, preemptee QOS]
    mode: np.ndarray          # int8 OFF/CANCEL/REQUEUE as a preemptee
    grace: np.ndarray         # int64 seconds as a preemptee
    exempt: np.ndarray        # int64 PreemptExemptTime seconds as a preemptee

    @property
    def enabled(self) -> bool:
        return self.kind != "preempt/none" and bool((self.mode != OFF).any())

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
        jq = np.array([qos_index.get(q, -1) if q else -1 for q in job_qos], dtype=np.int64)
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
        if preempt_type == "preempt/qos":
            rank, mode, grace = q_prio[jq], q_mode[jq], q_grace[jq]
        else:
            part_mode = np.array(
                [_mode(p[2], f"{source}: partitions.{p[0]}.PreemptMode", global_mode) for p in partitions], dtype=np.int8
            )
            part_grace = np.array([p[3] for p in partitions], dtype=np.int64)
            rank, mode, grace = tier.copy(), part_mode[job_partition], part_grace[job_partition]
        if preempt_type == "preempt/none":
            mode = np.zeros(n, dtype=np.int8)
        return cls(preempt_type, rank, tier, jq, matrix, mode, grace.astype(np.int64), exempt)

    def can_preempt(self, preemptor: int, preemptees: np.ndarray) -> np.ndarray:
        """Which of `preemptees` (running job numbers) `preemptor` may preempt, ignoring exempt time."""
        preemptees = np.asarray(preemptees, dtype=np.int64)
        ok = self.mode[preemptees] != OFF
        if self.kind == "preempt/partition_prio":
            return ok & (self.tier[preemptees] < self.tier[preemptor])
        if self.kind == "preempt/qos":
            return ok & self.qos_preempts[self.qos[preemptor], self.qos[preemptees]]
        return np.zeros(len(preemptees), dtype=bool)

    def candidates(self, preemptor: int, running: np.ndarray, start: np.ndarray, nodes: np.ndarray, now: float) -> np.ndarray:
        """Running jobs `preemptor` may preempt now, in the order they should be tried.

        `start` and `nodes` are per-job arrays (start of the current run, allocated node count).
        """
        running = np.asarray(running, dtype=np.int64)
        if not len(running):
            return running
        ok = self.can_preempt(preemptor, running) & (now - start[running] >= self.exempt[running])
        cand = running[ok]
        if not len(cand):
            return cand
        key_nodes = np.minimum(nodes[cand], 0xFFFF)
        order = np.lexsort((-cand, -start[cand], key_nodes, self.rank[cand]))
        return cand[order]


def _seconds(value: object, key: str) -> int:
    from simcore.units import parse_duration

    return parse_duration(value, key, bare="s") or 0


def saved_progress(progress_s: np.ndarray | float, checkpoint_s: np.ndarray | float) -> np.ndarray | float:
    """Progress kept after an interruption: the last multiple of the checkpoint interval (0 if none)."""
    p = np.asarray(progress_s, dtype=np.int64)
    c = np.asarray(checkpoint_s, dtype=np.int64)
    out = np.where(c > 0, (p // np.maximum(c, 1)) * c, 0)
    return out if out.ndim else int(out)
