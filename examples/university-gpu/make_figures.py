"""Run the university-gpu studies and write their figures and tables (docs/trilemma.md).

    python examples/university-gpu/make_figures.py                 # launch all seven grids, then draw
    python examples/university-gpu/make_figures.py --only q1,q4    # some of them
    python examples/university-gpu/make_figures.py --no-launch     # draw from results already stored
    python examples/university-gpu/make_figures.py --quick         # tiny workloads, 1 seed: a smoke run

For each study it launches the grid (`sweeps launch`, resuming what is stored), aggregates the
runs of each cell over their seeds, adds the per-archetype figures that the simulator's metrics
do not split out (read from the stored jobs table, below), marks the cells on the Pareto front of
the study's objectives and writes `docs/figures/<study>.svg` (one or two scatter panels) and
`docs/figures/<study>.md` (every cell, front first, and the launch time).

Per-archetype figures. Users of the archetype workload are named after their archetype
(`heavy03`, `new12`, `owner2`), so every job row says whose it is. Over jobs submitted after the
warm-up that started (the same window as simcore's wait metrics):
  wait_p95_h_<archetype>, wait_p50_h_<archetype>   waits of that archetype's jobs (hours)
  wait_p95_h_in_<partition>   waits of the jobs that ran in that partition (e.g. gpu-debug)
  wait_p95_h_nonpreemptible   waits of users who did not opt into a preemptible partition
                              (opt-in is drawn from the seed: simcore.workload.archetypes.draw_demand)
and, over the whole run (a burst may fall in the warm-up):
  wait_p95_h_others_in_burst  waits of other users' jobs submitted while a deadline user's burst
                              was arriving (between its first and last submit)
  wait_p95_h_others_after_burst  the same for jobs submitted in the 3 days after a burst's last
                              submit (and not during another burst): how long the burst still hurts
  started_at_submit, makespan_h  (the post's example, q1b) jobs started the moment they were
                              submitted; first submit to last end
  burst_span_h_deadline       from a deadline user's first submit to its last job's end, mean over
                              deadline users (NaN if one of their jobs never started)
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Callable

import numpy as np
import polars as pl
import tomli_w

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ARCHETYPES = ("heavy", "regular", "new", "interactive", "deadline", "owner")
AFTER_BURST_S = 3 * 86400  # "after a burst": the 3 days after its last submit
SD = "__sd"                # suffix of a cell's standard deviation over its seeds


# ---------------------------------------------------------------- knob labels


def gpu_hours(tres: str) -> str:
    """'gres/gpu=7200' (GPU-minutes) -> '120 GPU-h'; -1 -> 'none'."""
    value = float(str(tres).split("=")[1])
    return "none" if value < 0 else f"{value / 60:g} GPU-h"


def gpu_cap(tres: str) -> str:
    value = float(str(tres).split("=")[1])
    return "no cap" if value < 0 else f"{value:g} GPUs"


def days(duration: str) -> str:
    """'3-00:00:00' -> '3 d'."""
    text = str(duration)
    return f"{int(text.split('-')[0])} d" if "-" in text else text


def set_aside(nodes: str) -> str:
    """GPUs taken out of gpu for gpu-debug: the 4-GPU V100 nodes missing from gpu's node list."""
    from simcore.hostlist import expand_hostlist

    v100 = [n for n in expand_hostlist(nodes, "partitions.gpu.Nodes") if n.startswith("v100")]
    return f"{(4 - len(v100)) * 4} GPUs aside"


# ---------------------------------------------------------------- studies


@dataclass(frozen=True)
class Panel:
    """One scatter: x and y columns; points of one named series are joined in grid order."""

    x: str
    y: str
    series: Callable[[dict[str, Any]], str] = lambda k: ""
    label: Callable[[dict[str, Any]], str] = lambda k: ""
    join: bool = True                     # join a series' points (False when the labels are not ordered)


