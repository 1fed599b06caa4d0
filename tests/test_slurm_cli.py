"""`sweeps slurm-script`, the shared `slurm_options` decorator, and the ray_wait log line."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from cluster.ray_wait import summary
from cluster.slurm import SubmitResult, describe_submission, options_from_cli, slurm_options
from sweeps.cli import cli

SCENARIO = Path(__file__).parent / "data" / "grids" / "scenario.toml"


def grid(tmp_path: Path) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(f'[sweep]\nname = "cli-sweep"\n[base]\ninclude = "{SCENARIO}"\n'
                    '[axes]\n"partitions.gpu.MaxTime" = ["4:00:00"]\n')
    return path


def test_help():
    result = CliRunner().invoke(cli, ["slurm-script", "--help"])
    assert result.exit_code == 0
    for option in ("--nodes", "--cpus-per-task", "--mem", "--time", "--partition", "--account", "--qos",
                   "--gpus-per-node", "--extra-sbatch", "--out"):
        assert option in result.output


def test_slurm_script_prints_the_script_named_after_the_sweep(tmp_path):
    result = CliRunner().invoke(cli, ["slurm-script", str(grid(tmp_path)), "--nodes", "3", "--time", "1:00:00",
                                      "--out", str(tmp_path / "res"), "--extra-sbatch", "--exclusive --hint=nomultithread"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("#!/bin/bash\n")
    assert "#SBATCH --nodes=3\n" in result.output
    assert "#SBATCH --job-name=trilemma-cli-sweep\n" in result.output
    assert f"#SBATCH --output={tmp_path}/res/cli-sweep/slurm/slurm-%j.out\n" in result.output
    assert "#SBATCH --exclusive\n#SBATCH --hint=nomultithread\n" in result.output


def test_bad_option_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["slurm-script", str(grid(tmp_path)), "--time", "4 hours"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("Error: --time '4 hours': use sbatch syntax")


def test_slurm_options_decorator_maps_to_slurm_options():
    seen = {}

    @click.command()
    @slurm_options
    def command(slurm, **params):
        seen["slurm"] = slurm
        seen["options"] = options_from_cli(params)

    result = CliRunner().invoke(command, ["--slurm", "--nodes", "4", "--cpus-per-task", "8", "--mem", "16G",
                                          "--qos", "long", "--gpus-per-node", "2", "--extra-sbatch", "--exclusive"])
    assert result.exit_code == 0, result.output
    options = seen["options"]
    assert seen["slurm"] is True
    assert (options.nodes, options.cpus_per_task, options.mem, options.qos, options.gpus_per_node) == (4, 8, "16G",
                                                                                                      "long", 2)
    assert options.extra_sbatch == ("--exclusive",)


def test_describe_submission_says_how_to_follow_the_sweep():
    text = describe_submission(SubmitResult("77", Path("/r/s/slurm/sweep.sbatch"), Path("/r/s/slurm/slurm-77.out")),
                               "/r", "s")
    assert text.splitlines()[0] == "Submitted Slurm job 77"
    assert "squeue -j 77" in text and "sweeps status /r/s" in text


def test_ray_wait_summary_counts_only_alive_nodes():
    nodes = [{"Alive": True, "Resources": {"CPU": 4.0, "GPU": 1.0}, "NodeManagerAddress": "10.0.0.2",
              "NodeManagerPort": 2},
             {"Alive": True, "Resources": {"CPU": 4.0}, "NodeManagerAddress": "10.0.0.1", "NodeManagerPort": 1},
             {"Alive": False, "Resources": {"CPU": 64.0}, "NodeManagerAddress": "10.0.0.9", "NodeManagerPort": 9}]
    assert summary(nodes) == "nodes=2 CPU=8 GPU=1 addresses=10.0.0.1:1,10.0.0.2:2"


def test_submit_from_cli_validates_the_grid_and_submits(tmp_path, monkeypatch):
    from cluster import slurm

    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text("#!/bin/bash\necho 4321\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:" + __import__("os").environ["PATH"])
    params = {"slurm": True, "nodes": 2, "cpus_per_task": 4, "mem": None, "time": "30", "partition": None,
              "account": None, "qos": None, "gpus_per_node": 0, "extra_sbatch": (), "workers": None}
    text = slurm.submit_from_cli(grid(tmp_path), tmp_path / "res", params, driver_args=("--retry-failed",))
    script = tmp_path / "res" / "cli-sweep" / "slurm" / "sweep.sbatch"
    assert text.splitlines()[:2] == ["Submitted Slurm job 4321", f"  script:   {script}"]
    assert "--retry-failed" in script.read_text()
