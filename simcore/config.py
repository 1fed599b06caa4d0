"""The scenario: cluster, partitions, scheduler, priority, QOS, associations, workload, metrics.

Why frozen dataclasses with Slurm's spelling: a scenario is hashed into run ids and pasted from
slurm.conf / sacctmgr, so every key is validated once here (unknown keys get a did-you-mean), values
are parsed into seconds / MB / TRES dicts, and `to_dict` gives one canonical form for hashing.
The schema is docs/scenario.md.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from simcore.errors import ConfigError
from simcore.hostlist import collect_hostlist, expand_hostlist
from simcore.units import format_duration, format_tres, parse_duration, parse_memory, parse_tres

# ---------------------------------------------------------------- helpers


def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], where: str, source: str) -> None:
    """One-line error with a did-you-mean for the first unknown key."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: {where} must be a table, got {type(table).__name__}")
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
            dotted = f"{where}.{key}" if where else key
            raise ConfigError(f"{source}: unknown key {dotted!r}{hint}")


def _int(value: Any, key: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}: expected an integer >= {minimum}, got {value!r}")
    return value


def _number(value: Any, key: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError(f"{key}: expected a number >= {minimum}, got {value!r}")
    return float(value)


def _yes_no(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().upper()
    if text in ("YES", "TRUE", "1"):
        return True
    if text in ("NO", "FALSE", "0"):
        return False
    raise ConfigError(f"{key}: expected YES or NO, got {value!r}")


def _choice(value: Any, key: str, allowed: tuple[str, ...]) -> str:
    text = str(value).strip().upper() if not str(value).startswith(("sched/", "preempt/")) else str(value)
    if text not in allowed:
        raise ConfigError(f"{key}: {value!r} is not allowed; allowed: {', '.join(allowed)}")
    return text


def _limit(value: Any, key: str) -> int | None:
    """A count that may be UNLIMITED (None)."""
    if isinstance(value, str) and value.strip().upper() in ("UNLIMITED", "INFINITE", "-1"):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if value == -1:
        return None
    return _int(value, key, 0)


def _frozen(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


# ---------------------------------------------------------------- nodes


NODE_KEYS = ("NodeName", "CPUs", "RealMemory", "Gres", "Weight", "Features", "State", "Sockets",
             "CoresPerSocket", "ThreadsPerCore", "Boards")


@dataclass(frozen=True)
class NodeSpec:
    """One NodeName line: identical nodes sharing CPUs, memory, GPUs, Weight and Features."""

    names: tuple[str, ...]
    cpus: int
    real_memory: int          # MB
    gpus: int                 # GPUs per node
    gpu_type: str             # "" when untyped
    weight: int = 1
    features: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str, source: str) -> "NodeSpec":
        _check_keys(d, NODE_KEYS, where, source)
        if "NodeName" not in d:
            raise ConfigError(f"{source}: {where}.NodeName is required")
        names = tuple(expand_hostlist(d["NodeName"], f"{source}: {where}.NodeName"))
        cpus = d.get("CPUs")
        if cpus is None and "CoresPerSocket" in d:
            cpus = d.get("Boards", 1) * d.get("Sockets", 1) * d["CoresPerSocket"] * d.get("ThreadsPerCore", 1)
        cpus = _int(cpus if cpus is not None else 1, f"{source}: {where}.CPUs", 1)
        mem = parse_memory(d.get("RealMemory", 1), f"{source}: {where}.RealMemory")
        gpus, gtype = _parse_gres(d.get("Gres", ""), f"{source}: {where}.Gres")
        weight = _int(d.get("Weight", 1), f"{source}: {where}.Weight", 0)
        feats = tuple(f.strip() for f in str(d.get("Features", "")).split(",") if f.strip())
        return cls(names, cpus, mem, gpus, gtype, weight, feats)

    def to_dict(self) -> dict[str, Any]:
        gres = "" if not self.gpus else f"gpu:{self.gpu_type + ':' if self.gpu_type else ''}{self.gpus}"
        return {"NodeName": collect_hostlist(list(self.names)), "CPUs": self.cpus,
                "RealMemory": self.real_memory, "Gres": gres, "Weight": self.weight,
                "Features": ",".join(self.features)}


def _parse_gres(value: Any, key: str) -> tuple[int, str]:
    """`gpu:a100:4` / `gpu:4` -> (4, "a100"/""); one GPU type per node (simplification)."""
    text = str(value or "").strip()
    if not text:
        return 0, ""
    if "," in text:
        raise ConfigError(f"{key}: {value!r} lists several GRES; one GPU type per NodeName line is supported")
    parts = text.split(":")
    if parts[0] != "gpu" or len(parts) not in (2, 3) or not parts[-1].isdigit():
        raise ConfigError(f"{key}: {value!r} is not gpu:COUNT or gpu:TYPE:COUNT")
    return int(parts[-1]), (parts[1] if len(parts) == 3 else "")


# ---------------------------------------------------------------- partitions


PARTITION_KEYS = ("Nodes", "MaxTime", "DefaultTime", "MaxNodes", "MinNodes", "PriorityTier",
                  "PriorityJobFactor", "AllowAccounts", "State", "Default", "OverSubscribe",
                  "PreemptMode", "GraceTime", "QOS", "MaxTRESPerJob")
PARTITION_STATES = ("UP", "DOWN", "DRAIN", "INACTIVE")


@dataclass(frozen=True)
class PartitionSpec:
    """One PartitionName line. Durations in seconds; None = UNLIMITED."""

    name: str
    nodes: tuple[str, ...]
    max_time: int | None = None
    default_time: int | None = None
    max_nodes: int | None = None
    priority_tier: int = 1
    priority_job_factor: int = 1
    allow_accounts: tuple[str, ...] | None = None   # None = ALL
    state: str = "UP"
    default: bool = False
    exclusive: bool = False                         # OverSubscribe=EXCLUSIVE
    preempt_mode: str = ""          # "" = the global scheduler PreemptMode (slurm.conf)
    grace_time: int = 0
    qos: str = ""
    max_tres_per_job: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any], all_nodes: list[str], source: str) -> "PartitionSpec":
        where = f"partitions.{name}"
        _check_keys(d, PARTITION_KEYS, where, source)
        k = lambda key: f"{source}: {where}.{key}"  # noqa: E731
        nodes_expr = d.get("Nodes", "ALL")
        if str(nodes_expr).upper() == "ALL":
            nodes = tuple(all_nodes)
        else:
            nodes = tuple(expand_hostlist(str(nodes_expr), k("Nodes")))
            unknown = [n for n in nodes if n not in set(all_nodes)]
            if unknown:
                raise ConfigError(f"{k('Nodes')}: node {unknown[0]!r} is not defined in [[cluster.nodes]]")
        over = _choice(d.get("OverSubscribe", "NO"), k("OverSubscribe"), ("NO", "EXCLUSIVE", "YES", "FORCE"))
        if over in ("YES", "FORCE"):
            raise ConfigError(f"{k('OverSubscribe')}: {over} (time-slicing) is not modelled; allowed: NO, EXCLUSIVE")
        allow = str(d.get("AllowAccounts", "ALL")).strip()
        return cls(
            name=name,
            nodes=nodes,
            max_time=parse_duration(d.get("MaxTime", "UNLIMITED"), k("MaxTime")),
            default_time=parse_duration(d["DefaultTime"], k("DefaultTime")) if "DefaultTime" in d else None,
            max_nodes=_limit(d.get("MaxNodes", "UNLIMITED"), k("MaxNodes")),
            priority_tier=_int(d.get("PriorityTier", 1), k("PriorityTier")),
            priority_job_factor=_int(d.get("PriorityJobFactor", 1), k("PriorityJobFactor")),
            allow_accounts=None if allow.upper() == "ALL" else tuple(a.strip() for a in allow.split(",") if a.strip()),
            state=_choice(d.get("State", "UP"), k("State"), PARTITION_STATES),
            default=_yes_no(d.get("Default", False), k("Default")),
            exclusive=over == "EXCLUSIVE",
            preempt_mode=str(d.get("PreemptMode", "")).upper(),
            grace_time=parse_duration(d.get("GraceTime", 0), k("GraceTime"), bare="s") or 0,
            qos=str(d.get("QOS", "")),
            max_tres_per_job=_frozen(parse_tres(d.get("MaxTRESPerJob", ""), k("MaxTRESPerJob"))),
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "Nodes": collect_hostlist(list(self.nodes)), "MaxTime": format_duration(self.max_time),
            "MaxNodes": "UNLIMITED" if self.max_nodes is None else self.max_nodes,
            "PriorityTier": self.priority_tier, "PriorityJobFactor": self.priority_job_factor,
            "AllowAccounts": "ALL" if self.allow_accounts is None else ",".join(self.allow_accounts),
            "State": self.state, "Default": self.default,
            "OverSubscribe": "EXCLUSIVE" if self.exclusive else "NO", "PreemptMode": self.preempt_mode,
            "GraceTime": self.grace_time, "QOS": self.qos,
            "MaxTRESPerJob": format_tres(dict(self.max_tres_per_job)),
        }
        if self.default_time is not None:
            out["DefaultTime"] = format_duration(self.default_time)
        return out