@dataclass(frozen=True)
class Study:
    key: str
    grid: str
    title: str
    objectives: dict[str, str]            # the front's objectives (derived figures allowed)
    panels: tuple[Panel, ...]
    columns: tuple[str, ...]              # extra columns of the table
    cell: Callable[[dict[str, Any]], str]  # a cell's name in the table
    derived: tuple[str, ...] = ()         # derived figure groups: archetypes, partitions, burst, preemptible, post


def _k(name: str, fmt: Callable[[Any], str] = str) -> Callable[[dict[str, Any]], str]:
    return lambda knobs: fmt(knobs[name])


RUNMINS, MAXTIME = "accounts.physics.GrpTRESRunMins", "partitions.gpu.MaxTime"  # zipped with the other departments
POST_LIMIT, POST_JOBS = "users.alice.GrpTRESRunMins", "workload.path"
CKPT = "workload.archetypes.heavy.can_checkpoint_frac"

STUDIES: tuple[Study, ...] = (
    Study("q1", "q1-runmins-maxtime.toml", "GrpTRESRunMins per department x MaxTime",
          {"gpu_util": "max", "wait_p95_h": "min", "unmet_demand_gpu_h": "min"},
          (Panel("gpu_util", "wait_p95_h", _k(MAXTIME, lambda v: f"MaxTime {days(v)}"), _k(RUNMINS, gpu_hours)),
           Panel("wait_p95_h_regular", "wait_p95_h_heavy", _k(MAXTIME, lambda v: f"MaxTime {days(v)}"),
                 _k(RUNMINS, gpu_hours))),
          ("wait_p95_h_heavy", "wait_p95_h_regular", "wait_p95_h_long", "limit_idle_gpu_h"),
          lambda k: f"MaxTime {days(k[MAXTIME])}, budget {gpu_hours(k[RUNMINS])}", ("archetypes",)),
    Study("q1b", "q1b-post-example.toml", "The post's example: GrpTRESRunMins=gres/gpu=7200 on one user",
          {"makespan_h": "min"},
          (Panel("makespan_h", "started_at_submit", _k(POST_LIMIT, lambda v: f"limit {gpu_hours(v)}"),
                 _k(POST_JOBS, lambda v: Path(v).stem)),),
          ("started_at_submit", "wait_mean_h", "jobs_total"),
          lambda k: f"{Path(k[POST_JOBS]).stem}, limit {gpu_hours(k[POST_LIMIT])}", ("post",)),
    Study("q2", "q2-gpu-cap.toml", "Per-user GPU cap (QOS MaxTRESPerUser)",
          {"gpu_util": "max", "limit_idle_gpu_h": "min", "wait_p95_h_new": "min"},
          (Panel("limit_idle_gpu_h", "gpu_util", label=_k("qos.normal.MaxTRESPerUser", gpu_cap)),
           Panel("gpu_util", "wait_p95_h_new", label=_k("qos.normal.MaxTRESPerUser", gpu_cap))),
          ("wait_p95_h", "wait_p95_h_heavy", "top_user_peak_share"),
          _k("qos.normal.MaxTRESPerUser", gpu_cap), ("archetypes",)),
    Study("q3", "q3-fairshare-halflife.toml", "Fairshare half-life (PriorityDecayHalfLife)",
          {"wait_p95_h_others_in_burst": "min", "wait_p95_h_others_after_burst": "min", "burst_span_h_deadline": "min"},
          (Panel("burst_span_h_deadline", "wait_p95_h_others_in_burst",
                 label=_k("priority.PriorityDecayHalfLife", days)),
           Panel("wait_p95_h_others_in_burst", "wait_p95_h_others_after_burst",
                 label=_k("priority.PriorityDecayHalfLife", days))),
          ("wait_p50_h_deadline", "wait_p50_h_heavy", "wait_p95_h", "jain_index"),
          _k("priority.PriorityDecayHalfLife", lambda v: f"half-life {days(v)}"), ("archetypes", "burst")),
    Study("q4", "q4-debug-capacity.toml", "Debug capacity set aside",
          {"gpu_util": "max", "wait_p95_h_in_gpu-debug": "min", "wait_p95_h": "min"},
          (Panel("gpu_util", "wait_p95_h_in_gpu-debug",
                 _k("partitions.gpu-debug.PriorityTier", lambda v: f"gpu-debug tier {v}"),
                 _k("partitions.gpu.Nodes", set_aside)),
           Panel("gpu_util", "wait_p95_h", _k("partitions.gpu-debug.PriorityTier", lambda v: f"gpu-debug tier {v}"),
                 _k("partitions.gpu.Nodes", set_aside))),
          ("wait_p50_h_in_gpu-debug", "wait_p95_h_debug", "started_15min_frac", "wait_p95_h_in_gpu"),
          lambda k: f"{set_aside(k['partitions.gpu.Nodes'])}, gpu-debug tier {k['partitions.gpu-debug.PriorityTier']}",
          ("partitions",)),
    Study("q5", "q5-preemptible.toml", "Preemptible opt-in partition",
          {"gpu_util": "max", "lost_gpu_h": "min", "wait_p95_h_nonpreemptible": "min"},
          (Panel("gpu_util", "wait_p95_h_nonpreemptible", label=_k(CKPT, lambda v: f"{v:.0%} ckpt")),
           Panel("lost_gpu_h", "gpu_util", label=_k(CKPT, lambda v: f"{v:.0%} ckpt"))),
          ("preempted_frac", "wait_p95_h", "wait_p95_h_owner"),
          _k(CKPT, lambda v: f"{v:.0%} of heavy and regular users checkpoint"), ("archetypes", "preemptible")),
    Study("q6", "q6-owner-nodes.toml", "Owner nodes: dedicated or shared",
          {"gpu_util": "max", "wait_p95_h_owner": "min", "lost_gpu_h": "min"},
          (Panel("gpu_util", "wait_p95_h_owner", label=_k("layout")),),
          ("wait_p50_h_owner", "wait_p95_h", "preempted_frac"),
          _k("layout"), ("archetypes",)),
    Study("q7", "q7-layouts.toml", "Partition layouts: the trilemma",
          {"gpu_util": "max", "started_15min_frac": "max", "limit_idle_gpu_h": "min", "complexity": "min"},
          (Panel("gpu_util", "started_15min_frac", _k("qos.normal.MaxTRESPerUser", gpu_cap), _k("layout"), join=False),
           Panel("complexity", "limit_idle_gpu_h", _k("qos.normal.MaxTRESPerUser", gpu_cap), _k("layout"),
                 join=False)),
          ("wait_p95_h", "wait_p95_h_debug", "lost_gpu_h"),
          lambda k: f"{k['layout']}, {gpu_cap(k['qos.normal.MaxTRESPerUser'])}"),
)

