"""Fidelity: golden traces from a real Slurm 22.05 and their replay in simcore (docs/fidelity.md)."""
