"""The local Slurm harness (cluster/localslurm.py): rendered configs and PID-file safety (no daemons)."""

from __future__ import annotations

import os

from cluster import localslurm
from cluster.localslurm import LocalSlurmSpec, render_gres_conf, render_slurm_conf, render_slurmdbd_conf


def test_slurm_conf_has_fake_nodes_with_distinct_ports_and_fake_gpus():
    conf = render_slurm_conf(LocalSlurmSpec(nodes=3, gpus=2), host="box")
    lines = conf.splitlines()
    assert ("NodeName=n[1-3] NodeHostname=box NodeAddr=127.0.0.1 Port=[17001-17003] CPUs=32 "
            "RealMemory=128000 Gres=gpu:2 State=UNKNOWN") in lines
    for needed in ("SlurmdParameters=config_overrides", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
                   "MailProg=/bin/true", "GresTypes=gpu", "AccountingStorageType=accounting_storage/none",
                   "SchedulerParameters=bf_interval=1,bf_resolution=1,sched_interval=5"):
        assert needed in lines
    assert any(line.startswith("SlurmdPidFile=") and line.endswith("/slurmd-%n.pid") for line in lines)


def test_accounting_conf_enforces_limits_and_uses_the_private_mariadb():
    lines = render_slurm_conf(LocalSlurmSpec(accounting=True, extra_conf=("PriorityType=priority/multifactor",)),
                              host="box").splitlines()
    assert "AccountingStorageEnforce=associations,limits,qos" in lines
    assert "AccountingStorageType=accounting_storage/slurmdbd" in lines
    assert "PriorityType=priority/multifactor" in lines
    dbd = render_slurmdbd_conf().splitlines()
    assert "StoragePort=3307" in dbd and "StorageHost=127.0.0.1" in dbd


def test_gres_conf_names_device_files_for_every_node():
    assert render_gres_conf(LocalSlurmSpec(nodes=2, gpus=4)).splitlines() == [
        f"NodeName=n{i} Name=gpu File={localslurm.STATE_DIR}/dev/gpu[0-3]" for i in (1, 2)]


def test_a_stale_pid_file_naming_another_process_is_never_signalled(tmp_path):
    stale = tmp_path / "slurmd-n9.pid"
    stale.write_text(f"{os.getpid()}\n")  # this pytest process: alive, but not a slurmd
    assert not localslurm._daemon_alive(stale)
    localslurm._stop_pid_file(stale, timeout=1)
    assert not stale.exists()  # removed, and we are still here
