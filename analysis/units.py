"""Slurm value formats read back for people: durations and TRES strings.

Knob values in a results folder keep Slurm's spelling (`"3-00:00:00"`, `"gres/gpu=8"`); the
report must sort them by what they mean and say them in words an admin uses ("3 days",
"8 GPUs"). Parsing here is lenient on purpose: analysis only displays values that the
simulator has already validated, so an unparsable value is shown verbatim, never rejected.
"""

from __future__ import annotations

import math
import re

from simcore.errors import ConfigError
from simcore.units import parse_duration


def parse_duration_s(value: object) -> float | None:
    """Seconds in a Slurm time value, `inf` for UNLIMITED, None when it is not a duration.

    The formats are simcore's (slurm.conf(5)): a bare number means minutes.
    """
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = parse_duration(value, "value")
    except ConfigError:
        return None
    return math.inf if seconds is None else float(seconds)


def _plural(count: float, unit: str) -> str:
    shown = f"{count:g}"
    return f"{shown} {unit}" if shown == "1" else f"{shown} {unit}s"


def format_duration(seconds: float | None) -> str:
    """'3 days', '1 day 12 hours', '4 hours', '30 minutes', 'no limit'."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "unknown"
    if math.isinf(seconds):
        return "no limit"
    total_min = int(round(seconds / 60.0))
    if total_min == 0:
        return _plural(int(round(seconds)), "second")
    days, rem = divmod(total_min, 24 * 60)
    hours, minutes = divmod(rem, 60)
    parts = []
    if days:
        parts.append(_plural(days, "day"))
    if hours:
        parts.append(_plural(hours, "hour"))
    if minutes:
        parts.append(_plural(minutes, "minute"))
    return " ".join(parts[:2]) if days else " ".join(parts)


def parse_tres(value: object) -> dict[str, str] | None:
    """`"gres/gpu=8,cpu=64"` -> {"gres/gpu": "8", "cpu": "64"}; None when not a TRES string."""
    if not isinstance(value, str) or "=" not in value:
        return None
    out: dict[str, str] = {}
    for item in value.split(","):
        key, sep, amount = item.strip().partition("=")
        if not sep or not key:
            return None
        out[key.strip()] = amount.strip()
    return out


def _mem_gb(amount: str) -> float | None:
    match = re.match(r"^(\d+(?:\.\d+)?)([KMGT]?)$", amount.upper())
    if not match:
        return None
    scale = {"K": 1 / 1024**2, "": 1 / 1024, "M": 1 / 1024, "G": 1.0, "T": 1024.0}
    return float(match.group(1)) * scale[match.group(2)]


def _tres_noun(key: str) -> str | None:
    if key == "gres/gpu":
        return "GPU"
    if key.startswith("gres/gpu:"):
        return f"{key.split(':', 1)[1].upper()} GPU"
    return {"cpu": "CPU", "node": "node", "billing": "billing unit"}.get(key)


def format_tres(value: object, per: str = "") -> str:
    """`"gres/gpu=8,cpu=64"` -> "8 GPUs and 64 CPUs"; unknown strings are returned as given."""
    tres = parse_tres(value)
    if tres is None:
        return str(value)
    parts = []
    for key, amount in tres.items():
        noun = _tres_noun(key)
        if key == "mem":
            gb = _mem_gb(amount)
            parts.append(f"{gb:g} GB of memory" if gb is not None else f"mem={amount}")
        elif noun is not None and re.fullmatch(r"\d+(\.\d+)?", amount):
            parts.append(_plural(float(amount), noun))
        else:
            parts.append(f"{key}={amount}")
    return join_words(parts) + per


def format_tres_minutes(value: object) -> str:
    """GrpTRESRunMins-style `"gres/gpu=7200"` -> "120 GPU-hours" (TRES x minutes, shown in hours)."""
    tres = parse_tres(value)
    if tres is None:
        return str(value)
    parts = []
    for key, amount in tres.items():
        noun = _tres_noun(key)
        try:
            hours = float(amount) / 60.0
        except ValueError:
            parts.append(f"{key}={amount}")
            continue
        shown = f"{hours:,.4g}" if hours < 1000 else f"{hours:,.0f}"
        parts.append(f"{shown} {noun or key}-hours")
    return join_words(parts)


def join_words(parts: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def sort_key(value: object) -> tuple:
    """Order knob values by meaning: numbers, then durations, then TRES amounts, then text."""
    if value is None:
        return (4, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    seconds = parse_duration_s(value)
    if seconds is not None:
        return (1, seconds, str(value))
    tres = parse_tres(value)
    if tres is not None:
        numbers = []
        for amount in tres.values():
            try:
                numbers.append(float(amount))
            except ValueError:
                numbers.append(math.inf)
        return (2, tuple(numbers), str(value))
    return (3, str(value))


def humanize(value: object) -> str:
    """A knob value in words: durations as '3 days', TRES as '16 GPUs', others as given."""
    if isinstance(value, str):
        seconds = parse_duration_s(value)
        if seconds is not None and not value.strip().isdigit():
            return format_duration(seconds)
        if parse_tres(value) is not None:
            return format_tres(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
