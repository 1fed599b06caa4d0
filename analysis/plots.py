"""Plotly figures of the report: trade-off scatters, knob effects, front drill-down.

Values are shown in their display unit (analysis.labels: fractions as %), knob values in
words (analysis.units.humanize). Figures carry no layout that needs the network (no map
tiles, no MathJax, no web fonts).
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from analysis.drilldown import RunDetail
from analysis.labels import DIRECTION_WORDS, label, metric_label
from analysis.units import humanize, sort_key

FRONT = "#2563eb"
KNEE = "#f59e0b"
OTHER = "#b6bdc9"
FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=12, color="#1f2937")


def _layout(fig: go.Figure, height: int, title: str = "") -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=60, r=20, t=50 if title else 20, b=50),
        title=dict(text=title, x=0.01, font=dict(size=14)) if title else None,
        font=FONT,
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
    )
    fig.update_xaxes(gridcolor="#eef0f3", zeroline=False, linecolor="#9aa3af", showline=True)
    fig.update_yaxes(gridcolor="#eef0f3", zeroline=False, linecolor="#9aa3af", showline=True)
    return fig


def _scaled(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame[name].cast(pl.Float64).to_numpy() * metric_label(name).scale


def _hover(frame: pl.DataFrame, knobs: tuple[str, ...], objectives: list[str]) -> list[str]:
    lines = []
    for row in frame.iter_rows(named=True):
        parts = [f"<b>{k}</b>: {humanize(row[k])}" for k in knobs]
        for o in objectives:
            value = row[o] * metric_label(o).scale
            ci = row.get(f"{o}_ci95")
            spread = "" if ci is None or math.isnan(ci) else f" ± {ci * metric_label(o).scale:.3g}"
            parts.append(f"{label(o)}: {value:.3g}{spread}")
        flags = [f"front {row['rank']}"]
        if row.get("knee"):
            flags.append("knee")
        if row.get("robust"):
            flags.append("robust")
        parts.append(", ".join(flags))
        lines.append("<br>".join(parts))
    return lines


def front_scatter(cells: pl.DataFrame, x: str, y: str, objectives: dict[str, str], knobs: tuple[str, ...]) -> go.Figure:
    """One pair of objectives: every cell in grey, front 1 in colour with 95% CI bars."""
    names = list(objectives)
    fig = go.Figure()
    rest = cells.filter(pl.col("rank") > 1)
    if rest.height:
        fig.add_trace(go.Scatter(
            x=_scaled(rest, x), y=_scaled(rest, y), mode="markers", name="dominated",
            marker=dict(color=OTHER, size=8), hovertext=_hover(rest, knobs, names), hoverinfo="text",
        ))
    front = cells.filter(pl.col("rank") == 1)
    error = {}
    for axis, name in (("error_x", x), ("error_y", y)):
        if f"{name}_ci95" in front.columns:
            error[axis] = dict(type="data", array=np.nan_to_num(_scaled(front, f"{name}_ci95")), color="#93c5fd", thickness=1.2)
    fig.add_trace(go.Scatter(
        x=_scaled(front, x), y=_scaled(front, y), mode="markers", name="front (not dominated)",
        marker=dict(color=FRONT, size=11, line=dict(color="#ffffff", width=1)),
        hovertext=_hover(front, knobs, names), hoverinfo="text", **error,
    ))
    knee = front.filter(pl.col("knee"))
    if knee.height:
        fig.add_trace(go.Scatter(
            x=_scaled(knee, x), y=_scaled(knee, y), mode="markers", name="knee",
            marker=dict(color=KNEE, size=18, symbol="star", line=dict(color="#92400e", width=1)),
            hovertext=_hover(knee, knobs, names), hoverinfo="text",
        ))
    fig.update_xaxes(title_text=f"{label(x)}, {DIRECTION_WORDS[objectives[x]]}")
    fig.update_yaxes(title_text=f"{label(y)}<br>{DIRECTION_WORDS[objectives[y]]}")
    _layout(fig, 450)
    fig.update_layout(margin=dict(b=95))
    return fig


def knob_effects(runs: pl.DataFrame, knob: str, objectives: list[str]) -> go.Figure:
    """How one knob moves each objective: mean over all ok runs with that value, 95% CI."""
    values = sorted(runs[knob].unique().to_list(), key=sort_key)
    fig = make_subplots(rows=1, cols=len(objectives), subplot_titles=[label(o) for o in objectives],
                        horizontal_spacing=0.08)
    for col, name in enumerate(objectives, start=1):
        means, halves = [], []
        for value in values:
            series = runs.filter(pl.col(knob) == value)[name].cast(pl.Float64)
            series = series.filter(series.is_not_null() & series.is_not_nan()).to_numpy()
            scale = metric_label(name).scale
            means.append(float(series.mean()) * scale if series.size else None)
            if series.size > 1:
                from analysis.db import t975

                halves.append(t975(series.size - 1) * float(series.std(ddof=1)) / math.sqrt(series.size) * scale)
            else:
                halves.append(0.0)
        fig.add_trace(go.Scatter(
            x=[humanize(v) for v in values], y=means, mode="lines+markers", showlegend=False,
            line=dict(color=FRONT, width=2), marker=dict(size=8),
            error_y=dict(type="data", array=halves, color="#93c5fd", thickness=1.5),
            hovertemplate=f"{knob} = %{{x}}<br>{label(name)}: %{{y:.3g}} ± %{{error_y.array:.2g}}<extra></extra>",
        ), row=1, col=col)
        fig.update_xaxes(type="category", row=1, col=col)
    fig.update_annotations(font_size=12)
    return _layout(fig, 300, title=f"{knob}")


def drilldown(detail: RunDetail, title: str) -> go.Figure:
    """Waits by job class, GPUs in use and queue over time, and pending reasons of one run."""
    fig = make_subplots(
        rows=1, cols=3, column_widths=[0.32, 0.40, 0.28], horizontal_spacing=0.09,
        specs=[[{}, {"secondary_y": True}, {}]],
        subplot_titles=["Wait by job class (hours)", "GPUs in use and queue length", "Time pending, by reason (job-hours)"],
    )
    if detail.waits_h:
        for name, waits in detail.waits_h.items():
            # A log axis cannot show 0: waits under a minute are drawn at one minute.
            fig.add_trace(go.Box(y=np.maximum(waits, 1 / 60), name=name, boxpoints=False, marker_color=FRONT if name != "all" else "#6b7280",
                                 showlegend=False), row=1, col=1)
        fig.update_yaxes(type="log", title_text="hours (log)", row=1, col=1)
    if detail.timeline is not None:
        t = detail.timeline["t_h"].to_numpy() / 24.0
        if "gpus_alloc" in detail.timeline.columns:
            fig.add_trace(go.Scatter(x=t, y=detail.timeline["gpus_alloc"].to_numpy(), name="GPUs in use",
                                     line=dict(color=FRONT, width=1.5)), row=1, col=2)
        if "queue_len" in detail.timeline.columns:
            fig.add_trace(go.Scatter(x=t, y=detail.timeline["queue_len"].to_numpy(), name="jobs waiting",
                                     line=dict(color=KNEE, width=1.5)), row=1, col=2, secondary_y=True)
        fig.update_xaxes(title_text="day", row=1, col=2)
        fig.update_yaxes(title_text="GPUs", rangemode="tozero", row=1, col=2)
        fig.update_yaxes(title_text="jobs waiting", rangemode="tozero", tickformat="d", row=1, col=2,
                         secondary_y=True, showgrid=False)
    if detail.pending_h:
        reasons = list(detail.pending_h)[:8][::-1]
        fig.add_trace(go.Bar(x=[detail.pending_h[r] for r in reasons], y=reasons, orientation="h",
                             text=reasons, textposition="auto", textangle=0, insidetextanchor="start",
                             marker_color="#64748b", showlegend=False,
                             hovertemplate="%{y}: %{x:.3g} job-hours<extra></extra>"), row=1, col=3)
        fig.update_yaxes(showticklabels=False, row=1, col=3)
        fig.update_xaxes(title_text="job-hours", row=1, col=3)
    fig.update_annotations(font_size=12)
    _layout(fig, 360, title=title)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.22, x=0.36), margin=dict(t=60, b=80),
                      uniformtext=dict(minsize=10, mode="show"))
    return fig
