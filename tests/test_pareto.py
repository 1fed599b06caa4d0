"""Pareto ranks, crowding, knee and robustness against brute-force references."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.pareto import (
    ObjectiveError,
    crowding_distance,
    knee_index,
    nondominated_ranks,
    parse_objectives,
    pareto_frame,
    robust_mask,
)


def brute_ranks(points: np.ndarray) -> np.ndarray:
    """O(n^2) reference: the full dominance matrix, then peel front after front."""
    n = points.shape[0]
    dominates = (points[:, None, :] <= points[None, :, :]).all(axis=2) & (
        points[:, None, :] < points[None, :, :]
    ).any(axis=2)  # dominates[i, j]: row i dominates row j
    ranks = np.zeros(n, dtype=int)
    left = np.ones(n, dtype=bool)
    front = 1
    while left.any():
        current = left & ~dominates[left].any(axis=0)
        ranks[current] = front
        left &= ~current
        front += 1
    return ranks


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda m: arrays(np.float64, st.tuples(st.integers(0, 60), st.just(m)), elements=st.integers(0, 4).map(float))
    )
)
def test_ranks_match_brute_force_with_ties_and_duplicates(points):
    assert nondominated_ranks(points).tolist() == brute_ranks(points).tolist()


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 4), st.integers(0, 2**31 - 1))
def test_ranks_match_brute_force_across_blocks(m, seed):
    # More rows than one block (256) of the vectorised algorithm, continuous values.
    points = np.random.default_rng(seed).random((700, m))
    assert nondominated_ranks(points).tolist() == brute_ranks(points).tolist()


def test_duplicates_share_a_rank_and_do_not_dominate_each_other():
    points = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [0.0, 3.0]])
    assert nondominated_ranks(points).tolist() == [1, 1, 2, 1]


def test_weak_dominance_on_a_tie_in_one_objective():
    points = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 4.0], [1.0, 1.0, 5.0]])
    assert nondominated_ranks(points).tolist() == [1, 2, 1]


def test_crowding_is_infinite_at_extremes_and_matches_nsga2():
    points = np.array([[0.0, 4.0], [1.0, 2.0], [2.0, 1.0], [4.0, 0.0]])
    ranks = nondominated_ranks(points)
    distance = crowding_distance(points, ranks)
    assert math.isinf(distance[0]) and math.isinf(distance[3])
    # middle points: (next - prev) / range summed over both objectives
    assert distance[1] == pytest.approx((2 - 0) / 4 + (4 - 1) / 4)
    assert distance[2] == pytest.approx((4 - 1) / 4 + (2 - 0) / 4)


def test_knee_is_closest_to_the_ideal_point():
    points = np.array([[0.0, 10.0], [2.0, 2.0], [10.0, 0.0]])
    assert knee_index(points) == 1


def test_robust_when_intervals_cannot_change_the_order():
    mean = np.array([[0.0, 10.0], [10.0, 0.0], [5.0, 5.0]])
    tight = np.full((3, 2), 0.1)
    wide = np.array([[0.1, 0.1], [0.1, 0.1], [6.0, 6.0]])
    on_front = np.array([True, True, True])
    assert robust_mask(mean, tight, on_front).tolist() == [1.0, 1.0, 1.0]
    # the middle cell's spread is so wide that its pessimistic corner is dominated, and its
    # optimistic corner dominates the other cells' pessimistic corners: nobody is robust
    assert robust_mask(mean, wide, on_front).tolist() == [0.0, 0.0, 0.0]
    unknown = tight.copy()
    unknown[2] = np.nan
    assert np.isnan(robust_mask(mean, unknown, on_front)[2])


def test_robust_against_a_competitor_whose_optimistic_bound_dominates():
    # cell 1 is slightly worse than cell 0 in the mean but could beat it within its interval
    mean = np.array([[1.0, 1.0], [1.1, 1.1]])
    half = np.array([[0.05, 0.05], [0.2, 0.2]])
    assert robust_mask(mean, half, np.array([True, False])).tolist()[0] == 0.0


def test_frame_directions_nan_cells_and_sorting():
    cells = pl.DataFrame(
        {
            "cell_id": ["a", "b", "c", "d"],
            "util": [0.9, 0.5, 0.8, float("nan")],
            "util_ci95": [0.01, 0.01, 0.01, 0.01],
            "wait": [5.0, 1.0, 6.0, 0.0],
            "wait_ci95": [0.1, 0.1, 0.1, 0.1],
        }
    )
    result = pareto_frame(cells, {"util": "max", "wait": "min"})
    ranks = dict(zip(result.cells["cell_id"], result.cells["rank"]))
    assert ranks == {"a": 1, "b": 1, "c": 2}
    assert "cell_id d" in result.notes[0]
    assert result.front["cell_id"].to_list()[0] in ("a", "b") and result.front["knee"][0]


def test_parse_objectives():
    assert parse_objectives("gpu_util:max, wait_p95_h:min") == {"gpu_util": "max", "wait_p95_h": "min"}
    with pytest.raises(ObjectiveError, match="gpu_util:up"):
        parse_objectives("gpu_util:up")
