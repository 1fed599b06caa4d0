"""Pareto fronts over the cells of a sweep, with replicate spread taken into account.

Everything is computed on *cells* (runs aggregated over replicate seeds, analysis.db): each
objective's mean and the half-width h of its 95% t-interval. Objectives are turned into
minimisation (max objectives are negated), then:

- rank: non-dominated sorting (front 1 = not dominated by any cell, front 2 = dominated only
  by front 1, ...). q dominates p when q is no worse in every objective and better in one;
  cells with identical objective vectors do not dominate each other and share a rank.
  Algorithm: ENS-BS (Zhang et al. 2015): cells in lexicographic order, each placed by binary
  search over fronts with one vectorised dominance test per probe.
- crowding: NSGA-II crowding distance within each front (inf at a front's extremes).
- knee: the front-1 cell closest (Euclidean) to the ideal point after scaling each objective
  to [0, 1] over front 1.
- robust: a front-1 cell c is robust when no other cell d has an optimistic vector
  (mean - h in minimisation terms, i.e. each objective at the end of d's interval that is
  better for d) that dominates c's pessimistic vector (mean + h, each objective at the end of
  c's interval that is worse for c). Then no replicate spread inside the intervals can push c
  off the front. A cell whose own interval is unknown (fewer than 2 ok runs) has robust =
  null; as a competitor such a cell is taken at its mean. Cells off front 1 are never robust.
- Cells with a NaN or missing mean in any objective are left out, with a note naming them.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import polars as pl

from analysis.db import Results
from simcore.errors import TrilemmaError

DIRECTIONS = ("min", "max")


class ObjectiveError(TrilemmaError):
    """Objectives are missing, malformed or name no metric of the sweep."""


def parse_objectives(spec: str) -> dict[str, str]:
    """'gpu_util:max,wait_p95_h:min' -> {'gpu_util': 'max', 'wait_p95_h': 'min'}."""
    out: dict[str, str] = {}
    for item in spec.split(","):
        name, sep, direction = item.strip().partition(":")
        if not name or not sep or direction.strip() not in DIRECTIONS:
            raise ObjectiveError(
                f"--objectives: {item.strip()!r} is not METRIC:min or METRIC:max "
                "(example: gpu_util:max,wait_p95_h:min)"
            )
        out[name.strip()] = direction.strip()
    return out


def _ranks_two(ordered: np.ndarray) -> np.ndarray:
    """Ranks of distinct 2-objective points in lexicographic order, O(n log n).

    Every member of a front precedes p and differs from it, so front k dominates p exactly
    when its smallest f2 is <= p.f2; those minima increase with k (patience sorting).
    """
    minima: list[float] = []
    ranks = np.empty(ordered.shape[0], dtype=np.int64)
    for i, f2 in enumerate(ordered[:, 1].tolist()):
        k = bisect.bisect_right(minima, f2)
        if k == len(minima):
            minima.append(f2)
        else:
            minima[k] = f2
        ranks[i] = k + 1
    return ranks


class _Front:
    """The members of one front, indexed for the test "does some member dominate p?".

    Points are distinct and arrive in lexicographic order, so every member is <= a later
    point in the first objective and differs from it: a member dominates p exactly when it
    is <= p in objectives 2..m. With 3 objectives that is a prefix minimum of f3 over
    members sorted by f2 (a binary search per point); with more, a dense comparison.
    """

    def __init__(self, m: int):
        self.m = m
        self.pending: list[np.ndarray] = []
        self.members = np.empty((0, m))
        self.sorted2 = np.empty(0)  # m == 3: f2 of the members, ascending
        self.sorted3 = np.empty(0)  # m == 3: their f3 in the same order

    def add(self, points: np.ndarray) -> None:
        self.pending.append(points)  # indexed when the front is next probed

    def _index(self) -> None:
        new = np.vstack(self.pending)
        self.pending = []
        if self.m == 3:
            order = np.argsort(new[:, 1], kind="stable")
            f2, f3 = new[order, 1], new[order, 2]
            # Merge the few new members into the sorted arrays instead of re-sorting them.
            at = np.searchsorted(self.sorted2, f2, side="right")
            self.sorted2 = np.insert(self.sorted2, at, f2)
            self.sorted3 = np.insert(self.sorted3, at, f3)
            self.prefix_min3 = np.minimum.accumulate(self.sorted3)
        else:
            self.members = np.vstack([self.members, new])
            self.columns = [np.ascontiguousarray(self.members[:, j]) for j in range(1, self.m)]

    def dominates(self, points: np.ndarray) -> np.ndarray:
        if self.pending:
            self._index()
        if self.m == 3:
            idx = np.searchsorted(self.sorted2, points[:, 1], side="right") - 1
            return (idx >= 0) & (self.prefix_min3[np.maximum(idx, 0)] <= points[:, 2])
        out = np.zeros(points.shape[0], dtype=bool)
        step = max(1, 4_000_000 // max(1, self.columns[0].size))
        for start in range(0, points.shape[0], step):
            chunk = points[start : start + step]
            # One 2-D comparison per objective: much faster than reducing a short last axis.
            le = self.columns[0][None, :] <= chunk[:, 1, None]
            for j, column in enumerate(self.columns[1:], start=2):
                le &= column[None, :] <= chunk[:, j, None]
            out[start : start + step] = le.any(axis=1)
        return out


def _ranks_sorted_unique(ordered: np.ndarray, block: int = 256) -> np.ndarray:
    """Ranks of distinct points in lexicographic order (ENS-BS, vectorised per block).

    rank(p) = 1 + the highest rank among p's dominators, which all precede p. For a block
    of points, fronts built from earlier blocks are searched by a binary search run for all
    points at once (dominance by front k implies dominance by front k-1, by transitivity);
    dominators inside the block come from a block x block test and a fixed-point iteration
    along dominance chains. The block's points then join their fronts.
    """
    n, m = ordered.shape
    ranks = np.empty(n, dtype=np.int64)
    fronts: list[_Front] = []
    for start in range(0, n, block):
        x = ordered[start : start + block]
        lo = np.zeros(x.shape[0], dtype=np.int64)
        hi = np.full(x.shape[0], len(fronts), dtype=np.int64)
        while (active := lo < hi).any():
            mid = (lo + hi) // 2
            for k in np.unique(mid[active]).tolist():
                sel = np.flatnonzero(active & (mid == k))
                hit = fronts[k].dominates(x[sel])
                lo[sel[hit]] = k + 1
                hi[sel[~hit]] = k
        earlier = lo  # number of earlier fronts dominating each point
        inside = x[:, 1, None] <= x[None, :, 1]
        for j in range(2, m):
            inside &= x[:, j, None] <= x[None, :, j]
        inside = np.triu(inside, k=1)
        rank = earlier + 1
        while True:
            new = np.maximum(earlier, np.where(inside, rank[:, None], 0).max(axis=0)) + 1
            if np.array_equal(new, rank):
                break
            rank = new
        ranks[start : start + x.shape[0]] = rank
        for k in np.unique(rank).tolist():
            while len(fronts) < k:
                fronts.append(_Front(m))
            fronts[k - 1].add(x[rank == k])
    return ranks


def nondominated_ranks(points: np.ndarray) -> np.ndarray:
    """Front number (1 = non-dominated) of each row of `points` (n x m, minimisation, finite).

    Identical rows share a rank: they are ranked once (np.unique also gives the
    lexicographic order the algorithm needs).
    """
    pts = np.asarray(points, dtype=float)
    n = pts.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    unique, inverse = np.unique(pts, axis=0, return_inverse=True)
    if pts.shape[1] == 1:
        ranks = np.arange(1, unique.shape[0] + 1)
    elif pts.shape[1] == 2:
        ranks = _ranks_two(unique)
    else:
        ranks = _ranks_sorted_unique(unique)
    return ranks[inverse.reshape(n)]


def crowding_distance(points: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row within its own front (inf at the extremes)."""
    pts = np.asarray(points, dtype=float)
    n, m = pts.shape
    distance = np.zeros(n)
    if n == 0:
        return distance
    for j in range(m):
        order = np.lexsort((pts[:, j], ranks))
        values, fronts = pts[order, j], ranks[order]
        first = np.r_[True, fronts[1:] != fronts[:-1]]
        last = np.r_[fronts[1:] != fronts[:-1], True]
        group = np.cumsum(first) - 1
        span = (values[last] - values[first])[group]
        prev = np.r_[values[:1], values[:-1]]
        nxt = np.r_[values[1:], values[-1:]]
        with np.errstate(divide="ignore", invalid="ignore"):
            contribution = np.where(span > 0, (nxt - prev) / span, 0.0)
        contribution[first | last] = np.inf
        distance[order] += contribution
    return distance


