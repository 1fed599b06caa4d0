"""grid.toml -> a validated `Grid`: base scenario, layouts, axes, zips, exclusions, seeds, objectives.

The grid language is documented in docs/grid.md. This module parses and checks the grid's own
structure and expands it into cells (one dict of knob values per combination, in a deterministic
odometer order over the axes sorted by their full dotted path). Building the scenario of a cell
is `Grid.scenario(knobs)`; checking every such scenario with simcore is `sweeps.spec.plan`.
Every problem is a `GridError`: one line naming the grid file and the key.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from simcore.errors import ConfigError

LAYOUT = "layout"
SECTIONS = ("sweep", "base", "layouts", "axes", "zip", "exclude")
SWEEP_KEYS = ("name", "description", "seeds", "objectives", "store_jobs", "store_timeseries")
DIRECTIONS = ("min", "max")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SCALARS = (str, int, float, bool)


class GridError(ConfigError):
    """A grid.toml (or a file it includes) is malformed; the message names the file and key."""


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _kind(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key (recursively); any other value, arrays included, replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass(frozen=True)
class Axis:
    """One swept dimension: a single dotted key, or several keys zipped together (`[[zip]]`)."""

    keys: tuple[str, ...]
    points: tuple[tuple[Any, ...], ...]  # each point holds one value per key

    @property
    def sort_key(self) -> str:
        return self.keys[0]


@dataclass(frozen=True)
class Grid:
    """A parsed, structurally valid grid; scenario-level validation is `sweeps.spec.plan`."""

    path: Path
    source: str
    name: str
    description: str
    seeds: tuple[int, ...]
    objectives: tuple[tuple[str, str], ...]
    store_jobs: bool
    store_timeseries: bool
    base: Mapping[str, Any]
    layouts: Mapping[str, Mapping[str, Any]]
    axes: tuple[Axis, ...]
    excludes: tuple[tuple[tuple[str, tuple[Any, ...]], ...], ...]

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()

    @property
    def knob_names(self) -> tuple[str, ...]:
        """The knob columns: every axis key (zipped keys each), in expansion order."""
        return tuple(key for axis in self.axes for key in axis.keys)

    def knob_values(self, name: str) -> tuple[Any, ...]:
        for axis in self.axes:
            if name in axis.keys:
                index = axis.keys.index(name)
                return tuple(point[index] for point in axis.points)
        raise KeyError(name)

    def cells(self) -> Iterator[dict[str, Any]]:
        """Every combination of axis points not excluded, as {knob: value}, odometer order."""
        for combo in itertools.product(*(axis.points for axis in self.axes)):
            knobs = {key: value for axis, point in zip(self.axes, combo)
                     for key, value in zip(axis.keys, point)}
            if not any(all(_matches(knobs[k], vals) for k, vals in rule) for rule in self.excludes):
                yield knobs

    def scenario(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        """The scenario dict of one cell: base, then its layout's sections, then each axis value."""
        scenario = copy.deepcopy(dict(self.base))
        where = "the base scenario"
        if LAYOUT in knobs:
            layout = knobs[LAYOUT]
            for section, value in self.layouts[layout].items():
                scenario[section] = copy.deepcopy(value)
            where = f"layout '{layout}'"
        for key, value in knobs.items():
            if key != LAYOUT:
                _set_dotted(scenario, key, copy.deepcopy(value), self._where(key, where))
        _resolve_workload_path(scenario, self.path.parent)
        return scenario

    def _where(self, key: str, scenario_name: str) -> str:
        return f"{self.path}: [axes] '{key}': {scenario_name}"


def _matches(value: Any, allowed: tuple[Any, ...]) -> bool:
    return any(type(value) is type(a) and value == a for a in allowed)


