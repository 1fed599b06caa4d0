"""simcore: a pure, deterministic, event-driven simulator of a Slurm-scheduled cluster.

No Ray, no file writes, no global state: the same scenario and seed give identical output.
"""

from simcore.config import Scenario
from simcore.jobs import JobTable
from simcore.simulate import SimResult, simulate

# Bumped whenever results for the same input change; part of every run id.
MODEL_VERSION = "sim-3"

__all__ = ["MODEL_VERSION", "JobTable", "Scenario", "SimResult", "simulate"]
