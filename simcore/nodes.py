"""Per-node resource state and node choice (select/cons_tres-like), as flat Python lists.

Why lists, not objects: the schedulers test thousands of (job, node) pairs per simulated hour;
indexing parallel lists is the cheapest thing CPython does. Node choice (docs/simulator.md):
among the candidate nodes that fit, the lowest Weight first; within it, the fewest free CPUs
(best fit, as observed on Slurm 22.05); ties by node order in the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simcore.config import Scenario


class Nodes:
    """Capacity and free CPUs / memory (MB) / GPUs of every node, plus its running jobs."""

    def __init__(self, scenario: "Scenario") -> None:
        self.names: list[str] = []
        self.cpus: list[int] = []
        self.mem: list[int] = []
        self.gpus: list[int] = []
        self.gtype: list[str] = []
        self.weight: list[int] = []
        self.features: list[tuple[str, ...]] = []
        for spec in scenario.nodes:
            for name in spec.names:
                self.names.append(name)
                self.cpus.append(spec.cpus)
                self.mem.append(spec.real_memory)
                self.gpus.append(spec.gpus)
                self.gtype.append(spec.gpu_type)
                self.weight.append(spec.weight)
                self.features.append(spec.features)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.free_cpu = list(self.cpus)
        self.free_mem = list(self.mem)
        self.free_gpu = list(self.gpus)
        self.running: list[set[int]] = [set() for _ in self.names]
        self.total_gpus = sum(self.gpus)
        self.total_cpus = sum(self.cpus)

    def order(self, members: list[int]) -> list[int]:
        """Candidate order: Weight, then configuration order."""
        return sorted(members, key=lambda i: (self.weight[i], i))

    def fits(self, i: int, c: int, m: int, g: int, gt: str, excl: bool) -> bool:
        """Whether node i has the free resources now for a per-node share (c CPUs, m MB, g GPUs)."""
        if gt and self.gtype[i] != gt:
            return False
        if excl:
            return (not self.running[i] and self.cpus[i] >= c and self.mem[i] >= m and self.gpus[i] >= g)
        return self.free_cpu[i] >= c and self.free_mem[i] >= m and self.free_gpu[i] >= g

    def could_ever_fit(self, i: int, c: int, m: int, g: int, gt: str) -> bool:
        """Whether an empty node i can hold the per-node share at all."""
        return (not gt or self.gtype[i] == gt) and self.cpus[i] >= c and self.mem[i] >= m and self.gpus[i] >= g

    def select(self, cands: list[int], n: int, c: int, m: int, g: int, gt: str, excl: bool) -> list[int] | None:
        """n nodes from `cands` (already in Weight order) by the node-choice rule, or None."""
        fc, fm, fg, gtype, running, weight = (self.free_cpu, self.free_mem, self.free_gpu, self.gtype,
                                              self.running, self.weight)
        if n == 1:
            best = -1
            best_key = None
            level = None
            for i in cands:
                if level is not None and weight[i] != level:
                    break
                if gt and gtype[i] != gt:
                    continue
                if excl:
                    if running[i] or self.cpus[i] < c or self.mem[i] < m or self.gpus[i] < g:
                        continue
                elif fc[i] < c or fm[i] < m or fg[i] < g:
                    continue
                if best_key is None or fc[i] < best_key:
                    best, best_key, level = i, fc[i], weight[i]
            return None if best < 0 else [best]
        if excl:
            feasible = [i for i in cands if self.fits(i, c, m, g, gt, excl)]
        elif gt:
            feasible = [i for i in cands if gtype[i] == gt and fc[i] >= c and fm[i] >= m and fg[i] >= g]
        else:
            feasible = [i for i in cands if fc[i] >= c and fm[i] >= m and fg[i] >= g]
        if len(feasible) < n:
            return None
        feasible.sort(key=lambda i: (weight[i], fc[i], i))
        return feasible[:n]

    def allocate(self, j: int, chosen: list[int], c: int, m: int, g: int, excl: bool) -> tuple[int, int]:
        """Take resources on `chosen`; returns (CPUs, GPUs) allocated in total (whole nodes if excl)."""
        cpus = gpus = 0
        for i in chosen:
            if excl:
                cc, mm, gg = self.cpus[i], self.mem[i], self.gpus[i]
            else:
                cc, mm, gg = c, m, g
            self.free_cpu[i] -= cc
            self.free_mem[i] -= mm
            self.free_gpu[i] -= gg
            self.running[i].add(j)
            cpus += cc
            gpus += gg
        return cpus, gpus

    def release(self, j: int, chosen: list[int], c: int, m: int, g: int, excl: bool) -> None:
        for i in chosen:
            if excl:
                cc, mm, gg = self.cpus[i], self.mem[i], self.gpus[i]
            else:
                cc, mm, gg = c, m, g
            self.free_cpu[i] += cc
            self.free_mem[i] += mm
            self.free_gpu[i] += gg
            self.running[i].discard(j)
