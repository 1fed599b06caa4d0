"""The stall guard: a run that has stopped making progress is ended, not simulated for ever.

Why: preemption can livelock under Slurm's own rules. A preemptor frees nodes, a job ahead of it
in priority order (held until then by a limit such as MaxJobsPerAccount) takes them, the preemptor
preempts that one once its PreemptExemptTime is over, the first victim (requeued, eligible again)
takes the nodes, and so on; without checkpoints neither victim ever finishes. slurmctld would
thrash like this until an administrator stepped in; a simulation has to end and say so.

Progress is a submission or a job finishing (completing, timing out, cancelled by preemption).
After the last submission, a run that makes no progress for longer than the unfinished jobs could
take one after another, each given its runtime plus every delay the scheduler can add to it (the
requeue hold, GraceTime, PreemptExemptTime, OverTimeLimit, the time-limit check and two of each
scheduling period), is in no schedule that terminates: it is stopped there and marked stalled.
Jobs still running then end at the stop time with state RUNNING; pending ones stay PENDING.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from simcore.preempt import REQUEUE_HOLD_S

if TYPE_CHECKING:
    from simcore.engine import Engine


def job_bounds(e: "Engine") -> np.ndarray:
    """Per job: the longest it can take, once started, to finish when nothing else intervenes."""
    from simcore.engine import TIMEOUT_CHECK

    sp, pol = e.sp, e.preempt.policy
    grace = max(int(pol.part_grace.max(initial=0)), int(pol.grace.max(initial=0)))
    periods = sp.sched_interval + (sp.bf_interval if sp.backfill else 0) + e.limits.period + e.priority.period
    slack = (REQUEUE_HOLD_S + grace + int(sp.preempt_exempt_time) + int(sp.over_time_limit)
             + TIMEOUT_CHECK + 2 * periods)
    return e.jobs["runtime"].astype(np.int64) + slack


class StallGuard:
    """`progress(t)` at each submission or finish; `stalled(t, ...)` before handling time t."""

    def __init__(self, bounds: np.ndarray) -> None:
        self.bounds = bounds
        self.longest = int(bounds.max(initial=0))
        self.last = 0                   # time of the last progress
        self.check_at = self.longest    # no stop before this time (a cheap lower bound)

    def progress(self, t: int) -> None:
        self.last = t
        self.check_at = t + self.longest

    def stalled(self, t: int, all_submitted: bool, unfinished: Callable[[], np.ndarray]) -> bool:
        """Whether the run must stop at t. The exact bound sums the unfinished jobs' bounds: that
        walk happens only once the cheap bound (the single longest job) is exceeded."""
        if not all_submitted or t <= self.check_at:
            return False
        self.check_at = self.last + int(self.bounds[unfinished()].sum())
        return t > self.check_at
