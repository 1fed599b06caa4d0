"""Fairshare: association tree, exact decay, Fair Tree ranks and ties, classic formula, resets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.errors import ConfigError
from simcore.fairshare import AssocTree, Fairshare, billing, parse_billing_weights, reset_boundaries_after

DAY = 86400.0


def small_tree() -> AssocTree:
    return AssocTree.build(
        {"a": {"Fairshare": 3}, "b": {"Fairshare": 1}},
        {"u1": {"Account": "a"}, "u2": {"Account": "a"}, "u3": {"Account": "b"}},
        [("u4", "b"), ("u1", "a")],
    )


def run(fs: Fairshare, user: str, account: str, rate: float, start: float, end: float) -> None:
    a = fs.tree.assoc_of(user, account)
    fs.change_rate(a, rate, start)
    fs.change_rate(a, -rate, end)


def test_tree_structure_and_workload_users_attached():
    t = small_tree()
    assert t.names == ("root", "a", "b", "u1@a", "u2@a", "u3@b", "u4@b")
    assert list(t.parent) == [-1, 0, 0, 1, 1, 2, 2]
    assert list(t.shares) == [1, 3, 1, 1, 1, 1, 1]
    # unknown account from the workload goes under root; empty account uses the default account
    t2 = AssocTree.build({}, {}, [("bob", "chem"), ("carl", "")])
    assert t2.names == ("root", "chem", "bob@chem", "default", "carl@default")
    assert t2.assoc_of("carl", "") == 4


def test_tree_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"accounts.x.Parent: 'nope'"):
        AssocTree.build({"x": {"Parent": "nope"}}, {})
    with pytest.raises(ConfigError, match="cycle"):
        AssocTree.build({"x": {"Parent": "y"}, "y": {"Parent": "x"}}, {})
    with pytest.raises(ConfigError, match=r"users.al.Account: 'ghost' is not a declared account"):
        AssocTree.build({}, {"al": {"Account": "ghost"}})
    with pytest.raises(ConfigError, match=r"accounts.x.Fairshare"):
        AssocTree.build({"x": {"Fairshare": -2}}, {})


def test_decay_is_exact_across_arbitrary_intervals():
    h = 3600.0
    fs = Fairshare(small_tree(), h)
    run(fs, "u1", "a", 2.0, 0.0, h)
    u1 = fs.tree.assoc_of("u1", "a")
    # integral of 2 * 2^(-(h-s)/h) over [0, h] = 2h/(2 ln 2)
    assert fs.usage(h)[u1] == pytest.approx(h / math.log(2), rel=1e-12)
    assert fs.usage(3 * h)[u1] == pytest.approx(h / math.log(2) / 4, rel=1e-12)
    # account and root carry the sum of their users
    assert fs.usage(3 * h)[0] == pytest.approx(fs.usage(3 * h)[u1])
    # the same history evaluated with many intermediate recalculations gives the same numbers
    fs2 = Fairshare(small_tree(), h)
    a = fs2.tree.assoc_of("u1", "a")
    fs2.change_rate(a, 2.0, 0.0)
    for t in np.arange(1.0, h, 137.0):
        fs2.advance(float(t))
    fs2.change_rate(a, -2.0, h)
    for t in np.arange(h, 3 * h, 611.0):
        fs2.advance(float(t))
    assert fs2.usage(3 * h)[a] == pytest.approx(h / math.log(2) / 4, rel=1e-10)


def test_half_life_zero_disables_decay():
    fs = Fairshare(small_tree(), 0.0)
    run(fs, "u3", "b", 1.5, 100.0, 1100.0)
    assert fs.usage(1e7)[fs.tree.assoc_of("u3", "b")] == pytest.approx(1500.0)


def test_no_overflow_over_many_half_lives():
    fs = Fairshare(small_tree(), 60.0)
    run(fs, "u2", "a", 1.0, 0.0, 1e6)
    u = fs.usage(1e6)[fs.tree.assoc_of("u2", "a")]
    assert u == pytest.approx(60.0 / math.log(2), rel=1e-9)


def test_fair_tree_known_ranks():
    fs = Fairshare(small_tree(), 3600.0)
    run(fs, "u1", "a", 1.0, 0.0, 3600.0)
    f = fs.factors(3600.0)
    t = fs.tree
    # b (LF inf) before a (LF 0.75); in b u3/u4 tied at infinity -> rank 4; in a u2 (inf) then u1 (0.5)
    assert f[t.assoc_of("u3", "b")] == 1.0 and f[t.assoc_of("u4", "b")] == 1.0
    assert f[t.assoc_of("u2", "a")] == 0.5
    assert f[t.assoc_of("u1", "a")] == 0.25


def test_fair_tree_tied_accounts_merge_children():
    t = AssocTree.build(
        {"A": {}, "B": {}},
        {"a1": {"Account": "A"}, "a2": {"Account": "A"}, "b1": {"Account": "B"}, "b2": {"Account": "B"}},
    )
    fs = Fairshare(t, 0.0)
    for user, acct, used in [("a1", "A", 3), ("a2", "A", 1), ("b1", "B", 2), ("b2", "B", 2)]:
        run(fs, user, acct, used, 0.0, 1.0)
    f = fs.factors(1.0)
    # merged level: a2 (LF 2), b1 = b2 (LF 1, tied), a1 (LF 2/3)
    assert f[t.assoc_of("a2", "A")] == 1.0
    assert f[t.assoc_of("b1", "B")] == f[t.assoc_of("b2", "B")] == 0.75
    assert f[t.assoc_of("a1", "A")] == 0.25


def test_fair_tree_user_tied_with_account_gets_accounts_best_rank():
    t = AssocTree.build({"A": {}}, {"r": {"Account": "root"}, "a1": {"Account": "A"}, "a2": {"Account": "A"}})
    fs = Fairshare(t, 0.0)
    run(fs, "r", "root", 1.0, 0.0, 1.0)
    run(fs, "a1", "A", 1.0, 0.0, 1.0)
    f = fs.factors(1.0)
    # r and A tie (LF 1); r sorts first (users before accounts), A's first child a2 is tied with r
    assert f[t.assoc_of("r", "root")] == 1.0
    assert f[t.assoc_of("a2", "A")] == 1.0
    assert f[t.assoc_of("a1", "A")] == pytest.approx(1 / 3)


def test_classic_known_values_and_dampening():
    fs = Fairshare(small_tree(), 3600.0, fair_tree=False)
    run(fs, "u1", "a", 1.0, 0.0, 3600.0)
    t = fs.tree
    f = fs.factors(3600.0)
    # S(u1) = 3/4 * 1/2; U_eff(u1) = 1; U_eff(u2) = 0 + (1 - 0) * 1/2
    assert f[t.assoc_of("u1", "a")] == pytest.approx(2 ** (-1 / 0.375))
    assert f[t.assoc_of("u2", "a")] == pytest.approx(2 ** (-0.5 / 0.375))
    assert f[t.assoc_of("u3", "b")] == 1.0
    fs2 = Fairshare(small_tree(), 3600.0, fair_tree=False, damping=4)
    run(fs2, "u1", "a", 1.0, 0.0, 3600.0)
    assert fs2.factors(3600.0)[t.assoc_of("u1", "a")] == pytest.approx(2 ** (-1 / 0.375 / 4))


def test_fair_tree_and_classic_differ_on_a_small_tree():
    """Classic lets an idle user of the over-served account outrank a busy user of the under-served one."""
    t = AssocTree.build(
        {"heavy": {"Fairshare": 1}, "light": {"Fairshare": 1}},
        {"h1": {"Account": "heavy"}, "h2": {"Account": "heavy"}, "l1": {"Account": "light"}, "l2": {"Account": "light"}},
    )
    expected = {True: {"l2": 1.0, "l1": 0.75, "h2": 0.5, "h1": 0.25}}
    for fair_tree in (True, False):
        fs = Fairshare(t, 0.0, fair_tree=fair_tree)
        run(fs, "h1", "heavy", 10.0, 0.0, 1.0)
        run(fs, "l1", "light", 8.0, 0.0, 1.0)
        f = fs.factors(1.0)
        got = {u: f[t.assoc_of(u, "heavy" if u[0] == "h" else "light")] for u in ("h1", "h2", "l1", "l2")}
        if fair_tree:
            assert got == expected[True]
        else:  # h2: U_eff/S = (10/18)/0.5; l1: U_eff/S = (8/18)/0.25
            assert got["h2"] == pytest.approx(2 ** (-(10 / 18) / 0.5))
            assert got["l1"] == pytest.approx(2 ** (-(8 / 18) / 0.25))
            assert got["h2"] > got["l1"]


def test_heavy_use_ordering_and_recovery_with_half_life():
    """u1 used a lot long ago, u2 a little recently: a short half-life forgives u1, a long one does not."""
    for h, u1_first in ((1 * DAY, True), (30 * DAY, False)):
        t = AssocTree.build({}, {}, [("u1", "g"), ("u2", "g")])
        fs = Fairshare(t, h)
        run(fs, "u1", "g", 10.0, 0.0, 1 * DAY)
        run(fs, "u2", "g", 1.0, 9 * DAY, 10 * DAY)
        f = fs.factors(10 * DAY)
        assert bool(f[t.assoc_of("u1", "g")] > f[t.assoc_of("u2", "g")]) is u1_first
    # right after the heavy use, the heavy user is behind whatever the half-life
    fs = Fairshare(t, 1 * DAY)
    run(fs, "u1", "g", 10.0, 0.0, 1 * DAY)
    f = fs.factors(1 * DAY)
    assert f[t.assoc_of("u1", "g")] < f[t.assoc_of("u2", "g")]


def test_usage_reset_daily_discards_usage_before_the_boundary():
    fs = Fairshare(small_tree(), 0.0, reset_period="DAILY")
    run(fs, "u1", "a", 1.0, 0.0, 1000.0)
    a = fs.tree.assoc_of("u1", "a")
    assert fs.usage(DAY - 1)[a] == pytest.approx(1000.0)
    assert fs.usage(DAY + 300)[a] == 0.0
    assert reset_boundaries_after("WEEKLY", 0.0) == 6 * DAY  # first Sunday 00:00 after Monday t=0
    assert reset_boundaries_after("MONTHLY", 0.0) == 31 * DAY
    assert reset_boundaries_after("QUARTERLY", 0.0) == (31 + 29 + 31) * DAY  # 2024 is a leap year
    assert reset_boundaries_after("NONE", 0.0) == math.inf
    with pytest.raises(ConfigError, match="PriorityUsageResetPeriod"):
        Fairshare(small_tree(), 0.0, reset_period="HOURLY")


def test_billing_weights():
    w = parse_billing_weights("CPU=1.0,Mem=0.25G,GRES/gpu=10", "partitions.gpu.TRESBillingWeights")
    b = billing(w, np.array([8]), np.array([64000]), np.array([1]), np.array([2]))
    assert b[0] == pytest.approx(8 + 0.25 * 64000 / 1024 + 20)
    assert list(billing({}, np.array([4, 6]), np.zeros(2), np.ones(2), np.zeros(2))) == [4, 6]
    typed = parse_billing_weights("GRES/gpu:a100=5", "k")
    assert list(billing(typed, np.zeros(2), np.zeros(2), np.ones(2), np.array([2, 2]), np.array(["a100", "v100"]))) == [10, 0]
    with pytest.raises(ConfigError, match="partitions.gpu.TRESBillingWeights: 'Disk=1'"):
        parse_billing_weights("Disk=1", "partitions.gpu.TRESBillingWeights")


@settings(max_examples=60, deadline=None)
@given(
    usage=st.lists(st.integers(min_value=0, max_value=4), min_size=5, max_size=5),
    shares=st.lists(st.integers(min_value=0, max_value=3), min_size=7, max_size=7),
)
def test_fair_tree_properties(usage, shares):
    """Factors lie in (0, 1]; the top user has 1.0; a better-served sibling account ranks all its users higher."""
    accounts = {"A": {"Fairshare": shares[0]}, "B": {"Fairshare": shares[1]}, "A1": {"Parent": "A", "Fairshare": shares[2]}}
    users = {
        "x": {"Account": "A", "Fairshare": shares[3]}, "y": {"Account": "A1", "Fairshare": shares[4]},
        "z": {"Account": "A1", "Fairshare": shares[5]}, "w": {"Account": "B", "Fairshare": shares[6]},
        "v": {"Account": "B"},
    }
    t = AssocTree.build(accounts, users)
    fs = Fairshare(t, 0.0)
    for name, used in zip(["x", "y", "z", "w", "v"], usage):
        if used:
            run(fs, name, users[name]["Account"], float(used), 0.0, 1.0)
    f = fs.factors(1.0)[fs.users]
    assert f.max() == 1.0 and f.min() > 0
    lf = fs.level_fs(fs.usage(1.0))
    a, b = t.names.index("A"), t.names.index("B")
    fa = [f[list(fs.users).index(t.assoc_of(u, users[u]["Account"]))] for u in ("x", "y", "z")]
    fb = [f[list(fs.users).index(t.assoc_of(u, "B"))] for u in ("w", "v")]
    if lf[a] > lf[b]:
        assert min(fa) > max(fb)
    elif lf[b] > lf[a]:
        assert min(fb) > max(fa)
