"""simcore.codes: per-distinct-value set-up must give every row exactly its own value back."""

from __future__ import annotations

import numpy as np

from simcore.codes import codes, factorize, groups, pairs


def test_factorize_round_trips_texts_in_order_of_first_sight():
    values = np.array(["gpu", "", "scav,gpu", "gpu", ""], dtype=object)
    distinct, code = factorize(values)
    assert distinct == ["gpu", "", "scav,gpu"]
    assert [distinct[c] for c in code.tolist()] == values.tolist()


def test_factorize_numbers_sorted():
    distinct, code = factorize(np.array([7, 3, 7, 10]))
    assert distinct == [3, 7, 10] and code.tolist() == [1, 0, 1, 2]


def test_codes_of_floats_and_sparse_integers_are_ranks():
    assert codes(np.array([2.5, -1.0, 2.5])).tolist() == [1, 0, 1]
    assert codes(np.array([10**12, 5, 10**12])).tolist() == [1, 0, 1]


def test_groups_equal_rows_share_a_group_and_first_points_at_one_of_them():
    a = np.array([1, 1, 2, 1, 2])
    b = ["x", "y", "x", "x", "x"]
    first, group = groups([a, b])
    assert group.tolist() == [group[0], group[1], group[2], group[0], group[2]]
    assert len(set(group.tolist())) == 3
    for g, row in enumerate(first.tolist()):
        assert group[row] == g


def test_groups_stay_exact_when_the_key_would_overflow():
    rng = np.random.default_rng(0)
    # ten columns of ~200 distinct values each: the product of widths passes 2^62, so it re-codes
    columns = [rng.integers(0, 10**9, 200) for _ in range(10)]
    columns.append(np.arange(200) % 3)
    first, group = groups(columns)
    rows = list(zip(*(c.tolist() for c in columns)))
    assert len(first) == len(set(rows))
    assert all(rows[first[group[i]]] == rows[i] for i in range(200))


def test_pairs():
    distinct, code = pairs(["u1", "u2", "u1"], ["a", "a", "a"])
    assert [distinct[c] for c in code.tolist()] == [("u1", "a"), ("u2", "a"), ("u1", "a")]
