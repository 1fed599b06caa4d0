"""simcore: a pure, deterministic, event-driven simulator of a Slurm-scheduled cluster.

No Ray, no file writes, no global state: the same scenario and seed give identical output.
"""