# ---------------------------------------------------------------- grids


def shrink_grid(src: Path, dst_dir: Path, days: float = 4.0, scale: float = 0.6, seeds: int = 1) -> Path:
    """A copy of grid `src` with a tiny archetype workload (days, scale), `seeds` seeds and a
    12-hour warm-up, written to `dst_dir` (included scenarios and job files by absolute path)."""
    grid = tomllib.loads(src.read_text())
    grid["sweep"]["seeds"] = seeds
    base = grid["base"]
    if "include" in base:
        base["include"] = str((src.parent / base["include"]).resolve())
    workload = base.setdefault("workload", {})
    if workload.get("kind") == "file":  # already small: keep the jobs, make their paths absolute
        workload["path"] = str((src.parent / workload["path"]).resolve())
        axes = grid.get("axes", {})
        if "workload.path" in axes:
            axes["workload.path"] = [str((src.parent / v).resolve()) for v in axes["workload.path"]]
    else:
        workload.update({"days": days, "scale": scale})
    base.setdefault("metrics", {})["warmup"] = "12:00:00"
    dst = dst_dir / src.name
    dst.write_text(tomli_w.dumps(grid))
    return dst


def launch_grid(grid: Path, results: Path, workers: int | None, serial: bool) -> float:
    """`sweeps launch` the grid (resuming); returns the wall seconds it took."""
    from sweeps.launch import LaunchOptions, launch

    summary = launch(grid, LaunchOptions(out=results, workers=workers, serial=serial, progress=False))
    if summary.failed:
        raise SystemExit(f"{grid}: {summary.failed} runs failed; see `sweeps status {summary.root}`")
    return summary.seconds


