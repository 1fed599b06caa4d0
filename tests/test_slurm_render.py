"""sbatch rendering: golden file, option validation, hostile names, and a sandbox run of the script.

The sandbox puts fake `srun`, `scontrol`, `scancel`, `hostname`, `ray`, `python3` and `sweeps` first on
PATH (the script's bin dir), runs the rendered script with bash as Slurm would, and checks the exact
argv each fake received: values with spaces, quotes, `$` and backticks arrive intact, nothing injects.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cluster.slurm import SlurmError, SlurmOptions, render_sbatch, sbatch_directives, submit_sweep

GOLDEN = Path(__file__).parent / "golden" / "slurm_sweep.sbatch"
HOSTILE = [
    "my grid.toml",
    "it's \"quoted\".toml",
    "$(touch PWNED)`touch PWNED2`;touch PWNED3 $HOME.toml",
    "new\nline; touch PWNED4.toml",
]


def golden_options() -> SlurmOptions:
    return SlurmOptions(nodes=4, cpus_per_task=16, mem="64G", time="04:00:00", partition="gpu",
                        account="physics", qos="normal", gpus_per_node=4,
                        extra_sbatch=("--exclusive", "--constraint=a100"), bin_dir="/opt/trilemma/bin")


def test_render_matches_golden_file():
    text = render_sbatch("/data/grids/policy.toml", "/data/results", golden_options(), sweep="policy")
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_render_is_pure_and_bash_parses_it(tmp_path):
    a = render_sbatch("/data/g.toml", "/data/out", golden_options(), sweep="s")
    assert a == render_sbatch("/data/g.toml", "/data/out", golden_options(), sweep="s")
    script = tmp_path / "s.sbatch"
    script.write_text(a)
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_sbatch_lines_are_sorted_and_requeue_friendly():
    lines = sbatch_directives("s", Path("/r/s/slurm"), SlurmOptions(nodes=2, time="10"))
    names = [line.split()[1].split("=")[0] for line in lines]
    assert names == sorted(names)
    assert "#SBATCH --requeue" in lines
    assert "#SBATCH --signal=B:USR1@120" in lines
    assert "#SBATCH --open-mode=append" in lines
    assert "#SBATCH --output=/r/s/slurm/slurm-%j.out" in lines
    assert "#SBATCH --requeue" not in sbatch_directives("s", Path("/r"), SlurmOptions(requeue=False))


def test_output_path_with_spaces_quotes_and_percent_is_quoted_for_sbatch():
    lines = sbatch_directives("s", Path('/r/a b/x"y%z/s/slurm'), SlurmOptions())
    assert '#SBATCH --output="/r/a b/x\\"y%%z/s/slurm/slurm-%j.out"' in lines


@pytest.mark.parametrize("kwargs, message", [
    ({"nodes": 0}, "--nodes 0: must be a whole number >= 1"),
    ({"mem": "16 GB"}, "--mem '16 GB': use sbatch syntax"),
    ({"time": "4h"}, "--time '4h': use sbatch syntax"),
    ({"partition": "gpu\n#SBATCH --uid=0"}, "--partition 'gpu\\n#SBATCH --uid=0': use letters"),
    ({"account": "a b"}, "--account 'a b': use letters"),
    ({"qos": "$(id)"}, "--qos '$(id)': use letters"),
    ({"signal": "B:TERM@120"}, "signal 'B:TERM@120': use [B:]USR1"),
    ({"extra_sbatch": ("--exclusive\necho pwned",)}, "--extra-sbatch '--exclusive\\necho pwned': each item"),
    ({"extra_sbatch": ("exclusive",)}, "--extra-sbatch 'exclusive': each item"),
    ({"ray_auth_mode": "on"}, "ray_auth_mode 'on': allowed: disabled, token"),
])
def test_bad_options_name_the_option_and_what_is_allowed(kwargs, message):
    with pytest.raises(SlurmError) as info:
        SlurmOptions(**kwargs)
    assert str(info.value).startswith(message)


def test_output_folder_with_newline_is_rejected():
    with pytest.raises(SlurmError, match="Slurm log paths cannot hold a backslash or a newline"):
        render_sbatch("/g.toml", "/data/out", SlurmOptions(), sweep="a\nb")
    with pytest.raises(SlurmError, match="Slurm log paths cannot hold a backslash or a newline"):
        render_sbatch("/g.toml", "/data/a\nb", SlurmOptions(), sweep="s")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_render_to_valid_bash(tmp_path, name):
    if "\n" in name:  # a newline may reach the shell (quoted), never an #SBATCH line
        text = render_sbatch(f"/grids/{name}", "/out/plain", SlurmOptions(), sweep="s")
    else:
        text = render_sbatch(f"/grids/{name}", f"/out/{name}", SlurmOptions(), sweep=name)
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert all(line.startswith(("#!", "# ", "#SBATCH ")) for line in header)
    script = tmp_path / "s.sbatch"
    script.write_text(text)
    subprocess.run(["bash", "-n", str(script)], check=True)


# ---------------------------------------------------------------- sandbox run with fake Slurm and Ray

FAKES = {
    "scontrol": """#!/bin/bash
