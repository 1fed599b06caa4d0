"""Slurm hostlist syntax."""

import pytest

from simcore.errors import ConfigError
from simcore.hostlist import collect_hostlist, expand_hostlist


def test_expand_and_collect():
    assert expand_hostlist("gpu[01-03],dgx[1-2]", "k") == ["gpu01", "gpu02", "gpu03", "dgx1", "dgx2"]
    assert collect_hostlist(["gpu01", "gpu02", "gpu03"]) == "gpu[01-03]"
    assert collect_hostlist([]) == ""


@pytest.mark.parametrize("bad", ["gpu[01-", "", "gpu[1-2],gpu2"])
def test_bad_hostlists_are_one_line_errors(bad):
    with pytest.raises(ConfigError, match="cluster.nodes"):
        expand_hostlist(bad, "cluster.nodes[0].NodeName")
