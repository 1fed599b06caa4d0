"""Hand-built cases with known answers (Slurm's documented behaviour): exact starts and nodes.

Passes run from t=0: backfill every 30 s, the full main pass every 60 s, and a depth-limited
main pass at every submit/end.
"""

from __future__ import annotations

from simhelp import NODE, jobs, run, scenario

ONE_NODE = [{"NodeName": "n1", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:4"}]


def test_backfill_into_a_hole_and_refusal_to_delay_the_top_job():
    sc = scenario(ONE_NODE)
    r = run(sc, jobs(
        {"submit": 0, "gpus": 2, "time_limit": 6000, "runtime": 6000},   # A runs 0-6000
        {"submit": 10, "gpus": 4, "time_limit": 3600, "runtime": 3600},  # B: top job, reserved at 6000
        {"submit": 20, "gpus": 2, "time_limit": 1800, "runtime": 1800},  # C fits the hole before 6000
        {"submit": 20, "gpus": 2, "time_limit": 10800, "runtime": 100},  # D would delay B
    ))
    assert (r["1"]["start"], r["1"]["by"]) == (0, "main")
    assert (r["3"]["start"], r["3"]["by"]) == (30, "backfill")       # first backfill pass after submit
    assert (r["2"]["start"], r["2"]["by"]) == (6000, "main")         # exactly at A's end
    assert (r["4"]["start"], r["4"]["by"]) == (9600, "main")         # only after B
    assert r["2"]["pending"]["Resources"] == 6000 - 10
    assert r["3"]["pending"]["Priority"] == 10


def test_builtin_scheduler_never_backfills():
    sc = scenario(ONE_NODE, scheduler={"SchedulerType": "sched/builtin"})
    r = run(sc, jobs(
        {"submit": 0, "gpus": 2, "time_limit": 6000, "runtime": 6000},
        {"submit": 10, "gpus": 4, "time_limit": 3600, "runtime": 3600},
        {"submit": 20, "gpus": 2, "time_limit": 1800, "runtime": 1800},
    ))
    assert r["3"]["start"] == 9600 and r["3"]["by"] == "main"


def test_per_partition_blocking_leaves_other_partitions_free():
    nodes = [{"NodeName": "n1", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:4"},
             {"NodeName": "n2", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:4"}]
    sc = scenario(nodes, {"a": {"Nodes": "n1", "Default": True}, "b": {"Nodes": "n2"}},
                  scheduler={"SchedulerType": "sched/builtin"})
    r = run(sc, jobs(
        {"submit": 0, "partition": "a", "gpus": 2, "time_limit": 1000, "runtime": 1000},
        {"submit": 10, "partition": "a", "gpus": 4, "time_limit": 500, "runtime": 500},   # blocks a
        {"submit": 20, "partition": "a", "gpus": 1, "time_limit": 60, "runtime": 60},     # behind it
        {"submit": 30, "partition": "b", "gpus": 1, "time_limit": 60, "runtime": 60},     # other partition
    ))
    assert r["4"]["start"] == 30 and r["4"]["nodes"] == "n2"
    assert r["2"]["start"] == 1000
    assert r["3"]["start"] == 1500           # strict priority order inside partition a
    assert r["3"]["pending"]["Priority"] == 1000 - 20    # behind the blocked top job
    assert r["3"]["pending"]["Resources"] == 500         # top of its partition while B runs


def test_overlapping_partitions_block_shared_nodes_in_the_main_pass():
    nodes = [{"NodeName": "n[1-2]", "CPUs": 64, "RealMemory": 512000, "Gres": "gpu:4"}]
    parts = {"all": {"Nodes": "n[1-2]", "Default": True}, "small": {"Nodes": "n2"}}
    rows = (
        {"submit": 0, "partition": "small", "gpus": 1, "time_limit": 1000, "runtime": 1000},  # on n2
        {"submit": 10, "partition": "all", "nodes": 2, "gpus": 8, "exclusive": True,
         "time_limit": 500, "runtime": 500},                                                # needs both
        {"submit": 20, "partition": "small", "gpus": 1, "time_limit": 100, "runtime": 100},
    )
    builtin = run(scenario(nodes, parts, scheduler={"SchedulerType": "sched/builtin"}), jobs(*rows))
    assert builtin["2"]["start"] == 1000 and builtin["2"]["nodes"] == "n[1-2]"
    assert builtin["3"]["start"] == 1500     # n2 is withheld: it belongs to the blocked partition "all"
    backfill = run(scenario(nodes, parts), jobs(*rows))
    assert backfill["3"]["start"] == 30 and backfill["3"]["by"] == "backfill"   # ends before 1000
    assert backfill["2"]["start"] == 1000


def test_gpu_sharing_packs_a_node_best_fit():
    sc = scenario([{"NodeName": "n[1-2]", **NODE}])
    rows = [{"submit": 0, "gpus": 2, "cpus": 16, "time_limit": 600, "runtime": 600} for _ in range(5)]
    r = run(sc, jobs(*rows))
    assert [r[str(k)]["nodes"] for k in range(1, 6)] == ["n1", "n1", "n1", "n1", "n2"]
    assert all(r[str(k)]["start"] == 0 for k in range(1, 6))


def test_best_fit_prefers_the_fullest_node_within_the_lowest_weight():
    nodes = [{"NodeName": "n1", **NODE, "Weight": 1}, {"NodeName": "n2", **NODE, "Weight": 1},
             {"NodeName": "n3", **NODE, "Weight": 5}]
    r = run(scenario(nodes), jobs(
        {"submit": 0, "nodes": 1, "gpus": 8, "cpus": 8, "time_limit": 900, "runtime": 900, "job_id": "fill1"},
        {"submit": 0, "gpus": 1, "cpus": 8, "time_limit": 9000, "runtime": 9000, "job_id": "x"},
        {"submit": 1000, "gpus": 1, "cpus": 8, "time_limit": 600, "runtime": 600, "job_id": "y"},
    ))
    assert r["fill1"]["nodes"] == "n1" and r["x"]["nodes"] == "n2"
    assert r["y"]["nodes"] == "n2"          # n1 (empty again) and n2 fit; n2 has fewer free CPUs


def test_exclusive_job_takes_whole_nodes_and_waits_for_an_idle_one():
    sc = scenario([{"NodeName": "n1", **NODE}])
    r = run(sc, jobs(
        {"submit": 0, "gpus": 1, "time_limit": 600, "runtime": 600},
        {"submit": 5, "gpus": 1, "exclusive": True, "time_limit": 600, "runtime": 600},
    ))
    assert r["2"]["start"] == 600 and r["2"]["alloc_gpus"] == 8


def test_oversubscribe_exclusive_partition_gives_whole_nodes():
    sc = scenario([{"NodeName": "n[1-2]", **NODE}],
                  {"whole": {"Nodes": "ALL", "Default": True, "OverSubscribe": "EXCLUSIVE"}})
    r = run(sc, jobs({"submit": 0, "gpus": 1}, {"submit": 0, "gpus": 1}, {"submit": 0, "gpus": 1}))
    assert (r["1"]["nodes"], r["2"]["nodes"]) == ("n1", "n2")
    assert r["1"]["alloc_gpus"] == 8
    assert r["3"]["start"] == 1800


def test_multi_partition_job_runs_in_the_first_partition_where_it_can_start():
    nodes = [{"NodeName": "n1", **NODE}, {"NodeName": "n2", **NODE}]
    parts = {"a": {"Nodes": "n1", "Default": True}, "b": {"Nodes": "n2"}}
    r = run(scenario(nodes, parts), jobs(
        {"submit": 0, "partition": "a", "gpus": 8, "time_limit": 600, "runtime": 600},
        {"submit": 10, "partition": "a,b", "gpus": 4},
        {"submit": 20, "partition": "b,a", "gpus": 4},
        {"submit": 700, "partition": "a,b", "gpus": 1},
    ))
    assert (r["2"]["part"], r["2"]["nodes"], r["2"]["start"]) == ("b", "n2", 10)
    assert (r["3"]["part"], r["3"]["start"]) == ("b", 20)
    assert (r["4"]["part"], r["4"]["start"]) == ("a", 700)


def test_time_limit_kills_at_the_next_periodic_check():
    sc = scenario([{"NodeName": "n1", **NODE}])
    r = run(sc, jobs(
        {"submit": 0, "time_limit": 600, "runtime": 1000},
        {"submit": 7, "time_limit": 600, "runtime": 1000},
        {"submit": 0, "time_limit": 600, "runtime": 600},
    ))
    assert (r["1"]["end"], r["1"]["state"]) == (600, "TIMEOUT")
    assert (r["2"]["end"], r["2"]["state"]) == (630, "TIMEOUT")     # limit at 607, checked at 630
    assert (r["3"]["end"], r["3"]["state"]) == (600, "COMPLETED")
    over = run(scenario([{"NodeName": "n1", **NODE}], scheduler={"OverTimeLimit": 1}),
               jobs({"submit": 0, "time_limit": 600, "runtime": 1000}, {"submit": 0, "time_limit": 600, "runtime": 620}))
    assert (over["1"]["end"], over["1"]["state"]) == (660, "TIMEOUT")
    assert (over["2"]["end"], over["2"]["state"]) == (620, "COMPLETED")


def test_dependencies_afterok_afterany_and_never_satisfied():
    sc = scenario([{"NodeName": "n1", **NODE}])
    r = run(sc, jobs(
        {"job_id": "A", "submit": 0, "time_limit": 600, "runtime": 300},
        {"job_id": "B", "submit": 0, "dependency": "afterok:A"},
        {"job_id": "T", "submit": 0, "time_limit": 600, "runtime": 900},            # times out at 600
        {"job_id": "C", "submit": 0, "dependency": "afterok:T"},
        {"job_id": "D", "submit": 0, "dependency": "afterany:T,afterok:A"},
    ))
    assert r["B"]["start"] == 300
    assert r["C"]["start"] is None and r["C"]["reason"] == "DependencyNeverSatisfied"
    assert r["D"]["start"] == 600
    assert r["B"]["pending"]["Dependency"] == 300


def test_singleton_runs_one_job_per_user_and_name_at_a_time():
    sc = scenario([{"NodeName": "n1", **NODE}])
    r = run(sc, jobs(
        {"submit": 0, "name": "chain", "dependency": "singleton", "runtime": 100},
        {"submit": 1, "name": "chain", "dependency": "singleton", "runtime": 100},
        {"submit": 2, "name": "chain", "dependency": "singleton", "runtime": 100},
        {"submit": 3, "name": "chain", "dependency": "singleton", "runtime": 100, "user": "u2"},
    ))
    assert [r[k]["start"] for k in "1234"] == [0, 100, 200, 3]


def test_qos_max_tres_per_user_gpu_limit():
    sc = scenario([{"NodeName": "n1", **NODE}], qos={"normal": {"MaxTRESPerUser": "gres/gpu=2"}})
    r = run(sc, jobs(
        {"submit": 0, "time_limit": 600, "runtime": 600},
        {"submit": 0, "time_limit": 900, "runtime": 900},
        {"submit": 0, "time_limit": 60, "runtime": 60},        # third GPU of u1: held by the limit
        {"submit": 10, "user": "u2", "gpus": 2},
        {"submit": 10, "user": "u3", "gpus": 3},              # alone over the limit: never starts
    ))
    assert r["3"]["start"] == 600 and r["3"]["pending"]["QOSMaxGRESPerUser"] == 600
    assert r["4"]["start"] == 10
    assert r["5"]["start"] is None and r["5"]["reason"] == "QOSMaxGRESPerUser"


def test_qos_max_cpu_per_user_limit():
    sc = scenario([{"NodeName": "n1", **NODE}], qos={"normal": {"MaxTRESPerUser": "cpu=16"}})
    r = run(sc, jobs({"submit": 0, "cpus": 16, "runtime": 500}, {"submit": 0, "cpus": 8, "gpus": 0}))
    assert r["2"]["start"] == 500 and r["2"]["pending"]["QOSMaxCpuPerUserLimit"] == 500


def test_limit_blocked_job_gets_no_reservation():
    """u1's second job is held by its QOS, so no node is reserved for it and u2's long job runs."""
    rows = (
        {"submit": 0, "gpus": 6, "time_limit": 3000, "runtime": 3000},
        {"submit": 10, "gpus": 4, "time_limit": 600, "runtime": 600},
        {"submit": 20, "user": "u2", "gpus": 2, "time_limit": 7200, "runtime": 7200},
    )
    limited = run(scenario([{"NodeName": "n1", **NODE}], qos={"normal": {"MaxTRESPerUser": "gres/gpu=8"}}),
                  jobs(*rows))
    assert limited["3"]["start"] == 20 and limited["2"]["start"] == 3000
    free = run(scenario([{"NodeName": "n1", **NODE}]), jobs(*rows))
    assert free["2"]["start"] == 3000 and free["3"]["start"] == 3000   # held back by the reservation


def test_partition_limits_pend_or_reject():
    parts = {"gpu": {"Nodes": "ALL", "Default": True, "MaxTime": "1:00:00", "MaxNodes": 1}}
    rows = ({"submit": 0, "time_limit": 7200}, {"submit": 0, "nodes": 2, "gpus": 2}, {"submit": 0})
    r = run(scenario(partitions=parts), jobs(*rows))
    assert r["1"]["start"] is None and r["1"]["reason"] == "PartitionTimeLimit"
    assert r["2"]["start"] is None and r["2"]["reason"] == "PartitionNodeLimit"
    assert r["3"]["start"] == 0
    strict = run(scenario(partitions=parts, scheduler={"EnforcePartLimits": "ALL"}), jobs(*rows))
    assert strict["1"]["state"] == "REJECTED" and strict["2"]["state"] == "REJECTED"


def test_default_time_and_allow_accounts():
    parts = {"gpu": {"Nodes": "n1", "Default": True, "DefaultTime": "10:00"},
             "priv": {"Nodes": "n2", "AllowAccounts": "lab"}}
    r = run(scenario(partitions=parts), jobs(
        {"submit": 0, "time_limit": 0, "runtime": 5000},
        {"submit": 0, "partition": "priv", "account": "other"},
        {"submit": 0, "partition": "priv", "account": "lab"},
    ))
    assert (r["1"]["end"], r["1"]["state"]) == (600, "TIMEOUT")
    assert r["2"]["state"] == "REJECTED"
    assert r["3"]["start"] == 0