echo "scontrol $*" >> "$SANDBOX_LOG"
if [ "$1 $2" = "show hostnames" ]; then printf 'n1\\nn2\\n'; fi
""",
    "srun": """#!/bin/bash
echo "srun $*" >> "$SANDBOX_LOG"
while [ "${1#-}" != "$1" ]; do case "$1" in --nodelist=*) export SLURMD_NODENAME=${1#*=};; esac; shift; done
export SLURM_PROCID=0 SLURMD_NODENAME=${SLURMD_NODENAME:-n2}
exec "$@"
""",
    "scancel": """#!/bin/bash
echo "scancel $*" >> "$SANDBOX_LOG"
""",
    "hostname": """#!/bin/bash
echo "10.1.2.3 fe80::1"
""",
    "ray": """#!/bin/bash
line="ray$(printf ' %s' "$@")"   # one write: the two backgrounded calls must not interleave
echo "$line" >> "$SANDBOX_LOG"
""",
    "python3": """#!/bin/bash
if [ "$1" = -c ]; then exit 1; fi
echo "python3 $*" >> "$SANDBOX_LOG"
# Like the real wait step: return once both (backgrounded) `ray start`s have happened.
for _ in $(seq 300); do [ "$(grep -c '^ray start' "$SANDBOX_LOG")" -ge 2 ] && break; sleep 0.1; done
echo "trilemma: ray cluster ready: nodes=2 CPU=4 GPU=2 addresses=fake expected=2"
""",
    "sweeps": """#!/bin/bash
printf '%s\\0' "$@" > "$SANDBOX_DIR/sweeps.argv"
trap 'echo TERM >> "$SANDBOX_DIR/sweeps.signals"; exit 143' TERM
if [ -n "${SANDBOX_BLOCK:-}" ]; then touch "$SANDBOX_DIR/sweeps.started"; while :; do sleep 0.1; done; fi
""",
}


def _sandbox(tmp_path: Path, grid: str, out: str, driver_args: tuple[str, ...] = ()) -> tuple[Path, dict[str, str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in FAKES.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(0o755)
    script = tmp_path / "job.sbatch"
    options = SlurmOptions(nodes=2, bin_dir=str(bin_dir), driver_args=driver_args)
    script.write_text(render_sbatch(grid, out, options, sweep="s"))
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SANDBOX_DIR": str(tmp_path),
           "SANDBOX_LOG": str(tmp_path / "calls.log"), "SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "n[1-2]",
           "SLURM_CPUS_PER_TASK": "2", "SLURM_MEM_PER_NODE": "4096", "SLURM_GPUS_ON_NODE": "1"}
    return script, env


def test_sandbox_run_passes_hostile_paths_intact_and_starts_ray_explicitly(tmp_path):
    grid = str(tmp_path / "$(touch PWNED) it's `touch PWNED2`.toml")
    out = str(tmp_path / 'res "x" $HOME;touch PWNED3')
    script, env = _sandbox(tmp_path, grid, out, driver_args=("--flush-runs", "5", "$(touch PWNED4) 'x'"))
    proc = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list(tmp_path.glob("PWNED*"))
    argv = (tmp_path / "sweeps.argv").read_text().split("\0")[:-1]
    log = (tmp_path / "calls.log").read_text().splitlines()
    ray = [shlex.split(line) for line in log if line.startswith("ray start")]
    assert len(ray) == 2
    head = next(r for r in ray if "--head" in r)
    worker = next(r for r in ray if "--head" not in r)
    gcs_port = next(a.split("=")[1] for a in head if a.startswith("--port="))
    assert argv == ["launch", grid, "--address", f"10.1.2.3:{gcs_port}", "--out", out,
                    "--flush-runs", "5", "$(touch PWNED4) 'x'"]
    for args in (head, worker):
        assert "--num-cpus=2" in args and "--num-gpus=1" in args and "--block" in args
        assert "--node-ip-address=10.1.2.3" in args
        assert f"--object-store-memory={1228 * 2**20}" in args  # 30% of 4096 MB
        assert f"--memory={(4096 - 1228) * 2**20}" in args
    assert "--temp-dir=/tmp/ray-4242-0" in head and "--temp-dir=/tmp/ray-4242-1" in worker
    assert f"--address=10.1.2.3:{gcs_port}" in worker
    ports = lambda args: {a for a in args if a.split("=")[0].endswith("-port")}  # noqa: E731
    head_ports = {int(p.split("=")[1]) for p in ports(head) if not p.startswith("--port=")}
    worker_ports = {int(p.split("=")[1]) for p in ports(worker)}
    assert head_ports.isdisjoint(worker_ports)
    assert any(line.startswith("python3 -m cluster.ray_wait 10.1.2.3:") for line in log)
    assert "trilemma: ray cluster ready: nodes=2" in proc.stdout


def _run_until_driver_started(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    script, env = _sandbox(tmp_path, str(tmp_path / "g.toml"), str(tmp_path / "out"))
    env["SANDBOX_BLOCK"] = "1"
    proc = subprocess.Popen(["bash", str(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not (tmp_path / "sweeps.started").exists():
        if time.monotonic() >= deadline or proc.poll() is not None:
            proc.kill()     # the job blocks until signalled: read its output only once it is gone
            pytest.fail(f"the driver did not start within 30 s:\n{proc.communicate()[0]}")
        time.sleep(0.05)
    return proc, tmp_path / "calls.log"


def test_time_limit_warning_stops_the_driver_and_requeues_the_job(tmp_path):
    proc, log = _run_until_driver_started(tmp_path)
    proc.send_signal(signal.SIGUSR1)
    out, _ = proc.communicate(timeout=30)
    assert (tmp_path / "sweeps.signals").read_text() == "TERM\n"
    assert "scontrol requeue 4242" in log.read_text().splitlines(), out
    assert "time limit near" in out


def test_sigterm_stops_the_driver_without_requeueing(tmp_path):
    proc, log = _run_until_driver_started(tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert (tmp_path / "sweeps.signals").read_text() == "TERM\n"
    assert proc.returncode == 143
    assert not any("requeue" in line for line in log.read_text().splitlines()), out


def test_submit_writes_the_script_and_returns_the_job_id(tmp_path):
    fake = tmp_path / "sbatch"
    fake.write_text('#!/bin/bash\necho "$@" > "$(dirname "$0")/sbatch.args"\necho "1234;cluster"\n')
    fake.chmod(0o755)
    result = submit_sweep(tmp_path / "g.toml", tmp_path / "out", SlurmOptions(), sweep="s", sbatch=str(fake))
    assert result.job_id == "1234"
    assert result.script == tmp_path / "out" / "s" / "slurm" / "sweep.sbatch"
    assert result.log == tmp_path / "out" / "s" / "slurm" / "slurm-1234.out"
    assert (tmp_path / "sbatch.args").read_text().split() == ["--parsable", str(result.script)]


def test_submit_reports_sbatch_errors(tmp_path):
    fake = tmp_path / "sbatch"
    fake.write_text('#!/bin/bash\necho "sbatch: error: invalid partition specified: nope" >&2\nexit 1\n')
    fake.chmod(0o755)
    with pytest.raises(SlurmError, match="sbatch rejected .*invalid partition specified: nope"):
        submit_sweep(tmp_path / "g.toml", tmp_path / "out", SlurmOptions(), sweep="s", sbatch=str(fake))
