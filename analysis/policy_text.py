"""A configuration said the way its users would read it: the usability axis made visible.

`describe(base, knobs)` applies a cell's knob values (dotted keys, docs/scenario.md) to the
sweep's base scenario and returns short phrases such as "gpu partition: jobs up to 3 days
on all 25 nodes" or "at most 8 GPUs per user at once (QOS normal)". Phrases that a knob
changed are flagged so reports can emphasise what differs between front configurations.
Only keys an admin would explain to users are described; scheduler tuning is not.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass

import hostlist

from analysis.units import format_duration, format_tres, format_tres_minutes, parse_duration_s


@dataclass(frozen=True)
class Phrase:
    """One statement of the policy; `varies` when a swept knob set a value in it.

    `short` is the statement cut down to the parts a knob set ("gpu partition: jobs up to
    3 days"), for tables that show only what differs between configurations.
    """

    text: str
    varies: bool
    short: str = ""


def base_scenario(manifest: dict) -> dict:
    """The sweep's base scenario: manifest['base'], or the [base] table of the grid source."""
    if isinstance(manifest.get("base"), dict):
        return copy.deepcopy(manifest["base"])
    for key in ("grid_source", "grid", "source", "grid_toml"):
        text = manifest.get(key)
        if isinstance(text, str):
            try:
                grid = tomllib.loads(text)
            except tomllib.TOMLDecodeError:
                continue
            if isinstance(grid.get("base"), dict):
                return grid["base"]
    return {}


def apply_knobs(base: dict, knobs: dict[str, object]) -> dict:
    """A copy of `base` with each dotted key set to its knob value."""
    scenario = copy.deepcopy(base)
    for key, value in knobs.items():
        node = scenario
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[leaf] = value
    return scenario


def _node_count(spec: object, scenario: dict) -> int | None:
    try:
        if str(spec).upper() == "ALL":
            return sum(
                len(hostlist.expand_hostlist(n["NodeName"]))
                for n in scenario.get("cluster", {}).get("nodes", [])
            )
        return len(hostlist.expand_hostlist(str(spec)))
    except (hostlist.BadHostlist, KeyError, TypeError):
        return None


def _limit(value: object) -> bool:
    """Whether a limit value restricts anything (UNLIMITED, -1, 0 and '' do not)."""
    return value not in (None, "", -1, 0, "-1") and str(value).upper() not in ("UNLIMITED", "INFINITE")


def _partition(name: str, part: dict, scenario: dict, prefix: str) -> list[tuple[str, set[str]]]:
    """The partition's rules as (text, keys) bits, in the order users meet them."""
    bits: list[tuple[str, set[str]]] = []
    if "MaxTime" in part:
        bits.append((f"jobs up to {format_duration(parse_duration_s(part['MaxTime']))}", {f"{prefix}.MaxTime"}))
    nodes = _node_count(part.get("Nodes", "ALL"), scenario)
    if nodes:
        everyone = str(part.get("Nodes", "ALL")).upper() == "ALL"
        bits.append((f"on {'all ' if everyone else ''}{nodes} node{'s' if nodes != 1 else ''}", {f"{prefix}.Nodes"}))
    if _limit(part.get("MaxNodes")):
        plural = "" if str(part["MaxNodes"]) == "1" else "s"
        bits.append((f"at most {part['MaxNodes']} node{plural} per job", {f"{prefix}.MaxNodes"}))
    if _limit(part.get("MaxTRESPerJob")):
        bits.append((f"at most {format_tres(part['MaxTRESPerJob'])} per job", {f"{prefix}.MaxTRESPerJob"}))
    if part.get("DefaultTime") and part.get("DefaultTime") != part.get("MaxTime"):
        bits.append((f"default time limit {format_duration(parse_duration_s(part['DefaultTime']))}", {f"{prefix}.DefaultTime"}))
    if int(part.get("PriorityTier", 1) or 1) > 1:
        bits.append((f"scheduled first (PriorityTier {part['PriorityTier']})", {f"{prefix}.PriorityTier"}))
    mode = str(part.get("PreemptMode", "OFF")).upper()
    if mode not in ("OFF", ""):
        text = f"jobs here can be preempted ({mode.lower()})"
        grace = part.get("GraceTime") or 0  # seconds, as in slurm.conf
        if isinstance(grace, (int, float)) and grace > 0:
            text += f" with {format_duration(float(grace))} warning"
        bits.append((text, {f"{prefix}.PreemptMode", f"{prefix}.GraceTime"}))
    accounts = str(part.get("AllowAccounts", "ALL"))
    if accounts.upper() != "ALL":
        bits.append((f"only for accounts {accounts}", {f"{prefix}.AllowAccounts"}))
    return bits


_LIMITS = (
    ("MaxTRESPerUser", lambda v, scope: f"at most {format_tres(v)} per user at once ({scope})"),
    ("MaxTRESPerAccount", lambda v, scope: f"at most {format_tres(v)} per account at once ({scope})"),
    ("MaxJobsPerUser", lambda v, scope: f"at most {v} running jobs per user ({scope})"),
    ("MaxSubmitJobsPerUser", lambda v, scope: f"at most {v} queued jobs per user ({scope})"),
    ("MaxTRESPerJob", lambda v, scope: f"at most {format_tres(v)} per job ({scope})"),
    ("MaxWall", lambda v, scope: f"jobs up to {format_duration(parse_duration_s(v))} ({scope})"),
    (
        "MaxTRESRunMinsPerUser",
        lambda v, scope: f"at most {format_tres_minutes(v)} of running work per user ({scope}; counts resources x time left)",
    ),
    ("GrpTRES", lambda v, scope: f"at most {format_tres(v)} in use by all jobs of {scope} together"),
    (
        "GrpTRESRunMins",
        lambda v, scope: f"at most {format_tres_minutes(v)} of running work for all jobs of {scope} together (counts resources x time left)",
    ),
)


def _limits(kind: str, name: str, table: dict, prefix: str) -> list[tuple[str, set[str]]]:
    out = []
    for key, say in _LIMITS:
        if _limit(table.get(key)):
            out.append((say(table[key], f"{kind} {name}"), {f"{prefix}.{key}"}))
    return out


def _priority(scenario: dict) -> list[tuple[str, set[str]]]:
    prio = scenario.get("priority", {})
    if str(prio.get("PriorityType", "priority/basic")) != "priority/multifactor":
        return [("jobs are considered in submission order", {"priority.PriorityType"})]
    factors = []
    for key, word in (
        ("PriorityWeightFairshare", "fair share"),
        ("PriorityWeightAge", "waiting time"),
        ("PriorityWeightJobSize", "job size"),
        ("PriorityWeightQOS", "QOS"),
        ("PriorityWeightPartition", "partition"),
    ):
        if float(prio.get(key, 0) or 0) > 0:
            factors.append((float(prio[key]), word))
    if not factors:
        return [("jobs are considered in submission order", {"priority.PriorityType"})]
    words = ", ".join(word for _, word in sorted(factors, reverse=True))
    text = f"priority from {words}"
    if any(word == "fair share" for _, word in factors):
        half = format_duration(parse_duration_s(prio.get("PriorityDecayHalfLife", "7-0")))
        text += f" (past usage counts half after {half})"
    keys = {f"priority.{k}" for k in prio}
    return [(text, keys)]


def describe(base: dict, knobs: dict[str, object]) -> list[Phrase]:
    """Plain-language phrases for the base scenario with `knobs` applied."""
    scenario = apply_knobs(base, knobs)
    knob_keys = set(knobs)
    found: list[tuple[str, set[str]]] = []
    shorts: dict[int, str] = {}
    partitions = scenario.get("partitions", {})
    order = sorted(partitions, key=lambda p: (-int(partitions[p].get("PriorityTier", 1) or 1), p))
    for name in order:
        if isinstance(partitions[name], dict):
            bits = _partition(name, partitions[name], scenario, f"partitions.{name}")
            keys = set().union(*(k for _, k in bits)) if bits else {f"partitions.{name}"}
            changed = [text for text, k in bits if k & knob_keys]
            if changed:
                shorts[len(found)] = f"{name} partition: " + ", ".join(changed)
            rules = ", ".join(text for text, _ in bits) or "no limits"
            found.append((f"{name} partition: {rules}", keys))
    for name, table in sorted(scenario.get("qos", {}).items()):
        if isinstance(table, dict):
            found += _limits("QOS", name, table, f"qos.{name}")
    for kind, section in (("account", "accounts"), ("user", "users")):
        for name, table in sorted(scenario.get(section, {}).items()):
            if isinstance(table, dict):
                found += _limits(kind, name, table, f"{section}.{name}")
    if base:
        found += _priority(scenario)
    covered = set().union(*(keys for _, keys in found)) if found else set()
    phrases = [
        Phrase(text, bool(keys & knob_keys), shorts.get(i, text)) for i, (text, keys) in enumerate(found)
    ]
    for key in sorted(knob_keys - covered):
        phrases.append(Phrase(f"{key} = {knobs[key]}", True, f"{key} = {knobs[key]}"))
    return phrases


def summary(phrases: list[Phrase], only_varying: bool = False) -> str:
    """Phrases joined into one line ('; ')."""
    chosen = [p.text for p in phrases if p.varies or not only_varying]
    return "; ".join(chosen)
