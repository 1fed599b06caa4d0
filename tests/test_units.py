"""Slurm value formats: durations, memory, TRES."""

import pytest

from simcore.errors import ConfigError
from simcore.units import format_duration, format_tres, parse_duration, parse_memory, parse_tres


@pytest.mark.parametrize("text,seconds", [
    ("5-00:00:00", 5 * 86400), ("2-12", 2 * 86400 + 12 * 3600), ("90", 90 * 60), (90, 90 * 60),
    ("1:30", 90), ("1:00:00", 3600), ("1-2:3", 86400 + 7200 + 180), ("7-0", 7 * 86400),
    ("UNLIMITED", None), ("INFINITE", None), ("infinite", None), (-1, None),
])
def test_durations(text, seconds):
    assert parse_duration(text, "k") == seconds


def test_bare_seconds_and_canonical_form():
    assert parse_duration(30, "k", bare="s") == 30
    assert format_duration(2 * 86400 + 3661) == "2-01:01:01"
    assert format_duration(None) == "UNLIMITED"
    assert parse_duration(format_duration(12345), "k") == 12345


@pytest.mark.parametrize("bad", ["abc", "1:2:3:4", "-5", "2-", True, None])
def test_bad_durations_name_the_key(bad):
    with pytest.raises(ConfigError, match="partitions.gpu.MaxTime"):
        parse_duration(bad, "partitions.gpu.MaxTime")


def test_memory_and_tres():
    assert parse_memory("500G", "k") == 512000
    assert parse_memory(1024, "k") == 1024
    assert parse_memory("1T", "k") == 1024 * 1024
    assert parse_tres("gres/gpu=8,cpu=64,mem=100G", "k") == {"gres/gpu": 8, "cpu": 64, "mem": 102400}
    assert parse_tres("gres/gpu:a100=4,node=-1", "k") == {"gres/gpu:a100": 4}
    assert format_tres({"gres/gpu": 8.0, "cpu": 64}) == "cpu=64,gres/gpu=8"
    with pytest.raises(ConfigError, match="qos.normal.MaxTRESPerUser"):
        parse_tres("gres/gpu", "qos.normal.MaxTRESPerUser")
    with pytest.raises(ConfigError, match="not a memory size"):
        parse_memory("12Q", "k")
