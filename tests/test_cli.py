"""The `sweeps` group: every command answers --help with an example; user errors are one line, exit 2."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from sweeps.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))


@pytest.mark.parametrize("path", list(_commands(cli)), ids=" ".join)
def test_every_command_has_help_with_an_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "example" in result.output.lower()


def test_a_user_error_is_one_line_with_exit_status_2(tmp_path):
    bad = tmp_path / "grid.toml"
    bad.write_text('[sweep]\nname = "x"\n[axes]\n"partitions.gpu.MaxTme" = ["1:00:00"]\n')
    result = CliRunner().invoke(cli, ["launch", str(bad), "--dry-run"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output
