"""The corpus of bad grid files: each names its exact one-line error; the CLI exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sweeps.cli import cli

BAD = Path(__file__).parent / "data" / "grids" / "bad"
CASES = sorted(BAD.glob("*.toml"))


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ").format(path=path, dir=path.parent)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_grid_is_one_line_error_exit_2(path, tmp_path):
    result = CliRunner().invoke(cli, ["launch", str(path), "--dry-run", "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: {_expected(path)}\n"
    assert not list(tmp_path.iterdir())  # nothing was written


def test_corpus_is_not_empty():
    assert len(CASES) >= 20