# ---------------------------------------------------------------- per-run figures


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if len(x) else math.nan


def archetype_figures(jobs: pl.DataFrame, warmup: float) -> dict[str, float]:
    """wait_p50/p95_h_<archetype> of one run's jobs submitted after the warm-up that started."""
    measured = jobs.filter((pl.col("submit") >= warmup) & pl.col("start").is_not_nan())
    out: dict[str, float] = {}
    for arch in ARCHETYPES:
        wait = measured.filter(pl.col("arch") == arch)["wait_s"].to_numpy() / 3600.0
        out[f"wait_p50_h_{arch}"] = _pct(wait, 50)
        out[f"wait_p95_h_{arch}"] = _pct(wait, 95)
    return out


def partition_figures(jobs: pl.DataFrame, warmup: float, partitions: list[str]) -> dict[str, float]:
    """wait_p50/p95_h_in_<partition>: waits of the jobs that ran in each partition (after the warm-up)."""
    measured = jobs.filter((pl.col("submit") >= warmup) & pl.col("start").is_not_nan())
    out: dict[str, float] = {}
    for name in partitions:
        wait = measured.filter(pl.col("partition") == name)["wait_s"].to_numpy() / 3600.0
        out[f"wait_p50_h_in_{name}"] = _pct(wait, 50)
        out[f"wait_p95_h_in_{name}"] = _pct(wait, 95)
    return out


def post_figures(jobs: pl.DataFrame) -> dict[str, float]:
    """started_at_submit: jobs that started the moment they were submitted; makespan_h: first
    submit to last end (NaN if a job never started)."""
    started = jobs["start"].is_not_nan()
    makespan = (jobs["end"].max() - jobs["submit"].min()) / 3600.0 if started.all() else math.nan
    return {"started_at_submit": float((jobs["start"] == jobs["submit"]).sum()), "makespan_h": makespan}


def burst_figures(jobs: pl.DataFrame) -> dict[str, float]:
    """Deadline bursts: the others' waits while a burst arrives and the bursts' spans."""
    deadline = jobs.filter(pl.col("arch") == "deadline")
    if deadline.is_empty():
        return {"wait_p95_h_others_in_burst": math.nan, "wait_p95_h_others_after_burst": math.nan,
                "burst_span_h_deadline": math.nan}
    spans = deadline.group_by("user").agg(pl.col("submit").min().alias("first"),
                                          pl.col("submit").max().alias("last"),
                                          pl.col("end").max().alias("end"),
                                          pl.col("start").is_nan().any().alias("unstarted"))
    others = jobs.filter((pl.col("arch") != "deadline") & pl.col("start").is_not_nan())
    submit = others["submit"].to_numpy()
    inside = np.zeros(len(submit), dtype=bool)
    after = np.zeros(len(submit), dtype=bool)
    for first, last in zip(spans["first"].to_list(), spans["last"].to_list()):
        inside |= (submit >= first) & (submit <= last)
        after |= (submit > last) & (submit <= last + AFTER_BURST_S)
    wait_h = others["wait_s"].to_numpy() / 3600.0
    span = (spans["end"] - spans["first"]).to_numpy() / 3600.0
    return {"wait_p95_h_others_in_burst": _pct(wait_h[inside], 95),
            "wait_p95_h_others_after_burst": _pct(wait_h[after & ~inside], 95),
            "burst_span_h_deadline": math.nan if spans["unstarted"].any() else float(span.mean())}


def preemptible_figures(jobs: pl.DataFrame, warmup: float, opted_in: set[str]) -> dict[str, float]:
    measured = jobs.filter((pl.col("submit") >= warmup) & pl.col("start").is_not_nan()
                           & ~pl.col("user").is_in(sorted(opted_in)))
    return {"wait_p95_h_nonpreemptible": _pct(measured["wait_s"].to_numpy() / 3600.0, 95)}


