"""Adaptive batching of runs into Ray tasks (cluster.ray_backend.BatchSizer), without Ray."""

from __future__ import annotations

from cluster.ray_backend import MAX_BATCH, TARGET_TASK_S, BatchSizer


def test_first_tasks_carry_one_run_until_a_run_was_timed():
    assert BatchSizer(workers=2).next_size(remaining=1000) == 1


def test_short_runs_are_batched_to_the_target_task_length():
    sizer = BatchSizer(workers=2)
    sizer.observe(elapsed_s=0.01, items=1)
    assert sizer.next_size(remaining=10_000) == int(TARGET_TASK_S / 0.01)


def test_long_runs_are_never_batched():
    sizer = BatchSizer(workers=2)
    sizer.observe(elapsed_s=30.0, items=1)
    assert sizer.next_size(remaining=10_000) == 1


def test_the_tail_is_split_so_every_worker_gets_work():
    sizer = BatchSizer(workers=4)
    sizer.observe(elapsed_s=0.0001, items=1)
    assert sizer.next_size(remaining=10_000_000) == MAX_BATCH
    assert sizer.next_size(remaining=160) == 10  # 160 runs / (4 batches per worker x 4 workers)
    assert sizer.next_size(remaining=3) == 1


def test_the_estimate_follows_changing_run_times():
    sizer = BatchSizer(workers=1)
    sizer.observe(elapsed_s=0.01, items=1)
    for _ in range(20):
        sizer.observe(elapsed_s=1.0, items=10)  # runs became 10x longer
    assert sizer.next_size(remaining=10_000) == 5
