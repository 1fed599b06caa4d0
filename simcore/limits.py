"""QOS and association limits checked before a job may start (acct_policy in Slurm).

Interface used by the engine (keep it small; the policy code extends what is checked):
- `Limits(scenario, jobs)`: built once per run from the scenario and the JobTable;
- `blocking_reason(j, now) -> str | None`: Slurm's pending reason if a limit keeps job j waiting;
- `on_start(j, now)` / `on_end(j, now)`: the job's resources join / leave the usage counters;
- `next_change(now) -> int | None`: the next time a limit may loosen with no job ending (None: never).
A limit-blocked job is skipped by both schedulers and gets no backfill reservation (as in Slurm).

Implemented here: per-QOS MaxTRESPerUser on gres/gpu (QOSMaxGRESPerUser) and cpu
(QOSMaxCpuPerUserLimit). A job's QOS is its `qos` column, else the user's DefaultQOS, else
"normal"; a QOS without a [qos.<name>] table has no limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simcore.config import Scenario
    from simcore.jobs import JobTable


class Limits:
    """Running usage per (QOS, user) against each QOS's MaxTRESPerUser."""

    def __init__(self, scenario: "Scenario", jobs: "JobTable") -> None:
        default_qos = {name: str(u.table.get("DefaultQOS", "")) for name, u in scenario.users.items()}
        users = jobs["user"].tolist()
        self._user = users
        self._qos = [q or default_qos.get(u, "") or "normal" for q, u in zip(jobs["qos"].tolist(), users)]
        self._gpus = jobs["gpus"].tolist()
        self._cpus = jobs["cpus"].tolist()
        self._max_gpu: dict[str, float] = {}
        self._max_cpu: dict[str, float] = {}
        for name, q in scenario.qos.items():
            per_user = q.limits.get("MaxTRESPerUser", {})
            if "gres/gpu" in per_user:
                self._max_gpu[name] = per_user["gres/gpu"]
            if "cpu" in per_user:
                self._max_cpu[name] = per_user["cpu"]
        self._used_gpu: dict[tuple[str, str], int] = {}
        self._used_cpu: dict[tuple[str, str], int] = {}
        self.active = bool(self._max_gpu or self._max_cpu)

    def blocking_reason(self, j: int, now: int) -> str | None:
        if not self.active:
            return None
        q = self._qos[j]
        key = (q, self._user[j])
        cap = self._max_gpu.get(q)
        if cap is not None and self._gpus[j] and self._used_gpu.get(key, 0) + self._gpus[j] > cap:
            return "QOSMaxGRESPerUser"
        cap = self._max_cpu.get(q)
        if cap is not None and self._used_cpu.get(key, 0) + self._cpus[j] > cap:
            return "QOSMaxCpuPerUserLimit"
        return None

    def on_start(self, j: int, now: int) -> None:
        if self.active:
            key = (self._qos[j], self._user[j])
            self._used_gpu[key] = self._used_gpu.get(key, 0) + self._gpus[j]
            self._used_cpu[key] = self._used_cpu.get(key, 0) + self._cpus[j]

    def on_end(self, j: int, now: int) -> None:
        if self.active:
            key = (self._qos[j], self._user[j])
            self._used_gpu[key] -= self._gpus[j]
            self._used_cpu[key] -= self._cpus[j]

    def next_change(self, now: int) -> int | None:
        return None