# ---------------------------------------------------------------- scheduler

# SchedulerParameters options that are modelled, with defaults (slurm.conf(5), 22.05).
SCHED_DEFAULTS: dict[str, int | bool] = {
    "bf_interval": 30, "bf_window": 1440, "bf_resolution": 60, "bf_max_job_test": 500,
    "bf_max_job_user": 0, "bf_continue": False, "default_queue_depth": 100, "sched_interval": 60,
}
# Options accepted (they appear in real slurm.conf files) but without effect in a simulation.
SCHED_IGNORED = ("bf_yield_interval", "bf_yield_sleep", "max_rpc_cnt", "defer", "sched_min_interval",
                 "bf_max_time", "max_sched_time", "batch_sched_delay", "kill_invalid_depend",
                 "enable_user_top", "bf_busy_nodes", "pack_serial_at_end", "nohold_on_prolog_fail",
                 "bf_min_age_reserve", "bf_max_job_start", "partition_job_depth", "sched_max_job_start")
SCHEDULER_KEYS = ("SchedulerParameters", "SchedulerType", "EnforcePartLimits", "OverTimeLimit",
                  "PreemptType", "PreemptMode", "PreemptExemptTime", "SelectType",
                  "SelectTypeParameters", *SCHED_DEFAULTS)


