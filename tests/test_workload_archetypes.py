"""Archetype workloads: deterministic demand, shaped differently under different policies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.config import Scenario
from simcore.errors import ConfigError
from simcore.workload import build_jobs
from simcore.workload.archetypes import draw_demand, parse_params
from simcore.workload.shaping import nice_limit, shape


def scenario(max_time="3-00:00:00", workload=None, qos=None, **extra) -> Scenario:
    d = {
        "name": "t",
        "cluster": {"nodes": [
            {"NodeName": "gpu[01-16]", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:a100:4"},
            {"NodeName": "own[1-2]", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:8"},
        ]},
        "partitions": {
            # PreemptMode OFF: with the global REQUEUE they would inherit it and debug (tier 2) could preempt gpu
            "gpu": {"Nodes": "gpu[01-16]", "MaxTime": max_time, "Default": True, "PreemptMode": "OFF"},
            "debug": {"Nodes": "gpu[15-16]", "MaxTime": "1:00:00", "PriorityTier": 2, "PreemptMode": "OFF"},
            "preempt": {"Nodes": "gpu[01-16],own[1-2]", "MaxTime": "7-0", "PriorityTier": 0,
                        "PreemptMode": "REQUEUE"},
            "owners": {"Nodes": "own[1-2]", "AllowAccounts": "chem", "PriorityTier": 3},
        },
        "scheduler": {"PreemptType": "preempt/partition_prio", "PreemptMode": "REQUEUE"},
        "accounts": {"physics": {"Parent": "root"}, "chem": {"Parent": "root"}, "bio": {"Parent": "root"}},
        "workload": {"kind": "archetypes", **(workload or {})},
    }
    if qos:
        d["qos"] = qos
    d.update(extra)
    return Scenario.from_dict(d, source="test.toml")


def columns_equal(a, b) -> bool:
    return all(np.array_equal(a[k], b[k]) for k in a.columns)


def test_same_seed_same_jobs_other_seed_other_jobs():
    a, b, c = shape(scenario(), 7).table, shape(scenario(), 7).table, shape(scenario(), 8).table
    assert columns_equal(a, b)
    assert len(a) != len(c) or not columns_equal(a, c)


def test_build_jobs_dispatches_archetypes():
    assert columns_equal(build_jobs(scenario(), 3), shape(scenario(), 3).table)


def test_demand_does_not_depend_on_policy_but_jobs_do():
    long, short = shape(scenario("3-00:00:00"), 1), shape(scenario("12:00:00"), 1)
    assert long.demand_gpu_h == pytest.approx(short.demand_gpu_h)
    assert short.chains > long.chains
    assert len(short.table) > len(long.table)
    assert short.unmet_demand_gpu_h > long.unmet_demand_gpu_h
    for shaped, limit in ((long, 3 * 86400), (short, 12 * 3600)):
        t = shaped.table
        on_gpu = np.array([p.split(",")[0] == "gpu" for p in t["partition"]])
        assert t["time_limit"][on_gpu].max() <= limit


def test_chains_are_dependent_links_of_checkpointing_users():
    t = shape(scenario("12:00:00"), 1).table
    ids = {job: i for i, job in enumerate(t["job_id"])}
    linked = np.flatnonzero(t["dependency"] != "")
    assert linked.size > 0
    for row in linked:
        kind, _, previous = t["dependency"][row].partition(":")
        assert kind == "afterany"
        prev = ids[previous]
        assert prev < row  # submitted earlier (job ids follow submit order)
        assert t["user"][prev] == t["user"][row] and t["gpus"][prev] == t["gpus"][row]
        assert t["checkpoint_s"][row] > 0
        assert t["time_limit"][row] == t["time_limit"][prev]
        assert t["runtime"][row] <= t["time_limit"][row]


def test_users_who_cannot_checkpoint_lose_long_work():
    work = {"archetypes": {"heavy": {"count": 3, "can_checkpoint_frac": 0.0, "gpus": [1], "work_gpu_h": 200.0,
                                     "work_sigma": 0.1, "test_jobs_per_week": 0.0}}}
    shaped = shape(scenario("1-00:00:00", work), 2)
    assert shaped.unmet_demand_gpu_h == pytest.approx(shaped.demand_gpu_h)
    assert len(shaped.table) == 0 or (shaped.table["dependency"] == "").all()


def test_users_who_cannot_checkpoint_widen_to_fit():
    work = {"archetypes": {"heavy": {"count": 3, "can_checkpoint_frac": 0.0, "gpus": [1, 8], "gpus_weights": [1, 0],
                                     "work_gpu_h": 100.0, "work_sigma": 0.1, "test_jobs_per_week": 0.0}}}
    shaped = shape(scenario("1-00:00:00", work), 2)
    assert shaped.unmet_demand_gpu_h == 0
    assert set(shaped.table["gpus"]) == {8}
    assert set(shaped.table["nodes"]) == {2}


def test_partition_choice():
    shaped = shape(scenario(), 4)
    t = shaped.table
    preempt = np.array(["preempt" in p for p in t["partition"]])
    assert preempt.any() and (t["checkpoint_s"][preempt] > 0).all()
    interactive = np.char.startswith(t["user"].astype(str), "interactive")
    # sessions that fit the debug partition's MaxTime go there; longer ones to the default partition
    fits = t["runtime"] <= 3600
    assert set(t["partition"][interactive & fits]) == {"debug"}
    assert set(t["partition"][interactive & ~fits]) == {"gpu"}
    assert (t["time_limit"][t["partition"] == "debug"] <= 3600).all()
    owners = np.char.startswith(t["user"].astype(str), "owner")
    assert set(t["account"][owners]) == {"chem"}
    assert set(t["partition"][owners]) <= {"owners", "debug"}
    assert "owners" not in set(t["partition"][~owners])
    assert set(shaped.accounts.values()) <= {"physics", "chem", "bio"}


def test_qos_limits_shape_jobs():
    qos = {"normal": {"MaxTRESPerUser": "gres/gpu=2", "GrpTRESRunMins": "gres/gpu=2880"}}
    t = shape(scenario(qos=qos), 5).table
    assert t["gpus"].max() <= 2
    assert (t["gpus"] * t["time_limit"] <= 2880 * 60).all()


def test_arrivals_follow_the_weekly_cycle():
    params = parse_params({"days": 28, "weekly_cycle": [1, 1, 1, 1, 1, 0, 0], "scale": 5})
    demand = draw_demand(params, 0)
    weekday = (demand.submit // 86400) % 7
    deadline = np.array([demand.users[u].startswith("deadline") for u in demand.user])
    assert (weekday[~deadline] < 5).all()


def test_deadline_bursts_and_quiet_nights():
    night = [0.0] * 6 + [1.0] * 18
    params = parse_params({"days": 28, "daily_cycle": night, "archetypes": {"deadline": {"count": 20}}})
    demand = draw_demand(params, 3)
    assert ((demand.submit // 3600) % 24 >= 6).all()
    for user in np.unique(demand.user):
        mine = demand.submit[demand.user == user]
        assert mine.max() - mine.min() <= 3 * 86400


def test_jobs_are_named_after_their_archetype():
    t = shape(scenario(), 0).table
    assert all(user.startswith(name) for user, name in zip(t["user"], t["name"]))


def test_some_users_omit_the_time_limit():
    t = shape(scenario(), 0).table
    omitted = t["time_limit"] == 0
    assert 0 < omitted.sum() < 0.2 * len(t)
    assert (t["dependency"][omitted] == "").all()
    assert not omitted[np.char.startswith(t["user"].astype(str), "heavy")].any()


def test_nice_limits():
    assert list(nice_limit(np.array([1, 300, 301, 3601, 86401, 30 * 86400 + 1]))) == [
        300, 300, 600, 5400, 129600, 31 * 86400]


@pytest.mark.parametrize("workload, message", [
    ({"archetypes": {"heavy": {"cnt": 3}}},
     "test.toml: workload.archetypes.heavy.cnt: unknown archetype parameter; allowed: account, base, burst_days,"),
    ({"archetypes": {"phd": {"count": 3}}},
     "test.toml: workload.archetypes.phd.base: 'phd' is not a built-in archetype; allowed: heavy, regular, new,"),
    ({"archetypes": {"heavy": {"can_checkpoint_frac": 1.5}}},
     "test.toml: workload.archetypes.heavy.can_checkpoint_frac: found 1.5; a fraction is between 0 and 1"),
    ({"archetypes": {"heavy": {"gpus": [1, 2], "gpus_weights": [1]}}},
     "test.toml: workload.archetypes.heavy.gpus_weights: 1 weights for 2 widths in gpus"),
    ({"days": 0}, "test.toml: workload.days: expected a number from 0.0416667 to 3660, found 0"),
    ({"daily_cycle": [1, 2]}, "test.toml: workload.daily_cycle: expected 24 non-negative weights (not all 0), found [1, 2]"),
    ({"archetypes": {"owner": {"partition": "gpu-owners"}}},
     "test.toml: workload.archetypes.owner.partition: 'gpu-owners' is not a partition of the scenario; "
     "have: gpu, debug, preempt, owners"),
    ({"archetypes": {"regular": {"account": "nowhere"}}},
     "test.toml: workload.archetypes.regular.account: 'nowhere' is not an [accounts.<name>] table; "
     "have: bio, chem, physics"),
    ({"archetypes": {"regular": {"partition": "owners", "account": "bio"}}},
     "test.toml: workload.archetypes.regular.partition: 'owners' does not allow account 'bio' of user regular01 "
     "(AllowAccounts=chem)"),
    ({"chain_dependency": "after"}, "test.toml: workload.chain_dependency: found 'after'; allowed: afterany, afterok"),
    ({"jobs": 5}, "test.toml: workload.jobs: unknown key for kind = \"archetypes\"; allowed: archetypes, chain_dependency,"),
    ({"scale": 0.01}, "test.toml: workload.archetypes: no users (every count x scale rounds to 0)"),
])
def test_config_errors(workload, message):
    with pytest.raises(ConfigError) as err:
        shape(scenario(workload=workload), 0)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("max_time", ["6:00:00", "1-00:00:00", "7-00:00:00"])
def test_work_is_conserved(max_time):
    """Submitted useful work + unmet demand = demand (restart overheads excluded, seconds rounded up)."""
    shaped = shape(scenario(max_time), 11)
    t = shaped.table
    overhead = np.where(t["dependency"] != "", 600, 0)  # default restart_overhead of every archetype
    useful_gpu_h = ((t["runtime"] - overhead) * t["gpus"]).sum() / 3600
    assert useful_gpu_h + shaped.unmet_demand_gpu_h == pytest.approx(shaped.demand_gpu_h, rel=0.01)
    assert useful_gpu_h >= shaped.demand_gpu_h - shaped.unmet_demand_gpu_h - 1e-6


def test_without_accounts_each_archetype_is_an_account():
    d = {
        "cluster": {"nodes": [{"NodeName": "g[1-4]", "CPUs": 32, "RealMemory": 256000, "Gres": "gpu:4"}]},
        "partitions": {"gpu": {"Nodes": "ALL", "Default": True, "MaxTime": "2-0"}},
        "workload": {"kind": "archetypes", "days": 7},
        "users": {"heavy1": {"Account": "special"}},
    }
    shaped = shape(Scenario.from_dict(d, source="flat.toml"), 0)
    assert shaped.accounts["heavy1"] == "special"
    assert shaped.accounts["heavy2"] == "heavy"
    assert shaped.accounts["regular07"] == "regular"
    assert set(shaped.table["partition"]) == {"gpu"}  # no debug partition: tests go to gpu too


def test_user_association_limits_apply_to_that_user_only():
    users = {"heavy1": {"Account": "physics", "MaxTRESPerJob": "gres/gpu=1"},
             "heavy2": {"Account": "physics", "MaxTRESPerJob": "gres/gpu=2"}}
    t = shape(scenario(users=users), 6).table
    assert t["gpus"][t["user"] == "heavy1"].max() == 1
    assert t["gpus"][t["user"] == "heavy2"].max() == 2
    assert t["gpus"][t["user"] == "heavy3"].max() > 2


@settings(max_examples=25, deadline=None)
@given(
    max_time=st.integers(1, 14 * 24 * 60),              # minutes
    gpu_cap=st.one_of(st.none(), st.integers(1, 16)),
    run_minutes=st.one_of(st.none(), st.integers(60, 200_000)),
    seed=st.integers(0, 2**31),
)
def test_shaped_jobs_respect_every_limit(max_time, gpu_cap, run_minutes, seed):
    limits = {}
    if gpu_cap:
        limits["MaxTRESPerUser"] = f"gres/gpu={gpu_cap}"
    if run_minutes:
        limits["GrpTRESRunMins"] = f"gres/gpu={run_minutes}"
    shaped = shape(scenario(str(max_time), {"days": 3}, qos={"normal": limits} if limits else None), seed)
    t = shaped.table
    first = np.array([p.split(",")[0] for p in t["partition"]])
    partition_max = {"gpu": max_time * 60, "debug": 3600, "preempt": 7 * 86400, "owners": np.inf}
    assert all(limit <= partition_max[p] for p, limit in zip(first, t["time_limit"]))
    given_limit = t["time_limit"] > 0  # the rest were submitted without --time (DefaultTime applies)
    assert (t["time_limit"][given_limit] >= 60).all() and (t["time_limit"] % 60 == 0).all()
    assert (t["runtime"] >= 1).all()
    if gpu_cap:
        assert (t["gpus"] <= gpu_cap).all()
    if run_minutes:
        assert (t["gpus"] * t["time_limit"] <= run_minutes * 60).all()
    chained = t["dependency"] != ""
    assert given_limit[chained].all()
    assert (t["runtime"][chained] <= t["time_limit"][chained]).all()
    assert 0 <= shaped.unmet_demand_gpu_h <= shaped.demand_gpu_h + 1e-9


def test_simulate_runs_the_shaped_workload():
    from simcore import simulate

    short = simulate(scenario("6:00:00", {"days": 3}), seed=1)
    long = simulate(scenario("3-00:00:00", {"days": 3}), seed=1)
    assert short.metrics["jobs_total"] == len(shape(scenario("6:00:00", {"days": 3}), 1).table)
    assert short.metrics["jobs_total"] > long.metrics["jobs_total"]


def test_same_jobs_in_another_process():
    """Ray workers are other processes: nothing may depend on hash seeds or import order."""
    import hashlib
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import hashlib, sys\n"
        "sys.path.insert(0, 'tests')\n"
        "from test_workload_archetypes import scenario\n"
        "from simcore.workload.shaping import shape\n"
        "t = shape(scenario(), 9).table\n"
        "print(hashlib.sha256(repr([t[k].tolist() for k in sorted(t.columns)]).encode()).hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[1]
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                             check=True)
        digests.add(out.stdout.strip())
    t = shape(scenario(), 9).table
    digests.add(hashlib.sha256(repr([t[k].tolist() for k in sorted(t.columns)]).encode()).hexdigest())
    assert len(digests) == 1


def test_work_never_submitted_counts_as_unmet_demand_in_the_metrics():
    from simcore import simulate

    work = {"archetypes": {"heavy": {"count": 3, "can_checkpoint_frac": 0.0, "gpus": [1], "work_gpu_h": 200.0,
                                     "work_sigma": 0.1, "test_jobs_per_week": 0.0}}, "days": 3}
    sc = scenario("1-00:00:00", work)
    shaped = shape(sc, 2)
    assert shaped.unmet_demand_gpu_h > 0
    assert build_jobs(sc, 2).unmet_demand_gpu_h == pytest.approx(shaped.unmet_demand_gpu_h)
    assert simulate(sc, seed=2).metrics["unmet_demand_gpu_h"] >= shaped.unmet_demand_gpu_h
