"""The benchmark suite: simcore (FIFO + backfill, full policy) at 10k/100k(/1M) jobs next to AccaSim.

One command (docs/performance.md):

    python benchmarks/run_all.py                  # 10k and 100k, both cases, AccaSim on 100k
    python benchmarks/run_all.py --with-1m        # adds the 1M-job year (minutes)
    python benchmarks/run_all.py --scaling        # adds cost vs cluster size and vs queue length
    python benchmarks/run_all.py --sizes 1000 --no-accasim   # a smoke run

Every measurement is its own process, so peak RSS (ru_maxrss of that child, from os.wait4) is
per case. Traces are seeded (benchmarks/traces.py); the 100k trace is also written as SWF, and
the FIFO case at that size reads that SWF file through simcore's importer, so simcore and AccaSim
simulate the identical trace (AccaSim's time includes reading it, so the ratio uses simcore's
import + simulate time). On a shared machine CPU seconds are the steadier figure; the load average
is recorded with every row. Results go to --out/results.jsonl; a row's `digest` hashes every
per-job output array, so two code versions can be compared for bit-identical schedules.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SIZES = (10_000, 100_000)
SWF_SIZE = 100_000
SWEEP_JOBS, SWEEP_DAYS = 100_000, 91.0  # "a typical 3-month, 100k-job run"
# The full policy's GrpTRESRunMins caps idle about a tenth of the GPUs and requeues redo work, so at
# the traces' offered load of 0.9 more work arrives than the policy lets through and the queue grows
# all year; at 0.8 it stays bounded, as on a real cluster over a year. --with-1m runs both.
STEADY_LOAD = 0.8


def digest(columns: dict) -> str:
    """sha256 over every per-job output array (name, dtype, bytes; object arrays as text)."""
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(columns):
        arr = np.asarray(columns[name])
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update("\x1f".join(map(str, arr.tolist())).encode() if arr.dtype == object else arr.tobytes())
    return h.hexdigest()[:16]


def child(args: argparse.Namespace) -> None:
    """One measurement in this process; prints one JSON line."""
    import resource

    import numpy as np

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import traces
    from simcore import simulate

    if args.case == "swf":
        traces.write_swf(traces.fifo_jobs(traces.fifo_scenario(args.jobs), args.seed), args.swf)
        return
    t0 = time.perf_counter()
    if args.case == "fifo":
        scenario = traces.fifo_scenario(args.jobs, args.days, args.nodes, args.load)
        if args.swf:
            from simcore.workload.swf import read_swf

            jobs = read_swf(args.swf, traces.SWF_OPTIONS)
        else:
            jobs = traces.fifo_jobs(scenario, args.seed)
    else:
        scenario = traces.policy_scenario(args.jobs, args.days, args.nodes, args.load)
        jobs = traces.policy_jobs(scenario, args.seed)
    load_s = time.perf_counter() - t0
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    result = simulate(scenario, seed=args.seed, jobs=jobs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
    m, cols = result.metrics, result.jobs
    started = np.isfinite(cols["start"].astype(float))
    print(json.dumps({
        "case": args.case, "jobs": len(jobs), "days": scenario.workload.params["days"], "nodes": args.nodes,
        "load": args.load, "source": "swf" if args.swf else "synthetic", "load_s": load_s,
        "sim_wall_s": wall, "sim_cpu_s": cpu,
        "wait_mean_all_s": float(np.mean(cols["wait_s"][started])) if started.any() else float("nan"),
        "queue_len_mean": float(np.mean(result.timeseries["queue_len"])),
        "queue_len_max": float(np.max(result.timeseries["queue_len"])),
        "running_mean": float(np.mean(result.timeseries["running"])),
        "metrics": {k: m[k] for k in ("gpu_util", "wait_mean_h", "wait_p95_h", "backfill_frac", "preempted_frac",
                                      "limit_idle_gpu_h", "jobs_never_started")},
        "digest": digest(cols), "engine": result.engine,
        "self_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def measure(case: str, jobs: int, *, days: float | None = None, nodes: int = 125, load: float = 0.9,
            seed: int = 1, swf: Path | None = None, profile: Path | None = None) -> dict:
    """Run one case in a child process; adds its peak RSS (wait4) and the load average."""
    cmd = [sys.executable, __file__, "--child", case, str(jobs), "--nodes", str(nodes), "--load", str(load),
           "--seed", str(seed)]
    if days:
        cmd += ["--days", str(days)]
    if swf:
        cmd += ["--swf", str(swf)]
    if profile:
        cmd += ["--profile", str(profile)]
    load_avg = os.getloadavg()[0]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} {jobs}: child failed ({proc.returncode}): {err.strip()[-2000:]}")
    row = json.loads(out.strip().splitlines()[-1])
    row.update(peak_rss_mb=usage.ru_maxrss / 1024, loadavg_1m=load_avg, loadavg_end=os.getloadavg()[0],
               utc=time.strftime("%H:%M:%S", time.gmtime()), simcore_rev=simcore_rev())
    return row


def simcore_rev() -> str:
    """The commit the measured simcore came from ("+dirty" if simcore/ had uncommitted edits)."""
    def git(*a: str) -> str:
        r = subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    return rev + ("+dirty" if git("status", "--porcelain", "--", "simcore") else "")


def measure_accasim(swf: Path, nodes: int = 125) -> dict:
    import accasim_bench

    load_avg = os.getloadavg()[0]
    row = accasim_bench.run(swf, nodes)
    row.update(load_s=0.0, loadavg_1m=load_avg, loadavg_end=os.getloadavg()[0],
               utc=time.strftime("%H:%M:%S", time.gmtime()))
    return row


def print_row(row: dict, accasim: dict | None) -> None:
    total = row["load_s"] + row["sim_wall_s"] if row["case"] == "fifo" and row.get("source") == "swf" else row["sim_wall_s"]
    jps = row["jobs"] / row["sim_wall_s"]
    ratio = ""
    if accasim and row.get("source") == "swf":      # only the row on AccaSim's own trace compares
        ratio = f"{(row['jobs'] / total) / (accasim['jobs'] / accasim['sim_wall_s']):.1f}x"
    wait = row["wait_mean_all_s"] / 3600
    case = row["case"] if row.get("load", 0.9) == 0.9 or "scaling" in row else f"{row['case']}@{row['load']:g}"
    print(f"{case:<13} {row['jobs']:>9,} {row['sim_wall_s']:>8.1f} {row['sim_cpu_s']:>7.1f} {jps:>8,.0f} "
          f"{row['jobs'] / max(row['sim_cpu_s'], 1e-9):>9,.0f} {row['peak_rss_mb']:>7,.0f} {ratio:>7} {wait:>8.3f} "
          f"{row['loadavg_1m']:>5.1f} {row.get('engine', ''):>8} {row.get('queue_len_max', float('nan')):>9,.0f}",
          flush=True)


HEADER = (f"{'case':<13} {'jobs':>9} {'wall_s':>8} {'cpu_s':>7} {'jobs/s':>8} {'jobs/cpu_s':>9} {'rss_MB':>7} "
          f"{'vs_acca':>7} {'wait_h':>8} {'load':>5} {'engine':>8} {'queue_max':>9}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", nargs=2, metavar=("CASE", "JOBS"), help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated job counts")
    ap.add_argument("--with-1m", action="store_true", help="add the 1M-job, one-year case")
    ap.add_argument("--cases", default="fifo,policy")
    ap.add_argument("--no-accasim", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="runs per hour of a 3-month 100k-job full-policy run")
    ap.add_argument("--scaling", action="store_true", help="cost vs cluster size and vs queue length (load)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/trilemma-bench"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--days", type=float, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--nodes", type=int, default=125, help=argparse.SUPPRESS)
    ap.add_argument("--load", type=float, default=0.9, help=argparse.SUPPRESS)
    ap.add_argument("--swf", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--profile", type=Path, default=None, help="(child) write cProfile stats here")
    args = ap.parse_args()
    if args.child:
        args.case, args.jobs = args.child[0], int(args.child[1])
        child(args)
        return

    args.out.mkdir(parents=True, exist_ok=True)
    log = (args.out / "results.jsonl").open("a")
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.with_1m else [])
    cases = args.cases.split(",")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}; load average {os.getloadavg()}")
    print("wall_s/cpu_s: simulate() only; jobs/s per wall second; vs_acca: jobs/s over AccaSim's on the same "
          "SWF trace (simcore's SWF import included); wait_h: mean wait of all started jobs; load: 1-min load avg; "
          "queue_max: most jobs pending at a time-series step; policy@0.8: offered load 0.8 instead of 0.9")

    def record(row: dict) -> dict:
        log.write(json.dumps(row) + "\n")
        log.flush()
        return row

    swf = None
    if SWF_SIZE in sizes and "fifo" in cases:
        swf = args.out / f"trace-{SWF_SIZE}-seed{args.seed}.swf"
        # In a child: Linux carries the parent's peak RSS into a forked child's ru_maxrss, so the
        # parent stays small (no numpy, no job tables) to keep every child's figure its own.
        subprocess.run([sys.executable, __file__, "--child", "swf", str(SWF_SIZE), "--swf", str(swf),
                        "--seed", str(args.seed)], check=True)
    accasim = None
    if swf and not args.no_accasim:
        accasim = record(measure_accasim(swf))
    print(HEADER)
    if accasim:
        print_row(accasim, None)
    for n in sizes:
        for case in cases:
            row = measure(case, n, seed=args.seed, swf=swf if (case == "fifo" and n == SWF_SIZE) else None)
            print_row(record(row), accasim)
        if n == 1_000_000 and "policy" in cases:
            print_row(record(measure("policy", n, load=STEADY_LOAD, seed=args.seed)), None)
    if args.sweep:
        row = record(measure("policy", SWEEP_JOBS, days=SWEEP_DAYS, seed=args.seed))
        print_row(row, None)
        per_run = row["sim_wall_s"]
        print(f"sweep throughput (3-month, 100k-job full-policy run): {per_run:.1f} s wall, {row['sim_cpu_s']:.1f} s CPU "
              f"per run -> {3600 / row['sim_cpu_s']:.0f} runs/hour per core, {2 * 3600 / row['sim_cpu_s']:.0f} "
              f"runs/hour on 2 workers (computed from CPU time x 2 workers; load {row['loadavg_1m']:.1f})")
    if args.scaling:
        print("scaling: 20k jobs, full policy and FIFO; cluster size (nodes x 8 GPUs) at load 0.9, then load "
              "(queue length) at 125 nodes")
        for nodes in (32, 63, 125, 250, 500):
            for case in cases:
                print_row(record(measure(case, 20_000, nodes=nodes, seed=args.seed) | {"scaling": "nodes"}), None)
        for load in (0.7, 0.8, 1.0, 1.1):
            for case in cases:
                print_row(record(measure(case, 20_000, load=load, seed=args.seed) | {"scaling": "load"}), None)
    print(f"results appended to {args.out / 'results.jsonl'}")


if __name__ == "__main__":
    main()