def derived_figures(study: Study, folder: Path, grid_path: Path) -> pl.DataFrame:
    """One row per stored run (run_id) with the study's per-archetype figures."""
    from simcore import Scenario
    from simcore.workload.archetypes import draw_demand, parse_params
    from sweeps.grid import load_grid
    from sweeps.spec import plan

    if not study.derived:
        return pl.DataFrame({"run_id": []}, schema={"run_id": pl.Utf8})
    the_plan = plan(load_grid(grid_path))
    jobs = (_read_parts(folder / "jobs", ["run_id", "user", "partition", "submit", "start", "end", "wait_s"])
            .with_columns(pl.col("user").str.replace(r"\d+$", "").alias("arch")))
    by_run = jobs.partition_by("run_id", as_dict=True)
    rows: list[dict[str, Any]] = []
    scenarios: dict[str, Any] = {}
    for spec in the_plan.specs:
        run = by_run.get((spec.run_id,))
        if run is None:
            continue
        if spec.cell_id not in scenarios:
            scenarios[spec.cell_id] = Scenario.from_dict(the_plan.grid.scenario(spec.knob_dict), str(grid_path))
        scenario = scenarios[spec.cell_id]
        warmup = float(scenario.metrics.warmup)
        row: dict[str, Any] = {"run_id": spec.run_id}
        if "archetypes" in study.derived:
            row.update(archetype_figures(run, warmup))
        if "partitions" in study.derived:
            row.update(partition_figures(run, warmup, [p.name for p in scenario.partitions]))
        if "burst" in study.derived:
            row.update(burst_figures(run))
        if "post" in study.derived:
            row.update(post_figures(run))
        if "preemptible" in study.derived:
            demand = draw_demand(parse_params(dict(scenario.workload.params)), spec.seed)
            opted = {u for u, p in zip(demand.users, demand.user_preemptible.tolist()) if p}
            row.update(preemptible_figures(run, warmup, opted))
        rows.append(row)
    return pl.DataFrame(rows)


# ---------------------------------------------------------------- cells and the front


def _read_parts(table: Path, columns: list[str] | None = None) -> pl.DataFrame:
    """All part files of a results table, unioned by column name (parts may differ in columns)."""
    files = sorted(table.glob("*.parquet"))
    if not files:
        raise SystemExit(f"{table}: no part files; launch the grid first")
    return pl.concat([pl.read_parquet(f, columns=columns) for f in files], how="diagonal_relaxed")


def cell_table(study: Study, folder: Path, grid_path: Path) -> tuple[pl.DataFrame, list[str]]:
    """Mean of every metric over each cell's ok runs of the current plan, knobs as columns."""
    plan_df = pl.read_parquet(folder / "plan.parquet")
    knobs = [c for c in plan_df.columns if c not in ("run_id", "cell_id", "seed")]
    runs = _read_parts(folder / "runs").filter(pl.col("status") == "ok").drop(knobs, strict=False)
    runs = plan_df.select("run_id", "cell_id").join(runs, on="run_id", how="inner")
    derived = derived_figures(study, folder, grid_path)
    if derived.height:
        runs = runs.join(derived, on="run_id", how="left")
    numeric = [c for c, t in runs.schema.items() if t.is_numeric() and c not in ("seed",)]
    cells = (runs.group_by("cell_id", maintain_order=True)
             .agg(pl.len().alias("runs"), *[pl.col(c).mean() for c in numeric],
                  *[pl.col(c).std().alias(f"{c}{SD}") for c in numeric]))
    first = (plan_df.group_by("cell_id", maintain_order=True).agg([pl.col(k).first() for k in knobs])
             .with_row_index("plan_order"))
    table = first.join(cells, on="cell_id", how="inner").sort("plan_order").drop("plan_order")
    return table, knobs


