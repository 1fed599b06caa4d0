"""Property tests on random small workloads: invariants every Slurm-like schedule must keep."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simcore import JobTable, Scenario, simulate
from simcore.engine import Engine
from simcore.hostlist import expand_hostlist

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cases(draw, overruns: bool = True, deps: bool = True):
    n_nodes = draw(st.integers(2, 4))
    nodes = [{"NodeName": f"n{i + 1}", "CPUs": draw(st.sampled_from([16, 32, 64])),
              "RealMemory": 64000, "Gres": f"gpu:{draw(st.sampled_from([4, 8]))}",
              "Weight": draw(st.integers(1, 2))} for i in range(n_nodes)]
    parts = {"all": {"Nodes": "ALL", "Default": True}}
    if draw(st.booleans()):
        parts["sub"] = {"Nodes": f"n[1-{draw(st.integers(1, n_nodes))}]",
                        "OverSubscribe": draw(st.sampled_from(["NO", "EXCLUSIVE"]))}
    sched = {"SchedulerType": draw(st.sampled_from(["sched/backfill", "sched/builtin"])),
             "SchedulerParameters": f"bf_interval={draw(st.sampled_from([10, 30]))},"
                                    f"bf_resolution={draw(st.sampled_from([1, 60]))},"
                                    f"default_queue_depth={draw(st.sampled_from([2, 100]))},"
                                    f"bf_max_job_test={draw(st.sampled_from([3, 500]))},"
                                    f"bf_max_job_user={draw(st.sampled_from([0, 2]))}"}
    sc = Scenario.from_dict({"cluster": {"nodes": nodes}, "partitions": parts, "scheduler": sched}, "prop")
    n = draw(st.integers(1, 30))
    rows = []
    for k in range(n):
        limit = draw(st.integers(60, 4000))
        runtime = draw(st.integers(1, 5000)) if overruns else draw(st.integers(1, limit))
        nn = draw(st.sampled_from([1, 1, 1, 2]))
        dep = ""
        if deps and k and draw(st.integers(0, 4)) == 0:
            dep = f"{draw(st.sampled_from(['afterok', 'afterany']))}:{draw(st.integers(1, k))}"
        rows.append({
            "job_id": str(k + 1), "user": f"u{draw(st.integers(1, 3))}",
            "partition": draw(st.sampled_from(["all", "all", "sub", "all,sub"])) if "sub" in parts else "all",
            "submit": draw(st.integers(0, 3000)), "time_limit": limit, "runtime": runtime, "nodes": nn,
            "cpus": nn * draw(st.integers(1, 16)), "mem_mb": draw(st.integers(0, 32000)),
            "gpus": nn * draw(st.integers(0, 4)), "exclusive": draw(st.integers(0, 5)) == 0, "dependency": dep,
        })
    cols = {key: [r[key] for r in rows] for key in rows[0]}
    return sc, JobTable.from_columns(cols, "prop")


def _nodes_of(sc: Scenario) -> dict[str, tuple[int, int, int]]:
    return {name: (spec.cpus, spec.real_memory, spec.gpus) for spec in sc.nodes for name in spec.names}


@SETTINGS
@given(cases())
def test_no_node_is_ever_over_allocated(case):
    sc, jt = case
    res = simulate(sc, jobs=jt)
    cap = _nodes_of(sc)
    cols = res.jobs
    events = []
    for k in np.flatnonzero(~np.isnan(cols["start"])):
        names = expand_hostlist(cols["nodes_alloc"][k], "test")
        nn = len(names)
        assert nn == jt["nodes"][k]
        whole = cols["alloc_cpus"][k] == sum(cap[x][0] for x in names) and (
            jt["exclusive"][k] or cols["partition"][k] in [p.name for p in sc.partitions if p.exclusive])
        for x in names:
            if whole:
                c, m, g = cap[x]
            else:
                c, m, g = cols["alloc_cpus"][k] // nn, jt["mem_mb"][k], cols["alloc_gpus"][k] // nn
            events.append((cols["start"][k], 1, x, c, m, g))
            events.append((cols["end"][k], 0, x, -c, -m, -g))
    used = {x: [0, 0, 0] for x in cap}
    for _, _, x, c, m, g in sorted(events):
        used[x][0] += c
        used[x][1] += m
        used[x][2] += g
        assert used[x][0] <= cap[x][0] and used[x][1] <= cap[x][1] and used[x][2] <= cap[x][2], x


@SETTINGS
@given(cases())
def test_no_start_before_submit_or_before_dependencies(case):
    sc, jt = case
    cols = simulate(sc, jobs=jt).jobs
    index = {jid: k for k, jid in enumerate(cols["job_id"])}
    for k in np.flatnonzero(~np.isnan(cols["start"])):
        assert cols["start"][k] >= jt["submit"][k]
        dep = jt["dependency"][k]
        if dep:
            kind, _, target = dep.partition(":")
            d = index[target]
            assert not np.isnan(cols["end"][d]) and cols["start"][k] >= cols["end"][d]
            if kind == "afterok":
                assert cols["state"][d] == "COMPLETED"


@SETTINGS
@given(cases(overruns=False, deps=False))
def test_top_job_never_starts_later_than_its_reservation(case):
    """Without overruns and without dependencies (a released dependant of higher priority may
    legitimately overtake a reservation, as in Slurm)."""
    sc, jt = case
    engine = Engine(sc, jt)
    engine.run()
    for j, planned in engine.backfill.top_reservation.items():
        assert 0 <= engine.start_t[j] <= planned, (j, engine.start_t[j], planned)


@SETTINGS
@given(cases())
def test_deterministic_and_skipping_unchanged_passes_changes_nothing(case):
    """The Python engine with its skips against itself without them, and against the compiled
    engine wherever that applies (simcore.kernel)."""
    sc, jt = case
    a = simulate(sc, jobs=jt, compiled=False)
    b = simulate(sc, jobs=jt, compiled=False)
    c = simulate(sc, jobs=jt, skip_unchanged_passes=False)
    d = simulate(sc, jobs=jt)
    for other in (b, c, d):
        assert a.jobs.keys() == other.jobs.keys()
        for key, col in a.jobs.items():
            if col.dtype == object:
                assert col.tolist() == other.jobs[key].tolist(), key
            else:
                assert np.array_equal(col, other.jobs[key], equal_nan=True), key
    assert {k: v for k, v in a.metrics.items() if v == v} == {k: v for k, v in b.metrics.items() if v == v}