def _set_dotted(tree: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Set `a.b.c` in nested tables (integer segments index arrays); parents must exist."""
    parts = key.split(".")
    node: Any = tree
    for depth, part in enumerate(parts[:-1]):
        parent = ".".join(parts[:depth + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise GridError(f"{where} has no element '{parent}' (the array has {len(node)})")
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                siblings = [".".join([*parts[:depth], name]) for name in node]
                raise GridError(f"{where} has no table '{parent}'{_suggest(parent, siblings)}")
            node = node[part]
        else:
            raise GridError(f"{where}: '{'.'.join(parts[:depth])}' is a {_kind(node)}, not a table")
    leaf = parts[-1]
    if isinstance(node, list):
        if not leaf.isdigit() or int(leaf) >= len(node):
            raise GridError(f"{where} has no element '{key}' (the array has {len(node)})")
        node[int(leaf)] = value
    elif isinstance(node, dict):
        node[leaf] = value
    else:
        raise GridError(f"{where}: '{'.'.join(parts[:-1])}' is a {_kind(node)}, not a table")


def _resolve_workload_path(scenario: dict[str, Any], directory: Path) -> None:
    """Workload files are named relative to the file that names them; workers need them absolute."""
    workload = scenario.get("workload")
    if isinstance(workload, dict) and isinstance(workload.get("path"), str):
        path = Path(workload["path"])
        if not path.is_absolute():
            workload["path"] = str((directory / path).resolve())


def _read_toml(path: Path, what: str) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise GridError(f"{what}: cannot read {path}: {exc.strerror}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GridError(f"{path}: invalid TOML: {exc}") from None


def load_grid(path: str | Path) -> Grid:
    """Parse and structurally validate a grid file (docs/grid.md)."""
    path = Path(path)
    source, doc = _read_toml(path, "grid")
    for section in doc:
        if section not in SECTIONS:
            raise GridError(f"{path}: unknown section [{section}]{_suggest(section, SECTIONS)} "
                            f"(allowed: {', '.join(SECTIONS)})")
    for section in ("sweep", "base", "layouts", "axes"):
        if section in doc and not isinstance(doc[section], dict):
            raise GridError(f"{path}: [{section}] must be a table, found {_kind(doc[section])}")
    for section in ("zip", "exclude"):
        if section in doc and not (isinstance(doc[section], list)
                                   and all(isinstance(t, dict) for t in doc[section])):
            raise GridError(f"{path}: '{section}' must be written as [[{section}]] tables")
    sweep = _parse_sweep(path, doc.get("sweep", {}))
    base = _parse_base(path, doc.get("base", {}))
    layouts = _parse_layouts(path, doc.get("layouts", {}))
    axes = _parse_axes(path, doc.get("axes", {}), doc.get("zip", []), layouts)
    excludes = _parse_excludes(path, doc.get("exclude", []), axes)
    return Grid(path=path, source=source, base=base, layouts=layouts, axes=axes,
                excludes=excludes, **sweep)


def _parse_sweep(path: Path, sweep: dict[str, Any]) -> dict[str, Any]:
    for key in sweep:
        if key not in SWEEP_KEYS:
            raise GridError(f"{path}: [sweep] unknown key '{key}'{_suggest(key, SWEEP_KEYS)} "
                            f"(allowed: {', '.join(SWEEP_KEYS)})")
    name = sweep.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise GridError(f"{path}: [sweep] name = {name!r}: use letters, digits, '.', '_' or '-' "
                        "(it names the results folder)")
    description = sweep.get("description", "")
    if not isinstance(description, str):
        raise GridError(f"{path}: [sweep] description must be a string, found {_kind(description)}")
    seeds = _parse_seeds(path, sweep.get("seeds", 1))
    objectives = sweep.get("objectives", {})
    if not isinstance(objectives, dict):
        raise GridError(f"{path}: [sweep] objectives must be a table like "
                        f"{{ gpu_util = \"max\" }}, found {_kind(objectives)}")
    for metric, direction in objectives.items():
        if direction not in DIRECTIONS:
            raise GridError(f"{path}: [sweep] objectives.{metric} = {direction!r}: "
                            "allowed directions are \"min\" and \"max\"")
    flags = {}
    for key in ("store_jobs", "store_timeseries"):
        flags[key] = sweep.get(key, False)
        if not isinstance(flags[key], bool):
            raise GridError(f"{path}: [sweep] {key} must be true or false, "
                            f"found {_kind(flags[key])}")
    return {"name": name, "description": description, "seeds": seeds,
            "objectives": tuple(objectives.items()), **flags}


def _parse_seeds(path: Path, seeds: Any) -> tuple[int, ...]:
    if type(seeds) is int:
        if seeds < 1:
            raise GridError(f"{path}: [sweep] seeds = {seeds}: a count must be at least 1")
        return tuple(range(seeds))
    if isinstance(seeds, list) and seeds and all(type(s) is int and s >= 0 for s in seeds):
        if len(set(seeds)) != len(seeds):
            raise GridError(f"{path}: [sweep] seeds = {seeds}: seeds repeat")
        return tuple(seeds)
    raise GridError(f"{path}: [sweep] seeds = {seeds!r}: use a count (3) or a list of "
                    "non-negative integers ([1, 2, 3])")


def _parse_base(path: Path, base: dict[str, Any]) -> dict[str, Any]:
    base = dict(base)
    include, slurm_conf = base.pop("include", None), base.pop("slurm_conf", None)
    if include is not None and slurm_conf is not None:
        raise GridError(f"{path}: [base] give either include or slurm_conf, not both")
    start: dict[str, Any] = {}
    for key, value in (("include", include), ("slurm_conf", slurm_conf)):
        if value is not None and not isinstance(value, str):
            raise GridError(f"{path}: [base] {key} must be a file name, found {_kind(value)}")
    if include is not None:
        included = path.parent / include
        _, start = _read_toml(included, f"{path}: [base] include")
        _resolve_workload_path(start, included.parent)
    if slurm_conf is not None:
        conf = path.parent / slurm_conf
        if not conf.is_file():
            raise GridError(f"{path}: [base] slurm_conf: no such file {conf}")
        from simcore.slurmconf import load_slurm_conf  # lazy: only grids that import slurm.conf

        start = load_slurm_conf(conf)
    merged = deep_merge(start, base)
    _resolve_workload_path(merged, path.parent)
    return merged


def _parse_layouts(path: Path, layouts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for name, layout in layouts.items():
        if not isinstance(layout, dict) or not layout:
            raise GridError(f"{path}: [layouts.{name}] must be a table of scenario sections "
                            "(e.g. [layouts.{name}.partitions.gpu])")
        for section, value in layout.items():
            if not isinstance(value, (dict, list)):
                raise GridError(f"{path}: [layouts.{name}] '{section}' must be a table or array "
                                f"of tables (a whole scenario section), found {_kind(value)}")
    return {name: copy.deepcopy(layout) for name, layout in layouts.items()}


def _check_values(path: Path, where: str, key: str, values: Any) -> tuple[Any, ...]:
    if not isinstance(values, list) or not values:
        raise GridError(f"{path}: {where} '{key}' must be a non-empty array of values, "
                        f"found {_kind(values)}")
    for value in values:
        if not isinstance(value, (*_SCALARS, dict, list)):
            raise GridError(f"{path}: {where} '{key}': value {value!r} is a {_kind(value)}; "
                            "allowed: string, integer, float, boolean, array, table")
    canon = [json.dumps(v, sort_keys=True) + _kind(v) for v in values]
    if len(set(canon)) != len(canon):
        raise GridError(f"{path}: {where} '{key}' lists a value twice: {values}")
    return tuple(values)


def _check_key(path: Path, where: str, key: str, layouts: Mapping[str, Any]) -> None:
    if not isinstance(key, str) or not all(key.split(".")):
        raise GridError(f"{path}: {where} '{key}' is not a dotted key like 'partitions.gpu.MaxTime'")
    if key == LAYOUT and not layouts:
        raise GridError(f"{path}: {where} 'layout' needs [layouts.<name>] tables to choose from")


def _layout_values(path: Path, where: str, values: tuple[Any, ...], layouts: Mapping) -> None:
    for value in values:
        if value not in layouts:
            raise GridError(f"{path}: {where} 'layout' value {value!r} is not a layout"
                            f"{_suggest(str(value), layouts)} (layouts: {', '.join(layouts)})")


def _parse_axes(path: Path, axes: dict[str, Any], zips: list[dict[str, Any]],
                layouts: Mapping[str, Any]) -> tuple[Axis, ...]:
    found: dict[str, str] = {}
    result: list[Axis] = []
    for key, values in axes.items():
        _check_key(path, "[axes]", key, layouts)
        if isinstance(values, dict):
            raise GridError(f"{path}: [axes] '{key}' is a table: quote dotted keys "
                            f"(\"{key}.{next(iter(values), 'X')}\" = [...])")
        points = _check_values(path, "[axes]", key, values)
        if key == LAYOUT:
            _layout_values(path, "[axes]", points, layouts)
        found[key] = "[axes]"
        result.append(Axis(keys=(key,), points=tuple((v,) for v in points)))
    for number, table in enumerate(zips, 1):
        where = f"[[zip]] #{number}"
        if not table:
            raise GridError(f"{path}: {where} is empty")
        columns = {}
        for key, values in table.items():
            _check_key(path, where, key, layouts)
            if key in found:
                raise GridError(f"{path}: {where} '{key}' is already swept in {found[key]}")
            columns[key] = _check_values(path, where, key, values)
            if key == LAYOUT:
                _layout_values(path, where, columns[key], layouts)
            found[key] = where
        lengths = {key: len(values) for key, values in columns.items()}
        if len(set(lengths.values())) > 1:
            raise GridError(f"{path}: {where} arrays differ in length: "
                            + ", ".join(f"'{k}' has {n}" for k, n in lengths.items()))
        keys = tuple(sorted(columns))
        result.append(Axis(keys=keys, points=tuple(zip(*(columns[k] for k in keys)))))
    if layouts and LAYOUT not in found:
        result.append(Axis(keys=(LAYOUT,), points=tuple((name,) for name in layouts)))
    return tuple(sorted(result, key=lambda axis: axis.sort_key))


def _parse_excludes(path: Path, excludes: list[dict[str, Any]],
                    axes: tuple[Axis, ...]) -> tuple[tuple[tuple[str, tuple[Any, ...]], ...], ...]:
    values = {key: tuple(p[i] for p in axis.points) for axis in axes
              for i, key in enumerate(axis.keys)}
    rules = []
    for number, table in enumerate(excludes, 1):
        where = f"[[exclude]] #{number}"
        if not table:
            raise GridError(f"{path}: {where} is empty")
        rule = []
        for key, wanted in table.items():
            if key not in values:
                raise GridError(f"{path}: {where} '{key}' is not a swept key{_suggest(key, values)}"
                                f" (swept: {', '.join(values) or 'none'})")
            single = not isinstance(wanted, list) or _matches(wanted, values[key])
            options = (wanted,) if single else tuple(wanted)
            for option in options:
                if not _matches(option, values[key]):
                    raise GridError(f"{path}: {where} '{key}' = {option!r} is not one of that "
                                    f"axis' values {list(values[key])}")
            rule.append((key, options))
        rules.append(tuple(rule))
    return tuple(rules)
