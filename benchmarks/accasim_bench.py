"""AccaSim 1.1.3 (EASY backfill) on an SWF trace, in its own virtualenv: the speed reference.

AccaSim is never a project dependency: `ensure_venv()` creates /tmp/accasim-venv and installs
accasim==1.1.3 there; `run()` starts that venv's Python on this file (`--child`), which aliases
collections.Mapping & co. to collections.abc (AccaSim imports them from `collections`, removed in
Python 3.10) and runs the simulation. Only the standard library is imported at module level,
because the child runs without simcore.

The system matches benchmarks/traces.py: NODES nodes of one group {gpu: 8, core: 64}; one SWF
processor = one GPU + 8 cores (AccaSim's "equivalence"). Differences to keep in mind when reading
the waits: AccaSim places each processor unit on any node (a 16-GPU job may spread over 16 nodes,
simcore takes 2 whole 8-GPU nodes), it does not enforce time limits (the trace has every runtime
within its limit), its EASY backfill keeps one reservation for the first blocked job and backfills
greedily in queue order any job that ends before that reservation, and it has no bf_interval,
bf_max_job_test or bf_window: it schedules at every event.

    python benchmarks/accasim_bench.py TRACE.swf [--nodes 125]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV = Path(os.environ.get("ACCASIM_VENV", "/tmp/accasim-venv"))
VERSION = "1.1.3"


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv(quiet: bool = True) -> Path:
    """Create the AccaSim virtualenv on first use; return its interpreter."""
    py = venv_python()
    probe = [str(py), "-c", f"import importlib.metadata as m; assert m.version('accasim') == '{VERSION}'"]
    if py.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(py), "-m", "pip", "install", f"accasim=={VERSION}"] + (["-q"] if quiet else [])
    subprocess.run(pip, check=True)
    return py


def sys_config(nodes: int, gpus_per_node: int = 8, cpus_per_node: int = 64) -> dict:
    """AccaSim's system configuration: one node group, and one SWF processor = 1 GPU + its cores."""
    return {
        "groups": {"a100": {"gpu": gpus_per_node, "core": cpus_per_node}},
        "resources": {"a100": nodes},
        "equivalence": {"processor": {"gpu": 1, "core": cpus_per_node // gpus_per_node}},
        "start_time": 0,
    }


def run(swf: str | Path, nodes: int) -> dict:
    """Run AccaSim on `swf` in a child process; wall/CPU seconds, peak RSS and the mean wait."""
    py = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="accasim-") as tmp:
        config = Path(tmp) / "sys_config.json"
        config.write_text(json.dumps(sys_config(nodes)))
        proc = subprocess.Popen([str(py), __file__, "--child", str(swf), str(config), tmp],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate()
        # wait4 already reaped by communicate(); the child reports its own peak RSS.
        if proc.returncode != 0:
            raise RuntimeError(f"AccaSim child failed ({proc.returncode}): {err.strip()[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def _child(swf: str, config: str, results: str) -> None:
    import collections
    import collections.abc

    for name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable", "MutableSet", "Set"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    import logging

    from accasim.base.allocator_class import FirstFit
    from accasim.base.scheduler_class import EASYBackfilling
    from accasim.base.simulator_class import Simulator

    logging.disable(logging.CRITICAL)
    dispatcher = EASYBackfilling(FirstFit())
    sim = Simulator(swf, config, dispatcher, RESULTS_FOLDER_PATH=results, scheduling_output=False,
                    statistics_output=False, pprint_output=False, benchmark_output=False, show_statistics=False)
    t0, c0 = time.perf_counter(), time.process_time()
    sim.start_simulation()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    waits = sim.mapper.wtimes
    print(json.dumps({
        "case": "accasim-easy", "jobs": len(waits), "loaded": sim.loaded_jobs, "sim_wall_s": wall, "sim_cpu_s": cpu,
        "wait_mean_all_s": sum(waits) / len(waits) if waits else float("nan"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:5])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("swf")
    ap.add_argument("--nodes", type=int, default=125)
    args = ap.parse_args()
    r = run(args.swf, args.nodes)
    print(f"AccaSim {VERSION} EASY: {r['jobs']} jobs, {r['sim_wall_s']:.1f} s wall, {r['sim_cpu_s']:.1f} s CPU, "
          f"{r['jobs'] / r['sim_wall_s']:.0f} jobs/s, peak RSS {r['peak_rss_mb']:.0f} MB, "
          f"mean wait {r['wait_mean_all_s'] / 3600:.3f} h")


if __name__ == "__main__":
    main()
