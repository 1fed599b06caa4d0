"""Names and units a cluster admin reads: the one table of metric labels.

Metric columns keep their contract names (`gpu_util`, `wait_p95_h`; docs/metrics.md) in
SQL; every table and plot meant for people goes through `label()` and `display()` so the
same metric is always called the same thing and fractions are always shown as percent.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class MetricLabel:
    """How one metric is shown: its words, its unit, and the factor from stored to shown."""

    text: str
    unit: str
    scale: float = 1.0

    @property
    def full(self) -> str:
        return f"{self.text} ({self.unit})" if self.unit else self.text


JOB_CLASSES = {
    "debug": "debug",
    "short": "short",
    "long": "long",
    "large": "large",
    "newuser": "new-user",
}

_PERCENT = "%"

METRIC_LABELS: dict[str, MetricLabel] = {
    "gpu_util": MetricLabel("GPU utilisation", _PERCENT, 100.0),
    "cpu_util": MetricLabel("CPU utilisation", _PERCENT, 100.0),
    "wait_mean_h": MetricLabel("Mean wait", "hours"),
    "wait_p50_h": MetricLabel("Median wait", "hours"),
    "wait_p95_h": MetricLabel("p95 wait", "hours"),
    "wait_p99_h": MetricLabel("p99 wait", "hours"),
    "started_15min_frac": MetricLabel("Jobs started within 15 minutes", _PERCENT, 100.0),
    "bounded_slowdown_mean": MetricLabel("Mean bounded slowdown", "x"),
    "backfill_frac": MetricLabel("Jobs started by backfill", _PERCENT, 100.0),
    "jobs_total": MetricLabel("Jobs submitted", "jobs"),
    "jobs_completed": MetricLabel("Jobs completed", "jobs"),
    "jobs_timeout": MetricLabel("Jobs ended by their time limit", "jobs"),
    "jobs_never_started": MetricLabel("Jobs never started", "jobs"),
    "jobs_stalled": MetricLabel("Jobs caught in a livelock", "jobs"),
    "limit_idle_gpu_h": MetricLabel("GPUs idle behind a policy limit", "GPU-hours"),
    "preempted_frac": MetricLabel("Jobs preempted", _PERCENT, 100.0),
    "lost_gpu_h": MetricLabel("Work lost to preemption", "GPU-hours"),
    "jain_index": MetricLabel("Fairness (Jain index, 1 = equal)", ""),
    "top_user_peak_share": MetricLabel("Top user's peak share of GPUs", _PERCENT, 100.0),
    "unmet_demand_gpu_h": MetricLabel("Unmet demand", "GPU-hours"),
    "complexity": MetricLabel("Configuration complexity", "rules"),
    "wall_s": MetricLabel("Simulation wall time", "s"),
}

_PER_CLASS = re.compile(r"^(wait_p\d+_h)_(\w+)$")


def metric_label(name: str) -> MetricLabel:
    """The label of a metric, derived from its unit suffix when it is not in the table."""
    if name in METRIC_LABELS:
        return METRIC_LABELS[name]
    match = _PER_CLASS.match(name)
    if match and match.group(1) in METRIC_LABELS and match.group(2) in JOB_CLASSES:
        base = METRIC_LABELS[match.group(1)]
        return MetricLabel(f"{base.text}, {JOB_CLASSES[match.group(2)]} jobs", base.unit, base.scale)
    words = name.replace("_", " ")
    for suffix, unit, scale in (
        ("_gpu_h", "GPU-hours", 1.0),
        ("_h", "hours", 1.0),
        ("_s", "s", 1.0),
        ("_frac", _PERCENT, 100.0),
        ("_util", _PERCENT, 100.0),
    ):
        if name.endswith(suffix):
            words = name[: -len(suffix)].replace("_", " ")
            return MetricLabel(words[:1].upper() + words[1:], unit, scale)
    return MetricLabel(words[:1].upper() + words[1:], "")


def label(name: str) -> str:
    """'gpu_util' -> 'GPU utilisation (%)'."""
    return metric_label(name).full


def display(name: str, value: float | None) -> float | None:
    """A stored metric value in its shown unit (fractions become percent)."""
    if value is None:
        return None
    return float(value) * metric_label(name).scale


def format_value(name: str, value: float | None, ci: float | None = None) -> str:
    """'71.3' or '71.3 ± 1.2' in the metric's shown unit; 'n/a' for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    shown = display(name, value)
    text = _short(shown)
    if ci is not None and not (isinstance(ci, float) and math.isnan(ci)):
        text += f" ± {_short(display(name, ci))}"
    return text


def _short(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 1000 else f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


DIRECTION_WORDS = {"max": "higher is better", "min": "lower is better"}