@dataclass(frozen=True)
class SchedulerParams:
    """slurm.conf scheduling keys; times in seconds (bf_window is given in minutes, as in Slurm)."""

    scheduler_type: str = "sched/backfill"
    bf_interval: int = 30
    bf_window: int = 1440 * 60
    bf_resolution: int = 60
    bf_max_job_test: int = 500
    bf_max_job_user: int = 0
    bf_continue: bool = False
    default_queue_depth: int = 100
    sched_interval: int = 60
    enforce_part_limits: str = "NO"
    over_time_limit: int = 0          # s (OverTimeLimit is minutes in slurm.conf)
    preempt_type: str = "preempt/none"
    preempt_mode: str = "OFF"
    preempt_exempt_time: int = 0

    @property
    def backfill(self) -> bool:
        return self.scheduler_type == "sched/backfill"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str) -> "SchedulerParams":
        _check_keys(d, SCHEDULER_KEYS, "scheduler", source)
        k = lambda key: f"{source}: scheduler.{key}"  # noqa: E731
        opts: dict[str, Any] = dict(SCHED_DEFAULTS)
        for item in str(d.get("SchedulerParameters", "")).split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, value = item.partition("=")
            if name in SCHED_IGNORED:
                continue
            if name not in SCHED_DEFAULTS:
                close = difflib.get_close_matches(name, list(SCHED_DEFAULTS) + list(SCHED_IGNORED), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(SCHED_DEFAULTS)}"
                raise ConfigError(f"{k('SchedulerParameters')}: unknown option {name!r}{hint}")
            if name == "bf_continue":
                opts[name] = True
                continue
            if not sep or not value.strip().isdigit():
                raise ConfigError(f"{k('SchedulerParameters')}: {item!r} needs an integer value")
            opts[name] = int(value)
        for name in SCHED_DEFAULTS:  # separate keys override SchedulerParameters
            if name in d:
                opts[name] = _yes_no(d[name], k(name)) if name == "bf_continue" else _int(d[name], k(name))
        for name in ("bf_interval", "bf_resolution", "bf_max_job_test", "sched_interval", "default_queue_depth"):
            if opts[name] < 1:
                raise ConfigError(f"{k(name)}: must be >= 1, got {opts[name]}")
        stype = str(d.get("SchedulerType", "sched/backfill"))
        if stype not in ("sched/backfill", "sched/builtin"):
            raise ConfigError(f"{k('SchedulerType')}: {stype!r} is not allowed; allowed: sched/backfill, sched/builtin")
        enforce = _choice(d.get("EnforcePartLimits", "NO"), k("EnforcePartLimits"), ("NO", "ALL", "ANY", "YES"))
        return cls(
            scheduler_type=stype,
            bf_interval=opts["bf_interval"], bf_window=opts["bf_window"] * 60,
            bf_resolution=opts["bf_resolution"], bf_max_job_test=opts["bf_max_job_test"],
            bf_max_job_user=opts["bf_max_job_user"], bf_continue=bool(opts["bf_continue"]),
            default_queue_depth=opts["default_queue_depth"], sched_interval=opts["sched_interval"],
            enforce_part_limits="ANY" if enforce == "YES" else enforce,
            over_time_limit=parse_duration(d.get("OverTimeLimit", 0), k("OverTimeLimit")) or 0,
            preempt_type=str(d.get("PreemptType", "preempt/none")),
            preempt_mode=str(d.get("PreemptMode", "OFF")).upper(),
            preempt_exempt_time=parse_duration(d.get("PreemptExemptTime", 0), k("PreemptExemptTime"), bare="s") or 0,
        )

    def to_dict(self) -> dict[str, Any]:
        params = (f"bf_interval={self.bf_interval},bf_window={self.bf_window // 60},"
                  f"bf_resolution={self.bf_resolution},bf_max_job_test={self.bf_max_job_test},"
                  f"bf_max_job_user={self.bf_max_job_user},default_queue_depth={self.default_queue_depth},"
                  f"sched_interval={self.sched_interval}" + (",bf_continue" if self.bf_continue else ""))
        return {"SchedulerParameters": params, "SchedulerType": self.scheduler_type,
                "EnforcePartLimits": self.enforce_part_limits, "OverTimeLimit": self.over_time_limit // 60,
                "PreemptType": self.preempt_type, "PreemptMode": self.preempt_mode,
                "PreemptExemptTime": self.preempt_exempt_time}