def knee_index(points: np.ndarray) -> int:
    """Index of the row closest to the ideal point after scaling each column to [0, 1]."""
    pts = np.asarray(points, dtype=float)
    low, high = pts.min(axis=0), pts.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = (pts - low) / span
    return int(np.argmin(np.sqrt((scaled**2).sum(axis=1))))


def robust_mask(mean: np.ndarray, half: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Robust front membership (module docstring) for rows in `candidates`; NaN when unknown.

    `mean` and `half` are n x m in minimisation terms; `half` is NaN where unknown.
    """
    n = mean.shape[0]
    result = np.full(n, np.nan)
    optimistic = mean - np.nan_to_num(half, nan=0.0)
    for c in np.flatnonzero(candidates):
        if np.isnan(half[c]).any():
            continue
        pessimistic = mean[c] + half[c]
        dominates = (optimistic <= pessimistic).all(axis=1) & (optimistic < pessimistic).any(axis=1)
        dominates[c] = False
        result[c] = 0.0 if dominates.any() else 1.0
    return result


@dataclass(frozen=True)
class ParetoResult:
    """Cells with rank, crowding, knee and robust columns, plus notes for the reader."""

    cells: pl.DataFrame  # sorted: front 1 first, knee first within it
    objectives: dict[str, str]
    knobs: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def front(self) -> pl.DataFrame:
        return self.cells.filter(pl.col("rank") == 1)


def resolve_objectives(results: Results, objectives: dict[str, str] | None) -> dict[str, str]:
    """The objectives to use: given ones, else the manifest's; each must be a metric."""
    chosen = dict(objectives or results.manifest.objectives)
    if not chosen:
        raise ObjectiveError(
            f"{results.path}/manifest.json lists no objectives; pass --objectives METRIC:max,METRIC:min"
        )
    unknown = [name for name in chosen if name not in results.metrics]
    if unknown and not results.metrics:
        raise ObjectiveError(
            f"{results.path}/runs: no metric columns with values (did every run fail? "
            "see `sweeps sql DIR \"SELECT status, error FROM runs\"`)"
        )
    if unknown:
        raise ObjectiveError(
            f"objective {unknown[0]!r} is not a metric of this sweep; metrics: {', '.join(results.metrics)}"
        )
    return chosen


def pareto_frame(cells: pl.DataFrame, objectives: dict[str, str], knobs: tuple[str, ...] = ()) -> ParetoResult:
    """Rank the cells (one row per cell, columns `<objective>` and `<objective>_ci95`)."""
    names = list(objectives)
    notes: list[str] = []
    missing = pl.any_horizontal(
        [pl.col(o).is_null() | pl.col(o).cast(pl.Float64).is_nan() for o in names]
    )
    excluded = cells.filter(missing)
    if excluded.height:
        ids = ", ".join(excluded["cell_id"].cast(pl.Utf8).to_list()[:10])
        more = "" if excluded.height <= 10 else f" and {excluded.height - 10} more"
        notes.append(
            f"{excluded.height} cell(s) left out: an objective is NaN or missing in every run (cell_id {ids}{more})"
        )
    kept = cells.filter(~missing)
    sign = np.array([1.0 if objectives[o] == "min" else -1.0 for o in names])
    mean = kept.select([pl.col(o).cast(pl.Float64) for o in names]).to_numpy().reshape(kept.height, len(names)) * sign
    half_cols = [f"{o}_ci95" for o in names]
    if all(c in kept.columns for c in half_cols):
        half = kept.select([pl.col(c).cast(pl.Float64) for c in half_cols]).to_numpy().reshape(kept.height, len(names))
    else:
        half = np.full_like(mean, np.nan)
    ranks = nondominated_ranks(mean)
    crowding = crowding_distance(mean, ranks)
    knee = np.zeros(kept.height, dtype=bool)
    on_front = ranks == 1
    if on_front.any():
        knee[np.flatnonzero(on_front)[knee_index(mean[on_front])]] = True
    robust = robust_mask(mean, half, on_front)
    robust[~on_front] = 0.0
    if on_front.any() and np.isnan(robust[on_front]).any():
        notes.append("robustness is unknown for front cells with fewer than 2 successful replicate runs")
    ranked = kept.with_columns(
        pl.Series("rank", ranks),
        pl.Series("crowding", crowding),
        pl.Series("knee", knee),
        pl.Series("robust", [None if np.isnan(r) else bool(r) for r in robust], dtype=pl.Boolean),
    ).sort(["rank", "knee", "crowding", "cell_id"], descending=[False, True, True, False])
    return ParetoResult(ranked, objectives, knobs, tuple(notes))


def pareto(results: Results, objectives: dict[str, str] | None = None) -> ParetoResult:
    """Pareto analysis of a results folder's cells (objectives default to the manifest's)."""
    chosen = resolve_objectives(results, objectives)
    con = results.connect()
    try:
        cells = con.sql("SELECT * FROM cells").pl()
    finally:
        con.close()
    result = pareto_frame(cells, chosen, tuple(results.knobs))
    failed = int(cells["n_failed"].sum()) if "n_failed" in cells.columns else 0
    if failed:
        note = f"{failed} failed run(s) are not in the means (see `sweeps sql DIR \"SELECT * FROM runs WHERE status <> 'ok'\"`)"
        result = ParetoResult(result.cells, result.objectives, result.knobs, (*result.notes, note))
    return result
