"""The backfill's shortcuts give the answers of the plain definitions they replace.

Why: the per-node reservation summary and the multi-node early stop exist only for speed
(docs/performance.md); the schedule must not depend on them. Each is checked here against the
straightforward computation on random reservation lists, including overlapping reservations
(ends are rounded up to bf_resolution), zero-length reservations and a zero time limit.
"""

from __future__ import annotations

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.backfill import NEVER, Backfill

clear = Backfill._clear


@st.composite
def reservations(draw: st.DrawFn) -> list[tuple[int, int]]:
    """A node's sorted reservation list, as the pass builds it (start, end rounded up)."""
    resolution = draw(st.sampled_from([1, 5, 60]))
    out: list[tuple[int, int]] = []
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, 400))
        end = -(-(start + draw(st.integers(0, 150))) // resolution) * resolution
        bisect.insort(out, (start, end))
    return out


def clear_time_from_summary(lst: list[tuple[int, int]], a: int, limit: int) -> int:
    """The single-node scan's use of the summary (backfill.Backfill._earliest_one)."""
    first, last, longest = Backfill._summarise(lst)
    if a + limit <= first or a >= last:
        return a
    if limit > longest:
        return last
    return clear({0: lst}, 0, a, limit)


def edges(lst: list[tuple[int, int]]) -> list[int]:
    """Limits and start times at which an answer changes: gap lengths, starts and ends, +-1."""
    gaps = [s - e for (_, e), (s, _) in zip(lst, lst[1:])]
    return sorted({x + d for x in gaps + [v for r in lst for v in r] for d in (-1, 0, 1) if x + d >= 0})


@settings(max_examples=600, deadline=None)
@given(reservations(), st.data())
def test_summary_answers_equal_the_reservation_walk(lst, data):
    near = edges(lst)
    a = data.draw(st.sampled_from(near) | st.integers(0, 600))
    limit = data.draw(st.sampled_from(near) | st.integers(0, 200))
    assert clear_time_from_summary(lst, a, limit) == clear({0: lst}, 0, a, limit)


def full_sweep(order, n, limit, now, horizon, res):
    """The multi-node search without the early stop: every node's windows, then a sweep."""
    events = []
    for raw, i in order:
        a = raw if raw > now else (now if raw < 0 else now + 1)
        if a >= horizon:
            break
        t = a
        for s, e in res.get(i, ()):
            if e <= t:
                continue
            if s >= t + limit:
                events += [(t, 1), (s - limit + 1, -1)]
            t = e
        events.append((t, 1))
    events.sort()
    count = 0
    for t, d in events:
        count += d
        if d > 0 and count >= n:
            if t >= horizon:
                break
            sel = [i for raw, i in order
                   if (raw if raw > now else (now if raw < 0 else now + 1)) <= t
                   and (i not in res or clear(res, i, t, limit) == t)]
            return t, sel
    return NEVER, []


@st.composite
def partitions(draw: st.DrawFn):
    """(fit order, reservations by node, now, horizon) for a random partition."""
    nodes = draw(st.integers(2, 9))
    now = draw(st.integers(0, 20))
    raw = {i: draw(st.sampled_from([-1, NEVER]) | st.integers(0, 300)) for i in range(nodes)}
    order = sorted((t, i) for i, t in raw.items())
    res = {i: draw(reservations()) for i in range(nodes) if draw(st.booleans())}
    return order, res, now, now + draw(st.integers(50, 600))


@settings(max_examples=500, deadline=None)
@given(partitions(), st.integers(2, 5), st.integers(0, 200))
def test_multi_node_early_stop_equals_the_full_sweep(part, n, limit):
    order, res, now, horizon = part
    backfill = Backfill.__new__(Backfill)      # _earliest_multi reads only its arguments
    t, sel = backfill._earliest_multi(order, n, limit, now, horizon, res)
    t_ref, sel_ref = full_sweep(order, n, limit, now, horizon, res)
    assert t == t_ref
    assert sel == sel_ref