# ---------------------------------------------------------------- QOS and associations

TRES_LIMIT_KEYS = ("GrpTRES", "GrpTRESMins", "GrpTRESRunMins", "MaxTRESMinsPerJob", "MaxTRESPerAccount",
                   "MaxTRESPerJob", "MaxTRESPerNode", "MaxTRESPerUser", "MaxTRESRunMinsPerAccount",
                   "MaxTRESRunMinsPerUser", "MinTRESPerJob", "MaxTRESRunMins")
COUNT_LIMIT_KEYS = ("GrpJobs", "GrpJobsAccrue", "GrpSubmitJobs", "MaxJobsAccruePerUser",
                    "MaxJobsAccruePerAccount", "MaxJobsPerAccount", "MaxJobsPerUser",
                    "MaxSubmitJobsPerAccount", "MaxSubmitJobsPerUser", "MaxJobs", "MaxJobsAccrue",
                    "MaxSubmitJobs")
WALL_LIMIT_KEYS = ("MaxWall", "GrpWall", "MaxWallDurationPerJob")
QOS_KEYS = ("Priority", "Description", "Flags", "GraceTime", "Preempt", "PreemptMode",
            "PreemptExemptTime", "UsageFactor", "UsageThreshold", "MinPrioThreshold",
            *TRES_LIMIT_KEYS, *COUNT_LIMIT_KEYS, *WALL_LIMIT_KEYS)
ASSOC_KEYS = ("Parent", "Account", "Fairshare", "DefaultQOS", "QOS", "Priority", "Description",
              *TRES_LIMIT_KEYS, *COUNT_LIMIT_KEYS, *WALL_LIMIT_KEYS)


