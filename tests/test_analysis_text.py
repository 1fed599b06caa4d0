"""Policy texts, metric labels and Slurm value formatting for people."""

from __future__ import annotations

import math

import pytest

from analysis.labels import format_value, label
from analysis.policy_text import apply_knobs, base_scenario, describe, summary
from analysis.units import format_duration, format_tres, format_tres_minutes, humanize, parse_duration_s, sort_key
from analysis_testdata import GRID_TOML


@pytest.mark.parametrize(
    ("value", "seconds", "words"),
    [
        ("3-00:00:00", 259200, "3 days"),
        ("2-12", 216000, "2 days 12 hours"),
        ("90", 5400, "1 hour 30 minutes"),
        ("1:00:00", 3600, "1 hour"),
        ("30:00", 1800, "30 minutes"),
        (15, 900, "15 minutes"),
        ("UNLIMITED", math.inf, "no limit"),
    ],
)
def test_durations(value, seconds, words):
    assert parse_duration_s(value) == seconds
    assert format_duration(parse_duration_s(value)) == words


def test_tres():
    assert format_tres("gres/gpu=8") == "8 GPUs"
    assert format_tres("gres/gpu:a100=1,cpu=64,mem=512000") == "1 A100 GPU, 64 CPUs and 500 GB of memory"
    assert format_tres_minutes("gres/gpu=7200") == "120 GPU-hours"
    assert humanize("gres/gpu=16") == "16 GPUs" and humanize("7-00:00:00") == "7 days" and humanize("x") == "x"


def test_knob_values_sort_by_meaning():
    assert sorted(["7-00:00:00", "12:00:00", "1-00:00:00"], key=sort_key) == ["12:00:00", "1-00:00:00", "7-00:00:00"]
    assert sorted(["gres/gpu=16", "gres/gpu=4", "gres/gpu=8"], key=sort_key) == ["gres/gpu=4", "gres/gpu=8", "gres/gpu=16"]


def test_metric_labels_and_values():
    assert label("gpu_util") == "GPU utilisation (%)"
    assert label("wait_p95_h") == "p95 wait (hours)"
    assert label("wait_p95_h_newuser") == "p95 wait, new-user jobs (hours)"
    assert label("limit_idle_gpu_h") == "GPUs idle behind a policy limit (GPU-hours)"
    assert label("something_new_frac") == "Something new (%)"
    assert format_value("gpu_util", 0.7123, 0.0123) == "71.23 ± 1.23"
    assert format_value("wait_p95_h", float("nan")) == "n/a"


def test_policy_text_from_base_and_knobs():
    base = base_scenario({"grid_source": GRID_TOML})
    phrases = describe(base, {"partitions.gpu.MaxTime": "7-00:00:00", "qos.normal.MaxTRESPerUser": "gres/gpu=16"})
    text = summary(phrases)
    assert "gpu partition: jobs up to 7 days, on all 25 nodes, default time limit 1 hour" in text
    assert "debug partition: jobs up to 15 minutes, on 2 nodes, at most 1 node per job" in text
    assert "at most 16 GPUs per user at once (QOS normal)" in text
    assert "at most 120 GPU-hours of running work for all jobs of QOS normal together" in text
    varying = [p.short for p in phrases if p.varies]
    assert varying == ["gpu partition: jobs up to 7 days", "at most 16 GPUs per user at once (QOS normal)"]
    assert base["partitions"]["gpu"]["MaxTime"] == "3-00:00:00"  # the base is not modified


def test_policy_text_preemption_and_fairshare():
    base = {
        "partitions": {"scavenger": {"Nodes": "gpu[01-04]", "MaxTime": "1-0", "PreemptMode": "REQUEUE", "GraceTime": 300}},
        "priority": {"PriorityType": "priority/multifactor", "PriorityWeightFairshare": 1000, "PriorityWeightAge": 10,
                     "PriorityDecayHalfLife": "14-0"},
        "users": {"alice": {"MaxTRESRunMinsPerUser": "gres/gpu=600"}},
    }
    text = summary(describe(base, {}))
    assert "scavenger partition: jobs up to 1 day, on 4 nodes, jobs here can be preempted (requeue) with 5 minutes warning" in text
    assert "priority from fair share, waiting time (past usage counts half after 14 days)" in text
    assert "at most 10 GPU-hours of running work per user (user alice" in text


def test_unknown_knobs_are_stated_verbatim():
    phrases = describe({}, {"scheduler.SchedulerParameters": "bf_window=4320"})
    assert [(p.text, p.varies) for p in phrases] == [("scheduler.SchedulerParameters = bf_window=4320", True)]
    assert apply_knobs({"a": {"b": 1}}, {"a.c": 2}) == {"a": {"b": 1, "c": 2}}
