"""Speed of the analysis layer: Pareto ranking of many cells, and a report of a results folder.

    python benchmarks/bench_analysis.py [--cells 100000]

Prints cells/s, wall and CPU seconds per objective count (uniform random objectives: the worst
case, with the most fronts), and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import polars as pl

from analysis.pareto import nondominated_ranks, pareto_frame


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--objectives", type=int, nargs="+", default=[2, 3, 4])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for m in args.objectives:
        points = rng.random((args.cells, m))
        start, cpu = time.perf_counter(), time.process_time()
        ranks = nondominated_ranks(points)
        ranks_s, ranks_cpu = time.perf_counter() - start, time.process_time() - cpu
        cells = pl.DataFrame({"cell_id": [str(i) for i in range(args.cells)]}).with_columns(
            [pl.Series(f"o{j}", points[:, j]) for j in range(m)]
            + [pl.Series(f"o{j}_ci95", np.full(args.cells, 0.001)) for j in range(m)]
        )
        start = time.perf_counter()
        result = pareto_frame(cells, {f"o{j}": "min" for j in range(m)})
        full_s = time.perf_counter() - start
        print(
            f"{m} objectives, {args.cells} cells: ranks {ranks_s:.2f} s wall, {ranks_cpu:.2f} s CPU "
            f"({args.cells / ranks_s:,.0f} cells/s), "
            f"{ranks.max()} fronts, front 1 = {int((ranks == 1).sum())} cells; "
            f"with crowding/knee/robust {full_s:.2f} s ({result.front.height} on front)"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
