"""QOS and association limits: known answers for each limit, GrpTRESRunMins as Slurm, no limit ever exceeded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.config import Scenario
from simcore.errors import ConfigError
from simcore.jobs import JobTable
from simcore.limits import Limits, is_policy_reason

DAY = 86400
HOUR = 3600


def scenario(qos=None, accounts=None, users=None, partitions=None, calc=1):
    return Scenario.from_dict({
        "cluster": {"nodes": [{"NodeName": "g[01-10]", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:4"}]},
        "partitions": partitions or {"gpu": {"Nodes": "ALL", "MaxTime": "7-0", "Default": True}},
        "priority": {"PriorityCalcPeriod": calc},
        "qos": qos or {"normal": {}},
        "accounts": accounts or {},
        "users": users or {},
    }, source="test.toml")


def table(rows):
    """rows: dicts with user, gpus, time_limit (s) and optional cpus, account, qos, partition, mem_mb, nodes."""
    cols = {k: [] for k in ("user", "account", "qos", "partition", "submit", "time_limit", "runtime", "nodes", "cpus", "gpus", "mem_mb")}
    for r in rows:
        cols["user"].append(r.get("user", "alice"))
        cols["account"].append(r.get("account", "phys"))
        cols["qos"].append(r.get("qos", ""))
        cols["partition"].append(r.get("partition", ""))
        cols["submit"].append(r.get("submit", 0))
        cols["time_limit"].append(r["time_limit"])
        cols["runtime"].append(r.get("runtime", r["time_limit"]))
        cols["nodes"].append(r.get("nodes", 1))
        cols["cpus"].append(r.get("cpus", 1))
        cols["gpus"].append(r.get("gpus", 0))
        cols["mem_mb"].append(r.get("mem_mb", 1000))
    return JobTable.from_columns(cols, source="jobs")


def start_all(lim, jobs, now):
    """Start every job in order that no limit blocks; return the started ones."""
    started = []
    for j in jobs:
        if lim.blocking_reason(j, now) is None:
            lim.on_start(j, now)
            started.append(j)
    return started


POST_USERS = {"alice": {"Account": "phys", "GrpTRESRunMins": "gres/gpu=7200"}}


def test_post_example_one_5day_job_or_thirty_4h_jobs_not_thirty_5day_jobs():
    long = table([{"gpus": 1, "time_limit": 5 * DAY}] * 30)
    lim = Limits(scenario(users=POST_USERS, accounts={"phys": {}}), long)
    assert start_all(lim, range(30), 0) == [0]
    assert lim.blocking_reason(1, 0) == "AssocGrpGRESRunMinutes"
    short = table([{"gpus": 1, "time_limit": 4 * HOUR}] * 30)
    lim = Limits(scenario(users=POST_USERS, accounts={"phys": {}}), short)
    assert start_all(lim, range(30), 0) == list(range(30))


def test_run_minutes_shrink_only_at_priority_calc_ticks():
    jobs = table([{"gpus": 1, "time_limit": 5 * DAY}, {"gpus": 1, "time_limit": 4 * HOUR}])
    lim = Limits(scenario(users=POST_USERS, accounts={"phys": {}}, calc=5), jobs)
    lim.on_start(0, 30)
    # job 1 needs 240 GPU-minutes: job 0 must have 240 minutes counted, i.e. at the tick at 14700 s
    assert lim.next_change(30) == 300
    assert lim.blocking_reason(1, 14699) == "AssocGrpGRESRunMinutes"
    assert lim.blocking_reason(1, 14700) is None
    # an early end gives back the rest of the booking at once
    lim2 = Limits(scenario(users=POST_USERS, accounts={"phys": {}}, calc=5), jobs)
    lim2.on_start(0, 0)
    lim2.on_end(0, 1000)
    assert lim2.blocking_reason(1, 1000) is None
    assert lim2.next_change(1000) is None


def test_job_alone_over_run_minutes_never_starts():
    jobs = table([{"gpus": 1, "time_limit": 6 * DAY}, {"gpus": 2, "time_limit": 3 * DAY}])
    lim = Limits(scenario(users=POST_USERS, accounts={"phys": {}}), jobs)
    assert lim.over_limit == ["AssocGrpGRESRunMinutes", "AssocGrpGRESRunMinutes"]
    assert lim.blocking_reason(0, 10 * DAY) == "AssocGrpGRESRunMinutes"


def test_qos_max_tres_per_user_and_jobs_per_user():
    qos = {"normal": {"MaxTRESPerUser": "gres/gpu=8", "MaxJobsPerUser": 3}}
    jobs = table([{"user": "alice", "gpus": 4, "time_limit": HOUR}] * 3 + [{"user": "bob", "gpus": 1, "time_limit": HOUR}] * 4)
    lim = Limits(scenario(qos=qos), jobs)
    assert start_all(lim, range(7), 0) == [0, 1, 3, 4, 5]
    assert lim.blocking_reason(2, 0) == "QOSMaxGRESPerUser"
    assert lim.blocking_reason(6, 0) == "QOSMaxJobsPerUserLimit"
    lim.on_end(0, 10)
    assert lim.blocking_reason(2, 10) is None


def test_qos_grp_tres_grp_jobs_max_wall_max_tres_per_job():
    qos = {"normal": {"GrpTRES": "gres/gpu=6,cpu=100", "GrpJobs": 3, "MaxWall": "1-0", "MaxTRESPerJob": "gres/gpu=4"}}
    jobs = table([
        {"user": "a", "gpus": 4, "time_limit": HOUR}, {"user": "b", "gpus": 4, "time_limit": HOUR},
        {"user": "c", "gpus": 0, "cpus": 98, "time_limit": HOUR}, {"user": "d", "gpus": 1, "time_limit": 2 * DAY},
        {"user": "e", "gpus": 8, "time_limit": HOUR}, {"user": "f", "gpus": 1, "time_limit": HOUR},
        {"user": "g", "gpus": 1, "cpus": 2, "time_limit": HOUR},
    ])
    lim = Limits(scenario(qos=qos), jobs)
    assert lim.over_limit[3] == "QOSMaxWallDurationPerJobLimit"
    assert lim.over_limit[4] == "QOSMaxGRESPerJob"
    assert start_all(lim, [0, 1, 2, 5, 6], 0) == [0, 2, 5]
    assert lim.blocking_reason(1, 0) == "QOSGrpJobsLimit"
    lim.on_end(5, 1)
    assert lim.blocking_reason(1, 1) == "QOSGrpGRES"
    assert lim.blocking_reason(6, 1) == "QOSGrpCpuLimit"


def test_association_limits_inherited_and_aggregated():
    accounts = {"phys": {"GrpTRES": "gres/gpu=5", "MaxJobs": 2}, "theory": {"Parent": "phys"}}
    users = {"alice": {"Account": "theory"}, "bob": {"Account": "theory", "MaxJobs": 5}}
    jobs = table([{"user": "alice", "account": "theory", "gpus": 1, "time_limit": HOUR}] * 3
                 + [{"user": "bob", "account": "theory", "gpus": 1, "time_limit": HOUR}] * 4)
    lim = Limits(scenario(accounts=accounts, users=users), jobs)
    # alice inherits MaxJobs=2 from phys; bob's own MaxJobs=5 wins; phys GrpTRES caps the sum at 5 GPUs
    assert start_all(lim, range(7), 0) == [0, 1, 3, 4, 5]
    assert lim.blocking_reason(2, 0) == "AssocMaxJobsLimit"
    assert lim.blocking_reason(6, 0) == "AssocGrpGRES"


def test_partition_qos_overrides_job_qos():
    qos = {"normal": {"MaxTRESPerUser": "gres/gpu=2", "MaxJobsPerUser": 1}, "part": {"MaxTRESPerUser": "gres/gpu=8"}}
    parts = {"gpu": {"Nodes": "ALL", "Default": True, "QOS": "part"}}
    jobs = table([{"gpus": 4, "time_limit": HOUR}, {"gpus": 4, "time_limit": HOUR}])
    lim = Limits(scenario(qos=qos, partitions=parts), jobs)
    assert lim.blocking_reason(0, 0) is None           # the partition QOS's 8 GPUs, not normal's 2
    lim.on_start(0, 0)
    assert lim.blocking_reason(1, 0) == "QOSMaxJobsPerUserLimit"   # normal's other limits still apply


def test_max_submit_jobs_rejects_at_submit():
    qos = {"normal": {"MaxSubmitJobsPerUser": 2}}
    jobs = table([{"time_limit": HOUR}] * 3)
    lim = Limits(scenario(qos=qos), jobs)
    assert [lim.on_submit(j, 0) for j in range(3)] == [None, None, "QOSMaxSubmitJobPerUserLimit"]
    lim.on_start(0, 0)
    lim.on_end(0, 5)
    assert lim.on_submit(2, 5) is None


def test_unsupported_limit_is_an_error():
    with pytest.raises(ConfigError, match=r"test.toml: qos.normal.GrpTRESMins: this limit is not modelled"):
        Limits(scenario(qos={"normal": {"GrpTRESMins": "cpu=10"}}), table([{"time_limit": 60}]))


def test_policy_reason_classification():
    assert is_policy_reason("QOSGrpGRESRunMinutes") and is_policy_reason("AssocMaxJobsLimit")
    assert not is_policy_reason("Resources") and not is_policy_reason("Priority") and not is_policy_reason(None)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 4), st.integers(1, 48), st.integers(0, 3)), min_size=1, max_size=40))
def test_no_limit_is_ever_exceeded(spec):
    """Random arrivals and ends through the hooks never exceed any configured limit."""
    qos = {"normal": {"MaxTRESPerUser": "gres/gpu=6", "GrpTRES": "gres/gpu=10", "GrpJobs": 6,
                      "GrpTRESRunMins": "gres/gpu=3000", "MaxJobsPerUser": 3}}
    rows = [{"user": u, "gpus": g, "time_limit": h * HOUR // 4, "account": "x"} for u, g, h, _ in spec]
    jobs = table(rows)
    lim = Limits(scenario(qos=qos, calc=5), jobs)
    running: dict[int, tuple[int, int]] = {}
    now = 0
    for j, (_, _, _, wait) in enumerate(spec):
        now += wait * 450
        for r, (s, e) in list(running.items()):
            if e <= now:
                lim.on_end(r, e)
                del running[r]
        if lim.blocking_reason(j, now) is None:
            lim.on_start(j, now)
            running[j] = (now, now + int(jobs["time_limit"][j]))
        gpus = {u: sum(jobs["gpus"][r] for r in running if jobs["user"][r] == u) for u in "abc"}
        assert max(gpus.values()) <= 6 and sum(gpus.values()) <= 10 and len(running) <= 6
        assert max(sum(1 for r in running if jobs["user"][r] == u) for u in "abc") <= 3
        # run minutes as Slurm books them: remaining limit counted at the last tick, never above the cap
        tick = now // 300 * 300
        booked = sum(jobs["gpus"][r] * (s + jobs["time_limit"][r] - min(max(tick, s), s + jobs["time_limit"][r])) for r, (s, e) in running.items())
        assert booked <= 3000 * 60


def test_qos_flags_over_part_qos_and_deny_on_limit():
    qos = {"normal": {"MaxTRESPerUser": "gres/gpu=2", "Flags": "OverPartQOS"}, "part": {"MaxTRESPerUser": "gres/gpu=8"}}
    parts = {"gpu": {"Nodes": "ALL", "Default": True, "QOS": "part"}}
    lim = Limits(scenario(qos=qos, partitions=parts), table([{"gpus": 4, "time_limit": HOUR}]))
    assert lim.blocking_reason(0, 0) == "QOSMaxGRESPerUser"       # the job QOS's 2 GPUs win
    qos = {"normal": {"MaxTRESPerJob": "gres/gpu=2", "Flags": "DenyOnLimit"}}
    lim = Limits(scenario(qos=qos), table([{"gpus": 4, "time_limit": HOUR}, {"gpus": 1, "time_limit": HOUR}]))
    assert [lim.on_submit(j, 0) for j in (0, 1)] == ["QOSMaxGRESPerJob", None]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 4), st.integers(0, 40), st.integers(1, 16)),
                min_size=3, max_size=30))
def test_simulated_runs_never_exceed_limits(spec):
    """Whole simulations (main scheduler + backfill) keep every running set within the limits."""
    from simcore import simulate

    qos = {"normal": {"MaxTRESPerUser": "gres/gpu=5", "GrpTRES": "gres/gpu=9", "MaxJobsPerUser": 2,
                      "GrpTRESRunMins": "gres/gpu=1200"}}
    rows = [{"user": u, "gpus": g, "submit": s * 300, "time_limit": h * 900, "runtime": h * 700, "account": "x"}
            for u, g, s, h in spec]
    sc = scenario(qos=qos, calc=1)
    out = simulate(sc, jobs=table(rows)).jobs
    start, end = out["start"], out["end"]
    ran = ~np.isnan(start)
    gpus, users, limit = out["gpus"], out["user"], out["time_limit"]
    for t in sorted(set(start[ran].tolist())):
        on = ran & (start <= t) & (end > t)
        assert gpus[on].sum() <= 9
        for u in "abc":
            assert gpus[on & (users == u)].sum() <= 5
            assert (on & (users == u)).sum() <= 2
        # run minutes at a start: booked remaining limits (counted down at the last minute tick) + new
        tick = t // 60 * 60
        started_now = on & (start == t)
        before = on & (start < t)
        booked = (gpus[before] * (start[before] + limit[before] - np.maximum(tick, start[before]))).sum()
        assert booked + (gpus[started_now] * limit[started_now]).sum() <= 1200 * 60 + 1e-6


def test_assoc_max_tres_per_job_grp_jobs_and_qos_per_account_limits():
    accounts = {"phys": {"GrpJobs": 2, "MaxTRESPerJob": "gres/gpu=2"}}
    users = {"al": {"Account": "phys"}, "bo": {"Account": "phys"}}
    qos = {"normal": {"MaxTRESPerAccount": "cpu=10", "MaxJobsPerAccount": 5}}
    rows = [{"user": "al", "account": "phys", "gpus": 4, "time_limit": HOUR},              # over MaxTRESPerJob
            {"user": "al", "account": "phys", "gpus": 1, "cpus": 4, "time_limit": HOUR},
            {"user": "bo", "account": "phys", "gpus": 1, "cpus": 4, "time_limit": HOUR},
            {"user": "bo", "account": "phys", "gpus": 1, "cpus": 1, "time_limit": HOUR},   # GrpJobs
            {"user": "cy", "account": "chem", "gpus": 0, "cpus": 8, "time_limit": HOUR},
            {"user": "dd", "account": "chem", "gpus": 0, "cpus": 4, "time_limit": HOUR}]  # per account cpu
    lim = Limits(scenario(qos=qos, accounts=accounts, users=users), table(rows))
    assert lim.over_limit[0] == "AssocMaxGRESPerJob"
    assert start_all(lim, range(1, 6), 0) == [1, 2, 4]
    assert lim.blocking_reason(3, 0) == "AssocGrpJobsLimit"
    assert lim.blocking_reason(5, 0) == "MaxCpuPerAccount"
