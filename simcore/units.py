"""Slurm's value formats: durations, memory sizes and TRES strings.

Why one module: slurm.conf, sacctmgr and sacct all spell values the same way, and every reader
(scenario, importers, CLI) must accept exactly what an administrator would paste.
"""

from __future__ import annotations

import math
import re

from simcore.errors import ConfigError

# Durations: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
# "days-hours:minutes", "days-hours:minutes:seconds" (slurm.conf(5), sbatch --time).
_DURATION_RE = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")
_UNLIMITED = ("UNLIMITED", "INFINITE", "-1")
_MEM_UNITS = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024, "P": 1024**3}
_MEM_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGTP]?)B?$", re.IGNORECASE)


def parse_duration(value: object, key: str, bare: str = "min") -> int | None:
    """Seconds for a Slurm duration; None for UNLIMITED/INFINITE.

    A bare number is in `bare` units: "min" as in slurm.conf MaxTime/DefaultTime and sbatch --time,
    "s" for keys Slurm gives in seconds (GraceTime, bf_interval).
    """
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"{key}: expected a Slurm duration such as \"2-12:00:00\", got {value!r}")
    scale = 60 if bare == "min" else 1
    if isinstance(value, (int, float)):
        if value < 0:
            if value == -1:
                return None
            raise ConfigError(f"{key}: a duration must not be negative, got {value!r}")
        return int(round(value * scale))
    text = str(value).strip()
    if text.upper() in _UNLIMITED:
        return None
    m = _DURATION_RE.match(text)
    if not m:
        raise ConfigError(
            f"{key}: {value!r} is not a Slurm duration; allowed: minutes, MM:SS, HH:MM:SS, "
            "D-HH, D-HH:MM, D-HH:MM:SS, UNLIMITED"
        )
    days, a, b, c = m.groups()
    if days is not None:
        return int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
    if c is not None:
        return int(a) * 3600 + int(b) * 60 + int(c)
    if b is not None:
        return int(a) * 60 + int(b)
    return int(a) * scale


def format_duration(seconds: int | None) -> str:
    """Canonical Slurm spelling D-HH:MM:SS (or UNLIMITED): used by Scenario.to_dict for hashing."""
    if seconds is None:
        return "UNLIMITED"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"


def parse_memory(value: object, key: str) -> int:
    """Megabytes for a Slurm memory size ("512000" = MB, "500G", "1T", "100M", "1024K")."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a memory size such as 512000 (MB) or \"500G\", got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{key}: memory must not be negative, got {value!r}")
        return int(value)
    m = _MEM_RE.match(str(value).strip())
    if not m:
        raise ConfigError(f"{key}: {value!r} is not a memory size; allowed: MB as a number, or K/M/G/T suffix")
    return int(math.ceil(float(m.group(1)) * _MEM_UNITS[(m.group(2) or "M").upper()]))


def parse_tres(value: object, key: str) -> dict[str, float]:
    """TRES string -> {name: amount}, as sacctmgr writes it ("gres/gpu=8,cpu=64,mem=100G").

    Names are kept as Slurm writes them (cpu, mem, node, billing, gres/gpu, gres/gpu:a100);
    mem is converted to MB. "-1" means no limit and the entry is dropped.
    """
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    else:
        text = str(value).strip()
        if not text:
            return {}
        items = []
        for part in text.split(","):
            name, sep, amount = part.partition("=")
            if not sep or not name.strip():
                raise ConfigError(f"{key}: {part!r} is not name=value; expected e.g. \"gres/gpu=8,cpu=64\"")
            items.append((name.strip(), amount.strip()))
    out: dict[str, float] = {}
    for name, amount in items:
        name = name.lower()
        if name == "gpu":
            name = "gres/gpu"
        if str(amount).strip() in _UNLIMITED:
            continue
        if name == "mem":
            out[name] = float(parse_memory(amount, f"{key} ({name})"))
            continue
        try:
            number = float(amount)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: {name}={amount!r} is not a number") from None
        if number < 0:
            raise ConfigError(f"{key}: {name}={amount!r} must not be negative")
        out[name] = number
    return out


def format_tres(tres: dict[str, float]) -> str:
    """Canonical TRES string (sorted names, integers where whole): used for hashing."""
    parts = []
    for name in sorted(tres):
        v = tres[name]
        parts.append(f"{name}={int(v) if float(v).is_integer() else v}")
    return ",".join(parts)
