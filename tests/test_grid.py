"""Grid parsing and expansion: order, zips, exclusions, layouts, includes, seeds."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweeps.grid import GridError, load_grid

DATA = Path(__file__).parent / "data" / "grids"


def _grid(tmp_path: Path, text: str):
    path = tmp_path / "grid.toml"
    path.write_text(f'[base]\ninclude = "{DATA / "scenario.toml"}"\n{text}')
    return load_grid(path)


def test_axes_expand_sorted_by_dotted_path_last_axis_fastest():
    grid = load_grid(DATA / "small.toml")
    assert grid.knob_names == ("partitions.gpu.MaxTime", "qos.normal.MaxTRESPerUser")
    assert [tuple(c.values()) for c in grid.cells()] == [
        ("4:00:00", "gres/gpu=4"), ("4:00:00", "gres/gpu=8"),
        ("1-00:00:00", "gres/gpu=4"), ("1-00:00:00", "gres/gpu=8")]
    assert grid.seeds == (0, 1)
    assert grid.objectives == (("gpu_util", "max"), ("wait_p95_h", "min"))
    assert grid.name == "small"


def test_scenario_applies_axis_values_over_the_included_base():
    grid = load_grid(DATA / "small.toml")
    cell = next(grid.cells())
    scenario = grid.scenario(cell)
    assert scenario["partitions"]["gpu"]["MaxTime"] == "4:00:00"
    assert scenario["qos"]["normal"]["MaxTRESPerUser"] == "gres/gpu=4"
    assert scenario["workload"]["jobs"] == 40
    assert grid.base["partitions"]["gpu"]["MaxTime"] == "1-00:00:00"  # base untouched


def test_zip_moves_keys_together_and_exclude_drops_cells(tmp_path):
    grid = _grid(tmp_path, '''
[sweep]
seeds = [7, 3]
[axes]
"workload.load" = [0.8, 1.0]
[[zip]]
"partitions.gpu.MaxTime" = ["4:00:00", "1-00:00:00", "3-00:00:00"]
"partitions.gpu.DefaultTime" = ["1:00:00", "4:00:00", "12:00:00"]
[[exclude]]
"workload.load" = 1.0
"partitions.gpu.MaxTime" = ["4:00:00", "3-00:00:00"]
''')
    assert grid.knob_names == ("partitions.gpu.DefaultTime", "partitions.gpu.MaxTime",
                               "workload.load")
    assert [tuple(c.values()) for c in grid.cells()] == [
        ("1:00:00", "4:00:00", 0.8), ("4:00:00", "1-00:00:00", 0.8),
        ("4:00:00", "1-00:00:00", 1.0), ("12:00:00", "3-00:00:00", 0.8)]
    assert grid.seeds == (7, 3)


def test_exclude_compares_types_strictly(tmp_path):
    with pytest.raises(GridError, match=r"'workload.load' = 1 is not one of that axis' values"):
        _grid(tmp_path, '[axes]\n"workload.load" = [0.5, 1.0]\n[[exclude]]\n"workload.load" = 1\n')


def test_layouts_replace_whole_sections_and_are_one_axis(tmp_path):
    grid = _grid(tmp_path, '''
[layouts.one.partitions.gpu]
Nodes = "ALL"
MaxTime = "3-00:00:00"
[layouts.two.partitions.short]
Nodes = "g1"
MaxTime = "4:00:00"
[layouts.two.partitions.long]
Nodes = "g2"
MaxTime = "3-00:00:00"
Default = true
[axes]
"qos.normal.MaxTRESPerUser" = ["gres/gpu=4", "gres/gpu=8"]
''')
    assert grid.knob_names == ("layout", "qos.normal.MaxTRESPerUser")
    cells = list(grid.cells())
    assert [c["layout"] for c in cells] == ["one", "one", "two", "two"]
    assert sorted(grid.scenario(cells[2])["partitions"]) == ["long", "short"]
    assert grid.scenario(cells[0])["partitions"] == {"gpu": {"Nodes": "ALL",
                                                             "MaxTime": "3-00:00:00"}}


def test_axis_key_missing_from_one_layout_names_the_layout(tmp_path):
    grid = _grid(tmp_path, '''
[layouts.one.partitions.gpu]
Nodes = "ALL"
[layouts.two.partitions.short]
Nodes = "ALL"
[axes]
"partitions.gpu.MaxTime" = ["1:00:00"]
''')
    cells = list(grid.cells())
    grid.scenario(cells[0])
    with pytest.raises(GridError, match=r"\[axes\] 'partitions.gpu.MaxTime': layout 'two' has "
                                        r"no table 'partitions.gpu'"):
        grid.scenario(cells[1])


def test_arrays_are_indexed_by_integer_segments(tmp_path):
    grid = _grid(tmp_path, '[axes]\n"cluster.nodes.0.Gres" = ["gpu:2", "gpu:8"]\n')
    assert [grid.scenario(c)["cluster"]["nodes"][0]["Gres"] for c in grid.cells()] == \
        ["gpu:2", "gpu:8"]
    bad = _grid(tmp_path, '[axes]\n"cluster.nodes.3.Gres" = ["gpu:2"]\n')
    with pytest.raises(GridError, match=r"has no element 'cluster.nodes.3' \(the array has 1\)"):
        bad.scenario(next(bad.cells()))


def test_overrides_merge_into_include_and_workload_paths_become_absolute(tmp_path):
    (tmp_path / "jobs.parquet").write_bytes(b"")
    grid = _grid(tmp_path, '[base.workload]\nkind = "file"\npath = "jobs.parquet"\n'
                           '[base.partitions.gpu]\nMaxTime = "2-00:00:00"\n')
    scenario = grid.scenario(next(grid.cells()))
    assert scenario["workload"] == {"kind": "file", "path": str(tmp_path / "jobs.parquet"),
                                    "jobs": 40, "days": 1.0, "users": 5}
    assert scenario["partitions"]["gpu"] == {"Nodes": "ALL", "MaxTime": "2-00:00:00",
                                             "Default": True}


def test_a_grid_without_axes_is_one_cell(tmp_path):
    grid = _grid(tmp_path, "[sweep]\nseeds = 4\n")
    assert list(grid.cells()) == [{}] and grid.seeds == (0, 1, 2, 3)
    assert grid.name == "grid"


def test_grid_hash_is_of_the_source_text(tmp_path):
    first = _grid(tmp_path, "[sweep]\nseeds = 2\n").hash
    assert _grid(tmp_path, "[sweep]\nseeds = 2\n").hash == first
    assert _grid(tmp_path, "[sweep]\nseeds = 3\n").hash != first


def test_base_from_slurm_conf_plus_overrides():
    grid = load_grid(DATA / "slurmconf" / "grid.toml")
    scenario = grid.scenario(next(grid.cells()))
    assert sorted(scenario["partitions"]) == ["debug", "gpu", "owners", "preempt"]
    assert scenario["partitions"]["gpu"]["MaxTime"] == "1-00:00:00"
    assert scenario["priority"]["PriorityDecayHalfLife"] == "7-0"
    assert scenario["workload"] == {"kind": "synthetic", "jobs": 50, "days": 1.0}


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=4),
       excluded=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=3))
def test_expansion_is_the_sorted_product_minus_exclusions(tmp_path_factory, sizes, excluded):
    keys = [f"workload.k{i}" for i in range(len(sizes))]
    axes = "\n".join(f'"{key}" = {list(range(n))}' for key, n in zip(keys[::-1], sizes[::-1]))
    rules = [(keys[a % len(keys)], v % sizes[a % len(keys)]) for a, v in excluded]
    excludes = "".join(f'[[exclude]]\n"{k}" = {v}\n' for k, v in rules)
    grid = _grid(tmp_path_factory.mktemp("g"), f"[axes]\n{axes}\n{excludes}")
    expected = [dict(zip(keys, combo)) for combo in itertools.product(*map(range, sizes))
                if not any(combo[keys.index(k)] == v for k, v in rules)]
    assert grid.knob_names == tuple(sorted(keys))
    assert list(grid.cells()) == expected