def front_mask(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """First Pareto front: rows no other row dominates (rows with a NaN are left off)."""
    signs = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    v = values * signs
    ok = ~np.isnan(v).any(axis=1)
    mask = np.zeros(len(v), dtype=bool)
    for i in np.flatnonzero(ok):
        others = v[ok]
        dominated = ((others <= v[i]).all(axis=1) & (others < v[i]).any(axis=1)).any()
        mask[i] = not dominated
    return mask


# ---------------------------------------------------------------- SVG


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
UNITS = {"makespan_h": "first submit to last end (h)", "started_at_submit": "jobs started at once","gpu_util": "GPU utilisation (fraction)", "started_15min_frac": "jobs started within 15 min (fraction)",
         "complexity": "configuration complexity (count)", "lost_gpu_h": "GPU-hours lost to preemption",
         "limit_idle_gpu_h": "limit-idle GPU-hours", "unmet_demand_gpu_h": "unmet demand (GPU-hours)",
         "burst_span_h_deadline": "deadline burst span (h)"}


def _axis_label(name: str, direction: str | None) -> str:
    wait = re.fullmatch(r"wait_(p\d+)_h(?:_(.+))?", name)
    if name in UNITS:
        text = UNITS[name]
    elif wait:
        who = {None: "all jobs", "new": "new users' jobs", "owner": "owners' jobs", "heavy": "heavy users' jobs",
               "regular": "regular users' jobs", "deadline": "deadline groups' jobs",
               "nonpreemptible": "jobs of users not opted in", "others_in_burst": "others' jobs in a burst",
               "others_after_burst": "others' jobs after a burst"}.get(wait[2], f"{wait[2]} jobs")
        if wait[2] and wait[2].startswith("in_"):
            who = f"jobs in {wait[2][3:]}"
        text = f"{wait[1]} wait of {who} (h)"
    else:
        text = name.replace("_", " ")
    return text + {"max": ", higher is better", "min": ", lower is better"}.get(direction or "", "")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for mult in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def panel_svg(cells: pl.DataFrame, panel: Panel, knobs: list[str], front: np.ndarray,
              objectives: dict[str, str], x0: float, width: float, height: float) -> str:
    """One scatter panel at horizontal offset x0."""
    ml, mr, mt, mb = 70, 20, 34, 50
    x = cells[panel.x].cast(pl.Float64).to_numpy()
    y = cells[panel.y].cast(pl.Float64).to_numpy()
    rows = cells.select(knobs).to_dicts()
    good = ~(np.isnan(x) | np.isnan(y))
    parts = [f'<g transform="translate({x0},0)">']
    if not good.any():
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data for '
                     f'{escape(panel.x)} / {escape(panel.y)}</text></g>')
        return "".join(parts)
    lo_x, hi_x = float(x[good].min()), float(x[good].max())
    lo_y, hi_y = float(y[good].min()), float(y[good].max())
    pad_x, pad_y = (hi_x - lo_x) * 0.08 or 0.5, (hi_y - lo_y) * 0.08 or 0.5
    lo_x, hi_x, lo_y, hi_y = lo_x - pad_x, hi_x + pad_x, lo_y - pad_y, hi_y + pad_y
    px = lambda v: ml + (v - lo_x) / (hi_x - lo_x) * (width - ml - mr)  # noqa: E731
    py = lambda v: height - mb - (v - lo_y) / (hi_y - lo_y) * (height - mt - mb)  # noqa: E731
    parts.append(f'<rect x="{ml}" y="{mt}" width="{width - ml - mr}" height="{height - mt - mb}" '
                 'fill="none" stroke="#999"/>')
    for t in _ticks(lo_x, hi_x):
        parts.append(f'<line x1="{px(t):.1f}" y1="{height - mb}" x2="{px(t):.1f}" y2="{height - mb + 4}" stroke="#555"/>'
                     f'<text x="{px(t):.1f}" y="{height - mb + 16}" text-anchor="middle" font-size="11">{t:g}</text>')
    for t in _ticks(lo_y, hi_y):
        parts.append(f'<line x1="{ml - 4}" y1="{py(t):.1f}" x2="{ml}" y2="{py(t):.1f}" stroke="#555"/>'
                     f'<text x="{ml - 6}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11">{t:g}</text>')
    parts.append(f'<text x="{(ml + width - mr) / 2}" y="{height - 12}" text-anchor="middle" font-size="12">'
                 f'{escape(_axis_label(panel.x, objectives.get(panel.x)))}</text>')
    parts.append(f'<text transform="translate(16,{(mt + height - mb) / 2}) rotate(-90)" text-anchor="middle" '
                 f'font-size="12">{escape(_axis_label(panel.y, objectives.get(panel.y)))}</text>')
    series = [panel.series(r) for r in rows]
    names = list(dict.fromkeys(series))
    for k, name in enumerate(names):
        colour = COLOURS[k % len(COLOURS)]
        idx = [i for i in range(len(rows)) if series[i] == name and good[i]]
        if name and panel.join and len(idx) > 1:
            path = " ".join(f"{px(x[i]):.1f},{py(y[i]):.1f}" for i in idx)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-opacity="0.5"/>')
        for i in idx:
            fill = colour if front[i] else "white"
            parts.append(f'<circle cx="{px(x[i]):.1f}" cy="{py(y[i]):.1f}" r="{6 if front[i] else 4.5}" '
                         f'fill="{fill}" stroke="{colour}" stroke-width="1.5"/>')
        if name:  # legend in one row above the plot
            lx = ml + 150 * k
            parts.append(f'<circle cx="{lx + 5}" cy="{mt - 14}" r="4.5" fill="{colour}"/>'
                         f'<text x="{lx + 14}" y="{mt - 10}" font-size="11">{escape(name)}</text>')
    # Labels: points closer than a few pixels share one label ("32 GPUs = no cap").
    spots: dict[tuple[int, int], list[str]] = {}
    for i in np.flatnonzero(good):
        spot = (round(px(x[i]) / 8), round(py(y[i]) / 8))
        text = panel.label(rows[i])
        if text and text not in spots.setdefault(spot, []):
            spots[spot].append(text)
    placed: list[tuple[float, float, float]] = []  # (left, baseline, right) of labels drawn
    for (sx, sy), texts in spots.items():
        text = " = ".join(texts)
        right = sx * 8 > 0.65 * width  # labels on the right half run leftwards, inside the panel
        w = 5.5 * len(text)
        left = sx * 8 - 7 - w if right else sx * 8 + 7
        for dy in (-5, 12, -17, 24, -29, 36):  # the first offset that overlaps no label drawn
            base = sy * 8 + dy
            if not any(abs(base - b) < 11 and left < r and l < left + w for l, b, r in placed):
                break
        placed.append((left, base, left + w))
        parts.append(f'<text x="{left:.1f}" y="{base:.1f}" font-size="10" fill="#333">{escape(text)}</text>')
    parts.append("</g>")
    return "".join(parts)


