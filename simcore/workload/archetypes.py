"""User archetypes and their demand: the policy-independent half of the synthetic workload.

A workload is users grouped into archetypes (heavy, regular, new, interactive, deadline, owner),
each with documented parameters (docs/workloads.md). From the seed alone this module draws each
user's *demand*: pieces of work in GPU-hours with a width and an arrival time, plus short test
jobs. Nothing here looks at partitions or limits, so the same seed gives the same demand under
every candidate policy; `shaping` then turns demand into jobs the way users would under that
policy. `generate` is the `[workload] kind = "archetypes"` entry point.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from simcore.errors import ConfigError
from simcore.units import parse_duration

HOUR = 3600

# Relative submission intensity per hour of day (0 = midnight) and per weekday (Monday first):
# a working-day peak, evenings half as busy, nights and weekends quiet, as in real GPU clusters.
DAILY_CYCLE = (
    0.3, 0.25, 0.2, 0.2, 0.2, 0.25, 0.4, 0.6, 0.9, 1.0, 1.0, 1.0,
    0.9, 1.0, 1.0, 1.0, 0.9, 0.8, 0.6, 0.5, 0.5, 0.45, 0.4, 0.35,
)
WEEKLY_CYCLE = (1.0, 1.0, 1.0, 1.0, 0.9, 0.45, 0.4)


@dataclasses.dataclass(frozen=True)
class Archetype:
    """One group of users who behave alike; every field is a [workload.archetypes.<name>] key."""

    name: str
    base: str = ""                       # the built-in archetype this one derives from
    count: int = 0                       # users in the group
    account: tuple[str, ...] = ()        # accounts, assigned to users round-robin; () = automatic
    gpu_hours_per_week: float = 0.0      # production demand per user (the group's mean)
    user_sigma: float = 0.5              # log-normal sigma of users' demand around that mean
    work_gpu_h: float = 1.0              # median GPU-hours of one piece of work (log-normal)
    work_sigma: float = 1.0              # log-normal sigma of the work size
    gpus: tuple[int, ...] = (1,)         # widths a piece of work uses (GPUs)
    gpus_weights: tuple[float, ...] = () # probability of each width; () = equal
    cpus_per_gpu: int = 8
    mem_mb_per_gpu: int = 64000
    test_jobs_per_week: float = 0.0      # short test / interactive jobs per user
    test_runtime: int = 15 * 60          # median runtime of a test job (s, log-normal)
    test_sigma: float = 0.7
    can_checkpoint_frac: float = 0.0     # share of users whose codes checkpoint and restart
    preemptible_frac: float = 0.0        # share of checkpointing users who opt into preemptible partitions
    checkpoint_interval: int = HOUR      # s between checkpoints (work lost on preemption is at most this)
    restart_overhead: int = 10 * 60      # s a restarted chain link spends reloading its checkpoint
    limit_factor: float = 2.0            # median ratio of requested time limit to runtime
    limit_sigma: float = 0.5             # log-normal sigma of that ratio (some users underestimate)
    no_time_limit_frac: float = 0.0      # share of single jobs submitted without --time (DefaultTime applies)
    burst_days: float = 0.0              # > 0: all of a user's work arrives within this many days
    partition: str = ""                  # partition(s) these users always ask for; "" = chosen by shaping
    qos: str = ""                        # QOS their jobs ask for; "" = the default


# The built-in archetypes (a university GPU cluster); [workload.archetypes.<name>] tables override
# single keys. Another name needs `base = "<built-in name>"`.
BUILTIN: dict[str, Archetype] = {
    a.name: dataclasses.replace(a, base=a.name) for a in (
        Archetype("heavy", count=4, gpu_hours_per_week=400.0, work_gpu_h=96.0, work_sigma=1.0,
                  gpus=(1, 2, 4, 8), gpus_weights=(0.1, 0.2, 0.4, 0.3), test_jobs_per_week=2.0,
                  can_checkpoint_frac=0.75, preemptible_frac=0.5, limit_factor=1.5, limit_sigma=0.3),
        Archetype("regular", count=20, gpu_hours_per_week=40.0, work_gpu_h=8.0, work_sigma=1.2,
                  gpus=(1, 2, 4), gpus_weights=(0.6, 0.3, 0.1), test_jobs_per_week=3.0,
                  can_checkpoint_frac=0.3, preemptible_frac=0.3, limit_factor=2.0, limit_sigma=0.5,
                  no_time_limit_frac=0.05),
        Archetype("new", count=8, gpu_hours_per_week=4.0, work_gpu_h=1.0, work_sigma=1.0,
                  gpus=(1,), test_jobs_per_week=4.0, limit_factor=3.0, limit_sigma=0.6,
                  no_time_limit_frac=0.2),
        Archetype("interactive", count=10, test_jobs_per_week=12.0, test_runtime=45 * 60,
                  test_sigma=0.6, gpus=(1, 2), gpus_weights=(0.8, 0.2), limit_factor=2.0,
                  no_time_limit_frac=0.1),
        Archetype("deadline", count=1, gpu_hours_per_week=150.0, work_gpu_h=4.0, work_sigma=0.8,
                  gpus=(1, 2, 4), gpus_weights=(0.5, 0.3, 0.2), burst_days=3.0,
                  can_checkpoint_frac=0.5, limit_factor=1.5, limit_sigma=0.3),
        Archetype("owner", count=3, gpu_hours_per_week=60.0, work_gpu_h=12.0, work_sigma=1.0,
                  gpus=(1, 2, 4), gpus_weights=(0.4, 0.4, 0.2), test_jobs_per_week=1.0,
                  can_checkpoint_frac=0.3, limit_factor=2.0, no_time_limit_frac=0.05),
    )
}
DURATION_FIELDS = ("test_runtime", "checkpoint_interval", "restart_overhead")
FRACTION_FIELDS = ("can_checkpoint_frac", "preemptible_frac", "no_time_limit_frac")


@dataclasses.dataclass(frozen=True)
class WorkloadParams:
    """The [workload] table for kind = "archetypes"."""

    days: float = 28.0                   # submission horizon; day 0 is a Monday, 00:00
    scale: float = 1.0                   # multiplies every archetype's user count
    daily_cycle: tuple[float, ...] = DAILY_CYCLE
    weekly_cycle: tuple[float, ...] = WEEKLY_CYCLE
    debug_max_time: int = 4 * HOUR       # partitions with MaxTime <= this are debug partitions
    chain_dependency: str = "afterany"   # how chain links depend on the previous one
    archetypes: tuple[Archetype, ...] = tuple(BUILTIN.values())


@dataclasses.dataclass(frozen=True)
class Demand:
    """Policy-independent demand: one row per piece of work or test job (numpy arrays)."""

    user: np.ndarray          # index into `users`
    work_gpu_h: np.ndarray    # GPU-hours of work (tests: runtime x gpus)
    gpus: np.ndarray          # width the user wants
    submit: np.ndarray        # s from the start
    limit_factor: np.ndarray  # requested limit / runtime
    no_time_limit: np.ndarray  # submitted without --time (the partition's DefaultTime applies)
    is_test: np.ndarray       # short test or interactive session
    users: tuple[str, ...]
    user_archetype: np.ndarray  # index into params.archetypes, per user
    user_checkpoint: np.ndarray  # bool per user: can checkpoint
    user_preemptible: np.ndarray  # bool per user: opted into preemptible partitions


def parse_params(workload: Mapping[str, Any], source: str = "workload") -> WorkloadParams:
    """Validate the [workload] table; errors name the dotted key."""
    allowed = {f.name for f in dataclasses.fields(WorkloadParams)} | {"kind"}
    for key in workload:
        if key not in allowed:
            raise ConfigError(f"{source}.{key}: unknown key for kind = \"archetypes\"; allowed: {', '.join(sorted(allowed))}")
    base = WorkloadParams()
    days = _number(workload.get("days", base.days), f"{source}.days", low=1 / 24, high=3660)
    scale = _number(workload.get("scale", base.scale), f"{source}.scale", low=0, high=1e6)
    daily = _cycle(workload.get("daily_cycle", base.daily_cycle), 24, f"{source}.daily_cycle")
    weekly = _cycle(workload.get("weekly_cycle", base.weekly_cycle), 7, f"{source}.weekly_cycle")
    debug_s = (_duration(workload["debug_max_time"], f"{source}.debug_max_time")
               if "debug_max_time" in workload else base.debug_max_time)
    dependency = workload.get("chain_dependency", base.chain_dependency)
    if dependency not in ("afterany", "afterok"):
        raise ConfigError(f"{source}.chain_dependency: found {dependency!r}; allowed: afterany, afterok")
    tables = workload.get("archetypes")
    if tables is None:
        archetypes = base.archetypes
    else:
        if not isinstance(tables, Mapping) or not tables:
            raise ConfigError(f"{source}.archetypes: expected tables [workload.archetypes.<name>]")
        archetypes = tuple(_archetype(name, tables[name], f"{source}.archetypes.{name}") for name in tables)
    if all(round(a.count * scale) == 0 for a in archetypes):
        raise ConfigError(f"{source}.archetypes: no users (every count x scale rounds to 0)")
    return WorkloadParams(days=days, scale=scale, daily_cycle=daily, weekly_cycle=weekly,
                          debug_max_time=debug_s, chain_dependency=dependency, archetypes=archetypes)


def _archetype(name: str, table: Any, where: str) -> Archetype:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table of archetype parameters, found {table!r}")
    base_name = table.get("base", name)
    if base_name not in BUILTIN:
        raise ConfigError(f"{where}.base: {base_name!r} is not a built-in archetype; allowed: {', '.join(BUILTIN)}")
    base = BUILTIN[base_name]
    fields = {f.name: f for f in dataclasses.fields(Archetype)}
    values: dict[str, Any] = {"name": name, "base": base_name}
    for key, value in table.items():
        if key == "base":
            continue
        if key not in fields or key == "name":
            allowed = sorted(set(fields) - {"name"})
            raise ConfigError(f"{where}.{key}: unknown archetype parameter; allowed: {', '.join(allowed)}")
        values[key] = _field(key, value, getattr(base, key), f"{where}.{key}")
    if "gpus" in values and "gpus_weights" not in values:
        values["gpus_weights"] = ()  # the base's weights belong to the base's widths
    archetype = dataclasses.replace(base, **values)
    _check_archetype(archetype, where)
    return archetype


def _field(key: str, value: Any, default: Any, where: str) -> Any:
    if key in DURATION_FIELDS:
        return _duration(value, where)
    if key == "account":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) and v for v in items):
            raise ConfigError(f"{where}: expected an account name or a list of them, found {value!r}")
        return tuple(items)
    if key == "gpus":
        if not isinstance(value, (list, tuple)) or not value or not all(_is_int(v) and v >= 1 for v in value):
            raise ConfigError(f"{where}: expected a list of GPU counts >= 1, found {value!r}")
        return tuple(value)
    if key == "gpus_weights":
        if not isinstance(value, (list, tuple)) or not all(_is_number(v) and v >= 0 for v in value) or sum(value) <= 0:
            raise ConfigError(f"{where}: expected a list of non-negative weights, found {value!r}")
        return tuple(float(v) for v in value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, found {value!r}")
        return value
    if isinstance(default, int):
        if not _is_int(value) or value < 0:
            raise ConfigError(f"{where}: expected a whole number >= 0, found {value!r}")
        return value
    return _number(value, where, low=0, high=1e9)


def _check_archetype(a: Archetype, where: str) -> None:
    for key in FRACTION_FIELDS:
        if getattr(a, key) > 1:
            raise ConfigError(f"{where}.{key}: found {getattr(a, key)}; a fraction is between 0 and 1")
    if a.gpus_weights and len(a.gpus_weights) != len(a.gpus):
        raise ConfigError(f"{where}.gpus_weights: {len(a.gpus_weights)} weights for {len(a.gpus)} widths in gpus")
    if a.work_gpu_h <= 0:
        raise ConfigError(f"{where}.work_gpu_h: found {a.work_gpu_h}; must be > 0")
    if a.limit_factor <= 0:
        raise ConfigError(f"{where}.limit_factor: found {a.limit_factor}; must be > 0")
    if a.test_runtime <= 0:
        raise ConfigError(f"{where}.test_runtime: must be longer than 0 s")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any, where: str, low: float, high: float) -> float:
    if not _is_number(value) or not low <= value <= high:
        raise ConfigError(f"{where}: expected a number from {low:g} to {high:g}, found {value!r}")
    return float(value)


def _duration(value: Any, where: str) -> int:
    seconds = parse_duration(value, where)
    if seconds is None:
        raise ConfigError(f"{where}: found {value!r}; a finite duration is needed here")
    return seconds


def _cycle(value: Any, length: int, where: str) -> tuple[float, ...]:
    if (not isinstance(value, (list, tuple)) or len(value) != length
            or not all(_is_number(v) and v >= 0 for v in value) or sum(value) <= 0):
        raise ConfigError(f"{where}: expected {length} non-negative weights (not all 0), found {value!r}")
    return tuple(float(v) for v in value)


def draw_demand(params: WorkloadParams, seed: int) -> Demand:
    """Draw every user's demand from the seed; each archetype has its own random stream."""
    parts: list[dict[str, np.ndarray]] = []
    users: list[str] = []
    user_arch, user_ckpt, user_pre = [], [], []
    hours = max(1, int(np.ceil(params.days * 24)))
    hour = np.arange(hours)
    intensity = np.asarray(params.daily_cycle)[hour % 24] * np.asarray(params.weekly_cycle)[(hour // 24) % 7]
    for index, a in enumerate(params.archetypes):
        count = int(round(a.count * params.scale))
        if count == 0:
            continue
        # Streams keyed by seed and archetype name: editing one archetype leaves the others' demand alone.
        rng = np.random.default_rng([seed, zlib.crc32(a.name.encode())])
        first = len(users)
        width = len(str(count))
        users.extend(f"{a.name}{i + 1:0{width}d}" for i in range(count))
        ckpt = rng.random(count) < a.can_checkpoint_frac
        pre = ckpt & (rng.random(count) < a.preemptible_frac)
        user_arch.append(np.full(count, index))
        user_ckpt.append(ckpt)
        user_pre.append(pre)
        weeks = params.days / 7
        probs = np.asarray(a.gpus_weights or [1.0] * len(a.gpus), dtype=float)
        probs /= probs.sum()
        # Production work: Poisson number of pieces with log-normal size, mean = the weekly demand.
        mean_size = a.work_gpu_h * np.exp(a.work_sigma**2 / 2)
        # Users of one archetype differ: each gets a log-normal multiplier with mean 1.
        spread = np.exp(a.user_sigma * rng.standard_normal(count) - a.user_sigma**2 / 2)
        n_work = rng.poisson(a.gpu_hours_per_week * weeks / mean_size * spread)
        n_test = rng.poisson(a.test_jobs_per_week * weeks * spread)
        total = int(n_work.sum() + n_test.sum())
        if total == 0:
            continue
        who = np.concatenate([np.repeat(np.arange(count), n_work), np.repeat(np.arange(count), n_test)])
        is_test = np.zeros(total, dtype=bool)
        is_test[n_work.sum():] = True
        gpus = rng.choice(np.asarray(a.gpus), p=probs, size=total)
        size = a.work_gpu_h * np.exp(a.work_sigma * rng.standard_normal(total))
        test_h = a.test_runtime / HOUR * np.exp(a.test_sigma * rng.standard_normal(total))
        work = np.where(is_test, np.minimum(test_h, 8.0) * gpus, size)
        factor = a.limit_factor * np.exp(a.limit_sigma * rng.standard_normal(total))
        submit = _arrivals(rng, intensity, who, a.burst_days, count, total)
        no_time_limit = rng.random(total) < a.no_time_limit_frac
        parts.append({
            "user": who + first, "work_gpu_h": work, "gpus": gpus, "submit": submit,
            "limit_factor": factor, "is_test": is_test, "no_time_limit": no_time_limit,
        })
    cols = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in
            ("user", "work_gpu_h", "gpus", "submit", "limit_factor", "is_test", "no_time_limit")}
    return Demand(
        user=cols["user"].astype(np.int64), work_gpu_h=cols["work_gpu_h"].astype(float),
        gpus=cols["gpus"].astype(np.int64), submit=cols["submit"].astype(np.int64),
        limit_factor=cols["limit_factor"].astype(float), is_test=cols["is_test"].astype(bool),
        no_time_limit=cols["no_time_limit"].astype(bool),
        users=tuple(users), user_archetype=np.concatenate(user_arch),
        user_checkpoint=np.concatenate(user_ckpt), user_preemptible=np.concatenate(user_pre),
    )


def _arrivals(rng: np.random.Generator, intensity: np.ndarray, who: np.ndarray,
              burst_days: float, count: int, total: int) -> np.ndarray:
    """Submit times following the daily/weekly cycle; burst users within their own window.

    Inverse-CDF sampling over the cumulative intensity, restricted to each item's window, so
    any number of burst users costs the same as one.
    """
    hours = len(intensity)
    if burst_days <= 0:
        low = np.zeros(total, dtype=np.int64)
        span = hours
    else:
        span = min(hours, max(1, int(round(burst_days * 24))))
        low = rng.integers(0, hours - span + 1, size=count)[who]
    high = low + span
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    mass = cumulative[high] - cumulative[low]
    u = cumulative[low] + rng.random(total) * mass
    picked = np.searchsorted(cumulative, u, side="right") - 1
    # A window where the cycle is zero throughout is spread evenly instead.
    even = low + (rng.random(total) * span).astype(np.int64)
    picked = np.where(mass > 0, np.clip(picked, low, high - 1), even)
    return picked * HOUR + rng.integers(0, HOUR, size=total)


def generate(scenario: Any, seed: int = 0):
    """`[workload] kind = "archetypes"`: demand from the seed, shaped into jobs under the scenario."""
    from simcore.workload.shaping import shape

    return shape(scenario, seed).table
