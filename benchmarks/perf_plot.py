"""Figures for docs/performance.md from run_all's results.jsonl, as plain SVG (no plotting deps).

    python benchmarks/perf_plot.py /tmp/trilemma-bench/*/results.jsonl

Writes docs/figures/perf_jobs.svg (CPU seconds vs jobs, log-log, both cases) and, when the
--scaling rows exist, perf_nodes.svg (CPU seconds per 1k jobs vs cluster size) and perf_queue.svg
(CPU seconds per 1k jobs vs mean queue length, varied through the offered load).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

FIGURES = Path(__file__).resolve().parents[1] / "docs" / "figures"
COLORS = {"fifo": "#1f77b4", "policy": "#d62728", "accasim-easy": "#2ca02c"}
LABELS = {"fifo": "simcore FIFO + backfill", "policy": "simcore full policy", "accasim-easy": "AccaSim 1.1.3 EASY"}


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        return [10.0 ** k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    step = 10 ** math.floor(math.log10(max(hi - lo, 1e-9)))
    if (hi - lo) / step < 4:
        step /= 2
    return [step * k for k in range(math.floor(lo / step), math.ceil(hi / step) + 1)]


def chart(title: str, xlabel: str, ylabel: str, series: dict[str, list[tuple[float, float]]],
          logx: bool = True, logy: bool = True, w: int = 560, h: int = 380) -> str:
    """A line chart with markers; one series per key of `series` (colours by case name)."""
    pts = [p for s in series.values() for p in s]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    xt = _ticks(min(xs), max(xs), logx)
    yt = _ticks(min(ys), max(ys), logy)
    fx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    fy = (lambda v: math.log10(v)) if logy else (lambda v: v)
    x0, x1, y0, y1 = fx(xt[0]), fx(xt[-1]), fy(yt[0]), fy(yt[-1])
    L, R, T, B = 70, w - 20, 40, h - 50

    def px(v: float) -> float:
        return L + (fx(v) - x0) / ((x1 - x0) or 1) * (R - L)

    def py(v: float) -> float:
        return B - (fy(v) - y0) / ((y1 - y0) or 1) * (B - T)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<rect x="{L}" y="{T}" width="{R - L}" height="{B - T}" fill="none" stroke="#999"/>']
    for v in xt:
        out.append(f'<line x1="{px(v):.1f}" y1="{B}" x2="{px(v):.1f}" y2="{T}" stroke="#eee"/>'
                   f'<text x="{px(v):.1f}" y="{B + 16}" text-anchor="middle" font-size="11">{v:g}</text>')
    for v in yt:
        out.append(f'<line x1="{L}" y1="{py(v):.1f}" x2="{R}" y2="{py(v):.1f}" stroke="#eee"/>'
                   f'<text x="{L - 6}" y="{py(v) + 4:.1f}" text-anchor="end" font-size="11">{v:g}</text>')
    out.append(f'<text x="{(L + R) / 2}" y="{h - 12}" text-anchor="middle" font-size="12">{xlabel}</text>')
    out.append(f'<text x="16" y="{(T + B) / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 16 {(T + B) / 2})">{ylabel}</text>')
    for k, (name, s) in enumerate(series.items()):
        color = COLORS.get(name, "#555")
        s = sorted(s)
        path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(s))
        out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}"/>' for x, y in s]
        out.append(f'<text x="{L + 10}" y="{T + 16 + 16 * k}" font-size="12" fill="{color}">'
                   f'{LABELS.get(name, name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main(paths: list[str]) -> None:
    rows = [json.loads(line) for p in paths for line in Path(p).read_text().splitlines() if line.strip()]
    latest: dict[tuple, dict] = {}
    for r in rows:   # the last measurement of each configuration wins
        key = (r["case"], r["jobs"], r.get("nodes", 125), r.get("load", 0.9), r.get("days"), r.get("source"))
        latest[key] = r
    rows = list(latest.values())
    main_rows = [r for r in rows if "scaling" not in r and r.get("nodes", 125) == 125 and r.get("load", 0.9) == 0.9
                 and r["case"] in ("fifo", "policy")
                 and abs(r["days"] - r["jobs"] * 365 / 1e6) < 1e-6]
    by_case: dict[str, list[tuple[float, float]]] = {}
    for r in main_rows:
        by_case.setdefault(r["case"], []).append((r["jobs"], r["sim_cpu_s"]))
    for r in rows:
        if r["case"] == "accasim-easy":
            by_case.setdefault("accasim-easy", []).append((r["jobs"], r["sim_cpu_s"]))
    FIGURES.mkdir(parents=True, exist_ok=True)
    (FIGURES / "perf_jobs.svg").write_text(chart("simulate() CPU seconds vs jobs (1,000 GPUs, 1M jobs/year)",
                                                 "jobs", "CPU seconds", by_case))
    for kind, xkey, xlabel, fname, logx in (("nodes", "nodes", "nodes (x 8 GPUs), 20k jobs, load 0.9", "perf_nodes.svg", True),
                                            ("load", "queue_len_mean", "mean queue length (load 0.7-1.1), 20k jobs",
                                             "perf_queue.svg", False)):
        sel = [r for r in rows if r.get("scaling") == kind or (r["jobs"] == 20_000 and "scaling" in r)]
        sel = [r for r in sel if r.get("scaling") == kind or (kind == "load" and r.get("nodes") == 125)]
        series: dict[str, list[tuple[float, float]]] = {}
        for r in sel:
            series.setdefault(r["case"], []).append((max(r[xkey], 0.1), 1000 * r["sim_cpu_s"] / r["jobs"]))
        if series:
            (FIGURES / fname).write_text(chart(f"CPU seconds per 1k jobs vs {kind}", xlabel,
                                               "CPU s per 1k jobs", series, logx=logx, logy=False))
    print("wrote", ", ".join(sorted(p.name for p in FIGURES.glob("perf_*.svg"))))


if __name__ == "__main__":
    main(sys.argv[1:])
