"""Import a slurm.conf into a scenario dict (docs/scenario.md), so a site can start from its own cluster.

Reads NodeName and PartitionName lines (with their DEFAULT lines), the scheduling, preemption and
Priority* keys, `include` files (paths relative to the including file), comments and `\\`
continuations. Keys are matched case-insensitively, as slurmctld does, and written in Slurm's
spelling. Keys the simulator does not model are kept and reported (`SlurmConf.unknown`), never
fatal. Errors name the file and line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from simcore.errors import ConfigError, TrilemmaError

# Node keys copied into [[cluster.nodes]]; CPUs may instead come from the socket/core layout.
NODE_KEYS = ("NodeName", "CPUs", "RealMemory", "Gres", "Weight", "Features")
NODE_LAYOUT_KEYS = ("Boards", "SocketsPerBoard", "Sockets", "CoresPerSocket", "ThreadsPerCore")
NODE_ALIASES = {"procs": "CPUs", "feature": "Features"}
PARTITION_KEYS = (
    "PartitionName", "Nodes", "MaxTime", "DefaultTime", "MaxNodes", "PriorityTier",
    "PriorityJobFactor", "PreemptMode", "GraceTime", "OverSubscribe", "AllowAccounts", "QOS",
    "Default", "State",
)
PARTITION_ALIASES = {"shared": "OverSubscribe"}
SCHEDULER_KEYS = (
    "SchedulerParameters", "SchedulerType", "EnforcePartLimits", "OverTimeLimit", "PreemptType",
    "PreemptMode", "PreemptExemptTime", "SelectType", "SelectTypeParameters",
)
PRIORITY_KEYS = (
    "PriorityType", "PriorityDecayHalfLife", "PriorityCalcPeriod", "PriorityMaxAge",
    "PriorityWeightAge", "PriorityWeightFairshare", "PriorityWeightJobSize",
    "PriorityWeightPartition", "PriorityWeightQOS", "PriorityFlags", "PriorityFavorSmall",
    "FairShareDampeningFactor", "PriorityUsageResetPeriod",
)
INT_KEYS = frozenset({
    "CPUs", "RealMemory", "Weight", *NODE_LAYOUT_KEYS, "PriorityTier", "PriorityJobFactor",
    "GraceTime", "PriorityWeightAge", "PriorityWeightFairshare", "PriorityWeightJobSize",
    "PriorityWeightPartition", "PriorityWeightQOS", "FairShareDampeningFactor",
})
DURATION_KEYS = frozenset({"MaxTime", "DefaultTime", "PriorityDecayHalfLife", "PriorityMaxAge"})
MAX_INCLUDE_DEPTH = 10
_TOKEN = re.compile(r'\s*([^=\s]+)=("(?:[^"]*)"|\S*)|\s*(\S+)')


@dataclasses.dataclass(frozen=True)
class UnknownKey:
    """A slurm.conf setting the scenario does not model; kept so the import can report it."""

    where: str  # "file:line"
    key: str
    value: str

    def __str__(self) -> str:
        return f"{self.where}: {self.key}={self.value}"


@dataclasses.dataclass(frozen=True)
class SlurmConf:
    """The scenario dict built from a slurm.conf, and what it had to leave out."""

    scenario: dict[str, Any]
    unknown: tuple[UnknownKey, ...]
    notes: tuple[str, ...] = ()  # what the import added that slurm.conf cannot say (QOS tables)


def load_slurm_conf(path: str | Path) -> dict[str, Any]:
    """The scenario dict (docs/scenario.md schema) for a slurm.conf; see read_slurm_conf."""
    return read_slurm_conf(path).scenario


def read_slurm_conf(path: str | Path) -> SlurmConf:
    """Parse a slurm.conf (and its includes) into a scenario dict plus the keys not simulated."""
    builder = _Builder(Path(path).stem)
    for where, pairs in _logical_lines(Path(path), depth=0):
        builder.add(where, pairs)
    return builder.finish()


def _logical_lines(path: Path, depth: int, included_from: str = ""):
    """Yield ("file:line", [(key, value), ...]) for each setting line, following includes."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        prefix = f"{included_from}: include " if included_from else ""
        raise ConfigError(f"{prefix}{path}: cannot read slurm.conf ({exc.strerror})") from None
    pending = ""
    start = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if pending:
            line = line.lstrip()  # a continued value resumes at the next line's first character
        else:
            start = lineno
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        line = (pending + line).strip()
        pending = ""
        if not line:
            continue
        where = f"{path.name}:{start}"
        first = line.split(None, 1)
        if first[0].lower() == "include":
            if len(first) < 2:
                raise ConfigError(f"{where}: include needs a file name")
            if depth >= MAX_INCLUDE_DEPTH:
                raise ConfigError(f"{where}: includes nested deeper than {MAX_INCLUDE_DEPTH} (a loop?)")
            target = Path(first[1].strip().strip('"'))
            if not target.is_absolute():
                target = path.parent / target
            yield from _logical_lines(target, depth + 1, included_from=where)
            continue
        yield where, _pairs(line, where)
    if pending:
        raise ConfigError(f"{path.name}:{start}: file ends inside a '\\' continuation")


