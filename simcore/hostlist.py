"""Slurm hostlist syntax (`gpu[01-20],dgx[1-4]`) via python-hostlist, with one-line errors."""

from __future__ import annotations

import hostlist as _hostlist

from simcore.errors import ConfigError


def expand_hostlist(text: str, key: str) -> list[str]:
    """Node names of a hostlist expression, in order; duplicates are an error (Slurm rejects them)."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{key}: expected a hostlist such as \"gpu[01-20]\", got {text!r}")
    try:
        names = _hostlist.expand_hostlist(text.strip(), allow_duplicates=True)
    except _hostlist.BadHostlist as exc:
        raise ConfigError(f"{key}: {text!r} is not a valid hostlist ({exc})") from None
    if len(set(names)) != len(names):
        raise ConfigError(f"{key}: {text!r} names a node twice")
    return names


def collect_hostlist(names: list[str]) -> str:
    """The compact hostlist expression of node names (used in output and canonical scenarios)."""
    return _hostlist.collect_hostlist(list(names)) if names else ""