def _parse_limits(d: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """Limit keys parsed: TRES -> {tres: amount}, counts -> int (None = UNLIMITED), walls -> s."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if key in TRES_LIMIT_KEYS:
            out[key] = _frozen(parse_tres(value, f"{where}.{key}"))
        elif key in COUNT_LIMIT_KEYS:
            out[key] = _limit(value, f"{where}.{key}")
        elif key in WALL_LIMIT_KEYS:
            out[key] = parse_duration(value, f"{where}.{key}")
    return _frozen(out)


def _canonical_limits(limits: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in sorted(limits.items()):
        if key in TRES_LIMIT_KEYS:
            out[key] = format_tres(dict(value))
        elif key in WALL_LIMIT_KEYS:
            out[key] = format_duration(value)
        else:
            out[key] = "UNLIMITED" if value is None else value
    return out


@dataclass(frozen=True)
class QOSSpec:
    """A sacctmgr QOS: `table` is the raw table, `limits` its limit keys parsed (see _parse_limits)."""

    name: str
    priority: int
    table: Mapping[str, Any]
    limits: Mapping[str, Any]

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any], source: str) -> "QOSSpec":
        where = f"qos.{name}"
        _check_keys(d, QOS_KEYS, where, source)
        prio = _int(d.get("Priority", 0), f"{source}: {where}.Priority")
        return cls(name, prio, _frozen(d), _parse_limits(d, f"{source}: {where}"))

    def to_dict(self) -> dict[str, Any]:
        raw = {k: v for k, v in self.table.items() if k not in self.limits}
        return {**raw, "Priority": self.priority, **_canonical_limits(self.limits)}


@dataclass(frozen=True)
class AssocSpec:
    """An account or user association: raw table plus parsed limits."""

    name: str
    table: Mapping[str, Any]
    limits: Mapping[str, Any]

    @classmethod
    def from_dict(cls, kind: str, name: str, d: Mapping[str, Any], source: str) -> "AssocSpec":
        where = f"{kind}.{name}"
        _check_keys(d, ASSOC_KEYS, where, source)
        return cls(name, _frozen(d), _parse_limits(d, f"{source}: {where}"))

    def to_dict(self) -> dict[str, Any]:
        raw = {k: v for k, v in self.table.items() if k not in self.limits}
        return {**raw, **_canonical_limits(self.limits)}


# ---------------------------------------------------------------- workload and metrics

WORKLOAD_KINDS = ("synthetic", "file", "swf", "sacct", "archetypes")


@dataclass(frozen=True)
class WorkloadSpec:
    """[workload]: `kind` plus its parameters (validated by the generator or reader of that kind)."""

    kind: str = "synthetic"
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str) -> "WorkloadSpec":
        if not isinstance(d, Mapping):
            raise ConfigError(f"{source}: [workload] must be a table")
        kind = str(d.get("kind", "synthetic"))
        if kind not in WORKLOAD_KINDS:
            raise ConfigError(f"{source}: workload.kind {kind!r} is not allowed; allowed: {', '.join(WORKLOAD_KINDS)}")
        return cls(kind, _frozen({k: v for k, v in d.items() if k != "kind"}))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dict(self.params)}


METRICS_KEYS = ("warmup", "debug_max_time", "short_max_time", "long_min_time", "large_min_gpus",
                "newuser_jobs", "timeseries_step")


@dataclass(frozen=True)
class MetricsSpec:
    """[metrics]: the warm-up skipped before measuring and the job-class thresholds (docs/metrics.md)."""

    warmup: int = 0
    debug_max_time: int = 30 * 60
    short_max_time: int = 4 * 3600
    long_min_time: int = 24 * 3600
    large_min_gpus: int = 8
    newuser_jobs: int = 5
    timeseries_step: int = 3600

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str) -> "MetricsSpec":
        _check_keys(d, METRICS_KEYS, "metrics", source)
        k = lambda key: f"{source}: metrics.{key}"  # noqa: E731
        dur = lambda key, default: parse_duration(d.get(key, default), k(key)) or 0  # noqa: E731
        step = parse_duration(d.get("timeseries_step", 3600), k("timeseries_step"), bare="s") or 0
        if step < 1:
            raise ConfigError(f"{k('timeseries_step')}: must be at least 1 s")
        return cls(
            warmup=dur("warmup", 0), debug_max_time=dur("debug_max_time", "30:00"),
            short_max_time=dur("short_max_time", "4:00:00"), long_min_time=dur("long_min_time", "1-0"),
            large_min_gpus=_int(d.get("large_min_gpus", 8), k("large_min_gpus"), 1),
            newuser_jobs=_int(d.get("newuser_jobs", 5), k("newuser_jobs"), 1),
            timeseries_step=step,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"warmup": format_duration(self.warmup), "debug_max_time": format_duration(self.debug_max_time),
                "short_max_time": format_duration(self.short_max_time),
                "long_min_time": format_duration(self.long_min_time), "large_min_gpus": self.large_min_gpus,
                "newuser_jobs": self.newuser_jobs, "timeseries_step": self.timeseries_step}


# ---------------------------------------------------------------- scenario

TOP_KEYS = ("name", "description", "cluster", "partitions", "scheduler", "priority", "qos", "accounts",
            "users", "workload", "metrics")


@dataclass(frozen=True)
class Scenario:
    """One cluster configuration plus its workload; immutable and hashable through to_dict()."""

    name: str
    nodes: tuple[NodeSpec, ...]
    partitions: tuple[PartitionSpec, ...]
    scheduler: SchedulerParams
    priority: Mapping[str, Any]            # raw [priority] table (simcore.priority parses it)
    qos: Mapping[str, QOSSpec]
    accounts: Mapping[str, AssocSpec]
    users: Mapping[str, AssocSpec]
    workload: WorkloadSpec
    metrics: MetricsSpec
    source: str = "<scenario>"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "<scenario>") -> "Scenario":
        """Validate a TOML-shaped dict; errors are one line naming `source` and the dotted key."""
        _check_keys(d, TOP_KEYS, "", source)
        cluster = d.get("cluster", {})
        _check_keys(cluster, ("nodes",), "cluster", source)
        node_tables = cluster.get("nodes", [])
        if not isinstance(node_tables, list) or not node_tables:
            raise ConfigError(f"{source}: cluster.nodes must list at least one [[cluster.nodes]] table")
        nodes = tuple(NodeSpec.from_dict(t, f"cluster.nodes[{i}]", source) for i, t in enumerate(node_tables))
        all_names: list[str] = []
        for spec in nodes:
            all_names.extend(spec.names)
        if len(set(all_names)) != len(all_names):
            dup = next(n for n in all_names if all_names.count(n) > 1)
            raise ConfigError(f"{source}: cluster.nodes: node {dup!r} is defined twice")
        part_tables = d.get("partitions", {})
        if not isinstance(part_tables, Mapping) or not part_tables:
            raise ConfigError(f"{source}: at least one [partitions.<name>] table is required")
        partitions = tuple(PartitionSpec.from_dict(n, t, all_names, source) for n, t in part_tables.items())
        priority = d.get("priority", {})
        if not isinstance(priority, Mapping):
            raise ConfigError(f"{source}: [priority] must be a table")
        _validate_priority(priority, source)
        qos = {n: QOSSpec.from_dict(n, t, source) for n, t in d.get("qos", {}).items()}
        for p in partitions:
            if p.qos and p.qos not in qos:
                raise ConfigError(f"{source}: partitions.{p.name}.QOS {p.qos!r} is not a [qos.<name>] table")
        accounts = {n: AssocSpec.from_dict("accounts", n, t, source) for n, t in d.get("accounts", {}).items()}
        users = {n: AssocSpec.from_dict("users", n, t, source) for n, t in d.get("users", {}).items()}
        return cls(
            name=str(d.get("name", "scenario")),
            nodes=nodes,
            partitions=partitions,
            scheduler=SchedulerParams.from_dict(d.get("scheduler", {}), source),
            priority=_frozen(priority),
            qos=_frozen(qos),
            accounts=_frozen(accounts),
            users=_frozen(users),
            workload=WorkloadSpec.from_dict(d.get("workload", {}), source),
            metrics=MetricsSpec.from_dict(d.get("metrics", {}), source),
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        """Canonical form: every default explicit, values in one spelling, so equal scenarios hash equal."""
        return {
            "name": self.name,
            "cluster": {"nodes": [n.to_dict() for n in self.nodes]},
            "partitions": {p.name: p.to_dict() for p in self.partitions},
            "scheduler": self.scheduler.to_dict(),
            "priority": dict(sorted(self.priority.items())),
            "qos": {n: q.to_dict() for n, q in sorted(self.qos.items())},
            "accounts": {n: a.to_dict() for n, a in sorted(self.accounts.items())},
            "users": {n: u.to_dict() for n, u in sorted(self.users.items())},
            "workload": self.workload.to_dict(),
            "metrics": self.metrics.to_dict(),
        }

    @property
    def default_partition(self) -> PartitionSpec:
        """The partition marked Default, else the first (as slurmctld does)."""
        return next((p for p in self.partitions if p.default), self.partitions[0])


def _validate_priority(table: Mapping[str, Any], source: str) -> None:
    """Delegate to simcore.priority (owned by the policy code) so errors appear at load time."""
    from simcore.priority import PriorityConfig

    try:
        PriorityConfig.from_table(table)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
