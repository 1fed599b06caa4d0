"""Wait until a Ray cluster has N alive nodes, then print what it saw (one `trilemma:` log line).

Why: the sbatch script must not start the sweep driver before every worker node has joined (a
fixed sleep is either too short on a busy cluster or wastes allocation time), and the job log
must record how many nodes Ray actually saw so a run on fewer nodes than requested is visible.

    python -m cluster.ray_wait ADDRESS NODES [--timeout SECONDS] [--watch-pid PID ...]

Exit status 0 once NODES nodes are alive, 1 on timeout or when a watched PID (the srun running
the Ray head) exits first (the message lists what had joined).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def alive_nodes(nodes: list[dict]) -> list[dict]:
    return [n for n in nodes if n.get("Alive")]


def summary(nodes: list[dict]) -> str:
    """`nodes=2 CPU=8 GPU=8 addresses=10.0.0.1:34011,10.0.0.2:34139` for the Slurm log."""
    alive = alive_nodes(nodes)
    cpus = sum(n.get("Resources", {}).get("CPU", 0) for n in alive)
    gpus = sum(n.get("Resources", {}).get("GPU", 0) for n in alive)
    where = ",".join(sorted(f"{n.get('NodeManagerAddress')}:{n.get('NodeManagerPort')}" for n in alive))
    return f"nodes={len(alive)} CPU={cpus:g} GPU={gpus:g} addresses={where}"


def _check_watched(pids: tuple[int, ...]) -> None:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise TimeoutError(f"the Ray head step (pid {pid}) exited; see its error above") from None


def wait_for_nodes(address: str, expected: int, timeout: float, poll: float = 1.0,
                   watch: tuple[int, ...] = ()) -> str:
    """Connect to `address` (retrying while the head starts) and poll `ray.nodes()`.

    `watch`: PIDs (the srun that runs the head) whose exit means waiting longer is pointless.
    """
    import ray

    deadline = time.monotonic() + timeout
    while True:
        _check_watched(watch)
        try:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            break
        except (ConnectionError, RuntimeError) as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Ray head answered at {address} within {timeout:.0f} s: {exc}") from None
            time.sleep(poll)
    try:
        while True:
            nodes = ray.nodes()
            if len(alive_nodes(nodes)) >= expected:
                return summary(nodes)
            _check_watched(watch)
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {summary(nodes)} of {expected} expected nodes joined "
                                   f"the Ray cluster at {address} within {timeout:.0f} s")
            time.sleep(poll)
    finally:
        ray.shutdown()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.ray_wait", description=__doc__.split("\n\n")[0])
    parser.add_argument("address")
    parser.add_argument("nodes", type=int)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--watch-pid", type=int, action="append", default=[],
                        help="stop waiting when this process (the head's srun) has exited")
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        seen = wait_for_nodes(args.address, args.nodes, args.timeout, watch=tuple(args.watch_pid))
    except TimeoutError as exc:
        print(f"trilemma: {_now()} ray cluster incomplete: {exc}", flush=True)
        return 1
    print(f"trilemma: {_now()} ray cluster ready: {seen} expected={args.nodes}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