def _strip_comment(line: str) -> str:
    """Drop a '#' comment (slurm.conf has no quoting of '#' other than '\\#')."""
    out = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == "#":
            out.append("#")
            i += 2
            continue
        if ch == "#":
            break
        out.append(ch)
        i += 1
    return "".join(out).rstrip()


def _pairs(line: str, where: str) -> list[tuple[str, str]]:
    pairs = []
    for match in _TOKEN.finditer(line):
        key, value, bare = match.groups()
        if bare is not None:
            raise ConfigError(f"{where}: found {bare!r} without '='; slurm.conf settings are Key=Value")
        pairs.append((key, value.strip('"')))
    return pairs


class _Builder:
    """Accumulates nodes, partitions and global keys in file order (DEFAULT lines apply forward)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[dict[str, Any]] = []
        self.node_names: set[str] = set()
        self.node_default: dict[str, Any] = {}
        self.partitions: dict[str, dict[str, Any]] = {}
        self.partition_default: dict[str, Any] = {}
        self.scheduler: dict[str, Any] = {}
        self.priority: dict[str, Any] = {}
        self.unknown: list[UnknownKey] = []
        self.billing: dict[str, tuple[str, str]] = {}  # partition -> (where, TRESBillingWeights)
        self.nodesets: dict[str, list[str]] = {}
        self.features: dict[str, set[str]] = {}  # node -> its Features (for NodeSet Feature=)

    def add(self, where: str, pairs: list[tuple[str, str]]) -> None:
        head = pairs[0][0].lower()
        if head == "nodename":
            self._node(where, pairs)
        elif head == "partitionname":
            self._partition(where, pairs)
        elif head == "nodeset":
            self._nodeset(where, pairs)
        else:
            for key, value in pairs:
                self._global(where, key, value)

    def _node(self, where: str, pairs: list[tuple[str, str]]) -> None:
        known = {k.lower(): k for k in (*NODE_KEYS, *NODE_LAYOUT_KEYS)}
        known.update(NODE_ALIASES)
        values: dict[str, Any] = {}
        for key, value in pairs:
            canon = known.get(key.lower())
            if canon is None:
                self.unknown.append(UnknownKey(where, key, value))
                continue
            values[canon] = _typed(canon, value, where)
        name = values.pop("NodeName")
        if name.upper() == "DEFAULT":
            self.node_default.update(values)
            return
        hosts = _expand(name, where, "NodeName")
        duplicate = self.node_names.intersection(hosts)
        if duplicate:
            raise ConfigError(f"{where}: NodeName {min(duplicate)} is defined twice")
        self.node_names.update(hosts)
        listed = str(values.get("Features", self.node_default.get("Features", "")))
        features = {f.strip() for f in listed.split(",") if f.strip()}
        self.features.update({h: features for h in hosts})
        node: dict[str, Any] = {"NodeName": name}
        # The line's own CPUs or core layout wins over the DEFAULT line's.
        cpus = _cpus(values) or _cpus(self.node_default)
        if cpus:
            node["CPUs"] = cpus
        merged = {**self.node_default, **values}
        for key in ("RealMemory", "Gres", "Weight", "Features"):
            if key in merged:
                node[key] = merged[key]
        if "Gres" in node:
            node["Gres"] = self._gpu_gres(node["Gres"], where)
            if not node["Gres"]:
                del node["Gres"]
        self.nodes.append(node)

    def _gpu_gres(self, gres: str, where: str) -> str:
        """Keep gpu entries (without socket bindings); other GRES are reported, not simulated."""
        kept = []
        for item in re.sub(r"\([^)]*\)", "", gres).split(","):
            item = item.strip()
            if not item:
                continue
            if item.split(":", 1)[0] == "gpu":
                kept.append(item)
            else:
                self.unknown.append(UnknownKey(where, "Gres", item))
        return ",".join(kept)

    def _partition(self, where: str, pairs: list[tuple[str, str]]) -> None:
        known = {k.lower(): k for k in PARTITION_KEYS}
        known.update(PARTITION_ALIASES)
        values: dict[str, Any] = {}
        for key, value in pairs:
            if key.lower() == "priority":  # pre-16.05 spelling sets both
                number = _typed("PriorityTier", value, where)
                values["PriorityTier"] = values["PriorityJobFactor"] = number
                continue
            if key.lower() == "tresbillingweights":
                values["TRESBillingWeights"] = (where, value)
                continue
            canon = known.get(key.lower())
            if canon is None:
                self.unknown.append(UnknownKey(where, key, value))
                continue
            values[canon] = _typed(canon, value, where)
        name = values.pop("PartitionName")
        if name.upper() == "DEFAULT":
            self.partition_default.update(values)
            return
        if name in self.partitions:
            raise ConfigError(f"{where}: PartitionName={name} is defined twice")
        merged = {**self.partition_default, **values}
        if "TRESBillingWeights" in merged:
            self.billing[name] = merged.pop("TRESBillingWeights")
        nodes = merged.get("Nodes", "")
        if nodes and nodes.upper() != "ALL":
            hosts = self._hosts(nodes, where, f"PartitionName={name} Nodes")
            missing = [h for h in hosts if h not in self.node_names]
            if missing:
                raise ConfigError(
                    f"{where}: PartitionName={name} Nodes={nodes}: {missing[0]} is not defined by a NodeName line"
                )
            if any(token in self.nodesets for token in _top_level(nodes)):
                from simcore.hostlist import collect_hostlist

                merged["Nodes"] = collect_hostlist(hosts)  # the scenario has no NodeSets
        self.partitions[name] = merged

    def _nodeset(self, where: str, pairs: list[tuple[str, str]]) -> None:
        """NodeSet=<name> Nodes=<hostlist> or Feature=<feature>: a name partitions can use in Nodes."""
        values = {key.lower(): value for key, value in pairs}
        name = values.pop("nodeset")
        if set(values) - {"nodes", "feature"} or not values:
            raise ConfigError(f"{where}: NodeSet={name} needs Nodes=<hostlist> or Feature=<feature>")
        hosts: list[str] = []
        if "nodes" in values:
            hosts += self._hosts(values["nodes"], where, f"NodeSet={name} Nodes")
        if "feature" in values:
            hosts += [h for h, features in self.features.items() if values["feature"] in features]
        self.nodesets[name] = list(dict.fromkeys(hosts))

    def _hosts(self, expression: str, where: str, what: str) -> list[str]:
        """Node names of a Nodes= value: hostlists and NodeSet names, comma-separated."""
        hosts: list[str] = []
        for token in _top_level(expression):
            hosts += self.nodesets[token] if token in self.nodesets else _expand(token, where, what)
        return list(dict.fromkeys(hosts))  # a node named twice (set and name) counts once

    def _global(self, where: str, key: str, value: str) -> None:
        lower = key.lower()
        if lower == "clustername":
            self.name = value
            return
        if lower == "schedulerparameters":
            self.scheduler["SchedulerParameters"] = self._scheduler_parameters(where, value)
            return
        for table, keys in ((self.scheduler, SCHEDULER_KEYS), (self.priority, PRIORITY_KEYS)):
            for canon in keys:
                if canon.lower() == lower:
                    table[canon] = _typed(canon, value, where)
                    return
        self.unknown.append(UnknownKey(where, key, value))

    def _scheduler_parameters(self, where: str, value: str) -> str:
        """Keep the options the scheduler models (or accepts); report the rest."""
        from simcore.config import SCHED_DEFAULTS, SCHED_IGNORED

        kept = []
        for item in filter(None, (i.strip() for i in value.split(","))):
            if item.partition("=")[0] in (*SCHED_DEFAULTS, *SCHED_IGNORED):
                kept.append(item)
            else:
                self.unknown.append(UnknownKey(where, "SchedulerParameters", item))
        return ",".join(kept)

    def finish(self) -> SlurmConf:
        if not self.nodes:
            raise ConfigError(f"{self.name}: no NodeName lines; a scenario needs nodes")
        scenario: dict[str, Any] = {"name": self.name, "cluster": {"nodes": self.nodes}}
        scenario["partitions"] = self.partitions
        if self.scheduler:
            scenario["scheduler"] = self.scheduler
        # The scenario has one TRESBillingWeights ([priority]); per-partition values map onto it
        # only when every partition that sets them agrees.
        weights = {value for _, value in self.billing.values()}
        if len(weights) == 1 and len(self.billing) == len(self.partitions):
            self.priority["TRESBillingWeights"] = weights.pop()
        else:
            self.unknown.extend(UnknownKey(w, "TRESBillingWeights", v) for w, v in self.billing.values())
        if self.priority:
            scenario["priority"] = self.priority
        # QOS live in slurmdbd, not slurm.conf: a partition's QOS gets an empty table to fill in.
        qos_names = sorted({p["QOS"] for p in self.partitions.values() if p.get("QOS")})
        notes = tuple(f"PartitionName QOS={q}: added an empty [qos.{q}]; copy its limits from "
                      f"`sacctmgr show qos {q}`" for q in qos_names)
        if qos_names:
            scenario["qos"] = {q: {} for q in qos_names}
        return SlurmConf(scenario=scenario, unknown=tuple(self.unknown), notes=notes)


def _top_level(expression: str) -> list[str]:
    """Split a Nodes= value at commas outside brackets: "gpu[01-02,05],ns1" -> two tokens."""
    tokens, depth, current = [], 0, []
    for ch in expression:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            tokens.append("".join(current))
            current = []
        else:
            current.append(ch)
    tokens.append("".join(current))
    return [t.strip() for t in tokens if t.strip()]


def _cpus(values: dict[str, Any]) -> int | None:
    """CPUs given directly, or Sockets x CoresPerSocket x ThreadsPerCore (Boards x SocketsPerBoard)."""
    if "CPUs" in values:
        return values["CPUs"]
    boards, per_board, sockets, cores, threads = (values.get(k) for k in NODE_LAYOUT_KEYS)
    if sockets is None and cores is None and threads is None and per_board is None:
        return None
    sockets = sockets if sockets is not None else (boards or 1) * (per_board or 1)
    return sockets * (cores or 1) * (threads or 1)


def _typed(key: str, value: str, where: str) -> Any:
    """Convert a value to the type the scenario schema uses for `key`, checking it."""
    if key in INT_KEYS:
        if not value.isdigit():
            raise ConfigError(f"{where}: {key} is {value!r}; expected a whole number")
        return int(value)
    if key == "Default":
        if value.upper() not in ("YES", "NO"):
            raise ConfigError(f"{where}: Default is {value!r}; allowed: YES, NO")
        return value.upper() == "YES"
    if key == "MaxNodes":
        return int(value) if value.isdigit() else _word(key, value, where, ("UNLIMITED", "INFINITE"))
    if key in ("OverTimeLimit", "PriorityCalcPeriod"):
        return int(value) if value.isdigit() else value
    if key in DURATION_KEYS:
        from simcore.units import parse_duration

        try:
            parse_duration(value, f"{where}: {key}")
        except TrilemmaError as exc:
            raise ConfigError(str(exc)) from None
        return value
    if key in ("OverSubscribe", "PreemptMode", "State", "EnforcePartLimits", "PriorityFavorSmall"):
        return value.upper()
    return value


def _word(key: str, value: str, where: str, allowed: tuple[str, ...]) -> str:
    if value.upper() not in allowed:
        raise ConfigError(f"{where}: {key} is {value!r}; expected a number or {', '.join(allowed)}")
    return value.upper()


def _expand(hostlist: str, where: str, what: str) -> list[str]:
    from simcore.hostlist import expand_hostlist

    try:
        return expand_hostlist(hostlist, f"{where}: {what}")
    except TrilemmaError as exc:
        raise ConfigError(str(exc)) from None
