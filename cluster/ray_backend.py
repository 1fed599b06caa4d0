"""Fan work out over Ray: an embedded local Ray by default, or an existing cluster by address.

The backend knows nothing of what a run computes: it maps `fn(items, *shared) -> list` over
batches of items. Small items are batched adaptively (the first tasks carry one item each; later
batches are sized so a task lasts about `TARGET_TASK_S`, but never so large that the tail leaves
workers idle); at most `2 x workers` tasks are in flight (`ray.wait`), which also bounds driver
memory. Tasks must be idempotent: Ray re-runs a task whose node died (`max_retries`). A batch
that Ray still loses (its worker crashed on every try, e.g. out of memory) is split and its
items re-run one per task, so only the item that kills its worker is reported lost.
Quiet, fast settings follow RAY_NOTES.md.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from simcore.errors import TrilemmaError

TARGET_TASK_S = 0.5
MAX_BATCH = 1000
TASK_RETRIES = 3
OBJECT_STORE_BYTES = 256 * 2**20


class RayConnectError(TrilemmaError):
    """No Ray cluster answers at the given address."""


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, not minutes (ray.init retries a dead address for a long time)."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise RayConnectError(f"--address {address}: no Ray head answers there ({reason}); start "
                              "one with `ray start --head`, or omit --address for an embedded "
                              "Ray") from None


@dataclass(frozen=True)
class RayOptions:
    """Where to run: `address` of an existing cluster (or RAY_ADDRESS), else an embedded Ray
    with `workers` CPUs (default: all of this machine's)."""

    address: str | None = None
    workers: int | None = None


@dataclass(frozen=True)
class BatchOutcome:
    """A finished task: its items and either their results or the Ray error that lost them."""

    items: list[Any]
    results: list[Any] | None
    error: str | None = None


class BatchSizer:
    """Chooses how many items the next task carries from the measured seconds per item."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.seconds_per_item: float | None = None

    def observe(self, elapsed_s: float, items: int) -> None:
        sample = elapsed_s / max(items, 1)
        previous = self.seconds_per_item
        self.seconds_per_item = sample if previous is None else 0.7 * previous + 0.3 * sample

    def next_size(self, remaining: int) -> int:
        if self.seconds_per_item is None:
            return 1
        wanted = int(TARGET_TASK_S / max(self.seconds_per_item, 1e-6))
        tail = math.ceil(remaining / (4 * self.workers))
        return max(1, min(wanted, tail, MAX_BATCH))


def _one_line(exc: BaseException) -> str:
    """A Ray error's type and its last meaningful line (the root cause), without colour codes."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()]
    lines = [line for line in lines if line and not set(line) <= set("^~ ")]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"


def _timed(fn: Callable[..., list[Any]], items: list[Any], *shared: Any
           ) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    results = fn(items, *shared)
    return time.perf_counter() - start, results


class RayBackend:
    """Context manager: starts (or reuses, or connects to) Ray; shuts down only what it started."""

    def __init__(self, options: RayOptions) -> None:
        self.options = options
        self.workers = 0
        self.started = False
        self.where = ""
        self._temp_dir: str | None = None

    def __enter__(self) -> "RayBackend":
        import ray

        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        address = self.options.address or os.environ.get("RAY_ADDRESS")
        if not ray.is_initialized():
            if address:
                check_reachable(address)
                try:
                    ray.init(address=address, log_to_driver=False, logging_level="ERROR")
                except ConnectionError as exc:
                    raise RayConnectError(f"--address {address}: {exc}") from None
                self.where = f"Ray cluster at {address}"
            else:
                self.where = "embedded Ray"
                self._temp_dir = tempfile.mkdtemp(prefix="trl", dir="/tmp")
                ray.init(num_cpus=self.options.workers or os.cpu_count() or 1,
                         include_dashboard=False, log_to_driver=False,
                         object_store_memory=OBJECT_STORE_BYTES, logging_level="ERROR",
                         _temp_dir=self._temp_dir)
            self.started = True
        else:
            self.where = "the Ray already running in this process"
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = max(1, min(self.options.workers or cpus, cpus))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.started:
            import ray

            ray.shutdown()
            if self._temp_dir:
                shutil.rmtree(self._temp_dir, ignore_errors=True)

    @property
    def description(self) -> str:
        return f"{self.workers} worker{'s' if self.workers != 1 else ''} on {self.where}"

    def map(self, fn: Callable[..., list[Any]], items: Sequence[Any], shared: Sequence[Any],
            should_stop: Callable[[], bool], poll_s: float = 0.5) -> Iterator[BatchOutcome]:
        """Yield each finished batch (and an empty one every `poll_s` without any); once
        `should_stop()` is true, submit nothing more, yield what already finished, cancel the rest."""
        import ray

        task = ray.remote(_timed).options(num_cpus=1, max_retries=TASK_RETRIES,
                                          retry_exceptions=False)
        shared_refs = [ray.put(value) for value in shared]
        sizer = BatchSizer(self.workers)
        window = 2 * self.workers
        in_flight: dict[Any, list[Any]] = {}
        singles: list[Any] = []  # items of a lost multi-item batch, re-run one per task
        position = 0
        while position < len(items) or singles or in_flight:
            while not should_stop() and (singles or position < len(items)) \
                    and len(in_flight) < window:
                if singles:
                    batch = [singles.pop()]
                else:
                    size = sizer.next_size(len(items) - position)
                    batch = list(items[position:position + size])
                    position += size
                in_flight[task.remote(fn, batch, *shared_refs)] = batch
            if should_stop():
                if in_flight:
                    done, pending = ray.wait(list(in_flight), num_returns=len(in_flight),
                                             timeout=0)
                    yield from (self._outcome(ref, in_flight.pop(ref), sizer) for ref in done)
                    for ref in pending:
                        ray.cancel(ref)
                return
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=poll_s)
            for ref in done:
                outcome = self._outcome(ref, in_flight.pop(ref), sizer)
                if outcome.error is not None and len(outcome.items) > 1:
                    singles.extend(reversed(outcome.items))  # so only the culprit is lost
                else:
                    yield outcome
            if not done:
                yield BatchOutcome(items=[], results=[])  # heartbeat: the caller may flush

    @staticmethod
    def _outcome(ref: Any, batch: list[Any], sizer: BatchSizer) -> BatchOutcome:
        import ray

        try:
            elapsed, results = ray.get(ref)
        except ray.exceptions.RayError as exc:
            return BatchOutcome(items=batch, results=None, error=_one_line(exc))
        sizer.observe(elapsed, len(batch))
        return BatchOutcome(items=batch, results=results)