def figure_svg(study: Study, cells: pl.DataFrame, knobs: list[str], front: np.ndarray) -> str:
    width, height = 520, 400
    total = width * len(study.panels)
    body = "".join(panel_svg(cells, p, knobs, front, study.objectives, k * width, width, height - 30)
                   for k, p in enumerate(study.panels))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{height}" '
            f'viewBox="0 0 {total} {height}" font-family="sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/>'
            f'<g transform="translate(0,30)">{body}</g>'
            f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(study.title)} '
            f'(filled: on the Pareto front)</text></svg>\n')


# ---------------------------------------------------------------- tables


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table_md(study: Study, cells: pl.DataFrame, knobs: list[str], front: np.ndarray,
             grid: Path, seconds: float | None) -> str:
    columns = list(dict.fromkeys([*study.objectives, *study.columns]))
    rows = cells.select(knobs).to_dicts()
    order = sorted(range(len(rows)), key=lambda i: (not front[i], i))
    runs = int(cells["runs"].sum())
    lines = [f"# {study.title}", "",
             f"Generated by `python examples/university-gpu/make_figures.py --only {study.key}` from "
             f"`{grid.relative_to(ROOT) if grid.is_relative_to(ROOT) else grid.name}`: "
             f"{cells.height} cells, {runs} runs"
             + (f"; its last launch took {seconds:.0f} s on this machine." if seconds is not None else "."),
             "Values are means ± standard deviations over each cell's seeds; front = on the Pareto front of "
             + ", ".join(f"{k} ({v})" for k, v in study.objectives.items()) + ".", "",
             f"![{study.title}]({study.key}.svg)", "",
             "| cell | front | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    def value(c: str, i: int) -> str:
        if c not in cells.columns:
            return "n/a"
        sd = cells[f"{c}{SD}"][i] if f"{c}{SD}" in cells.columns else None
        spread = f" ± {_fmt(sd)}" if sd is not None and not math.isnan(sd) and sd > 0 else ""
        return _fmt(cells[c][i]) + spread

    for i in order:
        values = [value(c, i) for c in columns]
        lines.append(f"| {study.cell(rows[i])} | {'yes' if front[i] else ''} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- driver


def run_study(study: Study, grid: Path, results: Path, figures: Path, *, launch: bool = True,
              workers: int | None = None, serial: bool = False) -> pl.DataFrame:
    """Launch (optionally) one study's grid and write its figure and table; returns its cells."""
    from sweeps.grid import load_grid

    times_path = figures / "launch-times.json"  # the last launch of each study, kept across redraws
    times = json.loads(times_path.read_text()) if times_path.exists() else {}
    seconds = launch_grid(grid, results, workers, serial) if launch else times.get(study.key)
    if launch:
        figures.mkdir(parents=True, exist_ok=True)
        times[study.key] = round(seconds, 1)
        times_path.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    folder = results / load_grid(grid).name
    cells, knobs = cell_table(study, folder, grid)
    present = [o for o in study.objectives if o in cells.columns]
    values = cells.select(present).cast(pl.Float64).to_numpy() if present else np.zeros((cells.height, 0))
    front = front_mask(values, [study.objectives[o] for o in present]) if present else np.ones(cells.height, bool)
    figures.mkdir(parents=True, exist_ok=True)
    (figures / f"{study.key}.svg").write_text(figure_svg(study, cells, knobs, front))
    (figures / f"{study.key}.md").write_text(table_md(study, cells, knobs, front, grid, seconds))
    return cells.with_columns(pl.Series("front", front))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma list of studies (q1, q1b, q2..q7); default all")
    parser.add_argument("--results", type=Path, default=ROOT / "results", help="results folder (sweeps launch --out)")
    parser.add_argument("--figures", type=Path, default=None,
                        help="where figures and tables go (default docs/figures, with --quick results/quick/figures)")
    parser.add_argument("--no-launch", action="store_true", help="draw from stored results only")
    parser.add_argument("--quick", action="store_true",
                        help="tiny workloads (4 days, scale 0.6) and 1 seed, into results/quick/")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--serial", action="store_true", help="run in this process (no Ray)")
    args = parser.parse_args(argv)
    wanted = [s for s in args.only.split(",") if s] or [s.key for s in STUDIES]
    unknown = sorted(set(wanted) - {s.key for s in STUDIES})
    if unknown:
        parser.error(f"--only: unknown studies {', '.join(unknown)}; allowed: {', '.join(s.key for s in STUDIES)}")
    with tempfile.TemporaryDirectory() as tmp:
        results = args.results / "quick" if args.quick else args.results
        figures = args.figures or (results / "figures" if args.quick else ROOT / "docs" / "figures")
        for study in (s for s in STUDIES if s.key in wanted):
            grid = HERE / study.grid
            if args.quick:
                grid = shrink_grid(grid, Path(tmp))
            started = time.monotonic()
            cells = run_study(study, grid, results, figures, launch=not args.no_launch,
                              workers=args.workers, serial=args.serial)
            print(f"{study.key}: {cells.height} cells, {int(cells['front'].sum())} on the front, "
                  f"{time.monotonic() - started:.0f} s -> {figures / (study.key + '.svg')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
